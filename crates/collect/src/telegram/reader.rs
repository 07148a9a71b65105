//! The Telegram poller: reads public channels over HTTP from the `t.me/s/<channel>` web preview.
//!
//! One poll of a channel is a newest-first [`walk`](crate::walk::walk): the preview page
//! `{base_url}/s/<channel>` (the newest ~20 posts), then older pages `?before=<id>` (the id of
//! the oldest post shown, which t.me's «more» link carries) until the cursor and the re-check
//! window are passed or a first poll's depth is reached. The walk dedups posts by uid (pages can
//! overlap), re-publishes young posts whose fingerprint changed (edited, new view counts) and
//! advances the cursor; this module only fetches and parses pages.
//!
//! Older pages are requested as ordinary pages by default, as a browser opening the «more» link
//! does; with `xhr_paging` they are requested as t.me's own script does
//! (`X-Requested-With: XMLHttpRequest`), and the JSON-string fragment that comes back is parsed
//! the same way.
//!
//! HTTP behaviour comes from the shared [`HttpClient`]: one rate limit per host (key = the host of
//! `base_url`, `t.me`, default 1 request / 2 s), timeouts, a response size cap, retries with
//! jittered backoff on network errors, 5xx and 429 (honouring `Retry-After`). On top of that:
//!
//! | what t.me does | outcome |
//! |---|---|
//! | 404 / 410 (no retry) | [`CollectError::Unavailable`] «channel not found» |
//! | redirects `/s/<channel>` elsewhere (private channel, user, bot, group, preview off) | `Unavailable` «no public preview» |
//! | answers `/s/<channel>` with the contact page instead of a preview | `Unavailable` «no public preview» |
//! | 429 / 5xx / network failure after the retries | [`CollectError::Transient`] |
//! | a body over `max_page_bytes` | `Transient` naming the cap (the body is not read past it) |
//! | a page that does not parse, or is cut off before `</html>` | [`PageError::Bad`]: kept whole for the DLQ, the walk ends there |
//!
//! Redirects are never followed (the shared client refuses them), so a redirect's target is
//! named in the error but not fetched.
//!
//! A body shorter than its `Content-Length` is a network failure (retried); a body cut off
//! without the HTTP layer noticing (connection-close framing) is caught by the missing `</html>`.

use super::{parse_fragment, parse_page, TelegramPage};
use crate::code;
use crate::collector::{BadPage, CollectError, Detail, FeedReader, PollNotes, PollOutcome};
use crate::http::{HttpClient, HttpConfig, HttpError};
use crate::ratelimit::{Rate, RateLimiter};
use crate::walk::{check_rate, walk, FeedPage, PageError, PagedFeed, WalkLimits};
use crate::{ParseContext, ParseError};
use async_trait::async_trait;
use chrono::Utc;
use otklik_model::{Cursor, Platform, Source};
use otklik_pipeline::units::{check_count, check_duration, check_size, ConfigProblem};
use reqwest::Url;
use serde::{Deserialize, Deserializer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `[collect.telegram]` settings. Every field has a default; durations are strings
/// (`"250ms"`, `"30s"`, `"5m"`, `"48h"`, `"7d"`), sizes a number of bytes or `"4MiB"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// Where the previews live (default `https://t.me`); tests point it at a fake server.
    #[serde(deserialize_with = "de_url")]
    pub base_url: Url,
    /// Requests per host, e.g. `"1/2s"` (the default), `"20/m"`; period 1ms..=1d.
    #[serde(deserialize_with = "crate::ratelimit::deserialize_rate")]
    pub rate: Rate,
    /// A first poll takes at most this many posts (default 200; 1..=100000)…
    pub first_poll_max_posts: usize,
    /// …and none older than this (default `"7d"`; 1m..=36500d).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub first_poll_max_age: Duration,
    /// Posts younger than this are re-checked on every poll and re-published when edited or
    /// their view count changed (default `"48h"`; 0s..=90d).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub recheck_window: Duration,
    /// At most this many pages per poll of one channel (default 20, ~400 posts; 1..=10000).
    pub max_pages: usize,
    /// A larger response is an error, not read into memory (default `"4MiB"`; a real page is
    /// ~100 KiB; 1KiB..=64MiB).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_size")]
    pub max_page_bytes: usize,
    /// Whole-request timeout (default `"30s"`; 1s..=10m).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub timeout: Duration,
    /// Retries after the first attempt on network errors, 5xx and 429 (default 4; 0..=20).
    pub max_retries: u32,
    /// Request older pages as t.me's script does (`X-Requested-With: XMLHttpRequest`, a JSON
    /// fragment back) instead of as pages (default false).
    pub xhr_paging: bool,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        let walk = WalkLimits::default();
        TelegramConfig {
            base_url: Url::parse("https://t.me").expect("static URL"),
            rate: Rate { requests: 1, period: Duration::from_secs(2) },
            first_poll_max_posts: walk.first_poll_max_posts,
            first_poll_max_age: walk.first_poll_max_age,
            recheck_window: Duration::from_secs(48 * 3600),
            max_pages: 20,
            max_page_bytes: 4 << 20,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            xhr_paging: false,
        }
    }
}

