//! [`ClickHouseSink`]: the `BatchSink` that inserts rows into ClickHouse with RowBinary.
//!
//! The runner (`otklik_pipeline::run_sink_stage`) batches, retries and commits; this decides
//! what a failure means:
//!
//! - network errors, timeouts, and server codes for overload or transient states → `Retryable`
//!   (see [`crate::error`]);
//! - schema, permission and syntax errors → `Fatal`: the stage stops, offsets stay uncommitted;
//! - anything else is about the rows: the batch is bisected, the halves that go in are kept,
//!   and each single row the server still refuses becomes a `Rejection` with the server's own
//!   message (the runner sends it to the DLQ).
//!
//! Retries and bisection may insert some rows twice (a half that went in before its sibling
//! failed, a timed-out INSERT that did commit). That is safe by design rather than by server
//! dedup: `insert_deduplicate` works only on Replicated tables, and these are plain MergeTree.
//! `posts` is a ReplacingMergeTree keyed on the uid and `complaints_hourly` counts
//! `uniqExact(uid)`, so a row delivered twice is one post in every query that reads them with
//! FINAL / uniqExactMerge. Each INSERT carries a stable `query_id` derived from its rows (uid and
//! version); if an earlier attempt of the same rows is still running on the server, the retry is
//! refused (code 216, retryable) instead of racing it.

use crate::config::ClickHouseSinkConfig;
use crate::error::{ClickHouseError, FailureKind};
use crate::local::StoreRow;
use crate::row::TableRow;
use async_trait::async_trait;
use otklik_pipeline::{BatchSink, Message, Rejection, SinkError};
use std::hash::Hasher;
use std::marker::PhantomData;
use std::ops::Range;

/// How one INSERT ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Ok,
    /// Tried again by the runner (network, timeout, overload).
    Retryable,
    /// The stage stops (schema, permissions).
    Fatal,
    /// The server refused rows for their content: the batch is bisected.
    Content,
}

impl InsertOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            InsertOutcome::Ok => "ok",
            InsertOutcome::Retryable => "retryable",
            InsertOutcome::Fatal => "fatal",
            InsertOutcome::Content => "content",
        }
    }
}

/// One INSERT as the sink saw it: its table, rows, their size as JSONEachRow (the clickhouse
/// crate does not expose the RowBinary it sends), how long it took and how it ended.
#[derive(Debug, Clone, Copy)]
pub struct InsertReport {
    pub table: &'static str,
    pub rows: u64,
    pub bytes: u64,
    pub elapsed: std::time::Duration,
    pub outcome: InsertOutcome,
}

/// Told about every INSERT (the binary counts them for `/metrics`; this crate knows no exporter).
pub trait InsertObserver: Send + Sync {
    fn inserted(&self, report: InsertReport);
}

/// Inserts rows of `R`'s table.
pub struct ClickHouseSink<R> {
    client: clickhouse::Client,
    config: ClickHouseSinkConfig,
    observer: Option<std::sync::Arc<dyn InsertObserver>>,
    _rows: PhantomData<fn(R)>,
}

impl<R: TableRow> ClickHouseSink<R> {
    pub fn new(config: ClickHouseSinkConfig) -> Self {
        ClickHouseSink { client: config.client(), config, observer: None, _rows: PhantomData }
    }

    /// Reports every INSERT to `observer`.
    pub fn with_observer(mut self, observer: std::sync::Arc<dyn InsertObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Inserts `rows`. `Ok` means every row is stored; `Rejected` that every row except those
    /// listed is.
    pub async fn insert(&self, rows: &[R]) -> Result<(), SinkError> {
        let mut rejections = Vec::new();
        let mut good = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            match row.precheck() {
                Ok(()) => good.push(index),
                Err(reason) => rejections.push(Rejection { index, reason }),
            }
        }
        // Up to max_in_flight contiguous chunks, inserted concurrently.
        let chunks = self.config.max_in_flight.clamp(1, good.len().max(1));
        let size = good.len().div_ceil(chunks).max(1);
        let ranges: Vec<Range<usize>> =
            (0..good.len()).step_by(size).map(|start| start..(start + size).min(good.len())).collect();
        let attempts =
            futures_util::future::join_all(ranges.iter().map(|range| self.insert_some(rows, &good[range.clone()])))
                .await;
        let mut suspects = Vec::new();
        for (range, attempt) in ranges.into_iter().zip(attempts) {
            if let Err(error) = attempt {
                match error.kind() {
                    FailureKind::Retryable => return Err(SinkError::Retryable(error.to_string())),
                    FailureKind::Fatal => return Err(SinkError::Fatal(format!("{} insert: {error}", R::TABLE))),
                    FailureKind::Content => suspects.push((range, error)),
                }
            }
        }
        for (range, error) in suspects {
            self.bisect(rows, &good[range], error, &mut rejections).await?;
        }
        if rejections.is_empty() {
            Ok(())
        } else {
            rejections.sort_by_key(|r| r.index);
            tracing::warn!(
                table = R::TABLE,
                rejected = rejections.len(),
                rows = rows.len(),
                "ClickHouse rejected rows for their content"
            );
            Err(SinkError::Rejected(rejections))
        }
    }

