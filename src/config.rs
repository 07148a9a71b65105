//! `otklik.toml`: the configuration, its defaults, and validation that reports every problem at
//! once with file, line and a hint (`otklik check-config`).
//!
//! Every section checks its own values the same way: a `validate()` returning
//! [`ConfigProblem`]s (field, message, hint — every duration, size and count against its
//! documented range), which [`Config::load`] places at the field's line. Every file read here is
//! capped ([`CONFIG_MAX_BYTES`], `collect.sources_max_bytes`, [`SECRET_FILE_MAX_BYTES`]), so a
//! path such as `/dev/zero` is an error at once.
//!
//! Paths in the file are relative to the file's directory. Secrets never appear in the file:
//! it names environment variables or files that hold them. Endpoints and secrets can be
//! overridden from the environment (`OTKLIK_KAFKA_BROKERS`, `OTKLIK_CLICKHOUSE_URL`,
//! `OTKLIK_CLICKHOUSE_PASSWORD`, `OTKLIK_DATA_DIR`).

use otklik_classify::gazetteer::Gazetteer;
use otklik_classify::Classifier;
use otklik_collect::ok::OkConfig;
use otklik_collect::telegram::TelegramConfig;
use otklik_collect::vk::VkConfig;
use otklik_kafka::{KafkaConfig, TopicsConfig};
/// One problem of the config, located: the one shape every component's validation reports in.
pub use otklik_model::Problem;
use otklik_model::{CommentsPolicy, Platform, Schema, Source};
use otklik_pipeline::units::SECRET_FILE_MAX_BYTES;
use otklik_pipeline::units::{check_count, check_duration, check_size, read_capped, ConfigProblem};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The most of `otklik.toml` that is read: a real one is a few KiB.
pub const CONFIG_MAX_BYTES: usize = 4 << 20;
/// The default of `collect.sources_max_bytes`.
pub const SOURCES_MAX_BYTES: usize = 64 << 20;
/// The top of `collect.sources_max_bytes`'s range.
const SOURCES_MAX_BYTES_LIMIT: usize = 1 << 30;

const SECOND: Duration = Duration::from_secs(1);
const MILLISECOND: Duration = Duration::from_millis(1);

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub serve: ServeConfig,
    /// Required in production mode.
    #[serde(default)]
    pub kafka: Option<KafkaConfig>,
    #[serde(default)]
    pub clickhouse: ClickHouseConfig,
    #[serde(default)]
    pub sink: SinkConfig,
    #[serde(default)]
    pub classify: ClassifyConfig,
    #[serde(default)]
    pub collect: CollectConfig,
    #[serde(default)]
    pub alert: AlertConfig,
    /// Alert delivery: routing (`[[alerts.route]]`) and receivers (`[[alerts.receiver]]`).
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Response tracking: the responders file, deadlines per organisation type, overdue alerts.
    #[serde(default)]
    pub responses: ResponsesConfig,
    /// Where the file was read from; relative paths resolve against its directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub sources: Vec<Source>,
    /// The organisations of `responses.responders_file`.
    #[serde(skip)]
    pub responders: otklik_respond::Responders,
    #[serde(skip)]
    loaded: Loaded,
}

/// The gazetteer and the classifier as the config check loaded them, kept so that a process runs
/// what was checked and reads neither twice (reading them was most of `otklik classify`'s
/// start-up: the rules twice, the gazetteer three times).
#[derive(Clone, Default)]
struct Loaded {
    gazetteer: Option<Arc<Gazetteer>>,
    classifier: Option<Arc<Classifier>>,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("gazetteer", &self.gazetteer.as_ref().map(|g| g.version().to_owned()))
            .field("classifier", &self.classifier.as_ref().map(|c| c.version().to_owned()))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One process, in-memory bus, local JSONEachRow store: nothing to install.
    #[default]
    Embedded,
    /// Stages connected by Kafka; posts go to ClickHouse.
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub mode: Mode,
    /// The embedded local store's directory.
    pub data_dir: PathBuf,
    /// Partitions of each in-memory topic (embedded mode), 1..=1024.
    pub partitions: i32,
}

impl RunConfig {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        check_count(&mut problems, "partitions", u64::try_from(self.partitions).unwrap_or(0), 1..=1024);
        problems
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { mode: Mode::Embedded, data_dir: "data".into(), partitions: 4 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// A `tracing` filter: `info`, `otklik=debug,info`, …
    pub log_level: String,
    /// Address of the `/metrics`, `/healthz`, `/readyz` listener (`127.0.0.1:9464`); empty
    /// disables it.
    pub metrics_listen: String,
}

impl TelemetryConfig {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.log_level.parse::<tracing_subscriber::EnvFilter>().is_err() {
            let problem = ConfigProblem::new("log_level", format!("{:?} is not a valid log filter", self.log_level));
            problems.push(problem.with_hint("e.g. \"info\" or \"otklik=debug,info\""));
        }
        if !self.metrics_listen.is_empty() && self.metrics_listen.parse::<std::net::SocketAddr>().is_err() {
            let problem = ConfigProblem::new("metrics_listen", format!("{:?} is not an address", self.metrics_listen));
            problems.push(problem.with_hint("e.g. \"127.0.0.1:9464\", or \"\" to disable"));
        }
        problems
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { log_format: LogFormat::Pretty, log_level: "info".into(), metrics_listen: String::new() }
    }
}

