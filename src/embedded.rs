//! The embedded wiring: every stage in one process over the in-memory bus, posts into the local
//! store. No Kafka, no ClickHouse, nothing to install.
//!
//! With `collect.replay_dir` the sources are read once from saved responses and the run ends
//! when everything collected has been classified and stored; otherwise the live networks are
//! polled every `collect.poll_interval` until SIGTERM. The first SIGTERM / Ctrl-C stops
//! collecting and lets the stages drain what is in flight; a second one stops them at once
//! (each still finishes or hands back its batch, so no torn rows).

use crate::alert_stage::{AlertStage, StageClock};
use crate::config::Config;
use crate::graph::{Graph, StageTask, Stop};
use crate::metrics::Registry;
use crate::notify_stage::{NotifyClock, NotifyStage, StoredDeliveryLog};
use crate::summary::{CountingStore, Counts, Summary};
use anyhow::{Context, Result};
use otklik_clickhouse::{AlertRow, DataDir, DlqRow, History, LocalStore, PostRow, SourceStatRow};
use otklik_pipeline::{CancellationToken, MemoryBus, StageError, StageMetrics};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The run's stages, each listed once, as it is built: its metrics (registered for `/metrics`),
/// then its task with the topic it consumes (the run has drained when no stage lags behind its
/// topic). The collector has metrics and no task: it runs on the caller's task.
struct Stages {
    registry: Arc<Registry>,
    metrics: Vec<(&'static str, Arc<StageMetrics>)>,
    running: Vec<Running>,
}

/// A stage's task, and the topic it consumes.
struct Running {
    name: &'static str,
    consumes: String,
    task: JoinHandle<Result<(), StageError>>,
}

impl Stages {
    fn new(registry: Arc<Registry>) -> Self {
        Stages { registry, metrics: Vec::new(), running: Vec::new() }
    }

    /// New metrics for stage `name`, registered.
    fn metrics(&mut self, name: &'static str) -> Arc<StageMetrics> {
        let metrics = Arc::new(StageMetrics::default());
        self.registry.register(name, metrics.clone());
        self.metrics.push((name, metrics.clone()));
        metrics
    }

    /// Spawns stage `name`, which consumes `topic`, inside its `stage` span.
    fn spawn(&mut self, name: &'static str, topic: &str, task: StageTask) {
        let task = tokio::spawn(task.instrument(tracing::info_span!("stage", stage = name)));
        self.running.push(Running { name, consumes: topic.to_owned(), task });
    }

    /// Whether every stage has consumed all of its topic, by `lag(stage, topic)`.
    fn caught_up(&self, lag: impl Fn(&str, &str) -> i64) -> bool {
        self.running.iter().all(|stage| lag(stage.name, &stage.consumes) == 0)
    }

    /// Whether some stage has ended (failed: stages run until stopped).
    fn any_finished(&self) -> bool {
        self.running.iter().any(|stage| stage.task.is_finished())
    }

    /// Waits for every stage, and names the stage in a failure.
    async fn join(&mut self) -> Result<()> {
        for Running { name, task, .. } in self.running.drain(..) {
            task.await
                .with_context(|| format!("stage {name} panicked"))?
                .with_context(|| format!("stage {name} failed"))?;
        }
        Ok(())
    }

