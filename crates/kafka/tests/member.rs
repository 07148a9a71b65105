//! The collector fleet's group member against a real broker (`OTKLIK_TEST_KAFKA`; skips without):
//! records of the assigned partitions arrive (tombstones as `None`), and partitions move to a
//! new member only after their owner confirmed the revocation.

use otklik_kafka::member::{Deliver, MemberEvent, MemberSpec, TableMember};
use otklik_kafka::{KafkaBus, KafkaConfig, TopicSpec};
use otklik_testkit::unique_name;
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A guard against a hang, not a pace.
const PATIENCE: Duration = Duration::from_secs(60);

/// Events as they arrive, each with its time; revocations are confirmed `confirm_after` later.
fn member(
    bus: &KafkaBus,
    group: &str,
    topic: &str,
    instance: &str,
    confirm_after: Duration,
) -> (TableMember, Receiver<(Instant, MemberEvent)>) {
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    let deliver: Deliver = Arc::new(move |event| {
        let confirm = match &event {
            MemberEvent::Revoked { done, .. } => Some(done.clone()),
            _ => None,
        };
        let delivered = tx.lock().unwrap().send((Instant::now(), event)).is_ok();
        if let Some(done) = confirm {
            std::thread::spawn(move || {
                std::thread::sleep(confirm_after);
                let _ = done.send(());
            });
        }
        delivered
    });
    let spec = MemberSpec { group: group.into(), topic: topic.into(), instance_id: Some(instance.into()) };
    (bus.join_table_group(spec, deliver).unwrap(), rx)
}

/// The next event `matches` accepts, skipping others.
fn next(
    rx: &Receiver<(Instant, MemberEvent)>,
    what: &str,
    matches: impl Fn(&MemberEvent) -> bool,
) -> (Instant, MemberEvent) {
    let started = Instant::now();
    loop {
        let left = PATIENCE.checked_sub(started.elapsed()).unwrap_or_else(|| panic!("no {what}"));
        let (at, event) = rx.recv_timeout(left).unwrap_or_else(|_| panic!("no {what}"));
        if matches(&event) {
            return (at, event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_move_only_after_their_owner_confirms() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let mut config = KafkaConfig::new(&brokers);
    config.properties.insert("session.timeout.ms".into(), "6000".into());
    let bus = KafkaBus::new(config).unwrap();
    let topic = unique_name("otklik.test.sources");
    let spec = TopicSpec {
        name: topic.clone(),
        partitions: Some(2),
        replication_factor: None,
        compacted: true,
        config: BTreeMap::new(),
    };
    bus.ensure_topics(&[spec]).await.unwrap();
    let publisher = bus.kafka_publisher();
    for id in ["a", "b", "c", "d"] {
        publisher.send(&topic, id.as_bytes(), format!("{{\"id\":\"{id}\"}}").as_bytes()).await.unwrap();
    }
    publisher.delete(&topic, b"d").await.unwrap();
    let group = unique_name("otklik-test-collect");

    let slow = Duration::from_secs(2);
    let (first, first_events) = member(&bus, &group, &topic, "first", slow);
    let (_, assigned) =
        next(&first_events, "first assignment", |e| matches!(e, MemberEvent::Assigned(p) if p.len() == 2));
    assert!(matches!(assigned, MemberEvent::Assigned(p) if p == [0, 1]));
    let mut seen = BTreeMap::new();
    while seen.len() < 4 || seen.get("d") != Some(&None) {
        let (_, record) = next(&first_events, "records", |e| matches!(e, MemberEvent::Record { .. }));
        if let MemberEvent::Record { key, value, .. } = record {
            seen.insert(String::from_utf8(key).unwrap(), value.map(|v| String::from_utf8(v).unwrap()));
        }
    }
    assert_eq!(seen["a"].as_deref(), Some("{\"id\":\"a\"}"));

    // A second member joins: the first is revoked, confirms 2 s later, and only then does any
    // member get partitions again.
    let (second, second_events) = member(&bus, &group, &topic, "second", Duration::ZERO);
    let (revoked_at, _) = next(&first_events, "revocation", |e| matches!(e, MemberEvent::Revoked { .. }));
    let (given_at, _) =
        next(&second_events, "second assignment", |e| matches!(e, MemberEvent::Assigned(p) if !p.is_empty()));
    assert!(
        given_at >= revoked_at + slow,
        "partitions moved {:?} after the revocation, before its confirmation",
        given_at - revoked_at
    );
    let (again_at, _) =
        next(&first_events, "first reassignment", |e| matches!(e, MemberEvent::Assigned(p) if !p.is_empty()));
    assert!(again_at >= revoked_at + slow);
    let leave = tokio::task::spawn_blocking(move || (first.leave(), second.leave()));
    let (first, second) = leave.await.unwrap();
    first.unwrap();
    second.unwrap();
}
