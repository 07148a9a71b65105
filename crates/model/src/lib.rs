//! Domain types of otklik and their wire form.
//!
//! Everything that crosses a process boundary — a Kafka message, a line of the local store, a
//! line of `otklik parse` output — is one of the types here, serialised as JSON with
//! `"schema": 1`:
//!
//! - [`RawPost`]: a post or comment as a collector saw it (`otklik.posts.raw.v1`);
//! - [`ClassifiedPost`]: a raw post plus its [`Classification`] (`otklik.posts.classified.v1`);
//! - [`Source`] and [`Cursor`]: the fleet's work list and its progress (compacted topics);
//! - [`SourceStat`]: a source's audience as a poll saw it (`otklik.sources.stats.v1`);
//! - [`Alert`]: one event of an alert — a spike of incident voices, or an organisation's complaints
//!   unanswered past their deadline (`otklik.alerts.v1`);
//! - [`DlqRecord`]: anything a stage could not process (`otklik.dlq.v1`);
//! - [`Notification`], [`DeliveryRecord`], [`Silence`]: alert delivery — what the router sends,
//!   the delivery log that is also the outbox, and duty officers' silences.
//!
//! [`PostUid`] is the key of every post message: `{platform}:{owner}:{id}[:c{comment}]`.
//! [`Problem`] and [`ConfigProblem`] are how every component reports what is wrong with its config.
//! [`Topic`] is the closed taxonomy of DESIGN.md; its ids are a contract.
//!
//! This crate does no I/O. Every other crate depends on it; it depends on none of them.

mod alert;
mod dlq;
mod notify;
mod post;
mod problem;
mod schema;
mod source;
mod time;
mod topic;
mod uid;

pub use alert::{Alert, AlertIncident, AlertKind, AlertOverdue, AlertSeverity, AlertState};
pub use dlq::{DlqRecord, PayloadEncoding};
pub use notify::{DeliveryOutcome, DeliveryRecord, Notification, NotificationKind, Silence};
pub use post::{
    Attachment, Author, Classification, ClassifiedPost, Counters, Geo, ItemKind, MunicipalityEvidence,
    MunicipalityMatch, PostKind, RawPost, RepostOrigin, TopicHit,
};
pub use problem::{ConfigProblem, Problem};
pub use schema::{Schema, SCHEMA_VERSION};
pub use source::{CommentsPolicy, Cursor, Platform, SeenPost, Source, SourceStat, SourceStatus};
pub use time::{format_rfc3339_secs, rfc3339_secs};
pub use topic::{Topic, UnknownTopic};
pub use uid::{PostUid, UidError};

/// Decoding a wire value failed. Never retryable: the same bytes fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid JSON for {what}: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Parses one wire value (any of the schema-1 types), naming the type in the error.
pub fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(bytes).map_err(|source| DecodeError::Json { what, source })
}

/// [`decode`] for text already checked to be UTF-8: its strings are not validated a second time.
pub fn decode_str<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|source| DecodeError::Json { what, source })
}

/// Serialises a wire value. Our types always serialise; the `expect` documents that invariant.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("model types serialise to JSON infallibly")
}
