//! What `/metrics` exports, and the process's readiness. The libraries keep plain counters
//! ([`StageMetrics`], [`ReceiverMetrics`], [`KafkaStats`]) or call an observer
//! ([`InsertObserver`]); this module alone knows the exporter (`prometheus-client`) and turns
//! them into families at scrape time. [`FAMILIES`] lists every family served: the tests, the
//! deploy checks and docs/operations.md follow it.

use crate::stages::ClassifyCounts;
use otklik_clickhouse::{InsertObserver, InsertOutcome, InsertReport};
use otklik_collect::PollMetrics;
use otklik_kafka::stats::{KafkaStats, LagKey};
use otklik_model::{Alert, AlertState};
use otklik_notify::{ReceiverCounts, ReceiverMetrics};
use otklik_pipeline::{DeadLetterReason, Failure, StageMetrics};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use std::collections::BTreeMap;
use std::fmt::Error as FmtError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[path = "metrics_families.rs"]
mod families;
#[allow(unused_imports)] // read by the tests (and, as text, by deploy/tests/check_observability.py)
pub use families::{Wiring, FAMILIES};

/// The process's counters and health, as one `/metrics` exposition.
pub struct Registry {
    state: Arc<State>,
    clickhouse: ClickHouseMetrics,
    exposition: prometheus_client::registry::Registry,
}

/// What the collector reads at scrape time.
#[derive(Debug, Default)]
struct State {
    stages: Mutex<Vec<(String, Arc<StageMetrics>)>>,
    /// Stages that have ended, and whether they failed: `otklik_stage_up` 0 either way; a
    /// failed one makes the process not ready (a replay that has published everything ends
    /// cleanly and the process stays ready).
    stopped: Mutex<Vec<(String, bool)>>,
    receivers: Mutex<Vec<(String, Arc<ReceiverMetrics>)>>,
    polls: PollMetrics,
    classified: Arc<ClassifyCounts>,
    kafka: Mutex<Option<Arc<KafkaStats>>>,
    /// Set when every stage is started; cleared when one fails.
    started: AtomicBool,
    /// Dependency name → whether its last probe succeeded.
    dependencies: Mutex<BTreeMap<String, bool>>,
    /// The groups' partitions whose consumer makes no progress while its lag grows.
    stalled: Mutex<Vec<LagKey>>,
    config_version: Mutex<String>,
    /// The alerts this process's alert stage has open: id → (kind, topic).
    open_alerts: Mutex<BTreeMap<String, (&'static str, &'static str)>>,
}

impl State {
    /// Why the process is not ready; empty when it is.
    fn unready_reasons(&self) -> Vec<String> {
        let state = self;
        let mut reasons = Vec::new();
        if !state.started.load(Ordering::Relaxed) {
            reasons.push("stages not started, or one has failed".to_owned());
        }
        let stopped = lock(&state.stopped);
        reasons.extend(
            stopped.iter().filter(|(_, failed)| *failed).map(|(stage, _)| format!("stage {stage} has stopped")),
        );
        let dependencies = lock(&state.dependencies);
        reasons.extend(dependencies.iter().filter(|(_, up)| !**up).map(|(name, _)| format!("{name} is unreachable")));
        let stalled = lock(&state.stalled);
        reasons.extend(stalled.iter().map(|k| {
            format!(
                "consumer of {}[{}] in group {} makes no progress while its lag grows",
                k.topic, k.partition, k.group
            )
        }));
        reasons
    }
}

