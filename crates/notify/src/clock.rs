//! The outbox's idea of time: record timestamps, retry times and rate-limit waits all come from
//! one [`Clock`], so tests can run hours of backoff without waiting (a [`ManualClock`]) while the
//! HTTP requests themselves stay real.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Wall-clock time and waiting until a moment of it.
#[async_trait]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    async fn sleep_until(&self, at: DateTime<Utc>);
}

/// The system clock; waits are tokio sleeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        if let Ok(wait) = (at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A clock for tests: time stands still until someone sleeps, and a sleep moves it forward at
/// once to the moment slept until. Every wait is recorded.
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: DateTime<Utc>,
    waits: Vec<Duration>,
}

impl ManualClock {
    pub fn starting_at(now: DateTime<Utc>) -> Self {
        ManualClock { state: Arc::new(Mutex::new(ManualState { now, waits: Vec::new() })) }
    }

    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
    }

    /// Every wait so far (positive ones only), in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.lock().waits.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        {
            let mut state = self.lock();
            if let Ok(wait) = (at - state.now).to_std() {
                if !wait.is_zero() {
                    state.waits.push(wait);
                    state.now = at;
                }
            }
        }
        // Let other tasks run, as a real sleep would.
        tokio::task::yield_now().await;
    }
}

/// `at + d` for a std duration, saturating far in the future.
pub(crate) fn after(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d).ok().and_then(|d| at.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
