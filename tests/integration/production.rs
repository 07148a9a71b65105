//! The production wiring against the real Kafka and ClickHouse that scripts/test.sh starts: the
//! demo replayed through Kafka lands in ClickHouse, and the embedded store loads into ClickHouse
//! with one command.

use super::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A plain HTTP query to ClickHouse (no client library: this checks what analysts would see).
/// Posts and comments in the demo feeds (`config/demo/README.md`).
const DEMO_POSTS: u64 = 453;

pub(crate) fn clickhouse_query(url: &str, sql: &str) -> String {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect to ClickHouse");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sql}",
        sql.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{sql}: {response}");
    // Chunked encoding: keep only the data lines.
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body.split("\r\n").enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, l)| l).collect::<String>().trim().to_owned()
    } else {
        body.trim().to_owned()
    }
}

pub(crate) fn production_config(dir: &Path, kafka: &str, clickhouse: &str, name: &str) -> PathBuf {
    let config = repo().join("config");
    let path = dir.join("otklik.toml");
    std::fs::write(
        &path,
        format!(
            r#"[run]
mode = "production"
data_dir = {data:?}

[telemetry]
log_level = "warn"

[kafka]
brokers = {kafka:?}
group_prefix = "{name}"
[kafka.topics]
posts_raw = "{name}.raw"
posts_classified = "{name}.classified"
posts_series = "{name}.series"
alerts = "{name}.alerts"
dlq = "{name}.dlq"
sources = "{name}.sources"
cursors = "{name}.cursors"
source_stats = "{name}.stats"

[clickhouse]
url = {clickhouse:?}
database = "{name}"

[sink]
batch_rows = 1000
batch_wait = "200ms"

[classify]
topics_dir = {topics:?}
gazetteer = {gazetteer:?}

[collect]
sources_file = {sources:?}
replay_dir = {feeds:?}

[alert]
calendar_dir = {calendar:?}
# A live stage evaluates at every boundary; a test cannot wait out 15 minutes.
evaluate_every = "1m"
"#,
            data = dir.join("data"),
            topics = config.join("topics"),
            gazetteer = config.join("gazetteer/gazetteer.tsv"),
            sources = config.join("demo/sources.toml"),
            feeds = config.join("demo/feeds"),
            calendar = config.join("calendar"),
        ),
    )
    .unwrap();
    path
}

pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

#[test]
fn the_demo_replayed_through_kafka_lands_in_clickhouse() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_e2e");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    let check = run(otklik().arg("check-config").arg(&config));
    assert!(check.status.success(), "{}", stderr(&check));

    let mut running = Running::start(&config);
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS);
    running.stop();
    let platforms = clickhouse_query(
        &clickhouse,
        &format!("SELECT platform, count() FROM {name}.posts FINAL GROUP BY platform ORDER BY platform"),
    );
    assert_eq!(platforms.replace('\t', " "), "ok 66\ntelegram 93\nvk 294");
    let heating =
        clickhouse_query(&clickhouse, &format!("SELECT count() FROM {name}.posts FINAL WHERE has(topics, 'heating')"));
    assert!(heating.parse::<u32>().unwrap() > 10, "{heating}");
    clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}

#[test]
fn the_embedded_store_loads_into_clickhouse_with_one_command_and_reports() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    assert!(run(otklik().args(["run", "--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", &data)).status.success());
    let name = unique("otklik_load");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    for _ in 0..2 {
        let output = run(otklik().args(["clickhouse", "load"]).arg(&data).arg("--config").arg(&config));
        assert!(output.status.success(), "{}", stderr(&output));
        // Each post the alert stage linked is there twice: as classified, and linked.
        let rows =
            stdout(&output).lines().find_map(|l| l.strip_prefix("posts: ")?.split(' ').next()?.parse::<u64>().ok());
        assert!(rows.is_some_and(|n| n > DEMO_POSTS), "{}", stdout(&output));
    }
    assert_eq!(
        clickhouse_query(&clickhouse, &format!("SELECT count() FROM {name}.posts FINAL")),
        DEMO_POSTS.to_string(),
        "loading twice keeps one version of each post"
    );
    let report = run(otklik().args(["report", "--since", "3650d", "--config"]).arg(&config));
    assert!(report.status.success(), "{}", stderr(&report));
    let table = stdout(&report);
    assert!(table.contains("municipality") && table.contains("heating"), "{table}");
    clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}

