//! ClickHouse stopped for 60 s in the middle of a run and started again: nothing is lost and
//! nobody has to do anything. The test runs its own server instance (scripts/clickhouse.sh
//! writes its config; the test stops it and starts the same binary on the same data and port),
//! so the shared test server is not disturbed.

mod common;

use common::*;
use otklik_clickhouse::{ClickHouseSink, Migrator, PostRow};
use otklik_pipeline::{
    run_sink_stage, Backoff, BatchLimits, Bus, CancellationToken, DeadLetters, MemoryBus, Publisher, SinkStageConfig,
    StageMetrics,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/clickhouse.sh")
}

fn server_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("OTKLIK_CLICKHOUSE_SERVER") {
        return bin.into();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("clickhouse-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| "/usr/sbin/clickhouse-server".into())
}

/// Our own server; stopped (through the script's pid file) when dropped.
struct Server {
    state: tempfile::TempDir,
    restarted: Option<Child>,
}

impl Server {
    fn start() -> (Server, String) {
        let state = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(state.path())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/clickhouse.sh");
        assert!(out.status.success(), "scripts/clickhouse.sh start failed");
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        (Server { state, restarted: None }, url)
    }

    fn stop(&mut self) {
        let status = Command::new("bash").arg(script()).arg("stop").arg(self.state.path()).status().unwrap();
        assert!(status.success());
        if let Some(mut child) = self.restarted.take() {
            let _ = child.wait();
        }
    }

    /// The same binary, config, data and port again (the script's `start` would wipe them).
    fn restart(&mut self) {
        let dir = self.state.path();
        let log = std::fs::File::create(dir.join("log/restart.log")).unwrap();
        let child = Command::new(server_binary())
            .arg(format!("--config-file={}", dir.join("config.xml").display()))
            .arg(format!("--pid-file={}", dir.join("server.pid").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start clickhouse-server");
        std::fs::write(dir.join("clickhouse.pid"), child.id().to_string()).unwrap();
        self.restarted = Some(child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn publish(publisher: &dyn Publisher, range: std::ops::Range<u64>) {
    for i in range {
        let post = classified(i, base_time(), 200);
        publisher.publish("posts", post.post.uid.to_string().as_bytes(), &otklik_model::encode(&post)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_a_minute_loses_nothing() {
    // Runs where the service tests run (scripts/test.sh), with a server of its own.
    if otklik_testkit::clickhouse().is_none() {
        return;
    }
    let (mut server, url) = Server::start();
    let db = ScratchDb::empty(&url, "otklik_outage");
    Migrator::new(&db.config).migrate(None).await.unwrap();

    let bus = MemoryBus::new(4);
    let publisher = bus.publisher();
    let shutdown = CancellationToken::new();
    let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2) };
    let metrics = Arc::new(StageMetrics::default());
    let mut sink_config = db.config.clone();
    sink_config.timeout = Duration::from_secs(5);
    let stage = tokio::spawn(run_sink_stage(
        bus.subscribe("ch", &["posts"]).await.unwrap(),
        Arc::new(ClickHouseSink::<PostRow>::new(sink_config)),
        DeadLetters { publisher: bus.publisher(), topic: "dlq".into(), stage: "clickhouse".into(), backoff },
        SinkStageConfig {
            name: "clickhouse".into(),
            limits: BatchLimits { max_rows: 2_000, max_bytes: 32 << 20, max_wait: Duration::from_millis(200) },
            backoff,
        },
        metrics.clone(),
        shutdown.clone(),
    ));

    let wait_for = |n: u64, within: Duration| {
        let db = &db;
        async move {
            let deadline = Instant::now() + within;
            loop {
                let stored = db.client.query("SELECT count() FROM posts FINAL").fetch_one::<u64>().await.unwrap_or(0);
                if stored >= n {
                    return stored;
                }
                assert!(Instant::now() < deadline, "only {stored} of {n} rows stored");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    publish(publisher.as_ref(), 0..10_000).await;
    wait_for(10_000, Duration::from_secs(30)).await;

    server.stop();
    let stopped = Instant::now();
    // Posts keep arriving while the server is down.
    publish(publisher.as_ref(), 10_000..20_000).await;
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(stopped.elapsed())).await;
    let retries = StageMetrics::get(&metrics.retries);
    assert!(retries > 0, "the sink should have been retrying");
    server.restart();

    assert_eq!(wait_for(20_000, Duration::from_secs(90)).await, 20_000);
    shutdown.cancel();
    stage.await.unwrap().unwrap();
    assert_eq!(bus.retained("dlq"), 0, "nothing went to the DLQ");
    assert_eq!(bus.lag("ch", "posts"), 0, "everything committed");
    assert_eq!(db.count("SELECT count() FROM posts FINAL").await, 20_000);
    assert_eq!(
        db.hourly_cells().await,
        expected_cells(&(0..20_000).map(|i| row(i, base_time(), 200)).collect::<Vec<_>>())
    );
    eprintln!("outage survived: {retries} retried writes while down, all 20 000 rows stored");
}
