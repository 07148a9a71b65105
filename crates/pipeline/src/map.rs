//! The map-stage runner: read a topic, turn each message into zero or more records, publish
//! them, commit. The classifier runs as one, and so does the alert stage, which also takes a
//! batch in an order of its own ([`Transform::apply_batch`]) and publishes what time alone
//! produces whenever it has caught up ([`Transform::on_idle`]).
//!
//! Delivery is at least once: offsets are committed only after every record produced from the
//! messages before them has been accepted by the bus (or the message dead-lettered), so a crash
//! re-processes (and re-publishes) at most the uncommitted tail; downstream dedups by uid.
//!
//! Up to [`MapStageConfig::in_flight`] batches wait for their acknowledgements at once: the stage
//! transforms the next batch while the bus confirms the last ones (a broker's round trip and its
//! `linger.ms` would otherwise idle the stage once per batch). Batches complete in the order they
//! were taken, so the committed offsets stay contiguous.
//!
//! A record the bus refuses for what it is (larger than the broker takes) sends the message it
//! came from to the DLQ with the reason; the stage goes on. A commit the bus reports as
//! retryable (a rebalance took the partition, the coordinator moved) does not end the stage:
//! those messages are simply delivered again.

use crate::backoff::Backoff;
use crate::bus::{Message, Offsets, Publisher, Subscriber};
use crate::dlq::{publish_with_retry, DeadLetters};
use crate::metrics::{DeadLetterReason, Failure, StageMetrics};
use crate::StageError;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One record a transform wants published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub topic: String,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
}

/// A message the transform cannot process; it goes to the DLQ with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unprocessable(pub String);

/// The pure part of a map stage.
pub trait Transform: Send + Sync {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable>;

    /// Applies a batch, one result per message in the batch's order. A stateful transform may
    /// take the messages in another order (the alert stage links a batch in time order).
    fn apply_batch(&self, batch: &[Message]) -> Vec<Result<Vec<Output>, Unprocessable>> {
        batch.iter().map(|message| self.apply(message)).collect()
    }

    /// Called when the stage has caught up (nothing is waiting) and then every
    /// [`Transform::idle_tick`] while nothing arrives: a stateful stage's chance to publish what
    /// time alone produces (the alert stage advances its clock here). The records are published
    /// before the next message is taken.
    fn on_idle(&self) -> Vec<Output> {
        Vec::new()
    }

    /// How often [`Transform::on_idle`] is called while nothing arrives; `None`: once each time
    /// the stage catches up.
    fn idle_tick(&self) -> Option<Duration> {
        None
    }
}

/// How a map stage batches its work.
#[derive(Debug, Clone)]
pub struct MapStageConfig {
    /// Stage name for logs, metrics and DLQ records.
    pub name: String,
    /// Messages taken at once when they are already waiting; their outputs are published
    /// concurrently.
    pub max_batch: usize,
    /// Batches whose outputs may await the bus's acknowledgement while the next one is
    /// transformed; 1 publishes each batch completely before taking the next (a stage whose
    /// outputs must keep their order across batches, such as the alert stage's events).
    pub in_flight: usize,
    /// Commit at least this often while busy (and always when caught up).
    pub commit_interval: Duration,
    pub backoff: Backoff,
}

/// Runs a map stage until `shutdown`; then finishes the batch in hand and commits it.
pub async fn run_map_stage(
    mut subscriber: Box<dyn Subscriber>,
    publisher: Arc<dyn Publisher>,
    transform: Arc<dyn Transform>,
    dead_letters: DeadLetters,
    config: MapStageConfig,
    metrics: Arc<StageMetrics>,
    shutdown: CancellationToken,
) -> Result<(), StageError> {
    let mut processed = Offsets::default();
    let mut last_commit = Instant::now();
    let mut in_flight = FuturesOrdered::new();
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let first = match subscriber.recv().now_or_never() {
            Some(received) => received?,
            None => {
                // Caught up: finish and commit what is under way before waiting, so an idle stage
                // holds nothing uncommitted.
                finish_all(&mut in_flight, &mut processed).await?;
                commit(subscriber.as_mut(), &mut processed, &metrics).await?;
                last_commit = Instant::now();
                match wait_idle(
                    subscriber.as_mut(),
                    transform.as_ref(),
                    publisher.as_ref(),
                    &config,
                    &metrics,
                    &shutdown,
                )
                .await?
                {
                    Some(message) => message,
                    None => break,
                }
            }
        };
        let mut batch = vec![first];
        while batch.len() < config.max_batch.max(1) {
            match subscriber.recv().now_or_never() {
                Some(received) => batch.push(received?),
                None => break,
            }
        }
        StageMetrics::add(&metrics.received, batch.len() as u64);
        let results = transform.apply_batch(&batch);
        in_flight.push_back(publish_batch(
            batch,
            results,
            publisher.as_ref(),
            &dead_letters,
            &config,
            &metrics,
            &shutdown,
        ));
        // Polling hands the new batch's records to the bus now, not when the oldest is awaited;
        // batches already acknowledged are taken on the way.
        while let Some(Some(done)) = in_flight.next().now_or_never() {
            mark_processed(done?, &mut processed);
        }
        while in_flight.len() >= config.in_flight.max(1) {
            finish_next(&mut in_flight, &mut processed).await?;
        }
        if last_commit.elapsed() >= config.commit_interval {
            commit(subscriber.as_mut(), &mut processed, &metrics).await?;
            last_commit = Instant::now();
        }
    }
    finish_all(&mut in_flight, &mut processed).await?;
    commit(subscriber.as_mut(), &mut processed, &metrics).await?;
    tracing::info!(stage = %config.name, "map stage stopped");
    Ok(())
}

