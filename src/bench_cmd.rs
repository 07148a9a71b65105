//! `otklik bench pipeline`: what the Kafka path sustains, measured on the real stage runners
//! (`run_map_stage`, `run_sink_stage_draining` over `KafkaBus`) against a real broker.
//!
//! Each scenario gets topics and consumer groups of its own: (a) `transport` — raw topic → a
//! pass-through map stage → Kafka → a counting sink; (b) `classify` — the same with the
//! classifier stage the graph builds; (c) `clickhouse` — the classifier into the ClickHouse
//! posts sink. A producer keeps the raw topic fed with posts whose texts are cut and joined from
//! the repository's fixtures (at most `--max-lag` posts ahead of the sink, so a slow stage shows
//! as lag, not as an ever-growing backlog). Every second the sink's count, each stage's lag, the
//! process RSS and CPU time, and the machine's CPU use are sampled; the figures are taken from
//! the first row that reaches the sink for `--duration`. By default the stages run in this
//! process, so the RSS is that of the producer and both stages together; with `--processes` each
//! stage is a process of its own started from its stage command ([`procs`]), and every process
//! gets its own row of peak RSS and CPU time.

use crate::config::Config;
use crate::graph::{Graph, Stop};
use anyhow::{bail, Context, Result};
use otklik_clickhouse::{ClickHouseSink, Migrator, PostRow};
use otklik_kafka::{KafkaBus, KafkaConfig, TopicSpec};
use otklik_pipeline::{
    BatchSink, Bus, CancellationToken, Message, Output, Publisher, SinkError, StageMetrics, Transform, Unprocessable,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Posts the producer publishes concurrently in one go; a few such chunks are in flight.
const CHUNK: usize = 2_000;
const CHUNKS_IN_FLIGHT: usize = 4;
/// Texts in the pool: the fixtures' own plus cut-and-joined ones.
const POOL_TEXTS: usize = 20_000;
/// A guard against a broker or stage that never delivers, not a pace.
const FIRST_ROW_TIMEOUT: Duration = Duration::from_secs(120);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Raw topic → pass-through map stage → Kafka → counting sink.
    Transport,
    /// Raw topic → classifier stage → Kafka → counting sink.
    Classify,
    /// Raw topic → classifier stage → Kafka → ClickHouse posts sink (needs --clickhouse).
    Clickhouse,
}

pub struct PipelineOptions {
    pub config: PathBuf,
    pub kafka: Option<String>,
    pub clickhouse: Option<String>,
    pub duration: Duration,
    pub scenarios: Vec<Scenario>,
    pub partitions: i32,
    pub max_lag: u64,
    /// The repository root: texts come from its `tests/fixtures` and `config/demo/feeds`.
    pub root: PathBuf,
    /// Further texts: a CSV file with a `text` column (read at bench time, never copied).
    pub texts: Option<PathBuf>,
    /// Each stage as a process of its own.
    pub processes: bool,
    /// The producer stops after this many posts (default: when the window ends).
    pub max_posts: Option<u64>,
}

pub fn pipeline(options: &PipelineOptions) -> Result<()> {
    let mut config = crate::commands::load_config(&options.config)?;
    let brokers = options.kafka.clone().or_else(|| config.kafka.as_ref().map(|k| k.brokers.clone()));
    let brokers = brokers.context("no Kafka broker: give --kafka HOST:PORT or a config with [kafka] brokers")?;
    let mut kafka = config.kafka.clone().unwrap_or_else(|| KafkaConfig::new(&brokers));
    kafka.brokers = brokers;
    config.kafka = Some(kafka);
    if let Some(url) = &options.clickhouse {
        config.clickhouse.url = url.clone();
    }
    let scenarios = scenarios(options)?;
    anyhow::ensure!(options.partitions >= 1, "--partitions must be at least 1");
    let texts = texts::pool(&options.root, options.texts.as_deref())?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    print_header(&config, options, &texts);
    let texts = Arc::new(texts.escaped);
    let logs = if options.processes { Some(procs::log_dir()?) } else { None };
    let mut results = Vec::new();
    for scenario in scenarios {
        let run = run_scenario(&config, options, scenario, texts.clone(), logs.as_deref());
        // Ctrl-C ends the run like an error: dropping the scenario's tasks ends its stage processes.
        let result = runtime.block_on(async {
            tokio::select! {
                result = run => result,
                _ = tokio::signal::ctrl_c() => bail!("interrupted"),
            }
        })?;
        print_result(&result);
        results.push(result);
    }
    if let Some(logs) = logs {
        // Kept when a scenario failed (the error names a log in it), removed after a good run.
        let _ = std::fs::remove_dir_all(logs);
    }
    println!("\n{}", render_table(&results));
    Ok(())
}

