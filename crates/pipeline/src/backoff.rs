//! Exponential backoff with "equal" jitter (a random wait in the upper half of the ceiling),
//! shared by every retry loop (sinks, publishers, collectors) so that a fleet of processes
//! retrying the same broken server spreads out.

use rand::Rng;
use std::time::Duration;

/// Backoff policy: the n-th retry (0-based) waits a random time in `[c/2, c]`, where the
/// ceiling `c = min(max, initial · 2ⁿ)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The ceiling for retry number `attempt` (0-based), before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The wait before retry number `attempt` (0-based): uniform in `[ceiling/2, ceiling]`.
    /// Half the ceiling is kept fixed so that retries always make some progress in time.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=ceiling - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2) };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(10), Duration::from_secs(2));
        assert_eq!(b.ceiling(200), Duration::from_secs(2));
        for attempt in 0..40 {
            let d = b.delay(attempt);
            assert!(d <= b.ceiling(attempt) && d >= b.ceiling(attempt) / 2);
        }
    }
}
