//! Request rate limits, per key (a host, a token, a credential): at most `n` grants in any window
//! of length `period`, exact under concurrency.
//!
//! A sliding log of the last `n` grant times per key: the next grant is allowed once the oldest
//! of them is a whole period old. Unlike even spacing, this admits short bursts up to `n`, and
//! unlike fixed windows it never lets `2n` through around a window edge.
//!
//! A collector fleet splits each token's allowance: [`RateLimiter::with_share`] makes every rate
//! this limiter applies `share` of what is configured (its period lengthened by `1 / share`), so
//! N processes with `collect.rate_share = 1/N` never send a token more than its rate together.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// `n` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub period: Duration,
}

impl Rate {
    pub fn per_second(requests: u32) -> Self {
        Rate { requests, period: Duration::from_secs(1) }
    }

    /// Parses `"3/s"`, `"1/2s"`, `"20/m"`, `"100/500ms"`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let hint = || format!("invalid rate {text:?}: write requests/period, e.g. \"3/s\", \"1/2s\", \"20/m\"");
        let (n, period) = text.trim().split_once('/').ok_or_else(hint)?;
        let requests: u32 = n.trim().parse().map_err(|_| hint())?;
        let period = period.trim();
        let unit_at = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(hint)?;
        let count: u64 = if unit_at == 0 { 1 } else { period[..unit_at].parse().map_err(|_| hint())? };
        let unit = match &period[unit_at..] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(hint()),
        };
        if requests == 0 || count == 0 {
            return Err(hint());
        }
        Ok(Rate { requests, period: unit * count as u32 })
    }
}

/// `#[serde(deserialize_with = "crate::ratelimit::deserialize_rate")]`: a rate written as `"3/s"`.
pub fn deserialize_rate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    Rate::parse(&text).map_err(serde::de::Error::custom)
}

impl Rate {
    /// `share` (0 < share ≤ 1) of this rate: as many requests over a period `1 / share` as long,
    /// so the burst stays whole-numbered and the average is exactly `share` of it. A share
    /// outside that range (validation bypassed) leaves the rate as it is.
    pub fn share(self, share: f64) -> Rate {
        if !(share > 0.0 && share < 1.0) {
            return self;
        }
        let period = self.period.as_secs_f64() / share;
        // Capped like every other wait: a tiny share must not overflow a Duration.
        let period = Duration::try_from_secs_f64(period).unwrap_or(crate::collector::LONGEST_WAIT);
        Rate { requests: self.requests, period: period.min(crate::collector::LONGEST_WAIT) }
    }
}

/// How often and how long requests waited for their rate limit, per key (keys name a host, a
/// token's slot or a credential, never a secret). Shared with whoever exports it.
#[derive(Debug, Clone, Default)]
pub struct RateWaits(std::sync::Arc<Mutex<std::collections::BTreeMap<String, (u64, Duration)>>>);

