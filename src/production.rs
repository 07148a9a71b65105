//! The production wiring: every stage over Kafka in this process — collectors (live, or a replay
//! of saved responses), the classifier, and the ClickHouse sinks for posts and dead letters —
//! until SIGTERM, or until a stage fails: then every stage stops, `/readyz` turns false and the
//! process exits non-zero ([`Supervisor`]). Run several processes with the same config to scale
//! out: Kafka consumer groups share the partitions.

use crate::commands::load_classifier;
use crate::config::Config;
use crate::metrics_http::Registry;
use crate::stages::ClassifyStage;
use crate::supervise::Supervisor;
use anyhow::{Context, Result};
use otklik_clickhouse::{ClickHouseSink, DlqRow, Migrator, PostRow};
use otklik_collect::{cursors_from_table, Collector, CollectorTopics};
use otklik_kafka::KafkaBus;
use otklik_pipeline::{run_map_stage, run_sink_stage, Backoff, BatchLimits, Bus, CancellationToken, DeadLetters, MapStageConfig, SinkStageConfig, StageMetrics};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;


pub async fn run(config: &Config) -> Result<()> {
    let kafka = config.kafka.clone().context("production mode needs [kafka]")?;
    let topics = kafka.topics.clone();
    let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
    let group = |stage: &str| bus.config().group(stage);
    bus.ensure_default_topics().await.context("cannot create the Kafka topics")?;
    let clickhouse = crate::clickhouse_cmd::sink_config(config)?;
    Migrator::new(&clickhouse).migrate(None).await.context("cannot migrate ClickHouse")?;
    let classifier = Arc::new(load_classifier(config)?);
    let backoff = Backoff { initial: config.sink.retry_initial.0, max: config.sink.retry_max.0 };
    let limits = BatchLimits { max_rows: config.sink.batch_rows, max_bytes: config.sink.batch_bytes.0, max_wait: config.sink.batch_wait.0 };
    let dead_letters = |stage: &str| DeadLetters { publisher: bus.publisher(), topic: topics.dlq.clone(), stage: stage.into(), backoff };

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            crate::telemetry::shutdown_signal().await;
            tracing::warn!("shutdown requested: stages finish their batches and commit");
            shutdown.cancel();
        }
    });
    let registry = Arc::new(Registry::default());
    let metrics = |name: &str| {
        let m = Arc::new(StageMetrics::default());
        registry.register(name, m.clone());
        m
    };
    crate::metrics_http::spawn(&config.telemetry.metrics_listen, registry.clone(), shutdown.clone());

    let mut supervisor = Supervisor::new(shutdown.clone(), registry.clone());
    let classify = run_map_stage(
        bus.subscribe(&group("classify"), &[&topics.posts_raw]).await?,
        bus.publisher(),
        Arc::new(ClassifyStage::new(classifier, &config.sources, topics.posts_classified.clone())),
        dead_letters("classify"),
        MapStageConfig { name: "classify".into(), max_batch: 512, commit_interval: Duration::from_secs(1), backoff },
        metrics("classify"),
        shutdown.clone(),
    );
    supervisor.spawn("classify", async move { Ok(classify.await?) });
    let posts = run_sink_stage(
        bus.subscribe(&group("clickhouse"), &[&topics.posts_classified]).await?,
        Arc::new(ClickHouseSink::<PostRow>::new(clickhouse.clone())),
        dead_letters("clickhouse"),
        SinkStageConfig { name: "clickhouse".into(), limits, backoff },
        metrics("clickhouse"),
        shutdown.clone(),
    );
    supervisor.spawn("clickhouse", async move { Ok(posts.await?) });
    // Dead letters the dlq table refuses go to a topic of their own, never back into the DLQ.
    let dead = run_sink_stage(
        bus.subscribe(&group("clickhouse-dlq"), &[&topics.dlq]).await?,
        Arc::new(ClickHouseSink::<DlqRow>::new(clickhouse.clone())),
        DeadLetters { topic: format!("{}.unstorable", topics.dlq), ..dead_letters("clickhouse-dlq") },
        SinkStageConfig { name: "clickhouse-dlq".into(), limits, backoff },
        metrics("clickhouse-dlq"),
        shutdown.clone(),
    );
    supervisor.spawn("clickhouse-dlq", async move { Ok(dead.await?) });

    let collector = Collector {
        reader: crate::readers::build(config)?,
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: topics.posts_raw.clone(), cursors: topics.cursors.clone() },
        dead_letters: dead_letters("collect"),
        backoff,
        metrics: metrics("collect"),
    };
    let (sources, stop) = (config.sources.clone(), shutdown.clone());
    if config.collect.replay_dir.is_some() {
        supervisor.spawn("collect", async move {
            let pass = collector.poll_all(&sources, &mut HashMap::new(), &stop).await?;
            tracing::info!(posts = pass.posts, polled = pass.polled, "replay published; stages keep running until SIGTERM");
            Ok(())
        });
    } else {
        // Resume where the fleet left off: the cursors topic holds every source's progress.
        let cursors = cursors_from_table(bus.read_table(&topics.cursors).await.context("cannot read the cursors topic")?);
        tracing::info!(restored = cursors.len(), "collector cursors restored");
        let interval = config.collect.poll_interval.0;
        supervisor.spawn("collect", async move { Ok(collector.run(&sources, cursors, interval, &stop).await?) });
    }
    registry.set_ready(true);
    supervisor.run().await
}