impl TelegramConfig {
    /// How deep one poll walks.
    pub fn walk_limits(&self) -> WalkLimits {
        WalkLimits {
            first_poll_max_posts: self.first_poll_max_posts,
            first_poll_max_age: self.first_poll_max_age,
            recheck_window: self.recheck_window,
            max_pages: self.max_pages,
        }
    }

    /// The shared client's settings for Telegram: this config's timeout, size cap and retries.
    pub fn http_config(&self) -> HttpConfig {
        let defaults = HttpConfig::default();
        HttpConfig {
            timeout: self.timeout,
            connect_timeout: defaults.connect_timeout.min(self.timeout),
            max_body_bytes: self.max_page_bytes,
            max_retries: self.max_retries,
            ..defaults
        }
    }

    /// The rate-limit key: the host of `base_url`.
    pub fn host(&self) -> &str {
        self.base_url.host_str().unwrap_or("t.me")
    }

    /// Everything wrong with the settings (empty when they are usable), each naming its field;
    /// the ranges are on the fields' docs and in `config/otklik.toml`.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host_str().is_none() {
            let message = format!("{:?} must be an http(s) URL with a host", self.base_url.as_str());
            problems.push(ConfigProblem::new("base_url", message));
        }
        if self.base_url.query().is_some() {
            problems.push(ConfigProblem::new("base_url", "must not have a query"));
        }
        check_rate(&mut problems, "rate", self.rate);
        self.walk_limits().validate(&mut problems);
        check_size(&mut problems, "max_page_bytes", self.max_page_bytes, 1 << 10..=64 << 20);
        check_duration(&mut problems, "timeout", self.timeout, Duration::from_secs(1)..=Duration::from_secs(600));
        check_count(&mut problems, "max_retries", self.max_retries.into(), 0..=20);
        problems
    }

    /// Why `handle` is not a Telegram channel username (5–32 of `A-Z a-z 0-9 _`, also written
    /// as `@name` or a `t.me` link), or `None` when it is one.
    pub fn handle_problem(handle: &str) -> Option<String> {
        match channel_name(handle) {
            Some(name) if (5..=32).contains(&name.len()) => None,
            Some(name) => Some(format!("Telegram username {name:?} must be 5 to 32 characters long")),
            None => Some(format!("{handle:?} is not a Telegram channel username (5–32 of A-Z, a-z, 0-9, _)")),
        }
    }
}

/// Reads public Telegram channels (sources with `platform = "telegram"`, `handle` = the channel
/// username) through their t.me/s previews.
pub struct TelegramReader {
    http: HttpClient,
    config: TelegramConfig,
}

impl TelegramReader {
    /// A reader with its own client built from `config` (timeout, size cap, retries), sharing
    /// `limiter` with every other reader so that per-host limits hold process-wide.
    pub fn new(config: TelegramConfig, limiter: Arc<RateLimiter>) -> Result<Self, CollectError> {
        let http = HttpClient::new(config.http_config(), limiter)
            .map_err(|e| CollectError::Config(format!("telegram HTTP client: {e}").into()))?;
        Self::with_client(http, config)
    }

    /// A reader over an existing client; the client's own timeout, size cap and retry settings
    /// apply (not `config`'s). A password in `base_url` (a mirror's) joins the secrets registry.
    pub fn with_client(http: HttpClient, config: TelegramConfig) -> Result<Self, CollectError> {
        let problems = config.validate();
        if !problems.is_empty() {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(CollectError::Config(format!("collect.telegram: {}", problems.join("; ")).into()));
        }
        if let Some(password) = config.base_url.password() {
            otklik_pipeline::secrets::register(password);
        }
        Ok(TelegramReader { http, config })
    }

