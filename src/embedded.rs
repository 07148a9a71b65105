//! The embedded wiring: every stage in one process over the in-memory bus, posts into the local
//! store. No Kafka, no ClickHouse, nothing to install.
//!
//! With `collect.replay_dir` the sources are read once from saved responses and the run ends
//! when everything collected has been classified and stored; otherwise the live networks are
//! polled every `collect.poll_interval` until SIGTERM. The first SIGTERM / Ctrl-C stops
//! collecting and lets the stages drain what is in flight; a second one stops them at once
//! (each still finishes or hands back its batch, so no torn rows).

use crate::commands::load_classifier;
use crate::config::Config;
use crate::stages::ClassifyStage;
use crate::summary::{CountingStore, Counts, Summary};
use anyhow::{Context, Result};
use otklik_clickhouse::{DataDir, DlqRow, LocalStore, PostRow};
use otklik_collect::{Collector, CollectorTopics};
use otklik_pipeline::{
    run_map_stage, run_sink_stage_draining, Backoff, BatchLimits, Bus, CancellationToken, DeadLetters, MapStageConfig,
    MemoryBus, SinkStageConfig, StageMetrics,
};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const CLASSIFY_GROUP: &str = "otklik-classify";
const STORE_GROUP: &str = "otklik-store";
const DLQ_STORE_GROUP: &str = "otklik-dlq-store";

#[derive(Clone)]
struct Metrics {
    collect: Arc<StageMetrics>,
    classify: Arc<StageMetrics>,
    store: Arc<StageMetrics>,
    dlq: Arc<StageMetrics>,
}

impl Metrics {
    fn dead_lettered(&self) -> u64 {
        [&self.collect, &self.classify, &self.store].iter().map(|m| StageMetrics::get(&m.dead_lettered)).sum()
    }

    fn line(&self) -> String {
        format!(
            "collected {} · classified {} · stored {} · dlq {}",
            StageMetrics::get(&self.collect.emitted),
            StageMetrics::get(&self.classify.emitted),
            StageMetrics::get(&self.store.emitted),
            self.dead_lettered()
        )
    }
}

