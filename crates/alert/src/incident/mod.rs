//! Incidents: copies collapse, one problem told by many residents is one incident with many
//! voices (pure: no I/O, no clock — time is the posts' `published_at`).
//!
//! - **Copies** ([`minhash`]): reposts without words of the reposter's own, one text pasted into
//!   several groups, template letters. Near-duplicates are found by MinHash over word bigrams of
//!   the classifier's normalised text and an LSH index (Jaccard ≥ 0.5, candidates within 72 h);
//!   a text under 5 tokens joins only its own author's copies. `copy_of` is the cluster's first
//!   post.
//! - **Incidents** ([`link`]): posts of one topic (family) in one area (municipality, else the
//!   group) whose place detail agrees, with no quiet gap longer than [`LinkConfig::quiet_gap`].
//!   Replies join the incident of the post they answer; a short topic-less reply standing alone
//!   joins its group's latest incident. Copies always share their cluster's incident. The
//!   incident id is the uid of its first post.
//! - **Voices** ([`voice`]): distinct residents of an incident.
//!
//! The window is bounded by time: posts, clusters and incidents older than
//! [`LinkConfig::window`] before the newest post seen are dropped. [`Linker::restore`] rebuilds the
//! state from posts already linked (the last 72 h of the store after a restart).

mod link;
pub mod minhash;
mod voice;

pub use link::{Linker, WindowStats};

use chrono::{DateTime, Utc};
use otklik_classify::gazetteer::{Gazetteer, PlaceDetail};
use otklik_classify::normalize::normalize;
use otklik_model::{ClassifiedPost, PostKind, Topic};

/// Linking parameters; [`LinkConfig::default`] holds the values the fixture was measured with.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Estimated Jaccard similarity at or above which two texts are copies.
    pub jaccard: f64,
    /// How long posts, clusters and incidents stay in the window (copy candidates, replies).
    pub window: chrono::Duration,
    /// An incident with no post for this long is closed; the same problem later is a new one.
    pub quiet_gap: chrono::Duration,
    /// A topic-less short reply joins its group's latest incident only if that one is this fresh.
    pub reply_gap: chrono::Duration,
    /// An outage of a network (water, power, gas, heat, sewage) reaches many houses of a street at
    /// once: within this time of the incident's last post another house of the street joins it.
    /// Later, or for other topics (a pothole, a lift), another house is another incident.
    pub house_gap: chrono::Duration,
    /// A post that gives no place detail joins only an incident active within this time: the
    /// vaguer the post, the nearer in time it must be.
    pub vague_gap: chrono::Duration,
    /// Texts with fewer tokens join only their own author's copies.
    pub min_copy_tokens: usize,
    /// A text with at most this many tokens and no topic is a short reply («+1», «у нас тоже»).
    pub short_reply_tokens: usize,
    /// At most this many voices per copy cluster per UTC day.
    pub copy_voices_per_day: u32,
    /// Incidents are copy clusters only (no topic/place linking): to measure what linking adds.
    pub copies_only: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            jaccard: 0.5,
            window: chrono::Duration::hours(72),
            quiet_gap: chrono::Duration::hours(36),
            reply_gap: chrono::Duration::hours(12),
            house_gap: chrono::Duration::hours(2),
            vague_gap: chrono::Duration::hours(12),
            min_copy_tokens: 5,
            short_reply_tokens: 12,
            copy_voices_per_day: 5,
            copies_only: false,
        }
    }
}

/// Words that make a short post a «me too».
const REPLY_CUES: &[&str] = &["тоже", "также", "аналогично", "подтверждаю", "присоединяюсь", "поддерживаю", "плюсую"];

/// What the linker needs of a text, computed once per post (normalisation and place detail are
/// the classifier's work, so a bench can keep them out of the timed loop).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostFeatures {
    /// Hashed word bigrams of the normalised text ([`minhash::shingles`]).
    pub shingles: Vec<u64>,
    /// Tokens of the normalised text.
    pub tokens: usize,
    pub place: PlaceDetail,
    /// Says «me too»: «+1», «тоже», «аналогично», «подтверждаю» …
    pub reply_cue: bool,
}

impl PostFeatures {
    /// Features of a text; the place detail needs the gazetteer for settlements.
    pub fn of(text: &str, gazetteer: Option<&Gazetteer>) -> PostFeatures {
        let norm = normalize(text);
        let shingles = minhash::shingles((0..norm.tokens.len()).map(|i| norm.token(i)));
        let place = match gazetteer {
            Some(g) => g.place_detail(text),
            None => otklik_classify::gazetteer::street_detail(text),
        };
        let cue = (0..norm.tokens.len()).any(|i| REPLY_CUES.contains(&norm.token(i)));
        PostFeatures { shingles, tokens: norm.tokens.len(), place, reply_cue: cue || text.contains("+1") }
    }
}

/// One post as the linker sees it: plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPost {
    pub uid: String,
    /// Platform author id or name; `None` counts as a distinct author.
    pub author: Option<String>,
    /// The group / channel the post was collected from.
    pub source: String,
    pub published_at: DateTime<Utc>,
    /// Written by the source itself (the community or channel).
    pub is_source: bool,
    /// The source is an administration's or official body's feed.
    pub official: bool,
    /// An official post that quotes a resident (a repost of a resident's post).
    pub quotes_resident: bool,
    pub kind: PostKind,
    /// Highest score first.
    pub topics: Vec<Topic>,
    pub municipality: Option<String>,
    /// The post or comment this one answers.
    pub reply_to: Option<String>,
    /// The post this one reposts.
    pub repost_of: Option<String>,
    /// Whether a repost adds words of the reposter's own (always true for a non-repost).
    pub own_words: bool,
    pub features: PostFeatures,
}

impl LinkPost {
    /// A classified post with its features; `official` is the source's flag.
    pub fn from_classified(post: &ClassifiedPost, official: bool, features: PostFeatures) -> LinkPost {
        let raw = &post.post;
        let c = &post.classification;
        let repost_of = raw.repost_of.as_ref();
        LinkPost {
            uid: raw.uid.to_string(),
            author: raw.author.id.clone().or_else(|| raw.author.name.clone()),
            source: raw.source_id.clone(),
            published_at: raw.published_at,
            is_source: raw.author.is_source,
            official,
            quotes_resident: official && repost_of.is_some(),
            kind: c.kind,
            topics: c.topics.iter().map(|t| t.topic).collect(),
            municipality: c.municipality.as_ref().map(|m| m.oktmo.clone()),
            reply_to: raw.parent_uid.as_ref().map(ToString::to_string),
            repost_of: repost_of.and_then(|r| r.uid.as_ref()).map(ToString::to_string),
            own_words: repost_of.is_none() || !raw.text.trim().is_empty(),
            features,
        }
    }
}

/// What linking decided for one post.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    /// The first post of the copy cluster, when this post is a copy.
    pub copy_of: Option<String>,
    /// The uid of the incident's first post.
    pub incident_id: String,
    pub is_voice: bool,
}
