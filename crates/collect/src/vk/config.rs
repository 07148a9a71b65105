//! `[collect.vk]`: where the VK API is, which tokens to use and how fast, how deep to walk.
//!
//! Durations are strings (`"250ms"`, `"30s"`, `"5m"`, `"48h"`, `"7d"`), rates are
//! `requests/period` (`"3/s"`, `"20/m"`). Tokens never appear here: only the names of the
//! environment variables and files that hold them ([`VkConfig::resolve_tokens`]).

use crate::ratelimit::Rate;
use crate::walk::{check_rate, WalkLimits};
use otklik_pipeline::units::{check_count, check_duration, ConfigProblem};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// The VK collector's configuration (`[collect.vk]`). Every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VkConfig {
    /// Default `"https://api.vk.com/method"`; tests point it at a fake server.
    pub api_base: String,
    /// Default `"5.199"`.
    pub api_version: String,
    /// Names of environment variables, each holding one access token.
    pub tokens_env: Vec<String>,
    /// Files holding tokens, one per line (blank lines and `#` comments skipped). Relative paths
    /// are resolved against the directory given to [`VkConfig::resolve_tokens`].
    pub token_files: Vec<PathBuf>,
    /// Requests per token, default `"3/s"` (a user token's limit); period 1ms..=1d.
    #[serde(deserialize_with = "crate::ratelimit::deserialize_rate")]
    pub rate: Rate,
    /// Per-token overrides keyed by the env var name or the token file path as written above,
    /// e.g. `{ VK_SERVICE_TOKEN = "20/s" }` for a service token.
    #[serde(deserialize_with = "de_rates")]
    pub token_rates: BTreeMap<String, Rate>,
    /// Added to every rate's period, so that network jitter never makes VK see more than the
    /// limit in its own window (default `"100ms"`: `3/s` is spaced as 3 per 1.1 s; 0s..=10s).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub rate_margin: Duration,
    /// Calls batched into one `execute` request (1..=25; 1 disables `execute`). Default 25.
    pub execute_batch: usize,
    /// How long a call waits for others to share its `execute` (default `"5ms"`; 0s..=1s).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub batch_linger: Duration,
    /// `wall.get` page size, 1..=100 (default 100).
    pub page_size: u32,
    /// `newsfeed.search` page size, 1..=200 (default 200).
    pub search_page_size: u32,
    /// Replies fetched inside each comment thread (`thread_items_count`, 0..=10; default 10).
    pub comments_depth: u32,
    /// Most comments fetched under one post in one poll (default 500; 0..=100000).
    pub max_comments_per_post: usize,
    /// A first poll takes at most this many posts (default 200; 1..=100000)…
    pub first_poll_max_posts: usize,
    /// …none older than this (default `"7d"`; 1m..=36500d).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub first_poll_max_age: Duration,
    /// Posts younger than this are re-checked for edits and new comments (default `"48h"`;
    /// 0s..=90d).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub recheck_window: Duration,
    /// Hard stop for one poll of one wall (default 50 pages; 1..=10000).
    pub max_pages: usize,
    /// Pause of a token after error 6 (too many requests) or 9 (flood control); default `"2s"`,
    /// 1ms..=1h.
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub rate_limited_pause: Duration,
    /// Pause of a token after error 29 (method quota spent for its window); default `"1h"`,
    /// 1ms..=1d.
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub quota_pause: Duration,
    /// Pause of a token after error 14 (captcha); default `"10m"`, 1ms..=1d.
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub captcha_pause: Duration,
    /// A request waits at most this long for a paused token; beyond it the poll fails as
    /// transient and is retried on the next pass (default `"30s"`; 0s..=1h).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub max_token_wait: Duration,
    /// Attempts of one call through VK errors 6/9/10/14/29 and failed HTTP (default 6; 1..=100).
    pub max_attempts: u32,
    /// Backoff between attempts after error 10 or a failed HTTP request (defaults `"500ms"`,
    /// 1ms..=1m, and `"30s"`, 1ms..=1h).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub retry_max: Duration,
}

