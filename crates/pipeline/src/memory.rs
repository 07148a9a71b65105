//! An in-process bus with Kafka's commit and redelivery semantics, for the embedded wiring and
//! for tests.
//!
//! Topics have a fixed number of partitions; a record goes to the partition its key hashes to,
//! so one uid always lands in one partition, in order. Each consumer group has committed offsets
//! per partition; a new subscription of a group starts from them, so whatever a previous
//! subscription received but did not commit is delivered again. One subscription per group is
//! active at a time: a new one takes over (as after a restart). Records below every known group's
//! committed offset are trimmed, so a long embedded run does not grow without bound.

use crate::bus::{Bus, BusError, Message, Offsets, Publisher, Subscriber};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// The in-memory bus. Cheap to clone; clones share the same topics.
#[derive(Clone)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

struct Shared {
    partitions: i32,
    /// Key plus payload larger than this is refused, as a Kafka broker refuses it.
    max_record_bytes: usize,
    state: Mutex<State>,
    /// Bumped on every publish so waiting subscribers re-check.
    published: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    topics: HashMap<String, Vec<PartitionLog>>,
    /// group → (topic, partition) → next offset to read.
    committed: HashMap<String, HashMap<(String, i32), i64>>,
    /// topic → groups that read it (their commits bound trimming).
    readers: HashMap<String, BTreeSet<String>>,
    /// group → generation of its active subscription.
    generations: HashMap<String, u64>,
}

#[derive(Default)]
struct PartitionLog {
    /// Offset of `records[0]`.
    base: i64,
    records: VecDeque<(Option<Vec<u8>>, Vec<u8>)>,
}

impl PartitionLog {
    fn end(&self) -> i64 {
        self.base + self.records.len() as i64
    }

    fn get(&self, offset: i64) -> Option<&(Option<Vec<u8>>, Vec<u8>)> {
        usize::try_from(offset - self.base).ok().and_then(|i| self.records.get(i))
    }

    fn trim_below(&mut self, offset: i64) {
        while self.base < offset && self.records.pop_front().is_some() {
            self.base += 1;
        }
    }
}

/// Kafka's default `message.max.bytes` (1 MiB plus record overhead).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1_048_588;

impl MemoryBus {
    /// A bus whose topics have `partitions` partitions each (at least 1), refusing records
    /// larger than Kafka's default `message.max.bytes` ([`DEFAULT_MAX_RECORD_BYTES`]).
    pub fn new(partitions: i32) -> Self {
        MemoryBus::with_max_record_bytes(partitions, DEFAULT_MAX_RECORD_BYTES)
    }

    /// A bus refusing records (key plus payload) larger than `max_record_bytes`.
    pub fn with_max_record_bytes(partitions: i32, max_record_bytes: usize) -> Self {
        MemoryBus {
            shared: Arc::new(Shared {
                partitions: partitions.max(1),
                max_record_bytes,
                state: Mutex::new(State::default()),
                published: watch::channel(0).0,
            }),
        }
    }

    /// Records currently held for `topic` (published and not yet trimmed).
    pub fn retained(&self, topic: &str) -> usize {
        self.shared.lock().topics.get(topic).map_or(0, |ps| ps.iter().map(|p| p.records.len()).sum())
    }

    /// Records of `topic` that `group` has not committed yet.
    pub fn lag(&self, group: &str, topic: &str) -> i64 {
        let state = self.shared.lock();
        let Some(partitions) = state.topics.get(topic) else { return 0 };
        let committed = state.committed.get(group);
        partitions
            .iter()
            .enumerate()
            .map(|(p, log)| {
                let from = committed.and_then(|c| c.get(&(topic.to_owned(), p as i32))).copied().unwrap_or(0);
                log.end() - from.max(log.base)
            })
            .sum()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock can only come from a bug in this module; the state is
        // still consistent (every mutation is a single push/insert), so keep serving.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn partition_for(&self, key: &[u8]) -> i32 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        (hasher.finish() % self.partitions as u64) as i32
    }
}

impl State {
    fn topic(&mut self, topic: &str, partitions: i32) -> &mut Vec<PartitionLog> {
        self.topics
            .entry(topic.to_owned())
            .or_insert_with(|| (0..partitions).map(|_| PartitionLog::default()).collect())
    }

    fn trim(&mut self, topic: &str) {
        let Some(groups) = self.readers.get(topic) else { return };
        let Some(partitions) = self.topics.get_mut(topic) else { return };
        for (p, log) in partitions.iter_mut().enumerate() {
            let key = (topic.to_owned(), p as i32);
            let low = groups
                .iter()
                .map(|g| self.committed.get(g).and_then(|c| c.get(&key)).copied().unwrap_or(0))
                .min()
                .unwrap_or(0);
            log.trim_below(low);
        }
    }
}

#[async_trait]
impl Publisher for MemoryBus {
    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<(), BusError> {
        let size = key.len() + payload.len();
        if size > self.shared.max_record_bytes {
            return Err(BusError::rejected(format!(
                "publish to {topic}: a record of {size} bytes is larger than the bus takes ({})",
                self.shared.max_record_bytes
            )));
        }
        let partition = self.shared.partition_for(key);
        {
            let mut state = self.shared.lock();
            let logs = state.topic(topic, self.shared.partitions);
            logs[partition as usize].records.push_back((Some(key.to_vec()), payload.to_vec()));
        }
        self.shared.published.send_modify(|n| *n += 1);
        Ok(())
    }
}

