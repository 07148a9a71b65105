use crate::{rfc3339_secs, PostUid, Schema, Topic};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One event of a spike of incident voices on one topic in one municipality (or the whole
/// region): opened, updated, reopened or resolved (`otklik.alerts.v1`, keyed by [`Alert::key`]).
/// Every event of one alert carries the same [`Alert::id`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub schema: Schema,
    /// Stable across events, restarts and replays: `{series}:{opening hour, YYYYMMDDTHH}`.
    pub id: String,
    pub state: AlertState,
    pub severity: AlertSeverity,
    /// Which test fired: `baseline`, `ears`, `cusum` or `threshold`.
    pub method: String,
    /// Set when the calendar expects the spike (a heating season's start, a planned outage):
    /// listed for the duty officer, never paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_note: Option<String>,
    /// ОКТМО code; `None` for the series of the whole region.
    pub municipality: Option<String>,
    #[serde(default)]
    pub municipality_name: String,
    pub topic: Topic,
    /// The window of hourly buckets (by `published_at`) that fired.
    #[serde(with = "rfc3339_secs")]
    pub window_start: DateTime<Utc>,
    #[serde(with = "rfc3339_secs")]
    pub window_end: DateTime<Utc>,
    /// Incident voices in the window.
    pub observed: u64,
    /// What the window would normally hold.
    pub expected: f64,
    /// The smallest count that would have fired the window, when the test has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_bound: Option<u64>,
    /// P(X ≥ observed) under the baseline.
    pub p_value: f64,
    /// Distinct incidents and voices behind the window.
    pub incidents: u64,
    pub voices: u64,
    /// The incidents with the most voices, at most five.
    #[serde(default)]
    pub top_incidents: Vec<AlertIncident>,
    /// When the detector raised this event (the detector's clock: event time in a replay).
    #[serde(with = "rfc3339_secs")]
    pub raised_at: DateTime<Utc>,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Opened,
    Updated,
    Reopened,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Opened => "opened",
            AlertState::Updated => "updated",
            AlertState::Reopened => "reopened",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        [AlertState::Opened, AlertState::Updated, AlertState::Reopened, AlertState::Resolved]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// How loudly to tell: from the p-value and the excess over the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Low,
    Medium,
    High,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<AlertSeverity> {
        [AlertSeverity::Low, AlertSeverity::Medium, AlertSeverity::High].into_iter().find(|v| v.as_str() == s)
    }
}

/// One incident behind an alert, for the duty officer to open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertIncident {
    /// The incident id: the uid of its first post.
    pub uid: PostUid,
    pub url: String,
    /// The start of the first post's text.
    pub excerpt: String,
    pub voices: u64,
}

impl Alert {
    /// The Kafka key: `{municipality}:{topic}`, with `region` for the whole region's series.
    pub fn key(&self) -> String {
        format!("{}:{}", self.municipality.as_deref().unwrap_or("region"), self.topic)
    }

    /// Pages a person: not resolved and not expected by the calendar.
    pub fn pages(&self) -> bool {
        self.state != AlertState::Resolved && self.expected_note.is_none()
    }
}