impl Default for Registry {
    fn default() -> Self {
        let state = Arc::new(State::default());
        let clickhouse = ClickHouseMetrics::default();
        let mut exposition = prometheus_client::registry::Registry::default();
        clickhouse.register(&mut exposition);
        exposition.register_collector(Box::new(Exported(state.clone())));
        Registry { state, clickhouse, exposition }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    pub fn register(&self, stage: &str, metrics: Arc<StageMetrics>) {
        lock(&self.state.stages).push((stage.to_owned(), metrics));
    }

    /// Alert receivers' delivery counters.
    pub fn register_receivers(&self, receivers: Vec<(String, Arc<ReceiverMetrics>)>) {
        lock(&self.state.receivers).extend(receivers);
    }

    /// The per-source poll counters the collector keeps.
    pub fn source_polls(&self) -> PollMetrics {
        self.state.polls.clone()
    }

    /// What the classifier stage counts.
    pub fn classify_counts(&self) -> Arc<ClassifyCounts> {
        self.state.classified.clone()
    }

    /// The Kafka bus's clients' statistics (lag, producer queue).
    pub fn register_kafka(&self, stats: Arc<KafkaStats>) {
        *lock(&self.state.kafka) = Some(stats);
    }

    /// The hook the alert stage tells its alert events, which keeps `otklik_alerts_open`.
    pub fn alert_observer(&self) -> crate::alert_stage::AlertObserver {
        let state = self.state.clone();
        Arc::new(move |alert: &Alert| {
            let mut open = lock(&state.open_alerts);
            match alert.state {
                AlertState::Opened | AlertState::Updated | AlertState::Reopened => {
                    open.insert(alert.id.clone(), (alert_kind(alert), alert.topic.id()));
                }
                AlertState::Resolved => {
                    open.remove(&alert.id);
                }
            }
        })
    }

    /// The observer a ClickHouse sink reports its INSERTs to.
    pub fn clickhouse_observer(&self) -> Arc<dyn InsertObserver> {
        Arc::new(self.clickhouse.clone())
    }

    /// The version (a digest) of the configuration in use, exported as `otklik_config_info`.
    pub fn set_config_version(&self, version: &str) {
        *lock(&self.state.config_version) = version.to_owned();
    }

    /// Every stage is started (`true`), or one has failed (`false`).
    pub fn set_ready(&self, ready: bool) {
        self.state.started.store(ready, Ordering::Relaxed);
    }

    /// A stage task has ended, failed or not.
    pub fn stage_stopped(&self, stage: &str, failed: bool) {
        lock(&self.state.stopped).push((stage.to_owned(), failed));
    }

    /// The result of the latest probe of `dependency` (`kafka`, `clickhouse`).
    pub fn set_dependency(&self, dependency: &str, up: bool) {
        lock(&self.state.dependencies).insert(dependency.to_owned(), up);
    }

    /// The consumers' partitions that make no progress while their lag grows.
    pub fn set_stalled(&self, stalled: Vec<LagKey>) {
        *lock(&self.state.stalled) = stalled;
    }

    /// Why the process is not ready; empty when it is.
    pub fn unready_reasons(&self) -> Vec<String> {
        self.state.unready_reasons()
    }

    #[cfg(test)]
    pub fn is_ready(&self) -> bool {
        self.unready_reasons().is_empty()
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; a collector error would only cut the text short.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.exposition) {
            tracing::warn!(error = %e, "metrics exposition incomplete");
        }
        out
    }
}

/// The collector reading [`State`] at scrape time.
#[derive(Debug)]
struct Exported(Arc<State>);

impl Collector for Exported {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), FmtError> {
        let state = &self.0;
        let build = [("version", env!("CARGO_PKG_VERSION"))];
        info(&mut encoder, "otklik_build", "The otklik binary's version.", &build)?;
        let version = lock(&state.config_version).clone();
        info(
            &mut encoder,
            "otklik_config",
            "The version (digest) of the configuration in use.",
            &[("version", version)],
        )?;
        let ready = i64::from(state.unready_reasons().is_empty());
        let family =
            encoder.encode_descriptor("otklik_ready", "1 when /readyz says ready.", None, MetricType::Gauge)?;
        ConstGauge::new(ready).encode(family)?;
        encode_dependencies(&mut encoder, state)?;
        encode_stages(&mut encoder, state)?;
        encode_receivers(&mut encoder, &lock(&state.receivers))?;
        encode_sources(&mut encoder, &state.polls)?;
        let (kinds, topics) = state.classified.snapshot();
        let series: Vec<_> = kinds.into_iter().map(|(kind, n)| (vec![("kind", kind.to_owned())], n)).collect();
        counter(&mut encoder, "otklik_classifier_posts", "Posts the classifier tagged, by kind.", &series)?;
        let series: Vec<_> = topics.into_iter().map(|(topic, n)| (vec![("topic", topic.to_owned())], n)).collect();
        counter(&mut encoder, "otklik_classifier_topics", "Topics the classifier gave posts, by topic.", &series)?;
        encode_alerts(&mut encoder, state)?;
        encode_kafka(&mut encoder, state)
    }
}

/// The kind of alert an event belongs to: today every alert is a spike of complaints.
fn alert_kind(_alert: &Alert) -> &'static str {
    "spike"
}

