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

/// How much of a payload a DLQ record keeps when the whole record is larger than the bus takes.
pub const TRUNCATED_PAYLOAD_BYTES: usize = 64 << 10;

/// Where to cut `payload` to at most `limit` bytes: text is cut at a character boundary so the
/// record keeps it as text.
fn cut_point(payload: &[u8], limit: usize) -> usize {
    match std::str::from_utf8(payload) {
        Ok(text) if text.len() > limit => (0..=limit).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0),
        _ => payload.len().min(limit),
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

    /// Publishes the DLQ record of `message`, keyed by the original key. A record the bus
    /// refuses as too large is sent again with its payload cut to [`TRUNCATED_PAYLOAD_BYTES`]
    /// (the error says so), so an oversized poison message never stops a stage.
    pub async fn send(&self, message: &Message, error: &str, shutdown: &CancellationToken) -> Result<(), BusError> {
        tracing::warn!(stage = %self.stage, topic = %message.topic, partition = message.partition, offset = message.offset, error, "sending to DLQ");
        let key = message.key.as_deref().unwrap_or_default();
        let payload = otklik_model::encode(&self.record(message, error));
        match publish_with_retry(self.publisher.as_ref(), &self.topic, key, &payload, self.backoff, shutdown).await {
            Err(e) if e.rejected => {
                let mut cut = message.clone();
                cut.payload.truncate(cut_point(&message.payload, TRUNCATED_PAYLOAD_BYTES));
                let error = format!("{error} (payload truncated to its first {} of {} bytes: {e})", cut.payload.len(), message.payload.len());
                let payload = otklik_model::encode(&self.record(&cut, &error));
                publish_with_retry(self.publisher.as_ref(), &self.topic, key, &payload, self.backoff, shutdown).await
            }
            result => result,
        }
    }
}
