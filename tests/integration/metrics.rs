//! A real Prometheus (Debian's `/usr/bin/prometheus`, on loopback with a temporary config) scrapes
//! a running `otklik run`: the target is up, and a query returns every family
//! `src/metrics_families.rs` lists — those of any wiring from the embedded one, and every family
//! from the production wiring over the Kafka and ClickHouse of scripts/test.sh, collecting live
//! from a fake t.me. Skips when Prometheus is not installed, fails instead under
//! `OTKLIK_REQUIRE_SERVICES=1`.

use super::*;
use otklik_testkit::fake_http::{FakeResponse, FakeServer};
use otklik_testkit::telegram::{channel_page, TgMessage};
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

/// Whether Debian's Prometheus is here; when it is not, a skip, or a failure under
/// `OTKLIK_REQUIRE_SERVICES=1`.
fn prometheus_installed() -> bool {
    let installed = Path::new(PROMETHEUS).exists();
    if !installed {
        assert!(!otklik_testkit::services_required(), "{PROMETHEUS} not found (apt-get install prometheus)");
        eprintln!("skipping: {PROMETHEUS} not found (apt-get install prometheus)");
    }
    installed
}

/// A Prometheus scraping `127.0.0.1:<metrics_port>` every second, with its data in `dir`.
struct Prometheus {
    port: u16,
    _process: Killed,
}

impl Prometheus {
    /// Started, and its one target up.
    fn start(dir: &Path, metrics_port: u16) -> Prometheus {
        let port = free_port();
        let scrape = format!(
            "global:
  scrape_interval: 1s
scrape_configs:
  - job_name: otklik
    static_configs:
      - targets: ['127.0.0.1:{metrics_port}']
"
        );
        std::fs::write(dir.join("prometheus.yml"), scrape).unwrap();
        let process = std::process::Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Prometheus { port, _process: Killed(process) };
        let targets = wait_for("the target to be up", || {
            let (_, body) = get(port, "/api/v1/targets").filter(|(status, _)| *status == 200)?;
            let json: serde_json::Value = serde_json::from_str(&body).ok()?;
            let active = json["data"]["activeTargets"].as_array()?.clone();
            active.iter().any(|t| t["health"] == "up").then_some(active)
        });
        assert_eq!(targets.len(), 1, "{targets:?}");
        assert_eq!(targets[0]["scrapeUrl"], format!("http://127.0.0.1:{metrics_port}/metrics"));
        prometheus
    }