    pub fn config(&self) -> &TelegramConfig {
        &self.config
    }

    /// The preview URL of `channel`, older than `before` when given.
    pub fn page_url(&self, channel: &str, before: Option<u64>) -> Url {
        let mut url = self.config.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(["s", channel]);
        }
        if let Some(before) = before {
            url.query_pairs_mut().append_pair("before", &before.to_string());
        }
        url
    }
}

#[async_trait]
impl FeedReader for TelegramReader {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        if source.platform != Platform::Telegram {
            return Err(CollectError::Config(
                format!("source {} is a {} source, not telegram", source.id, source.platform).into(),
            ));
        }
        let channel = channel_name(&source.handle).ok_or_else(|| {
            CollectError::Config(
                format!("source {}: {:?} is not a Telegram channel username", source.id, source.handle).into(),
            )
        })?;
        let now = Utc::now();
        let ctx = ParseContext { source_id: Some(source.id.clone()), collected_at: now, parent: None, owner: None };
        let notes = PollNotes::default();
        let feed = ChannelFeed { reader: self, channel, ctx, notes, subscribers: Mutex::new(None) };
        let walked = walk(&feed, cursor, &self.config.walk_limits(), now).await?;
        tracing::debug!(
            channel = feed.channel,
            pages = walked.pages,
            seen = walked.seen.len(),
            publish = walked.publish.len(),
            "telegram channel polled"
        );
        // Message blocks that are not posts go to the DLQ one by one, like VK's and OK's items.
        let (bad_items, _) = feed.notes.into_parts();
        let mut bad_pages = walked.bad_pages;
        bad_pages.extend(bad_items);
        let audience = *feed.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(PollOutcome { posts: walked.publish, bad_pages, cursor: walked.cursor, audience })
    }
}

/// The channel username of a source handle: `penza_gorod`, `@penza_gorod`,
/// `https://t.me/penza_gorod`, `t.me/s/penza_gorod`.
pub fn channel_name(handle: &str) -> Option<&str> {
    let mut name = handle.trim();
    for scheme in ["https://", "http://"] {
        name = name.strip_prefix(scheme).unwrap_or(name);
    }
    for host in ["www.t.me/", "t.me/", "telegram.me/"] {
        if let Some(rest) = name.strip_prefix(host) {
            name = rest.strip_prefix("s/").unwrap_or(rest);
            break;
        }
    }
    let name = name.strip_prefix('@').unwrap_or(name).trim_end_matches('/');
    super::values::is_channel_name(name).then_some(name)
}

/// One channel as a [`PagedFeed`]; the token is the `before` id of the next older page.
struct ChannelFeed<'a> {
    reader: &'a TelegramReader,
    channel: &'a str,
    ctx: ParseContext,
    /// The message blocks of the walked pages that are not posts.
    notes: PollNotes,
    /// The subscriber count of the header, which only the first (full) page has.
    subscribers: Mutex<Option<u64>>,
}

