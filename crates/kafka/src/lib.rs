//! otklik's Kafka adapter: the pipeline's bus seams over Apache Kafka (librdkafka via `rdkafka`).
//!
//! This is the production transport between stages (collectors → `posts.raw` → classifier →
//! `posts.classified` → sinks, alerter; see DESIGN.md). It is the only crate that depends on
//! rdkafka; stages see only the traits of `otklik-pipeline`.
//!
//! - [`KafkaBus`] implements [`otklik_pipeline::Bus`]: [`Bus::publisher`] hands out a
//!   [`KafkaPublisher`] (idempotent producer, `acks=all`, lz4; `publish` resolves when the
//!   record is acknowledged), [`Bus::subscribe`] a [`KafkaSubscriber`] (one consumer in a
//!   consumer group, auto-commit off, `auto.offset.reset=earliest`; `commit` stores exactly the
//!   given offsets, so anything uncommitted is redelivered to the group's next member).
//!   [`KafkaBus::ensure_topics`] creates DESIGN.md's topics if missing (sources and cursors
//!   compacted); [`KafkaBus::table`] reads a compacted topic's latest value per key without a
//!   consumer group (collector cursors, `otklik sources list`), [`KafkaBus::log`] every record
//!   of a topic; [`KafkaPublisher::delete`] writes a tombstone.
//! - [`member::TableMember`] ([`KafkaBus::join_table_group`]): the collector fleet's
//!   assignment — a consumer-group member whose partitions of the sources topic are its share,
//!   handing revoked partitions back only once their owner confirms (static membership with a
//!   `group.instance.id`).
//! - [`KafkaConfig`] / [`TopicsConfig`]: the `[kafka]` config table (serde,
//!   `deny_unknown_fields`).
//! - [`quiet::QuietContext`]: the rdkafka context of every client: a broker outage is told once,
//!   summarised while it lasts, and ended with one line (not once per reconnect attempt).
//! - [`stats::KafkaStats`]: librdkafka's statistics reports (`statistics.interval.ms`, 15 s by
//!   default): consumer lag and committed offset per consumer group and partition (groups kept
//!   apart, never summed), the producer's queue;
//!   [`KafkaBus::stats`] hands them to whoever exports them, [`KafkaBus::prober`] asks a broker
//!   for metadata (readiness).
//! - [`Error`]: this crate's one error type; [`Error::is_retryable`] tells passing trouble from
//!   permanent failure, and it converts into [`otklik_pipeline::BusError`].
//!
//! Neighbours: `otklik-pipeline` (the seams and the in-memory twin this must behave like —
//! its `conformance` checks run against a real broker in this crate's tests), `otklik-model`
//! (the payloads), and the binary, which builds a [`KafkaBus`] from config in the production
//! wiring. Tests need a broker: `scripts/test.sh` starts one and sets `OTKLIK_TEST_KAFKA`.

mod config;
mod error;
pub mod member;
pub mod quiet;
pub mod stats;

pub use config::{KafkaConfig, TopicSpec, TopicsConfig};
pub use error::{Error, Result};

use async_trait::async_trait;
use otklik_pipeline::{Bus, BusError, Message, Offsets, Publisher, Subscriber};
use quiet::QuietContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// How long `publish` waits for room in the producer's local queue before failing (retryably);
/// delivery itself is bounded by librdkafka's `delivery.timeout.ms`.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on admin requests (topic creation).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Asks the bus's producer for the cluster's metadata.
#[derive(Clone)]
pub struct Prober {
    producer: FutureProducer<QuietContext>,
}

impl Prober {
    /// Whether a broker answers a metadata request within `timeout` (blocks: call it from
    /// `spawn_blocking`).
    pub fn probe(&self, timeout: Duration) -> Result<()> {
        self.producer
            .client()
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|e| Error::kafka("metadata request", e))
    }
}

/// The pipeline bus over Kafka. Cheap to share: one producer serves every publisher; each
/// subscription is its own consumer.
pub struct KafkaBus {
    config: KafkaConfig,
    publisher: Arc<KafkaPublisher>,
    /// Shared by every client of the bus, so an outage is told once, not once per client.
    context: QuietContext,
}

