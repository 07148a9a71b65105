//! The one poll loop every network shares: poll each source through a [`FeedReader`], publish
//! its posts keyed by uid, then publish the source's new [`Cursor`].
//!
//! The cursor is published only after every post of the poll has been accepted by the bus, so a
//! crash can repeat a poll but never skip posts. A source the platform reports gone is marked
//! unavailable in its cursor and left alone; a page that does not parse goes to the DLQ whole
//! and the poll goes on with the next. An item that fails the item check ([`crate::check`])
//! goes to the DLQ on its own ([`BadPage::from_item`]); readers gather those, and the answers
//! that were suspiciously empty, in [`PollNotes`] and log the latter once per source
//! ([`EmptyLog`]).

use crate::check::{BadItem, Empty};
use crate::{ParseError, RawPost};
use async_trait::async_trait;
use chrono::Utc;
use otklik_model::{Cursor, Platform, Schema, Source, SourceStat, SourceStatus};
use otklik_pipeline::{publish_with_retry, Backoff, BusError, DeadLetters, Message, Publisher, StageMetrics};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The cursors stored in the compacted cursors topic (`Bus::read_table`), by source id. A value
/// that does not decode is logged and skipped: that source starts over with a first poll, which
/// re-publishes at most its first-poll depth (downstream dedups by uid).
pub fn cursors_from_table(table: HashMap<Vec<u8>, Vec<u8>>) -> HashMap<String, Cursor> {
    table
        .into_iter()
        .filter_map(|(key, value)| match otklik_model::decode::<Cursor>("Cursor", &value) {
            Ok(cursor) => Some((cursor.source_id.clone(), cursor)),
            Err(e) => {
                tracing::warn!(key = %String::from_utf8_lossy(&key), error = %e, "skipping a stored cursor that does not decode");
                None
            }
        })
        .collect()
}

/// The shortest poll interval [`Collector::run`] uses (`collect.poll_interval`'s lower bound).
pub const MIN_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The longest pause or wait taken literally: a configured one beyond it (validation bypassed
/// by a library user) is cut to it, so that `Instant` arithmetic cannot overflow and panic.
pub(crate) const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The platform says the feed is gone, private or blocked: stop polling it.
    #[error("source unavailable: {0}")]
    Unavailable(Detail),
    /// The poll may succeed later (network, rate limit, 5xx).
    #[error("transient failure: {0}")]
    Transient(Detail),
    /// The feed reader itself is misconfigured (missing replay directory, bad credentials).
    #[error("{0}")]
    Config(Detail),
}

impl CollectError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, CollectError::Transient(_))
    }

    /// The failure's stable machine code (see [`crate::code`]): the platform's own error code,
    /// `http_<status>`, `timeout`, `parse`, …, or `other`.
    pub fn code(&self) -> &str {
        self.detail().code()
    }

    /// What happened, for people (no kind prefix).
    pub fn detail(&self) -> &Detail {
        match self {
            CollectError::Unavailable(d) | CollectError::Transient(d) | CollectError::Config(d) => d,
        }
    }
}

/// A poll failure's message and its machine code. Built from a bare message, the code is
/// `other`: where a failure is classified, [`Detail::coded`] sets the code it deserves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    message: String,
    code: Cow<'static, str>,
}

