//! Counters per receiver, for the binary to export (Prometheus text, progress lines).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Lock-free counters of one receiver, shared between its task and whoever reports.
#[derive(Debug, Default)]
pub struct ReceiverMetrics {
    pub delivered: AtomicU64,
    /// Attempts that failed and are tried again.
    pub retried: AtomicU64,
    /// Notifications given up on (refused, or retried too long).
    pub failed: AtomicU64,
    /// Gauge: the receiver answered 410 Gone and sends nothing more.
    pub disabled: AtomicBool,
    /// Gauge: notifications waiting in the receiver's queue.
    pub pending: AtomicU64,
}

/// A point-in-time copy of [`ReceiverMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverCounts {
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
    pub disabled: bool,
    pub pending: u64,
}

impl ReceiverMetrics {
    pub fn snapshot(&self) -> ReceiverCounts {
        ReceiverCounts {
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            disabled: self.disabled.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }
}