pub async fn run(config: &Config) -> Result<Summary> {
    let started = Instant::now();
    let topics = config.topics();
    let bus = MemoryBus::new(config.run.partitions);
    let classifier = Arc::new(load_classifier(config)?);
    // One lock for the process, shared by both stores: a second writer is refused.
    let data_dir = DataDir::lock(&config.resolve(&config.run.data_dir)).context("cannot open the local store")?;
    let posts_store = LocalStore::<PostRow>::open_in(&data_dir).context("cannot open the local store")?;
    let dlq_store = LocalStore::<DlqRow>::open_in(&data_dir).context("cannot open the local store")?;
    let backoff = Backoff { initial: config.sink.retry_initial.0, max: config.sink.retry_max.0 };
    let dead_letters = |stage: &str| DeadLetters { publisher: bus.publisher(), topic: topics.dlq.clone(), stage: stage.into(), backoff };
    let limits = BatchLimits { max_rows: config.sink.batch_rows, max_bytes: config.sink.batch_bytes.0, max_wait: config.sink.batch_wait.0 };
    let metrics = Metrics { collect: Default::default(), classify: Default::default(), store: Default::default(), dlq: Default::default() };

    let stop_collecting = CancellationToken::new();
    let stop_stages = CancellationToken::new();
    // Cancelled once collecting has ended: the sinks then write what they hold at once instead
    // of waiting out `sink.batch_wait` (a finished replay ends as soon as it is stored).
    let drain = CancellationToken::new();
    tokio::spawn({
        let (stop_collecting, stop_stages) = (stop_collecting.clone(), stop_stages.clone());
        async move {
            crate::telemetry::shutdown_signal().await;
            tracing::warn!("shutdown requested: collecting stopped, draining what is in flight (signal again to stop now)");
            stop_collecting.cancel();
            crate::telemetry::shutdown_signal().await;
            stop_stages.cancel();
        }
    });

    let classify = tokio::spawn(run_map_stage(
        bus.subscribe(CLASSIFY_GROUP, &[&topics.posts_raw]).await?,
        bus.publisher(),
        Arc::new(ClassifyStage::new(classifier, &config.sources, topics.posts_classified.clone())),
        dead_letters("classify"),
        MapStageConfig { name: "classify".into(), max_batch: 512, commit_interval: Duration::from_secs(1), backoff },
        metrics.classify.clone(),
        stop_stages.clone(),
    ));
    let counts = Arc::new(Mutex::new(Counts::default()));
    let store_dir = posts_store.dir().display().to_string();
    let store = tokio::spawn(run_sink_stage_draining(
        bus.subscribe(STORE_GROUP, &[&topics.posts_classified]).await?,
        Arc::new(CountingStore::new(posts_store, counts.clone())),
        dead_letters("store"),
        SinkStageConfig { name: "store".into(), limits, backoff },
        metrics.store.clone(),
        stop_stages.clone(),
        drain.clone(),
    ));
    // DLQ records that cannot be stored go to a topic of their own rather than back into the DLQ.
    let dlq = tokio::spawn(run_sink_stage_draining(
        bus.subscribe(DLQ_STORE_GROUP, &[&topics.dlq]).await?,
        Arc::new(dlq_store),
        DeadLetters { topic: format!("{}.unstorable", topics.dlq), ..dead_letters("dlq-store") },
        SinkStageConfig { name: "dlq-store".into(), limits, backoff },
        metrics.dlq.clone(),
        stop_stages.clone(),
        drain.clone(),
    ));
    let progress = spawn_progress(&metrics);
    let registry = Arc::new(crate::metrics_http::Registry::default());
    for (name, stage) in [("collect", &metrics.collect), ("classify", &metrics.classify), ("store", &metrics.store), ("dlq-store", &metrics.dlq)] {
        registry.register(name, stage.clone());
    }
    registry.set_ready(true);
    crate::metrics_http::spawn(&config.telemetry.metrics_listen, registry, stop_stages.clone());

    let collector = Collector {
        reader: crate::readers::build(config)?,
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: topics.posts_raw.clone(), cursors: topics.cursors.clone() },
        dead_letters: dead_letters("collect"),
        backoff,
        metrics: metrics.collect.clone(),
    };
    let pass = match &config.collect.replay_dir {
        Some(dir) => {
            tracing::info!(sources = config.sources.len(), "replaying {}", dir.display());
            collector.poll_all(&config.sources, &mut HashMap::new(), &stop_collecting).await?
        }
        None => {
            tracing::info!(sources = config.sources.len(), interval = ?config.collect.poll_interval.0, "collecting until SIGTERM");
            collector.run(&config.sources, HashMap::new(), config.collect.poll_interval.0, &stop_collecting).await?;
            Default::default()
        }
    };

    drain.cancel();

    // Everything collected is in the bus; stop once every stage has committed all of it.
    let drained = || {
        bus.lag(CLASSIFY_GROUP, &topics.posts_raw) == 0 && bus.lag(STORE_GROUP, &topics.posts_classified) == 0 && bus.lag(DLQ_STORE_GROUP, &topics.dlq) == 0
    };
    while !drained() && !stop_stages.is_cancelled() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = stop_stages.cancelled() => {}
        }
        if [&classify, &store, &dlq].iter().any(|t| t.is_finished()) {
            break;
        }
    }
    stop_stages.cancel();
    for (name, task) in [("classify", classify), ("store", store), ("dlq-store", dlq)] {
        crate::stages::join_stage(name, task).await?;
    }
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(Summary {
        counts,
        collected: StageMetrics::get(&metrics.collect.emitted),
        dead_lettered: metrics.dead_lettered(),
        unavailable: pass.unavailable,
        elapsed: started.elapsed(),
        store_dir,
        interrupted: stop_collecting.is_cancelled(),
    })
}

/// A live line on a terminal, a log line every few seconds otherwise.
fn spawn_progress(metrics: &Metrics) -> JoinHandle<()> {
    let metrics = metrics.clone();
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
