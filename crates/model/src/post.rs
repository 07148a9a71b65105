use crate::{rfc3339_secs, Platform, PostUid, Schema, Topic};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether an item is a post on a wall/channel or a comment under one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    #[default]
    Post,
    Comment,
}

/// Who wrote an item, as far as the platform tells.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// Platform id (VK user id or negative group id, OK user id); `None` when only a name is
    /// known (a Telegram signature).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The item was written by the source itself (the community, channel or group).
    #[serde(default)]
    pub is_source: bool,
}

/// The item this one reposts or forwards.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepostOrigin {
    /// The origin's uid when it is a post on a platform we know.
    #[serde(default)]
    pub uid: Option<PostUid>,
    /// The origin's name (channel title, community name), when given.
    #[serde(default)]
    pub name: Option<String>,
    /// The reposted text, kept separately from the reposter's own words.
    #[serde(default)]
    pub text: String,
}

/// A media item or link, summarised: analysts need what was attached, not the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// `photo`, `video`, `round_video`, `voice`, `audio`, `document`, `poll`, `sticker`, `link`, …
    pub kind: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// Engagement counters at collection time; `None` where the platform does not show one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counters {
    #[serde(default)]
    pub views: Option<u64>,
    #[serde(default)]
    pub likes: Option<u64>,
    #[serde(default)]
    pub reposts: Option<u64>,
    #[serde(default)]
    pub comments: Option<u64>,
}

/// A place attached to an item by its author.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geo {
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub place: Option<String>,
}

/// A post or comment exactly as a collector saw it (`otklik.posts.raw.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPost {
    pub schema: Schema,
    pub uid: PostUid,
    pub platform: Platform,
    /// The [`crate::Source`] whose poll produced this item.
    pub source_id: String,
    #[serde(default)]
    pub item_kind: ItemKind,
    /// For comments: the post (or comment) answered.
    #[serde(default)]
    pub parent_uid: Option<PostUid>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub author: Author,
    #[serde(with = "rfc3339_secs")]
    pub published_at: DateTime<Utc>,
    /// When the platform says the item was last edited (or that it was, at collection time).
    #[serde(with = "rfc3339_secs::option", default)]
    pub edited_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub edited: bool,
    /// Orders versions of the same uid: the latest wins.
    #[serde(with = "rfc3339_secs")]
    pub collected_at: DateTime<Utc>,
    /// The author's own text, markup removed, line breaks kept.
    pub text: String,
    #[serde(default)]
    pub repost_of: Option<RepostOrigin>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub counters: Counters,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub ads: bool,
    #[serde(default)]
    pub geo: Option<Geo>,
}

impl RawPost {
    /// A fingerprint of what can change when a post is seen again — its text, edit state,
    /// counters and attachments — stable across processes and builds (FNV-1a), so a collector
    /// re-publishes a post only when it changed.
    pub fn fingerprint(&self) -> u64 {
        let mut hash = Fnv::default();
        hash.add(self.text.as_bytes());
        if let Some(origin) = &self.repost_of {
            hash.add(origin.text.as_bytes());
        }
        hash.add(&[u8::from(self.edited)]);
        hash.add(&self.edited_at.map_or(0, |t| t.timestamp()).to_le_bytes());
        let c = &self.counters;
        for counter in [c.views, c.likes, c.reposts, c.comments] {
            hash.add(&counter.map_or(u64::MAX, |n| n).to_le_bytes());
        }
        hash.add(&[u8::from(self.pinned)]);
        for a in &self.attachments {
            hash.add(a.kind.as_bytes());
            hash.add(a.title.as_deref().unwrap_or_default().as_bytes());
        }
        hash.0
    }

    /// The text the classifier reads: the author's words followed by any reposted text.
    pub fn full_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.repost_of {
            Some(origin) if !origin.text.is_empty() => {
                if self.text.is_empty() {
                    origin.text.as_str().into()
                } else {
                    format!("{}\n\n{}", self.text, origin.text).into()
                }
            }
            _ => self.text.as_str().into(),
        }
    }
}

/// What the item is, as a speech act: spikes count complaints and questions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    Complaint,
    Question,
    Gratitude,
    Suggestion,
    /// Official announcements and news.
    Info,
}

impl PostKind {
    pub const ALL: &'static [PostKind] =
        &[PostKind::Complaint, PostKind::Question, PostKind::Gratitude, PostKind::Suggestion, PostKind::Info];

    pub fn id(self) -> &'static str {
        match self {
            PostKind::Complaint => "complaint",
            PostKind::Question => "question",
            PostKind::Gratitude => "gratitude",
            PostKind::Suggestion => "suggestion",
            PostKind::Info => "info",
        }
    }

    /// Whether the alerter counts it.
    pub fn counts_for_alerts(self) -> bool {
        matches!(self, PostKind::Complaint | PostKind::Question)
    }
}

/// One topic a post was tagged with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicHit {
    pub topic: Topic,
    pub score: f32,
    /// The id of the strongest rule that fired, for explanations and audits.
    pub rule: String,
}

/// Where a post's municipality came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MunicipalityEvidence {
    /// The text names it unambiguously.
    Text,
    /// The source is bound to it.
    Source,
}

/// The ОКТМО municipal formation a post is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityMatch {
    /// 8-digit ОКТМО code of the municipal district / okrug / urban okrug.
    pub oktmo: String,
    pub name: String,
    pub evidence: MunicipalityEvidence,
}

/// What the classifier says about a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// Version of the rules and gazetteer that produced this, so analysts can re-run or compare.
    pub classifier_version: String,
    /// ISO 639-1 code (`ru`, `uk`, `be`, `en`, …) or `und`.
    pub language: String,
    pub kind: PostKind,
    /// Highest score first; may be empty.
    pub topics: Vec<TopicHit>,
    pub municipality: Option<MunicipalityMatch>,
    /// The text names another region («…Тамбовской области», «в Саратове») and not this one: the
    /// post gets no municipality, even where a settlement of the same name exists here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_region: bool,
}

/// A raw post with its classification (`otklik.posts.classified.v1`): the raw fields at the top
/// level, plus `classification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifiedPost {
    #[serde(flatten)]
    pub post: RawPost,
    pub classification: Classification,
    /// The first post of this post's copy cluster (reposts, pasted and template texts), when it is
    /// a copy; set by the alert stage's incident linking, absent before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<PostUid>,
    /// The incident (one problem at one place and time) the post belongs to: the uid of the
    /// incident's first post. Absent until the alert stage has linked the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<PostUid>,
    /// Whether the post counts as a distinct resident's voice in its incident. Absent until the
    /// alert stage has linked the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_voice: Option<bool>,
}

impl ClassifiedPost {
    /// A classified post not yet linked into an incident.
    pub fn new(post: RawPost, classification: Classification) -> ClassifiedPost {
        ClassifiedPost { post, classification, copy_of: None, incident_id: None, is_voice: None }
    }
}

/// 64-bit FNV-1a, with a separator between fields so ("ab","c") ≠ ("a","bc").
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&[0xff]) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