/// `otklik serve`: the duty officer's page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address of the page; loopback by default, as the page shows residents' posts.
    pub listen: String,
    /// The environment variable holding the token that silencing from the page needs (at least
    /// 16 characters); with neither this nor `silence_token_file` the page is read-only.
    pub silence_token_env: String,
    /// A file holding that token; used when `silence_token_env` is empty.
    pub silence_token_file: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig { listen: "127.0.0.1:8080".into(), silence_token_env: String::new(), silence_token_file: None }
    }
}

/// A shorter silence token is too easy to guess.
const SILENCE_TOKEN_MIN_CHARS: usize = 16;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP endpoint.
    pub url: String,
    pub database: String,
    pub user: String,
    /// Name of the environment variable holding the password (empty: no password).
    pub password_env: String,
    /// A file holding the password (Kubernetes/systemd secrets); used when `password_env` is empty.
    pub password_file: Option<PathBuf>,
}

impl ClickHouseConfig {
    /// What production mode needs of the endpoint (the password is checked with the secrets).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if !self.url.starts_with("http://") && !self.url.starts_with("https://") {
            problems.push(ConfigProblem::new("url", format!("{:?} is not an http(s) URL", self.url)));
        }
        problems
    }
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "otklik".into(),
            user: "default".into(),
            password_env: String::new(),
            password_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// 1..=1000000.
    pub batch_rows: usize,
    /// 1KiB..=1GiB.
    pub batch_bytes: ByteSize,
    /// 1ms..=5m: a replay or a shutdown never waits it out (the sinks drain), but a live sink
    /// holds rows this long.
    pub batch_wait: HumanDuration,
    /// 1ms..=1m.
    pub retry_initial: HumanDuration,
    /// 1ms..=1h.
    pub retry_max: HumanDuration,
}

impl SinkConfig {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        check_count(&mut problems, "batch_rows", self.batch_rows as u64, 1..=1_000_000);
        check_size(&mut problems, "batch_bytes", self.batch_bytes.0, 1 << 10..=1 << 30);
        check_duration(&mut problems, "batch_wait", self.batch_wait.0, MILLISECOND..=SECOND * 300);
        check_duration(&mut problems, "retry_initial", self.retry_initial.0, MILLISECOND..=SECOND * 60);
        check_duration(&mut problems, "retry_max", self.retry_max.0, MILLISECOND..=SECOND * 3600);
        problems
    }
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            batch_rows: 50_000,
            // 16 MiB of messages is about 13,000 of the bench's classified posts, an INSERT a
            // second at 20,000 posts/s. Against 32 MiB (bench, ClickHouse scenario): the sink
            // process 217 → 149 MiB RSS, 18,700 → 21,200 posts/s overall.
            batch_bytes: ByteSize(16 << 20),
            batch_wait: HumanDuration(Duration::from_secs(1)),
            retry_initial: HumanDuration(Duration::from_millis(200)),
            retry_max: HumanDuration(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyConfig {
    pub topics_dir: PathBuf,
    /// The compiled gazetteer; empty disables municipality detection from text.
    pub gazetteer: PathBuf,
    /// The region served, its two-digit ОКТМО code («56»: Penza oblast): its places are preferred,
    /// and a post naming only another region's gets none. The gazetteer must list it in full
    /// (`scripts/gazetteer/generate.py --region CODE`).
    pub region: String,
    /// Messages the classifier stage takes at once when they are waiting, 1..=100000: their
    /// outputs are published concurrently, so a larger batch keeps more records in flight.
    pub batch: usize,
    /// Batches whose records may await the broker's acknowledgement while the next batch is
    /// classified, 1..=64 (1: each batch is acknowledged before the next is taken).
    pub in_flight: usize,
    /// The classifier stage commits at least this often while busy, 10ms..=5m: a crash
    /// re-classifies at most this much work.
    pub commit_interval: HumanDuration,
}

impl ClassifyConfig {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        check_count(&mut problems, "batch", self.batch as u64, 1..=100_000);
        check_count(&mut problems, "in_flight", self.in_flight as u64, 1..=64);
        if self.region.len() != 2 || !self.region.bytes().all(|b| b.is_ascii_digit()) {
            let message = format!("{:?} is not a two-digit ОКТМО region code", self.region);
            let problem = ConfigProblem::new("region", message);
            problems.push(problem.with_hint("Penza oblast is \"56\", Samara oblast \"36\""));
        }
        check_duration(&mut problems, "commit_interval", self.commit_interval.0, MILLISECOND * 10..=SECOND * 300);
        problems
    }
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            topics_dir: "topics".into(),
            gazetteer: "gazetteer/gazetteer.tsv".into(),
            region: otklik_classify::gazetteer::DEFAULT_REGION.into(),
            batch: 512,
            in_flight: 4,
            commit_interval: HumanDuration(SECOND),
        }
    }
}

