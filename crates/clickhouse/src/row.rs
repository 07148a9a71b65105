//! The rows otklik writes for analysts. The local store writes them as JSONEachRow and the
//! ClickHouse writer inserts the same rows, so `otklik clickhouse load` of a store directory and a
//! production run produce identical tables.

use chrono::{DateTime, Utc};
use otklik_model::{ClassifiedPost, DlqRecord};
use serde::{Deserialize, Serialize};

/// ClickHouse's text form of `DateTime`: `YYYY-MM-DD hh:mm:ss`, in UTC (the columns are
/// `DateTime('UTC')`).
pub mod ch_datetime {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

    pub fn format(t: &DateTime<Utc>) -> String {
        t.format(FORMAT).to_string()
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format(FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        NaiveDateTime::parse_from_str(&text, FORMAT)
            .map(|t| t.and_utc())
            .map_err(|e| serde::de::Error::custom(format_args!("invalid DateTime {text:?}: {e}")))
    }
}

/// One version of one post: a row of the `posts` table (ReplacingMergeTree on `uid`, latest
/// `version` wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRow {
    pub uid: String,
    pub platform: String,
    pub source_id: String,
    pub item_kind: String,
    pub parent_uid: String,
    pub url: String,
    pub author_id: String,
    pub author_name: String,
    pub author_is_source: u8,
    #[serde(with = "ch_datetime")]
    pub published_at: DateTime<Utc>,
    /// `published_at` when the post was never edited.
    #[serde(with = "ch_datetime")]
    pub edited_at: DateTime<Utc>,
    pub edited: u8,
    #[serde(with = "ch_datetime")]
    pub collected_at: DateTime<Utc>,
    pub text: String,
    pub repost_of_uid: String,
    pub repost_of_name: String,
    pub repost_of_text: String,
    pub attachment_kinds: Vec<String>,
    pub views: u64,
    pub likes: u64,
    pub reposts: u64,
    pub comments: u64,
    pub pinned: u8,
    pub ads: u8,
    pub language: String,
    pub kind: String,
    pub topics: Vec<String>,
    pub topic_scores: Vec<f32>,
    pub topic_rules: Vec<String>,
    /// ОКТМО code, empty when none.
    pub municipality: String,
    pub municipality_name: String,
    /// `text`, `source` or empty.
    pub municipality_evidence: String,
    pub classifier_version: String,
    /// Milliseconds of `collected_at`: the ReplacingMergeTree version.
    pub version: u64,
}

impl From<&ClassifiedPost> for PostRow {
    fn from(classified: &ClassifiedPost) -> Self {
        let post = &classified.post;
        let class = &classified.classification;
        let origin = post.repost_of.as_ref();
        let counter = |c: Option<u64>| c.unwrap_or(0);
        let name = |s: &Option<String>| s.clone().unwrap_or_default();
        PostRow {
            uid: post.uid.to_string(),
            platform: post.platform.name().to_owned(),
            source_id: post.source_id.clone(),
            item_kind: serde_plain(&post.item_kind),
            parent_uid: post.parent_uid.as_ref().map(ToString::to_string).unwrap_or_default(),
            url: name(&post.url),
            author_id: name(&post.author.id),
            author_name: name(&post.author.name),
            author_is_source: post.author.is_source.into(),
            published_at: post.published_at,
            edited_at: post.edited_at.unwrap_or(post.published_at),
            edited: post.edited.into(),
            collected_at: post.collected_at,
            text: post.text.clone(),
            repost_of_uid: origin.and_then(|o| o.uid.as_ref()).map(ToString::to_string).unwrap_or_default(),
            repost_of_name: origin.map(|o| name(&o.name)).unwrap_or_default(),
            repost_of_text: origin.map(|o| o.text.clone()).unwrap_or_default(),
            attachment_kinds: post.attachments.iter().map(|a| a.kind.clone()).collect(),
            views: counter(post.counters.views),
            likes: counter(post.counters.likes),
            reposts: counter(post.counters.reposts),
            comments: counter(post.counters.comments),
            pinned: post.pinned.into(),
            ads: post.ads.into(),
            language: class.language.clone(),
            kind: class.kind.id().to_owned(),
            topics: class.topics.iter().map(|t| t.topic.id().to_owned()).collect(),
            topic_scores: class.topics.iter().map(|t| t.score).collect(),
            topic_rules: class.topics.iter().map(|t| t.rule.clone()).collect(),
            municipality: class.municipality.as_ref().map(|m| m.oktmo.clone()).unwrap_or_default(),
            municipality_name: class.municipality.as_ref().map(|m| m.name.clone()).unwrap_or_default(),
            municipality_evidence: class.municipality.as_ref().map(|m| serde_plain(&m.evidence)).unwrap_or_default(),
            classifier_version: class.classifier_version.clone(),
            version: u64::try_from(post.collected_at.timestamp_millis()).unwrap_or(0),
        }
    }
}

/// A unit enum's serde name (`"comment"`), without the quotes.
fn serde_plain<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A row of the `dlq` table: one record something could not process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqRow {
    pub stage: String,
    pub error: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: String,
    pub payload_encoding: String,
    #[serde(with = "ch_datetime")]
    pub failed_at: DateTime<Utc>,
}

impl From<&DlqRecord> for DlqRow {
    fn from(record: &DlqRecord) -> Self {
        DlqRow {
            stage: record.stage.clone(),
            error: record.error.clone(),
            topic: record.topic.clone(),
            partition: record.partition.unwrap_or(-1),
            offset: record.offset.unwrap_or(-1),
            key: record.key.clone().unwrap_or_default(),
            payload: record.payload.clone(),
            payload_encoding: serde_plain(&record.payload_encoding),
            failed_at: record.failed_at,
        }
    }
}
