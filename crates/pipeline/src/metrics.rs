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
    /// `dead_lettered` by [`DeadLetterReason`].
    dead_lettered_by: [AtomicU64; DeadLetterReason::ALL.len()],
    /// Failed attempts by [`Failure`] (each is also in `retries`).
    failed_by: [AtomicU64; Failure::ALL.len()],
}

/// Why a record went to the DLQ: a small fixed set, so it can be a metric label (the record
/// itself carries the full error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The transform could not process the message (malformed, unknown schema).
    Unprocessable,
    /// The bus refused a record the transform produced (too large).
    Refused,
    /// A sink could not decode the message into a row.
    Undecodable,
    /// The destination refused the row for its content.
    Rejected,
}

impl DeadLetterReason {
    pub const ALL: [DeadLetterReason; 4] = [
        DeadLetterReason::Unprocessable,
        DeadLetterReason::Refused,
        DeadLetterReason::Undecodable,
        DeadLetterReason::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Unprocessable => "unprocessable",
            DeadLetterReason::Refused => "refused",
            DeadLetterReason::Undecodable => "undecodable",
            DeadLetterReason::Rejected => "rejected",
        }
    }
}

/// What failed and was tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A sink's batch write.
    Write,
    /// An offset commit (the messages are delivered again).
    Commit,
}

impl Failure {
    pub const ALL: [Failure; 2] = [Failure::Write, Failure::Commit];

    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Write => "write",
            Failure::Commit => "commit",
        }
    }
}

impl StageMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts `n` records dead-lettered for `reason`.
    pub fn dead_letter(&self, reason: DeadLetterReason, n: u64) {
        Self::add(&self.dead_lettered, n);
        Self::add(&self.dead_lettered_by[reason as usize], n);
    }

    pub fn dead_lettered_for(&self, reason: DeadLetterReason) -> u64 {
        Self::get(&self.dead_lettered_by[reason as usize])
    }

    /// Counts a failed attempt that is retried.
    pub fn fail(&self, failure: Failure) {
        Self::add(&self.retries, 1);
        Self::add(&self.failed_by[failure as usize], 1);
    }

    pub fn failed_for(&self, failure: Failure) -> u64 {
        Self::get(&self.failed_by[failure as usize])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_add_up_to_the_totals() {
        let metrics = StageMetrics::default();
        metrics.dead_letter(DeadLetterReason::Rejected, 2);
        metrics.dead_letter(DeadLetterReason::Undecodable, 1);
        metrics.fail(Failure::Commit);
        assert_eq!(metrics.dead_lettered_for(DeadLetterReason::Rejected), 2);
        assert_eq!(metrics.dead_lettered_for(DeadLetterReason::Unprocessable), 0);
        assert_eq!((metrics.snapshot().dead_lettered, metrics.snapshot().retries), (3, 1));
        assert_eq!((metrics.failed_for(Failure::Commit), metrics.failed_for(Failure::Write)), (1, 0));
    }
}
