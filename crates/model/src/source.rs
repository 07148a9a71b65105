use crate::{rfc3339_secs, Schema};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A social network otklik collects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Vk,
    Telegram,
    Ok,
}

impl Platform {
    pub const ALL: &'static [Platform] = &[Platform::Vk, Platform::Telegram, Platform::Ok];

    /// The name used in config, CLI and the `platform` column.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Vk => "vk",
            Platform::Telegram => "telegram",
            Platform::Ok => "ok",
        }
    }

    /// The first part of a [`crate::PostUid`].
    pub fn uid_prefix(self) -> &'static str {
        match self {
            Platform::Vk => "vk",
            Platform::Telegram => "tg",
            Platform::Ok => "ok",
        }
    }

    pub fn from_uid_prefix(prefix: &str) -> Option<Platform> {
        Platform::ALL.iter().copied().find(|p| p.uid_prefix() == prefix)
    }

    pub fn from_name(name: &str) -> Option<Platform> {
        Platform::ALL.iter().copied().find(|p| p.name() == name)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which comments a collector fetches under a source's posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentsPolicy {
    /// No comments.
    #[default]
    None,
    /// Comments under the posts of official sources only (residents answer the administration).
    OfficialPosts,
    /// Comments under every post.
    All,
}

/// One feed to poll: a VK community, a Telegram channel, an OK group.
///
/// Sources live in the compacted topic `otklik.sources.v1` keyed by `id`; a collector polls the
/// sources of the partitions it is assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub schema: Schema,
    /// Stable id chosen by ops, e.g. `vk-penza-adm`. Never reuse one for another feed.
    pub id: String,
    pub platform: Platform,
    /// The feed's handle on its platform: VK owner id (`-12345`) or screen name, Telegram channel
    /// username, OK group id.
    pub handle: String,
    /// Human name for dashboards.
    #[serde(default)]
    pub name: String,
    /// The ОКТМО code this feed speaks for (a district administration's group), if any. Used
    /// when a post's text names no municipality.
    #[serde(default)]
    pub municipality: Option<String>,
    /// An administration's or official body's own feed: its posts are `info` unless they quote
    /// a resident.
    #[serde(default)]
    pub official: bool,
    #[serde(default)]
    pub comments: CommentsPolicy,
    /// A disabled source stays in the list (and keeps its cursor) but is not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// Whether a source can currently be collected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceStatus {
    #[default]
    Ok,
    /// The platform says the feed is gone, private or blocked; polling stops until ops act.
    Unavailable { reason: String },
    /// The last poll failed in a way that may pass (network, rate limit); polling goes on.
    Failing { reason: String },
}

/// A collector's progress on one source (compacted topic `otklik.cursors.v1`, keyed by source id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub schema: Schema,
    pub source_id: String,
    /// The newest post id seen so far (numeric on every platform we support); the next poll
    /// stops when it reaches it.
    pub newest_id: Option<u64>,
    /// A platform paging token to resume an interrupted walk (VK `next_from`, OK `anchor`).
    #[serde(default)]
    pub resume: Option<String>,
    #[serde(with = "rfc3339_secs::option", default)]
    pub polled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub status: SourceStatus,
    /// Posts still inside the re-check window with a fingerprint of what was last published
    /// ([`crate::RawPost::fingerprint`]), so a re-check re-publishes only what changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<SeenPost>,
}

/// A post a collector published recently, as its cursor remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenPost {
    pub uid: crate::PostUid,
    #[serde(with = "rfc3339_secs")]
    pub published_at: DateTime<Utc>,
    pub fingerprint: u64,
}

/// A source's audience as one poll saw it (topic `otklik.sources.stats.v1`, keyed by source
/// id; a log, not compacted: every observation is a point of the growth series). Written only
/// when the platform showed a figure: VK `members_count`, the t.me/s header's subscribers, OK
/// `members_count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceStat {
    pub schema: Schema,
    pub source_id: String,
    pub platform: Platform,
    #[serde(with = "rfc3339_secs")]
    pub observed_at: DateTime<Utc>,
    /// Members (VK, OK) or subscribers (Telegram).
    pub audience: u64,
}

impl Cursor {
    /// The cursor of a source never polled.
    pub fn new(source_id: impl Into<String>) -> Self {
        Cursor {
            schema: Schema,
            source_id: source_id.into(),
            newest_id: None,
            resume: None,
            polled_at: None,
            status: SourceStatus::Ok,
            recent: Vec::new(),
        }
    }
}
