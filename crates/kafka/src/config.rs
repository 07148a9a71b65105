use crate::error::{Error, Result};
use otklik_pipeline::units::{check_count, ConfigProblem};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How to reach Kafka and how the clients behave (the `[kafka]` table of `otklik.toml`).
///
/// ```toml
/// [kafka]
/// brokers = "kafka-1:9092,kafka-2:9092"  # required: bootstrap servers
/// client_id = "otklik"                   # default "otklik"; shows in broker logs and quotas
/// group_prefix = "otklik"                # default "otklik": consumer groups are
///                                         # "{group_prefix}-classify", "-clickhouse", …
/// sasl_password_env = "KAFKA_PASSWORD"    # default "": the variable holding `sasl.password`
/// [kafka.properties]                      # default empty: extra librdkafka properties for
/// "security.protocol" = "sasl_ssl"        # every client (see librdkafka's CONFIGURATION.md);
/// "sasl.mechanisms" = "SCRAM-SHA-512"     # never credentials: those come from the environment
/// "sasl.username" = "otklik"
/// [kafka.topics]                          # default: DESIGN.md's names, broker's partition and
/// partitions = 12                         # replication defaults (1..=10000;
/// replication_factor = 3                  # 1..=100)
/// ```
///
/// The adapter's own guarantees (idempotent producer, `acks=all`, lz4, manual commits) are set
/// after `properties`, so they cannot be switched off by accident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// `client.id` of every client.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// The consumer groups of the stages are `{group_prefix}-{stage}`: two deployments on one
    /// cluster (staging and production, two regions) keep their progress apart.
    #[serde(default = "default_client_id")]
    pub group_prefix: String,
    /// The environment variable holding the SASL password (`sasl.password`); empty: none.
    #[serde(default)]
    pub sasl_password_env: String,
    /// Extra librdkafka properties applied to every client (security, timeouts, tuning); no
    /// credentials (see [`KafkaConfig::sasl_password_env`]).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Topic names and how [`crate::KafkaBus::ensure_topics`] creates them.
    #[serde(default)]
    pub topics: TopicsConfig,
}

fn default_client_id() -> String {
    "otklik".to_owned()
}

impl KafkaConfig {
    /// A config with defaults for everything but the brokers.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig {
            brokers: brokers.into(),
            client_id: default_client_id(),
            group_prefix: default_client_id(),
            sasl_password_env: String::new(),
            properties: BTreeMap::new(),
            topics: TopicsConfig::default(),
        }
    }

    /// Every problem with the values, each naming its field (`topics.partitions`): brokers
    /// non-empty, `topics.partitions` 1..=10000, `topics.replication_factor` 1..=100.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.brokers.split(',').all(|b| b.trim().is_empty()) {
            problems.push(ConfigProblem::new("brokers", "is empty").with_hint("e.g. \"kafka-1:9092,kafka-2:9092\""));
        }
        if self.client_id.trim().is_empty() {
            problems.push(ConfigProblem::new("client_id", "must not be empty"));
        }
        for key in self.properties.keys().filter(|key| is_credential(key)) {
            let problem = ConfigProblem::new(format!("properties.{key}"), "a credential in the config file");
            problems.push(
                problem.with_hint("secrets come from the environment: name the variable in kafka.sasl_password_env"),
            );
        }
        if let Err(e) = self.sasl_password() {
            problems.push(ConfigProblem::new("sasl_password_env", e.to_string()));
        }
        if self.group_prefix.is_empty()
            || !self.group_prefix.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            problems.push(ConfigProblem::new("group_prefix", "must be letters, digits, '.', '_' or '-'"));
        }
        if let Some(n) = self.topics.partitions {
            check_count(&mut problems, "topics.partitions", u64::try_from(n).unwrap_or(0), 1..=10_000);
        }
        if let Some(n) = self.topics.replication_factor {
            check_count(&mut problems, "topics.replication_factor", u64::try_from(n).unwrap_or(0), 1..=100);
        }
        problems
    }

    /// The consumer group of `stage`.
    pub fn group(&self, stage: &str) -> String {
        format!("{}-{stage}", self.group_prefix)
    }

    /// The SASL password from the variable named by `sasl_password_env`, if one is named.
    pub fn sasl_password(&self) -> Result<Option<String>> {
        if self.sasl_password_env.is_empty() {
            return Ok(None);
        }
        std::env::var(&self.sasl_password_env).map(Some).map_err(|_| {
            Error::Config(format!(
                "environment variable {} (kafka.sasl_password_env) is not set",
                self.sasl_password_env
            ))
        })
    }

    /// The common part of every client's librdkafka config.
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        self.config_with(&[])
    }

    /// A consumer's config: the common part and a bounded prefetch ([`CONSUMER_DEFAULTS`]).
    pub(crate) fn consumer_config(&self) -> Result<ClientConfig> {
        self.config_with(CONSUMER_DEFAULTS)
    }

    /// The common part with `defaults`, which `[kafka.properties]` may override.
    fn config_with(&self, defaults: &[(&str, &str)]) -> Result<ClientConfig> {
        if self.brokers.trim().is_empty() {
            return Err(Error::Config("kafka.brokers is empty".into()));
        }
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.brokers.trim());
        config.set("client.id", &self.client_id);
        // Lag and queue depth for /metrics; `[kafka.properties]` may change the interval (0: off).
        config.set("statistics.interval.ms", crate::stats::DEFAULT_STATS_INTERVAL_MS);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        if let Some(password) = self.sasl_password()? {
            config.set("sasl.password", password);
        }
        Ok(config)
    }
}