#[async_trait]
impl PagedFeed for ChannelFeed<'_> {
    type Token = u64;

    async fn page(&self, older_than: Option<&u64>) -> Result<FeedPage<u64>, PageError> {
        let reader = self.reader;
        let before = older_than.copied();
        let url = reader.page_url(self.channel, before);
        let shown = shown_url(&url);
        let xhr = before.is_some() && reader.config.xhr_paging;
        let headers: &[(&str, &str)] = if xhr { &[("X-Requested-With", "XMLHttpRequest")] } else { &[] };
        let fetched = reader.http.get(url.clone(), headers, reader.config.host(), reader.config.rate).await;
        let response = fetched.map_err(|e| {
            PageError::Collect(match e {
                HttpError::Redirect { location, .. } => {
                    no_preview(self.channel, &format!("t.me redirected {} to {location}", url.path()))
                }
                e => http_failure(e, &reader.config),
            })
        })?;

        match response.status {
            200 => {}
            404 | 410 => {
                let why = format!("channel not found: {shown} answered HTTP {}", response.status);
                return Err(PageError::Collect(CollectError::Unavailable(status_detail(response.status, why))));
            }
            451 => {
                let why = format!("channel blocked: {shown} answered HTTP 451");
                return Err(PageError::Collect(CollectError::Unavailable(status_detail(451, why))));
            }
            status => {
                let why = format!("GET {shown}: unexpected HTTP {status}");
                return Err(PageError::Collect(CollectError::Transient(status_detail(status, why))));
            }
        }
        let bad = |reason: String| {
            PageError::Bad(BadPage {
                origin: shown.clone(),
                bytes: response.body.clone(),
                error: ParseError::new(Platform::Telegram, reason),
            })
        };
        let body = response.body.as_slice();
        let page = if first_byte(body) == Some(b'"') {
            parse_fragment(body, &self.ctx).map_err(|e| bad(e.reason))?
        } else {
            match parse_page(body, &self.ctx) {
                Ok(_) if !ends_with_html_close(body) => {
                    return Err(bad(format!(
                        "page cut off: {} bytes and no closing </html> (truncated response)",
                        body.len()
                    )))
                }
                Ok(page) => page,
                Err(_) if before.is_none() && is_contact_page(body) => {
                    return Err(PageError::Collect(no_preview(
                        self.channel,
                        "t.me shows the channel's contact page instead of its message preview",
                    )));
                }
                Err(e) => return Err(bad(e.reason)),
            }
        };
        self.notes.note(Platform::Telegram, &shown, body, page.bad_items(), None);
        if let Some(count) = page.channel.subscribers {
            self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(count);
        }
        Ok(into_feed_page(page, before))
    }
}

/// Newest-first posts and the next older page, which must be older than this one (a server
/// that sends the same `before` again would otherwise be walked `max_pages` times).
fn into_feed_page(page: TelegramPage, before: Option<u64>) -> FeedPage<u64> {
    let older = page.paging.before.filter(|&next| !page.posts.is_empty() && before.is_none_or(|b| next < b));
    let mut posts = page.into_raw_posts();
    posts.reverse();
    FeedPage { posts, older }
}

fn no_preview(channel: &str, how: &str) -> CollectError {
    CollectError::Unavailable(format!(
        "no public preview for t.me/s/{channel}: {how} (a private channel, a user, bot or group, or a channel with the web preview turned off)"
    ).into())
}

fn status_detail(status: u16, message: String) -> Detail {
    Detail::coded(code::http_status(status), message)
}

fn http_failure(e: HttpError, config: &TelegramConfig) -> CollectError {
    let code = code::http(&e);
    match e {
        HttpError::TooLarge { url, limit } => CollectError::Transient(Detail::coded(code, format!(
            "GET {url}: response larger than the {limit}-byte cap (collect.telegram.max_page_bytes = {}); not read further",
            config.max_page_bytes
        ))),
        HttpError::BadUrl(reason) => CollectError::Config(Detail::coded(code, format!("telegram URL: {reason}"))),
        e => CollectError::Transient(Detail::coded(code, e.to_string())),
    }
}

/// A t.me URL as errors and the DLQ show it: whole (paging ids and the port help), but without
/// any user or password a mirror's `base_url` might carry.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    otklik_pipeline::secrets::redact(shown.as_str()).into_owned()
}

