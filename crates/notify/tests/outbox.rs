//! The outbox: durable before `enqueue` returns, rebuilt from the log after a restart with each
//! undelivered notification sent exactly once, order per thread, and receivers independent of
//! each other.

mod common;

use common::*;
use otklik_model::{DeliveryOutcome, DeliveryRecord, NotificationKind, Schema};
use otklik_notify::{rebuild, MemoryDeliveryLog};
use otklik_testkit::fake_http::{FakeResponse, FakeServer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn ids(server: &FakeServer) -> Vec<String> {
    server.requests().iter().map(|r| r.header("webhook-id").unwrap_or_default().to_owned()).collect()
}

fn counted(ids: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    ids.iter().for_each(|id| *counts.entry(id.clone()).or_default() += 1);
    counts
}

#[tokio::test]
async fn undelivered_notifications_are_sent_exactly_once_after_a_restart() {
    // The first process: the endpoint answers 503 to each notification's first attempt and then
    // hangs, so everything stays in the outbox (a retry each, the fourth attempt in flight).
    let count = AtomicUsize::new(0);
    let down = FakeServer::start(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < 3 {
            FakeResponse::status(503)
        } else {
            FakeResponse::Hang
        }
    })
    .await;
    let dir = secret_dir("restart");
    let log = Arc::new(MemoryDeliveryLog::new());
    let running = start(&[webhook("hook", &down.url())], &dir, log.clone()).await;
    let batch: Vec<_> = (1..=3).map(|i| notification("hook", i, NotificationKind::Opened, &format!("t{i}"))).collect();
    running.outbox.enqueue(batch.clone()).await.unwrap();
    running.log.wait_for(PATIENCE, |r| r.iter().filter(|r| r.outcome == DeliveryOutcome::Retry).count() >= 3).await;
    let first = running.stop().await.records();
    assert!(batch.iter().all(|n| !finished(&first, &n.id)), "{first:#?}");
    // A delivered one and a suppressed alert must not be sent again.
    let done = notification("hook", 9, NotificationKind::Opened, "t9");
    let mut queued = DeliveryRecord {
        schema: Schema,
        notification_id: done.id.clone(),
        receiver: "hook".into(),
        group_key: done.group_key.clone(),
        alert_ids: vec![],
        attempt: 0,
        at: start_time(),
        outcome: DeliveryOutcome::Queued,
        status_code: 0,
        detail: String::new(),
        next_attempt_at: None,
        message_ids: vec![],
        notification: Some(done.clone()),
    };
    let mut delivered = queued.clone();
    (delivered.attempt, delivered.outcome, delivered.notification) = (1, DeliveryOutcome::Delivered, None);
    let mut silenced = queued.clone();
    (silenced.notification_id, silenced.outcome, silenced.notification) =
        ("hook:alert-1".into(), DeliveryOutcome::Silenced, None);
    queued.at -= chrono::Duration::seconds(1);
    let mut records = log.records();
    records.extend([queued, delivered, silenced]);
    let log = Arc::new(MemoryDeliveryLog::with_records(records));
    assert_eq!(rebuild(&log.records()).pending.len(), 3);

    // The restarted process: the endpoint is back.
    let up = FakeServer::start(|_| FakeResponse::status(200)).await;
    let running = start(&[webhook("hook", &up.url())], &dir, log).await;
    let records = running.log.wait_for(PATIENCE, |r| batch.iter().all(|n| finished(r, &n.id))).await;
    for n in &batch {
        assert_eq!(outcomes(&records, &n.id).last(), Some(&"delivered"));
    }
    // Enqueued again (a redelivered input): already known, sent nothing.
    running.outbox.enqueue(batch.clone()).await.unwrap();
    let log = running.stop().await;
    let sent = counted(&ids(&up));
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.values().all(|n| *n == 1), "each exactly once: {sent:?}");
    assert!(rebuild(&log.records()).pending.is_empty());
}

