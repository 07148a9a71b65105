//! A real Prometheus (Debian's `/usr/bin/prometheus`, on loopback with a temporary config) scrapes
//! a running `otklik run`: the target is up, and a query returns every family
//! `src/metrics_families.rs` lists for the embedded wiring. Skips when Prometheus is not
//! installed, fails instead under `OTKLIK_REQUIRE_SERVICES=1`.

use super::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[path = "../../src/metrics_families.rs"]
mod families;

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// A bound on the waits below (each ends as soon as its condition holds).
const PATIENCE: Duration = Duration::from_secs(120);

/// Kills the child when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` over HTTP/1.0: (status, body), or `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// Polls `check` until it returns `Some`, failing with `what` after [`PATIENCE`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The embedded wiring collecting live from no sources: it runs until killed, with the demo's
/// rules, gazetteer and alert receiver.
fn write_config(dir: &Path, metrics_port: u16) -> PathBuf {
    let config = repo().join("config");
    std::fs::write(dir.join("sources.toml"), "").unwrap();
    let text = format!(
        r#"[run]
mode = "embedded"
data_dir = "{data}"
[telemetry]
log_level = "warn"
metrics_listen = "127.0.0.1:{metrics_port}"
[classify]
topics_dir = "{config}/topics"
gazetteer = "{config}/gazetteer/gazetteer.tsv"
[collect]
sources_file = "{sources}"
poll_interval = "1h"
[[alerts.route]]
receivers = ["demo-webhook"]
[[alerts.receiver]]
name = "demo-webhook"
kind = "webhook"
url = "http://127.0.0.1/hooks/alerts"
secret_file = "{config}/demo/webhook.secret"
[alerts.local_receiver]
receiver = "demo-webhook"
"#,
        data = dir.join("data").display(),
        config = config.display(),
        sources = dir.join("sources.toml").display(),
    );
    let path = dir.join("otklik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn prometheus_scrapes_a_running_otklik_and_finds_every_family() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(!otklik_testkit::services_required(), "{PROMETHEUS} not found (apt-get install prometheus)");
        eprintln!("skipping: {PROMETHEUS} not found (apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (metrics_port, prometheus_port) = (free_port(), free_port());
    let config = write_config(dir.path(), metrics_port);
    let otklik = otklik().args(["run", "--config"]).arg(&config).stdout(Stdio::null()).spawn().expect("otklik starts");
    let _otklik = Killed(otklik);
    wait_for("otklik's /readyz", || get(metrics_port, "/readyz").filter(|(status, _)| *status == 200));

    let scrape = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: otklik\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), scrape).unwrap();
    let prometheus = std::process::Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let _prometheus = Killed(prometheus);

    let targets = wait_for("the target to be up", || {
        let (_, body) = get(prometheus_port, "/api/v1/targets").filter(|(status, _)| *status == 200)?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let active = json["data"]["activeTargets"].as_array()?.clone();
        active.iter().any(|t| t["health"] == "up").then_some(active)
    });
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0]["scrapeUrl"], format!("http://127.0.0.1:{metrics_port}/metrics"));

    for (name, kind, wiring) in families::FAMILIES {
        if *wiring != families::Wiring::Any {
            continue;
        }
        let series = if *kind == "histogram" { format!("{name}_count") } else { name.to_string() };
        let result = wait_for(&format!("a series of {name}"), || {
            let (_, body) =
                get(prometheus_port, &format!("/api/v1/query?query={series}")).filter(|(s, _)| *s == 200)?;
            let json: serde_json::Value = serde_json::from_str(&body).ok()?;
            let result = json["data"]["result"].as_array()?.clone();
            (!result.is_empty()).then_some(result)
        });
        assert_eq!(result[0]["metric"]["job"], "otklik", "{name}: {result:?}");
    }
    // The type Prometheus recorded for a counter, from the exposition's metadata.
    let (_, metadata) = get(prometheus_port, "/api/v1/targets/metadata?metric=otklik_stage_received").unwrap();
    assert!(metadata.contains("\"type\":\"counter\""), "{metadata}");
}

/// The value of the first sample of `/metrics` whose line starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix))?.rsplit(' ').next()?.parse().ok()
}

/// The production wiring over the Kafka and ClickHouse of scripts/test.sh: while the demo
/// replays, `/metrics` shows ClickHouse inserts, consumer lag from librdkafka's statistics, both
/// dependencies up and the sources' polls.
#[test]
fn the_production_wiring_exports_lag_inserts_and_dependencies() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = super::production::unique("otklik_metrics");
    let config = super::production::production_config(dir.path(), &kafka, &clickhouse, &name);
    let port = free_port();
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "log_level = \"warn\"",
        &format!("log_level = \"warn\"\nmetrics_listen = \"127.0.0.1:{port}\""),
        1,
    );
    // Statistics every second instead of every 15 s.
    std::fs::write(&config, text + "\n[kafka.properties]\n\"statistics.interval.ms\" = \"1000\"\n").unwrap();
    let child =
        otklik().args(["run", "--config"]).arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let _otklik = Killed(child);
    let metrics = wait_for("inserts, lag and both dependencies on /metrics", || {
        let (_, text) = get(port, "/metrics").filter(|(status, _)| *status == 200)?;
        let rows = sample(&text, "otklik_clickhouse_insert_rows_total{table=\"posts\"}")?;
        let kafka_up = sample(&text, "otklik_dependency_up{dependency=\"kafka\"}")?;
        let clickhouse_up = sample(&text, "otklik_dependency_up{dependency=\"clickhouse\"}")?;
        sample(&text, "otklik_kafka_consumer_lag{")?;
        (rows > 0.0 && kafka_up == 1.0 && clickhouse_up == 1.0).then_some(text)
    });
    assert!(
        sample(&metrics, "otklik_clickhouse_insert_duration_seconds_count{table=\"posts\"}").is_some_and(|n| n >= 1.0)
    );
    assert!(sample(&metrics, "otklik_source_polls_total{").is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(sample(&metrics, "otklik_kafka_producer_queue_messages").is_some(), "{metrics}");
    assert!(sample(&metrics, "otklik_classifier_posts_total{").is_some_and(|n| n >= 1.0), "{metrics}");
    assert_eq!(get(port, "/readyz").map(|(status, _)| status), Some(200));
    drop(_otklik);
    super::production::clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}