fn scenarios(options: &PipelineOptions) -> Result<Vec<Scenario>> {
    let mut scenarios = options.scenarios.clone();
    if scenarios.is_empty() {
        scenarios = vec![Scenario::Transport, Scenario::Classify];
        scenarios.extend(options.clickhouse.is_some().then_some(Scenario::Clickhouse));
    }
    if scenarios.contains(&Scenario::Clickhouse) && options.clickhouse.is_none() {
        bail!("the clickhouse scenario needs --clickhouse URL");
    }
    if options.processes {
        procs::check(options)?;
    }
    Ok(scenarios)
}

/// The producer settings the bus uses: `KafkaBus` fixes acks, idempotence and compression; the
/// rest are librdkafka's defaults unless `[kafka.properties]` sets them.
fn producer_settings(kafka: &KafkaConfig) -> String {
    let get = |key: &str, default: &str| match kafka.properties.get(key) {
        Some(value) => value.clone(),
        None => format!("{default} (default)"),
    };
    format!(
        "acks=all, enable.idempotence=true, compression.type=lz4, linger.ms={}, batch.size={}, batch.num.messages={}, \
         queue.buffering.max.messages={}",
        get("linger.ms", "5"),
        get("batch.size", "1000000"),
        get("batch.num.messages", "10000"),
        get("queue.buffering.max.messages", "100000"),
    )
}

fn print_header(config: &Config, options: &PipelineOptions, texts: &texts::Pool) {
    let kafka = config.kafka.as_ref().map_or_else(String::new, |k| k.brokers.clone());
    println!("== otklik bench pipeline ==");
    println!("broker {kafka}, {} partition(s) per topic, {:?} per scenario", options.partitions, options.duration);
    if options.processes {
        println!("each stage a process of its own (stage commands); this process: the feed");
    } else {
        println!("the stages and the feed in this process");
    }
    println!(
        "texts: {} distinct ({} from the fixtures{}, the rest cut and joined), mean {} chars; every post a new uid",
        texts.escaped.len(),
        texts.base,
        if options.texts.is_some() { " and --texts" } else { "" },
        texts.mean_chars
    );
    let kafka_config =
        config.kafka.as_ref().map_or_else(|| producer_settings(&KafkaConfig::new("")), producer_settings);
    println!("producer: {kafka_config}");
    println!(
        "map stage: batch {}, commit every {:?}; sink: batch_rows {}, batch_wait {:?}",
        config.classify.batch, config.classify.commit_interval.0, config.sink.batch_rows, config.sink.batch_wait.0
    );
    println!(
        "machine: {} CPU(s), load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        probe::loadavg()
    );
}