#[tokio::test]
async fn enqueue_is_durable_before_it_returns_and_refuses_when_the_log_fails() {
    let server = FakeServer::start(|_| FakeResponse::status(200)).await;
    let dir = secret_dir("durable");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("hook", 1, NotificationKind::Opened, "t");
    running.log.set_failing(true);
    assert!(running.outbox.enqueue(vec![n.clone()]).await.is_err());
    assert!(running.log.records().is_empty());
    running.log.set_failing(false);
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let first = running.log.records();
    assert_eq!(first[0].outcome, DeliveryOutcome::Queued);
    assert_eq!(first[0].notification.as_ref(), Some(&n), "the queued record carries the notification");
    running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    running.stop().await;
    assert_eq!(ids(&server), std::slice::from_ref(&n.id), "refused once, enqueued again, sent once");
}

#[tokio::test]
async fn a_thread_keeps_its_order_through_retries() {
    let count = AtomicUsize::new(0);
    let server = FakeServer::start(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            FakeResponse::status(500)
        } else {
            FakeResponse::status(200)
        }
    })
    .await;
    let dir = secret_dir("order");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let first = notification("hook", 1, NotificationKind::Opened, "t");
    let second = notification("hook", 2, NotificationKind::Updated, "t");
    running.outbox.enqueue(vec![first.clone(), second.clone()]).await.unwrap();
    running.log.wait_for(PATIENCE, |r| finished(r, &first.id) && finished(r, &second.id)).await;
    running.stop().await;
    assert_eq!(
        ids(&server),
        [first.id.clone(), first.id.clone(), second.id.clone()],
        "the update waits for the opening"
    );
}

#[tokio::test]
async fn a_hung_receiver_delays_neither_another_receiver_nor_the_caller() {
    let hung = FakeServer::start(|_| FakeResponse::Hang).await;
    let fine = FakeServer::start(|_| FakeResponse::status(200)).await;
    let dir = secret_dir("independent");
    let configs = [webhook("hung", &hung.url()), webhook("fine", &fine.url())];
    let running = start(&configs, &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let stuck = notification("hung", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![stuck.clone()]).await.unwrap();
    let batch: Vec<_> = (1..=3).map(|i| notification("fine", i, NotificationKind::Opened, &format!("t{i}"))).collect();
    running.outbox.enqueue(batch.clone()).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| batch.iter().all(|n| finished(r, &n.id))).await;
    assert!(batch.iter().all(|n| outcomes(&records, &n.id) == ["queued", "delivered"]), "{records:#?}");
    assert_eq!(outcomes(&records, &stuck.id), ["queued"], "still in flight");
    assert_eq!(hung.requests().len(), 1);
    // Shutdown does not wait for the hung request either.
    let log = running.stop().await;
    assert_eq!(rebuild(&log.records()).pending.len(), 1, "the hung one is still owed");
}

#[tokio::test]
async fn router_records_and_unknown_receivers_are_logged_not_sent() {
    let server = FakeServer::start(|_| FakeResponse::status(200)).await;
    let dir = secret_dir("record");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let base = notification("hook", 1, NotificationKind::Opened, "t");
    let silenced = DeliveryRecord {
        schema: Schema,
        notification_id: "hook:56701000:heating:20261119T12".into(),
        receiver: "hook".into(),
        group_key: base.group_key.clone(),
        alert_ids: vec![base.alerts[0].id.clone()],
        attempt: 0,
        at: start_time(),
        outcome: DeliveryOutcome::Silenced,
        status_code: 0,
        detail: "silence s-1: planned works".into(),
        next_attempt_at: None,
        message_ids: vec![],
        notification: None,
    };
    running.outbox.record(vec![silenced.clone()]).await.unwrap();
    let stray = notification("nobody", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![stray.clone()]).await.unwrap();
    let log = running.stop().await;
    let records = log.records();
    assert_eq!(records[0], silenced);
    assert_eq!(outcomes(&records, &stray.id), ["failed"]);
    assert!(records[1].detail.contains("no receiver named \"nobody\""));
    assert!(server.requests().is_empty());
    assert!(rebuild(&records).pending.is_empty());
}