/// What every consumer sets unless `[kafka.properties]` says otherwise. librdkafka prefetches up
/// to 64 MiB per consumer by default, which a slow stage (the classifier) keeps full: 16 MiB keeps
/// a stage fed and its process well under 200 MB (the classifier stage's RSS 165 → 123 MiB in the
/// bench). A full prefetch queue postpones the next fetch by `fetch.queue.backoff.ms`, 1 s by
/// default, which halved the transport's throughput with the smaller queue (99,700 → 49,900
/// posts/s); 20 ms gives it back (100,000).
pub(crate) const CONSUMER_DEFAULTS: &[(&str, &str)] =
    &[("queued.max.messages.kbytes", "16384"), ("fetch.queue.backoff.ms", "20")];

/// Topic names (DESIGN.md's defaults) and the shape [`crate::KafkaBus::ensure_topics`] gives
/// them when it creates them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    pub posts_raw: String,
    pub posts_classified: String,
    /// Classified posts with a topic, keyed by municipality (else source): the alert stage's input.
    pub posts_series: String,
    pub alerts: String,
    pub dlq: String,
    pub sources: String,
    pub cursors: String,
    /// Sources' audiences as polls saw them (`SourceStat`, keyed by source id): a log, every
    /// observation is a point of the growth series the sink stores.
    pub source_stats: String,
    /// Partitions of each new topic; `None` (the default) takes the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// Replication factor of each new topic; `None` (the default) takes the broker's
    /// `default.replication.factor`.
    pub replication_factor: Option<i32>,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            posts_raw: "otklik.posts.raw.v1".into(),
            posts_classified: "otklik.posts.classified.v1".into(),
            posts_series: "otklik.posts.series.v1".into(),
            alerts: "otklik.alerts.v1".into(),
            dlq: "otklik.dlq.v1".into(),
            sources: "otklik.sources.v1".into(),
            cursors: "otklik.cursors.v1".into(),
            source_stats: "otklik.sources.stats.v1".into(),
            partitions: None,
            replication_factor: None,
        }
    }
}

impl TopicsConfig {
    /// Every topic of DESIGN.md, ready for [`crate::KafkaBus::ensure_topics`]: sources and
    /// cursors are compacted (the latest value per key is the state), the rest are logs.
    pub fn specs(&self) -> Vec<TopicSpec> {
        let spec = |name: &str, compacted: bool| TopicSpec {
            name: name.to_owned(),
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            compacted,
            config: BTreeMap::new(),
        };
        // One partition of alerts: one notifier (the group's member that holds it) sees every
        // alert, so grouping by municipality and regional inhibition see the whole region; the
        // others stand by and take over within the session timeout.
        let alerts = TopicSpec { partitions: Some(1), ..spec(&self.alerts, false) };
        vec![
            spec(&self.posts_raw, false),
            spec(&self.posts_classified, false),
            spec(&self.posts_series, false),
            alerts,
            spec(&self.dlq, false),
            spec(&self.sources, true),
            spec(&self.cursors, true),
            spec(&self.source_stats, false),
        ]
    }
}

/// One topic to create if it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    /// `None`: the broker's default.
    pub partitions: Option<i32>,
    /// `None`: the broker's default.
    pub replication_factor: Option<i32>,
    /// `cleanup.policy=compact` (keep the latest record per key) instead of `delete`.
    pub compacted: bool,
    /// Further topic configs (`retention.ms`, `min.insync.replicas`, …).
    pub config: BTreeMap<String, String>,
}

