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

#[cfg(test)]
mod tests {
    use super::*;
    use otklik_model::Schema;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    fn notification(seq: u32, kind: NotificationKind) -> Notification {
        Notification {
            schema: Schema,
            id: format!("tg:56701000:{seq}"),
            receiver: "tg".into(),
            group_key: "56701000".into(),
            kind,
            alerts: vec![],
            thread: "56701000:20261119T1500".into(),
            created_at: at(0),
        }
    }

    fn record(n: &Notification, attempt: u32, seconds: i64, outcome: DeliveryOutcome) -> DeliveryRecord {
        DeliveryRecord {
            schema: Schema,
            notification_id: n.id.clone(),
            receiver: n.receiver.clone(),
            group_key: n.group_key.clone(),
            alert_ids: vec![],
            attempt,
            at: at(seconds),
            outcome,
            status_code: 0,
            detail: String::new(),
            next_attempt_at: None,
            message_ids: vec![],
            notification: (outcome == DeliveryOutcome::Queued).then(|| n.clone()),
        }
    }

    #[test]
    fn finds_what_is_owed_in_any_order() {
        let (opened, updated, resolved) = (
            notification(1, NotificationKind::Opened),
            notification(2, NotificationKind::Updated),
            notification(10, NotificationKind::Resolved),
        );
        let mut delivered = record(&opened, 1, 1, DeliveryOutcome::Delivered);
        delivered.message_ids = vec![5, 6];
        let mut retry = record(&updated, 2, 3, DeliveryOutcome::Retry);
        (retry.next_attempt_at, retry.message_ids) = (Some(at(60)), vec![5]);
        let records = vec![
            retry,
            record(&resolved, 0, 2, DeliveryOutcome::Queued),
            delivered,
            record(&updated, 1, 2, DeliveryOutcome::Retry),
            record(&updated, 0, 2, DeliveryOutcome::Queued),
            record(&opened, 0, 0, DeliveryOutcome::Queued),
        ];
        let rebuilt = rebuild(&records);
        let owed: Vec<(&str, u32, Option<DateTime<Utc>>)> =
            rebuilt.pending.iter().map(|p| (p.notification.id.as_str(), p.attempts, p.next_attempt_at)).collect();
        // Queued in the same second: the group's sequence number orders them (2 before 10).
        assert_eq!(owed, [("tg:56701000:2", 2, Some(at(60))), ("tg:56701000:10", 0, None)]);
        assert_eq!(rebuilt.pending[0].message_ids, [5]);
        assert_eq!(rebuilt.threads[&("tg".to_owned(), opened.thread.clone())], [5, 6]);
        assert_eq!(rebuilt.known.len(), 3);
        assert!(rebuilt.orphans.is_empty());
    }

    #[test]
    fn a_final_outcome_wins_a_tie_and_orphans_are_named() {
        let n = notification(1, NotificationKind::Reminder);
        let records = vec![record(&n, 0, 5, DeliveryOutcome::Disabled), record(&n, 0, 5, DeliveryOutcome::Queued)];
        assert!(rebuild(&records).pending.is_empty());
        let lost = record(&notification(2, NotificationKind::Opened), 1, 9, DeliveryOutcome::Retry);
        assert_eq!(rebuild(&[lost]).orphans, ["tg:56701000:2"]);
    }
}
