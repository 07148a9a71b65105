//! Alert delivery end to end: the demo's alerts reach its webhook sink signed and grouped, and
//! notifications left in the outbox by a killed run are delivered once by the next.

use super::*;
use otklik_testkit::fake_http::{FakeResponse, FakeServer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn the_demo_delivers_its_alerts_to_the_local_webhook_sink() {
    let data = tempfile::tempdir().unwrap();
    let output = run(otklik().args(["run", "--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", data.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stdout(&output);
    let received = store_rows(&data.path().join("received"));
    assert!(!received.is_empty(), "nothing received:\n{summary}");
    assert!(received.iter().all(|r| r["signature_valid"] == true), "{received:?}");
    let ids: BTreeSet<&str> = received.iter().map(|r| r["webhook_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), received.len(), "each notification received once");
    let line = format!("demo-webhook: {} delivered · 0 left in the outbox", received.len());
    assert!(summary.contains(&line), "{line:?} not in:\n{summary}");
    // The Кузнецк heating burst: one thread opened, then resolved, with the alert and its incidents.
    let heating: Vec<&serde_json::Value> =
        received.iter().map(|r| &r["body"]).filter(|b| b["group_key"] == "region:heating").collect();
    assert_eq!(heating.first().map(|b| b["kind"].as_str()), Some(Some("opened")), "{heating:?}");
    assert_eq!(heating.last().map(|b| b["kind"].as_str()), Some(Some("resolved")), "{heating:?}");
    let opened = &heating[0]["alerts"];
    let kuzneck =
        opened.as_array().unwrap().iter().find(|a| a["municipality"] == "56705000").expect("the Кузнецк alert");
    assert!(!kuzneck["top_incidents"].as_array().unwrap().is_empty(), "{kuzneck}");
    assert_eq!(heating.iter().map(|b| b["thread"].as_str()).collect::<BTreeSet<_>>().len(), 1, "one thread");
    // The delivery log: every notification queued then delivered, the local alerts recorded as
    // inhibited by their regional group.
    let log = store_rows(&data.path().join("alert_deliveries"));
    let outcomes = |o: &str| log.iter().filter(|r| r["outcome"] == o).count();
    assert_eq!(outcomes("queued"), received.len());
    assert_eq!(outcomes("delivered"), received.len());
    assert!(outcomes("inhibited") > 0, "{log:?}");
}

/// A webhook that refuses (503, retry in 1 s) until `accept` is set; every request is kept.
fn webhook(runtime: &tokio::runtime::Runtime, accept: Arc<AtomicBool>) -> FakeServer {
    runtime.block_on(FakeServer::start(move |_| {
        if accept.load(Ordering::SeqCst) {
            FakeResponse::status(204)
        } else {
            FakeResponse::status(503).with_header("Retry-After", "1")
        }
    }))
}

#[cfg(unix)]
#[test]
fn notifications_left_in_the_outbox_by_a_killed_run_are_delivered_once_after_a_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let accept = Arc::new(AtomicBool::new(false));
    let server = webhook(&runtime, accept.clone());
    let demo = std::fs::read_to_string(repo().join("config/demo.toml")).unwrap();
    let cut = demo.find("\n[alerts.local_receiver]").unwrap();
    let config_text = demo[..cut].replace("http://127.0.0.1/hooks/alerts", &format!("{}/hooks/alerts", server.url()));
    let config = repo().join("config").join(format!("demo-outbox-{}.toml", std::process::id()));
    std::fs::write(&config, config_text).unwrap();
    let _cleanup = RemoveOnDrop(config.clone());
    let data = tempfile::tempdir().unwrap();
    let start = || {
        let mut command = otklik();
        command.arg("run").arg("--config").arg(&config).env("OTKLIK_DATA_DIR", data.path());
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
    };

    // The first run queues its notifications and is refused; it is killed once the first of every
    // thread has been tried (a thread's next waits for it; a guard against a hang, not a pace:
    // the run waits for its deliveries).
    let mut first = start();
    let queued_rows =
        || store_rows(&data.path().join("alert_deliveries")).into_iter().filter(|r| r["outcome"] == "queued");
    let queued = || queued_rows().count();
    // A stored row holds the notification as its JSON text.
    let thread = |r: serde_json::Value| {
        let notification: serde_json::Value = serde_json::from_str(r["notification"].as_str().unwrap()).unwrap();
        notification["thread"].as_str().unwrap().to_owned()
    };
    let threads = || queued_rows().map(thread).collect::<BTreeSet<_>>();
    let tried = |server: &FakeServer| {
        let body =
            |r: &otklik_testkit::fake_http::FakeRequest| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap();
        server.requests().iter().map(|r| body(r)["thread"].as_str().unwrap().to_owned()).collect::<BTreeSet<_>>()
    };
    let started = Instant::now();
    while queued() == 0 || tried(&server) != threads() {
        assert!(started.elapsed() < Duration::from_secs(120), "the first run never tried every notification");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let owed = queued();
    let log = store_rows(&data.path().join("alert_deliveries"));
    assert!(!log.iter().any(|r| r["outcome"] == "delivered"), "nothing was delivered before the kill");

    accept.store(true, Ordering::SeqCst);
    let refused = server.requests().len();
    let second = start().wait_with_output().unwrap();
    assert!(second.status.success());
    let accepted: Vec<String> = server.requests()[refused..].iter().map(|r| r.headers["webhook-id"].clone()).collect();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    accepted.iter().for_each(|id| *times.entry(id).or_default() += 1);
    assert!(times.values().all(|n| *n == 1), "a notification was delivered twice: {times:?}");
    assert_eq!(times.len(), owed, "every notification owed was delivered: {times:?}");
    let log = store_rows(&data.path().join("alert_deliveries"));
    assert_eq!(log.iter().filter(|r| r["outcome"] == "queued").count(), owed, "the second run queued nothing again");
    assert_eq!(log.iter().filter(|r| r["outcome"] == "delivered").count(), owed);
    drop(server);
}