/// Names of one scenario's topics and groups: fresh each run, so runs never share data.
fn scenario_config(config: &Config, scenario: Scenario, partitions: i32) -> Config {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let name = format!("otklik-bench-{}-{nanos}-{scenario:?}", std::process::id()).to_lowercase();
    let mut config = config.clone();
    if let Some(kafka) = &mut config.kafka {
        kafka.group_prefix = name.clone();
        kafka.client_id = "otklik-bench".into();
        let topics = &mut kafka.topics;
        topics.posts_raw = format!("{name}.raw");
        topics.posts_classified = format!("{name}.out");
        topics.posts_series = format!("{name}.series");
        topics.dlq = format!("{name}.dlq");
        // Stage processes create every topic of their config: none of them a real one.
        topics.alerts = format!("{name}.alerts");
        topics.sources = format!("{name}.sources");
        topics.cursors = format!("{name}.cursors");
        topics.source_stats = format!("{name}.stats");
        topics.partitions = Some(partitions);
    }
    config.clickhouse.database = name.replace('-', "_");
    config
}

fn topic_spec(name: &str, partitions: i32) -> TopicSpec {
    TopicSpec {
        name: name.into(),
        partitions: Some(partitions),
        replication_factor: None,
        compacted: false,
        config: BTreeMap::new(),
    }
}

/// Copies each message to the output topic under its key: the map stage with no work of its own.
struct PassThrough {
    topic: String,
}

impl Transform for PassThrough {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let key = message.key.clone().unwrap_or_default();
        Ok(vec![Output { topic: self.topic.clone(), key, payload: message.payload.clone() }])
    }
}

/// Accepts every batch at once: the sink stage with no destination to wait for.
struct CountingSink;

#[async_trait::async_trait]
impl BatchSink for CountingSink {
    type Row = ();

    fn decode(&self, _message: &Message) -> Result<(), String> {
        Ok(())
    }

