//! What librdkafka's statistics callback (`statistics.interval.ms`) says about the bus's clients:
//! each consumer group's lag and committed offset per partition, the producer's queue. Plain data behind
//! a lock, read by whoever exports it (the binary's `/metrics` and readiness); this crate knows no
//! exporter.

use rdkafka::statistics::Statistics;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How often librdkafka reports, unless `[kafka.properties]` sets `statistics.interval.ms`.
pub const DEFAULT_STATS_INTERVAL_MS: &str = "15000";

/// A partition as one consumer group reads it: lag is a group's, never a sum over groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LagKey {
    pub group: String,
    pub topic: String,
    pub partition: i32,
}

impl LagKey {
    pub fn new(group: &str, topic: &str, partition: i32) -> Self {
        LagKey { group: group.to_owned(), topic: topic.to_owned(), partition }
    }
}

/// One assigned partition as a consumer last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// Messages between the committed offset and the partition's end.
    pub lag: i64,
    /// The group's committed offset (-1001 when nothing is committed yet).
    pub committed: i64,
}

/// One consumer's report: (topic, partition) → lag.
pub type PartitionLags = BTreeMap<(String, i32), PartitionLag>;

/// The latest report of every client of a bus.
#[derive(Debug, Default)]
pub struct KafkaStats {
    inner: Mutex<Reports>,
}

#[derive(Debug, Default)]
struct Reports {
    /// Consumer client name → its group and lags.
    consumers: BTreeMap<String, (String, PartitionLags)>,
    /// Producer client name → (messages, bytes) waiting in its queue.
    producers: BTreeMap<String, (u64, u64)>,
}

impl KafkaStats {
    pub fn shared() -> Arc<Self> {
        Arc::new(KafkaStats::default())
    }

    /// Takes one client's report; it replaces that client's previous one, so revoked
    /// partitions disappear. A consumer outside any `group` has no lag of its own and is left out.
    pub fn record(&self, statistics: &Statistics, group: Option<&str>) {
        match (statistics.client_type.as_str(), group) {
            ("producer", _) => self.record_producer(&statistics.name, statistics.msg_cnt, statistics.msg_size),
            ("consumer", Some(group)) => {
                let lags = statistics
                    .topics
                    .iter()
                    .flat_map(|(topic, t)| t.partitions.values().map(move |p| (topic, p)))
                    // -1 is librdkafka's internal partition; lag -1 means not known yet.
                    .filter(|(_, p)| p.partition >= 0 && p.consumer_lag >= 0)
                    .map(|(topic, p)| {
                        (
                            (topic.clone(), p.partition),
                            PartitionLag { lag: p.consumer_lag, committed: p.committed_offset },
                        )
                    })
                    .collect();
                self.record_consumer(&statistics.name, group, lags);
            }
            _ => {}
        }
    }

    /// The lags of a consumer of `group`, replacing its previous report.
    pub fn record_consumer(&self, client: &str, group: &str, lags: PartitionLags) {
        let mut reports = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reports.consumers.insert(client.to_owned(), (group.to_owned(), lags));
    }

    /// A producer's queue: messages and bytes.
    pub fn record_producer(&self, client: &str, messages: u64, bytes: u64) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).producers.insert(client.to_owned(), (messages, bytes));
    }

    /// A client is gone (a consumer closed): its partitions are no longer reported.
    pub fn forget(&self, client: &str) {
        let mut reports = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reports.consumers.remove(client);
        reports.producers.remove(client);
    }

    /// Lag per group and partition. Groups are kept apart: each reads the partition at its own
    /// pace. Within a group a partition has one owner; should two of its consumers report it
    /// (one has not dropped it yet in a rebalance), the one further ahead counts.
    pub fn consumer_lag(&self) -> BTreeMap<LagKey, PartitionLag> {
        let reports = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut lags: BTreeMap<LagKey, PartitionLag> = BTreeMap::new();
        for (group, reported) in reports.consumers.values() {
            for ((topic, partition), lag) in reported {
                let key = LagKey::new(group, topic, *partition);
                let entry = lags.entry(key).or_insert(*lag);
                if lag.committed > entry.committed {
                    *entry = *lag;
                }
            }
        }
        lags
    }

    /// Messages and bytes waiting in the producers' queues, summed.
    pub fn producer_queue(&self) -> (u64, u64) {
        let reports = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        reports.producers.values().fold((0, 0), |(m, b), (dm, db)| (m + dm, b + db))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lag(topic: &str, partition: i32, lag: i64, committed: i64) -> BTreeMap<(String, i32), PartitionLag> {
        BTreeMap::from([((topic.to_owned(), partition), PartitionLag { lag, committed })])
    }

    #[test]
    fn a_clients_latest_report_replaces_its_previous_one() {
        let stats = KafkaStats::default();
        stats.record_consumer("rdkafka#consumer-1", "otklik-classify", lag("raw", 0, 40, 100));
        stats.record_consumer("rdkafka#consumer-3", "otklik-archive", lag("raw", 0, 2, 138));
        stats.record_producer("rdkafka#producer-2", 3, 300);
        // Two groups reading one partition: each keeps its own lag, none is summed.
        let lags = stats.consumer_lag();
        assert_eq!(lags.len(), 2, "{lags:?}");
        assert_eq!(lags[&LagKey::new("otklik-classify", "raw", 0)], PartitionLag { lag: 40, committed: 100 });
        assert_eq!(lags[&LagKey::new("otklik-archive", "raw", 0)], PartitionLag { lag: 2, committed: 138 });
        // Two consumers of one group in a rebalance: the one further ahead counts.
        stats.record_consumer("rdkafka#consumer-4", "otklik-classify", lag("raw", 0, 10, 130));
        assert_eq!(stats.consumer_lag()[&LagKey::new("otklik-classify", "raw", 0)].lag, 10);
        stats.forget("rdkafka#consumer-4");
        assert_eq!(stats.producer_queue(), (3, 300));
        // Revoked: the partition is no longer in the client's report.
        stats.record_consumer("rdkafka#consumer-1", "otklik-classify", BTreeMap::new());
        stats.forget("rdkafka#consumer-3");
        assert!(stats.consumer_lag().is_empty(), "{:?}", stats.consumer_lag());
        stats.forget("rdkafka#producer-2");
        assert_eq!(stats.producer_queue(), (0, 0));
    }
}
