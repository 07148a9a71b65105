//! `otklik bench pipeline --processes`: each stage runs as a process of its own, started from
//! the real stage commands with a config written for the scenario, so that its RSS and CPU time
//! are its own. The bench process keeps the feed and reads each stage's counters from the
//! stage's `/metrics`.
//!
//! Every child runs in a process group of its own (a Ctrl-C at the terminal reaches the bench
//! alone, which then ends them) and is killed when its handle is dropped: on the normal end, on
//! an error, on a panic and on Ctrl-C, since all of them drop the tasks that own the handles.
//! (A bench killed with SIGKILL cannot end them: that would need `prctl`, unsafe code.)

use super::probe::Pid;
use super::{Running, Scenario};
use crate::config::Config;
use anyhow::{bail, Context, Result};
use otklik_pipeline::{CancellationToken, StageMetrics};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often the stages' counters are read.
const SCRAPE_EVERY: Duration = Duration::from_millis(100);

/// A stage process to start: the arguments after the binary, and the name its metrics carry.
pub struct StageCommand {
    /// `classify-stage`, `sink`, `bench stage passthrough`, …
    pub args: &'static [&'static str],
    /// The `stage` label of its counters on `/metrics`.
    pub metrics_stage: &'static str,
}

/// The two stage processes of `scenario`: the map stage, then the sink.
///
/// The transport's pass-through map stage and the counting sink are not stages of a deployment:
/// they are `otklik bench stage …`, hidden commands that run the same stage runners the real
/// stages do (`run_map_stage`, the posts sink of the graph) over `KafkaBus`, with a transform
/// that copies and a sink that writes nowhere, so their processes carry only the transport's own
/// cost. The classifier and the ClickHouse sink are the real `classify-stage` and `sink`.
pub fn commands(scenario: Scenario) -> [StageCommand; 2] {
    let passthrough = StageCommand { args: &["bench", "stage", "passthrough"], metrics_stage: "map" };
    let classify = StageCommand { args: &["classify-stage"], metrics_stage: "classify" };
    let count = StageCommand { args: &["bench", "stage", "count"], metrics_stage: "count" };
    let sink = StageCommand { args: &["sink"], metrics_stage: "clickhouse" };
    match scenario {
        Scenario::Transport => [passthrough, count],
        Scenario::Classify => [classify, count],
        Scenario::Clickhouse => [classify, sink],
    }
}

/// The scenario's config for its stage processes, written next to the bench's own config file
/// (so that its relative paths — rules, gazetteer, sources — still resolve), removed on drop.
pub struct StageConfig {
    pub path: PathBuf,
}

impl Drop for StageConfig {
    fn drop(&mut self) {
        // Nothing to do about a file that cannot be removed; it names the run that left it.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The bench's config file with production mode, the scenario's `[kafka]` (topics, groups,
/// properties) and ClickHouse database, and a metrics listener on `metrics_listen`.
pub fn write_config(original: &Path, config: &Config, metrics_listen: &str, stage: &str) -> Result<StageConfig> {
    let text = std::fs::read_to_string(original).with_context(|| format!("cannot read {}", original.display()))?;
    let mut doc: toml_edit::DocumentMut = text.parse().with_context(|| format!("{}", original.display()))?;
    let kafka = config.kafka.as_ref().context("no [kafka]")?;
    let kafka: toml_edit::DocumentMut = toml::to_string(kafka).context("cannot write [kafka]")?.parse()?;
    doc["kafka"] = toml_edit::Item::Table(kafka.as_table().clone());
    doc["run"]["mode"] = toml_edit::value("production");
    doc["telemetry"]["metrics_listen"] = toml_edit::value(metrics_listen);
    doc["clickhouse"]["url"] = toml_edit::value(config.clickhouse.url.as_str());
    doc["clickhouse"]["database"] = toml_edit::value(config.clickhouse.database.as_str());
    let dir = original.parent().unwrap_or(Path::new("."));
    let name = format!(".otklik-bench-{}-{stage}.toml", config.clickhouse.database);
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(StageConfig { path })
}

/// A free port on 127.0.0.1 for a child's metrics listener (free when asked; the child binds it
/// a moment later).
pub fn free_local_address() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free local port")?;
    Ok(listener.local_addr()?.to_string())
}

/// Starts one stage process: its output goes to `log`, its counters are copied into `metrics`
/// every [`SCRAPE_EVERY`] until `stop`. The task in `running.stages` fails if the process ends
/// by itself, and kills it once `stop` is cancelled.
pub fn spawn(
    running: &mut Running,
    command: &StageCommand,
    config: StageConfig,
    metrics_addr: String,
    log: &Path,
    metrics: Arc<StageMetrics>,
) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let exe = std::env::current_exe().context("cannot find the otklik binary")?;
    let child = std::process::Command::new(exe)
        .args(command.args)
        .arg("--config")
        .arg(&config.path)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start the stage process `otklik {}`", command.args.join(" ")))?;
    let mut child = KillOnDrop(child);
    let pid = child.0.id();
    let name = format!("otklik {} (pid {pid})", command.args.join(" "));
    running.probes.processes.push((name.clone(), Pid::Child(pid)));
    let stop = running.stop.stages.clone();
    tokio::spawn(scrape(metrics_addr, command.metrics_stage, metrics, stop.clone()));
    let log = log.to_owned();
    running.stages.spawn(async move {
        let _config = config;
        let mut tick = tokio::time::interval(SCRAPE_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            if let Some(status) = child.0.try_wait().context("cannot watch a stage process")? {
                bail!("{name} ended by itself ({status}); its log: {}", log.display());
            }
        }
    });
    Ok(())
}