impl Default for VkConfig {
    fn default() -> Self {
        let walk = WalkLimits::default();
        VkConfig {
            api_base: "https://api.vk.com/method".into(),
            api_version: "5.199".into(),
            tokens_env: Vec::new(),
            token_files: Vec::new(),
            rate: Rate::per_second(3),
            token_rates: BTreeMap::new(),
            rate_margin: Duration::from_millis(100),
            execute_batch: 25,
            batch_linger: Duration::from_millis(5),
            page_size: 100,
            search_page_size: 200,
            comments_depth: 10,
            max_comments_per_post: 500,
            first_poll_max_posts: walk.first_poll_max_posts,
            first_poll_max_age: walk.first_poll_max_age,
            recheck_window: walk.recheck_window,
            max_pages: walk.max_pages,
            rate_limited_pause: Duration::from_secs(2),
            quota_pause: Duration::from_secs(3600),
            captcha_pause: Duration::from_secs(600),
            max_token_wait: Duration::from_secs(30),
            max_attempts: 6,
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

impl VkConfig {
    /// Every problem with the values (not the secrets: see [`VkConfig::resolve_tokens`]), each
    /// naming its field; the ranges are on the fields' docs and in `config/otklik.toml`.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match reqwest::Url::parse(&self.api_base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(_) => {
                problems.push(ConfigProblem::new("api_base", format!("{:?} is not an http(s) URL", self.api_base)));
            }
            Err(e) => problems.push(ConfigProblem::new("api_base", format!("{:?} is not a URL: {e}", self.api_base))),
        }
        if self.api_version.trim().is_empty() {
            problems.push(ConfigProblem::new("api_version", "must not be empty"));
        }
        if self.tokens_env.is_empty() && self.token_files.is_empty() {
            problems.push(
                ConfigProblem::new("tokens_env", "no VK token configured")
                    .with_hint("name at least one env var (tokens_env) or token file (token_files)"),
            );
        }
        for name in &self.tokens_env {
            if name.trim().is_empty() || name.contains('=') {
                let message = format!("{name:?} is not an environment variable name");
                problems.push(ConfigProblem::new("tokens_env", message));
            }
        }
        for (key, rate) in &self.token_rates {
            if !self.tokens_env.contains(key) && !self.token_files.iter().any(|p| p.to_string_lossy() == key.as_str()) {
                let message = format!("{key:?} is neither in tokens_env nor in token_files");
                problems.push(ConfigProblem::new("token_rates", message));
            }
            check_rate(&mut problems, "token_rates", *rate);
        }
        check_rate(&mut problems, "rate", self.rate);
        self.check_ranges(&mut problems);
        self.walk_limits().validate(&mut problems);
        problems
    }

    fn check_ranges(&self, problems: &mut Vec<ConfigProblem>) {
        let counts: [(&str, u64, RangeInclusive<u64>); 6] = [
            ("execute_batch", self.execute_batch as u64, 1..=25),
            ("page_size", self.page_size.into(), 1..=100),
            ("search_page_size", self.search_page_size.into(), 1..=200),
            ("comments_depth", self.comments_depth.into(), 0..=10),
            ("max_attempts", self.max_attempts.into(), 1..=100),
            ("max_comments_per_post", self.max_comments_per_post as u64, 0..=100_000),
        ];
        for (field, value, range) in counts {
            check_count(problems, field, value, range);
        }
        let (ms, s) = (Duration::from_millis(1), Duration::from_secs(1));
        let durations: [(&str, Duration, RangeInclusive<Duration>); 8] = [
            ("rate_margin", self.rate_margin, Duration::ZERO..=s * 10),
            ("batch_linger", self.batch_linger, Duration::ZERO..=s),
            ("rate_limited_pause", self.rate_limited_pause, ms..=s * 3600),
            ("quota_pause", self.quota_pause, ms..=s * 86_400),
            ("captcha_pause", self.captcha_pause, ms..=s * 86_400),
            ("max_token_wait", self.max_token_wait, Duration::ZERO..=s * 3600),
            ("retry_initial", self.retry_initial, ms..=s * 60),
            ("retry_max", self.retry_max, ms..=s * 3600),
        ];
        for (field, value, range) in durations {
            check_duration(problems, field, value, range);
        }
    }

