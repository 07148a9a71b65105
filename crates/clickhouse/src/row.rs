//! The rows otklik writes for analysts. The local store writes them as JSONEachRow and the
//! ClickHouse writer inserts the same rows, so `otklik clickhouse load` of a store directory and a
//! production run produce identical tables.

use chrono::{DateTime, Utc};
use clickhouse::Row;
use otklik_model::{
    Alert, AlertKind, AlertSeverity, AlertState, ClassifiedPost, Cursor, DeliveryOutcome, DeliveryRecord, DlqRecord,
    Notification, Silence, Source, SourceStat, SourceStatus,
};
use serde::{Deserialize, Serialize};

/// `DateTime('UTC')` columns, one field attribute for both formats the rows travel in: the text
/// form `YYYY-MM-DD hh:mm:ss` for human-readable serialisers (JSONEachRow in the local store and
/// `otklik clickhouse load`), and RowBinary's `UInt32` seconds for the `clickhouse` crate's
/// serialiser (which says it is not human-readable). One row type, one column list, two wire forms.
pub mod ch_datetime {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

    pub fn format(t: &DateTime<Utc>) -> String {
        t.format(FORMAT).to_string()
    }

    /// The `UInt32` a `DateTime` column holds for `t`, or why it cannot hold it (1970..2106).
    pub fn to_u32(t: &DateTime<Utc>) -> Result<u32, String> {
        u32::try_from(t.timestamp())
            .map_err(|_| format!("{} is outside ClickHouse DateTime's range (1970-01-01 .. 2106-02-07)", format(t)))
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&t.format(FORMAT))
        } else {
            s.serialize_u32(to_u32(t).map_err(serde::ser::Error::custom)?)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        if !d.is_human_readable() {
            let seconds = u32::deserialize(d)?;
            return DateTime::from_timestamp(seconds.into(), 0)
                .ok_or_else(|| serde::de::Error::custom("DateTime out of range"));
        }
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        NaiveDateTime::parse_from_str(&text, FORMAT)
            .map(|t| t.and_utc())
            .map_err(|e| serde::de::Error::custom(format_args!("invalid DateTime {text:?}: {e}")))
    }
}

/// One version of one post: a row of the `posts` table (ReplacingMergeTree on `uid`, latest
/// `version` wins).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
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
    /// The first post of the post's copy cluster; empty when it is no copy or not linked yet.
    /// (`serde(default)` on the three linking columns: store lines written before they existed
    /// are still rows, not quarantined.)
    #[serde(default)]
    pub copy_of: String,
    /// The uid of the incident's first post; empty until the alert stage has linked the post.
    #[serde(default)]
    pub incident_id: String,
    /// Counts as a distinct resident's voice in its incident.
    #[serde(default)]
    pub is_voice: u8,
    /// The ReplacingMergeTree version: milliseconds of `collected_at` × 2, + 1 once linked, so
    /// the alert stage's linked version of a post replaces the classifier's unlinked one
    /// whatever order they arrive in.
    pub version: u64,
}

/// `posts.version` of a post collected at `collected_at`, linked or not.
pub fn post_version(collected_at: DateTime<Utc>, linked: bool) -> u64 {
    u64::try_from(collected_at.timestamp_millis()).unwrap_or(0) * 2 + u64::from(linked)
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
            copy_of: classified.copy_of.as_ref().map(ToString::to_string).unwrap_or_default(),
            incident_id: classified.incident_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            is_voice: classified.is_voice.unwrap_or(false).into(),
            version: post_version(post.collected_at, classified.incident_id.is_some()),
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
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
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

/// A row of the `alerts` table: one event (opened, updated, reopened, resolved) of one alert.
/// The latest row of an `id` (by `raised_at`) is the alert's state.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct AlertRow {
    pub id: String,
    pub state: String,
    pub severity: String,
    pub method: String,
    /// The calendar's reason when the spike was expected (listed, not paged); empty otherwise.
    pub expected_note: String,
    /// ОКТМО code, empty for the series of the whole region.
    pub municipality: String,
    pub municipality_name: String,
    pub topic: String,
    #[serde(with = "ch_datetime")]
    pub window_start: DateTime<Utc>,
    #[serde(with = "ch_datetime")]
    pub window_end: DateTime<Utc>,
    pub observed: u64,
    pub expected: f64,
    /// 0 when the test has no upper bound.
    pub upper_bound: u64,
    pub p_value: f64,
    pub incidents: u64,
    pub voices: u64,
    /// The top incidents, as parallel arrays.
    pub incident_uids: Vec<String>,
    pub incident_urls: Vec<String>,
    pub incident_excerpts: Vec<String>,
    pub incident_voices: Vec<u64>,
    #[serde(with = "ch_datetime")]
    pub raised_at: DateTime<Utc>,
    /// `spike` or `overdue` (migration 009; rows stored before it read as `spike`).
    #[serde(default = "spike")]
    pub kind: String,
    /// An overdue alert's `AlertOverdue` as JSON; empty for a spike.
    #[serde(default)]
    pub overdue: String,
}

