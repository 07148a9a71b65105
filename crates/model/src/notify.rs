//! Alert delivery: what the router decided to tell a receiver, each attempt to tell it, and the
//! silences a duty officer set. These are stored (ClickHouse `alert_deliveries` /
//! `alert_silences`, or the local store) so the outbox survives a restart.

use crate::{rfc3339_secs, Alert, Schema};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One message the router decided to send to one receiver: the current state of one group of
/// alerts (one municipality, or one topic across the region).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub schema: Schema,
    /// Stable across retries and restarts (the webhook's `webhook-id`):
    /// `{receiver}:{group_key}:{sequence number of the group's notifications}`.
    pub id: String,
    /// The `[[alerts.receiver]]` name it goes to.
    pub receiver: String,
    /// What the router grouped by: the municipality's ОКТМО code, or `region:{topic}` for a
    /// regional alert and the local ones it inhibits.
    pub group_key: String,
    pub kind: NotificationKind,
    /// The latest event of every alert of the group that is open or has just resolved.
    pub alerts: Vec<Alert>,
    /// One open episode of the group, `{group_key}:{when it opened, YYYYMMDDTHHMM}`: updates of
    /// the same thread edit the Telegram message that opened it.
    pub thread: String,
    #[serde(with = "rfc3339_secs")]
    pub created_at: DateTime<Utc>,
}

impl Notification {
    /// `firing` while any alert of the group is open, else `resolved` (the webhook body's status).
    pub fn status(&self) -> &'static str {
        if self.kind == NotificationKind::Resolved {
            "resolved"
        } else {
            "firing"
        }
    }
}

/// Why the router sends a notification now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The group's first message of an episode (after the group wait).
    Opened,
    /// Something changed in an open group (at most once per group interval).
    Updated,
    /// Still open, nothing new, the repeat interval passed.
    Reminder,
    /// Every alert of the group resolved: sent once.
    Resolved,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Opened => "opened",
            NotificationKind::Updated => "updated",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Resolved => "resolved",
        }
    }
}

/// One line of the delivery log: a notification queued, an attempt and its outcome, or an alert
/// that was recorded but not sent (silenced, inhibited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRecord {
    pub schema: Schema,
    /// [`Notification::id`]; for a suppressed alert `{receiver}:{alert id}`.
    pub notification_id: String,
    pub receiver: String,
    pub group_key: String,
    pub alert_ids: Vec<String>,
    /// 0 for the `queued` record, then 1, 2, … per attempt.
    pub attempt: u32,
    #[serde(with = "rfc3339_secs")]
    pub at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
    /// The receiver's HTTP status (or Telegram's `error_code`), 0 when none.
    #[serde(default)]
    pub status_code: u16,
    /// What went wrong, or the silence / inhibiting alert; never a secret.
    #[serde(default)]
    pub detail: String,
    /// When a `retry` outcome is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_secs::option")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Telegram message ids a delivery created or edited (to edit them on the next update).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_ids: Vec<i64>,
    /// The notification itself, on the `queued` record: the outbox is rebuilt from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
}

/// What became of a notification (or of a suppressed alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// In the outbox, not yet tried.
    Queued,
    Delivered,
    /// Failed for now; tried again at `next_attempt_at`.
    Retry,
    /// Failed for good (a 4xx other than 408/409/425/429/410, or retries exhausted).
    Failed,
    /// The receiver said 410 Gone: it is disabled until the config changes.
    Disabled,
    /// Recorded, not sent: a silence matched.
    Silenced,
    /// Recorded, not sent: a regional alert covers it.
    Inhibited,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Queued => "queued",
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retry => "retry",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Disabled => "disabled",
            DeliveryOutcome::Silenced => "silenced",
            DeliveryOutcome::Inhibited => "inhibited",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryOutcome> {
        use DeliveryOutcome::*;
        [Queued, Delivered, Retry, Failed, Disabled, Silenced, Inhibited].into_iter().find(|o| o.as_str() == s)
    }

    /// Still owed to the receiver: the outbox keeps it.
    pub fn pending(self) -> bool {
        matches!(self, DeliveryOutcome::Queued | DeliveryOutcome::Retry)
    }
}

/// A duty officer's «do not send this for a while»: matching alerts are recorded, not sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    pub schema: Schema,
    pub id: String,
    /// A series as [`Alert::key`] spells it, `{municipality|region}:{topic}`; either part may be
    /// `*`.
    pub series: String,
    #[serde(with = "rfc3339_secs")]
    pub starts_at: DateTime<Utc>,
    /// Ending a silence early stores it again with `ends_at` = now.
    #[serde(with = "rfc3339_secs")]
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    #[serde(default)]
    pub created_by: String,
}

impl Silence {
    /// A silence of `series` from `starts_at` for `duration`; its id names the series and the
    /// second it starts (`56701000:heating@20261120T091500`).
    pub fn new(
        series: &str,
        starts_at: DateTime<Utc>,
        duration: chrono::Duration,
        reason: &str,
        created_by: &str,
    ) -> Silence {
        Silence {
            schema: Schema,
            id: format!("{series}@{}", starts_at.format("%Y%m%dT%H%M%S")),
            series: series.to_owned(),
            starts_at,
            ends_at: starts_at + duration,
            reason: reason.to_owned(),
            created_by: created_by.to_owned(),
        }
    }

    /// Why `series` is not a series a silence can name, if it is not: `{ОКТМО|region|*}:{topic|*}`.
    pub fn check_series(series: &str) -> Result<(), String> {
        let Some((place, topic)) = series.split_once(':') else {
            return Err(format!("{series:?} is not `{{municipality}}:{{topic}}` (e.g. 56701000:heating, region:*)"));
        };
        let place_ok =
            place == "*" || place == "region" || (!place.is_empty() && place.bytes().all(|b| b.is_ascii_digit()));
        if !place_ok {
            return Err(format!("{series:?}: {place:?} is not an ОКТМО code, `region` or `*`"));
        }
        if topic != "*" && topic.parse::<crate::Topic>().is_err() {
            return Err(format!("{series:?}: {topic:?} is not a topic id or `*`"));
        }
        Ok(())
    }

    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether the silence covers this alert's series.
    pub fn matches(&self, alert: &Alert) -> bool {
        let key = alert.key();
        let (place, topic) = key.split_once(':').unwrap_or((key.as_str(), ""));
        let (want_place, want_topic) = self.series.split_once(':').unwrap_or((self.series.as_str(), "*"));
        (want_place == "*" || want_place == place) && (want_topic == "*" || want_topic == topic)
    }
}
