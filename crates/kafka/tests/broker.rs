//! Against a real broker: `scripts/test.sh` starts one and sets `OTKLIK_TEST_KAFKA`. Without it
//! these tests skip (or fail, with `OTKLIK_REQUIRE_SERVICES=1`). Every test uses fresh topic and
//! group names, so they can share one broker and run in parallel.

use otklik_kafka::{KafkaBus, KafkaConfig, TopicSpec, TopicsConfig};
use otklik_pipeline::{Bus, Offsets};
use otklik_testkit::unique_name;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message as _;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(30);

fn bus(brokers: &str) -> KafkaBus {
    KafkaBus::new(KafkaConfig::new(brokers)).expect("valid config")
}

fn spec(name: &str, partitions: i32) -> TopicSpec {
    TopicSpec {
        name: name.into(),
        partitions: Some(partitions),
        replication_factor: None,
        compacted: false,
        config: BTreeMap::new(),
    }
}

/// rdkafka alone, no otklik code: the broker takes a record and hands it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_produce_and_consume_with_rdkafka() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let topic = unique_name("otklik.test.smoke");
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    let delivery = producer
        .send(FutureRecord::to(&topic).key("k").payload("привет, kafka"), Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("delivered");
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", unique_name("smoke"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let message = timeout(WAIT, consumer.recv()).await.expect("a message within 30 s").expect("no consumer error");
    assert_eq!(message.key(), Some(&b"k"[..]));
    assert_eq!(message.payload_view::<str>(), Some(Ok("привет, kafka")));
    assert_eq!((message.partition(), message.offset()), (delivery.partition, delivery.offset));
}

/// Publish 10, commit the first 5 and leave; the group's next member gets exactly the other 5,
/// and after it commits those, a third member gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_messages_are_redelivered_to_the_group() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let bus = bus(&brokers);
    let topic = unique_name("otklik.test.redelivery");
    bus.ensure_topics(&[spec(&topic, 1)]).await.unwrap();
    let publisher = bus.publisher();
    for i in 0..10 {
        publisher.publish(&topic, format!("k{i}").as_bytes(), format!("m{i}").as_bytes()).await.unwrap();
    }
    let group = unique_name("g");

    let mut first = bus.subscribe(&group, &[&topic]).await.unwrap();
    let mut offsets = Offsets::default();
    for i in 0..10 {
        let m = timeout(WAIT, first.recv()).await.expect("message within 30 s").unwrap();
        assert_eq!(m.payload, format!("m{i}").into_bytes());
        assert_eq!(m.key.as_deref(), Some(format!("k{i}").as_bytes()));
        if i < 5 {
            offsets.advance(&m);
        }
    }
    first.commit(&offsets).await.unwrap();
    drop(first);

    let mut second = bus.subscribe(&group, &[&topic]).await.unwrap();
    let mut rest = Offsets::default();
    for i in 5..10 {
        let m = timeout(WAIT, second.recv()).await.expect("redelivery within 30 s").unwrap();
        assert_eq!(m.payload, format!("m{i}").into_bytes(), "redelivered out of order or too much");
        rest.advance(&m);
    }
    assert!(timeout(Duration::from_secs(1), second.recv()).await.is_err(), "more than the 5 uncommitted messages");
    second.commit(&rest).await.unwrap();
    drop(second);

    let mut third = bus.subscribe(&group, &[&topic]).await.unwrap();
    assert!(timeout(Duration::from_secs(3), third.recv()).await.is_err(), "everything was committed");
}

/// Creating DESIGN.md's topics twice is fine, and they come out as configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_bootstrap_is_idempotent() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let prefix = unique_name("otklik.test.boot");
    let d = TopicsConfig::default();
    let topics = TopicsConfig {
        posts_raw: format!("{prefix}.{}", d.posts_raw),
        posts_classified: format!("{prefix}.{}", d.posts_classified),
        posts_series: format!("{prefix}.{}", d.posts_series),
        alerts: format!("{prefix}.{}", d.alerts),
        dlq: format!("{prefix}.{}", d.dlq),
        sources: format!("{prefix}.{}", d.sources),
        cursors: format!("{prefix}.{}", d.cursors),
        source_stats: format!("{prefix}.{}", d.source_stats),
        partitions: Some(3),
        replication_factor: Some(1),
    };
    let bus = KafkaBus::new(KafkaConfig { topics: topics.clone(), ..KafkaConfig::new(&brokers) }).unwrap();
    bus.ensure_default_topics().await.expect("first bootstrap");
    bus.ensure_default_topics().await.expect("second bootstrap is a no-op");

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(10)).unwrap();
    for spec in topics.specs() {
        let topic =
            metadata.topics().iter().find(|t| t.name() == spec.name).unwrap_or_else(|| panic!("{} missing", spec.name));
        assert_eq!(Some(topic.partitions().len() as i32), spec.partitions, "{}", spec.name);
    }
    let names: Vec<String> = topics.specs().into_iter().map(|s| s.name).collect();
    let resources: Vec<_> = names.iter().map(|n| ResourceSpecifier::Topic(n)).collect();
    let configs = admin.describe_configs(&resources, &AdminOptions::new()).await.unwrap();
    for (spec, config) in topics.specs().iter().zip(configs) {
        let config = config.expect("describe_configs");
        let policy = config.get("cleanup.policy").and_then(|e| e.value.clone());
        let want = if spec.compacted { "compact" } else { "delete" };
        assert_eq!(policy.as_deref(), Some(want), "{}", spec.name);
    }
    assert_eq!(topics.specs().iter().filter(|s| s.compacted).count(), 2);
}

