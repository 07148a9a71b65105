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
        let mut reports = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match statistics.client_type.as_str() {
            "producer" => {
                reports.producers.insert(statistics.name.clone(), (statistics.msg_cnt, statistics.msg_size));
            }
            "consumer" => {
                let lags = statistics
                    .topics
                    .iter()
                    .flat_map(|(topic, t)| t.partitions.values().map(move |p| (topic, p)))
                    // -1 is librdkafka's internal partition; lag -1 means not known yet.
                    .filter(|(_, p)| p.partition >= 0 && p.consumer_lag >= 0)
                    .map(|(topic, p)| ((topic.clone(), p.partition), PartitionLag { lag: p.consumer_lag, committed: p.committed_offset }))
                    .collect();
                reports.consumers.insert(statistics.name.clone(), lags);
            }
            _ => {}
        }
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

    fn report(name: &str, kind: &str, json_topics: &str) -> Statistics {
        let json = format!(
            r#"{{"name":"{name}","client_id":"otklik","type":"{kind}","ts":0,"time":0,"age":0,"replyq":0,
            "msg_cnt":3,"msg_size":300,"msg_max":0,"msg_size_max":0,"simple_cnt":0,"metadata_cache_cnt":0,
            "brokers":{{}},"topics":{json_topics},"tx":0,"tx_bytes":0,"rx":0,"rx_bytes":0,"txmsgs":0,
            "txmsg_bytes":0,"rxmsgs":0,"rxmsg_bytes":0}}"#
        );
        serde_json::from_str(&json).expect("a librdkafka report")
    }

    fn topic(name: &str, partition: i32, lag: i64, committed: i64) -> String {
        let p = format!(
            r#""{partition}":{{"partition":{partition},"broker":1,"leader":1,"desired":true,"unknown":false,
            "msgq_cnt":0,"msgq_bytes":0,"xmit_msgq_cnt":0,"xmit_msgq_bytes":0,"fetchq_cnt":0,"fetchq_size":0,
            "fetch_state":"active","query_offset":0,"next_offset":0,"app_offset":0,"stored_offset":0,
            "committed_offset":{committed},"committed_leader_epoch":0,"eof_offset":0,"lo_offset":0,
            "hi_offset":0,"ls_offset":0,"consumer_lag":{lag},"consumer_lag_stored":0,"txmsgs":0,
            "txbytes":0,"rxmsgs":0,"rxbytes":0,"msgs":0,"rx_ver_drops":0,"msgs_inflight":0,
            "next_ack_seq":0,"next_err_seq":0,"acked_msgid":0}}"#
        );
        format!(r#"{{"{name}":{{"topic":"{name}","age":0,"metadata_age":0,"partitions":{{{p}}}}}}}"#)
    }

    #[test]
    fn a_consumers_latest_report_replaces_its_previous_one() {
        let stats = KafkaStats::default();
        stats.record(&report("rdkafka#consumer-1", "consumer", &topic("raw", 0, 40, 100)));
        stats.record(&report("rdkafka#producer-2", "producer", "{}"));
        let lag = stats.consumer_lag();
        assert_eq!(lag[&("raw".to_owned(), 0)], PartitionLag { lag: 40, committed: 100 });
        assert_eq!(stats.producer_queue(), (3, 300));
        // Revoked: the partition is no longer in the client's report.
        stats.record(&report("rdkafka#consumer-1", "consumer", &topic("raw", 1, -1, -1001)));
        assert!(stats.consumer_lag().is_empty(), "{:?}", stats.consumer_lag());
        stats.forget("rdkafka#producer-2");
        assert_eq!(stats.producer_queue(), (0, 0));
    }
}