fn spike() -> String {
    AlertKind::Spike.as_str().to_owned()
}

impl From<&Alert> for AlertRow {
    fn from(alert: &Alert) -> Self {
        let top = &alert.top_incidents;
        AlertRow {
            id: alert.id.clone(),
            state: alert.state.as_str().to_owned(),
            severity: alert.severity.as_str().to_owned(),
            method: alert.method.clone(),
            expected_note: alert.expected_note.clone().unwrap_or_default(),
            municipality: alert.municipality.clone().unwrap_or_default(),
            municipality_name: alert.municipality_name.clone(),
            topic: alert.topic.id().to_owned(),
            window_start: alert.window_start,
            window_end: alert.window_end,
            observed: alert.observed,
            expected: alert.expected,
            upper_bound: alert.upper_bound.unwrap_or(0),
            p_value: alert.p_value,
            incidents: alert.incidents,
            voices: alert.voices,
            incident_uids: top.iter().map(|i| i.uid.to_string()).collect(),
            incident_urls: top.iter().map(|i| i.url.clone()).collect(),
            incident_excerpts: top.iter().map(|i| i.excerpt.clone()).collect(),
            incident_voices: top.iter().map(|i| i.voices).collect(),
            raised_at: alert.raised_at,
            kind: alert.kind.as_str().to_owned(),
            overdue: alert.overdue.as_ref().map(|o| serde_json::to_string(o).unwrap_or_default()).unwrap_or_default(),
        }
    }
}

impl TryFrom<&AlertRow> for Alert {
    type Error = String;

    /// Back from a stored row (restoring the alert stage, `otklik alerts list`).
    fn try_from(row: &AlertRow) -> Result<Alert, String> {
        let top_incidents = row
            .incident_uids
            .iter()
            .enumerate()
            .map(|(i, uid)| {
                Ok(otklik_model::AlertIncident {
                    uid: uid.parse().map_err(|e| format!("alert {}: incident uid: {e}", row.id))?,
                    url: row.incident_urls.get(i).cloned().unwrap_or_default(),
                    excerpt: row.incident_excerpts.get(i).cloned().unwrap_or_default(),
                    voices: row.incident_voices.get(i).copied().unwrap_or(0),
                })
            })
            .collect::<Result<_, String>>()?;
        let overdue = match row.overdue.as_str() {
            "" => None,
            json => Some(serde_json::from_str(json).map_err(|e| format!("alert {}: overdue: {e}", row.id))?),
        };
        Ok(Alert {
            schema: otklik_model::Schema,
            id: row.id.clone(),
            kind: AlertKind::parse(&row.kind)
                .ok_or_else(|| format!("alert {}: unknown kind {:?}", row.id, row.kind))?,
            state: AlertState::parse(&row.state)
                .ok_or_else(|| format!("alert {}: unknown state {:?}", row.id, row.state))?,
            severity: AlertSeverity::parse(&row.severity).unwrap_or(AlertSeverity::Low),
            method: row.method.clone(),
            expected_note: Some(row.expected_note.clone()).filter(|n| !n.is_empty()),
            municipality: Some(row.municipality.clone()).filter(|m| !m.is_empty()),
            municipality_name: row.municipality_name.clone(),
            topic: row.topic.parse().map_err(|e| format!("alert {}: {e}", row.id))?,
            window_start: row.window_start,
            window_end: row.window_end,
            observed: row.observed,
            expected: row.expected,
            upper_bound: Some(row.upper_bound).filter(|&b| b > 0),
            p_value: row.p_value,
            incidents: row.incidents,
            voices: row.voices,
            top_incidents,
            raised_at: row.raised_at,
            overdue,
        })
    }
}

/// A row of the `sources_status` table: a source's collection state at `updated_at`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct SourceStatusRow {
    pub source_id: String,
    pub platform: String,
    /// `ok`, `unavailable` or `failing`.
    pub state: String,
    pub reason: String,
    /// 0 when nothing was seen yet.
    pub newest_id: u64,
    /// The Unix epoch when never polled.
    #[serde(with = "ch_datetime")]
    pub polled_at: DateTime<Utc>,
    #[serde(with = "ch_datetime")]
    pub updated_at: DateTime<Utc>,
}

