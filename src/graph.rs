//! The stage graph, built from the config the same way for every wiring: the embedded one (memory
//! bus, local store), Kafka all-in-one (`otklik run`), and one stage per process (`otklik
//! collect`, `otklik classify-stage`, `otklik alert`, `otklik sink`). The wirings choose the bus and the sinks;
//! group names, batch sizes, commit intervals and dead-letter routing live here, once.

use crate::alert_stage::AlertStage;
use crate::config::Config;
use crate::notify_stage::NotifyStage;
use crate::reload::Reload;
use crate::stages::{ClassifyCounts, ClassifyStage};
use anyhow::Result;
use otklik_collect::{Collector, CollectorTopics};
use otklik_kafka::TopicsConfig;
use otklik_pipeline::{
    run_map_stage, run_sink_stage_draining, Backoff, BatchLimits, BatchSink, Bus, CancellationToken, DeadLetters,
    MapStageConfig, SinkStageConfig, StageError, StageMetrics,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Messages the alert stage takes at once when they are waiting (the classifier's batch is
/// `[classify] batch`).
const CLASSIFY_BATCH: usize = 512;
/// The alert stage commits at least this often while busy (the classifier: `[classify]
/// commit_interval`).
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// Which stages a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every stage (`otklik run`).
    All,
    /// The collectors (`otklik collect`).
    Collect,
    /// The classifier (`otklik classify-stage`).
    Classify,
    /// The sinks for posts, alerts and dead letters (`otklik sink`).
    Sink,
    /// Incident linking, spike detection and alert delivery (`otklik alert`).
    Alert,
}

impl Role {
    pub fn runs(self, stage: Role) -> bool {
        self == Role::All || self == stage
    }
}

/// A stage ready to run: spawn it, or hand it to a `Supervisor`.
pub type StageTask = std::pin::Pin<Box<dyn Future<Output = Result<(), StageError>> + Send>>;

/// The stages of one config over one bus.
pub struct Graph<'a> {
    config: &'a Config,
    bus: &'a dyn Bus,
    pub topics: TopicsConfig,
    backoff: Backoff,
    limits: BatchLimits,
}

impl<'a> Graph<'a> {
    pub fn new(config: &'a Config, bus: &'a dyn Bus) -> Self {
        let sink = &config.sink;
        Graph {
            config,
            bus,
            topics: config.topics(),
            backoff: Backoff { initial: sink.retry_initial.0, max: sink.retry_max.0 },
            limits: BatchLimits {
                max_rows: sink.batch_rows,
                max_bytes: sink.batch_bytes.0,
                max_wait: sink.batch_wait.0,
            },
        }
    }

    /// The consumer group of `stage` (`[kafka] group_prefix`, `otklik` by default).
    pub fn group(&self, stage: &str) -> String {
        let prefix = self.config.kafka.as_ref().map_or("otklik", |k| k.group_prefix.as_str());
        format!("{prefix}-{stage}")
    }

    pub fn dead_letters(&self, stage: &str) -> DeadLetters {
        DeadLetters {
            publisher: self.bus.publisher(),
            topic: self.topics.dlq.clone(),
            stage: stage.into(),
            backoff: self.backoff,
        }
    }

    /// Raw posts in, classified posts out, by the rules `reload` holds at each batch.
    pub async fn classify(
        &self,
        reload: &Reload,
        metrics: Arc<StageMetrics>,
        counts: Arc<ClassifyCounts>,
        shutdown: CancellationToken,
    ) -> Result<StageTask> {
        let (classified, series) = (self.topics.posts_classified.clone(), self.topics.posts_series.clone());
        let transform = ClassifyStage { counts, ..ClassifyStage::new(reload.rules(), classified, series) };
        let subscriber = self.bus.subscribe(&self.group("classify"), &[&self.topics.posts_raw]).await?;
        let config = MapStageConfig {
            name: "classify".into(),
            max_batch: self.config.classify.batch,
            in_flight: self.config.classify.in_flight,
            commit_interval: self.config.classify.commit_interval.0,
            backoff: self.backoff,
        };
        let dead_letters = self.dead_letters("classify");
        Ok(Box::pin(run_map_stage(
            subscriber,
            self.bus.publisher(),
            Arc::new(transform),
            dead_letters,
            config,
            metrics,
            shutdown,
        )))
    }

