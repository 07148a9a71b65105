//! The batching sink seam and its runner: read a topic, gather rows into batches by count, bytes
//! and age, write each batch durably, then commit. The local store and ClickHouse are sinks.
//!
//! A batch is committed only after the sink has acknowledged it. Retryable failures are retried
//! with backoff for as long as it takes (a ClickHouse restart must lose nothing). Rows the sink
//! rejects for their content, and messages that do not decode, go to the DLQ with the reason and
//! the rest of the batch goes on. A fatal sink error stops the stage without committing, so the
//! batch stays in the bus. On shutdown the batch in hand is written (one round of attempts) and
//! committed, or handed back uncommitted if the sink is unavailable.
//!
//! Draining ([`run_sink_stage_draining`]): once the producers upstream are done (a finished
//! replay, a first SIGTERM), waiting out `max_wait` would only delay the end of the run, so the
//! batch is written as soon as no further message is waiting.

use crate::backoff::Backoff;
use crate::bus::{Message, Offsets, Subscriber};
use crate::dlq::DeadLetters;
use crate::map::commit;
use crate::metrics::{DeadLetterReason, Failure, StageMetrics};
use crate::StageError;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One row of a batch the sink refused for its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Index of the row in the batch passed to [`BatchSink::write`].
    pub index: usize,
    pub reason: String,
}

/// Why a batch write failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Nothing (durable) was written; the same batch may succeed later.
    #[error("sink unavailable: {0}")]
    Retryable(String),
    /// Every row except these was written; these never will be.
    #[error("{} row(s) rejected", .0.len())]
    Rejected(Vec<Rejection>),
    /// The sink cannot work at all (bad schema, permissions): stop and keep the data in the bus.
    #[error("sink failed: {0}")]
    Fatal(String),
}

/// A destination that writes rows in batches.
#[async_trait]
pub trait BatchSink: Send + Sync {
    type Row: Send + Sync;

    /// Turns a bus message into a row; an error sends the message to the DLQ.
    fn decode(&self, message: &Message) -> Result<Self::Row, String>;

    /// Writes a batch durably; returns only once it is safe to commit the batch's offsets.
    async fn write(&self, rows: &[Self::Row]) -> Result<(), SinkError>;
}

/// When a batch is written: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_rows: usize,
    /// Sum of the payload sizes of the batch's messages.
    pub max_bytes: usize,
    /// Age of the batch's first message.
    pub max_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct SinkStageConfig {
    pub name: String,
    pub limits: BatchLimits,
    pub backoff: Backoff,
}

struct Batch<R> {
    rows: Vec<R>,
    /// The message each row came from, for DLQ records of rejected rows.
    sources: Vec<Message>,
    undecodable: Vec<(Message, String)>,
    bytes: usize,
    offsets: Offsets,
    deadline: Option<Instant>,
}