fn first_byte(body: &[u8]) -> Option<u8> {
    let body = body.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(body);
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Whether a whole page arrived: a t.me page ends with `</html>`, followed by whitespace at most.
fn ends_with_html_close(body: &[u8]) -> bool {
    let tail = &body[body.len().saturating_sub(64)..];
    let end = tail.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    tail[..end].to_ascii_lowercase().ends_with(b"</html>")
}

/// The `t.me/<name>` page (title, «View in Telegram» button) that t.me shows for what has no
/// preview.
fn is_contact_page(body: &[u8]) -> bool {
    ["tgme_page_title", "tgme_page_extra", "tgme_action_button_new"]
        .iter()
        .any(|class| memchr::memmem::find(body, class.as_bytes()).is_some())
}

fn de_url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let text = String::deserialize(d)?;
    Url::parse(text.trim()).map_err(|e| serde::de::Error::custom(format!("invalid URL {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        telegram: TelegramConfig,
    }

    fn config(json: &str) -> Result<TelegramConfig, String> {
        serde_json::from_str::<Wrapper>(&format!("{{\"telegram\": {json}}}"))
            .map(|w| w.telegram)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn config_defaults_and_strings() {
        let default = config("{}").unwrap();
        assert_eq!(default, TelegramConfig::default());
        assert_eq!(default.base_url.as_str(), "https://t.me/");
        assert_eq!(default.rate, Rate { requests: 1, period: Duration::from_secs(2) });
        assert_eq!(default.recheck_window, Duration::from_secs(48 * 3600));
        assert_eq!(default.max_page_bytes, 4 << 20);
        assert_eq!(default.host(), "t.me");
        assert!(default.validate().is_empty());

        let custom = config(
            r#"{"base_url": "http://127.0.0.1:8080", "rate": "20/s", "recheck_window": "2h", "first_poll_max_age": "3d",
            "timeout": "1500ms", "max_page_bytes": "512KiB", "max_pages": 3, "xhr_paging": true}"#,
        )
        .unwrap();
        assert_eq!(custom.rate, Rate::per_second(20));
        assert_eq!(custom.recheck_window, Duration::from_secs(7200));
        assert_eq!(custom.first_poll_max_age, Duration::from_secs(3 * 86_400));
        assert_eq!(custom.timeout, Duration::from_millis(1500));
        assert_eq!(custom.max_page_bytes, 512 << 10);
        assert_eq!(custom.host(), "127.0.0.1");
        assert_eq!(custom.walk_limits().max_pages, 3);
        assert_eq!(custom.http_config().max_body_bytes, 512 << 10);
        assert_eq!(config(r#"{"max_page_bytes": 1000}"#).unwrap().max_page_bytes, 1000);
    }

    #[test]
    fn config_errors_name_the_problem() {
        assert!(config(r#"{"rate": "fast"}"#).unwrap_err().contains("invalid rate"));
        assert!(config(r#"{"timeout": "30"}"#).unwrap_err().contains("invalid duration"));
        assert!(config(r#"{"max_page_bytes": "4MB"}"#).unwrap_err().contains("invalid size"));
        assert!(config(r#"{"base_url": "not a url"}"#).unwrap_err().contains("invalid URL"));
        assert!(config(r#"{"rate_limit": "1/s"}"#).unwrap_err().contains("unknown field"));
        let zero = r#"{"max_pages": 0, "base_url": "ftp://t.me", "timeout": "0s", "max_page_bytes": "2GiB"}"#;
        let zero = config(zero).unwrap();
        let fields: Vec<String> = zero.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["base_url", "max_pages", "max_page_bytes", "timeout"]);
    }

    #[test]
    fn handles_name_channels() {
        for handle in [
            "penza_gorod",
            "@penza_gorod",
            "https://t.me/penza_gorod",
            "t.me/s/penza_gorod/",
            " http://telegram.me/penza_gorod ",
        ] {
            assert_eq!(channel_name(handle), Some("penza_gorod"), "{handle}");
        }
        for bad in ["", "@", "penza gorod", "https://t.me/+AbCdEf", "vk.com/penza", "t.me/penza/12"] {
            assert_eq!(channel_name(bad), None, "{bad}");
        }
        assert_eq!(TelegramConfig::handle_problem("@penza_gorod"), None);
        assert_eq!(TelegramConfig::handle_problem("t.me/s/tsur58"), None);
        for bad in ["pnz", "a_name_that_is_much_longer_than_32", "penza gorod", "-12345"] {
            assert!(TelegramConfig::handle_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn page_urls() {
        let limiter = Arc::new(RateLimiter::new());
        let reader = TelegramReader::new(TelegramConfig::default(), limiter.clone()).unwrap();
        assert_eq!(reader.page_url("penza_gorod", None).as_str(), "https://t.me/s/penza_gorod");
        assert_eq!(reader.page_url("penza_gorod", Some(1201)).as_str(), "https://t.me/s/penza_gorod?before=1201");
        let mirrored =
            TelegramConfig { base_url: Url::parse("http://127.0.0.1:9/tg/").unwrap(), ..TelegramConfig::default() };
        let reader = TelegramReader::new(mirrored, limiter).unwrap();
        assert_eq!(reader.page_url("c", Some(5)).as_str(), "http://127.0.0.1:9/tg/s/c?before=5");
    }

    #[test]
    fn whole_pages_end_with_html_close() {
        assert!(ends_with_html_close(b"<html><body></body></html>\n  "));
        assert!(ends_with_html_close(b"<HTML></HTML>"));
        assert!(!ends_with_html_close(b"<html><body><div class=\"tgme_widget_message\""));
        assert!(!ends_with_html_close(b""));
    }
}
