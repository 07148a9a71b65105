//! Counters every stage keeps; the binary exposes them as Prometheus text and progress lines.

use std::sync::atomic::{AtomicU64, Ordering};

/// Lock-free counters of one stage. Shared as `Arc<StageMetrics>` between the stage task and
/// whoever reports.
#[derive(Debug, Default)]
pub struct StageMetrics {
    /// Messages received from the bus.
    pub received: AtomicU64,
    /// Records published (map stages) or rows written (sink stages).
    pub emitted: AtomicU64,
    /// Records sent to the DLQ.
    pub dead_lettered: AtomicU64,
    /// Batches written (sink stages).
    pub batches: AtomicU64,
    /// Failed attempts that were retried.
    pub retries: AtomicU64,
    /// Commits made.
    pub commits: AtomicU64,
}

impl StageMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> StageCounts {
        StageCounts {
            received: Self::get(&self.received),
            emitted: Self::get(&self.emitted),
            dead_lettered: Self::get(&self.dead_lettered),
            batches: Self::get(&self.batches),
            retries: Self::get(&self.retries),
            commits: Self::get(&self.commits),
        }
    }
}

/// A point-in-time copy of [`StageMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounts {
    pub received: u64,
    pub emitted: u64,
    pub dead_lettered: u64,
    pub batches: u64,
    pub retries: u64,
    pub commits: u64,
}