/// librdkafka properties that hold credentials (`sasl.password`, `ssl.key.password`,
/// `sasl.oauthbearer.client.secret`, …).
fn is_credential(key: &str) -> bool {
    key.contains("password") || key.contains("secret")
}

impl TopicSpec {
    /// How an existing topic with `partitions` partitions and topic configs `value(key)`
    /// differs from this spec, in words.
    pub fn mismatches(&self, partitions: i32, value: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(wanted) = self.partitions.filter(|&wanted| partitions < wanted) {
            problems.push(format!(
                "has {partitions} partitions, {wanted} configured (add them with kafka-topics --alter --partitions {wanted}; keyed order changes for moved keys)"
            ));
        }
        let policy = value("cleanup.policy").unwrap_or_default();
        let compacted = policy.split(',').any(|p| p.trim() == "compact");
        if self.compacted && !compacted {
            problems
                .push(format!("cleanup.policy is {policy:?}, not compact: old state would be deleted by retention"));
        }
        for (key, wanted) in &self.config {
            let actual = value(key);
            if actual.as_deref() != Some(wanted.as_str()) {
                problems.push(format!(
                    "{key} is {}, {wanted:?} configured",
                    actual.map_or("unset".to_owned(), |a| format!("{a:?}"))
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_rejects_unknown_keys() {
        let config: KafkaConfig = toml_like(r#"{"brokers": "a:9092"}"#);
        assert_eq!(config, KafkaConfig::new("a:9092"));
        assert_eq!(config.topics.specs().len(), 8);
        assert!(config
            .topics
            .specs()
            .iter()
            .filter(|s| s.compacted)
            .all(|s| s.name.contains("sources") || s.name.contains("cursors")));
        let err = serde_json::from_str::<KafkaConfig>(r#"{"brokers": "a", "brokerz": "b"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<KafkaConfig>(r#"{"brokers": "a", "topics": {"partition": 3}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn credentials_come_from_the_environment_never_from_properties() {
        let mut config = KafkaConfig::new("a:9092");
        config.properties.insert("sasl.password".into(), "in-the-file".into());
        config.sasl_password_env = "OTKLIK_TEST_KAFKA_PASSWORD_SURELY_UNSET".into();
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["properties.sasl.password", "sasl_password_env"]);
    }

    #[test]
    fn an_existing_topic_is_compared_with_its_spec() {
        let mut spec = TopicsConfig { partitions: Some(12), ..TopicsConfig::default() }.specs().remove(5);
        assert!(spec.compacted && spec.name.ends_with("sources.v1"));
        spec.config.insert("retention.ms".into(), "604800000".into());
        let configs = |policy: &'static str| move |key: &str| (key == "cleanup.policy").then(|| policy.to_owned());
        let problems = spec.mismatches(3, configs("delete"));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("has 3 partitions, 12 configured"));
        assert!(problems[1].contains("not compact"));
        assert!(problems[2].starts_with("retention.ms is unset"));
        spec.config.clear();
        assert!(spec.mismatches(12, configs("compact")).is_empty());
        assert!(spec.mismatches(24, configs("compact,delete")).is_empty(), "more partitions than asked is fine");
    }

    #[test]
    fn consumers_prefetch_a_bounded_amount_unless_the_properties_say_otherwise() {
        let mut config = KafkaConfig::new("a:9092");
        let prefetch = |config: &KafkaConfig| {
            config.consumer_config().unwrap().get("queued.max.messages.kbytes").map(str::to_owned)
        };
        assert_eq!(prefetch(&config).as_deref(), Some("16384"));
        assert_eq!(config.consumer_config().unwrap().get("fetch.queue.backoff.ms"), Some("20"));
        assert_eq!(
            config.client_config().unwrap().get("queued.max.messages.kbytes"),
            None,
            "a producer has no prefetch"
        );
        config.properties.insert("queued.max.messages.kbytes".into(), "65536".into());
        assert_eq!(prefetch(&config).as_deref(), Some("65536"));
    }

    #[test]
    fn empty_brokers_is_a_config_error() {
        let err = KafkaConfig::new(" ").client_config().unwrap_err();
        assert!(matches!(err, Error::Config(_)) && !err.is_retryable());
    }

    #[test]
    fn validate_names_each_field() {
        assert!(KafkaConfig::new("a:9092").validate().is_empty());
        let mut config = KafkaConfig::new(" , ");
        config.topics.partitions = Some(0);
        config.topics.replication_factor = Some(-1);
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["brokers", "topics.partitions", "topics.replication_factor"]);
    }

    fn toml_like(json: &str) -> KafkaConfig {
        serde_json::from_str(json).unwrap()
    }
}
