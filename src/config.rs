//! `otklik.toml`: the configuration, its defaults, and validation that reports every problem at
//! once with file, line and a hint (`otklik check-config`).
//!
//! Paths in the file are relative to the file's directory. Secrets never appear in the file:
//! it names environment variables or files that hold them. Endpoints and secrets can be
//! overridden from the environment (`OTKLIK_KAFKA_BROKERS`, `OTKLIK_CLICKHOUSE_URL`,
//! `OTKLIK_CLICKHOUSE_PASSWORD`, `OTKLIK_DATA_DIR`).

use otklik_collect::ok::OkConfig;
use otklik_collect::telegram::TelegramConfig;
use otklik_collect::vk::VkConfig;
use otklik_kafka::{KafkaConfig, TopicsConfig};
use otklik_model::{Platform, Schema, Source};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
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
    /// Where the file was read from; relative paths resolve against its directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub sources: Vec<Source>,
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
    /// Partitions of each in-memory topic (embedded mode).
    pub partitions: i32,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { mode: Mode::Embedded, data_dir: "data".into(), partitions: 4 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
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

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { log_format: LogFormat::Pretty, log_level: "info".into(), metrics_listen: String::new() }
    }
}

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

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig { url: "http://127.0.0.1:8123".into(), database: "otklik".into(), user: "default".into(), password_env: String::new(), password_file: None }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    pub batch_rows: usize,
    pub batch_bytes: ByteSize,
    pub batch_wait: HumanDuration,
    pub retry_initial: HumanDuration,
    pub retry_max: HumanDuration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            batch_rows: 50_000,
            batch_bytes: ByteSize(32 << 20),
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
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig { topics_dir: "topics".into(), gazetteer: "gazetteer/gazetteer.tsv".into() }
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
    /// How often each source is polled.
    pub poll_interval: HumanDuration,
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
            telegram: TelegramConfig::default(),
            vk: VkConfig::default(),
            ok: OkConfig::default(),
        }
    }
}

