use crate::{rfc3339_secs, PostUid, Schema, Topic};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One event of an alert (`otklik.alerts.v1`, keyed by [`Alert::key`]): opened, updated,
/// reopened or resolved. Every event of one alert carries the same [`Alert::id`]. Two kinds:
/// a spike of incident voices on one topic in one municipality (or the whole region), and an
/// organisation's complaints unanswered past their deadline ([`AlertKind::Overdue`], details in
/// [`Alert::overdue`]; its figures are in the spike's fields too: `observed` the overdue
/// complaints, `window_start` the oldest one's publication, `top_incidents` the oldest ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub schema: Schema,
    /// Stable across events, restarts and replays: `{series}:{opening hour, YYYYMMDDTHH}`
    /// (`overdue:{organisation}:{opening hour}` for an overdue alert).
    pub id: String,
    /// Absent on the wire for a spike: events written before overdue alerts existed decode, and
    /// consumers that predate them still read spike events.
    #[serde(default, skip_serializing_if = "AlertKind::is_spike")]
    pub kind: AlertKind,
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
    /// Set on overdue alerts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<AlertOverdue>,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Incident voices on a topic beyond the baseline.
    #[default]
    Spike,
    /// An organisation's resident complaints unanswered past its deadline.
    Overdue,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Spike => "spike",
            AlertKind::Overdue => "overdue",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        [AlertKind::Spike, AlertKind::Overdue].into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_spike(&self) -> bool {
        *self == AlertKind::Spike
    }
}

/// An organisation whose complaints are unanswered past its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertOverdue {
    /// The organisation's id in the responders file, and its name.
    pub organisation: String,
    pub organisation_name: String,
    /// `uk`, `administration`, `ministry`, `utility` or `other`.
    pub org_type: String,
    /// How long a complaint to it may stay unanswered, in seconds.
    pub deadline_secs: u64,
    /// Its complaints unanswered past the deadline (0 on the resolution).
    pub complaints: u64,
    /// The oldest of them: uid, link, publication.
    pub oldest_uid: String,
    #[serde(default)]
    pub oldest_url: String,
    #[serde(with = "rfc3339_secs")]
    pub oldest_at: DateTime<Utc>,
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
    /// The Kafka key: `{municipality}:{topic}`, with `region` for the whole region's series;
    /// `{municipality}:overdue:{organisation}` for an overdue alert.
    pub fn key(&self) -> String {
        let place = self.municipality.as_deref().unwrap_or("region");
        match &self.overdue {
            Some(o) => format!("{place}:overdue:{}", o.organisation),
            None => format!("{place}:{}", self.topic),
        }
    }

    /// Pages a person: not resolved and not expected by the calendar.
    pub fn pages(&self) -> bool {
        self.state != AlertState::Resolved && self.expected_note.is_none()
    }
}
