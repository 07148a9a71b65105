//! [`PageData`] over vectors in memory: for tests and for trying the page without a store.

use crate::data::{DataError, HourCell, IncidentView, PageData};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::{Alert, DeliveryRecord, Silence};
use std::sync::Mutex;

/// The page's data as given; `silences` grows with every silence added.
#[derive(Debug, Default)]
pub struct MemoryData {
    pub alerts: Vec<Alert>,
    pub incidents: Vec<IncidentView>,
    pub hourly: Vec<HourCell>,
    pub silences: Mutex<Vec<Silence>>,
    pub deliveries: Vec<DeliveryRecord>,
    /// When set, every read fails with this message (a store that is down).
    pub failing: Option<String>,
}

impl MemoryData {
    fn check(&self) -> Result<(), DataError> {
        match &self.failing {
            Some(message) => Err(DataError::Backend { message: message.clone(), retryable: true }),
            None => Ok(()),
        }
    }

    /// Every silence stored so far, active or not.
    pub fn stored_silences(&self) -> Vec<Silence> {
        self.silences.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl PageData for MemoryData {
    async fn alerts(&self, since: DateTime<Utc>) -> Result<Vec<Alert>, DataError> {
        self.check()?;
        Ok(self.alerts.iter().filter(|a| a.raised_at >= since).cloned().collect())
    }

    async fn incidents(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<IncidentView>, DataError> {
        self.check()?;
        Ok(self.incidents.iter().filter(|i| i.last_seen >= from && i.first_seen < to).cloned().collect())
    }

    async fn hourly_voices(&self, since: DateTime<Utc>) -> Result<Vec<HourCell>, DataError> {
        self.check()?;
        Ok(self.hourly.iter().filter(|c| c.hour >= since).cloned().collect())
    }

    async fn silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, DataError> {
        self.check()?;
        Ok(self.stored_silences().into_iter().filter(|s| s.ends_at > now).collect())
    }

    async fn add_silence(&self, silence: &Silence) -> Result<(), DataError> {
        self.check()?;
        self.silences.lock().unwrap_or_else(|p| p.into_inner()).push(silence.clone());
        Ok(())
    }

    async fn deliveries(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, DataError> {
        self.check()?;
        Ok(self.deliveries.iter().filter(|d| d.at >= since).cloned().collect())
    }
}