/// Polls ClickHouse until `{name}.posts` holds `rows` posts (a guard of minutes against a hang,
/// not a pace).
fn wait_for_posts(clickhouse: &str, name: &str, rows: u64, child: &mut std::process::Child) {
    let started = Instant::now();
    let mut stored = String::new();
    while started.elapsed() < Duration::from_secs(240) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("otklik run exited early ({status})");
        }
        if clickhouse_query(clickhouse, &format!("EXISTS TABLE {name}.posts")) == "1" {
            stored = clickhouse_query(clickhouse, &format!("SELECT count() FROM {name}.posts FINAL"));
            if stored == rows.to_string() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{stored} of {rows} posts in ClickHouse after {:?}", started.elapsed());
}

/// `otklik run` in the background, its stderr lines collected with the time each arrived.
struct Running {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
}

impl Running {
    fn start(config: &Path) -> Running {
        Running::command("run", config)
    }

    /// `otklik <command> --config <config>` (`run`, or a stage command).
    fn command(command: &str, config: &Path) -> Running {
        let stderr = std::process::Stdio::piped();
        let mut child = otklik()
            .arg(command)
            .arg("--config")
            .arg(config)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let lines = collect_lines(child.stderr.take().unwrap());
        Running { child, lines }
    }

    fn wait_for_posts(&mut self, clickhouse: &str, name: &str, rows: u64) {
        wait_for_posts(clickhouse, name, rows, &mut self.child);
    }

    fn log(&self) -> Vec<(Instant, String)> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGTERM; asserts a clean exit and returns the log.
    fn stop(mut self) -> Vec<(Instant, String)> {
        std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        let status = self.child.wait().unwrap();
        let log = self.log();
        let text: Vec<&str> = log.iter().map(|(_, l)| l.as_str()).collect();
        assert!(status.success(), "{}", text.join("\n"));
        log
    }
}

/// Collects a child's stderr lines with the time each arrived.
fn collect_lines(pipe: impl Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>> {
    use std::io::BufRead;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push((Instant::now(), line));
        }
    });
    lines
}

/// Publishes `n` new resident posts (uids `tg:outage_check:1…n`) to the raw topic.
fn publish_check_posts(brokers: &str, raw_topic: &str, n: u32) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use otklik_pipeline::Bus;
        let bus = otklik_kafka::KafkaBus::new(otklik_kafka::KafkaConfig::new(brokers)).unwrap();
        let publisher = bus.publisher();
        for i in 1..=n {
            let uid = format!("tg:outage_check:{i}");
            let post = serde_json::json!({
                "schema": 1, "uid": uid, "platform": "telegram", "source_id": "tg-outage-check",
                "published_at": "2026-11-20T08:00:00Z", "collected_at": "2026-11-20T09:00:00Z",
                "text": format!("В доме {i} по улице Мира нет отопления третий день"),
            });
            publisher.publish(raw_topic, uid.as_bytes(), post.to_string().as_bytes()).await.unwrap();
        }
    });
}

