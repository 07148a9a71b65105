//! The outbox as a pure function of the delivery log: what is still owed to each receiver, and
//! which Telegram messages show each thread.

use chrono::{DateTime, Utc};
use otklik_model::{DeliveryOutcome, DeliveryRecord, Notification, NotificationKind};
use std::collections::{HashMap, HashSet};

/// A notification whose latest record is `queued` or `retry`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub notification: Notification,
    /// Attempts made so far.
    pub attempts: u32,
    pub queued_at: DateTime<Utc>,
    /// When a `retry` is due; `None` for one never tried.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Telegram messages already written by earlier attempts (a split message half sent).
    pub message_ids: Vec<i64>,
}

/// What [`rebuild`] finds in the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rebuilt {
    /// Oldest first.
    pub pending: Vec<Pending>,
    /// `(receiver, thread)` → the Telegram messages an update edits.
    pub threads: HashMap<(String, String), Vec<i64>>,
    /// Every notification id in the log: enqueuing one again sends nothing.
    pub known: HashSet<String>,
    /// Pending ids whose `queued` record (the notification itself) is not in the records read.
    pub orphans: Vec<String>,
}

/// Rebuilds the outbox from `records` (any order). The latest record of a notification is the
/// one with the latest `at`, then the highest `attempt`; at a tie a final outcome wins over a
/// pending one.
pub fn rebuild(records: &[DeliveryRecord]) -> Rebuilt {
    let mut order: Vec<&DeliveryRecord> = records.iter().collect();
    order.sort_by_key(|r| (r.at, r.attempt, !r.outcome.pending()));
    let mut notifications: HashMap<&str, (&Notification, DateTime<Utc>)> = HashMap::new();
    let mut latest: HashMap<&str, &DeliveryRecord> = HashMap::new();
    let mut rebuilt = Rebuilt::default();
    for record in order {
        let id = record.notification_id.as_str();
        if let Some(notification) = &record.notification {
            notifications.entry(id).or_insert((notification, record.at));
        }
        rebuilt.known.insert(record.notification_id.clone());
        latest.insert(id, record);
        let Some((notification, _)) = notifications.get(id) else { continue };
        if record.outcome == DeliveryOutcome::Delivered && !record.message_ids.is_empty() {
            let key = (record.receiver.clone(), notification.thread.clone());
            match notification.kind {
                NotificationKind::Opened | NotificationKind::Updated => {
                    rebuilt.threads.insert(key, record.message_ids.clone());
                }
                NotificationKind::Resolved => {
                    rebuilt.threads.remove(&key);
                }
                NotificationKind::Reminder => {}
            }
        }
    }
    for (id, record) in latest.into_iter().filter(|(_, r)| r.outcome.pending()) {
        let Some((notification, queued_at)) = notifications.get(id) else {
            rebuilt.orphans.push(id.to_owned());
            continue;
        };
        let next_attempt_at = if record.outcome == DeliveryOutcome::Retry { record.next_attempt_at } else { None };
        rebuilt.pending.push(Pending {
            notification: (*notification).clone(),
            attempts: record.attempt,
            queued_at: *queued_at,
            next_attempt_at,
            message_ids: record.message_ids.clone(),
        });
    }
    rebuilt.pending.sort_by_key(|p| (p.queued_at, sequence(&p.notification.id), p.notification.id.clone()));
    rebuilt.orphans.sort();
    rebuilt
}

/// The group's sequence number at the end of a notification id (`{receiver}:{group}:{n}`), so
/// that notifications queued in the same second keep their order.
fn sequence(id: &str) -> u64 {
    id.rsplit(':').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}