    /// Posts of the series topic into incidents; linked posts back to the classified topic,
    /// alerts to the alerts topic.
    pub async fn alert(
        &self,
        stage: Arc<AlertStage>,
        metrics: Arc<StageMetrics>,
        shutdown: CancellationToken,
    ) -> Result<StageTask> {
        let subscriber = self.bus.subscribe(&self.group("alert"), &[&self.topics.posts_series]).await?;
        // One batch at a time: an episode's events (opened, updated, resolved) keep their order.
        let config = MapStageConfig {
            name: "alert".into(),
            max_batch: CLASSIFY_BATCH,
            in_flight: 1,
            commit_interval: COMMIT_INTERVAL,
            backoff: self.backoff,
        };
        let dead_letters = self.dead_letters("alert");
        Ok(Box::pin(run_map_stage(subscriber, self.bus.publisher(), stage, dead_letters, config, metrics, shutdown)))
    }

    /// Alert events from the alerts topic through the router into the outbox.
    pub async fn notify(
        &self,
        stage: NotifyStage,
        metrics: Arc<StageMetrics>,
        shutdown: CancellationToken,
    ) -> Result<StageTask> {
        let subscriber = self.bus.subscribe(&self.group("notify"), &[&self.topics.alerts]).await?;
        let dead_letters = self.dead_letters("notify");
        Ok(Box::pin(stage.run(subscriber, dead_letters, metrics, shutdown)))
    }

    /// Alerts into `sink` (stage and group `stage`).
    pub async fn alerts_sink<S: BatchSink + 'static>(
        &self,
        stage: &str,
        sink: Arc<S>,
        metrics: Arc<StageMetrics>,
        stop: &Stop,
    ) -> Result<StageTask> {
        let topic = self.topics.alerts.clone();
        self.sink(stage, &topic, sink, self.dead_letters(stage), metrics, stop).await
    }

    /// Classified posts into `sink` (stage and group `stage`). Once `drain` is cancelled the
    /// batch is written as soon as nothing is waiting.
    pub async fn posts_sink<S: BatchSink + 'static>(
        &self,
        stage: &str,
        sink: Arc<S>,
        metrics: Arc<StageMetrics>,
        stop: &Stop,
    ) -> Result<StageTask> {
        let topic = self.topics.posts_classified.clone();
        self.sink(stage, &topic, sink, self.dead_letters(stage), metrics, stop).await
    }

    /// Sources' audiences into `sink` (stage and group `stage`).
    pub async fn stats_sink<S: BatchSink + 'static>(
        &self,
        stage: &str,
        sink: Arc<S>,
        metrics: Arc<StageMetrics>,
        stop: &Stop,
    ) -> Result<StageTask> {
        let topic = self.topics.source_stats.clone();
        self.sink(stage, &topic, sink, self.dead_letters(stage), metrics, stop).await
    }

    /// Dead letters into `sink`. Those the sink refuses go to `{dlq}.unstorable`, never back
    /// into the DLQ (where they would loop).
    pub async fn dlq_sink<S: BatchSink + 'static>(
        &self,
        stage: &str,
        sink: Arc<S>,
        metrics: Arc<StageMetrics>,
        stop: &Stop,
    ) -> Result<StageTask> {
        let unstorable = DeadLetters { topic: format!("{}.unstorable", self.topics.dlq), ..self.dead_letters(stage) };
        let topic = self.topics.dlq.clone();
        self.sink(stage, &topic, sink, unstorable, metrics, stop).await
    }

    async fn sink<S: BatchSink + 'static>(
        &self,
        stage: &str,
        topic: &str,
        sink: Arc<S>,
        dead_letters: DeadLetters,
        metrics: Arc<StageMetrics>,
        stop: &Stop,
    ) -> Result<StageTask> {
        let subscriber = self.bus.subscribe(&self.group(stage), &[topic]).await?;
        let config = SinkStageConfig { name: stage.into(), limits: self.limits, backoff: self.backoff };
        let (shutdown, drain) = (stop.stages.clone(), stop.drain.clone());
        Ok(Box::pin(run_sink_stage_draining(subscriber, sink, dead_letters, config, metrics, shutdown, drain)))
    }

    /// The collectors: every configured source, live or from `collect.replay_dir`.
    pub fn collector(&self, metrics: Arc<StageMetrics>, polls: otklik_collect::PollMetrics) -> Result<Collector> {
        Ok(Collector {
            reader: crate::readers::build(self.config, &polls)?,
            publisher: self.bus.publisher(),
            topics: CollectorTopics {
                raw: self.topics.posts_raw.clone(),
                cursors: self.topics.cursors.clone(),
                stats: self.topics.source_stats.clone(),
            },
            dead_letters: self.dead_letters("collect"),
            backoff: self.backoff,
            metrics,
            polls,
        })
    }
}

/// When stages stop: `stages` ends them (each finishes or hands back its batch); `drain` tells
/// the sinks that nothing more is coming, so they write what they hold without waiting.
#[derive(Clone, Default)]
pub struct Stop {
    pub stages: CancellationToken,
    pub drain: CancellationToken,
}