impl KafkaBus {
    /// Creates the producer. Connects lazily: a wrong broker address shows on first use.
    pub fn new(config: KafkaConfig) -> Result<Self> {
        if let Some(password) = config.sasl_password()? {
            otklik_pipeline::secrets::register(&password);
        }
        let context = QuietContext::default();
        let producer: FutureProducer<QuietContext> = config
            .client_config()?
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", config.properties.get("linger.ms").map_or("5", String::as_str))
            .create_with_context(context.clone())
            .map_err(config_error)?;
        let publisher = Arc::new(KafkaPublisher { producer, context: context.clone() });
        Ok(KafkaBus { config, publisher, context })
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// The latest statistics of every client of this bus.
    pub fn stats(&self) -> Arc<stats::KafkaStats> {
        self.context.stats.clone()
    }

    /// A handle asking a broker for metadata (readiness probes), usable after the bus is gone.
    pub fn prober(&self) -> Prober {
        Prober { producer: self.publisher.producer.clone() }
    }

    /// The bus's producer with what the [`Publisher`] seam lacks (tombstones).
    pub fn kafka_publisher(&self) -> Arc<KafkaPublisher> {
        self.publisher.clone()
    }

    /// Joins `spec.group` on the table topic `spec.topic`; `deliver` gets the assignments, the
    /// records of the assigned partitions and the revocations ([`member`]).
    pub fn join_table_group(&self, spec: member::MemberSpec, deliver: member::Deliver) -> Result<member::TableMember> {
        member::TableMember::join(&self.config, self.context.clone(), spec, deliver)
    }

    /// How often a consumer of this bus had partitions taken away (rebalances, leaving the
    /// group).
    pub fn revocations(&self) -> u64 {
        self.context.revocations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Creates DESIGN.md's topics ([`TopicsConfig::specs`]) that do not exist yet.
    pub async fn ensure_default_topics(&self) -> Result<()> {
        self.ensure_topics(&self.config.topics.specs()).await
    }

    /// Creates the topics of `specs` that do not exist yet; existing ones are left as they are.
    /// Idempotent: running it again (or from several processes at once) is fine.
    pub async fn ensure_topics(&self, specs: &[TopicSpec]) -> Result<()> {
        if specs.is_empty() {
            return Ok(());
        }
        let admin: AdminClient<QuietContext> =
            self.config.client_config()?.create_with_context(self.context.clone()).map_err(config_error)?;
        let new_topics: Vec<NewTopic<'_>> = specs
            .iter()
            .map(|spec| {
                // -1: the broker's default (KIP-464).
                let mut topic = NewTopic::new(
                    &spec.name,
                    spec.partitions.unwrap_or(-1),
                    TopicReplication::Fixed(spec.replication_factor.unwrap_or(-1)),
                )
                .set("cleanup.policy", if spec.compacted { "compact" } else { "delete" });
                for (key, value) in &spec.config {
                    topic = topic.set(key, value);
                }
                topic
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)).request_timeout(Some(ADMIN_TIMEOUT));
        let results =
            admin.create_topics(new_topics.iter(), &options).await.map_err(|e| Error::kafka("create topics", e))?;
        for result in results {
            match result {
                Ok(name) => tracing::info!(topic = %name, "created topic"),
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => tracing::debug!(topic = %name, "topic exists"),
                Err((topic, code)) => return Err(Error::CreateTopic { topic, code }),
            }
        }
        Ok(())
    }

    /// Creates the topics of `specs` that are missing and checks the ones that exist against
    /// them: partitions (fewer than asked is a problem; Kafka never shrinks a topic), the
    /// cleanup policy (a state topic that is not compacted loses its state), and every other
    /// config the spec names (`retention.ms`, …). `otklik kafka init` prints the result.
    pub async fn init_topics(&self, specs: &[TopicSpec]) -> Result<Vec<TopicCheck>> {
        let admin: AdminClient<QuietContext> =
            self.config.client_config()?.create_with_context(self.context.clone()).map_err(config_error)?;
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let existing = {
            let (config, context) = (self.config.clone(), self.context.clone());
            tokio::task::spawn_blocking(move || partition_counts(&config, context, &names))
                .await
                .map_err(|e| Error::Config(format!("metadata task failed: {e}")))??
        };
        let missing: Vec<TopicSpec> = specs.iter().filter(|s| !existing.contains_key(&s.name)).cloned().collect();
        self.ensure_topics(&missing).await?;
        let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
        let mut checks = Vec::new();
        for spec in specs {
            let Some(&partitions) = existing.get(&spec.name) else {
                checks.push(TopicCheck { name: spec.name.clone(), created: true, problems: Vec::new() });
                continue;
            };
            let resource = [ResourceSpecifier::Topic(&spec.name)];
            let described = admin
                .describe_configs(&resource, &options)
                .await
                .map_err(|e| Error::kafka("describe topic configs", e))?;
            let configs = described.into_iter().next().and_then(|r| r.ok());
            let value = |key: &str| configs.as_ref().and_then(|c| c.get(key)).and_then(|e| e.value.clone());
            checks.push(TopicCheck {
                name: spec.name.clone(),
                created: false,
                problems: spec.mismatches(partitions, value),
            });
        }
        Ok(checks)
    }

    /// A consumer in group `group` subscribed to `topics` (the typed form of
    /// [`Bus::subscribe`]).
    pub fn subscriber(&self, group: &str, topics: &[&str]) -> Result<KafkaSubscriber> {
        let context = QuietContext { group: Some(group.into()), ..self.context.clone() };
        let consumer: StreamConsumer<QuietContext> = self
            .config
            .consumer_config()?
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .create_with_context(context.clone())
            .map_err(config_error)?;
        consumer.subscribe(topics).map_err(|e| Error::kafka(format!("subscribe to {topics:?}"), e))?;
        Ok(KafkaSubscriber {
            consumer: Arc::new(consumer),
            group: group.to_owned(),
            context,
            stash: VecDeque::new(),
            paused: false,
        })
    }
}

/// What `init_topics` found for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCheck {
    pub name: String,
    /// It did not exist and was created as specified.
    pub created: bool,
    /// How the existing topic differs from its spec.
    pub problems: Vec<String>,
}

/// The partition count of each of `names` that exists.
fn partition_counts(config: &KafkaConfig, context: QuietContext, names: &[String]) -> Result<HashMap<String, i32>> {
    let consumer: BaseConsumer<QuietContext> =
        config.client_config()?.create_with_context(context).map_err(config_error)?;
    let metadata =
        consumer.fetch_metadata(None, ADMIN_TIMEOUT).map_err(|e| Error::kafka("read the cluster metadata", e))?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && names.iter().any(|n| n == t.name()))
        .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
        .collect())
}