/// The alert stage: incident linking and spike detection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// `config/calendar/*.toml`: heating seasons, planned outages, holidays (a missing directory
    /// is an empty calendar).
    pub calendar_dir: PathBuf,
    /// Tail probability below which a window fires, 1e-12..=0.01 (calibrated: 1e-5).
    pub alpha: f64,
    /// The NB CUSUM's decision threshold, 1..=1000 (calibrated: 16).
    pub cusum_threshold: f64,
    /// The region's offset from UTC in hours, -12..=14 (hour-of-week profile, holidays).
    pub utc_offset_hours: i64,
    /// Series are evaluated at every multiple of this, 1m..=1h.
    pub evaluate_every: HumanDuration,
    /// Plain rules: `[[alert.threshold]] topic = "heating"  count = 10  window_hours = 1`.
    pub threshold: Vec<otklik_alert::detect::rules::ThresholdRule>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        let detector = otklik_alert::detect::DetectorConfig::default();
        AlertConfig {
            calendar_dir: "calendar".into(),
            alpha: detector.alpha,
            cusum_threshold: detector.cusum_threshold,
            utc_offset_hours: detector.utc_offset_hours,
            evaluate_every: HumanDuration(Duration::from_secs(15 * 60)),
            threshold: Vec::new(),
        }
    }
}

impl AlertConfig {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if !(1e-12..=0.01).contains(&self.alpha) {
            problems.push(
                ConfigProblem::new("alpha", format!("{} is outside the allowed range", self.alpha))
                    .with_hint("allowed: 1e-12 ..= 0.01"),
            );
        }
        if !(1.0..=1000.0).contains(&self.cusum_threshold) {
            let problem =
                ConfigProblem::new("cusum_threshold", format!("{} is outside the allowed range", self.cusum_threshold));
            problems.push(problem.with_hint("allowed: 1 ..= 1000"));
        }
        if !(-12..=14).contains(&self.utc_offset_hours) {
            let problem = ConfigProblem::new(
                "utc_offset_hours",
                format!("{} is outside the allowed range", self.utc_offset_hours),
            );
            problems.push(problem.with_hint("allowed: -12 ..= 14"));
        }
        check_duration(&mut problems, "evaluate_every", self.evaluate_every.0, SECOND * 60..=SECOND * 3600);
        for rule in &self.threshold {
            check_count(&mut problems, "threshold.count", rule.count, 1..=1_000_000);
            check_count(&mut problems, "threshold.window_hours", rule.window_hours.into(), 1..=24);
        }
        problems
    }

    /// The detector's parameters.
    pub fn detector(&self) -> otklik_alert::detect::DetectorConfig {
        otklik_alert::detect::DetectorConfig {
            alpha: self.alpha,
            cusum_threshold: self.cusum_threshold,
            utc_offset_hours: self.utc_offset_hours,
            thresholds: self.threshold.clone(),
            ..Default::default()
        }
    }
}

/// `[alerts]`: how alert events reach people — the router's timing and routes (the router is
/// `otklik_alert::route`, which owns their meaning and checks) and the receivers (owned by
/// `otklik_notify`). Spelled out here rather than flattened: serde cannot refuse unknown keys
/// through a flattened table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    pub group_wait: HumanDuration,
    pub group_interval: HumanDuration,
    pub repeat_interval: HumanDuration,
    pub regional_min_municipalities: u64,
    #[serde(rename = "route")]
    pub routes: Vec<otklik_alert::route::RouteRule>,
    #[serde(rename = "receiver")]
    pub receivers: Vec<otklik_notify::ReceiverConfig>,
    /// A webhook sink in this process for a demo or a first try: `[alerts.local_receiver]`.
    pub local_receiver: Option<LocalReceiverConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let router = otklik_alert::route::RouterConfig::default();
        AlertsConfig {
            group_wait: HumanDuration(router.group_wait),
            group_interval: HumanDuration(router.group_interval),
            repeat_interval: HumanDuration(router.repeat_interval),
            regional_min_municipalities: router.regional_min_municipalities,
            routes: router.routes,
            receivers: Vec::new(),
            local_receiver: None,
        }
    }
}

/// A tiny webhook receiver started by the run itself: it serves the webhook receiver named
/// `receiver` (whose URL's host and port it replaces with where it listens), checks each
/// delivery's signature and appends it to `<data_dir>/received/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalReceiverConfig {
    /// Where to listen; port 0 picks a free one.
    #[serde(default = "LocalReceiverConfig::default_listen")]
    pub listen: String,
    /// The `[[alerts.receiver]]` (a webhook) it receives for.
    pub receiver: String,
}

impl LocalReceiverConfig {
    fn default_listen() -> String {
        "127.0.0.1:0".into()
    }
}

impl AlertsConfig {
    /// The router's part.
    pub fn router(&self) -> otklik_alert::route::RouterConfig {
        otklik_alert::route::RouterConfig {
            group_wait: self.group_wait.0,
            group_interval: self.group_interval.0,
            repeat_interval: self.repeat_interval.0,
            regional_min_municipalities: self.regional_min_municipalities,
            routes: self.routes.clone(),
        }
    }

