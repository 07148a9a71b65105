//! What librdkafka's statistics callback (`statistics.interval.ms`) says about the bus's clients:
//! each consumer's lag and committed offset per partition, the producer's queue. Plain data behind
//! a lock, read by whoever exports it (the binary's `/metrics` and readiness); this crate knows no
//! exporter.

use rdkafka::statistics::Statistics;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How often librdkafka reports, unless `[kafka.properties]` sets `statistics.interval.ms`.
pub const DEFAULT_STATS_INTERVAL_MS: &str = "15000";

/// One assigned partition as a consumer last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// Messages between the committed offset and the partition's end.
    pub lag: i64,
    /// The group's committed offset (-1001 when nothing is committed yet).
    pub committed: i64,
}

/// The latest report of every client of a bus.
#[derive(Debug, Default)]
pub struct KafkaStats {
    inner: Mutex<Reports>,
}

#[derive(Debug, Default)]
struct Reports {
    /// Consumer client name → (topic, partition) → lag.
    consumers: BTreeMap<String, BTreeMap<(String, i32), PartitionLag>>,
    /// Producer client name → (messages, bytes) waiting in its queue.
    producers: BTreeMap<String, (u64, u64)>,
}

impl KafkaStats {
    pub fn shared() -> Arc<Self> {
        Arc::new(KafkaStats::default())
    }

    /// Takes one client's report; it replaces that client's previous one, so revoked
    /// partitions disappear.
    pub fn record(&self, statistics: &Statistics) {
        match statistics.client_type.as_str() {
            "producer" => self.record_producer(&statistics.name, statistics.msg_cnt, statistics.msg_size),
            "consumer" => {
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
                self.record_consumer(&statistics.name, lags);
            }
            _ => {}
        }
    }

    /// A consumer's lags, replacing its previous report.
    pub fn record_consumer(&self, client: &str, lags: BTreeMap<(String, i32), PartitionLag>) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).consumers.insert(client.to_owned(), lags);
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

    /// Lag per (topic, partition), summed over the consumers reporting it (consumers of
    /// different groups reading one topic each have their own lag; a partition owned by one
    /// consumer of a group is reported once).
    pub fn consumer_lag(&self) -> BTreeMap<(String, i32), PartitionLag> {
        let reports = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut total: BTreeMap<(String, i32), PartitionLag> = BTreeMap::new();
        for lags in reports.consumers.values() {
            for (key, lag) in lags {
                let entry = total.entry(key.clone()).or_insert(PartitionLag { lag: 0, committed: 0 });
                entry.lag += lag.lag;
                entry.committed = entry.committed.max(lag.committed);
            }
        }
        total
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
        stats.record_consumer("rdkafka#consumer-1", lag("raw", 0, 40, 100));
        stats.record_consumer("rdkafka#consumer-3", lag("raw", 0, 2, 90));
        stats.record_producer("rdkafka#producer-2", 3, 300);
        // Two groups reading one partition: their lags add up.
        assert_eq!(stats.consumer_lag()[&("raw".to_owned(), 0)], PartitionLag { lag: 42, committed: 100 });
        assert_eq!(stats.producer_queue(), (3, 300));
        // Revoked: the partition is no longer in the client's report.
        stats.record_consumer("rdkafka#consumer-1", BTreeMap::new());
        stats.forget("rdkafka#consumer-3");
        assert!(stats.consumer_lag().is_empty(), "{:?}", stats.consumer_lag());
        stats.forget("rdkafka#producer-2");
        assert_eq!(stats.producer_queue(), (0, 0));
    }
}
