//! A member of a consumer group that owns partitions of a compacted table topic: the collector
//! fleet's sources (`otklik.sources.v1`, keyed by source id). The group's assignment is the
//! member's share; the records of its partitions, read from the beginning on every assignment
//! (nothing is ever committed), are the table of that share.
//!
//! The consumer runs on a thread of its own, so that a revocation can wait for the owner of the
//! share: the rebalance callback hands the revoked partitions over ([`MemberEvent::Revoked`])
//! and blocks until the owner confirms that nothing of them is being worked on (the collector
//! has abandoned its walks and published its cursors), or [`REVOKE_TIMEOUT`] passes. Only then
//! does the group move the partitions on, so no two members ever work on one at the same time.
//!
//! With a `group.instance.id` (static membership) a restarted member takes its partitions back
//! at once instead of after the session timeout; a member that waits for an assignment says
//! what it waits for.

use crate::config::KafkaConfig;
use crate::error::{Error, Result};
use crate::quiet::QuietContext;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Message as _, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a revocation waits for the owner's confirmation before giving the partitions up
/// anyway (well inside the group's rebalance timeout, `max.poll.interval.ms`, 5 min by default).
pub const REVOKE_TIMEOUT: Duration = Duration::from_secs(60);
/// A member without partitions this long after joining says what it waits for.
const WAIT_NOTICE: Duration = Duration::from_secs(10);
/// …and says it again this often while it lasts.
const WAIT_NOTICE_AGAIN: Duration = Duration::from_secs(60);
/// librdkafka's `session.timeout.ms` default, for the waiting notice.
const DEFAULT_SESSION_TIMEOUT_MS: &str = "45000";

/// What the group tells the member's owner, in order.
#[derive(Debug)]
pub enum MemberEvent {
    /// These partitions are now the member's; their records follow from the beginning.
    Assigned(Vec<i32>),
    /// A record of an assigned partition; `value` is `None` for a tombstone.
    Record { partition: i32, key: Vec<u8>, value: Option<Vec<u8>> },
    /// These partitions go; send on `done` once nothing of them is worked on.
    Revoked { partitions: Vec<i32>, done: std::sync::mpsc::SyncSender<()> },
}

/// Hands an event to the member's owner; false when nobody listens any more.
pub type Deliver = Arc<dyn Fn(MemberEvent) -> bool + Send + Sync>;

/// Who joins which group on which topic.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub group: String,
    pub topic: String,
    /// `group.instance.id`: static membership (unique per live process).
    pub instance_id: Option<String>,
}