    /// Finds the rows of `indices` (whose INSERT failed with `first`) that the server refuses,
    /// inserting everything else. Halving keeps the extra INSERTs near 2·k·log₂(n) for k bad rows.
    async fn bisect(
        &self,
        rows: &[R],
        indices: &[usize],
        first: ClickHouseError,
        rejections: &mut Vec<Rejection>,
    ) -> Result<(), SinkError> {
        let mut pending: Vec<(&[usize], Option<ClickHouseError>)> = vec![(indices, Some(first))];
        while let Some((part, known)) = pending.pop() {
            let error = match known {
                Some(error) => error,
                None => match self.insert_some(rows, part).await {
                    Ok(()) => continue,
                    Err(error) => error,
                },
            };
            match error.kind() {
                FailureKind::Retryable => return Err(SinkError::Retryable(error.to_string())),
                FailureKind::Fatal => return Err(SinkError::Fatal(format!("{} insert: {error}", R::TABLE))),
                FailureKind::Content if part.len() == 1 => {
                    let reason = match &error {
                        ClickHouseError::Server { message, .. } => message.clone(),
                        other => other.to_string(),
                    };
                    rejections.push(Rejection { index: part[0], reason });
                }
                FailureKind::Content => {
                    let (left, right) = part.split_at(part.len() / 2);
                    pending.push((right, None));
                    pending.push((left, None));
                }
            }
        }
        Ok(())
    }

    /// One INSERT of `rows[i]` for each `i` in `indices`, reported to the observer.
    async fn insert_some(&self, rows: &[R], indices: &[usize]) -> Result<(), ClickHouseError> {
        if indices.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let result = self.insert_once(rows, indices).await;
        if let Some(observer) = &self.observer {
            let outcome = match &result {
                Ok(()) => InsertOutcome::Ok,
                Err(e) => match e.kind() {
                    FailureKind::Retryable => InsertOutcome::Retryable,
                    FailureKind::Fatal => InsertOutcome::Fatal,
                    FailureKind::Content => InsertOutcome::Content,
                },
            };
            let bytes = indices.iter().map(|&i| json_len(&rows[i])).sum();
            let rows = indices.len() as u64;
            observer.inserted(InsertReport { table: R::TABLE, rows, bytes, elapsed: started.elapsed(), outcome });
        }
        result
    }

    async fn insert_once(&self, rows: &[R], indices: &[usize]) -> Result<(), ClickHouseError> {
        let mut identity = Fnv64::default();
        for &i in indices {
            rows[i].identify(&mut identity);
        }
        let query_id = format!("otklik-{}-{:016x}-{}", R::TABLE, identity.finish(), indices.len());
        let timeout = Some(self.config.timeout);
        let mut insert =
            self.client.insert::<R>(R::TABLE).await?.with_setting("query_id", query_id).with_timeouts(timeout, timeout);
        for &i in indices {
            insert.write(&rows[i]).await?;
        }
        insert.end().await?;
        Ok(())
    }
}

#[async_trait]
impl<R: TableRow + StoreRow> BatchSink for ClickHouseSink<R> {
    type Row = R;

    fn decode(&self, message: &Message) -> Result<R, String> {
        R::from_message(message)
    }

    async fn write(&self, rows: &[R]) -> Result<(), SinkError> {
        self.insert(rows).await
    }
}

/// The length of `row` as JSON, without building the text.
fn json_len<R: serde::Serialize>(row: &R) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Rows are plain data: serialising them cannot fail; a failure only makes the figure 0.
    let _ = serde_json::to_writer(&mut count, row);
    count.0
}

/// FNV-1a, 64 bit: a batch identity that is the same in every process and on every retry
/// (std's `DefaultHasher` is randomly keyed per process).
#[derive(Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf29ce484222325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}