    async fn write(&self, _rows: &[()]) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The counters of one running scenario. With `--processes` the stages' counters are copies
/// of their processes' `/metrics`.
struct Probes {
    produced: Arc<AtomicU64>,
    map: Arc<StageMetrics>,
    sink: Arc<StageMetrics>,
    /// The processes whose RSS and CPU time are sampled: this one first.
    processes: Vec<(String, probe::Pid)>,
}

struct Running {
    probes: Probes,
    stop: Stop,
    stop_producer: CancellationToken,
    producer: tokio::task::JoinHandle<Result<()>>,
    /// The map and the sink stage.
    stages: tokio::task::JoinSet<Result<()>>,
}

async fn start(
    config: &Config,
    bus: &KafkaBus,
    options: &PipelineOptions,
    scenario: Scenario,
    texts: Arc<Vec<String>>,
    logs: Option<&std::path::Path>,
) -> Result<Running> {
    let topics = config.topics();
    let names = [&topics.posts_raw, &topics.posts_classified, &topics.posts_series, &topics.dlq];
    let specs: Vec<TopicSpec> = names.iter().map(|t| topic_spec(t, options.partitions)).collect();
    bus.ensure_topics(&specs).await.context("cannot create the bench topics")?;
    let own = if logs.is_some() { "bench (the feed)" } else { "bench (feed + both stages)" };
    let probes = Probes {
        produced: Arc::default(),
        map: Arc::default(),
        sink: Arc::default(),
        processes: vec![(own.to_owned(), probe::Pid::This)],
    };
    let stop_producer = CancellationToken::new();
    let producer = tokio::spawn(async { Ok(()) });
    let mut running =
        Running { probes, stop: Stop::default(), stop_producer, producer, stages: tokio::task::JoinSet::new() };
    match logs {
        Some(logs) => start_processes(&mut running, config, options, scenario, logs)?,
        None => start_in_process(&mut running, config, bus, options, scenario).await?,
    }
    let produced = running.probes.produced.clone();
    let feed = Feed { publisher: bus.publisher(), topic: topics.posts_raw.clone(), texts, produced };
    let limits = (options.max_lag, options.max_posts.unwrap_or(u64::MAX));
    let (sink_metrics, token) = (running.probes.sink.clone(), running.stop_producer.clone());
    running.producer = tokio::spawn(feed.run(sink_metrics, limits, token));
    Ok(running)
}

/// The map stage and the sink as tasks of this process.
async fn start_in_process(
    running: &mut Running,
    config: &Config,
    bus: &KafkaBus,
    options: &PipelineOptions,
    scenario: Scenario,
) -> Result<()> {
    let graph = Graph::new(config, bus);
    let (probes, stop) = (&running.probes, &running.stop);
    let map = match scenario {
        Scenario::Transport => stage::passthrough(config, &graph, bus, probes.map.clone(), stop.stages.clone()).await?,
        Scenario::Classify | Scenario::Clickhouse => {
            let reload = crate::reload::Reload::new(&options.config, config)?;
            graph.classify(&reload, probes.map.clone(), Default::default(), stop.stages.clone()).await?
        }
    };
    running.stages.spawn(async move { map.await.context("the map stage failed") });
    let sink = match scenario {
        Scenario::Clickhouse => {
            let clickhouse = config.clickhouse_sink()?;
            Migrator::new(&clickhouse).migrate(None).await.context("cannot migrate ClickHouse")?;
            let sink = Arc::new(ClickHouseSink::<PostRow>::new(clickhouse));
            graph.posts_sink("clickhouse", sink, probes.sink.clone(), stop).await?
        }
        _ => graph.posts_sink("count", Arc::new(CountingSink), probes.sink.clone(), stop).await?,
    };
    running.stages.spawn(async move { sink.await.context("the sink stage failed") });
    Ok(())
}

/// The map stage and the sink as processes of their own, each with its config and log in `logs`.
fn start_processes(
    running: &mut Running,
    config: &Config,
    options: &PipelineOptions,
    scenario: Scenario,
    logs: &std::path::Path,
) -> Result<()> {
    let [map, sink] = procs::commands(scenario);
    for (command, metrics) in [(map, running.probes.map.clone()), (sink, running.probes.sink.clone())] {
        let addr = procs::free_local_address()?;
        let stage_config = procs::write_config(&options.config, config, &addr, command.metrics_stage)?;
        let log = logs.join(format!("{}-{}.log", config.clickhouse.database, command.metrics_stage));
        procs::spawn(running, &command, stage_config, addr, &log, metrics)?;
    }
    Ok(())
}

/// Publishes posts to the raw topic until stopped, staying at most `max_lag` posts ahead of
/// the sink.
struct Feed {
    publisher: Arc<dyn Publisher>,
    topic: String,
    texts: Arc<Vec<String>>,
    produced: Arc<AtomicU64>,
}

impl Feed {
    /// `limits`: at most this many posts ahead of the sink, at most this many in all.
    async fn run(self, sink: Arc<StageMetrics>, limits: (u64, u64), stop: CancellationToken) -> Result<()> {
        let (max_lag, max_posts) = limits;
        let this = Arc::new(self);
        let mut in_flight = tokio::task::JoinSet::new();
        let mut next = 0u64;
        while !stop.is_cancelled() && next < max_posts {
            // Finished chunks count in `produced`, no longer in `in_flight`.
            while let Some(done) = in_flight.try_join_next() {
                done.context("producer task panicked")??;
            }
            let ahead = this.produced.load(Ordering::Relaxed) + (in_flight.len() * CHUNK) as u64;
            if ahead.saturating_sub(StageMetrics::get(&sink.emitted)) > max_lag {
                // Backpressure: wait for the sink to catch up (or the end), then look again.
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(5)) => continue,
                }
            }
            let feed = this.clone();
            let chunk = (max_posts - next).min(CHUNK as u64);
            in_flight.spawn(async move { feed.publish_chunk(next, chunk).await });
            next += chunk;
            while in_flight.len() >= CHUNKS_IN_FLIGHT {
                in_flight.join_next().await.context("producer task")?.context("producer task panicked")??;
            }
        }
        while let Some(done) = in_flight.join_next().await {
            done.context("producer task panicked")??;
        }
        Ok(())
    }

    async fn publish_chunk(&self, first: u64, posts: u64) -> Result<()> {
        let records: Vec<(String, String)> = (first..first + posts).map(|n| self.record(n)).collect();
        let sends = records
            .iter()
            .map(|(key, payload)| self.publisher.publish(&self.topic, key.as_bytes(), payload.as_bytes()));
        for result in futures_util::future::join_all(sends).await {
            result.context("cannot publish a bench post")?;
        }
        self.produced.fetch_add(posts, Ordering::Relaxed);
        Ok(())
    }

    /// Post `n`: a fresh uid, a text from the pool, times within the last day.
    fn record(&self, n: u64) -> (String, String) {
        let uid = format!("tg:otklik_bench:{n}");
        let text = &self.texts[(n % self.texts.len() as u64) as usize];
        let published = chrono::DateTime::from_timestamp(1_795_000_000 + (n % 86_400) as i64, 0).unwrap_or_default();
        let published = otklik_model::format_rfc3339_secs(&published);
        let payload = format!(
            "{{\"schema\":1,\"uid\":\"{uid}\",\"platform\":\"telegram\",\"source_id\":\"tg-otklik-bench\",\
             \"published_at\":\"{published}\",\"collected_at\":\"{published}\",\"text\":{text}}}"
        );
        (uid, payload)
    }
}

