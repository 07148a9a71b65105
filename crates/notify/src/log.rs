//! The delivery log seam: every notification queued, every attempt and its outcome, every alert
//! recorded but not sent. It is also the outbox: [`crate::rebuild`] finds the work still owed in
//! it after a restart. The binary implements it over ClickHouse `alert_deliveries` and the local
//! store; [`MemoryDeliveryLog`] serves tests.

use crate::NotifyError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::DeliveryRecord;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    /// Stores `records` durably before returning.
    async fn append(&self, records: &[DeliveryRecord]) -> Result<(), NotifyError>;
    /// Every record with `at >= since`, in any order.
    async fn records_since(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, NotifyError>;
}

/// An in-memory log for tests; it can be made to fail, and a test can wait for a condition on
/// its records without polling on a timer.
#[derive(Debug)]
pub struct MemoryDeliveryLog {
    records: Mutex<Vec<DeliveryRecord>>,
    failing: Mutex<bool>,
    changed: watch::Sender<usize>,
}

impl Default for MemoryDeliveryLog {
    fn default() -> Self {
        MemoryDeliveryLog { records: Mutex::new(Vec::new()), failing: Mutex::new(false), changed: watch::channel(0).0 }
    }
}

impl MemoryDeliveryLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// A log holding `records` already (the state a restarted process finds).
    pub fn with_records(records: Vec<DeliveryRecord>) -> Self {
        let log = Self::default();
        *log.records.lock().unwrap_or_else(|p| p.into_inner()) = records;
        log
    }

    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes every later `append` fail (or work again).
    pub fn set_failing(&self, failing: bool) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = failing;
    }

    /// Waits until `done` holds for the records, at most `limit` (then returns what is there).
    /// The limit only bounds a broken test: a passing one returns as soon as the records agree.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[DeliveryRecord]) -> bool) -> Vec<DeliveryRecord> {
        let mut changed = self.changed.subscribe();
        let wait = async {
            loop {
                let records = self.records();
                if done(&records) {
                    return records;
                }
                if changed.changed().await.is_err() {
                    return records;
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(records) => records,
            Err(_) => self.records(),
        }
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn append(&self, records: &[DeliveryRecord]) -> Result<(), NotifyError> {
        if *self.failing.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(NotifyError::Log { message: "memory log set to fail".into(), retryable: true });
        }
        let len = {
            let mut stored = self.records.lock().unwrap_or_else(|p| p.into_inner());
            stored.extend_from_slice(records);
            stored.len()
        };
        self.changed.send_replace(len);
        Ok(())
    }

    async fn records_since(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, NotifyError> {
        Ok(self.records().into_iter().filter(|r| r.at >= since).collect())
    }
}