/// The running member; [`TableMember::leave`] stops it.
pub struct TableMember {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl TableMember {
    /// Joins `spec.group` and delivers its events until [`TableMember::leave`] or a fatal error.
    pub(crate) fn join(
        config: &KafkaConfig,
        quiet: QuietContext,
        spec: MemberSpec,
        deliver: Deliver,
    ) -> Result<TableMember> {
        let assigned = Arc::new(AtomicBool::new(false));
        let context = MemberContext { quiet, deliver, assigned, held: std::sync::Mutex::default() };
        let mut client = config.consumer_config()?;
        client
            .set("group.id", &spec.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        if let Some(instance) = &spec.instance_id {
            client.set("group.instance.id", instance);
        }
        let session =
            config.properties.get("session.timeout.ms").map_or(DEFAULT_SESSION_TIMEOUT_MS, String::as_str).to_owned();
        let consumer: BaseConsumer<MemberContext> =
            client.create_with_context(context).map_err(|e| Error::Config(e.to_string()))?;
        consumer.subscribe(&[&spec.topic]).map_err(|e| Error::kafka(format!("subscribe to {}", spec.topic), e))?;
        tracing::info!(
            group = %spec.group,
            topic = %spec.topic,
            instance = spec.instance_id.as_deref().unwrap_or("(dynamic)"),
            "joining the sources group"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("otklik-member".into())
            .spawn({
                let stop = stop.clone();
                move || member_loop(&consumer, &spec, &session, &stop)
            })
            .map_err(|e| Error::Config(format!("cannot start the group member thread: {e}")))?;
        Ok(TableMember { stop, thread: Some(thread) })
    }

    /// Whether the member ended by itself (a fatal error); [`TableMember::leave`] says which.
    pub fn has_ended(&self) -> bool {
        self.thread.as_ref().is_none_or(std::thread::JoinHandle::is_finished)
    }

    /// Stops consuming and closes the consumer (blocking: call it off the async threads). A
    /// static member keeps its partitions until its session times out or it comes back.
    pub fn leave(mut self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Config("the group member thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for TableMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn member_loop(
    consumer: &BaseConsumer<MemberContext>,
    spec: &MemberSpec,
    session: &str,
    stop: &AtomicBool,
) -> Result<()> {
    let context = consumer.context();
    let joined = Instant::now();
    let mut next_notice = joined + WAIT_NOTICE;
    let mut noticed = false;
    while !stop.load(Ordering::Acquire) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                context.quiet.trouble.ok();
                if let Some(key) = m.key() {
                    let record = MemberEvent::Record {
                        partition: m.partition(),
                        key: key.to_vec(),
                        value: m.payload().map(<[u8]>::to_vec),
                    };
                    if !(context.deliver)(record) {
                        return Ok(());
                    }
                }
            }
            Some(Err(e)) => consume_error(context, spec, e)?,
            None => {}
        }
        let assigned = context.assigned.load(Ordering::Acquire);
        if assigned && noticed {
            let waited_s = joined.elapsed().as_secs();
            tracing::info!(group = %spec.group, waited_s, "sources partitions assigned after the wait");
            noticed = false;
        }
        if !assigned && Instant::now() >= next_notice {
            tracing::warn!(
                group = %spec.group,
                topic = %spec.topic,
                waiting_s = joined.elapsed().as_secs(),
                session_timeout_ms = session,
                "no sources partitions assigned yet: the group is rebalancing, or a member that was killed without \
                 leaving still holds them until its session times out (a member restarted with the same \
                 group.instance.id takes them back at once), or every partition has a member already"
            );
            noticed = true;
            next_notice = Instant::now() + WAIT_NOTICE_AGAIN;
        }
        if assigned {
            next_notice = Instant::now() + WAIT_NOTICE;
        }
    }
    Ok(())
}

fn consume_error(context: &MemberContext, spec: &MemberSpec, e: KafkaError) -> Result<()> {
    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::FencedInstanceId) {
        let message =
            format!("group.instance.id {:?} is used by another live member", spec.instance_id.as_deref().unwrap_or(""));
        return Err(Error::Config(format!("{message}: give each collector its own collect.instance_id")));
    }
    let kind = format!("consume {}", e.rdkafka_error_code().map_or_else(String::new, |code| format!("{code:?}")));
    let error = Error::kafka(format!("consume (group {})", spec.group), e);
    if !error.is_retryable() && !crate::is_informational(&error) {
        return Err(error);
    }
    context.quiet.trouble.report(&kind, &format!("group {}: {}; still waiting", spec.group, error.chain()));
    Ok(())
}

/// The member's rdkafka context: [`QuietContext`]'s logging, plus the hand-over of its share.
struct MemberContext {
    quiet: QuietContext,
    deliver: Deliver,
    assigned: Arc<AtomicBool>,
    /// The partitions assigned now.
    held: std::sync::Mutex<std::collections::BTreeSet<i32>>,
}

impl ClientContext for MemberContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.quiet.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.quiet.error(error, reason);
    }
}

impl ConsumerContext for MemberContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else { return };
        self.quiet.revocations.fetch_add(1, Ordering::Relaxed);
        let partitions = partition_ids(list);
        let (done, confirmed) = std::sync::mpsc::sync_channel(1);
        let started = Instant::now();
        if !(self.deliver)(MemberEvent::Revoked { partitions: partitions.clone(), done }) {
            return;
        }
        // Blocking the consumer's thread here is the point: the group waits for this member.
        match confirmed.recv_timeout(REVOKE_TIMEOUT) {
            Ok(()) => tracing::info!(
                ?partitions,
                took_ms = started.elapsed().as_millis() as u64,
                "sources partitions handed back"
            ),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => tracing::error!(
                ?partitions,
                "the collector did not confirm the revocation within {}s: giving the partitions up anyway",
                REVOKE_TIMEOUT.as_secs()
            ),
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Kept here rather than asked of the consumer: librdkafka answers that through its own
        // threads, which a rebalance callback must not wait for.
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match rebalance {
            Rebalance::Assign(list) => {
                held.extend(partition_ids(list));
                self.assigned.store(!held.is_empty(), Ordering::Release);
                drop(held);
                let _ = (self.deliver)(MemberEvent::Assigned(partition_ids(list)));
            }
            Rebalance::Revoke(list) => {
                // An incremental revocation takes some partitions, an eager one all of them.
                for partition in partition_ids(list) {
                    held.remove(&partition);
                }
                self.assigned.store(!held.is_empty(), Ordering::Release);
            }
            Rebalance::Error(e) => self.quiet.trouble.report("rebalance", &e.to_string()),
        }
    }
}

fn partition_ids(list: &TopicPartitionList) -> Vec<i32> {
    let mut ids: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
    ids.sort_unstable();
    ids
}