    /// Why `handle` names no VK feed the reader can poll, or `None`: an owner id (`-12345`),
    /// `club…`/`public…`/`event…` with digits, a screen name of `A-Z a-z 0-9 _ .` (also as a
    /// `vk.com/` link), or `search:<query>`.
    pub fn handle_problem(handle: &str) -> Option<String> {
        let handle = handle.trim();
        if let Some(query) = handle.strip_prefix("search:") {
            return query.trim().is_empty().then(|| "\"search:\" needs a query after the colon".to_owned());
        }
        let name = ["https://", "http://"].iter().fold(handle, |h, p| h.strip_prefix(p).unwrap_or(h));
        let name = ["m.vk.com/", "vk.com/"].iter().fold(name, |h, p| h.strip_prefix(p).unwrap_or(h));
        let name = name.trim_end_matches('/');
        let screen_name = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        let valid = match name.parse::<i64>() {
            Ok(id) => id != 0,
            Err(_) => !name.is_empty() && screen_name,
        };
        if valid {
            return None;
        }
        Some(format!(
            "{handle:?} is not a VK owner id (\"-12345\"), screen name (A-Z, a-z, 0-9, _, .) or \"search:<query>\""
        ))
    }

    /// The walk limits of a wall poll.
    pub fn walk_limits(&self) -> WalkLimits {
        WalkLimits {
            first_poll_max_posts: self.first_poll_max_posts,
            first_poll_max_age: self.first_poll_max_age,
            recheck_window: self.recheck_window,
            max_pages: self.max_pages,
        }
    }
}

fn de_rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Rate>, D::Error> {
    BTreeMap::<String, String>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| {
            Rate::parse(&v)
                .map(|r| (k.clone(), r))
                .map_err(|e| serde::de::Error::custom(format!("token_rates.{k}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_but_want_a_token() {
        let config = VkConfig::default();
        assert_eq!(config.api_version, "5.199");
        assert_eq!(config.rate, Rate::per_second(3));
        let problems = config.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].to_string(), "tokens_env: no VK token configured");
    }

    #[test]
    fn reads_strings_and_rejects_unknown_fields() {
        let config: VkConfig = serde_json::from_value(serde_json::json!({
            "tokens_env": ["VK_A", "VK_SERVICE"],
            "rate": "3/s",
            "token_rates": {"VK_SERVICE": "20/s"},
            "recheck_window": "24h",
            "quota_pause": "90m",
        }))
        .unwrap();
        assert_eq!(config.token_rates["VK_SERVICE"], Rate::per_second(20));
        assert_eq!(config.recheck_window, Duration::from_secs(86_400));
        assert_eq!(config.quota_pause, Duration::from_secs(5400));
        assert!(config.validate().is_empty(), "{:?}", config.validate());

        let unknown = serde_json::from_value::<VkConfig>(serde_json::json!({"token": "x"})).unwrap_err();
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
        let bad = serde_json::from_value::<VkConfig>(serde_json::json!({"rate": "fast"})).unwrap_err();
        assert!(bad.to_string().contains("invalid rate"), "{bad}");
        let bad = serde_json::from_value::<VkConfig>(serde_json::json!({"token_rates": {"VK_A": "3"}})).unwrap_err();
        assert!(bad.to_string().contains("token_rates.VK_A"), "{bad}");
    }

    #[test]
    fn validate_lists_every_problem() {
        let config = VkConfig {
            api_base: "ftp://x".into(),
            tokens_env: vec!["A=B".into()],
            token_rates: [("VK_OTHER".to_owned(), Rate::per_second(1))].into(),
            execute_batch: 26,
            page_size: 0,
            comments_depth: 11,
            ..VkConfig::default()
        };
        let problems = config.validate();
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[test]
    fn handles_the_reader_accepts() {
        for good in ["-12345", "12345", "club123", "penza_adm", "https://vk.com/penza.adm", "search:отопление"]
        {
            assert_eq!(VkConfig::handle_problem(good), None, "{good}");
        }
        for bad in ["", "0", "search:", "penza adm", "vk.com/", "-12345abc!", "пенза"] {
            assert!(VkConfig::handle_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn every_duration_has_a_range() {
        let day = Duration::from_secs(86_400);
        let config = VkConfig {
            tokens_env: vec!["VK_A".into()],
            first_poll_max_age: Duration::from_secs(86_400 * 100_000_000),
            recheck_window: Duration::from_secs(86_400 * 999_999_999_999),
            quota_pause: Duration::ZERO,
            retry_max: day * 10,
            rate: Rate { requests: 1, period: day * 2 },
            ..VkConfig::default()
        };
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["rate (period)", "quota_pause", "retry_max", "first_poll_max_age", "recheck_window"]);
        assert!(config.validate().iter().all(|p| p.hint.as_deref().is_some_and(|h| h.starts_with("allowed: "))));
    }
}