    pub fn validate(&self) -> Vec<ConfigProblem> {
        let router = self.router();
        let mut problems = router.validate();
        for (index, problem) in otklik_notify::validate_receivers(&self.receivers) {
            let name = self.receivers.get(index).map_or("?", |r| r.name());
            problems.push(ConfigProblem { field: format!("receiver[{name}].{}", problem.field), ..problem });
        }
        let names: std::collections::BTreeSet<&str> = self.receivers.iter().map(|r| r.name()).collect();
        for wanted in router.receiver_names() {
            if !names.contains(wanted) {
                let problem =
                    ConfigProblem::new("route.receivers", format!("no [[alerts.receiver]] is named {wanted:?}"));
                problems.push(
                    problem.with_hint(format!("receivers: {}", names.iter().copied().collect::<Vec<_>>().join(", "))),
                );
            }
        }
        if let Some(local) = &self.local_receiver {
            if local.listen.parse::<std::net::SocketAddr>().is_err() {
                problems.push(ConfigProblem::new(
                    "local_receiver.listen",
                    format!("{:?} is not an address:port", local.listen),
                ));
            }
            let is_webhook =
                |r: &&otklik_notify::ReceiverConfig| matches!(r, otklik_notify::ReceiverConfig::Webhook(_));
            if !self.receivers.iter().filter(is_webhook).any(|r| r.name() == local.receiver) {
                let message = format!("no webhook [[alerts.receiver]] is named {:?}", local.receiver);
                problems.push(ConfigProblem::new("local_receiver.receiver", message));
            }
        }
        problems
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectConfig {
    /// The sources file (`[[source]]` tables).
    pub sources_file: PathBuf,
    /// When set, sources are read from saved responses under this directory instead of the
    /// networks, once, and the run ends when everything is processed.
    pub replay_dir: Option<PathBuf>,
    /// How often each source is polled, 1s..=7d.
    pub poll_interval: HumanDuration,
    /// The sources file is refused past this size (default 64MiB; 1KiB..=1GiB).
    pub sources_max_bytes: ByteSize,
    /// Where a collector finds its sources: the sources file, or its share of the sources topic.
    pub sources: SourcesFrom,
    /// This collector's name: `group.instance.id` and User-Agent suffix; empty: the host name
    /// (`OTKLIK_INSTANCE_ID` overrides).
    pub instance_id: String,
    /// The part of every configured rate this process uses, 0.001..=1 (a fleet of N: 1/N).
    pub rate_share: f64,
    pub telegram: TelegramConfig,
    pub vk: VkConfig,
    pub ok: OkConfig,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            sources_file: "sources.example.toml".into(),
            replay_dir: None,
            poll_interval: HumanDuration(Duration::from_secs(300)),
            sources_max_bytes: ByteSize(SOURCES_MAX_BYTES),
            sources: SourcesFrom::File,
            instance_id: String::new(),
            rate_share: 1.0,
            telegram: TelegramConfig::default(),
            vk: VkConfig::default(),
            ok: OkConfig::default(),
        }
    }
}

impl CollectConfig {
    /// This table's own values; the networks' tables are checked when a source needs them.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        check_duration(&mut problems, "poll_interval", self.poll_interval.0, SECOND..=SECOND * 7 * 86_400);
        check_size(&mut problems, "sources_max_bytes", self.sources_max_bytes.0, 1 << 10..=SOURCES_MAX_BYTES_LIMIT);
        if !(0.001..=1.0).contains(&self.rate_share) {
            let problem = ConfigProblem::new("rate_share", format!("{} is outside 0.001..=1", self.rate_share));
            problems.push(problem.with_hint("a fleet of N collectors sharing tokens uses 1/N each, e.g. 0.25"));
        }
        let id = &self.instance_id;
        if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            let message = format!("{id:?} must be at most 64 letters, digits, '.', '_' or '-'");
            let problem = ConfigProblem::new("instance_id", message);
            problems.push(problem.with_hint("\"\" takes the host name"));
        }
        problems
    }

    /// This process's collector name: `instance_id`, else the host name, else `otklik`.
    pub fn instance(&self) -> String {
        if !self.instance_id.is_empty() {
            return self.instance_id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().or_else(|| std::env::var("HOSTNAME").ok());
        let allowed = |c: &char| c.is_ascii_alphanumeric() || "._-".contains(*c);
        let host: String = host.unwrap_or_default().trim().chars().filter(allowed).take(64).collect();
        if host.is_empty() {
            "otklik".to_owned()
        } else {
            host
        }
    }
}

/// Where collectors find their sources (`collect.sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourcesFrom {
    /// Every collector polls every source of `collect.sources_file`.
    #[default]
    File,
    /// Each collector polls the sources of the partitions of the sources topic its consumer
    /// group assigns it (production mode).
    Kafka,
}

/// The sources file: `[[source]]` tables with `Source`'s fields (the wire `schema` is implied).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    source: Vec<SourceEntry>,
}

/// Every field is optional here so that an entry always deserialises once its wrong keys are
/// cut: the entry's other fields are still checked, and required ones by `validate_sources`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SourceEntry {
    id: Option<String>,
    platform: Option<Platform>,
    handle: Option<String>,
    name: String,
    municipality: Option<String>,
    official: bool,
    comments: CommentsPolicy,
    enabled: Option<bool>,
}

/// A duration written as `250ms`, `30s`, `5m`, `2h`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        otklik_pipeline::units::deserialize_duration(d).map(HumanDuration)
    }
}

/// A size written as `512KiB`, `32MiB`, `1GiB` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        otklik_pipeline::units::deserialize_size(d).map(ByteSize)
    }
}

/// Every problem found, in file order.
#[derive(Debug)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            writeln!(f, "{p}")?;
        }
        write!(f, "{} problem(s) found", self.0.len())
    }
}

impl std::error::Error for Problems {}