impl Detail {
    /// `message` with `code`, one of the bounded codes [`crate::code`] hands out.
    pub fn coded(code: Cow<'static, str>, message: impl Into<String>) -> Self {
        Detail { message: message.into(), code }
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A detail reads as its message (`detail.contains(…)`).
impl std::ops::Deref for Detail {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl From<String> for Detail {
    fn from(message: String) -> Self {
        Detail { message, code: Cow::Borrowed(crate::code::OTHER) }
    }
}

impl From<&str> for Detail {
    fn from(message: &str) -> Self {
        Detail::from(message.to_owned())
    }
}

/// A page that could not be parsed, kept whole for the DLQ.
#[derive(Debug)]
pub struct BadPage {
    /// Where it came from: a file path or request URL (never with credentials).
    pub origin: String,
    pub bytes: Vec<u8>,
    pub error: ParseError,
}

impl BadPage {
    /// An item of a page from `origin` that is not a post, for the DLQ on its own: the payload
    /// is the item as read (RawPost JSON), or the page's bytes when it never got that far.
    pub fn from_item(platform: Platform, origin: &str, page: &[u8], item: BadItem) -> BadPage {
        let bytes = match &item.post {
            Some(post) => otklik_model::encode(post.as_ref()),
            None => page.to_vec(),
        };
        let error = ParseError::new(platform, item.to_string());
        BadPage { origin: format!("{origin} item {}", item.index), bytes, error }
    }
}

/// What the pages of one poll said besides their posts: their bad items (as [`BadPage`]s for
/// the DLQ) and the first suspiciously empty answer. Shared by the page reads of one poll,
/// which run inside the walk (that carries posts only).
#[derive(Debug, Default)]
pub struct PollNotes {
    inner: Mutex<(Vec<BadPage>, Option<Empty>)>,
}

impl PollNotes {
    /// Notes what one page of `origin` (whose bytes are `page`) reported.
    pub fn note(&self, platform: Platform, origin: &str, page: &[u8], bad_items: Vec<BadItem>, empty: Option<Empty>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.extend(bad_items.into_iter().map(|item| BadPage::from_item(platform, origin, page, item)));
        if inner.1.is_none() {
            inner.1 = empty.map(|e| Empty::new(format!("{origin}: {}", e.reason)));
        }
    }

    pub fn into_parts(self) -> (Vec<BadPage>, Option<Empty>) {
        self.inner.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// Logs suspiciously empty answers once per source, not on every poll: a WARN when a source
/// starts answering [`Empty`] (or for a new reason), an INFO when it answers normally again.
#[derive(Debug, Default)]
pub struct EmptyLog {
    empty: Mutex<HashMap<String, String>>,
}

impl EmptyLog {
    /// Records how a poll of `source` ended; true when that was logged.
    pub fn record(&self, source: &str, empty: Option<&Empty>) -> bool {
        let mut sources = self.empty.lock().unwrap_or_else(|p| p.into_inner());
        match empty {
            Some(e) if sources.get(source) == Some(&e.reason) => false,
            Some(e) => {
                tracing::warn!(
                    source,
                    reason = %e.reason,
                    "the source answered with nothing in it, which a healthy feed never does (logged once)"
                );
                sources.insert(source.to_owned(), e.reason.clone());
                true
            }
            None => {
                let was = sources.remove(source);
                if let Some(reason) = &was {
                    tracing::info!(source, previous = %reason, "the source answers normally again");
                }
                was.is_some()
            }
        }
    }
}

/// What one poll of one source produced.
#[derive(Debug)]
pub struct PollOutcome {
    pub posts: Vec<RawPost>,
    pub bad_pages: Vec<BadPage>,
    /// The cursor to store once the posts are published.
    pub cursor: Cursor,
    /// The source's audience (members, subscribers) when the platform showed it this poll;
    /// `None` when it did not or reading it failed (which never fails the poll).
    pub audience: Option<u64>,
}

/// Reads one network's feeds: over HTTP in production, from saved responses in the demo.
#[async_trait]
pub trait FeedReader: Send + Sync {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError>;

    /// Polls several sources, results in the same order. The default polls them all
    /// concurrently (the reader's rate limits pace the requests); a network whose API batches
    /// calls (VK `execute`) overrides it.
    async fn poll_many(&self, sources: &[(&Source, &Cursor)]) -> Vec<Result<PollOutcome, CollectError>> {
        let polls = sources.iter().map(|(source, cursor)| {
            let span = tracing::info_span!("fetch", source = %source.id, platform = %source.platform);
            self.poll(source, cursor).instrument(span)
        });
        futures_util::future::join_all(polls).await
    }
}

/// Where a collector publishes.
#[derive(Clone)]
pub struct CollectorTopics {
    pub raw: String,
    pub cursors: String,
    /// Where audiences go ([`SourceStat`], keyed by source id).
    pub stats: String,
}

/// Totals of one pass over the sources.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassSummary {
    pub polled: usize,
    pub posts: usize,
    pub bad_pages: usize,
    pub unavailable: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
}

/// Polls sources and publishes what it finds.
pub struct Collector {
    pub reader: Arc<dyn FeedReader>,
    pub publisher: Arc<dyn Publisher>,
    pub topics: CollectorTopics,
    pub dead_letters: DeadLetters,
    pub backoff: Backoff,
    pub metrics: Arc<StageMetrics>,
    /// Per-source polls, failures, posts and last success.
    pub polls: crate::polls::PollMetrics,
}

impl Collector {
    /// Polls every enabled, available source once and publishes what each poll found (posts
    /// first, then the source's cursor); stops early on shutdown.
    pub async fn poll_all(
        &self,
        sources: &[Source],
        cursors: &mut HashMap<String, Cursor>,
        shutdown: &CancellationToken,
    ) -> Result<PassSummary, BusError> {
        self.poll_pass(sources, cursors, shutdown, shutdown).await
    }

    /// [`Collector::poll_all`] that `abandon` cuts short too: the walks in progress are dropped
    /// (their sources keep the cursors already published) and the pass returns. A collector
    /// giving its sources up (a revocation) abandons; `shutdown` ends the publishing as well.
    pub async fn poll_pass(
        &self,
        sources: &[Source],
        cursors: &mut HashMap<String, Cursor>,
        abandon: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> Result<PassSummary, BusError> {
        let mut summary = PassSummary::default();
        let due: Vec<(&Source, Cursor)> = sources
            .iter()
            .filter(|s| s.enabled)
            .map(|s| (s, cursors.get(&s.id).cloned().unwrap_or_else(|| Cursor::new(&s.id))))
            .filter(|(_, c)| !matches!(c.status, SourceStatus::Unavailable { .. }))
            .collect();
        if due.is_empty() || shutdown.is_cancelled() || abandon.is_cancelled() {
            return Ok(summary);
        }
        let batch: Vec<(&Source, &Cursor)> = due.iter().map(|(s, c)| (*s, c)).collect();
        let outcomes = tokio::select! {
            outcomes = self.reader.poll_many(&batch) => outcomes,
            _ = shutdown.cancelled() => return Ok(summary),
            _ = abandon.cancelled() => return Ok(summary),
        };
        for ((source, cursor), outcome) in due.iter().zip(outcomes) {
            // A span per source around its whole unit of work, never a guard held across `.await`.
            let span = tracing::info_span!("poll", source = %source.id, platform = %source.platform);
            let new_cursor = self.record_poll(source, cursor, outcome, &mut summary, shutdown).instrument(span).await?;
            cursors.insert(source.id.clone(), new_cursor);
        }
        Ok(summary)
    }

    /// Publishes what one poll of `source` found and then its new cursor, which it returns.
    async fn record_poll(
        &self,
        source: &Source,
        cursor: &Cursor,
        outcome: Result<PollOutcome, CollectError>,
        summary: &mut PassSummary,
        shutdown: &CancellationToken,
    ) -> Result<Cursor, BusError> {
        summary.polled += 1;
        let counted = match &outcome {
            Ok(outcome) => Ok(outcome.posts.len() as u64),
            Err(e @ CollectError::Unavailable(_)) => Err(("unavailable", e.code())),
            Err(e @ CollectError::Transient(_)) => Err(("transient", e.code())),
            Err(e @ CollectError::Config(_)) => Err(("config", e.code())),
        };
        self.polls.record(&source.id, source.platform, counted, Utc::now());
        let new_cursor = match outcome {
            Ok(outcome) => {
                summary.posts += outcome.posts.len();
                summary.bad_pages += outcome.bad_pages.len();
                self.publish_outcome(source, &outcome, shutdown).await?;
                if let Some(audience) = outcome.audience {
                    self.publish_audience(source, audience, shutdown).await?;
                }
                outcome.cursor
            }
            Err(CollectError::Unavailable(reason)) => {
                let reason = reason.to_string();
                tracing::warn!(%reason, "source unavailable; polling it stops until ops act");
                summary.unavailable.push((source.id.clone(), reason.clone()));
                Cursor { status: SourceStatus::Unavailable { reason }, polled_at: Some(Utc::now()), ..cursor.clone() }
            }
            Err(e) => {
                tracing::warn!(error = %e, "poll failed");
                summary.failed.push((source.id.clone(), e.to_string()));
                Cursor {
                    status: SourceStatus::Failing { reason: e.to_string() },
                    polled_at: Some(Utc::now()),
                    ..cursor.clone()
                }
            }
        };
        let payload = otklik_model::encode(&new_cursor);
        publish_with_retry(
            self.publisher.as_ref(),
            &self.topics.cursors,
            source.id.as_bytes(),
            &payload,
            self.backoff,
            shutdown,
        )
        .await?;
        Ok(new_cursor)
    }

    /// Polls every `interval` until shutdown (live collection), starting from `cursors` (see
    /// [`cursors_from_table`]). An interval below [`MIN_POLL_INTERVAL`] is raised to it.
    pub async fn run(
        &self,
        sources: &[Source],
        cursors: HashMap<String, Cursor>,
        interval: std::time::Duration,
        shutdown: &CancellationToken,
    ) -> Result<(), BusError> {
        let (_keep, sources) = tokio::sync::watch::channel(Arc::new(sources.to_vec()));
        self.run_watched(sources, cursors, interval, shutdown).await
    }

    /// [`Collector::run`] over a sources list that may change while it runs (a reloaded sources
    /// file): each pass polls the list current when it starts, so a pass in progress is never cut.
    /// A removed source's cursor is kept, so adding it back resumes where it stopped.
    pub async fn run_watched(
        &self,
        sources: tokio::sync::watch::Receiver<Arc<Vec<Source>>>,
        mut cursors: HashMap<String, Cursor>,
        interval: std::time::Duration,
        shutdown: &CancellationToken,
    ) -> Result<(), BusError> {
        // check-config refuses such intervals; a library caller that skips it must get neither
        // tokio's zero-period panic nor a busy loop.
        let mut tick = tokio::time::interval(interval.max(MIN_POLL_INTERVAL));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
            let current = sources.borrow().clone();
            let pass = self.poll_all(&current, &mut cursors, shutdown).await?;
            tracing::info!(
                polled = pass.polled,
                posts = pass.posts,
                failed = pass.failed.len(),
                unavailable = pass.unavailable.len(),
                "poll pass done"
            );
        }
    }

    /// Publishes `source`'s audience. A record the bus refuses is logged and dropped: the next
    /// poll observes the audience again, and posts never wait on it.
    async fn publish_audience(&self, source: &Source, audience: u64, stop: &CancellationToken) -> Result<(), BusError> {
        let (source_id, platform, observed_at) = (source.id.clone(), source.platform, Utc::now());
        let payload = otklik_model::encode(&SourceStat { schema: Schema, source_id, platform, observed_at, audience });
        let (topic, key) = (&self.topics.stats, source.id.as_bytes());
        match publish_with_retry(self.publisher.as_ref(), topic, key, &payload, self.backoff, stop).await {
            Err(e) if e.rejected => tracing::warn!(error = %e, "the audience was refused by the bus"),
            other => other?,
        }
        Ok(())
    }

    async fn publish_outcome(
        &self,
        source: &Source,
        outcome: &PollOutcome,
        shutdown: &CancellationToken,
    ) -> Result<(), BusError> {
        for page in &outcome.bad_pages {
            let message = Message {
                topic: page.origin.clone(),
                partition: -1,
                offset: -1,
                key: Some(source.id.clone().into_bytes()),
                payload: page.bytes.clone(),
            };
            self.dead_letters.send(&message, &page.error.to_string(), shutdown).await?;
            StageMetrics::add(&self.metrics.dead_lettered, 1);
        }
        let publishes = outcome.posts.iter().map(|post| {
            let key = post.uid.to_string();
            let payload = otklik_model::encode(post);
            async move {
                match publish_with_retry(
                    self.publisher.as_ref(),
                    &self.topics.raw,
                    key.as_bytes(),
                    &payload,
                    self.backoff,
                    shutdown,
                )
                .await
                {
                    // Larger than the bus takes: kept in the DLQ, and the poll goes on.
                    Err(e) if e.rejected => {
                        let message = Message {
                            topic: self.topics.raw.clone(),
                            partition: -1,
                            offset: -1,
                            key: Some(key.into_bytes()),
                            payload,
                        };
                        self.dead_letters
                            .send(&message, &format!("the post was refused by the bus: {e}"), shutdown)
                            .await?;
                        StageMetrics::add(&self.metrics.dead_lettered, 1);
                    }
                    Err(e) => return Err(e),
                    Ok(()) => StageMetrics::add(&self.metrics.emitted, 1),
                }
                Ok(())
            }
        });
        futures_util::future::try_join_all(publishes).await?;
        Ok(())
    }
}