impl RateWaits {
    /// Counts one request under `key` that waited `waited`.
    pub fn record(&self, key: &str, waited: Duration) {
        let mut waits = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let entry = waits.entry(key.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += waited;
    }

    /// Key → (requests that waited, total time waited).
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, (u64, Duration)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Per-key sliding-window limiter; share it (`Arc`) between every task that uses the same keys.
#[derive(Debug)]
pub struct RateLimiter {
    grants: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// The part of every rate this process may use (`collect.rate_share`), 1 alone.
    share: f64,
    waits: RateWaits,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter { grants: Mutex::default(), share: 1.0, waits: RateWaits::default() }
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A limiter that grants `share` (0 < share ≤ 1) of every rate it is asked for: this
    /// process's part of tokens and hosts shared by a fleet (see [`Rate::share`]).
    pub fn with_share(share: f64) -> Self {
        RateLimiter { share, ..Self::default() }
    }

    /// Records the waits of [`RateLimiter::acquire`] in `waits`.
    pub fn with_waits(mut self, waits: RateWaits) -> Self {
        self.waits = waits;
        self
    }

    pub fn share(&self) -> f64 {
        self.share
    }

    /// Waits until a request under `key` is allowed by `rate`, and records it.
    pub async fn acquire(&self, key: &str, rate: Rate) {
        let rate = rate.share(self.share);
        let asked = Instant::now();
        let mut waited = false;
        loop {
            let wait_until = {
                let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
                let log = grants.entry(key.to_owned()).or_default();
                let now = Instant::now();
                while log.front().is_some_and(|&t| now.duration_since(t) >= rate.period) {
                    log.pop_front();
                }
                if log.len() < rate.requests as usize {
                    log.push_back(now);
                    drop(grants);
                    if waited {
                        self.waits.record(key, now.duration_since(asked));
                    }
                    return;
                }
                log[0] + rate.period
            };
            waited = true;
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// When a request under `key` would next be allowed by `rate` (now, if at once); records
    /// nothing. For choosing among keys (a token pool); [`RateLimiter::acquire`] still decides.
    pub fn ready_at(&self, key: &str, rate: Rate) -> Instant {
        let rate = rate.share(self.share);
        let grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let Some(log) = grants.get(key) else { return now };
        let live = log.iter().filter(|&&t| now.duration_since(t) < rate.period).count();
        if live < rate.requests as usize {
            return now;
        }
        // The grant that must age out first: the `live - requests`-th of the live ones.
        let live_start = log.len() - live;
        (log[live_start + live - rate.requests as usize] + rate.period).max(now)
    }

    /// Blocks `key` until `until` (a server said to back off): the log fills with that instant.
    pub fn block_until(&self, key: &str, rate: Rate, until: Instant) {
        let rate = rate.share(self.share);
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let log = grants.entry(key.to_owned()).or_default();
        let blocked_from = until.checked_sub(rate.period).unwrap_or(until);
        log.clear();
        log.extend(std::iter::repeat_n(blocked_from, rate.requests as usize));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_are_counted_per_key() {
        let waits = RateWaits::default();
        let limiter = RateLimiter::new().with_waits(waits.clone());
        let rate = Rate::per_second(1);
        limiter.acquire("vk:pool1:token1", rate).await;
        limiter.acquire("t.me", rate).await;
        assert!(waits.snapshot().is_empty(), "nobody waited yet");
        limiter.acquire("vk:pool1:token1", rate).await;
        assert_eq!(waits.snapshot()["vk:pool1:token1"], (1, Duration::from_secs(1)));
        assert!(!waits.snapshot().contains_key("t.me"));
    }
    use std::sync::Arc;

    #[test]
    fn parses_rates() {
        assert_eq!(Rate::parse("3/s").unwrap(), Rate::per_second(3));
        assert_eq!(Rate::parse("1/2s").unwrap(), Rate { requests: 1, period: Duration::from_secs(2) });
        assert_eq!(Rate::parse("20/m").unwrap().period, Duration::from_secs(60));
        for bad in ["", "3", "0/s", "3/", "3/x", "a/s", "1/0s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_n_in_any_window_under_concurrency() {
        let limiter = Arc::new(RateLimiter::new());
        let rate = Rate::per_second(3);
        let start = Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.acquire("token-a", rate).await;
                    Instant::now()
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        for (i, &t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|&&u| u.duration_since(t) < rate.period).count();
            assert!(in_window <= 3, "{in_window} grants within one period");
        }
        assert!(
            times.last().unwrap().duration_since(start) >= Duration::from_secs(6),
            "20 requests at 3/s take over 6 s"
        );
        // Another key is not held up.
        let before = Instant::now();
        limiter.acquire("token-b", rate).await;
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fleet_share_slows_every_key_to_its_part() {
        // Three collectors share a token of 3/s: each may send 3 requests per 3 s.
        let limiter = Arc::new(RateLimiter::with_share(1.0 / 3.0));
        let rate = Rate::per_second(3);
        assert_eq!(rate.share(1.0 / 3.0), Rate { requests: 3, period: Duration::from_secs(3) });
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..9 {
            limiter.acquire("token-a", rate).await;
            times.push(Instant::now().duration_since(start));
        }
        for (i, &t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|&&u| u - t < Duration::from_secs(3)).count();
            assert!(in_window <= 3, "{in_window} grants within 3 s: more than a third of 3/s");
        }
        assert_eq!(times[8], Duration::from_secs(6), "9 requests at 1/s on average: the last at 6 s");
        assert!(limiter.ready_at("token-a", rate) >= start + Duration::from_secs(9));
        // A whole share, or a nonsensical one, is the configured rate.
        assert_eq!(rate.share(1.0), rate);
        assert_eq!(rate.share(0.0), rate);
        assert_eq!(rate.share(f64::NAN), rate);
        assert!(rate.share(1e-300).period <= crate::collector::LONGEST_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn ready_at_peeks_without_granting() {
        let limiter = RateLimiter::new();
        let rate = Rate::per_second(2);
        let start = Instant::now();
        assert_eq!(limiter.ready_at("k", rate), start);
        limiter.acquire("k", rate).await;
        assert_eq!(limiter.ready_at("k", rate), start, "one grant of two: still free");
        limiter.acquire("k", rate).await;
        assert_eq!(limiter.ready_at("k", rate), start + rate.period);
        assert_eq!(limiter.ready_at("k", rate), start + rate.period, "peeking records nothing");
        tokio::time::advance(Duration::from_millis(400)).await;
        assert_eq!(limiter.ready_at("k", rate), start + rate.period);
        limiter.block_until("k", rate, start + Duration::from_secs(5));
        assert_eq!(limiter.ready_at("k", rate), start + Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn block_until_holds_a_key_back() {
        let limiter = RateLimiter::new();
        let rate = Rate::per_second(3);
        let until = Instant::now() + Duration::from_secs(10);
        limiter.block_until("k", rate, until);
        limiter.acquire("k", rate).await;
        assert!(Instant::now() >= until);
    }
}