impl Config {
    /// Reads, validates and resolves `path` (and the sources file it names), applying
    /// environment overrides. Returns every problem found, not just the first.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let mut problems = Vec::new();
        let text = match read_capped(path, CONFIG_MAX_BYTES) {
            Ok(text) => text,
            Err(e) => {
                return Err(Problems(vec![Problem {
                    file: path.into(),
                    line: None,
                    message: format!("cannot read: {e}"),
                    hint: None,
                }]))
            }
        };
        let mut config: Option<Config> = crate::tomlcheck::deserialize_all(path, &text, &mut problems);
        if let Some(config) = &mut config {
            config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            config.apply_env();
            config.validate(path, &text, &mut problems);
        }
        problems.sort_by_key(|p| (p.file.clone(), p.line));
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(Problems(problems)),
        }
    }

    /// A path from the file, resolved against the file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The classifier of `[classify]`: topic rules and, unless disabled, the gazetteer — the one
    /// [`Config::load`] built while checking them (a config comes from nowhere else).
    pub fn classifier(&self) -> anyhow::Result<Arc<Classifier>> {
        self.loaded.classifier.clone().ok_or_else(|| anyhow::anyhow!("the config was not loaded by Config::load"))
    }

    /// Where the alert stage's history is read back: ClickHouse in production mode, the local
    /// store in embedded mode.
    pub fn history(&self) -> anyhow::Result<otklik_clickhouse::History> {
        Ok(match self.run.mode {
            Mode::Production => otklik_clickhouse::History::ClickHouse(self.clickhouse_sink()?),
            Mode::Embedded => otklik_clickhouse::History::Local(self.resolve(&self.run.data_dir)),
        })
    }

    /// The calendar of expected spikes (`[alert] calendar_dir`).
    pub fn calendar(&self) -> anyhow::Result<otklik_alert::detect::calendar::Calendar> {
        use anyhow::Context;
        otklik_alert::detect::calendar::Calendar::load_dir(&self.resolve(&self.alert.calendar_dir))
            .context("cannot load the calendar")
    }

    /// A fresh alert stage state: the detector of `[alert]`, the calendar, the gazetteer of
    /// `[classify]` (for place detail) and which sources are official — those of `rules` when a
    /// process has them loaded already (shared, not loaded twice), else loaded here. `live`: a
    /// clock that follows the wall clock jumps over long gaps instead of replaying them.
    pub fn alert_core(
        &self,
        live: bool,
        rules: Option<&crate::reload::Rules>,
    ) -> anyhow::Result<otklik_alert::stage::AlertCore> {
        use anyhow::Context;
        use otklik_alert::stage::{AlertCore, StageConfig};
        let (gazetteer, official) = match rules {
            Some(rules) => (rules.classifier.shared_gazetteer(), rules.official()),
            None => (self.gazetteer(), self.sources.iter().map(|s| (s.id.clone(), s.official)).collect()),
        };
        let every = chrono::Duration::from_std(self.alert.evaluate_every.0).context("[alert] evaluate_every")?;
        let defaults = StageConfig::default();
        let config = StageConfig {
            detector: self.alert.detector(),
            evaluate_every: every,
            max_catch_up: if live { defaults.max_catch_up } else { None },
            ..defaults
        };
        let core = AlertCore::new(config, self.calendar()?, gazetteer, official);
        Ok(match self.responses.overdue() {
            Some(overdue) => core.with_overdue(otklik_respond::OverdueTracker::new(overdue, self.responders.clone())),
            None => core,
        })
    }

    /// The gazetteer of `[classify]` in its region, as [`Config::load`] loaded it; none when
    /// disabled.
    pub fn gazetteer(&self) -> Option<Arc<Gazetteer>> {
        self.loaded.gazetteer.clone()
    }

    /// The ClickHouse connection, password from its secret source (registered for masking; never
    /// logged: `ClickHouseSinkConfig`'s `Debug` redacts it).
    pub fn clickhouse_sink(&self) -> anyhow::Result<otklik_clickhouse::ClickHouseSinkConfig> {
        use anyhow::Context;
        let mut sink = otklik_clickhouse::ClickHouseSinkConfig::new(&self.clickhouse.url, &self.clickhouse.database);
        sink.user = self.clickhouse.user.clone();
        sink.password = self.clickhouse_password().map_err(anyhow::Error::msg).context("ClickHouse password")?;
        sink.password.iter().for_each(|password| otklik_pipeline::secrets::register(password));
        Ok(sink)
    }

    pub fn topics(&self) -> TopicsConfig {
        self.kafka.as_ref().map(|k| k.topics.clone()).unwrap_or_default()
    }

    fn apply_env(&mut self) {
        if let Ok(brokers) = std::env::var("OTKLIK_KAFKA_BROKERS") {
            match &mut self.kafka {
                Some(kafka) => kafka.brokers = brokers,
                None => self.kafka = Some(KafkaConfig::new(brokers)),
            }
        }
        if let Ok(url) = std::env::var("OTKLIK_CLICKHOUSE_URL") {
            self.clickhouse.url = url;
        }
        if let Ok(dir) = std::env::var("OTKLIK_DATA_DIR") {
            self.run.data_dir = dir.into();
        }
        if let Ok(instance) = std::env::var("OTKLIK_INSTANCE_ID") {
            self.collect.instance_id = instance;
        }
    }

    /// The ClickHouse password, from `OTKLIK_CLICKHOUSE_PASSWORD`, the variable named by
    /// `password_env`, or `password_file` (read at most [`SECRET_FILE_MAX_BYTES`]). Never logged.
    pub fn clickhouse_password(&self) -> Result<Option<String>, String> {
        if let Ok(password) = std::env::var("OTKLIK_CLICKHOUSE_PASSWORD") {
            return Ok(Some(password));
        }
        let ch = &self.clickhouse;
        if !ch.password_env.is_empty() {
            return std::env::var(&ch.password_env)
                .map(Some)
                .map_err(|_| format!("environment variable {} (clickhouse.password_env) is not set", ch.password_env));
        }
        match &ch.password_file {
            Some(file) => read_capped(&self.resolve(file), SECRET_FILE_MAX_BYTES)
                .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|e| format!("cannot read clickhouse.password_file {}: {e}", self.resolve(file).display())),
            None => Ok(None),
        }
    }

    /// The token silencing from the page needs, from `serve.silence_token_env` or
    /// `serve.silence_token_file`; `None` when neither is set. Never logged.
    pub fn silence_token(&self) -> Result<Option<String>, ConfigProblem> {
        let serve = &self.serve;
        let token = if !serve.silence_token_env.is_empty() {
            let unset = || format!("environment variable {} is not set", serve.silence_token_env);
            let token = std::env::var(&serve.silence_token_env);
            let token = token.map_err(|_| ConfigProblem::new("silence_token_env", unset()))?;
            Some(("silence_token_env", token))
        } else if let Some(file) = &serve.silence_token_file {
            let path = self.resolve(file);
            let token = read_capped(&path, SECRET_FILE_MAX_BYTES).map_err(|e| {
                ConfigProblem::new("silence_token_file", format!("cannot read {}: {e}", path.display()))
            })?;
            Some(("silence_token_file", token.trim_end_matches(['\n', '\r']).to_owned()))
        } else {
            None
        };
        match token {
            Some((field, token)) if token.chars().count() < SILENCE_TOKEN_MIN_CHARS => {
                let message = format!("the token is shorter than {SILENCE_TOKEN_MIN_CHARS} characters");
                Err(ConfigProblem::new(field, message).with_hint("e.g. openssl rand -hex 24"))
            }
            token => Ok(token.map(|(_, token)| token)),
        }
    }

    fn validate_serve(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.serve.listen.parse::<std::net::SocketAddr>().is_err() {
            let problem = ConfigProblem::new("listen", format!("{:?} is not an address", self.serve.listen));
            problems.push(problem.with_hint("e.g. \"127.0.0.1:8080\""));
        }
        if !self.serve.silence_token_env.is_empty() && self.serve.silence_token_file.is_some() {
            let message = "set silence_token_env or silence_token_file, not both";
            problems.push(ConfigProblem::new("silence_token_file", message));
        }
        problems.extend(self.silence_token().err());
        problems
    }

    fn validate(&mut self, path: &Path, text: &str, problems: &mut Vec<Problem>) {
        let place = Placer { file: path, text };
        place.all("run", self.run.validate(), problems);
        place.all("telemetry", self.telemetry.validate(), problems);
        place.all("serve", self.validate_serve(), problems);
        place.all("sink", self.sink.validate(), problems);
        place.all("classify", self.classify.validate(), problems);
        place.all("collect", self.collect.validate(), problems);
        place.all("alert", self.alert.validate(), problems);
        place.all("alerts", self.alerts.validate(), problems);
        if let Some(kafka) = &self.kafka {
            place.all("kafka", kafka.validate(), problems);
        }
        if self.run.mode == Mode::Production {
            self.validate_production(&place, problems);
        } else if self.collect.sources == SourcesFrom::Kafka {
            let problem = ConfigProblem::new("sources", "\"kafka\" needs production mode");
            place.all("collect", vec![problem.with_hint("set [run] mode = \"production\" with [kafka]")], problems);
        }
        self.validate_paths(&place, problems);
        self.validate_sources_file(&place, problems);
        place.all("responses", self.responses.validate(), problems);
        self.validate_responders_file(problems);
        self.validate_secrets(&place, problems);
    }

    fn validate_responders_file(&mut self, problems: &mut Vec<Problem>) {
        if self.responses.responders_file.as_os_str().is_empty() {
            return;
        }
        let path = self.resolve(&self.responses.responders_file);
        let known = self.loaded.gazetteer.as_deref();
        let ids: Vec<String> = self.sources.iter().map(|s| s.id.clone()).collect();
        self.responders = responders_file::read(&path, known, &ids, problems);
    }

    fn validate_production(&self, place: &Placer<'_>, problems: &mut Vec<Problem>) {
        if self.collect.sources == SourcesFrom::Kafka && self.collect.replay_dir.is_some() {
            let problem = ConfigProblem::new("sources", "\"kafka\" cannot be combined with replay_dir");
            place.all("collect", vec![problem.with_hint("a replay reads the sources file once")], problems);
        }
        if self.kafka.is_none() {
            let problem = ConfigProblem::new("mode", "production mode needs a [kafka] table with brokers");
            let problem = problem.with_hint("add [kafka] brokers = \"host:9092\", or set OTKLIK_KAFKA_BROKERS");
            place.all("run", vec![problem], problems);
        }
        if let Err(message) = self.clickhouse_password() {
            let field = if self.clickhouse.password_env.is_empty() { "password_file" } else { "password_env" };
            let problem = ConfigProblem::new(field, message);
            let problem = problem.with_hint("secrets come from the environment or a file, never from otklik.toml");
            place.all("clickhouse", vec![problem], problems);
        }
        place.all("clickhouse", self.clickhouse.validate(), problems);
    }

    fn validate_paths(&mut self, place: &Placer<'_>, problems: &mut Vec<Problem>) {
        if let Err(e) = self.calendar() {
            place.all("alert", vec![ConfigProblem::new("calendar_dir", format!("{e:#}"))], problems);
        }
        let mut found = Vec::new();
        let gazetteer = self.load_gazetteer(&mut found);
        let topics_dir = self.resolve(&self.classify.topics_dir);
        if !topics_dir.is_dir() {
            found.push(ConfigProblem::new("topics_dir", format!("{} is not a directory", topics_dir.display())));
        } else {
            // The rules load as `run` would load them: a broken rule fails here, not at start-up.
            match Classifier::load_with_gazetteer(&topics_dir, gazetteer.clone(), &self.classify.region) {
                Ok(classifier) => self.loaded.classifier = Some(Arc::new(classifier)),
                Err(e) => found.push(ConfigProblem::new("topics_dir", format!("the topic rules do not load: {e}"))),
            }
        }
        self.loaded.gazetteer = gazetteer;
        place.all("classify", found, problems);
        if let Some(dir) = &self.collect.replay_dir {
            if !self.resolve(dir).is_dir() {
                let message = format!("{} is not a directory", self.resolve(dir).display());
                place.all("collect", vec![ConfigProblem::new("replay_dir", message)], problems);
            }
        }
    }

    fn validate_sources_file(&mut self, place: &Placer<'_>, problems: &mut Vec<Problem>) {
        let sources_path = self.resolve(&self.collect.sources_file);
        self.sources = self.read_sources(&sources_path, place, problems);
    }

    /// The sources of `path` (`otklik sources import`), checked as `check-config` checks the
    /// configured sources file: every problem with its file and line.
    pub fn load_sources(&self, path: &Path) -> Result<Vec<Source>, Problems> {
        let mut problems = Vec::new();
        let place = Placer { file: path, text: "" };
        let sources = self.read_sources(path, &place, &mut problems);
        if problems.is_empty() {
            Ok(sources)
        } else {
            problems.sort_by_key(|p| (p.file.clone(), p.line));
            Err(Problems(problems))
        }
    }

    fn read_sources(&self, sources_path: &Path, place: &Placer<'_>, problems: &mut Vec<Problem>) -> Vec<Source> {
        // Clamped to the range's top: an out-of-range cap (reported) must not make the read endless.
        let cap = self.collect.sources_max_bytes.0.min(SOURCES_MAX_BYTES_LIMIT);
        let sources_text = match read_capped(sources_path, cap) {
            Ok(text) => text,
            Err(e) => {
                let message = format!("cannot read {}: {e}", sources_path.display());
                let problem = ConfigProblem::new("sources_file", message);
                let problem = problem.with_hint("collect.sources_max_bytes sets the size limit (default 64MiB)");
                place.all("collect", vec![problem], problems);
                return Vec::new();
            }
        };
        let file = crate::tomlcheck::deserialize_all::<SourcesFile>(sources_path, &sources_text, problems);
        let Some(file) = file else { return Vec::new() };
        let sources_place = Placer { file: sources_path, text: &sources_text };
        validate_sources(&sources_place, file.source, self.loaded.gazetteer.as_deref(), problems)
    }

    /// The configured gazetteer in its region, loaded as `run` would load it (size-capped; errors
    /// name the file and line, never its text); one that does not load is a problem at
    /// `classify.gazetteer` or `classify.region`.
    fn load_gazetteer(&self, found: &mut Vec<ConfigProblem>) -> Option<Arc<Gazetteer>> {
        if self.classify.gazetteer.as_os_str().is_empty() {
            return None;
        }
        let path = self.resolve(&self.classify.gazetteer);
        if !path.is_file() {
            let what = if path.exists() { "is not a regular file" } else { "does not exist" };
            let problem = ConfigProblem::new("gazetteer", format!("{} {what}", path.display()));
            found.push(problem.with_hint("set it to \"\" to run without municipality detection from text"));
            return None;
        }
        match Gazetteer::load(&path).map(|g| g.with_home_region(&self.classify.region)) {
            Ok(Ok(gazetteer)) => Some(Arc::new(gazetteer)),
            Ok(Err(e)) => {
                found.push(ConfigProblem::new("region", e.to_string()));
                None
            }
            Err(e) => {
                found.push(ConfigProblem::new("gazetteer", format!("cannot load: {e}")));
                None
            }
        }
    }

    /// Live collection needs each network's reader settings and credentials for its enabled
    /// sources: report every problem (secrets by variable or file name, never a value). A
    /// network nobody collects from live is not checked.
    fn validate_secrets(&self, place: &Placer<'_>, problems: &mut Vec<Problem>) {
        if self.collect.replay_dir.is_some() {
            return;
        }
        let needs = |platform| self.sources.iter().any(|s| s.enabled && s.platform == platform);
        if needs(Platform::Telegram) {
            place.all("collect.telegram", self.collect.telegram.validate(), problems);
        }
        if needs(Platform::Vk) {
            place.all("collect.vk", self.collect.vk.validate(), problems);
            if let Err(e) = self.collect.vk.resolve_tokens(&self.base_dir) {
                place.all("collect.vk", e.problems.iter().filter_map(vk_secret_problem).collect(), problems);
            }
        }
        if needs(Platform::Ok) {
            // resolve_credentials_with reports validate()'s problems too.
            if let Err(e) =
                self.collect.ok.resolve_credentials_with(&|name| std::env::var(name).ok(), Some(&self.base_dir))
            {
                place.all("collect.ok", e.problems, problems);
            }
        }
    }
}