/// Waits for the oldest batch under way and marks its messages processed.
async fn finish_next<F>(in_flight: &mut FuturesOrdered<F>, processed: &mut Offsets) -> Result<(), StageError>
where
    F: std::future::Future<Output = Result<Vec<Message>, StageError>>,
{
    if let Some(done) = in_flight.next().await {
        mark_processed(done?, processed);
    }
    Ok(())
}

fn mark_processed(batch: Vec<Message>, processed: &mut Offsets) {
    for message in &batch {
        processed.advance(message);
    }
}

async fn finish_all<F>(in_flight: &mut FuturesOrdered<F>, processed: &mut Offsets) -> Result<(), StageError>
where
    F: std::future::Future<Output = Result<Vec<Message>, StageError>>,
{
    while !in_flight.is_empty() {
        finish_next(in_flight, processed).await?;
    }
    Ok(())
}

/// Publishes a transformed batch's outputs and dead-letters what cannot be processed or
/// published; once it returns the batch, every message of it is handled.
#[tracing::instrument(level = "debug", name = "batch", skip_all, fields(stage = %config.name, messages = batch.len()))]
async fn publish_batch(
    batch: Vec<Message>,
    results: Vec<Result<Vec<Output>, Unprocessable>>,
    publisher: &dyn Publisher,
    dead_letters: &DeadLetters,
    config: &MapStageConfig,
    metrics: &StageMetrics,
    shutdown: &CancellationToken,
) -> Result<Vec<Message>, StageError> {
    // Each output with the index of the message it came from.
    let mut outputs = Vec::new();
    for (index, (message, result)) in batch.iter().zip(results).enumerate() {
        match result {
            Ok(produced) => outputs.extend(produced.into_iter().map(|output| (index, output))),
            Err(Unprocessable(reason)) => {
                dead_letters.send(message, &reason, shutdown).await?;
                metrics.dead_letter(DeadLetterReason::Unprocessable, 1);
            }
        }
    }
    let published = outputs
        .iter()
        .map(|(_, o)| publish_with_retry(publisher, &o.topic, &o.key, &o.payload, config.backoff, shutdown));
    let results = futures_util::future::join_all(published).await;
    let mut refused = std::collections::BTreeMap::new();
    for ((index, output), result) in outputs.iter().zip(results) {
        match result {
            Ok(()) => StageMetrics::add(&metrics.emitted, 1),
            Err(e) if e.rejected => {
                refused
                    .entry(*index)
                    .or_insert_with(|| format!("its output to {} was refused by the bus: {e}", output.topic));
            }
            Err(e) => return Err(e.into()),
        }
    }
    for (index, reason) in refused {
        dead_letters.send(&batch[index], &reason, shutdown).await?;
        metrics.dead_letter(DeadLetterReason::Refused, 1);
    }
    Ok(batch)
}

/// Caught up: publishes what the transform produces when idle (again every tick) until a
/// message arrives (`Some`) or shutdown (`None`).
async fn wait_idle(
    subscriber: &mut dyn Subscriber,
    transform: &dyn Transform,
    publisher: &dyn Publisher,
    config: &MapStageConfig,
    metrics: &StageMetrics,
    shutdown: &CancellationToken,
) -> Result<Option<Message>, StageError> {
    let tick = transform.idle_tick();
    loop {
        for output in transform.on_idle() {
            match publish_with_retry(publisher, &output.topic, &output.key, &output.payload, config.backoff, shutdown)
                .await
            {
                Ok(()) => StageMetrics::add(&metrics.emitted, 1),
                // No message to dead-letter: the record itself is what is lost, so say it loudly.
                Err(e) if e.rejected => {
                    tracing::error!(stage = %config.name, topic = %output.topic, error = %e, "record refused by the bus")
                }
                Err(e) => return Err(e.into()),
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(None),
            received = subscriber.recv() => return Ok(Some(received?)),
            _ = tokio::time::sleep(tick.unwrap_or_default()), if tick.is_some() => {}
        }
    }
}

/// Commits `offsets`. A retryable failure (the group rebalanced under us, the coordinator
/// moved) is not the stage's end: the offsets are dropped, their messages will be delivered
/// again (to this member or the partition's new owner), and the stage goes on.
pub(crate) async fn commit(
    subscriber: &mut dyn Subscriber,
    offsets: &mut Offsets,
    metrics: &StageMetrics,
) -> Result<(), StageError> {
    if offsets.is_empty() {
        return Ok(());
    }
    match subscriber.commit(offsets).await {
        Ok(()) => StageMetrics::add(&metrics.commits, 1),
        Err(e) if e.retryable => {
            tracing::warn!(error = %e, "commit failed; those messages will be delivered again");
            metrics.fail(Failure::Commit);
        }
        Err(e) => return Err(e.into()),
    }
    offsets.clear();
    Ok(())
}
