use crate::{rfc3339_secs, Schema};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How [`DlqRecord::payload`] holds the original bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    Utf8,
    /// The original bytes were not UTF-8; `payload` is their standard base64.
    Base64,
}

/// Something a stage could not process, kept whole (`otklik.dlq.v1`, keyed by the original key)
/// so that nothing is dropped silently and it can be replayed after a fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqRecord {
    pub schema: Schema,
    /// The stage that gave up: `classify`, `store`, `clickhouse`, `collect.vk`, …
    pub stage: String,
    /// Why, in words (the full error chain).
    pub error: String,
    /// Where the payload came from: the input topic (or a source id for collectors).
    pub topic: String,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// The original message key, if any.
    #[serde(default)]
    pub key: Option<String>,
    pub payload: String,
    pub payload_encoding: PayloadEncoding,
    #[serde(with = "rfc3339_secs")]
    pub failed_at: DateTime<Utc>,
}

impl DlqRecord {
    /// Wraps raw bytes, keeping them exactly: UTF-8 as text, anything else as base64.
    pub fn new(
        stage: impl Into<String>,
        error: impl Into<String>,
        topic: impl Into<String>,
        payload: &[u8],
        failed_at: DateTime<Utc>,
    ) -> Self {
        let (payload, payload_encoding) = match std::str::from_utf8(payload) {
            Ok(text) => (text.to_owned(), PayloadEncoding::Utf8),
            Err(_) => (base64_encode(payload), PayloadEncoding::Base64),
        };
        DlqRecord {
            schema: Schema,
            stage: stage.into(),
            error: error.into(),
            topic: topic.into(),
            partition: None,
            offset: None,
            key: None,
            payload,
            payload_encoding,
            failed_at,
        }
    }

    /// The original payload bytes.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        match self.payload_encoding {
            PayloadEncoding::Utf8 => Some(self.payload.as_bytes().to_vec()),
            PayloadEncoding::Base64 => base64_decode(&self.payload),
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|&b| b != b'=')
        .map(|b| B64.iter().position(|&c| c == b).map(|p| p as u8))
        .collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_any_payload_bytes() {
        let now = Utc::now();
        for payload in [&b"{\"a\":1}"[..], b"", b"\xff\xfe\x00garbage", b"a", b"ab", b"abc"] {
            let record = DlqRecord::new("test", "boom", "t", payload, now);
            let back: DlqRecord = serde_json::from_slice(&crate::encode(&record)).unwrap();
            assert_eq!(back.payload_bytes().unwrap(), payload);
        }
        assert_eq!(DlqRecord::new("s", "e", "t", b"\xff", now).payload_encoding, PayloadEncoding::Base64);
    }
}
