//! Readiness beyond "the stages started": the production wiring probes Kafka and ClickHouse every
//! [`PROBE_EVERY`] and watches each consumer's progress from librdkafka's statistics; the results
//! go to the [`Registry`], which `/readyz` and `otklik_ready` read.

use crate::metrics::Registry;
use otklik_clickhouse::ClickHouseSinkConfig;
use otklik_kafka::stats::{KafkaStats, LagKey, PartitionLag};
use otklik_kafka::Prober;
use otklik_pipeline::CancellationToken;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often the dependencies are probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// How long one probe may take before the dependency counts as unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// A consumer whose committed offset stays put this long while its lag grows is stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(5 * 60);

/// What the production wiring has to probe.
pub struct Probes {
    pub kafka: Option<(Prober, Arc<KafkaStats>)>,
    pub clickhouse: Option<ClickHouseSinkConfig>,
    pub every: Duration,
}

/// Probes until `shutdown`, updating `registry` after each round.
pub async fn run(probes: Probes, registry: Arc<Registry>, shutdown: CancellationToken) {
    let mut stalls = StallWatch::new(STALL_AFTER);
    loop {
        if let Some((prober, stats)) = &probes.kafka {
            let prober = prober.clone();
            let answered = tokio::task::spawn_blocking(move || prober.probe(PROBE_TIMEOUT)).await;
            registry.set_dependency("kafka", matches!(answered, Ok(Ok(()))));
            registry.set_stalled(stalls.observe(Instant::now(), &stats.consumer_lag()));
        }
        if let Some(clickhouse) = &probes.clickhouse {
            let answered = clickhouse.ping(PROBE_TIMEOUT).await;
            if let Err(e) = &answered {
                tracing::debug!(error = %e, "ClickHouse probe failed");
            }
            registry.set_dependency("clickhouse", answered.is_ok());
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(probes.every) => {}
        }
    }
}

/// Where a partition's consumer was when it last made progress.
#[derive(Debug, Clone, Copy)]
struct Progress {
    committed: i64,
    since: Instant,
    lag_then: i64,
}

/// Finds consumers that make no progress while their lag grows. Pure: fed the time and the
/// lags.
#[derive(Debug)]
pub struct StallWatch {
    after: Duration,
    seen: HashMap<LagKey, Progress>,
}

impl StallWatch {
    pub fn new(after: Duration) -> Self {
        StallWatch { after, seen: HashMap::new() }
    }

    /// The groups' partitions stalled at `now`: committed offset unchanged for `after` or longer,
    /// and more lag than when it last moved. Partitions no longer reported are forgotten.
    pub fn observe(&mut self, now: Instant, lags: &BTreeMap<LagKey, PartitionLag>) -> Vec<LagKey> {
        self.seen.retain(|key, _| lags.contains_key(key));
        let mut stalled = Vec::new();
        for (key, lag) in lags {
            let moved = Progress { committed: lag.committed, since: now, lag_then: lag.lag };
            let progress = self.seen.entry(key.clone()).or_insert(moved);
            if progress.committed != lag.committed {
                *progress = moved;
            } else if now.duration_since(progress.since) >= self.after && lag.lag > progress.lag_then {
                stalled.push(key.clone());
            }
        }
        stalled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> LagKey {
        LagKey::new("otklik-classify", "otklik.posts.raw.v1", 0)
    }

    fn lags(committed: i64, lag: i64) -> BTreeMap<LagKey, PartitionLag> {
        BTreeMap::from([(raw(), PartitionLag { lag, committed })])
    }

    #[test]
    fn a_consumer_is_stalled_when_its_offset_stays_while_its_lag_grows() {
        let start = Instant::now();
        let at = |minutes: u64| start + Duration::from_secs(minutes * 60);
        let mut watch = StallWatch::new(Duration::from_secs(300));
        assert!(watch.observe(at(0), &lags(100, 10)).is_empty());
        assert!(watch.observe(at(4), &lags(100, 50)).is_empty(), "not for five minutes yet");
        assert_eq!(watch.observe(at(5), &lags(100, 60)), vec![raw()]);
        // Progress clears it.
        assert!(watch.observe(at(6), &lags(150, 60)).is_empty());
        // Idle with nothing new to read is no stall.
        assert!(watch.observe(at(20), &lags(150, 60)).is_empty());
        // Revoked partitions are forgotten.
        assert!(watch.observe(at(21), &BTreeMap::new()).is_empty());
        assert!(watch.seen.is_empty());
    }

    /// Polls `ready` until it returns `want` (each wait ends as soon as it holds).
    async fn until(registry: &Registry, want: bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while registry.unready_reasons().is_empty() != want {
            assert!(Instant::now() < deadline, "readiness never became {want}: {:?}", registry.unready_reasons());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn readiness_flips_when_clickhouse_stops_and_back_when_it_returns() {
        use otklik_testkit::own_service::{Kind, OwnService};
        let started = tokio::task::spawn_blocking(|| OwnService::start(Kind::ClickHouse)).await.unwrap();
        let Some(server) = started else { return };
        let server = Arc::new(server);
        let registry = Arc::new(Registry::default());
        registry.set_ready(true);
        let clickhouse = Some(ClickHouseSinkConfig::new(server.address.clone(), "default"));
        let probes = Probes { kafka: None, clickhouse, every: Duration::from_millis(100) };
        let shutdown = CancellationToken::new();
        tokio::spawn(run(probes, registry.clone(), shutdown.clone()));
        until(&registry, true).await;
        let stopping = server.clone();
        tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap();
        until(&registry, false).await;
        assert_eq!(registry.unready_reasons(), vec!["clickhouse is unreachable".to_owned()]);
        assert!(registry.render().contains("otklik_dependency_up{dependency=\"clickhouse\"} 0"));
        let restarting = server.clone();
        tokio::task::spawn_blocking(move || restarting.restart()).await.unwrap();
        until(&registry, true).await;
        shutdown.cancel();
    }
}
