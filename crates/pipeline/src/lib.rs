//! The pipeline's seams and the machinery every stage shares, independent of the transport.
//!
//! - [`bus`]: the [`Publisher`] / [`Subscriber`] / [`Bus`] seams — publish; subscribe with
//!   explicit commit and redelivery of anything uncommitted.
//! - [`MemoryBus`]: those seams in process, with Kafka's semantics (the embedded wiring).
//! - [`run_map_stage`] with a [`Transform`]: message in, records out (the classifier).
//! - [`run_sink_stage`] with a [`BatchSink`]: batching by rows, bytes and age, retry with
//!   [`Backoff`], DLQ for what cannot be written, commit after the write (store, ClickHouse);
//!   [`run_sink_stage_draining`] writes without waiting once upstream is done.
//! - [`conformance`]: the behaviour every [`Bus`] must show, runnable against any of them.
//! - [`units`]: durations and sizes as config files write them, for every crate's config, with
//!   the shared [`units::ConfigProblem`] (otklik-model's, re-exported) and range checks of every
//!   `validate()`, and size-capped reads of config and secret files.
//! - [`secrets`]: the process-wide registry of secret values and the one redaction used by DLQ
//!   records, log lines and error messages.
//!
//! Neighbours: `otklik-kafka` implements the seams over Kafka; `otklik-clickhouse` provides
//! sinks; the binary wires stages to a bus. Shutdown is a `tokio_util` `CancellationToken`.

pub mod backoff;
pub mod bus;
pub mod conformance;
mod dlq;
mod map;
mod memory;
mod metrics;
pub mod secrets;
mod sink;
pub mod units;

pub use backoff::Backoff;
pub use bus::{Bus, BusError, Message, Offsets, Publisher, Subscriber};
pub use dlq::{publish_with_retry, DeadLetters, TRUNCATED_PAYLOAD_BYTES};
pub use map::{run_map_stage, MapStageConfig, Output, Transform, Unprocessable};
pub use memory::{MemoryBus, DEFAULT_MAX_RECORD_BYTES};
pub use metrics::{DeadLetterReason, Failure, StageCounts, StageMetrics};
pub use sink::{
    run_sink_stage, run_sink_stage_draining, BatchLimits, BatchSink, Rejection, SinkError, SinkStageConfig,
};
pub use tokio_util::sync::CancellationToken;

/// A stage stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("bus error: {0}")]
    Bus(#[from] BusError),
    #[error("stage {stage}: {reason}")]
    Sink { stage: String, reason: String },
}