/// How long a table read may take before it gives up (a compacted state topic is small).
const TABLE_READ_TIMEOUT: Duration = Duration::from_secs(60);

impl KafkaBus {
    /// Reads `topic` from the beginning up to the end it had when called: the latest value of
    /// every key (the typed form of [`Bus::read_table`]). Uses partition assignment, not a
    /// consumer group, so it commits nothing and disturbs no group.
    pub async fn table(&self, topic: &str) -> Result<HashMap<Vec<u8>, Vec<u8>>> {
        let mut table = HashMap::new();
        let records = self.log(topic).await?;
        for (key, value) in records {
            match value {
                Some(payload) => table.insert(key, payload),
                // A tombstone deletes the key.
                None => table.remove(&key),
            };
        }
        Ok(table)
    }

    /// Every keyed record of `topic` up to the end it had when called, partition by partition
    /// in offset order; `None` for a tombstone.
    pub async fn log(&self, topic: &str) -> Result<Records> {
        let (config, topic, context) = (self.config.clone(), topic.to_owned(), self.context.clone());
        tokio::task::spawn_blocking(move || read_log_blocking(&config, &topic, context))
            .await
            .map_err(|e| Error::Config(format!("table read task failed: {e}")))?
    }
}

/// Keyed records: `(key, value)`, `None` for a tombstone.
type Records = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn read_log_blocking(config: &KafkaConfig, topic: &str, context: QuietContext) -> Result<Records> {
    let op = || format!("read table {topic}");
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let consumer: BaseConsumer<QuietContext> = config
        .consumer_config()?
        .set("group.id", format!("otklik-table-reader-{}-{nonce}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(context)
        .map_err(config_error)?;
    let deadline = std::time::Instant::now() + TABLE_READ_TIMEOUT;
    let fetch = || consumer.fetch_metadata(Some(topic), ADMIN_TIMEOUT).map_err(|e| Error::kafka(op(), e));
    let metadata = until_done(deadline, fetch)?;
    let mut table = Vec::new();
    let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else { return Ok(table) };
    if meta.error().is_some() {
        // Unknown topic: nothing has been written yet.
        return Ok(table);
    }
    let mut ends = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in meta.partitions() {
        let id = partition.id();
        let watermarks = || consumer.fetch_watermarks(topic, id, ADMIN_TIMEOUT).map_err(|e| Error::kafka(op(), e));
        let (low, high) = until_done(deadline, watermarks)?;
        if high > low {
            ends.insert(partition.id(), high);
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .map_err(|e| Error::kafka(op(), e))?;
        }
    }
    if ends.is_empty() {
        return Ok(table);
    }
    consumer.assign(&assignment).map_err(|e| Error::kafka(op(), e))?;
    while !ends.is_empty() {
        if std::time::Instant::now() > deadline {
            return Err(Error::kafka(op(), KafkaError::NoMessageReceived));
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                if let Some(key) = m.key() {
                    table.push((key.to_vec(), m.payload().map(<[u8]>::to_vec)));
                }
                if ends.get(&m.partition()).is_some_and(|&end| m.offset() + 1 >= end) {
                    ends.remove(&m.partition());
                }
            }
            Some(Err(e)) => {
                let error = Error::kafka(op(), e);
                if !error.is_retryable() {
                    return Err(error);
                }
            }
            None => {}
        }
    }
    Ok(table)
}

/// Calls `call` again while it fails retryably (a topic just created has no leader yet) and
/// `deadline` is ahead.
fn until_done<T>(deadline: std::time::Instant, mut call: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match call() {
            Err(e) if e.is_retryable() && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            result => return result,
        }
    }
}