/// A VK token problem at its field; «none configured» is already one of `validate()`'s.
fn vk_secret_problem(problem: &otklik_collect::vk::SecretProblem) -> Option<ConfigProblem> {
    use otklik_collect::vk::SecretProblem as P;
    let field = match problem {
        P::NoneConfigured => return None,
        P::MissingEnv(_) | P::EmptyEnv(_) => "tokens_env",
        P::UnreadableFile { .. } | P::EmptyFile(_) => "token_files",
    };
    Some(ConfigProblem::new(field, problem.to_string()))
}

/// Places a section's [`ConfigProblem`]s at their keys' lines in one file.
struct Placer<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Placer<'_> {
    /// `section` is the table's dotted path (`collect.vk`, `source[3]`); a field that is not in
    /// the file (a default) is placed at its table, else at the nearest enclosing one.
    fn all(&self, section: &str, found: Vec<ConfigProblem>, problems: &mut Vec<Problem>) {
        for problem in found {
            // `rate (period)` is the key `rate`; `topics.partitions` a key of a sub-table.
            let key = problem.field.split([' ', ',']).next().unwrap_or_default();
            let full = format!("{section}.{key}");
            let line = std::iter::successors(Some(full.as_str()), |k| k.rsplit_once('.').map(|(head, _)| head))
                .find_map(|k| crate::tomlcheck::line_of(self.text, k));
            let secret = ["token", "secret", "password"].iter().any(|w| key.contains(w));
            let secret_hint = || "secrets come from the environment or files, never from otklik.toml".to_owned();
            let hint = problem.hint.or_else(|| secret.then(secret_hint));
            let message = format!("{section}.{}: {}", problem.field, problem.message);
            problems.push(Problem { file: self.file.to_owned(), line, message, hint });
        }
    }
}

