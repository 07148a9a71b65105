//! Per-source poll counters: polls, failures by kind and code, posts found and the last successful poll;
//! and the rate limiter's waits per key.
//! Plain data behind a lock, read by whoever exports it (the binary's `/metrics`); this crate
//! knows no exporter.

use chrono::{DateTime, Utc};
use otklik_model::Platform;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What the polls of one source came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePolls {
    pub platform: Platform,
    pub polls: u64,
    /// Failed polls by kind (`unavailable`, `transient`, `config`) and code (the bounded
    /// [`crate::code`] of the failure: `6`, `http_500`, `timeout`, …).
    pub failures: BTreeMap<(&'static str, String), u64>,
    pub posts: u64,
    pub last_success: Option<DateTime<Utc>>,
}

/// Every source's [`SourcePolls`] and the rate-limit waits, shared between the collector and the
/// exporter.
#[derive(Debug, Clone, Default)]
pub struct PollMetrics(Arc<Mutex<BTreeMap<String, SourcePolls>>>, crate::ratelimit::RateWaits);

impl PollMetrics {
    /// Where the collector's rate limiter records its waits.
    pub fn rate_waits(&self) -> crate::ratelimit::RateWaits {
        self.1.clone()
    }

    /// Counts one poll of `source`: `Ok(posts)` found, or failed with `(kind, code)`.
    pub fn record(
        &self,
        source: &str,
        platform: Platform,
        result: Result<u64, (&'static str, &str)>,
        at: DateTime<Utc>,
    ) {
        let mut sources = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let entry = sources.entry(source.to_owned()).or_insert_with(|| SourcePolls {
            platform,
            polls: 0,
            failures: BTreeMap::new(),
            posts: 0,
            last_success: None,
        });
        entry.polls += 1;
        match result {
            Ok(posts) => {
                entry.posts += posts;
                entry.last_success = Some(at);
            }
            Err((kind, code)) => *entry.failures.entry((kind, code.to_owned())).or_default() += 1,
        }
    }

    /// A copy, by source id.
    pub fn snapshot(&self) -> BTreeMap<String, SourcePolls> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_failures_and_the_last_success_are_kept_per_source() {
        let metrics = PollMetrics::default();
        let (t1, t2) = (Utc::now(), Utc::now() + chrono::Duration::minutes(5));
        metrics.record("vk-penza", Platform::Vk, Ok(12), t1);
        metrics.record("vk-penza", Platform::Vk, Err(("transient", "6")), t2);
        let vk = &metrics.snapshot()["vk-penza"];
        assert_eq!((vk.polls, vk.posts, vk.last_success), (2, 12, Some(t1)));
        assert_eq!(vk.failures, BTreeMap::from([(("transient", "6".to_owned()), 1)]));
    }
}