/// Open alerts by kind and topic: both from fixed sets, whatever the number of municipalities.
fn encode_alerts(encoder: &mut DescriptorEncoder, state: &State) -> Result<(), FmtError> {
    let mut counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (kind, topic) in lock(&state.open_alerts).values() {
        *counts.entry((kind, topic)).or_default() += 1;
    }
    let series: Vec<_> = counts
        .into_iter()
        .map(|((kind, topic), n)| (vec![("kind", kind.to_owned()), ("topic", topic.to_owned())], n))
        .collect();
    gauge(encoder, "otklik_alerts_open", "Alerts open in this process's alert stage, by kind and topic.", &series)
}

fn info<V: prometheus_client::encoding::EncodeLabelValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    labels: &[(&'static str, V); 1],
) -> Result<(), FmtError> {
    encoder.encode_descriptor(name, help, None, MetricType::Info)?.encode_info(labels)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, String)>, u64)],
) -> Result<(), FmtError> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, String)>, i64)],
) -> Result<(), FmtError> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    if let [(labels, value)] = series {
        if labels.is_empty() {
            return ConstGauge::new(*value).encode(family);
        }
    }
    for (labels, value) in series {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn encode_dependencies(encoder: &mut DescriptorEncoder, state: &State) -> Result<(), FmtError> {
    let dependencies = lock(&state.dependencies);
    let series: Vec<_> =
        dependencies.iter().map(|(name, up)| (vec![("dependency", name.clone())], i64::from(*up))).collect();
    gauge(
        encoder,
        "otklik_dependency_up",
        "1 when the latest probe of a dependency (kafka, clickhouse) succeeded.",
        &series,
    )
}

type StageFamily = (&'static str, &'static str, fn(&StageMetrics) -> u64);

const STAGE_COUNTERS: [StageFamily; 5] = [
    ("received", "Messages a stage received from the bus.", |m| StageMetrics::get(&m.received)),
    ("emitted", "Records a stage published or rows it wrote.", |m| StageMetrics::get(&m.emitted)),
    ("batches", "Batches a sink stage wrote.", |m| StageMetrics::get(&m.batches)),
    ("retries", "Failed attempts a stage retried.", |m| StageMetrics::get(&m.retries)),
    ("commits", "Offset commits a stage made.", |m| StageMetrics::get(&m.commits)),
];

fn encode_stages(encoder: &mut DescriptorEncoder, state: &State) -> Result<(), FmtError> {
    let stages = lock(&state.stages).clone();
    let stopped = lock(&state.stopped).clone();
    let running = |stage: &String| !stopped.iter().any(|(s, _)| s == stage);
    let up: Vec<_> = stages.iter().map(|(s, _)| (vec![("stage", s.clone())], i64::from(running(s)))).collect();
    gauge(encoder, "otklik_stage_up", "1 while a stage's task runs.", &up)?;
    for (name, help, value) in STAGE_COUNTERS {
        let series: Vec<_> = stages.iter().map(|(s, m)| (vec![("stage", s.clone())], value(m))).collect();
        counter(encoder, &format!("otklik_stage_{name}"), help, &series)?;
    }
    let by_reason = |m: &StageMetrics, stage: &str| {
        let reasons = DeadLetterReason::ALL.into_iter();
        reasons
            .map(|r| (vec![("stage", stage.to_owned()), ("reason", r.as_str().to_owned())], m.dead_lettered_for(r)))
            .collect::<Vec<_>>()
    };
    let series: Vec<_> = stages.iter().flat_map(|(s, m)| by_reason(m, s)).collect();
    counter(encoder, "otklik_stage_dead_lettered", "Records a stage sent to the DLQ, by reason.", &series)?;
    let by_failure = |m: &StageMetrics, stage: &str| {
        let failures = Failure::ALL.into_iter();
        failures
            .map(|f| (vec![("stage", stage.to_owned()), ("reason", f.as_str().to_owned())], m.failed_for(f)))
            .collect::<Vec<_>>()
    };
    let series: Vec<_> = stages.iter().flat_map(|(s, m)| by_failure(m, s)).collect();
    counter(
        encoder,
        "otklik_stage_failed",
        "Writes and commits that failed (and were retried), by what failed.",
        &series,
    )
}

type ReceiverFamily = (&'static str, &'static str, fn(&ReceiverCounts) -> u64);

fn encode_receivers(
    encoder: &mut DescriptorEncoder,
    receivers: &[(String, Arc<ReceiverMetrics>)],
) -> Result<(), FmtError> {
    let counters: [ReceiverFamily; 3] = [
        ("delivered", "Notifications a receiver accepted.", |c| c.delivered),
        ("retries", "Delivery attempts that failed and are tried again.", |c| c.retried),
        ("failed", "Notifications given up on.", |c| c.failed),
    ];
    let snapshots: Vec<_> = receivers.iter().map(|(name, m)| (name.clone(), m.snapshot())).collect();
    for (name, help, value) in counters {
        let series: Vec<_> = snapshots.iter().map(|(r, c)| (vec![("receiver", r.clone())], value(c))).collect();
        counter(encoder, &format!("otklik_alert_receiver_{name}"), help, &series)?;
    }
    let pending: Vec<_> = snapshots.iter().map(|(r, c)| (vec![("receiver", r.clone())], c.pending as i64)).collect();
    gauge(encoder, "otklik_alert_receiver_pending", "Notifications waiting in a receiver's queue.", &pending)?;
    let disabled: Vec<_> =
        snapshots.iter().map(|(r, c)| (vec![("receiver", r.clone())], i64::from(c.disabled))).collect();
    gauge(
        encoder,
        "otklik_alert_receiver_disabled",
        "1 when the receiver answered 410 Gone and gets nothing more.",
        &disabled,
    )
}

fn encode_sources(encoder: &mut DescriptorEncoder, polls: &PollMetrics) -> Result<(), FmtError> {
    let sources = polls.snapshot();
    let labels = |id: &str, p: &otklik_collect::SourcePolls| {
        vec![("source", id.to_owned()), ("platform", p.platform.name().to_owned())]
    };
    let series: Vec<_> = sources.iter().map(|(id, p)| (labels(id, p), p.polls)).collect();
    counter(encoder, "otklik_source_polls", "Polls of a source.", &series)?;
    let failures = |id: &str, p: &otklik_collect::SourcePolls| {
        let kinds = p.failures.iter();
        let coded = |kind: &str, code: &str| vec![("kind", kind.to_owned()), ("code", code.to_owned())];
        kinds.map(|((kind, code), n)| ([labels(id, p), coded(kind, code)].concat(), *n)).collect::<Vec<_>>()
    };
    let series: Vec<_> = sources.iter().flat_map(|(id, p)| failures(id, p)).collect();
    counter(
        encoder,
        "otklik_source_poll_failures",
        "Failed polls of a source, by kind (unavailable, transient, config) and code (the platform's error code, \
         http_<status>, timeout, network, parse, other).",
        &series,
    )?;
    let series: Vec<_> = sources.iter().map(|(id, p)| (labels(id, p), p.posts)).collect();
    counter(encoder, "otklik_source_posts", "Posts and comments a source's polls found.", &series)?;
    let last = |p: &otklik_collect::SourcePolls| p.last_success.map(|t| t.timestamp());
    let series: Vec<_> = sources.iter().filter_map(|(id, p)| Some((labels(id, p), last(p)?))).collect();
    gauge(
        encoder,
        "otklik_source_last_success_timestamp_seconds",
        "When a source was last polled successfully (Unix time).",
        &series,
    )?;
    let waits = polls.rate_waits().snapshot();
    let series: Vec<_> = waits.iter().map(|(key, (n, _))| (vec![("key", key.clone())], *n)).collect();
    counter(
        encoder,
        "otklik_rate_limit_waits",
        "Requests that waited for their rate limit, by key (host, token slot, credential).",
        &series,
    )?;
    let mut family = encoder.encode_descriptor(
        "otklik_rate_limit_wait_seconds",
        "Time requests waited for their rate limit, by key.",
        None,
        MetricType::Counter,
    )?;
    for (key, (_, waited)) in &waits {
        ConstCounter::new(waited.as_secs_f64()).encode(family.encode_family(&[("key", key.as_str())])?)?;
    }
    Ok(())
}

fn encode_kafka(encoder: &mut DescriptorEncoder, state: &State) -> Result<(), FmtError> {
    let stats = lock(&state.kafka).clone();
    let lags = stats.as_ref().map(|s| s.consumer_lag()).unwrap_or_default();
    let partition = |k: &LagKey| {
        vec![("group", k.group.clone()), ("topic", k.topic.clone()), ("partition", k.partition.to_string())]
    };
    let series: Vec<_> = lags.iter().map(|(key, lag)| (partition(key), lag.lag)).collect();
    gauge(
        encoder,
        "otklik_kafka_consumer_lag",
        "Messages between a consumer group's committed offset and the partition's end, by group.",
        &series,
    )?;
    let stalled = lock(&state.stalled).clone();
    let series: Vec<_> = lags.keys().map(|key| (partition(key), i64::from(stalled.contains(key)))).collect();
    gauge(
        encoder,
        "otklik_kafka_consumer_stalled",
        "1 when a consumer makes no progress while its lag grows.",
        &series,
    )?;
    let queue = stats.as_ref().map(|s| s.producer_queue());
    let (messages, bytes): (Vec<_>, Vec<_>) =
        queue.map(|(m, b)| ((vec![], m as i64), (vec![], b as i64))).into_iter().unzip();
    gauge(encoder, "otklik_kafka_producer_queue_messages", "Messages waiting in the producer's queue.", &messages)?;
    gauge(encoder, "otklik_kafka_producer_queue_bytes", "Bytes waiting in the producer's queue.", &bytes)
}

type TableLabels = Vec<(&'static str, String)>;

/// The ClickHouse sinks' INSERTs, counted as they happen.
#[derive(Clone)]
struct ClickHouseMetrics {
    inserts: Family<TableLabels, Counter>,
    rows: Family<TableLabels, Counter>,
    bytes: Family<TableLabels, Counter>,
    retries: Family<TableLabels, Counter>,
    duration: Family<TableLabels, Histogram, fn() -> Histogram>,
}

impl Default for ClickHouseMetrics {
    fn default() -> Self {
        // 5 ms .. about 20 s: a small batch on a local server to a large one on a busy cluster.
        let histogram: fn() -> Histogram = || Histogram::new(exponential_buckets(0.005, 2.0, 13));
        ClickHouseMetrics {
            inserts: Family::default(),
            rows: Family::default(),
            bytes: Family::default(),
            retries: Family::default(),
            duration: Family::new_with_constructor(histogram),
        }
    }
}

impl ClickHouseMetrics {
    fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "otklik_clickhouse_inserts",
            "INSERTs by table and outcome (ok, retryable, fatal, content).",
            self.inserts.clone(),
        );
        registry.register("otklik_clickhouse_insert_rows", "Rows inserted, by table.", self.rows.clone());
        registry.register(
            "otklik_clickhouse_insert_bytes",
            "Bytes of the rows inserted, as JSONEachRow, by table.",
            self.bytes.clone(),
        );
        registry.register(
            "otklik_clickhouse_insert_retries",
            "INSERTs that failed and are retried, by table.",
            self.retries.clone(),
        );
        let help = "Time an INSERT took, by table.";
        registry.register_with_unit(
            "otklik_clickhouse_insert_duration",
            help,
            prometheus_client::registry::Unit::Seconds,
            self.duration.clone(),
        );
    }
}

