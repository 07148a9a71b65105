//! The two seams between stages and the transport: publish, and subscribe with explicit commit.
//!
//! Both the in-memory bus ([`crate::MemoryBus`]) and the Kafka adapter (`otklik-kafka`)
//! implement them with the same semantics, so every stage runs unchanged over either:
//!
//! - `publish` resolves only when the bus has accepted the record durably (Kafka: acked by the
//!   leader with `acks=all`; memory: appended to the log);
//! - a subscription belongs to a consumer group; it sees every message of its topics from the
//!   group's committed position on;
//! - `commit` records how far the group has processed; anything not committed is delivered again
//!   to the next subscription of the same group (after a restart or a rebalance).

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One record read from the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

impl Message {
    /// The key as text, for logs and DLQ records (keys are post uids, source ids…).
    pub fn key_str(&self) -> Option<String> {
        self.key.as_deref().map(|k| String::from_utf8_lossy(k).into_owned())
    }
}

/// The positions to commit: for each (topic, partition), the offset of the next message to read
/// (one past the last processed message, as Kafka counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offsets(BTreeMap<(String, i32), i64>);

impl Offsets {
    /// Marks `message` (and everything before it in its partition) processed.
    pub fn advance(&mut self, message: &Message) {
        let next = message.offset + 1;
        let entry = self.0.entry((message.topic.clone(), message.partition)).or_insert(next);
        *entry = (*entry).max(next);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.0.iter().map(|((t, p), o)| (t.as_str(), *p, *o))
    }
}

/// A transport failure. `retryable` says whether trying the same call again may succeed;
/// `rejected` that the bus works but refuses this one record for what it is (larger than the bus
/// takes): it belongs in the DLQ, and the stage goes on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BusError {
    pub message: String,
    pub retryable: bool,
    pub rejected: bool,
}

impl BusError {
    pub fn retryable(message: impl Into<String>) -> Self {
        BusError { message: message.into(), retryable: true, rejected: false }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        BusError { message: message.into(), retryable: false, rejected: false }
    }

    /// This record can never be published (too large); other records can.
    pub fn rejected(message: impl Into<String>) -> Self {
        BusError { message: message.into(), retryable: false, rejected: true }
    }
}

/// Writes records to topics.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Appends one record; resolves once the bus has accepted it durably.
    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<(), BusError>;
}

/// Reads a consumer group's share of some topics, with explicit commit.
#[async_trait]
pub trait Subscriber: Send {
    /// The next message. Waits while there is none; cancel it by dropping the future
    /// (`tokio::select!` against a shutdown token).
    async fn recv(&mut self) -> Result<Message, BusError>;

    /// Records `offsets` as processed for this group.
    async fn commit(&mut self, offsets: &Offsets) -> Result<(), BusError>;

    /// Waits `duration` without taking new work, while staying a member of the group (a sink
    /// waiting for its destination to come back). Kafka drops a member that has not polled for
    /// `max.poll.interval.ms` and hands its partitions to others, so a long wait must poll with
    /// the partitions paused; whatever arrives meanwhile is kept for the next `recv`. The memory
    /// bus has no such timeout and just waits.
    async fn idle(&mut self, duration: std::time::Duration) -> Result<(), BusError> {
        tokio::time::sleep(duration).await;
        Ok(())
    }
}

/// A transport: hands out publishers and subscriptions.
#[async_trait]
pub trait Bus: Send + Sync {
    fn publisher(&self) -> Arc<dyn Publisher>;

    /// Joins consumer group `group` on `topics`.
    async fn subscribe(&self, group: &str, topics: &[&str]) -> Result<Box<dyn Subscriber>, BusError>;

    /// Reads a compacted topic as a table: the latest value of every key, as of the call (state
    /// such as collector cursors). Joins no consumer group and commits nothing.
    async fn read_table(&self, topic: &str) -> Result<HashMap<Vec<u8>, Vec<u8>>, BusError>;
}