/// Publishes a burst of `n` heating complaints from different residents of Кузнецк, in their own
/// words, published over the last hour (all before the detector's last 15-minute boundary).
fn publish_heating_burst(brokers: &str, raw_topic: &str, n: u32) {
    const STREETS: &[&str] =
        &["Ленина", "Маяковского", "Белинского", "Победы", "Рабочей", "Калинина", "Гагарина", "Кирова"];
    const COMPLAINTS: &[&str] = &[
        "батареи ледяные, дети спят в куртках",
        "отопления нет со вчерашнего вечера, в квартире пятнадцать градусов",
        "опять холодные радиаторы, диспетчер трубку не берёт",
        "тепла нет, включили обогреватель и выбило пробки",
        "мёрзнем, котельная молчит, когда дадут отопление?",
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let now = chrono::Utc::now();
    runtime.block_on(async {
        use otklik_pipeline::Bus;
        let bus = otklik_kafka::KafkaBus::new(otklik_kafka::KafkaConfig::new(brokers)).unwrap();
        let publisher = bus.publisher();
        for i in 0..n {
            let uid = format!("vk:-777:{}", i + 1);
            let published = now - chrono::Duration::minutes(60) + chrono::Duration::minutes(i64::from(i % 40));
            let street = STREETS[i as usize % STREETS.len()];
            let complaint = COMPLAINTS[i as usize % COMPLAINTS.len()];
            let post = serde_json::json!({
                "schema": 1, "uid": uid, "platform": "vk", "source_id": "vk-kuzneck-burst",
                "author": {"id": format!("{}", 9000 + i)},
                "published_at": published.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "collected_at": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "text": format!("Кузнецк, улица {street}, дом {}: {complaint}. Житель {i}", i + 3),
            });
            publisher.publish(raw_topic, uid.as_bytes(), post.to_string().as_bytes()).await.unwrap();
        }
    });
}

/// The alert stage over Kafka: a burst of heating complaints is linked into incidents (the
/// linked versions land in `posts`) and raises an alert that lands in the `alerts` table; the
/// series of `complaints_hourly` count the voices.
#[test]
fn a_burst_through_kafka_is_linked_and_raises_an_alert_in_clickhouse() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_alert");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    let mut running = Running::start(&config);
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS);
    publish_heating_burst(&kafka, &format!("{name}.raw"), 24);
    let started = Instant::now();
    let opened = format!(
        "SELECT count() FROM {name}.alerts WHERE municipality = '56705000' AND topic = 'heating' AND state = 'opened'"
    );
    while clickhouse_query(&clickhouse, &opened) != "1" {
        assert!(started.elapsed() < Duration::from_secs(180), "no alert in ClickHouse: {:?}", running.log().last());
        assert!(running.child.try_wait().unwrap().is_none(), "otklik run ended");
        std::thread::sleep(Duration::from_millis(500));
    }
    let linked = clickhouse_query(
        &clickhouse,
        &format!("SELECT countIf(incident_id != '') FROM {name}.posts FINAL WHERE source_id = 'vk-kuzneck-burst'"),
    );
    assert_eq!(linked, "24", "every post of the burst linked");
    let voices = format!("SELECT uniqExactMerge(voices) FROM {name}.complaints_hourly WHERE municipality = '56705000' AND topic = 'heating'");
    assert!(clickhouse_query(&clickhouse, &voices).parse::<u32>().unwrap() >= 20);
    let top = clickhouse_query(&clickhouse, &format!("SELECT length(incident_uids), voices FROM {name}.alerts WHERE state = 'opened' AND municipality = '56705000'"));
    assert!(top.split('\t').next().is_some_and(|n| n != "0"), "{top}");
    running.stop();
    clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}

#[test]
fn a_broker_outage_is_told_once_and_every_stage_recovers_by_itself() {
    use otklik_testkit::own_service::{Kind, OwnService};
    let Some(clickhouse) = otklik_testkit::clickhouse() else { return };
    let Some(broker) = OwnService::start(Kind::Kafka) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_outage");
    let config = production_config(dir.path(), &broker.address, &clickhouse, &name);
    let mut running = Running::start(&config);
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS);

    // The broker is down for 30 s while every stage waits on it.
    let outage = Instant::now();
    broker.stop();
    std::thread::sleep(Duration::from_secs(30));
    broker.restart();
    let back = Instant::now();

    // Posts published after the outage flow through classification into ClickHouse.
    publish_check_posts(&broker.address, &format!("{name}.raw"), 20);
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS + 20);
    let lines = running.stop();

    // Told once per kind of trouble, not once per reconnect attempt (137 lines for 27 s before).
    let during: Vec<&str> = lines
        .iter()
        .filter(|(at, _)| *at >= outage && *at <= back + Duration::from_secs(5))
        .map(|(_, l)| l.as_str())
        .collect();
    eprintln!("{} log lines during the 30 s outage:\n{}", during.len(), during.join("\n"));
    assert!(during.len() <= 15, "{} log lines for a 30 s outage:\n{}", during.len(), during.join("\n"));
    assert!(
        !during.iter().any(|l| l.contains("ERROR")),
        "an outage the pipeline rides out is no ERROR:\n{}",
        during.join("\n")
    );
    clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}