#[async_trait]
impl Bus for MemoryBus {
    fn publisher(&self) -> Arc<dyn Publisher> {
        Arc::new(self.clone())
    }

    async fn subscribe(&self, group: &str, topics: &[&str]) -> Result<Box<dyn Subscriber>, BusError> {
        if topics.is_empty() {
            return Err(BusError::fatal("subscribe needs at least one topic"));
        }
        let mut state = self.shared.lock();
        let generation = {
            let g = state.generations.entry(group.to_owned()).or_insert(0);
            *g += 1;
            *g
        };
        let mut positions = Vec::new();
        for &topic in topics {
            state.readers.entry(topic.to_owned()).or_default().insert(group.to_owned());
            state.topic(topic, self.shared.partitions);
            for p in 0..self.shared.partitions {
                let committed =
                    state.committed.get(group).and_then(|c| c.get(&(topic.to_owned(), p))).copied().unwrap_or(0);
                positions.push(((topic.to_owned(), p), committed));
            }
        }
        Ok(Box::new(MemorySubscriber {
            shared: self.shared.clone(),
            group: group.to_owned(),
            generation,
            positions,
            next_partition: 0,
            published: self.shared.published.subscribe(),
        }))
    }

    async fn read_table(&self, topic: &str) -> Result<HashMap<Vec<u8>, Vec<u8>>, BusError> {
        let state = self.shared.lock();
        let mut table = HashMap::new();
        for log in state.topics.get(topic).into_iter().flatten() {
            for (key, payload) in log.records.iter() {
                if let Some(key) = key {
                    table.insert(key.clone(), payload.clone());
                }
            }
        }
        Ok(table)
    }
}

struct MemorySubscriber {
    shared: Arc<Shared>,
    group: String,
    generation: u64,
    /// (topic, partition) → next offset this subscription will deliver.
    positions: Vec<((String, i32), i64)>,
    /// Round-robin start, so one busy partition does not starve the others.
    next_partition: usize,
    published: watch::Receiver<u64>,
}

impl MemorySubscriber {
    fn try_next(&mut self) -> Result<Option<Message>, BusError> {
        let state = self.shared.lock();
        if state.generations.get(&self.group) != Some(&self.generation) {
            return Err(BusError::fatal(format!("subscription of group {} was taken over by a newer one", self.group)));
        }
        let n = self.positions.len();
        for i in 0..n {
            let slot = (self.next_partition + i) % n;
            let ((topic, partition), offset) = &mut self.positions[slot];
            let Some(log) = state.topics.get(topic.as_str()).and_then(|ps| ps.get(*partition as usize)) else {
                continue;
            };
            // Trimmed records were committed by every group, this one included.
            *offset = (*offset).max(log.base);
            if let Some((key, payload)) = log.get(*offset) {
                let message = Message {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *offset,
                    key: key.clone(),
                    payload: payload.clone(),
                };
                *offset += 1;
                self.next_partition = (slot + 1) % n;
                return Ok(Some(message));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Subscriber for MemorySubscriber {
    async fn recv(&mut self) -> Result<Message, BusError> {
        loop {
            self.published.borrow_and_update();
            if let Some(message) = self.try_next()? {
                return Ok(message);
            }
            if self.published.changed().await.is_err() {
                return Err(BusError::fatal("memory bus closed"));
            }
        }
    }

    async fn commit(&mut self, offsets: &Offsets) -> Result<(), BusError> {
        let mut state = self.shared.lock();
        if state.generations.get(&self.group) != Some(&self.generation) {
            return Err(BusError::fatal(format!("subscription of group {} was taken over by a newer one", self.group)));
        }
        let committed = state.committed.entry(self.group.clone()).or_default();
        let mut touched = BTreeSet::new();
        for (topic, partition, offset) in offsets.iter() {
            let slot = committed.entry((topic.to_owned(), partition)).or_insert(0);
            *slot = (*slot).max(offset);
            touched.insert(topic.to_owned());
        }
        for topic in touched {
            state.trim(&topic);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_bus_conformance_checks() {
        let bus = MemoryBus::new(3);
        crate::conformance::run_all(&bus, "conformance").await.unwrap();
    }

    #[tokio::test]
    async fn trims_what_every_reading_group_has_committed() {
        let bus = MemoryBus::new(1);
        let mut a = bus.subscribe("a", &["t"]).await.unwrap();
        let mut b = bus.subscribe("b", &["t"]).await.unwrap();
        for i in 0..10u8 {
            bus.publish("t", &[i], &[i]).await.unwrap();
        }
        let mut offsets = Offsets::default();
        for _ in 0..6 {
            offsets.advance(&a.recv().await.unwrap());
        }
        a.commit(&offsets).await.unwrap();
        assert_eq!(bus.retained("t"), 10, "group b has committed nothing");
        let mut offsets = Offsets::default();
        for _ in 0..4 {
            offsets.advance(&b.recv().await.unwrap());
        }
        b.commit(&offsets).await.unwrap();
        assert_eq!(bus.retained("t"), 6);
        assert_eq!(bus.lag("a", "t"), 4);
        assert_eq!(bus.lag("b", "t"), 6);
    }

    #[tokio::test]
    async fn a_new_subscription_takes_over_its_group() {
        let bus = MemoryBus::new(1);
        let mut old = bus.subscribe("g", &["t"]).await.unwrap();
        let _new = bus.subscribe("g", &["t"]).await.unwrap();
        bus.publish("t", b"k", b"v").await.unwrap();
        assert!(old.recv().await.is_err());
    }
}
