//! `otklik bench stage passthrough|count`: the transport scenario's two stages as processes of
//! their own (`bench pipeline --processes`), run like `otklik classify-stage` runs the classifier:
//! a production-mode config, the stage runner over `KafkaBus`, `/metrics` on
//! `[telemetry] metrics_listen`, until SIGTERM or a fatal error.

use super::{CountingSink, PassThrough};
use crate::config::Config;
use crate::graph::{Graph, StageTask, Stop};
use crate::metrics::Registry;
use crate::supervise::Supervisor;
use anyhow::{Context, Result};
use otklik_kafka::KafkaBus;
use otklik_pipeline::{run_map_stage, Bus, CancellationToken, MapStageConfig, StageMetrics};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchStage {
    /// Raw topic → the classified topic, each message copied under its key (stage `map`).
    Passthrough,
    /// The classified topic → nowhere, every row counted (stage `count`).
    Count,
}

pub fn run(stage: BenchStage, path: &Path) -> Result<()> {
    let config = crate::commands::load_config(path)?;
    crate::telemetry::init(&config.telemetry)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(serve(stage, &config))
}

async fn serve(stage: BenchStage, config: &Config) -> Result<()> {
    let kafka = config.kafka.clone().context("a bench stage needs [kafka]")?;
    let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
    let graph = Graph::new(config, &bus);
    let stop = Stop::default();
    tokio::spawn({
        let shutdown = stop.stages.clone();
        async move {
            crate::telemetry::shutdown_signal().await;
            shutdown.cancel();
        }
    });
    let registry = Arc::new(Registry::default());
    let name = match stage {
        BenchStage::Passthrough => "map",
        BenchStage::Count => "count",
    };
    let metrics = Arc::new(StageMetrics::default());
    registry.register(name, metrics.clone());
    crate::metrics_http::spawn(&config.telemetry.metrics_listen, registry.clone(), stop.stages.clone());
    let task = match stage {
        BenchStage::Passthrough => passthrough(config, &graph, &bus, metrics, stop.stages.clone()).await?,
        BenchStage::Count => graph.posts_sink(name, Arc::new(CountingSink), metrics, &stop).await?,
    };
    let mut supervisor = Supervisor::new(stop.stages.clone(), registry.clone());
    supervisor.spawn(name, async move { Ok(task.await?) });
    registry.set_ready(true);
    supervisor.run().await
}

/// The transport's map stage: the classifier's runner and settings (`[classify] batch`,
/// `in_flight`, `commit_interval`) with a transform that only copies.
pub async fn passthrough(
    config: &Config,
    graph: &Graph<'_>,
    bus: &dyn Bus,
    metrics: Arc<StageMetrics>,
    shutdown: CancellationToken,
) -> Result<StageTask> {
    let topics = &graph.topics;
    let subscriber = bus.subscribe(&graph.group("map"), &[&topics.posts_raw]).await?;
    let transform = Arc::new(PassThrough { topic: topics.posts_classified.clone() });
    let backoff = otklik_pipeline::Backoff { initial: config.sink.retry_initial.0, max: config.sink.retry_max.0 };
    let map_config = MapStageConfig {
        name: "map".into(),
        max_batch: config.classify.batch,
        in_flight: config.classify.in_flight,
        commit_interval: config.classify.commit_interval.0,
        backoff,
    };
    let dead = graph.dead_letters("map");
    Ok(Box::pin(run_map_stage(subscriber, bus.publisher(), transform, dead, map_config, metrics, shutdown)))
}
