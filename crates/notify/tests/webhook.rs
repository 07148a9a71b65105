//! The webhook receiver against a fake endpoint on 127.0.0.1: Standard Webhooks headers and
//! signature, retries, `Retry-After`, 410, and how other statuses end.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use otklik_model::{DeliveryOutcome, NotificationKind};
use otklik_notify::MemoryDeliveryLog;
use otklik_testkit::fake_http::{FakeResponse, FakeServer};
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The specification's recipe, recomputed here: base64-decode the part after `whsec_`, HMAC-SHA256
/// over `{id}.{timestamp}.{body}`, base64, prefixed `v1,`.
fn expected_signature(id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD.decode(SECRET.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A server answering `script[n]` to its n-th request (the last one from then on).
async fn scripted(script: Vec<FakeResponse>) -> FakeServer {
    let count = AtomicUsize::new(0);
    FakeServer::start(move |_| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        script[n.min(script.len() - 1)].clone()
    })
    .await
}

#[tokio::test]
async fn the_signature_verifies_by_the_specification_recipe() {
    let server = scripted(vec![FakeResponse::status(204)]).await;
    let dir = secret_dir("sign");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("hook", 1, NotificationKind::Opened, "56701000:20261119T1500");
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    assert_eq!(outcomes(&records, &n.id), ["queued", "delivered"]);
    let request = &server.requests()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/hook"));
    assert_eq!(request.header("webhook-id"), Some(n.id.as_str()));
    let timestamp = request.header("webhook-timestamp").unwrap();
    assert_eq!(timestamp, start_time().timestamp().to_string());
    let signature = request.header("webhook-signature").unwrap();
    assert_eq!(signature, expected_signature(&n.id, timestamp, &request.body));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["version"], "1");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["kind"], "opened");
    assert_eq!(body["group_key"], "56701000");
    assert_eq!(body["notification_id"], n.id.as_str());
    assert_eq!(body["alerts"][0]["id"], n.alerts[0].id.as_str());
    assert_eq!(running.outbox.metrics()["hook"].delivered, 1);
    let receivers = otklik_notify::Receiver::from_configs(&[webhook("hook", &server.url())], &dir).unwrap();
    let shown = format!("{receivers:?}");
    assert!(!shown.contains("url-token") && !shown.contains("MfKQ9r8"), "{shown}");
    running.stop().await;
}

#[tokio::test]
async fn retries_reuse_the_webhook_id_and_honour_retry_after() {
    let server = scripted(vec![
        FakeResponse::status(503).with_header("Retry-After", "120"),
        FakeResponse::status(429).with_header("Retry-After", "Thu, 19 Nov 2026 15:05:00 GMT"),
        FakeResponse::status(500),
        FakeResponse::status(200),
    ])
    .await;
    let dir = secret_dir("retry");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("hook", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    assert_eq!(outcomes(&records, &n.id), ["queued", "retry", "retry", "retry", "delivered"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.header("webhook-id") == Some(n.id.as_str())), "the same id on every retry");
    let stamps: Vec<i64> = requests.iter().map(|r| r.header("webhook-timestamp").unwrap().parse().unwrap()).collect();
    let t0 = start_time().timestamp();
    assert_eq!(stamps[..3], [t0, t0 + 120, t0 + 300], "Retry-After in seconds, then as an HTTP date");
    assert!(stamps[3] > stamps[2], "the 500 got a backoff");
    // Each attempt is signed for its own timestamp.
    for r in &requests {
        let signature = r.header("webhook-signature").unwrap();
        assert_eq!(signature, expected_signature(&n.id, r.header("webhook-timestamp").unwrap(), &r.body));
    }
    let retry = &records[1];
    assert_eq!((retry.attempt, retry.status_code), (1, 503));
    assert_eq!(retry.next_attempt_at, Some(start_time() + chrono::Duration::seconds(120)));
    assert!(!retry.detail.contains("url-token") && !retry.detail.contains("/hook"), "{}", retry.detail);
    let counts = running.outbox.metrics()["hook"];
    assert_eq!((counts.retried, counts.delivered), (3, 1));
    running.stop().await;
}

#[tokio::test]
async fn gone_disables_the_receiver() {
    let server = scripted(vec![FakeResponse::status(410)]).await;
    let dir = secret_dir("gone");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let first = notification("hook", 1, NotificationKind::Opened, "a");
    let second = notification("hook", 2, NotificationKind::Opened, "b");
    running.outbox.enqueue(vec![first.clone(), second.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &first.id) && finished(r, &second.id)).await;
    assert_eq!(outcomes(&records, &first.id), ["queued", "disabled"]);
    assert_eq!(outcomes(&records, &second.id), ["queued", "disabled"]);
    assert!(running.outbox.metrics()["hook"].disabled);
    let third = notification("hook", 3, NotificationKind::Opened, "c");
    running.outbox.enqueue(vec![third.clone()]).await.unwrap();
    assert_eq!(outcomes(&running.log.records(), &third.id), ["disabled"], "nothing is queued for a disabled receiver");
    let log = running.stop().await;
    assert_eq!(server.requests().len(), 1, "one request, then nothing more");
    assert!(log.records().iter().all(|r| r.outcome != DeliveryOutcome::Retry));
}

#[tokio::test]
async fn other_client_errors_fail_at_once() {
    let server = scripted(vec![FakeResponse::status(400), FakeResponse::status(200)]).await;
    let dir = secret_dir("fail");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("hook", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    assert_eq!(outcomes(&records, &n.id), ["queued", "failed"]);
    assert_eq!(records[1].status_code, 400);
    assert_eq!(running.outbox.metrics()["hook"].failed, 1);
    running.stop().await;
}

#[tokio::test]
async fn backoff_is_jittered_exponential_capped_at_six_hours_then_gives_up() {
    let server = scripted(vec![FakeResponse::status(502)]).await;
    let dir = secret_dir("backoff");
    let running = start(&[webhook("hook", &server.url())], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("hook", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    let outcomes = outcomes(&records, &n.id);
    assert_eq!(outcomes.last(), Some(&"failed"), "given up within a day: {outcomes:?}");
    let waits = running.clock.waits();
    let six_hours = Duration::from_secs(6 * 3600);
    assert!(waits.iter().all(|w| *w <= six_hours), "{waits:?}");
    assert!(waits[0] >= Duration::from_secs(5) && waits[0] <= Duration::from_secs(10), "{waits:?}");
    assert!(waits.iter().any(|w| *w >= six_hours / 2), "the cap is reached: {waits:?}");
    let total: Duration = waits.iter().sum();
    assert!(total <= Duration::from_secs(24 * 3600), "{total:?}");
    assert_eq!(server.requests().len(), outcomes.len() - 1);
    running.stop().await;
}

#[tokio::test]
async fn a_request_that_times_out_is_retried() {
    let server = FakeServer::start(|_| FakeResponse::Hang).await;
    let dir = secret_dir("timeout");
    let mut config = webhook("hook", &server.url());
    let otklik_notify::ReceiverConfig::Webhook(hook) = &mut config else { unreachable!() };
    hook.timeout = Duration::from_secs(1);
    let running = start(&[config], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("hook", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| r.iter().any(|r| r.outcome == DeliveryOutcome::Retry)).await;
    let retry = records.iter().find(|r| r.outcome == DeliveryOutcome::Retry).unwrap();
    assert_eq!(retry.status_code, 0);
    assert!(retry.detail.contains("timed out"), "{}", retry.detail);
    assert!(!retry.detail.contains("url-token"), "{}", retry.detail);
    running.stop().await;
}