    fn progress(&self) -> Progress {
        Progress(self.metrics.clone())
    }
}

/// The counters of the progress line and the summary.
#[derive(Clone)]
struct Progress(Vec<(&'static str, Arc<StageMetrics>)>);

impl Progress {
    fn count(&self, stage: &str, counter: impl Fn(&StageMetrics) -> &AtomicU64) -> u64 {
        self.0.iter().find(|(name, _)| *name == stage).map_or(0, |(_, m)| StageMetrics::get(counter(m)))
    }

    /// Messages sent to the dead-letter topic (the dead-letter store sends its own rejects to
    /// `<dlq>.unstorable`).
    fn dead_lettered(&self) -> u64 {
        self.0.iter().filter(|(name, _)| *name != DLQ_STORE).map(|(_, m)| StageMetrics::get(&m.dead_lettered)).sum()
    }

    fn line(&self) -> String {
        format!(
            "collected {} · classified {} · linked {} · stored {} · dlq {}",
            self.count("collect", |m| &m.emitted),
            self.count("classify", |m| &m.received),
            self.count("alert", |m| &m.received),
            self.count("store", |m| &m.emitted),
            self.dead_lettered()
        )
    }
}

const DLQ_STORE: &str = "dlq-store";

pub async fn run(path: &std::path::Path, config: &Config) -> Result<Summary> {
    let started = Instant::now();
    let bus = MemoryBus::new(config.run.partitions);
    let graph = Graph::new(config, &bus);
    let topics = graph.topics.clone();
    // One lock for the process, shared by both stores: a second writer is refused.
    let data_dir = DataDir::lock(&config.resolve(&config.run.data_dir)).context("cannot open the local store")?;
    let posts_store = LocalStore::<PostRow>::open_in(&data_dir).context("cannot open the local store")?;
    let dlq_store = LocalStore::<DlqRow>::open_in(&data_dir).context("cannot open the local store")?;
    let alerts_store = LocalStore::<AlertRow>::open_in(&data_dir).context("cannot open the local store")?;
    let stats_store = LocalStore::<SourceStatRow>::open_in(&data_dir).context("cannot open the local store")?;

    let stop_collecting = CancellationToken::new();
    // `stop.drain` is cancelled once collecting has ended: the sinks then write what they hold
    // at once instead of waiting out `sink.batch_wait` (a finished replay ends once stored).
    let stop = Stop::default();
    tokio::spawn({
        let (stop_collecting, stop_stages) = (stop_collecting.clone(), stop.stages.clone());
        async move {
            crate::telemetry::shutdown_signal().await;
            tracing::warn!(
                "shutdown requested: collecting stopped, draining what is in flight (signal again to stop now)"
            );
            stop_collecting.cancel();
            crate::telemetry::shutdown_signal().await;
            stop_stages.cancel();
        }
    });

    let replay = config.collect.replay_dir.is_some();
    let reload = Arc::new(crate::reload::Reload::new(path, config)?);
    let registry = Arc::new(Registry::default());
    let mut stages = Stages::new(registry.clone());
    let collect_metrics = stages.metrics("collect");
    let counts = registry.classify_counts();
    let classify = graph.classify(&reload, stages.metrics("classify"), counts, stop.stages.clone()).await?;
    stages.spawn("classify", &topics.posts_raw, classify);
    // Cancelled once every collected post is classified: a replay's alert clock may run then.
    let classified_all = CancellationToken::new();
    let alert_stage = alert_stage(config, &reload, data_dir.path(), classified_all.clone()).await?;
    let alert_stage = Arc::new(alert_stage.observed_by(registry.alert_observer()));
    let alert = graph.alert(alert_stage.clone(), stages.metrics("alert"), stop.stages.clone()).await?;
    stages.spawn("alert", &topics.posts_series, alert);
    let alerts = Arc::new(alerts_store);
    let alerts = graph.alerts_sink("alert-store", alerts, stages.metrics("alert-store"), &stop).await?;
    stages.spawn("alert-store", &topics.alerts, alerts);
    let alerts_done = CancellationToken::new();
    let (notify_stage, local_receiver) = notify_stage(config, &data_dir, replay.then(|| alerts_done.clone())).await?;
    let (flushed, receivers) = (notify_stage.flushed(), notify_stage.receiver_metrics());
    let notify = graph.notify(notify_stage, stages.metrics("notify"), stop.stages.clone()).await?;
    stages.spawn("notify", &topics.alerts, notify);
    let counts = Arc::new(Mutex::new(Counts::default()));
    let store_dir = posts_store.dir().display().to_string();
    let posts = Arc::new(CountingStore::new(posts_store, counts.clone()));
    let store = graph.posts_sink("store", posts, stages.metrics("store"), &stop).await?;
    stages.spawn("store", &topics.posts_classified, store);
    let dlq = graph.dlq_sink(DLQ_STORE, Arc::new(dlq_store), stages.metrics(DLQ_STORE), &stop).await?;
    stages.spawn(DLQ_STORE, &topics.dlq, dlq);
    let stats = graph.stats_sink("stats-store", Arc::new(stats_store), stages.metrics("stats-store"), &stop).await?;
    stages.spawn("stats-store", &topics.source_stats, stats);
    let progress = stages.progress();
    let progress_task = spawn_progress(progress.clone());
    registry.set_config_version(&reload.version());
    registry.register_receivers(receivers.clone());
    reload.clone().spawn_on_sighup(registry.clone(), stop.stages.clone());
    registry.set_ready(true);
    let polls = registry.source_polls();
    crate::metrics_http::spawn(&config.telemetry.metrics_listen, registry, stop.stages.clone());

    let collector = graph.collector(collect_metrics, polls)?;
    let pass = match &config.collect.replay_dir {
        Some(dir) => {
            tracing::info!(sources = config.sources.len(), "replaying {}", dir.display());
            collector.poll_all(&config.sources, &mut HashMap::new(), &stop_collecting).await?
        }
        None => {
            let interval = config.collect.poll_interval.0;
            tracing::info!(sources = config.sources.len(), ?interval, "collecting until SIGTERM");
            collector.run_watched(reload.sources(), HashMap::new(), interval, &stop_collecting).await?;
            Default::default()
        }
    };

    stop.drain.cancel();

    // Everything collected is in the bus; stop once every stage has committed all of it (and a
    // replay's alert clock has run through it).
    let lag = |stage: &str, topic: &str| bus.lag(&graph.group(stage), topic);
    let mut delivery_grace: Option<Instant> = None;
    let mut drained = |stages: &Stages| {
        if !stages.caught_up(lag) {
            return false;
        }
        if !replay {
            return true;
        }
        if !(alert_stage.settled() && flushed.load(std::sync::atomic::Ordering::SeqCst)) {
            return false;
        }
        // A replay ends once its notifications are delivered, or have had their chance: what a
        // receiver did not take stays in the outbox for the next run.
        let pending: u64 = receivers.iter().map(|(_, m)| m.snapshot().pending).sum();
        pending == 0 || delivery_grace.get_or_insert_with(Instant::now).elapsed() > DELIVERY_GRACE
    };
    while !drained(&stages) && !stop.stages.is_cancelled() {
        if lag("classify", &topics.posts_raw) == 0 {
            classified_all.cancel();
        }
        if alert_stage.settled() && lag("notify", &topics.alerts) == 0 {
            alerts_done.cancel();
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = stop.stages.cancelled() => {}
        }
        if stages.any_finished() {
            break;
        }
    }
    stop.stages.cancel();
    stages.join().await?;
    drop(local_receiver);
    progress_task.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // The run's incidents, read back as stored (the stage's window has let the older ones go).
    let since = alert_stage.with_core(|core| core.earliest()).unwrap_or_else(chrono::Utc::now);
    let history = History::Local(data_dir.path().to_owned());
    let incidents = crate::incidents_cmd::read(config, &history, since).await?;
    // Every stored complaint, not only the run's: a reply may come long after its complaint.
    let all_time = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    let responses = crate::responses_cmd::Answered::read(&config.responders, &history, all_time).await?;
    Ok(Summary {
        counts,
        incidents,
        alerts: alert_stage.raised(),
        responses,
        deliveries: receivers.iter().map(|(name, m)| (name.clone(), m.snapshot())).collect(),
        collected: progress.count("collect", |m| &m.emitted),
        dead_lettered: progress.dead_lettered(),
        unavailable: pass.unavailable,
        elapsed: started.elapsed(),
        store_dir,
        interrupted: stop_collecting.is_cancelled(),
    })
}

/// The alert stage: a replay's is fresh and runs on the replayed posts' time once everything is
/// classified (a replay is self-contained); a live one restores its state from the local store
/// and follows the clock.
async fn alert_stage(
    config: &Config,
    reload: &crate::reload::Reload,
    data_dir: &std::path::Path,
    classified_all: CancellationToken,
) -> Result<AlertStage> {
    let topics = config.topics();
    let rules = reload.current();
    let (core, clock) = match config.collect.replay_dir {
        Some(_) => (config.alert_core(false, Some(&rules))?, StageClock::Replay { upstream_done: classified_all }),
        None => {
            let history = History::Local(data_dir.to_owned());
            (
                crate::alert_stage::restored_core(config, &history, true, Some(&rules)).await?,
                StageClock::Live { tick: LIVE_ALERT_TICK },
            )
        }
    };
    Ok(AlertStage::new(core, topics.posts_classified, topics.alerts, clock).following(reload.rules()))
}

/// The notify stage over the local store; in a replay it routes the replay's alerts on their own
/// time once `alerts_done`. With `[alerts.local_receiver]` the webhook sink it names is started
/// here (kept alive by the returned handle) and its receiver pointed at it.
async fn notify_stage(
    config: &Config,
    data_dir: &DataDir,
    alerts_done: Option<CancellationToken>,
) -> Result<(NotifyStage, Option<crate::notify_stage::LocalReceiver>)> {
    let history = History::Local(data_dir.path().to_owned());
    let log = otklik_clickhouse::DeliveryLog::local(data_dir).context("cannot open the local store")?;
    let log = Arc::new(StoredDeliveryLog { log, history: history.clone() });
    let (receivers, local) = crate::notify_stage::local_receiver(config, &data_dir.path().join("received")).await?;
    let clock = alerts_done.map_or(NotifyClock::Live, |alerts_done| NotifyClock::Replay { alerts_done });
    let stage = NotifyStage::start(config, &receivers, history, log, clock).await?;
    Ok((stage, local))
}

/// How long a finished replay waits for its notifications' first deliveries.
const DELIVERY_GRACE: Duration = Duration::from_secs(30);

/// How often a live alert stage with nothing to read advances its clock.
const LIVE_ALERT_TICK: Duration = Duration::from_secs(30);

/// A live line on a terminal, a log line every few seconds otherwise.
fn spawn_progress(metrics: Progress) -> JoinHandle<()> {
    tokio::spawn(async move {
        let terminal = std::io::stderr().is_terminal();
        let period = if terminal { Duration::from_millis(200) } else { Duration::from_secs(5) };
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            if terminal {
                eprint!("\r\x1b[2K{}", metrics.line());
            } else {
                tracing::info!("progress: {}", metrics.line());
            }
        }
    })
}