impl SourceStatusRow {
    /// The status row of `source`'s `cursor`, stamped `updated_at`.
    pub fn new(source: &Source, cursor: &Cursor, updated_at: DateTime<Utc>) -> Self {
        let (state, reason) = match &cursor.status {
            SourceStatus::Ok => ("ok", String::new()),
            SourceStatus::Unavailable { reason } => ("unavailable", reason.clone()),
            SourceStatus::Failing { reason } => ("failing", reason.clone()),
        };
        SourceStatusRow {
            source_id: source.id.clone(),
            platform: source.platform.name().to_owned(),
            state: state.to_owned(),
            reason,
            newest_id: cursor.newest_id.unwrap_or(0),
            polled_at: cursor.polled_at.unwrap_or(DateTime::UNIX_EPOCH),
            updated_at,
        }
    }
}

/// A row of the `alert_deliveries` table: one line of the delivery log (`DeliveryRecord`).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub notification_id: String,
    pub receiver: String,
    pub group_key: String,
    pub alert_ids: Vec<String>,
    pub attempt: u32,
    #[serde(with = "ch_datetime")]
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub status_code: u16,
    pub detail: String,
    /// The Unix epoch when there is no next attempt.
    #[serde(with = "ch_datetime")]
    pub next_attempt_at: DateTime<Utc>,
    pub message_ids: Vec<i64>,
    /// The notification's JSON on `queued` rows, else empty.
    pub notification: String,
}

impl From<&DeliveryRecord> for DeliveryRow {
    fn from(record: &DeliveryRecord) -> Self {
        DeliveryRow {
            notification_id: record.notification_id.clone(),
            receiver: record.receiver.clone(),
            group_key: record.group_key.clone(),
            alert_ids: record.alert_ids.clone(),
            attempt: record.attempt,
            at: record.at,
            outcome: record.outcome.as_str().to_owned(),
            status_code: record.status_code,
            detail: record.detail.clone(),
            next_attempt_at: record.next_attempt_at.unwrap_or(DateTime::UNIX_EPOCH),
            message_ids: record.message_ids.clone(),
            notification: record
                .notification
                .as_ref()
                .map(|n| String::from_utf8_lossy(&otklik_model::encode(n)).into_owned())
                .unwrap_or_default(),
        }
    }
}

impl TryFrom<&DeliveryRow> for DeliveryRecord {
    type Error = String;

    fn try_from(row: &DeliveryRow) -> Result<DeliveryRecord, String> {
        let what = || format!("delivery {} attempt {}", row.notification_id, row.attempt);
        let outcome = DeliveryOutcome::parse(&row.outcome)
            .ok_or_else(|| format!("{}: unknown outcome {:?}", what(), row.outcome))?;
        let notification = match row.notification.as_str() {
            "" => None,
            json => Some(
                otklik_model::decode::<Notification>("Notification", json.as_bytes())
                    .map_err(|e| format!("{}: {e}", what()))?,
            ),
        };
        Ok(DeliveryRecord {
            schema: otklik_model::Schema,
            notification_id: row.notification_id.clone(),
            receiver: row.receiver.clone(),
            group_key: row.group_key.clone(),
            alert_ids: row.alert_ids.clone(),
            attempt: row.attempt,
            at: row.at,
            outcome,
            status_code: row.status_code,
            detail: row.detail.clone(),
            next_attempt_at: Some(row.next_attempt_at).filter(|t| *t != DateTime::UNIX_EPOCH),
            message_ids: row.message_ids.clone(),
            notification,
        })
    }
}

/// A row of the `alert_silences` table: one version of a silence.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct SilenceRow {
    pub id: String,
    pub series: String,
    #[serde(with = "ch_datetime")]
    pub starts_at: DateTime<Utc>,
    #[serde(with = "ch_datetime")]
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
    #[serde(with = "ch_datetime")]
    pub stored_at: DateTime<Utc>,
}

impl SilenceRow {
    pub fn new(silence: &Silence, stored_at: DateTime<Utc>) -> Self {
        SilenceRow {
            id: silence.id.clone(),
            series: silence.series.clone(),
            starts_at: silence.starts_at,
            ends_at: silence.ends_at,
            reason: silence.reason.clone(),
            created_by: silence.created_by.clone(),
            stored_at,
        }
    }
}

impl From<&SilenceRow> for Silence {
    fn from(row: &SilenceRow) -> Self {
        Silence {
            schema: otklik_model::Schema,
            id: row.id.clone(),
            series: row.series.clone(),
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            reason: row.reason.clone(),
            created_by: row.created_by.clone(),
        }
    }
}