impl<R> Batch<R> {
    fn new() -> Self {
        Batch {
            rows: Vec::new(),
            sources: Vec::new(),
            undecodable: Vec::new(),
            bytes: 0,
            offsets: Offsets::default(),
            deadline: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

enum Event {
    Message(Message),
    Deadline,
    Shutdown,
}

enum Flushed {
    Committed,
    /// The sink stayed unavailable through shutdown; nothing was committed.
    HandedBack,
}

/// Runs a sink stage until `shutdown`.
pub async fn run_sink_stage<S: BatchSink + ?Sized>(
    subscriber: Box<dyn Subscriber>,
    sink: Arc<S>,
    dead_letters: DeadLetters,
    config: SinkStageConfig,
    metrics: Arc<StageMetrics>,
    shutdown: CancellationToken,
) -> Result<(), StageError> {
    run_sink_stage_draining(subscriber, sink, dead_letters, config, metrics, shutdown, CancellationToken::new()).await
}

/// [`run_sink_stage`] that, once `drain` is cancelled, writes its batch whenever no message is
/// waiting instead of when the batch is `max_wait` old; it keeps running until `shutdown`.
pub async fn run_sink_stage_draining<S: BatchSink + ?Sized>(
    mut subscriber: Box<dyn Subscriber>,
    sink: Arc<S>,
    dead_letters: DeadLetters,
    config: SinkStageConfig,
    metrics: Arc<StageMetrics>,
    shutdown: CancellationToken,
    drain: CancellationToken,
) -> Result<(), StageError> {
    let limits = config.limits;
    let mut batch = Batch::new();
    loop {
        let deadline = batch.deadline;
        let event = tokio::select! {
            biased;
            _ = shutdown.cancelled() => Event::Shutdown,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => Event::Deadline,
            received = subscriber.recv() => Event::Message(received?),
            // Polled after `recv`: when draining, reached only once nothing is waiting.
            _ = drain.cancelled(), if !batch.is_empty() => Event::Deadline,
        };
        match event {
            Event::Message(message) => {
                StageMetrics::add(&metrics.received, 1);
                batch.offsets.advance(&message);
                // A huge `max_wait` (a library user bypassing validation) must not overflow.
                let deadline = || Instant::now().checked_add(limits.max_wait).unwrap_or_else(far_future);
                batch.deadline.get_or_insert_with(deadline);
                match sink.decode(&message) {
                    Ok(row) => {
                        batch.bytes += message.payload.len();
                        batch.rows.push(row);
                        batch.sources.push(message);
                    }
                    Err(reason) => batch.undecodable.push((message, reason)),
                }
                if batch.rows.len() >= limits.max_rows || batch.bytes >= limits.max_bytes {
                    flush(
                        subscriber.as_mut(),
                        sink.as_ref(),
                        &dead_letters,
                        &config,
                        &metrics,
                        &shutdown,
                        std::mem::replace(&mut batch, Batch::new()),
                    )
                    .await?;
                }
            }
            Event::Deadline => {
                flush(
                    subscriber.as_mut(),
                    sink.as_ref(),
                    &dead_letters,
                    &config,
                    &metrics,
                    &shutdown,
                    std::mem::replace(&mut batch, Batch::new()),
                )
                .await?;
            }
            Event::Shutdown => {
                if let Flushed::HandedBack =
                    flush(subscriber.as_mut(), sink.as_ref(), &dead_letters, &config, &metrics, &shutdown, batch)
                        .await?
                {
                    tracing::warn!(stage = %config.name, "sink unavailable at shutdown: batch left uncommitted for redelivery");
                }
                break;
            }
        }
    }
    tracing::info!(stage = %config.name, "sink stage stopped");
    Ok(())
}

/// About thirty years ahead: far enough to mean «never», near enough for the timer.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

#[tracing::instrument(level = "debug", name = "batch", skip_all, fields(stage = %config.name, rows = batch.rows.len()))]
async fn flush<S: BatchSink + ?Sized>(
    subscriber: &mut dyn Subscriber,
    sink: &S,
    dead_letters: &DeadLetters,
    config: &SinkStageConfig,
    metrics: &StageMetrics,
    shutdown: &CancellationToken,
    mut batch: Batch<S::Row>,
) -> Result<Flushed, StageError> {
    if batch.is_empty() {
        return Ok(Flushed::Committed);
    }
    let mut rejected = Vec::new();
    if !batch.rows.is_empty() {
        let mut attempt = 0;
        loop {
            match sink.write(&batch.rows).await {
                Ok(()) => break,
                Err(SinkError::Rejected(rows)) => {
                    rejected = rows;
                    break;
                }
                Err(SinkError::Retryable(reason)) => {
                    metrics.fail(Failure::Write);
                    if shutdown.is_cancelled() {
                        return Ok(Flushed::HandedBack);
                    }
                    let delay = config.backoff.delay(attempt);
                    tracing::warn!(stage = %config.name, attempt, ?delay, %reason, "batch write failed, retrying");
                    // Idle, not asleep: a destination outage longer than Kafka's poll interval
                    // must not cost the group membership (and the batch's offsets with it).
                    tokio::select! {
                        idled = subscriber.idle(delay) => idled?,
                        // Shutdown while waiting: try once more right away, then hand back.
                        _ = shutdown.cancelled() => {}
                    }
                    attempt += 1;
                }
                Err(SinkError::Fatal(reason)) => return Err(StageError::Sink { stage: config.name.clone(), reason }),
            }
        }
    }
    for Rejection { index, reason } in &rejected {
        if let Some(message) = batch.sources.get(*index) {
            batch.undecodable.push((message.clone(), reason.clone()));
        }
    }
    for (message, reason) in &batch.undecodable {
        dead_letters.send(message, reason, shutdown).await?;
    }
    let refused = rejected.len() as u64;
    metrics.dead_letter(DeadLetterReason::Rejected, refused);
    metrics.dead_letter(DeadLetterReason::Undecodable, (batch.undecodable.len() as u64).saturating_sub(refused));
    StageMetrics::add(&metrics.emitted, (batch.rows.len() - rejected.len().min(batch.rows.len())) as u64);
    StageMetrics::add(&metrics.batches, 1);
    commit(subscriber, &mut batch.offsets, metrics).await?;
    Ok(Flushed::Committed)
}