fn validate_sources(
    place: &Placer<'_>,
    entries: Vec<SourceEntry>,
    known: Option<&Gazetteer>,
    out: &mut Vec<Problem>,
) -> Vec<Source> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut sources = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let section = format!("source[{index}]");
        let mut found = Vec::new();
        if let Some(id) = &entry.id {
            let count = seen.entry(id.clone()).or_default();
            *count += 1;
            if *count > 1 {
                let problem = ConfigProblem::new("id", format!("duplicate source id {id:?}"));
                found.push(problem.with_hint("ids must be unique: they key cursors and the sources topic"));
            }
        }
        if let Some(source) = check_source(place, &section, entry, known, &mut found) {
            sources.push(source);
        }
        place.all(&section, found, out);
    }
    sources
}

/// Every problem of one `[[source]]` entry; the [`Source`] when it has what a source needs.
fn check_source(
    place: &Placer<'_>,
    section: &str,
    e: SourceEntry,
    gazetteer: Option<&Gazetteer>,
    found: &mut Vec<ConfigProblem>,
) -> Option<Source> {
    // A required key that is in the file but was cut for its own error is reported already.
    let mut required = |key: &str, present: bool| {
        if !present && !crate::tomlcheck::has_key(place.text, &format!("{section}.{key}")) {
            let problem = ConfigProblem::new(key, "is missing");
            found.push(problem.with_hint("every [[source]] needs id, platform and handle"));
        }
    };
    required("id", e.id.is_some());
    required("platform", e.platform.is_some());
    required("handle", e.handle.is_some());
    if let Some(id) = &e.id {
        if id.is_empty() || id.contains(char::is_whitespace) {
            found.push(ConfigProblem::new("id", format!("{id:?} must be non-empty without spaces")));
        }
    }
    if let (Some(platform), Some(handle)) = (e.platform, &e.handle) {
        if let Some(problem) = handle_problem(platform, handle) {
            found.push(ConfigProblem::new("handle", problem));
        }
    }
    if let Some(code) = &e.municipality {
        found.extend(municipality_problem(code, gazetteer));
    }
    Some(Source {
        schema: Schema,
        id: e.id?,
        platform: e.platform?,
        handle: e.handle?,
        name: e.name,
        municipality: e.municipality,
        official: e.official,
        comments: e.comments,
        enabled: e.enabled.unwrap_or(true),
    })
}

