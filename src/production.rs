//! The production wiring: stages over Kafka. Runs the classifier stage, and the collectors when
//! they have a feed reader, until SIGTERM.

use crate::commands::load_classifier;
use crate::config::Config;
use crate::stages::ClassifyStage;
use anyhow::{Context, Result};
use otklik_collect::{Collector, CollectorTopics, ReplayReader};
use otklik_kafka::KafkaBus;
use otklik_pipeline::{run_map_stage, Backoff, Bus, CancellationToken, DeadLetters, MapStageConfig, StageMetrics};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const CLASSIFY_GROUP: &str = "otklik-classify";

pub async fn run(config: &Config) -> Result<()> {
    let kafka = config.kafka.clone().context("production mode needs [kafka]")?;
    let topics = kafka.topics.clone();
    let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
    bus.ensure_default_topics().await.context("cannot create the Kafka topics")?;
    let classifier = Arc::new(load_classifier(config)?);
    let backoff = Backoff { initial: config.sink.retry_initial.0, max: config.sink.retry_max.0 };
    let dead_letters = |stage: &str| DeadLetters { publisher: bus.publisher(), topic: topics.dlq.clone(), stage: stage.into(), backoff };

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            crate::telemetry::shutdown_signal().await;
            tracing::warn!("shutdown requested");
            shutdown.cancel();
        }
    });

    let registry = Arc::new(crate::metrics_http::Registry::default());
    let classify_metrics = Arc::new(StageMetrics::default());
    let collect_metrics = Arc::new(StageMetrics::default());
    registry.register("classify", classify_metrics.clone());
    registry.register("collect", collect_metrics.clone());
    crate::metrics_http::spawn(&config.telemetry.metrics_listen, registry.clone(), shutdown.clone());

    let classify = tokio::spawn(run_map_stage(
        bus.subscribe(CLASSIFY_GROUP, &[&topics.posts_raw]).await?,
        bus.publisher(),
        Arc::new(ClassifyStage::new(classifier, &config.sources, topics.posts_classified.clone())),
        dead_letters("classify"),
        MapStageConfig { name: "classify".into(), max_batch: 512, commit_interval: Duration::from_secs(1), backoff },
        classify_metrics,
        shutdown.clone(),
    ));
    registry.set_ready(true);
    tracing::warn!("the ClickHouse sink stage is not part of this build yet: classified posts stay in {}", topics.posts_classified);

    if let Some(replay_dir) = &config.collect.replay_dir {
        let collector = Collector {
            reader: Arc::new(ReplayReader::new(config.resolve(replay_dir))),
            publisher: bus.publisher(),
            topics: CollectorTopics { raw: topics.posts_raw.clone(), cursors: topics.cursors.clone() },
            dead_letters: dead_letters("collect"),
            backoff,
            metrics: collect_metrics,
        };
        let pass = collector.poll_all(&config.sources, &mut HashMap::new(), &shutdown).await?;
        tracing::info!(posts = pass.posts, polled = pass.polled, "replay published");
    } else {
        tracing::warn!("not supported yet: live collection from the networks; only the classifier stage runs");
    }
    classify.await.context("classifier stage panicked")??;
    Ok(())
}