/// ClickHouse down for longer than Kafka's `max.poll.interval.ms` (shortened to 8 s here, so 30 s
/// stands for the 6 minutes against the default 5): the sink retries while keeping its group
/// membership, nothing is lost, no stage ends.
#[test]
fn a_clickhouse_outage_longer_than_the_poll_interval_keeps_the_sink_in_its_group() {
    use otklik_testkit::own_service::{Kind, OwnService};
    let Some(kafka) = otklik_testkit::kafka() else { return };
    let Some(server) = OwnService::start(Kind::ClickHouse) else { return };
    let clickhouse = server.address.clone();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_ch_outage");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    let text = std::fs::read_to_string(&config).unwrap().replace("log_level = \"warn\"", "log_level = \"info\"").replace(
        &format!("group_prefix = \"{name}\"\n"),
        &format!("group_prefix = \"{name}\"\n[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n\"max.poll.interval.ms\" = \"8000\"\n"),
    );
    std::fs::write(&config, text).unwrap();
    let mut running = Running::start(&config);
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS);

    server.stop();
    publish_check_posts(&kafka, &format!("{name}.raw"), 20);
    std::thread::sleep(Duration::from_secs(30));
    server.restart();
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS + 20);
    let lines = running.stop();
    let all: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(
        all.iter().any(|l| l.contains("batch write failed, retrying")),
        "the sink never waited:\n{}",
        all.join("\n")
    );
    // Leaving the group at shutdown is expected; before it, nothing may be revoked.
    let before_shutdown = all.iter().take_while(|l| !l.contains("shutdown requested"));
    let lost: Vec<&&str> =
        before_shutdown.filter(|l| l.contains("partitions revoked") || l.contains("PollExceeded")).collect();
    assert!(lost.is_empty(), "a stage left its group during the outage:\n{}", all.join("\n"));
}

/// `DROP TABLE posts` under a running pipeline: the sink fails fatally (error 60), every stage
/// stops and the process exits non-zero naming the stage — no silent death. Restarted (as
/// systemd or Kubernetes would), it recreates the table and stores what was published meanwhile.
#[test]
fn a_fatal_stage_error_ends_the_process_and_a_restart_recovers() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_fatal");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    let mut running = Running::start(&config);
    running.wait_for_posts(&clickhouse, &name, DEMO_POSTS);

    clickhouse_query(&clickhouse, &format!("DROP TABLE {name}.posts"));
    publish_check_posts(&kafka, &format!("{name}.raw"), 20);
    // A guard against a hang, not a pace: the stage fails on its next batch.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "the process kept running without its sink");
        std::thread::sleep(Duration::from_millis(200));
    };
    let log: Vec<String> = running.log().into_iter().map(|(_, l)| l).collect();
    assert!(!status.success(), "exited successfully:\n{}", log.join("\n"));
    assert!(
        log.iter().any(|l| l.contains("stage clickhouse failed")),
        "the failed stage is not named:\n{}",
        log.join("\n")
    );

    let mut restarted = Running::start(&config);
    // The restart replays the demo again (its uids stored once) and stores the 20 published
    // while no sink ran: nothing lost.
    restarted.wait_for_posts(&clickhouse, &name, DEMO_POSTS + 20);
    restarted.stop();
    clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}

#[test]
fn kafka_init_creates_the_topics_then_finds_them_as_configured() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_init");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    for expected in ["created  ", "ok       "] {
        let output = run(otklik().args(["kafka", "init", "--config"]).arg(&config));
        assert!(output.status.success(), "{}", stderr(&output));
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 8, "{lines:?}");
        assert!(lines.iter().all(|l| l.starts_with(expected) && l.contains(&name)), "{lines:?}");
    }
}

/// The three stage commands as separate processes, as a fleet deploys them: the replayed demo
/// flows collect → classify-stage → sink into ClickHouse.
#[test]
fn the_stages_run_as_separate_processes() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = unique("otklik_stages");
    let config = production_config(dir.path(), &kafka, &clickhouse, &name);
    let mut sink = Running::command("sink", &config);
    let mut classify = Running::command("classify-stage", &config);
    // A replaying collector publishes everything and ends by itself.
    let collect = otklik().arg("collect").arg("--config").arg(&config).output().unwrap();
    assert!(collect.status.success(), "{}", stderr(&collect));
    sink.wait_for_posts(&clickhouse, &name, DEMO_POSTS);
    assert!(classify.child.try_wait().unwrap().is_none(), "the classifier process ended early");
    classify.stop();
    sink.stop();
    clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}

#[test]
fn a_stage_command_needs_production_mode() {
    let output = run(otklik().args(["classify-stage", "--config", "config/demo.toml"]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("needs production mode"), "{}", stderr(&output));
}