/// Why `code` is no municipality's ОКТМО code (of the gazetteer, when one is configured).
fn municipality_problem(code: &str, gazetteer: Option<&Gazetteer>) -> Option<ConfigProblem> {
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        let problem = ConfigProblem::new("municipality", format!("{code:?} is not an 8-digit ОКТМО code"));
        Some(problem.with_hint("e.g. \"56701000\" for г. Пенза"))
    } else if gazetteer.is_some_and(|g| g.municipality(code).is_none()) {
        let message = format!("{code:?} is not a municipality of the gazetteer");
        let problem = ConfigProblem::new("municipality", message);
        Some(problem.with_hint("use a municipal district's or urban okrug's code from classify.gazetteer"))
    } else {
        None
    }
}

/// Why a handle names no feed its network's reader can poll.
fn handle_problem(platform: Platform, handle: &str) -> Option<String> {
    match platform {
        Platform::Vk => VkConfig::handle_problem(handle),
        Platform::Telegram => TelegramConfig::handle_problem(handle),
        Platform::Ok => OkConfig::handle_problem(handle),
    }
}

#[path = "responders_file.rs"]
mod responders_file;
pub use responders_file::ResponsesConfig;

#[cfg(test)]
#[path = "config_fuzz.rs"]
mod fuzz;
