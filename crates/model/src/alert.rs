use crate::{rfc3339_secs, PostUid, Schema, Topic};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A spike of complaints and questions on one topic in one municipality
/// (`otklik.alerts.v1`, keyed by [`Alert::key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub schema: Schema,
    /// ОКТМО code; `None` when the spike is in posts with no municipality.
    pub municipality: Option<String>,
    #[serde(default)]
    pub municipality_name: String,
    pub topic: Topic,
    #[serde(with = "rfc3339_secs")]
    pub window_start: DateTime<Utc>,
    #[serde(with = "rfc3339_secs")]
    pub window_end: DateTime<Utc>,
    /// Complaints and questions in the window.
    pub count: u64,
    /// What the window would normally hold.
    pub baseline: f64,
    /// How unusual the window is (detector-specific; higher is stronger).
    pub score: f64,
    /// A few posts behind the spike, for the duty officer to open.
    #[serde(default)]
    pub sample_uids: Vec<PostUid>,
    #[serde(with = "rfc3339_secs")]
    pub raised_at: DateTime<Utc>,
}

impl Alert {
    /// The Kafka key: `{municipality}:{topic}`, with `none` for posts without a municipality.
    pub fn key(&self) -> String {
        format!("{}:{}", self.municipality.as_deref().unwrap_or("none"), self.topic)
    }
}
