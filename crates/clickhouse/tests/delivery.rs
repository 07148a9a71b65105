//! The delivery log and silences over ClickHouse and over a local store: one test body, the same
//! answers. The ClickHouse run needs OTKLIK_TEST_CLICKHOUSE.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use otklik_clickhouse::{DataDir, DeliveryLog, History};
use otklik_model::{DeliveryOutcome, DeliveryRecord, Notification, NotificationKind, Schema, Silence};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
}

fn notification(id: &str) -> Notification {
    Notification {
        schema: Schema,
        id: id.into(),
        receiver: "duty".into(),
        group_key: "56701000".into(),
        kind: NotificationKind::Opened,
        alerts: Vec::new(),
        thread: "56701000:202611200900".into(),
        created_at: t0(),
    }
}

fn record(id: &str, attempt: u32, minutes: i64, outcome: DeliveryOutcome) -> DeliveryRecord {
    DeliveryRecord {
        schema: Schema,
        notification_id: id.into(),
        receiver: "duty".into(),
        group_key: "56701000".into(),
        alert_ids: vec!["56701000:heating:20261120T09".into()],
        attempt,
        at: t0() + Duration::minutes(minutes),
        outcome,
        status_code: if outcome == DeliveryOutcome::Retry { 503 } else { 0 },
        detail: String::new(),
        next_attempt_at: (outcome == DeliveryOutcome::Retry).then(|| t0() + Duration::minutes(minutes + 1)),
        message_ids: if outcome == DeliveryOutcome::Delivered { vec![42, 43] } else { Vec::new() },
        notification: (outcome == DeliveryOutcome::Queued).then(|| notification(id)),
    }
}

fn records() -> Vec<DeliveryRecord> {
    vec![
        record("duty:56701000:1", 0, 0, DeliveryOutcome::Queued),
        record("duty:56701000:1", 1, 1, DeliveryOutcome::Retry),
        record("duty:56701000:1", 2, 2, DeliveryOutcome::Delivered),
        record("duty:56701000:2", 0, 3, DeliveryOutcome::Queued),
    ]
}

fn silence(id: &str, hours: i64) -> Silence {
    Silence {
        schema: Schema,
        id: id.into(),
        series: "56701000:heating".into(),
        starts_at: t0(),
        ends_at: t0() + Duration::hours(hours),
        reason: "плановые работы".into(),
        created_by: "cli".into(),
    }
}

async fn check(history: &History, log: &DeliveryLog) {
    let all = records();
    log.append(&all[..2], t0()).await.unwrap();
    log.append(&all[2..], t0() + Duration::minutes(3)).await.unwrap();
    assert_eq!(history.deliveries(t0()).await.unwrap(), records(), "every record back, in order, unchanged");
    assert_eq!(history.deliveries(t0() + Duration::minutes(2)).await.unwrap(), records()[2..], "from `since` on");

    history.add_silence(&silence("s1", 6), t0()).await.unwrap();
    history.add_silence(&silence("s2", 1), t0()).await.unwrap();
    let active = history.silences(t0() + Duration::minutes(30)).await.unwrap();
    assert_eq!(active, [silence("s1", 6), silence("s2", 1)]);
    assert_eq!(history.silences(t0() + Duration::hours(2)).await.unwrap(), [silence("s1", 6)], "s2 has ended");
    // Ending s1 early is a newer version of it.
    let mut ended = silence("s1", 6);
    ended.ends_at = t0() + Duration::minutes(90);
    history.add_silence(&ended, t0() + Duration::minutes(90)).await.unwrap();
    assert_eq!(history.silences(t0() + Duration::hours(2)).await.unwrap(), Vec::<Silence>::new());
    assert_eq!(history.silences(t0() + Duration::minutes(80)).await.unwrap(), [ended]);
}

#[tokio::test]
async fn deliveries_and_silences_in_a_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let locked = DataDir::lock(dir.path()).unwrap();
    // Silences are written while the pipeline holds the directory's lock.
    check(&History::Local(dir.path().to_owned()), &DeliveryLog::local(&locked).unwrap()).await;
}

#[tokio::test]
async fn deliveries_and_silences_in_clickhouse() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_delivery").await;
    check(&History::ClickHouse(db.config.clone()), &DeliveryLog::clickhouse(db.config.clone())).await;
    db.drop().await;
}