/// An rdkafka client refused our settings: a bad property name or value.
fn config_error(e: KafkaError) -> Error {
    Error::Config(e.to_string())
}

#[async_trait]
impl Bus for KafkaBus {
    fn publisher(&self) -> Arc<dyn Publisher> {
        self.publisher.clone()
    }

    async fn subscribe(&self, group: &str, topics: &[&str]) -> Result<Box<dyn Subscriber>, BusError> {
        Ok(Box::new(self.subscriber(group, topics)?))
    }

    async fn read_table(&self, topic: &str) -> Result<HashMap<Vec<u8>, Vec<u8>>, BusError> {
        Ok(self.table(topic).await?)
    }
}

/// Publishes through the bus's idempotent producer.
pub struct KafkaPublisher {
    producer: FutureProducer<QuietContext>,
    context: QuietContext,
}

impl KafkaPublisher {
    /// Appends one record and waits for the acknowledgement of all in-sync replicas; returns
    /// its (partition, offset).
    pub async fn send(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<(i32, i64)> {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match self.producer.send(record, QUEUE_TIMEOUT).await {
            Ok(delivery) => {
                self.context.trouble.ok();
                Ok((delivery.partition, delivery.offset))
            }
            Err((e, _)) => Err(Error::kafka(format!("publish to {topic}"), e)),
        }
    }

    /// Writes a tombstone for `key` (no value): compaction then forgets the key, and a reader
    /// of the table sees it deleted.
    pub async fn delete(&self, topic: &str, key: &[u8]) -> Result<()> {
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).key(key);
        match self.producer.send(record, QUEUE_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(Error::kafka(format!("delete from {topic}"), e)),
        }
    }

    /// Waits until everything queued is delivered (for shutdown; `publish` already waits).
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout).map_err(|e| Error::kafka("flush", e))
    }
}

#[async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<(), BusError> {
        self.send(topic, key, payload).await?;
        Ok(())
    }
}

/// One consumer-group member. Dropping it leaves the group (the partitions go to the others,
/// from the last committed offsets).
pub struct KafkaSubscriber {
    consumer: Arc<StreamConsumer<QuietContext>>,
    group: String,
    context: QuietContext,
    /// Messages that arrived while [`Subscriber::idle`] held the partitions paused.
    stash: VecDeque<Message>,
    /// Whether [`Subscriber::idle`] paused the assignment (resumed by the next `recv`).
    paused: bool,
}