    /// The series an instant query of `expr` returns now (an empty list for none).
    fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let encoded: String =
            expr.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b == b'_' {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
        let Some((200, body)) = get(self.port, &format!("/api/v1/query?query={encoded}")) else { return Vec::new() };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        json["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The series of family `name` (of type `kind`), once Prometheus has scraped one.
    fn wait_family(&self, name: &str, kind: &str) -> Vec<serde_json::Value> {
        let series = if kind == "histogram" { format!("{name}_count") } else { name.to_owned() };
        let result = wait_for(&format!("a series of {name}"), || Some(self.query(&series)).filter(|r| !r.is_empty()));
        assert_eq!(result[0]["metric"]["job"], "otklik", "{name}: {result:?}");
        result
    }

    /// Waits until `expr` (a PromQL comparison) returns a series.
    fn wait_true(&self, expr: &str) {
        wait_for(expr, || Some(self.query(expr)).filter(|r| !r.is_empty()));
    }
}

#[test]
fn prometheus_scrapes_a_running_otklik_and_finds_every_family() {
    if !prometheus_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let config = write_config(dir.path(), metrics_port);
    let otklik = otklik().args(["run", "--config"]).arg(&config).stdout(Stdio::null()).spawn().expect("otklik starts");
    let _otklik = Killed(otklik);
    wait_for("otklik's /readyz", || get(metrics_port, "/readyz").filter(|(status, _)| *status == 200));

    let prometheus = Prometheus::start(dir.path(), metrics_port);
    for (name, kind, wiring) in families::FAMILIES {
        if *wiring == families::Wiring::Any {
            prometheus.wait_family(name, kind);
        }
    }
    // The type Prometheus recorded for a counter, from the exposition's metadata.
    let (_, metadata) = get(prometheus.port, "/api/v1/targets/metadata?metric=otklik_stage_received").unwrap();
    assert!(metadata.contains("\"type\":\"counter\""), "{metadata}");
}

/// What the production test's fake t.me serves: two channels with a complaint each, and one
/// that fails.
fn telegram(path: &str) -> FakeResponse {
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let text = "Третий день нет отопления в доме на улице Мира, в квартирах холодно, куда жаловаться?";
    match path.strip_prefix("/s/") {
        Some(channel @ ("metrics_one" | "metrics_two")) => {
            FakeResponse::html(channel_page(channel, &[TgMessage::new(1, text, at)]))
        }
        _ => FakeResponse::status(503),
    }
}

/// The production wiring collecting live from [`telegram`] under a one-request-a-second limit
/// (so requests wait), with a webhook receiver, statistics every second.
fn live_config(dir: &Path, kafka: &str, clickhouse: &str, name: &str, telegram: &str, port: u16) -> PathBuf {
    let config = super::production::production_config(dir, kafka, clickhouse, name);
    let sources: String = ["metrics_one", "metrics_two", "metrics_gone"]
        .map(|c| format!("[[source]]\nid = \"tg-{c}\"\nplatform = \"telegram\"\nhandle = \"{c}\"\n"))
        .concat();
    std::fs::write(dir.join("sources.toml"), sources).unwrap();
    let demo = repo().join("config/demo");
    let text = std::fs::read_to_string(&config).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("replay_dir") && !l.starts_with("sources_file"))
        .map(|l| match l {
            "log_level = \"warn\"" => format!("{l}\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
            "[collect]" => format!("{l}\nsources_file = {:?}\npoll_interval = \"2s\"", dir.join("sources.toml")),
            _ => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect();
    let extra = format!(
        r#"
[collect.telegram]
base_url = "{telegram}"
rate = "1/s"
max_retries = 0

[[alerts.route]]
receivers = ["duty"]
[[alerts.receiver]]
name = "duty"
kind = "webhook"
url = "{telegram}/hooks/alerts"
secret_file = "{secret}"

[kafka.properties]
"statistics.interval.ms" = "1000"
"#,
        secret = demo.join("webhook.secret").display(),
    );
    std::fs::write(&config, text + &extra).unwrap();
    config
}

/// An alert of the heating series of Penza, opened ten minutes ago and stored before the start:
/// the restarted alert stage counts it open.
fn store_open_alert(clickhouse: &str, name: &str) {
    let now = chrono::Utc::now();
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let row = serde_json::json!({
        "id": format!("{name}-heating"), "state": "opened", "severity": "high", "method": "test",
        "municipality": "56701000", "municipality_name": "город Пенза", "topic": "heating",
        "window_start": time(now - chrono::Duration::hours(1)), "window_end": time(now),
        "observed": 12, "expected": 2.0, "p_value": 0.0001, "incidents": 3, "voices": 12,
        "raised_at": time(now - chrono::Duration::minutes(10)), "kind": "spike",
    });
    super::production::clickhouse_query(clickhouse, &format!("INSERT INTO {name}.alerts FORMAT JSONEachRow {row}"));
}

/// The production wiring over the Kafka and ClickHouse of scripts/test.sh, collecting live: a
/// real Prometheus scrapes it and a query returns every documented family — per source polls,
/// failures and rate-limit waits, consumer lag and producer queue, ClickHouse inserts, the open
/// alert restored — with both dependencies up and rows inserted.
#[test]
fn prometheus_scrapes_the_production_wiring_and_finds_every_family() {
    let (Some(kafka), Some(clickhouse)) = (otklik_testkit::kafka(), otklik_testkit::clickhouse()) else { return };
    if !prometheus_installed() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakeServer::start(|request| telegram(&request.path)));
    let dir = tempfile::tempdir().unwrap();
    let name = super::production::unique("otklik_metrics");
    let port = free_port();
    let config = live_config(dir.path(), &kafka, &clickhouse, &name, &server.url(), port);
    let migrate = otklik().args(["clickhouse", "migrate", "--config"]).arg(&config).output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    store_open_alert(&clickhouse, &name);

    let child =
        otklik().args(["run", "--config"]).arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let _otklik = Killed(child);
    wait_for("otklik's /readyz", || get(port, "/readyz").filter(|(status, _)| *status == 200));
    let prometheus = Prometheus::start(dir.path(), port);
    for (name, kind, _) in families::FAMILIES {
        prometheus.wait_family(name, kind);
    }
    prometheus.wait_true("otklik_clickhouse_insert_rows_total{table=\"posts\"}>0");
    prometheus.wait_true("otklik_dependency_up{dependency=\"kafka\"}==1");
    prometheus.wait_true("otklik_dependency_up{dependency=\"clickhouse\"}==1");
    prometheus.wait_true("otklik_source_poll_failures_total{source=\"tg-metrics_gone\",code=\"http_503\"}>0");
    prometheus.wait_true("otklik_classifier_topics_total{topic=\"heating\"}>=2");
    prometheus.wait_true("otklik_alerts_open{kind=\"spike\",topic=\"heating\"}==1");
    assert_eq!(get(port, "/readyz").map(|(status, _)| status), Some(200));
    drop(_otklik);
    super::production::clickhouse_query(&clickhouse, &format!("DROP DATABASE {name}"));
}