/// A record the broker can never take is a non-retryable error, not a hang.
/// The behaviour every bus shares with the in-memory one (otklik_pipeline::conformance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms_to_the_bus_contract() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let bus = bus(&brokers);
    let prefix = unique_name("otklik.test.conformance");
    // Several partitions per topic, so per-partition commit and per-key order are exercised.
    bus.ensure_topics(&[spec(&format!("{prefix}.order"), 3), spec(&format!("{prefix}.redelivery"), 3)]).await.unwrap();
    if let Err(violation) = otklik_pipeline::conformance::run_all(&bus, &prefix).await {
        panic!("KafkaBus breaks the bus contract: {violation}");
    }
}

/// A sink waiting for its destination idles: however long the wait, it keeps its partitions. A
/// member that just stops polling for longer than `max.poll.interval.ms` loses them (the
/// control, so the test proves the interval was really exceeded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idling_subscriber_keeps_its_group_membership() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let short_poll_interval = |brokers: &str| {
        let mut config = KafkaConfig::new(brokers);
        // The smallest the broker allows (group.min.session.timeout.ms), so the test is short.
        config.properties.insert("session.timeout.ms".into(), "6000".into());
        config.properties.insert("max.poll.interval.ms".into(), "8000".into());
        KafkaBus::new(config).unwrap()
    };
    let topic = unique_name("otklik.test.idle");
    let setup = bus(&brokers);
    setup.ensure_topics(&[spec(&topic, 1)]).await.unwrap();
    setup.publisher().publish(&topic, b"k", b"one").await.unwrap();

    let member = |bus: KafkaBus, idle: bool| {
        let topic = topic.clone();
        async move {
            let mut subscriber = bus.subscribe(&unique_name("idle"), &[&topic]).await.unwrap();
            timeout(WAIT, subscriber.recv()).await.expect("the first message").unwrap();
            if idle {
                subscriber.idle(Duration::from_secs(20)).await.unwrap();
            } else {
                tokio::time::sleep(Duration::from_secs(20)).await;
                // The revocation is delivered by a later poll (the first may still return a
                // prefetched message).
                let deadline = tokio::time::Instant::now() + WAIT;
                while bus.revocations() == 0 && tokio::time::Instant::now() < deadline {
                    let _ = timeout(Duration::from_secs(1), subscriber.recv()).await;
                }
            }
            bus.revocations()
        }
    };
    let (idling, stalled) =
        tokio::join!(member(short_poll_interval(&brokers), true), member(short_poll_interval(&brokers), false));
    assert_eq!(idling, 0, "the idling member lost its partitions");
    assert!(stalled >= 1, "the control never exceeded max.poll.interval.ms, so the test proves nothing");
}

/// `init_topics` creates what is missing and names how an existing topic differs from its spec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_creates_missing_topics_and_names_differences() {
    let Some(brokers) = otklik_testkit::kafka() else { return };
    let bus = bus(&brokers);
    let prefix = unique_name("otklik.test.init");
    let topics = TopicsConfig {
        posts_raw: format!("{prefix}.raw"),
        posts_classified: format!("{prefix}.classified"),
        posts_series: format!("{prefix}.series"),
        alerts: format!("{prefix}.alerts"),
        dlq: format!("{prefix}.dlq"),
        sources: format!("{prefix}.sources"),
        cursors: format!("{prefix}.cursors"),
        source_stats: format!("{prefix}.stats"),
        partitions: Some(2),
        replication_factor: None,
    };
    // The sources topic exists already, made by hand: one partition, not compacted.
    bus.ensure_topics(&[spec(&topics.sources, 1)]).await.unwrap();
    let checks = bus.init_topics(&topics.specs()).await.unwrap();
    let created: Vec<&str> = checks.iter().filter(|c| c.created).map(|c| c.name.as_str()).collect();
    assert_eq!(created.len(), 7, "{checks:?}");
    let sources = checks.iter().find(|c| c.name == topics.sources).unwrap();
    assert!(!sources.created);
    assert_eq!(sources.problems.len(), 2, "{:?}", sources.problems);
    assert!(sources.problems[0].starts_with("has 1 partitions, 2 configured"));
    assert!(sources.problems[1].contains("not compact"));
    // A second run creates nothing and finds the created ones as specified.
    let again = bus.init_topics(&topics.specs()).await.unwrap();
    assert!(again.iter().all(|c| !c.created));
    assert_eq!(again.iter().filter(|c| c.problems.is_empty()).count(), 7, "{again:?}");
}