impl KafkaSubscriber {
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Pauses every partition assigned now (fetching stops; the member stays in the group as
    /// long as it keeps polling).
    fn pause_assignment(&mut self) -> Result<(), BusError> {
        let assignment = self.consumer.assignment().map_err(|e| Error::kafka("read the assignment", e))?;
        self.consumer.pause(&assignment).map_err(|e| Error::kafka("pause", e))?;
        self.paused = true;
        Ok(())
    }

    fn resume_assignment(&mut self) -> Result<(), BusError> {
        let assignment = self.consumer.assignment().map_err(|e| Error::kafka("read the assignment", e))?;
        self.consumer.resume(&assignment).map_err(|e| Error::kafka("resume", e))?;
        self.paused = false;
        Ok(())
    }

    /// A consume error: `Err` when it ends the subscription, otherwise reported (librdkafka
    /// recovers from these by itself: reconnects, rejoins, waits for a topic to appear).
    fn consume_error(&self, e: KafkaError) -> Result<(), BusError> {
        let kind = format!("consume {}", e.rdkafka_error_code().map_or_else(String::new, |code| format!("{code:?}")));
        let error = Error::kafka(format!("consume (group {})", self.group), e);
        if !error.is_retryable() && !is_informational(&error) {
            return Err(error.into());
        }
        self.context.trouble.report(&kind, &format!("group {}: {}; still waiting", self.group, error.chain()));
        Ok(())
    }
}

fn to_message(m: &rdkafka::message::BorrowedMessage<'_>) -> Message {
    Message {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().unwrap_or_default().to_vec(),
    }
}

#[async_trait]
impl Subscriber for KafkaSubscriber {
    async fn recv(&mut self) -> Result<Message, BusError> {
        if self.paused {
            self.resume_assignment()?;
        }
        if let Some(message) = self.stash.pop_front() {
            return Ok(message);
        }
        loop {
            match self.consumer.recv().await {
                Ok(m) => {
                    self.context.trouble.ok();
                    return Ok(to_message(&m));
                }
                Err(e) => self.consume_error(e)?,
            }
        }
    }

    async fn commit(&mut self, offsets: &Offsets) -> Result<(), BusError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in offsets.iter() {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(|e| Error::kafka("commit", e))?;
        }
        let consumer = self.consumer.clone();
        // A synchronous commit blocks until the group coordinator answers: off the async threads.
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|e| BusError::fatal(format!("Kafka commit task failed: {e}")))?
            .map_err(|e| Error::kafka(format!("commit (group {})", self.group), e))?;
        Ok(())
    }

    /// Pauses the assigned partitions and keeps polling until `duration` has passed: the
    /// consumer stays in the group however long the wait (rdkafka wakes a pending `recv` every
    /// half `max.poll.interval.ms`). A message that still arrives (from a partition assigned
    /// meanwhile) is kept for the next `recv`, and its partition paused too.
    async fn idle(&mut self, duration: Duration) -> Result<(), BusError> {
        let end = tokio::time::Instant::now() + duration;
        self.pause_assignment()?;
        loop {
            let received = tokio::select! {
                _ = tokio::time::sleep_until(end) => return Ok(()),
                received = self.consumer.recv() => received.map(|m| to_message(&m)),
            };
            match received {
                Ok(message) => {
                    let mut partition = TopicPartitionList::new();
                    partition.add_partition(&message.topic, message.partition);
                    self.consumer.pause(&partition).map_err(|e| Error::kafka("pause", e))?;
                    self.stash.push_back(message);
                }
                Err(e) => self.consume_error(e)?,
            }
        }
    }
}

/// Consumer errors that report a state librdkafka keeps retrying on its own (a subscribed topic
/// that does not exist yet), rather than a failure of this subscription.
pub(crate) fn is_informational(error: &Error) -> bool {
    matches!(
        error,
        Error::Kafka { source: KafkaError::MessageConsumption(code), .. }
            if matches!(code, RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownPartition)
    )
}
