//! Dead-letter publishing and publishing with retry, shared by every stage runner. A DLQ record
//! never carries a registered secret ([`crate::secrets`]): a collector's bad page can be a
//! server echoing the request's token back.

use crate::backoff::Backoff;
use crate::bus::{BusError, Message, Publisher};
use crate::secrets;
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
    /// The DLQ record for `message` failing with `error`, every registered secret masked in the
    /// error, the origin, the key and the payload.
    pub fn record(&self, message: &Message, error: &str) -> DlqRecord {
        let payload = secrets::redact_bytes(&message.payload);
        let origin = secrets::redact(&message.topic);
        let mut record = DlqRecord::new(&self.stage, secrets::redact(error), origin, &payload, Utc::now());
        record.partition = Some(message.partition);
        record.offset = Some(message.offset);
        record.key = message.key_str().map(|key| secrets::redact(&key).into_owned());
        record
    }

    /// Publishes the DLQ record of `message`, keyed by the original key. A record the bus
    /// refuses as too large is sent again with its payload cut to [`TRUNCATED_PAYLOAD_BYTES`]
    /// (the error says so), so an oversized poison message never stops a stage.
    pub async fn send(&self, message: &Message, error: &str, shutdown: &CancellationToken) -> Result<(), BusError> {
        let record = self.record(message, error);
        let (partition, offset) = (message.partition, message.offset);
        tracing::warn!(stage = %self.stage, topic = %record.topic, partition, offset, error = %record.error, "sending to DLQ");
        let payload = otklik_model::encode(&record);
        let key = message.key.as_deref().unwrap_or_default();
        match publish_with_retry(self.publisher.as_ref(), &self.topic, key, &payload, self.backoff, shutdown).await {
            Err(e) if e.rejected => {
                let mut cut = message.clone();
                cut.payload.truncate(cut_point(&message.payload, TRUNCATED_PAYLOAD_BYTES));
                let error = format!(
                    "{error} (payload truncated to its first {} of {} bytes: {e})",
                    cut.payload.len(),
                    message.payload.len()
                );
                let payload = otklik_model::encode(&self.record(&cut, &error));
                publish_with_retry(self.publisher.as_ref(), &self.topic, key, &payload, self.backoff, shutdown).await
            }
            result => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bus, MemoryBus};
    use otklik_model::PayloadEncoding;

    fn dead_letters() -> DeadLetters {
        let publisher = MemoryBus::new(1).publisher();
        DeadLetters { publisher, topic: "dlq".into(), stage: "collect".into(), backoff: Backoff::default() }
    }

    fn message(topic: &str, payload: &[u8]) -> Message {
        let key = Some(b"vk:src".to_vec());
        Message { topic: topic.into(), partition: 0, offset: 7, key, payload: payload.to_vec() }
    }

    #[test]
    fn records_carry_no_registered_secret() {
        let token = "dlq-test-token-Zq81";
        secrets::register(token);
        let payload = format!(r#"{{"error":{{"error_msg":"bad token {token}"}},"url":"/m?access_token={token}"}}"#);
        let origin = format!("http://127.0.0.1:9/m {token}");
        let record = dead_letters().record(&message(&origin, payload.as_bytes()), &format!("echoed {token}"));
        let json = String::from_utf8(otklik_model::encode(&record)).unwrap();
        assert!(!json.contains(token), "{json}");
        assert_eq!(record.error, "echoed ***");
        assert_eq!(record.topic, "http://127.0.0.1:9/m ***");
        assert!(record.payload.contains("bad token ***") && record.payload_encoding == PayloadEncoding::Utf8);
        assert_eq!(record.offset, Some(7));
    }

    #[test]
    fn binary_payloads_are_masked_byte_wise() {
        let token = "dlq-binary-token-Qx5";
        secrets::register(token);
        let mut payload = vec![0xff, 0x00];
        payload.extend_from_slice(token.as_bytes());
        let record = dead_letters().record(&message("t", &payload), "not utf-8");
        assert_eq!(record.payload_encoding, PayloadEncoding::Base64);
        assert_eq!(record.payload_bytes().unwrap(), b"\xff\x00***");
    }
}
