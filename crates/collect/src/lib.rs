//! Collectors: turn public VK, Telegram and OK feeds into [`RawPost`]s.
//!
//! - [`vk`], [`telegram`], [`ok`]: one module per network, each a request builder and a pure
//!   parser (`parse_saved_response`: saved response bytes → posts; no I/O, no tokio).
//! - [`vk::VkReader`]: the VK API feed reader — token pool with per-token limits, VK error
//!   handling, `execute` batching in `poll_many`, walls, comments, name lookup, keyword search.
//! - [`Collector`]: the poll loop shared by all networks — poll a source through a
//!   [`FeedReader`], publish its posts, then its cursor; [`PollMetrics`] counts each source's
//!   polls, failures (by kind and [`code`]: the platform's own error code, `http_<status>`,
//!   `timeout`, `parse`, …), posts and last success.
//! - [`fleet`]: a collector fleet's share — the sources of the partitions a consumer group
//!   assigns ([`fleet::SourceTable`], [`Collector::run_share`]) and the import diff
//!   ([`fleet::import_plan`]).
//! - [`ReplayReader`]: a feed reader over saved responses (the demo, incident replays).
//! - [`PlatformReaders`]: one feed reader over several networks, dispatching by platform.
//! - [`telegram::TelegramReader`]: public Telegram channels over HTTP from their t.me/s previews.
//! - [`ok::OkReader`]: OK groups through the signed OK REST API (`mediatopic.getTopics`,
//!   `discussions.getComments`), one credential per [`ok::OkClient`], configured by [`ok::OkConfig`].
//! - [`check`]: the item check all three parsers apply (plausible ids and dates), and the
//!   parse outcome [`Parsed`]: valid posts, [`BadItem`]s that are not posts (for the DLQ), and
//!   [`Empty`] when a response holds nothing in a way a healthy feed does not answer.
//! - [`http::HttpClient`] with [`ratelimit::RateLimiter`]: the shared HTTP behaviour of every
//!   network's reader — per-key rate limits (a fleet member's share of them,
//!   [`ratelimit::RateLimiter::with_share`]; waits counted per key in [`ratelimit::RateWaits`]),
//!   timeouts, size cap, retry with backoff on 5xx/429;
//!   no redirects and no `Referer`, so a token in a query never leaves for another host.
//!
//! Neighbours: produces `otklik_model::RawPost`; publishes through the `otklik_pipeline`
//! publisher seam.

use chrono::{DateTime, Utc};
use otklik_model::{Platform, PostUid};

pub mod check;
pub mod code;
pub mod collector;
pub mod fleet;
pub mod http;
pub mod ok;
pub mod platforms;
pub mod polls;
pub mod ratelimit;
pub mod replay;
pub mod telegram;
pub mod vk;
pub mod walk;

pub use check::{BadItem, Empty, Parsed};
pub use collector::{
    cursors_from_table, BadPage, CollectError, Collector, CollectorTopics, Detail, EmptyLog, FeedReader, PassSummary,
    PollNotes, PollOutcome,
};
pub use platforms::PlatformReaders;
pub use polls::{PollMetrics, SourcePolls};
pub use replay::ReplayReader;

pub use otklik_model::RawPost;

/// What a parser needs to know beyond the response bytes.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The source being polled; when `None` (e.g. `otklik parse`), parsers use
    /// `{platform}:{owner}` from the response itself.
    pub source_id: Option<String>,
    /// Stamped on every post as `collected_at`.
    pub collected_at: DateTime<Utc>,
    /// For comment responses that do not name their post (OK `discussions.getComments`): the
    /// post the comments belong to.
    pub parent: Option<PostUid>,
    /// For saved VK responses whose items carry no `owner_id` (older `wall.getComments`
    /// results, `execute` results): the wall's owner id (`otklik parse vk --owner`).
    pub owner: Option<i64>,
}

impl ParseContext {
    pub fn new(collected_at: DateTime<Utc>) -> Self {
        ParseContext { source_id: None, collected_at, parent: None, owner: None }
    }

    /// The source id to stamp on a post of `owner`.
    pub fn source_id_for(&self, platform: Platform, owner: &str) -> String {
        match &self.source_id {
            Some(id) => id.clone(),
            None => format!("{}:{owner}", platform.uid_prefix()),
        }
    }
}

/// A response that could not be turned into posts. Never retryable: the same bytes fail again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {platform} response: {reason}")]
pub struct ParseError {
    pub platform: Platform,
    pub reason: String,
}

impl ParseError {
    pub fn new(platform: Platform, reason: impl Into<String>) -> Self {
        ParseError { platform, reason: reason.into() }
    }
}

/// Parses a saved response of `platform` (any response kind that network's parser knows) into
/// its valid posts; items that fail the [`check`] are left out (see [`parse_saved`]).
pub fn parse_saved_response(platform: Platform, bytes: &[u8], ctx: &ParseContext) -> Result<Vec<RawPost>, ParseError> {
    match platform {
        Platform::Vk => vk::parse_saved_response(bytes, ctx),
        Platform::Telegram => telegram::parse_saved_response(bytes, ctx),
        Platform::Ok => ok::parse_saved_response(bytes, ctx),
    }
}

/// Parses a saved response of `platform` into everything it yields: valid posts, the items that
/// are not posts, and why an answer with nothing in it is suspicious ([`Parsed`]).
pub fn parse_saved(platform: Platform, bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    match platform {
        Platform::Vk => vk::parse_saved(bytes, ctx),
        Platform::Telegram => telegram::parse_saved(bytes, ctx),
        Platform::Ok => ok::parse_saved(bytes, ctx),
    }
}