/// A row of the `replies` table: one resident complaint and its first reply, as
/// `otklik_respond` found it (ReplacingMergeTree on the complaint, latest `computed_at` wins).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ReplyRow {
    pub complaint_uid: String,
    pub source_id: String,
    /// ОКТМО code, empty when none.
    pub municipality: String,
    /// The organisation the complaint counts for; empty when none.
    pub organisation: String,
    #[serde(with = "ch_datetime")]
    pub complaint_at: DateTime<Utc>,
    pub answered: u8,
    /// Empty, like `replied_by`, while unanswered.
    pub reply_uid: String,
    pub replied_by: String,
    /// `complaint_at` while unanswered.
    #[serde(with = "ch_datetime")]
    pub first_reply_at: DateTime<Utc>,
    pub reply_delay_seconds: u32,
    #[serde(with = "ch_datetime")]
    pub computed_at: DateTime<Utc>,
}

/// A row of the `source_stats` table: a source's audience as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct SourceStatRow {
    pub source_id: String,
    pub platform: String,
    #[serde(with = "ch_datetime")]
    pub observed_at: DateTime<Utc>,
    /// Members (VK, OK) or subscribers (Telegram).
    pub audience: u64,
}

impl From<&SourceStat> for SourceStatRow {
    fn from(stat: &SourceStat) -> Self {
        SourceStatRow {
            source_id: stat.source_id.clone(),
            platform: stat.platform.to_string(),
            observed_at: stat.observed_at,
            audience: stat.audience,
        }
    }
}

/// A row the ClickHouse writer can insert: its table, its columns (`clickhouse::Row`), and the
/// checks that can be made before sending it.
pub trait TableRow: clickhouse::RowOwned + clickhouse::RowWrite + Serialize + Send + Sync + 'static {
    const TABLE: &'static str;

    /// Why ClickHouse could not store this row, when that is known without asking it.
    fn precheck(&self) -> Result<(), String>;

    /// Feeds what identifies this row (for posts: uid and version) into a batch identity.
    fn identify(&self, hasher: &mut dyn std::hash::Hasher);
}

fn check_times(times: &[(&str, &DateTime<Utc>)]) -> Result<(), String> {
    for (column, t) in times {
        ch_datetime::to_u32(t).map_err(|e| format!("{column}: {e}"))?;
    }
    Ok(())
}

impl TableRow for PostRow {
    const TABLE: &'static str = "posts";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[
            ("published_at", &self.published_at),
            ("edited_at", &self.edited_at),
            ("collected_at", &self.collected_at),
        ])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.uid.as_bytes());
        hasher.write_u64(self.version);
    }
}

impl TableRow for DlqRow {
    const TABLE: &'static str = "dlq";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[("failed_at", &self.failed_at)])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.topic.as_bytes());
        hasher.write_i32(self.partition);
        hasher.write_i64(self.offset);
        hasher.write(self.stage.as_bytes());
    }
}

impl TableRow for AlertRow {
    const TABLE: &'static str = "alerts";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[
            ("window_start", &self.window_start),
            ("window_end", &self.window_end),
            ("raised_at", &self.raised_at),
        ])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.id.as_bytes());
        hasher.write(self.state.as_bytes());
        hasher.write_i64(self.raised_at.timestamp());
    }
}

impl TableRow for DeliveryRow {
    const TABLE: &'static str = "alert_deliveries";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[("at", &self.at), ("next_attempt_at", &self.next_attempt_at)])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.notification_id.as_bytes());
        hasher.write(self.receiver.as_bytes());
        hasher.write_u32(self.attempt);
        hasher.write(self.outcome.as_bytes());
    }
}

impl TableRow for ReplyRow {
    const TABLE: &'static str = "replies";

    fn precheck(&self) -> Result<(), String> {
        let times = [("complaint_at", &self.complaint_at), ("first_reply_at", &self.first_reply_at)];
        check_times(&[times[0], times[1], ("computed_at", &self.computed_at)])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.complaint_uid.as_bytes());
        hasher.write_i64(self.computed_at.timestamp());
    }
}

impl TableRow for SourceStatRow {
    const TABLE: &'static str = "source_stats";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[("observed_at", &self.observed_at)])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.source_id.as_bytes());
        hasher.write_i64(self.observed_at.timestamp());
    }
}

impl TableRow for SilenceRow {
    const TABLE: &'static str = "alert_silences";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[("starts_at", &self.starts_at), ("ends_at", &self.ends_at), ("stored_at", &self.stored_at)])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.id.as_bytes());
        hasher.write_i64(self.stored_at.timestamp());
    }
}

impl TableRow for SourceStatusRow {
    const TABLE: &'static str = "sources_status";

    fn precheck(&self) -> Result<(), String> {
        check_times(&[("polled_at", &self.polled_at), ("updated_at", &self.updated_at)])
    }

    fn identify(&self, hasher: &mut dyn std::hash::Hasher) {
        hasher.write(self.source_id.as_bytes());
        hasher.write_i64(self.updated_at.timestamp());
    }
}
