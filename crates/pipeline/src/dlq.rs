//! Dead-letter publishing and publishing with retry, shared by every stage runner.

use crate::backoff::Backoff;
use crate::bus::{BusError, Message, Publisher};
use chrono::Utc;
use otklik_model::DlqRecord;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Publishes one record, retrying retryable bus errors with backoff until it is accepted.
/// Gives up only on a fatal error, or on shutdown (then returns the last error).
pub async fn publish_with_retry(
    publisher: &dyn Publisher,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    backoff: Backoff,
    shutdown: &CancellationToken,
) -> Result<(), BusError> {
    let mut attempt = 0;
    loop {
        match publisher.publish(topic, key, payload).await {
            Ok(()) => return Ok(()),
            Err(e) if e.retryable && !shutdown.is_cancelled() => {
                tracing::warn!(topic, attempt, error = %e, "publish failed, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff.delay(attempt)) => {}
                    _ = shutdown.cancelled() => return Err(e),
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where a stage sends what it cannot process.
#[derive(Clone)]
pub struct DeadLetters {
    pub publisher: Arc<dyn Publisher>,
    pub topic: String,
    /// The stage name recorded in each [`DlqRecord`].
    pub stage: String,
    pub backoff: Backoff,
}

impl DeadLetters {
    /// The DLQ record for `message` failing with `error`.
    pub fn record(&self, message: &Message, error: &str) -> DlqRecord {
        let mut record = DlqRecord::new(&self.stage, error, &message.topic, &message.payload, Utc::now());
        record.partition = Some(message.partition);
        record.offset = Some(message.offset);
        record.key = message.key_str();
        record
    }

    /// Publishes the DLQ record of `message`, keyed by the original key.
    pub async fn send(&self, message: &Message, error: &str, shutdown: &CancellationToken) -> Result<(), BusError> {
        tracing::warn!(stage = %self.stage, topic = %message.topic, partition = message.partition, offset = message.offset, error, "sending to DLQ");
        let payload = otklik_model::encode(&self.record(message, error));
        let key = message.key.as_deref().unwrap_or_default();
        publish_with_retry(self.publisher.as_ref(), &self.topic, key, &payload, self.backoff, shutdown).await
    }
}