/// The sources file: `[[source]]` tables with `Source`'s fields (the wire `schema` is implied).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    source: Vec<SourceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceEntry {
    id: String,
    platform: Platform,
    handle: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    municipality: Option<String>,
    #[serde(default)]
    official: bool,
    #[serde(default)]
    comments: otklik_model::CommentsPolicy,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
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

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; `None` when the problem is not at one place (a missing table).
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message)?,
            None => write!(f, "{}: {}", self.file.display(), self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
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
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return Err(Problems(vec![Problem { file: path.into(), line: None, message: format!("cannot read: {e}"), hint: None }])),
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
    }

    /// The ClickHouse password, from `OTKLIK_CLICKHOUSE_PASSWORD`, the variable named by
    /// `password_env`, or `password_file`. Never logged.
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
            Some(file) => std::fs::read_to_string(self.resolve(file))
                .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|e| format!("cannot read clickhouse.password_file {}: {e}", self.resolve(file).display())),
            None => Ok(None),
        }
    }

    fn validate(&mut self, path: &Path, text: &str, problems: &mut Vec<Problem>) {
        let at = |key: &str, message: String, hint: Option<&str>| Problem {
            file: path.to_owned(),
            line: crate::tomlcheck::line_of(text, key),
            message: format!("{key}: {message}"),
            hint: hint.map(str::to_owned),
        };
        if self.run.partitions < 1 {
            problems.push(at("run.partitions", "must be at least 1".into(), None));
        }
        if self.telemetry.log_level.parse::<tracing_subscriber::EnvFilter>().is_err() {
            problems.push(at("telemetry.log_level", format!("{:?} is not a valid log filter", self.telemetry.log_level), Some("e.g. \"info\" or \"otklik=debug,info\"")));
        }
        if !self.telemetry.metrics_listen.is_empty() && self.telemetry.metrics_listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(at("telemetry.metrics_listen", format!("{:?} is not an address", self.telemetry.metrics_listen), Some("e.g. \"127.0.0.1:9464\", or \"\" to disable")));
        }
        if self.run.mode == Mode::Production && self.kafka.is_none() {
            problems.push(at("run.mode", "production mode needs a [kafka] table with brokers".into(), Some("add [kafka] brokers = \"host:9092\", or set OTKLIK_KAFKA_BROKERS")));
        }
        if self.sink.batch_rows == 0 {
            problems.push(at("sink.batch_rows", "must be at least 1".into(), None));
        }
        if self.run.mode == Mode::Production {
            if let Err(message) = self.clickhouse_password() {
                let key = if self.clickhouse.password_env.is_empty() { "clickhouse.password_file" } else { "clickhouse.password_env" };
                problems.push(at(key, message, Some("secrets come from the environment or a file, never from otklik.toml")));
            }
            if !self.clickhouse.url.starts_with("http://") && !self.clickhouse.url.starts_with("https://") {
                problems.push(at("clickhouse.url", format!("{:?} is not an http(s) URL", self.clickhouse.url), None));
            }
        }
        let topics_dir = self.resolve(&self.classify.topics_dir);
        if !topics_dir.is_dir() {
            problems.push(at("classify.topics_dir", format!("{} is not a directory", topics_dir.display()), None));
        }
        if !self.classify.gazetteer.as_os_str().is_empty() && !self.resolve(&self.classify.gazetteer).is_file() {
            problems.push(at("classify.gazetteer", format!("{} does not exist", self.resolve(&self.classify.gazetteer).display()), Some("set it to \"\" to run without municipality detection from text")));
        }
        if let Some(dir) = &self.collect.replay_dir {
            if !self.resolve(dir).is_dir() {
                problems.push(at("collect.replay_dir", format!("{} is not a directory", self.resolve(dir).display()), None));
            }
        }
        let sources_path = self.resolve(&self.collect.sources_file);
        match std::fs::read_to_string(&sources_path) {
            Err(e) => problems.push(at("collect.sources_file", format!("cannot read {}: {e}", sources_path.display()), None)),
            Ok(sources_text) => {
                if let Some(file) = crate::tomlcheck::deserialize_all::<SourcesFile>(&sources_path, &sources_text, problems) {
                    // Entries cut for errors are already reported; validate the rest.
                    self.sources = validate_sources(&sources_path, &sources_text, file.source, problems);
                }
            }
        }
        self.validate_secrets(path, text, problems);
    }

    /// Live collection needs each network's reader settings and credentials for its enabled
    /// sources: report every problem (secrets by variable or file name, never a value). A
    /// network nobody collects from live is not checked.
    fn validate_secrets(&self, path: &Path, text: &str, problems: &mut Vec<Problem>) {
        if self.collect.replay_dir.is_some() {
            return;
        }
        let needs = |platform| self.sources.iter().any(|s| s.enabled && s.platform == platform);
        let at = |key: &str, message: String| Problem {
            file: path.to_owned(),
            line: crate::tomlcheck::line_of(text, key).or_else(|| crate::tomlcheck::line_of(text, "collect")),
            message: format!("{key}: {message}"),
            hint: Some("secrets come from the environment or files, never from otklik.toml".into()),
        };
        if needs(Platform::Telegram) {
            for problem in self.collect.telegram.validate() {
                problems.push(at("collect.telegram", problem));
            }
        }
        if needs(Platform::Vk) {
            for problem in self.collect.vk.validate() {
                problems.push(at("collect.vk", problem));
            }
            if let Err(e) = self.collect.vk.resolve_tokens(&self.base_dir) {
                for problem in e.problems {
                    problems.push(at("collect.vk", problem.to_string()));
                }
            }
        }
        if needs(Platform::Ok) {
            for problem in self.collect.ok.validate() {
                problems.push(at(&format!("collect.ok.{}", problem.field), problem.message));
            }
            if let Err(e) = self.collect.ok.resolve_credentials_with(&|name| std::env::var(name).ok(), Some(&self.base_dir)) {
                for problem in e.problems {
                    problems.push(at(&format!("collect.ok.{}", problem.field), problem.message));
                }
            }
        }
    }
}

fn validate_sources(path: &Path, text: &str, entries: Vec<SourceEntry>, problems: &mut Vec<Problem>) -> Vec<Source> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut sources = Vec::new();
    for e in entries {
        let occurrence = *seen.get(&e.id).unwrap_or(&0);
        seen.insert(e.id.clone(), occurrence + 1);
        let line = crate::tomlcheck::line_of_element(text, "source", "id", &e.id, occurrence);
        let mut problem = |message: String, hint: Option<&str>| {
            problems.push(Problem { file: path.to_owned(), line, message: format!("source {:?}: {message}", e.id), hint: hint.map(str::to_owned) })
        };
        if occurrence > 0 {
            problem("duplicate source id".into(), Some("ids must be unique: they key cursors and the sources topic"));
        }
        if e.id.is_empty() || e.id.contains(char::is_whitespace) {
            problem("id must be non-empty without spaces".into(), None);
        }
        if e.handle.trim().is_empty() || e.handle.chars().any(char::is_control) {
            problem(format!("handle {:?} is not a feed handle", e.handle), Some("VK: owner id like \"-12345\" or screen name; Telegram: channel username; OK: group id"));
        }
        if let Some(code) = &e.municipality {
            if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
                problem(format!("municipality {code:?} is not an 8-digit ОКТМО code"), Some("e.g. \"56701000\" for г. Пенза"));
            }
        }
        sources.push(Source {
            schema: Schema,
            id: e.id,
            platform: e.platform,
            handle: e.handle,
            name: e.name,
            municipality: e.municipality,
            official: e.official,
            comments: e.comments,
            enabled: e.enabled,
        });
    }
    sources
}