impl InsertObserver for ClickHouseMetrics {
    fn inserted(&self, report: InsertReport) {
        let table = vec![("table", report.table.to_owned())];
        let mut outcome = table.clone();
        outcome.push(("outcome", report.outcome.as_str().to_owned()));
        self.inserts.get_or_create(&outcome).inc();
        self.duration.get_or_create(&table).observe(report.elapsed.as_secs_f64());
        // Each table's counters exist from its first INSERT on, at 0 until they count: a rate
        // over a counter that appears only with its first retry misses that retry.
        let (rows, bytes, retries) =
            (self.rows.get_or_create(&table), self.bytes.get_or_create(&table), self.retries.get_or_create(&table));
        match report.outcome {
            InsertOutcome::Ok => {
                rows.inc_by(report.rows);
                bytes.inc_by(report.bytes);
            }
            InsertOutcome::Retryable => {
                retries.inc();
            }
            InsertOutcome::Fatal | InsertOutcome::Content => {}
        }
    }
}

impl std::fmt::Debug for ClickHouseMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClickHouseMetrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn alert(id: &str, topic: &str, state: &str) -> Alert {
        let event = serde_json::json!({
            "schema": 1, "id": id, "state": state, "severity": "high", "method": "baseline",
            "municipality": "56701000", "municipality_name": "Пенза", "topic": topic,
            "window_start": "2026-11-02T06:00:00Z", "window_end": "2026-11-02T09:00:00Z",
            "observed": 21, "expected": 3.5, "p_value": 0.0001, "incidents": 4, "voices": 21,
            "raised_at": "2026-11-02T09:00:00Z"
        });
        serde_json::from_value(event).expect("a valid alert event")
    }

    /// A registry with one of everything the embedded and production wirings register.
    fn populated() -> Registry {
        let registry = Registry::default();
        let stage = Arc::new(StageMetrics::default());
        StageMetrics::add(&stage.received, 7);
        stage.dead_letter(DeadLetterReason::Rejected, 1);
        registry.register("clickhouse", stage);
        registry.register_receivers(vec![("duty".to_owned(), Arc::new(ReceiverMetrics::default()))]);
        registry.register_kafka(KafkaStats::shared());
        registry.source_polls().rate_waits().record("vk:pool1:token1", Duration::from_millis(300));
        registry.classify_counts().add("complaint", ["heating", "hot_water"].into_iter());
        registry.source_polls().record("vk-penza", otklik_model::Platform::Vk, Ok(4), chrono::Utc::now());
        let failed = Err(("transient", "6"));
        registry.source_polls().record("vk-penza", otklik_model::Platform::Vk, failed, chrono::Utc::now());
        registry.set_dependency("clickhouse", true);
        registry.set_config_version("0a1b2c3d");
        registry.alert_observer()(&alert("56701000:heating:20261102T06", "heating", "opened"));
        let report =
            |outcome| InsertReport { table: "posts", rows: 3, bytes: 900, elapsed: Duration::from_millis(40), outcome };
        registry.clickhouse_observer().inserted(report(InsertOutcome::Ok));
        registry.clickhouse_observer().inserted(report(InsertOutcome::Retryable));
        registry.set_ready(true);
        registry
    }

    /// The family a sample belongs to in OpenMetrics: counters drop `_total`, info `_info`,
    /// histograms their `_bucket`/`_sum`/`_count`.
    fn declared_types(text: &str) -> BTreeMap<String, String> {
        let types = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_once(' '));
        types.map(|(name, kind)| (name.to_owned(), kind.to_owned())).collect()
    }

    fn family_of(name: &str, kind: &str) -> String {
        let suffix = match kind {
            "counter" => "_total",
            "info" => "_info",
            _ => "",
        };
        name.strip_suffix(suffix).unwrap_or(name).to_owned()
    }

    #[test]
    fn every_documented_family_is_served_with_its_type_and_parses() {
        let text = populated().render();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
        let declared = declared_types(&text);
        for (name, kind, wiring) in FAMILIES {
            let family = family_of(name, kind);
            assert_eq!(declared.get(&family).map(String::as_str), Some(*kind), "{name}: TYPE line\n{text}");
            let has_samples =
                scrape.samples.iter().any(|s| s.metric == *name || s.metric.starts_with(&format!("{name}_")));
            if *wiring != Wiring::Production || name.starts_with("otklik_clickhouse") || *name == "otklik_dependency_up"
            {
                assert!(has_samples, "{name} has no sample\n{text}");
            }
        }
        let served: Vec<_> = declared.keys().filter(|k| k.starts_with("otklik_")).collect();
        assert_eq!(served.len(), FAMILIES.len(), "a family is served but not listed in FAMILIES: {served:?}");
        let sample = |metric: &str, label: &str, value: &str| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == metric && s.labels.get(label) == Some(value))
                .map(|s| s.value.clone())
        };
        assert_eq!(
            sample("otklik_stage_received_total", "stage", "clickhouse"),
            Some(prometheus_parse::Value::Untyped(7.0))
        );
        assert_eq!(
            sample("otklik_stage_dead_lettered_total", "reason", "rejected"),
            Some(prometheus_parse::Value::Untyped(1.0))
        );
        assert_eq!(
            sample("otklik_clickhouse_insert_rows_total", "table", "posts"),
            Some(prometheus_parse::Value::Untyped(3.0))
        );
        assert_eq!(
            sample("otklik_clickhouse_insert_retries_total", "table", "posts"),
            Some(prometheus_parse::Value::Untyped(1.0))
        );
        assert!(text.contains("otklik_config_info{version=\"0a1b2c3d\"} 1"), "{text}");
        assert!(text.contains("otklik_ready 1"), "{text}");
        assert!(text.contains("otklik_rate_limit_wait_seconds_total{key=\"vk:pool1:token1\"} 0.3"), "{text}");
        assert!(text.contains("otklik_classifier_topics_total{topic=\"heating\"} 1"), "{text}");
    }

    #[test]
    fn open_alerts_are_counted_by_kind_and_topic_as_they_open_and_resolve() {
        let registry = Registry::default();
        let observe = registry.alert_observer();
        let open = |text: &str| -> Vec<String> {
            text.lines().filter(|l| l.starts_with("otklik_alerts_open")).map(str::to_owned).collect()
        };
        assert!(open(&registry.render()).is_empty());
        observe(&alert("a:heating:1", "heating", "opened"));
        observe(&alert("b:heating:1", "heating", "opened"));
        observe(&alert("a:garbage:1", "garbage", "opened"));
        observe(&alert("a:heating:1", "heating", "updated"));
        assert_eq!(
            open(&registry.render()),
            vec![
                "otklik_alerts_open{kind=\"spike\",topic=\"garbage\"} 1",
                "otklik_alerts_open{kind=\"spike\",topic=\"heating\"} 2",
            ]
        );
        observe(&alert("a:heating:1", "heating", "resolved"));
        observe(&alert("a:garbage:1", "garbage", "resolved"));
        assert_eq!(open(&registry.render()), vec!["otklik_alerts_open{kind=\"spike\",topic=\"heating\"} 1"]);
        observe(&alert("a:heating:1", "heating", "reopened"));
        assert_eq!(open(&registry.render()), vec!["otklik_alerts_open{kind=\"spike\",topic=\"heating\"} 2"]);
    }

    #[test]
    fn alerts_open_before_a_restart_count_as_open() {
        use crate::alert_stage::{AlertStage, StageClock};
        use otklik_alert::stage::{AlertCore, Restore, StageConfig};
        let mut core = AlertCore::new(StageConfig::default(), Default::default(), None, Default::default());
        let alerts = vec![alert("a:heating:1", "heating", "updated"), alert("a:garbage:1", "garbage", "resolved")];
        core.restore(Restore { alerts, ..Restore::default() });
        let registry = Registry::default();
        let clock = StageClock::Live { tick: Duration::from_secs(60) };
        let _stage =
            AlertStage::new(core, "classified".into(), "alerts".into(), clock).observed_by(registry.alert_observer());
        let text = registry.render();
        assert!(text.contains("otklik_alerts_open{kind=\"spike\",topic=\"heating\"} 1"), "{text}");
        assert!(!text.contains("topic=\"garbage\""), "{text}");
    }

    #[test]
    fn the_poll_failure_code_is_a_label() {
        let text = populated().render();
        let line =
            "otklik_source_poll_failures_total{source=\"vk-penza\",platform=\"vk\",kind=\"transient\",code=\"6\"} 1";
        assert!(text.contains(line), "{text}");
    }

    #[test]
    fn two_groups_on_one_partition_each_show_their_own_lag() {
        let registry = Registry::default();
        let stats = KafkaStats::shared();
        let lag = |lag, committed| {
            BTreeMap::from([(("raw".to_owned(), 0), otklik_kafka::stats::PartitionLag { lag, committed })])
        };
        stats.record_consumer("rdkafka#consumer-1", "otklik-classify", lag(40, 100));
        stats.record_consumer("rdkafka#consumer-2", "otklik-archive", lag(2, 138));
        registry.register_kafka(stats);
        let text = registry.render();
        let series = |group: &str, value: u32| {
            format!("otklik_kafka_consumer_lag{{group=\"{group}\",topic=\"raw\",partition=\"0\"}} {value}")
        };
        assert!(text.contains(&series("otklik-classify", 40)), "{text}");
        assert!(text.contains(&series("otklik-archive", 2)), "{text}");
    }

    #[test]
    fn a_failed_stage_a_lost_dependency_or_a_stall_makes_the_process_not_ready() {
        let registry = populated();
        assert!(registry.is_ready(), "{:?}", registry.unready_reasons());
        registry.stage_stopped("collect", false);
        assert!(registry.is_ready(), "a replay that ended cleanly keeps the process ready");
        registry.set_dependency("clickhouse", false);
        registry.set_stalled(vec![LagKey::new("otklik-classify", "otklik.posts.raw.v1", 2)]);
        registry.stage_stopped("classify", true);
        let reasons = registry.unready_reasons();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(registry.render().contains("otklik_ready 0"));
    }
}
