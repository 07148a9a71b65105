//! One delivery attempt's result, as data: what the outbox records and how it schedules the
//! next try. Each receiver classifies its answers into a [`Verdict`].

use chrono::{DateTime, Utc};
use std::time::Duration;

/// What an attempt means for the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again later (backoff, or the receiver's own `Retry-After`).
    Retry,
    /// Will never work: recorded and dropped.
    Failed,
    /// The receiver does not want anything any more (HTTP 410): it stops.
    Disabled,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub verdict: Verdict,
    /// HTTP status or Telegram `error_code`; 0 when there was no answer.
    pub status_code: u16,
    /// What went wrong; never a secret (redacted, and URLs shown without path or query).
    pub detail: String,
    /// The receiver asked for this pause before anything else is sent to it.
    pub retry_after: Option<Duration>,
    /// Telegram messages sent or edited so far by this notification.
    pub message_ids: Vec<i64>,
}

impl Attempt {
    pub fn delivered(status_code: u16) -> Self {
        Attempt {
            verdict: Verdict::Delivered,
            status_code,
            detail: String::new(),
            retry_after: None,
            message_ids: Vec::new(),
        }
    }

    pub fn new(verdict: Verdict, status_code: u16, detail: impl Into<String>) -> Self {
        Attempt { verdict, status_code, detail: detail.into(), retry_after: None, message_ids: Vec::new() }
    }
}

/// Statuses worth retrying besides every 5xx: timeout, conflict, too early, too many requests.
pub const RETRYABLE_STATUSES: &[u16] = &[408, 409, 425, 429];

/// The Standard Webhooks reading of an HTTP status: 2xx delivered, 410 disables the endpoint,
/// 408/409/425/429 and 5xx are retried, anything else (3xx included: redirects are not followed)
/// failed for good.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Disabled,
        s if s >= 500 || RETRYABLE_STATUSES.contains(&s) => Verdict::Retry,
        _ => Verdict::Failed,
    }
}

/// A `Retry-After` value: delay seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let verdicts: Vec<Verdict> =
            [200, 204, 301, 400, 404, 408, 409, 410, 425, 429, 500, 503].map(classify_status).to_vec();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [Delivered, Delivered, Failed, Failed, Failed, Retry, Retry, Disabled, Retry, Retry, Retry, Retry]
        );
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-19T15:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Thu, 19 Nov 2026 15:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Thu, 19 Nov 2026 14:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