mod probe;
mod procs;
mod report;
pub mod stage;
mod texts;

use report::{print_result, render_table, ScenarioResult};

async fn run_scenario(
    config: &Config,
    options: &PipelineOptions,
    scenario: Scenario,
    texts: Arc<Vec<String>>,
    logs: Option<&std::path::Path>,
) -> Result<ScenarioResult> {
    let config = scenario_config(config, scenario, options.partitions);
    let kafka = config.kafka.clone().context("no [kafka]")?;
    let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
    println!("\n-- {scenario:?}: topics {}.*", config.topics().posts_raw.trim_end_matches(".raw"));
    let mut running = start(&config, &bus, options, scenario, texts, logs).await?;
    let first = wait_first_row(&mut running).await?;
    let window = report::measure(&running.probes, &mut running.stages, options.duration, first).await?;
    let drained = drain(&mut running).await?;
    running.stop.stages.cancel();
    running.stop.drain.cancel();
    while let Some(done) = running.stages.join_next().await {
        done.context("a bench task panicked")??;
    }
    let probes = &running.probes;
    let dead = StageMetrics::get(&probes.map.dead_lettered) + StageMetrics::get(&probes.sink.dead_lettered);
    let (produced, counted) = (probes.produced.load(Ordering::Relaxed), StageMetrics::get(&probes.sink.emitted));
    Ok(ScenarioResult { scenario, window, drained, dead_lettered: dead, produced, counted })
}

/// Waits for the first row at the sink (joining the groups and the first fetch take seconds).
async fn wait_first_row(running: &mut Running) -> Result<Instant> {
    let started = Instant::now();
    while StageMetrics::get(&running.probes.sink.emitted) == 0 {
        if started.elapsed() > FIRST_ROW_TIMEOUT {
            bail!("no post reached the sink in {FIRST_ROW_TIMEOUT:?}");
        }
        report::check_stages(&mut running.stages)?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Instant::now())
}

/// After the producer stopped: how long until the sink has everything that was published
/// (`None`: not within [`DRAIN_TIMEOUT`]).
async fn drain(running: &mut Running) -> Result<Option<Duration>> {
    running.stop_producer.cancel();
    let started = Instant::now();
    (&mut running.producer).await.context("the producer panicked")??;
    let produced = running.probes.produced.load(Ordering::Relaxed);
    while StageMetrics::get(&running.probes.sink.emitted) < produced {
        if started.elapsed() > DRAIN_TIMEOUT {
            return Ok(None);
        }
        report::check_stages(&mut running.stages)?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Some(started.elapsed()))
}