/// A stage process, killed (SIGKILL) and reaped when dropped: the bench has counted everything
/// it needs before it lets go, and on an error nothing of the child's state matters.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Fails only for a process already reaped; there is nothing left to end then.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Copies the `stage` counters of the process serving `addr` into `metrics` until `stop`; a
/// process not listening yet reads as no change.
async fn scrape(addr: String, stage: &'static str, metrics: Arc<StageMetrics>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(SCRAPE_EVERY);
    while !stop.is_cancelled() {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Ok(text) = get_metrics(&addr).await else { continue };
        let counters = StageCounters::parse(&text, stage);
        metrics.received.store(counters.received, Ordering::Relaxed);
        metrics.emitted.store(counters.emitted, Ordering::Relaxed);
        metrics.dead_lettered.store(counters.dead_lettered, Ordering::Relaxed);
    }
}

/// `GET /metrics` over plain HTTP/1.0 (the response ends with the connection).
async fn get_metrics(addr: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}

/// One stage's counters as `/metrics` shows them.
#[derive(Debug, Default, PartialEq, Eq)]
struct StageCounters {
    received: u64,
    emitted: u64,
    /// Summed over the reasons.
    dead_lettered: u64,
}

impl StageCounters {
    fn parse(text: &str, stage: &str) -> StageCounters {
        let label = format!("stage=\"{stage}\"");
        let mut counters = StageCounters::default();
        for line in text.lines().filter(|l| l.contains(&label)) {
            let (Some(name), Some(value)) = (line.split('{').next(), line.rsplit(' ').next()) else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            match name {
                "otklik_stage_received_total" => counters.received = value as u64,
                "otklik_stage_emitted_total" => counters.emitted = value as u64,
                "otklik_stage_dead_lettered_total" => counters.dead_lettered += value as u64,
                _ => {}
            }
        }
        counters
    }
}

/// Where the stage processes write their output: kept when a run fails, so its logs can be read.
pub fn log_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("otklik-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Fails unless the stage processes can be started: they need a config file to derive theirs from.
pub fn check(options: &super::PipelineOptions) -> Result<()> {
    if !options.config.is_file() {
        bail!("--processes needs a config file the stage processes can start from: {}", options.config.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_s_counters_are_read_from_its_metrics_page() {
        let text = "# TYPE otklik_stage_received counter\n\
                    otklik_stage_received_total{stage=\"map\"} 1200\n\
                    otklik_stage_received_total{stage=\"count\"} 7\n\
                    otklik_stage_emitted_total{stage=\"map\"} 1190\n\
                    otklik_stage_dead_lettered_total{stage=\"map\",reason=\"rejected\"} 4\n\
                    otklik_stage_dead_lettered_total{reason=\"too_large\",stage=\"map\"} 6\n";
        let counters = StageCounters::parse(text, "map");
        assert_eq!(counters, StageCounters { received: 1200, emitted: 1190, dead_lettered: 10 });
        assert_eq!(StageCounters::parse(text, "classify"), StageCounters::default());
    }
}
