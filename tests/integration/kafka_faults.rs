//! The classifier stage as a process of its own against a real broker: killed with SIGKILL at
//! random points it loses nothing and its group ends with no lag; poison messages go to the DLQ
//! with their reason while the stage keeps going; and a short run of `otklik bench pipeline`.
//! Every wait is on an observable condition (a count, a record) under a generous deadline.

use super::*;
use otklik_kafka::{KafkaBus, KafkaConfig, TopicsConfig};
use otklik_pipeline::{Bus, CancellationToken, Subscriber};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;

fn topics(name: &str) -> TopicsConfig {
    TopicsConfig {
        posts_raw: format!("{name}.raw"),
        posts_classified: format!("{name}.classified"),
        posts_series: format!("{name}.series"),
        alerts: format!("{name}.alerts"),
        dlq: format!("{name}.dlq"),
        sources: format!("{name}.sources"),
        cursors: format!("{name}.cursors"),
        source_stats: format!("{name}.stats"),
        partitions: Some(PARTITIONS),
        ..TopicsConfig::default()
    }
}

/// The stage's config. A short session timeout, so that the group notices a killed member in
/// seconds rather than librdkafka's default 45 s.
fn stage_config(dir: &Path, kafka: &str, name: &str) -> PathBuf {
    let config = repo().join("config");
    let t = topics(name);
    let path = dir.join("otklik.toml");
    let text = format!(
        "[run]\nmode = \"production\"\ndata_dir = {data:?}\n\n[telemetry]\nlog_level = \"warn\"\n\n\
         [kafka]\nbrokers = {kafka:?}\ngroup_prefix = \"{name}\"\n\
         [kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\
         [kafka.topics]\npartitions = {PARTITIONS}\nposts_raw = {raw:?}\nposts_classified = {classified:?}\n\
         posts_series = {series:?}\nalerts = {alerts:?}\ndlq = {dlq:?}\n\
         sources = {sources:?}\ncursors = {cursors:?}\n\n\
         [classify]\ntopics_dir = {topics:?}\ngazetteer = {gazetteer:?}\n\n\
         [collect]\nsources_file = {demo:?}\nreplay_dir = {feeds:?}\n",
        data = dir.join("data"),
        raw = t.posts_raw,
        classified = t.posts_classified,
        series = t.posts_series,
        alerts = t.alerts,
        dlq = t.dlq,
        sources = t.sources,
        cursors = t.cursors,
        topics = config.join("topics"),
        gazetteer = config.join("gazetteer/gazetteer.tsv"),
        demo = config.join("demo/sources.toml"),
        feeds = config.join("demo/feeds"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A bus on the test's topics (created with the stage's partition count before anything is
/// published), whose producer takes values up to 10 MB (a poison message's size).
fn test_bus(runtime: &tokio::runtime::Runtime, kafka: &str, name: &str) -> KafkaBus {
    let mut config = KafkaConfig::new(kafka);
    config.topics = topics(name);
    config.properties.insert("message.max.bytes".into(), "10000000".into());
    let bus = KafkaBus::new(config).unwrap();
    runtime.block_on(bus.ensure_default_topics()).unwrap();
    bus
}

fn raw_post(uid: &str, text: &str) -> String {
    serde_json::json!({
        "schema": 1, "uid": uid, "platform": "telegram", "source_id": "tg-fault-check",
        "published_at": "2026-11-20T08:00:00Z", "collected_at": "2026-11-20T09:00:00Z", "text": text,
    })
    .to_string()
}

/// Publishes `records` (key, value) concurrently, a chunk at a time.
fn publish_all(runtime: &tokio::runtime::Runtime, bus: &KafkaBus, topic: &str, records: &[(String, Vec<u8>)]) {
    let publisher = bus.publisher();
    runtime.block_on(async {
        for chunk in records.chunks(5_000) {
            let sends = chunk.iter().map(|(key, value)| publisher.publish(topic, key.as_bytes(), value));
            for result in futures_util::future::join_all(sends).await {
                result.unwrap();
            }
        }
    });
}

/// A consumer of its own group on `topic`, in the background: every key it sees and how many
/// messages (duplicates included).
struct Observer {
    keys: Arc<Mutex<HashSet<String>>>,
    messages: Arc<AtomicU64>,
    records: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Observer {
    fn start(kafka: &str, group: &str, topic: &str, keep_payloads: bool) -> Observer {
        let keys: Arc<Mutex<HashSet<String>>> = Arc::default();
        let messages: Arc<AtomicU64> = Arc::default();
        let records: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let stop = CancellationToken::new();
        let mut config = KafkaConfig::new(kafka);
        config.properties.insert("fetch.max.bytes".into(), "20000000".into());
        let (k, m, r, s) = (keys.clone(), messages.clone(), records.clone(), stop.clone());
        let (group, topic) = (group.to_owned(), topic.to_owned());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                // rdkafka's stream consumer needs the runtime it runs on.
                let mut subscriber = KafkaBus::new(config).unwrap().subscriber(&group, &[&topic]).unwrap();
                loop {
                    let message = tokio::select! {
                        _ = s.cancelled() => return,
                        message = subscriber.recv() => message.unwrap(),
                    };
                    k.lock().unwrap().insert(message.key_str().unwrap_or_default());
                    if keep_payloads {
                        r.lock().unwrap().push(message.payload);
                    }
                    m.fetch_add(1, Ordering::Relaxed);
                }
            });
        });
        Observer { keys, messages, records, stop, thread: Some(thread) }
    }

    fn distinct(&self) -> usize {
        self.keys.lock().unwrap().len()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until `done()` holds; panics with `what` after `limit` (a guard against a hang, not a
/// pace), or when `stage` has exited.
fn wait_until(
    what: &str,
    limit: Duration,
    config: &Path,
    stage: &mut std::process::Child,
    mut done: impl FnMut() -> bool,
) {
    let started = Instant::now();
    let log = || std::fs::read_to_string(stage_log(config)).unwrap_or_default();
    while !done() {
        if let Ok(Some(status)) = stage.try_wait() {
            panic!("the classify-stage process exited ({status}) while waiting for {what}:\n{}", log());
        }
        assert!(started.elapsed() < limit, "no {what} after {limit:?}:\n{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `otklik classify-stage`, its stderr appended to `stage.log` next to the config.
fn classify_stage(config: &Path) -> std::process::Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(stage_log(config)).unwrap();
    otklik()
        .arg("classify-stage")
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn stage_log(config: &Path) -> PathBuf {
    config.with_file_name("stage.log")
}

/// SplitMix64: the kill points are random, and the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// SIGTERM: the stage finishes its batch and commits; it must exit cleanly.
fn terminate(mut stage: std::process::Child) {
    std::process::Command::new("kill").arg("-TERM").arg(stage.id().to_string()).status().unwrap();
    assert!(stage.wait().unwrap().success(), "classify-stage did not stop cleanly on SIGTERM");
}

/// The group `group` has committed everything on `topic`: after new markers are published, the
/// first messages a member of that group reads are the markers (anything left uncommitted would
/// come first in its partition). The markers' keys spread over every partition.
fn assert_no_lag(runtime: &tokio::runtime::Runtime, bus: &KafkaBus, kafka: &str, group: &str, topic: &str) {
    let markers: Vec<(String, Vec<u8>)> = (0..64).map(|i| (format!("tg:lag_marker:{i}"), b"marker".to_vec())).collect();
    publish_all(runtime, bus, topic, &markers);
    runtime.block_on(async {
        let mut subscriber = KafkaBus::new(KafkaConfig::new(kafka)).unwrap().subscriber(group, &[topic]).unwrap();
        let mut seen = HashSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while seen.len() < markers.len() {
            let message =
                tokio::time::timeout_at(deadline, subscriber.recv()).await.expect("the markers arrive").unwrap();
            let key = message.key_str().unwrap_or_default();
            assert!(
                key.starts_with("tg:lag_marker:"),
                "group {group} still had {key} uncommitted at offset {}",
                message.offset
            );
            seen.insert(key);
        }
    });
}

fn dlq_records(runtime: &tokio::runtime::Runtime, bus: &KafkaBus, dlq: &str) -> Vec<otklik_model::DlqRecord> {
    let table = runtime.block_on(bus.table(dlq)).unwrap();
    table.values().map(|v| serde_json::from_slice(v).unwrap()).collect()
}

#[test]
fn the_classifier_killed_three_times_loses_no_post_and_ends_with_no_lag() {
    let Some(kafka) = otklik_testkit::kafka() else { return };
    const POSTS: u64 = 100_000;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = otklik_testkit::unique_name("otklik_crash");
    let config = stage_config(dir.path(), &kafka, &name);
    let bus = test_bus(&runtime, &kafka, &name);
    let t = topics(&name);
    let streets = ["Мира", "Ленина", "Кирова", "Московская", "Лермонтова"];
    let records: Vec<(String, Vec<u8>)> = (0..POSTS)
        .map(|i| {
            let uid = format!("tg:crash_check:{i}");
            let street = streets[(i % 5) as usize];
            let text = format!("В доме {} по улице {street} нет отопления третий день", i % 300);
            let value = raw_post(&uid, &text).into_bytes();
            (uid, value)
        })
        .collect();
    publish_all(&runtime, &bus, &t.posts_raw, &records);
    let observer = Observer::start(&kafka, &format!("{name}-observer"), &t.posts_classified, false);

    let mut rng = SplitMix(11);
    let mut kill_points: Vec<u64> = (0..3).map(|_| POSTS / 10 + rng.below(POSTS * 8 / 10)).collect();
    kill_points.sort_unstable();
    let mut stage = classify_stage(&config);
    for &point in &kill_points {
        wait_until(&format!("{point} classified messages"), Duration::from_secs(180), &config, &mut stage, || {
            observer.messages.load(Ordering::Relaxed) >= point
        });
        stage.kill().unwrap();
        stage.wait().unwrap();
        stage = classify_stage(&config);
    }
    wait_until("every uid classified", Duration::from_secs(180), &config, &mut stage, || {
        observer.distinct() as u64 == POSTS
    });
    terminate(stage);

    let keys = observer.keys.lock().unwrap().clone();
    let missing: Vec<&(String, Vec<u8>)> = records.iter().filter(|(uid, _)| !keys.contains(uid)).take(5).collect();
    assert!(missing.is_empty(), "lost: {:?}", missing.iter().map(|(uid, _)| uid).collect::<Vec<_>>());
    assert!(dlq_records(&runtime, &bus, &t.dlq).is_empty(), "nothing belongs in the DLQ");
    assert_no_lag(&runtime, &bus, &kafka, &format!("{name}-classify"), &t.posts_raw);
    eprintln!(
        "killed at {kill_points:?} classified messages; {} messages for {POSTS} uids",
        observer.messages.load(Ordering::Relaxed)
    );
}

#[test]
fn poison_messages_go_to_the_dlq_with_their_reason_and_the_stage_goes_on() {
    let Some(kafka) = otklik_testkit::kafka() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = otklik_testkit::unique_name("otklik_poison");
    let config = stage_config(dir.path(), &kafka, &name);
    let bus = test_bus(&runtime, &kafka, &name);
    let t = topics(&name);
    let schema_2 = raw_post("tg:poison:schema2", "нет отопления").replace("\"schema\":1", "\"schema\":2");
    assert!(schema_2.contains("\"schema\":2"));
    // 5 MB of a resident's text: it classifies, but its classified record is larger than the
    // broker takes (it reached the raw topic compressed).
    let phrase = "Во дворе не убирают снег, ";
    let huge = raw_post("tg:poison:huge", &phrase.repeat((5 << 20) / phrase.len()));
    assert!(huge.len() >= 5 << 20, "{}", huge.len());
    let mut records = vec![
        ("tg:poison:not_json".to_owned(), b"{this is not json".to_vec()),
        ("tg:poison:schema2".to_owned(), schema_2.into_bytes()),
        ("tg:poison:huge".to_owned(), huge.into_bytes()),
    ];
    let after: Vec<String> = (0..20).map(|i| format!("tg:poison_after:{i}")).collect();
    let light = "В подъезде не горит свет";
    records.extend(after.iter().map(|uid| (uid.clone(), raw_post(uid, light).into_bytes())));
    publish_all(&runtime, &bus, &t.posts_raw, &records);

    let classified = Observer::start(&kafka, &format!("{name}-observer"), &t.posts_classified, false);
    let dead = Observer::start(&kafka, &format!("{name}-dlq-observer"), &t.dlq, true);
    let mut stage = classify_stage(&config);
    wait_until("the three dead letters", Duration::from_secs(180), &config, &mut stage, || dead.distinct() >= 3);
    wait_until("the posts after the poison", Duration::from_secs(180), &config, &mut stage, || {
        let keys = classified.keys.lock().unwrap();
        after.iter().all(|uid| keys.contains(uid))
    });
    terminate(stage);

    let letters: Vec<otklik_model::DlqRecord> =
        dead.records.lock().unwrap().iter().map(|r| serde_json::from_slice(r).unwrap()).collect();
    let reason = |key: &str| {
        let letter = letters
            .iter()
            .find(|l| l.key.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no dead letter for {key}"));
        assert_eq!((letter.stage.as_str(), letter.topic.as_str()), ("classify", t.posts_raw.as_str()));
        letter.error.clone()
    };
    let not_json = reason("tg:poison:not_json");
    assert!(not_json.contains("invalid JSON for RawPost"), "{not_json}");
    let schema = reason("tg:poison:schema2");
    assert!(schema.contains("unsupported schema version 2"), "{schema}");
    let huge = reason("tg:poison:huge");
    assert!(huge.contains("refused by the bus") && huge.contains("truncated"), "{huge}");
    assert!(
        !classified.keys.lock().unwrap().iter().any(|k| k.starts_with("tg:poison:")),
        "a poison message was classified"
    );
}

#[test]
fn a_short_pipeline_bench_runs_and_reports_its_figures() {
    let Some(kafka) = otklik_testkit::kafka() else { return };
    let output = run(otklik().args([
        "bench",
        "pipeline",
        "--duration",
        "2s",
        "--partitions",
        "2",
        "--max-lag",
        "5000",
        "--kafka",
        &kafka,
    ]));
    let text = stdout(&output);
    assert!(output.status.success(), "{}\n{}", text, stderr(&output));
    assert!(text.contains("compression.type=lz4") && text.contains("linger.ms="), "{text}");
    for scenario in ["transport", "classify"] {
        let row =
            text.lines().find(|l| l.starts_with(scenario)).unwrap_or_else(|| panic!("no {scenario} row in\n{text}"));
        let rate: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(rate > 0.0, "{row}");
    }
    assert!(text.contains("0 dead-lettered") && !text.contains("did not catch up"), "{text}");
}

#[test]
fn the_pipeline_bench_runs_each_stage_as_a_process_of_its_own() {
    let Some(kafka) = otklik_testkit::kafka() else { return };
    let args = ["bench", "pipeline", "--processes", "--scenario", "transport", "--duration", "2s"];
    let limits = ["--partitions", "2", "--max-lag", "2000", "--max-posts", "3000", "--kafka", &kafka];
    let output = run(otklik().args(args).args(limits));
    let text = stdout(&output);
    assert!(output.status.success(), "{}\n{}", text, stderr(&output));
    assert!(text.contains("posts published 3000, written by the sink 3000"), "{text}");
    assert!(text.contains("0 dead-lettered") && !text.contains("did not catch up"), "{text}");
    // One row per process in the table: the feed, then each stage process with its own RSS.
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("transport ")).collect();
    for process in ["bench (the feed)", "otklik bench stage passthrough", "otklik bench stage count"] {
        let row = rows.iter().find(|r| r.contains(process)).unwrap_or_else(|| panic!("no {process} row in\n{text}"));
        let rss: f64 = row.rsplit(')').next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(rss > 0.0, "{row}");
        // No stage process outlives the bench.
        if let Some((_, pid)) = row.split_once("(pid ") {
            let pid = pid.split(')').next().unwrap();
            assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} left running");
        }
    }
    // The stage processes' configs (named after the run's topics) are gone with them.
    let run = text.split("topics ").nth(1).and_then(|t| t.split(".*").next()).expect("the run's topics");
    let run = run.replace('-', "_");
    let mut generated = std::fs::read_dir(repo().join("config")).unwrap().flatten();
    assert!(generated.all(|e| !e.file_name().to_string_lossy().contains(&run)), "{run}");
}
