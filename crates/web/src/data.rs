//! What the page reads and writes, behind [`PageData`]: the binary implements it over ClickHouse
//! or the local store, tests over [`crate::memory::MemoryData`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::{Alert, DeliveryRecord, Silence};
use serde::Serialize;

/// Reading or writing the page's data failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The store or ClickHouse failed; the message is shown on the page, so it must hold no
    /// secret.
    #[error("{message}")]
    Backend { message: String, retryable: bool },
    /// This deployment does not keep it (yet): the page says so instead of an error.
    #[error("{0}")]
    Unavailable(String),
}

impl DataError {
    /// Whether loading the page again may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            DataError::Backend { retryable, .. } => *retryable,
            DataError::Unavailable(_) => false,
        }
    }
}

/// One incident (one problem, however many residents told it) with a few of its posts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentView {
    /// The uid of its first post.
    pub id: String,
    pub url: String,
    /// ОКТМО code.
    pub municipality: Option<String>,
    /// Topic id.
    pub topic: Option<String>,
    /// «Кузнецк, белинс… 112»: where, as the first post told it; may be empty.
    pub place: String,
    pub excerpt: String,
    pub voices: u64,
    pub posts: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Some of its posts, the first post first.
    pub examples: Vec<ExamplePost>,
}

/// One post of an incident, as the duty officer opens it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExamplePost {
    pub url: String,
    pub published_at: DateTime<Utc>,
    pub text: String,
    /// Counted as a resident's voice (not a copy, not the administration).
    pub is_voice: bool,
}

/// Voices of one hour × municipality × topic (complaints and questions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCell {
    pub hour: DateTime<Utc>,
    /// ОКТМО code, empty when none.
    pub municipality: String,
    /// «город Кузнецк»; empty when unknown (the code is shown).
    pub municipality_name: String,
    /// Topic id, empty for posts without a topic.
    pub topic: String,
    pub voices: u64,
}

/// Everything the page needs; no method may block the async threads.
#[async_trait]
pub trait PageData: Send + Sync {
    /// The latest event of every alert with an event raised at or after `since`.
    async fn alerts(&self, since: DateTime<Utc>) -> Result<Vec<Alert>, DataError>;

    /// Incidents with a post published in `from..to`, each with a few example posts.
    async fn incidents(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<IncidentView>, DataError>;

    /// Voices per hour × municipality × topic for the hours starting at or after `since`.
    async fn hourly_voices(&self, since: DateTime<Utc>) -> Result<Vec<HourCell>, DataError>;

    /// The silences not ended at `now`: active, or starting later.
    async fn silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, DataError>;

    /// Stores a new silence (the only write the page makes).
    async fn add_silence(&self, silence: &Silence) -> Result<(), DataError>;

    /// Every delivery log record written at or after `since`.
    async fn deliveries(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, DataError>;
}
