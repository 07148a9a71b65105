//! VK access tokens: read from env vars and files (never from config text), redacted in every
//! `Debug`/`Display`, and pooled so that requests spread across them under per-token limits.

use super::config::VkConfig;
use crate::collector::{CollectError, Detail, LONGEST_WAIT};
use crate::ratelimit::{Rate, RateLimiter};
use otklik_pipeline::units::{read_capped, ReadCappedError, SECRET_FILE_MAX_BYTES};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// One VK access token. Its value is only ever put into a request; `Debug` and `Display` show
/// where it came from instead.
#[derive(Clone)]
pub struct VkToken {
    secret: String,
    origin: String,
    rate: Rate,
}

impl VkToken {
    /// `origin` names where the token came from (`env VK_TOKEN`), for logs. The value joins the
    /// process-wide secrets registry, so that no log line, error or DLQ record shows it even
    /// when VK echoes it back.
    pub fn new(secret: impl Into<String>, origin: impl Into<String>, rate: Rate) -> Self {
        let secret = secret.into();
        otklik_pipeline::secrets::register(&secret);
        VkToken { secret, origin: origin.into(), rate }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for VkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VkToken")
            .field("origin", &self.origin)
            .field("rate", &self.rate)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl fmt::Display for VkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VK token from {}", self.origin)
    }
}

/// One problem found while reading the tokens. Names the variable or file, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    #[error("no VK token configured: set collect.vk.tokens_env or collect.vk.token_files")]
    NoneConfigured,
    #[error("environment variable {0} (collect.vk.tokens_env) is not set")]
    MissingEnv(String),
    #[error("environment variable {0} (collect.vk.tokens_env) is empty")]
    EmptyEnv(String),
    #[error("cannot read VK token file {}: {reason}", path.display())]
    UnreadableFile { path: PathBuf, reason: String },
    #[error("VK token file {} holds no token", .0.display())]
    EmptyFile(PathBuf),
}

/// Every problem with the configured tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct VkSecretsError {
    pub problems: Vec<SecretProblem>,
}

impl VkConfig {
    /// Reads the tokens named by `tokens_env` (the process environment) and `token_files`
    /// (relative paths against `base_dir`, usually the config file's directory), in that order,
    /// each with its rate (`token_rates` override, else `rate`). Reports every problem at once.
    pub fn resolve_tokens(&self, base_dir: &Path) -> Result<Vec<VkToken>, VkSecretsError> {
        self.resolve_tokens_with(base_dir, |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// [`VkConfig::resolve_tokens`] with the environment given as a lookup (tests).
    pub fn resolve_tokens_with(
        &self,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<VkToken>, VkSecretsError> {
        let mut problems = Vec::new();
        let mut tokens = Vec::new();
        if self.tokens_env.is_empty() && self.token_files.is_empty() {
            problems.push(SecretProblem::NoneConfigured);
        }
        for name in &self.tokens_env {
            let rate = self.token_rates.get(name).copied().unwrap_or(self.rate);
            match env(name) {
                None => problems.push(SecretProblem::MissingEnv(name.clone())),
                Some(value) if value.trim().is_empty() => problems.push(SecretProblem::EmptyEnv(name.clone())),
                Some(value) => tokens.push(VkToken::new(value.trim(), format!("env {name}"), rate)),
            }
        }
        for path in &self.token_files {
            let rate = self.token_rates.get(path.to_string_lossy().as_ref()).copied().unwrap_or(self.rate);
            let full = if path.is_absolute() { path.clone() } else { base_dir.join(path) };
            // Capped: a token file named /dev/zero must fail at once, not fill the memory.
            match read_capped(&full, SECRET_FILE_MAX_BYTES) {
                Err(e) => {
                    let reason = match e {
                        ReadCappedError::Io(e) => e.kind().to_string(),
                        e => e.to_string(),
                    };
                    problems.push(SecretProblem::UnreadableFile { path: full, reason });
                }
                Ok(text) => {
                    let before = tokens.len();
                    for (n, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if !line.is_empty() && !line.starts_with('#') {
                            tokens.push(VkToken::new(line, format!("file {} line {}", path.display(), n + 1), rate));
                        }
                    }
                    if tokens.len() == before {
                        problems.push(SecretProblem::EmptyFile(full));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(tokens)
        } else {
            Err(VkSecretsError { problems })
        }
    }
}

/// What a token is doing now, for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    /// `#1`, `#2`, … in pool order.
    pub index: usize,
    pub origin: String,
    pub state: TokenState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    Active,
    /// Held back for `remaining` because of `reason`.
    Paused {
        reason: String,
        remaining: Duration,
    },
    /// Rejected by VK (error 5); out until the collector restarts.
    Removed,
}

struct Slot {
    token: VkToken,
    key: String,
    rate: Rate,
}

#[derive(Default)]
struct SlotState {
    removed: bool,
    paused_until: Option<Instant>,
    pause_reason: String,
    last_pick: u64,
    /// Checked out and not yet finished: their grants may not be in the limiter's log yet.
    reserved: u32,
}

/// A token taken for one request; hand it back by dropping it.
pub(crate) struct Lease<'a> {
    pool: &'a TokenPool,
    pub(crate) index: usize,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut guard = self.pool.states.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut guard.0[self.index];
        state.reserved = state.reserved.saturating_sub(1);
    }
}

/// The pool: each token its own key in the shared [`RateLimiter`]; a request takes the token
/// that can go soonest (least recently used among equals), skipping paused and removed ones.
pub(crate) struct TokenPool {
    slots: Vec<Slot>,
    states: Mutex<(Vec<SlotState>, u64)>,
    limiter: Arc<RateLimiter>,
    max_wait: Duration,
}

impl TokenPool {
    /// `margin` lengthens every rate's period (network jitter); `max_wait` bounds how long a
    /// checkout waits for a paused token.
    pub(crate) fn new(tokens: Vec<VkToken>, limiter: Arc<RateLimiter>, margin: Duration, max_wait: Duration) -> Self {
        // Keys are unique per pool instance so two readers never share a token's log by accident.
        static POOLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let pool_id = POOLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slots: Vec<Slot> = tokens
            .into_iter()
            .enumerate()
            .map(|(i, token)| {
                let rate = Rate { requests: token.rate.requests, period: token.rate.period + margin };
                Slot { key: format!("vk:pool{pool_id}:token{}", i + 1), rate, token }
            })
            .collect();
        let states = slots.iter().map(|_| SlotState::default()).collect();
        TokenPool { slots, states: Mutex::new((states, 0)), limiter, max_wait: max_wait.min(LONGEST_WAIT) }
    }

    pub(crate) fn label(&self, index: usize) -> String {
        format!("token #{} ({})", index + 1, self.slots[index].token.origin)
    }

    pub(crate) fn token(&self, index: usize) -> &VkToken {
        &self.slots[index].token
    }

    /// The rate-limit key and rate of a token.
    pub(crate) fn limit(&self, index: usize) -> (&str, Rate) {
        (&self.slots[index].key, self.slots[index].rate)
    }

    /// Picks the token to send the next request with; the caller then acquires its rate limit
    /// and drops the lease when the request is done. Tokens are ranked by when they can go,
    /// counting each request holding a lease on a token as one more slot interval
    /// (`period / requests`), so a queue spreads over the pool instead of piling onto the token
    /// that frees first. Only the token's own readiness counts against `max_wait`.
    pub(crate) async fn checkout(&self) -> Result<Lease<'_>, CollectError> {
        loop {
            let now = Instant::now();
            let (index, paused_until, ready) = {
                let mut guard = self.states.lock().unwrap_or_else(|p| p.into_inner());
                let (states, picks) = &mut *guard;
                let best = states
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.removed)
                    .map(|(i, s)| {
                        let paused = s.paused_until.filter(|&t| t > now);
                        // "Free now" must compare equal across tokens, so ties go to the least
                        // recently used one: the limiter reads the clock on its own.
                        let ready = self.limiter.ready_at(&self.slots[i].key, self.slots[i].rate);
                        let ready = if ready <= Instant::now() { now } else { ready }.max(paused.unwrap_or(now));
                        let rate = self.slots[i].rate;
                        let queued = rate.period / rate.requests.max(1) * s.reserved;
                        (i, paused, ready, ready + queued, s.last_pick)
                    })
                    .min_by_key(|&(_, _, _, rank, last)| (rank, last));
                let Some((index, paused, ready, _, _)) = best else {
                    let why = "no usable VK tokens: every configured token was rejected by VK (error 5)";
                    return Err(CollectError::Config(Detail::coded(crate::code::vk(5), why)));
                };
                if paused.is_none() && ready <= now + self.max_wait {
                    *picks += 1;
                    states[index].last_pick = *picks;
                    states[index].reserved += 1;
                }
                (index, paused, ready)
            };
            if ready > now + self.max_wait {
                return Err(CollectError::Transient(
                    format!(
                        "every VK token is paused or at its limit for the next {}s (quota, captcha or flood control)",
                        (ready - now).as_secs()
                    )
                    .into(),
                ));
            }
            match paused_until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => return Ok(Lease { pool: self, index }),
            }
        }
    }

    /// Holds a token back for `pause` (extends, never shortens, a pause in force).
    pub(crate) fn pause(&self, index: usize, pause: Duration, reason: &str) {
        let until = Instant::now() + pause.min(LONGEST_WAIT);
        let mut guard = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut guard.0[index];
        if state.paused_until.is_none_or(|t| t < until) {
            state.paused_until = Some(until);
            state.pause_reason = reason.to_owned();
            tracing::warn!(token = %self.label(index), ?pause, reason, "VK token paused");
        }
    }

    /// Takes a token out of the pool for good (VK rejected it).
    pub(crate) fn remove(&self, index: usize, reason: &str) {
        let mut guard = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let left = guard.0.iter().filter(|s| !s.removed).count();
        let state = &mut guard.0[index];
        if !state.removed {
            state.removed = true;
            tracing::error!(
                token = %self.label(index),
                reason,
                tokens_left = left - 1,
                "VK rejected an access token; it is out of the pool until the collector restarts with a new one"
            );
        }
    }

    pub(crate) fn status(&self) -> Vec<TokenStatus> {
        let now = Instant::now();
        let guard = self.states.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .0
            .iter()
            .enumerate()
            .map(|(i, s)| TokenStatus {
                index: i + 1,
                origin: self.slots[i].token.origin.clone(),
                state: match s.paused_until.filter(|&t| t > now) {
                    _ if s.removed => TokenState::Removed,
                    Some(until) => TokenState::Paused { reason: s.pause_reason.clone(), remaining: until - now },
                    None => TokenState::Active,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(n: usize) -> Vec<VkToken> {
        (0..n).map(|i| VkToken::new(format!("secret-{i}"), format!("test {i}"), Rate::per_second(2))).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_pauses_and_waits_are_cut_not_an_overflow() {
        let pool = TokenPool::new(tokens(1), Arc::new(RateLimiter::new()), Duration::ZERO, Duration::MAX);
        pool.pause(0, Duration::MAX, "captcha");
        let TokenState::Paused { remaining, .. } = &pool.status()[0].state else { panic!("not paused") };
        assert_eq!(*remaining, LONGEST_WAIT);
        assert!(pool.checkout().await.is_ok(), "the (paused) clock runs out the year");
    }

    #[test]
    fn tokens_never_show_their_value() {
        let t = VkToken::new("vk1.a.SECRET", "env VK_TOKEN", Rate::per_second(3));
        assert!(!format!("{t:?}").contains("SECRET"));
        assert!(!t.to_string().contains("SECRET"));
        assert_eq!(t.to_string(), "VK token from env VK_TOKEN");
    }

    #[test]
    fn resolves_env_and_files_and_names_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("otklik-vk-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vk.txt"), "# service tokens\nFILE-ONE\n\n  FILE-TWO  \n").unwrap();
        std::fs::write(dir.join("empty.txt"), "# nothing\n").unwrap();
        let config = VkConfig {
            tokens_env: vec!["VK_A".into(), "VK_B".into()],
            token_files: vec!["vk.txt".into()],
            token_rates: [("vk.txt".to_owned(), Rate::per_second(20))].into(),
            ..VkConfig::default()
        };
        let env = |name: &str| (name == "VK_A" || name == "VK_B").then(|| format!(" {name}-VALUE\n"));
        let tokens = config.resolve_tokens_with(&dir, env).unwrap();
        let shown: Vec<_> =
            tokens.iter().map(|t| (t.origin().to_owned(), t.secret().to_owned(), t.rate().requests)).collect();
        assert_eq!(
            shown,
            vec![
                ("env VK_A".into(), "VK_A-VALUE".into(), 3),
                ("env VK_B".into(), "VK_B-VALUE".into(), 3),
                ("file vk.txt line 2".into(), "FILE-ONE".into(), 20),
                ("file vk.txt line 4".into(), "FILE-TWO".into(), 20),
            ]
        );

        let broken = VkConfig {
            tokens_env: vec!["VK_MISSING".into(), "VK_EMPTY".into()],
            token_files: vec!["empty.txt".into(), "absent.txt".into()],
            ..VkConfig::default()
        };
        let err = broken.resolve_tokens_with(&dir, |name| (name == "VK_EMPTY").then(|| "  ".to_owned())).unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        let text = err.to_string();
        for needle in ["VK_MISSING", "VK_EMPTY", "empty.txt holds no token", "absent.txt"] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
        assert_eq!(
            VkConfig::default().resolve_tokens_with(&dir, |_| None).unwrap_err().problems,
            vec![SecretProblem::NoneConfigured]
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test(start_paused = true)]
    async fn spreads_requests_and_skips_paused_and_removed_tokens() {
        let limiter = Arc::new(RateLimiter::new());
        let pool = TokenPool::new(tokens(3), limiter.clone(), Duration::ZERO, Duration::from_secs(120));
        let mut picks = Vec::new();
        for _ in 0..6 {
            let i = pool.checkout().await.unwrap().index;
            let (key, rate) = pool.limit(i);
            limiter.acquire(key, rate).await;
            picks.push(i);
        }
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2], "round robin while all are free");
        // All three are now at 2/s; the next goes when the first frees, without waiting long.
        pool.pause(1, Duration::from_secs(60), "captcha");
        pool.remove(2, "error 5");
        let start = Instant::now();
        for _ in 0..4 {
            let i = pool.checkout().await.unwrap().index;
            assert_eq!(i, 0);
            let (key, rate) = pool.limit(i);
            limiter.acquire(key, rate).await;
        }
        assert!(Instant::now() - start >= Duration::from_secs(1));
        let status = pool.status();
        assert!(matches!(status[1].state, TokenState::Paused { .. }));
        assert_eq!(status[2].state, TokenState::Removed);
        pool.remove(0, "error 5");
        // Only the paused one is left: a checkout waits for its pause to end.
        let before = Instant::now();
        assert_eq!(pool.checkout().await.unwrap().index, 1);
        assert!(Instant::now() - before >= Duration::from_secs(50));
        pool.remove(1, "error 5");
        assert!(matches!(pool.checkout().await, Err(CollectError::Config(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_spread_over_the_pool() {
        let limiter = Arc::new(RateLimiter::new());
        let pool = TokenPool::new(tokens(3), limiter.clone(), Duration::ZERO, Duration::from_secs(30));
        // Fill every token's window, token 0 first (it frees first).
        for i in 0..3 {
            for _ in 0..2 {
                limiter.acquire(pool.limit(i).0, pool.limit(i).1).await;
            }
        }
        // Nine requests checked out at once while all are busy: three per token.
        let leases: Vec<_> = futures_util::future::join_all((0..9).map(|_| pool.checkout()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let mut per_token = [0; 3];
        for lease in &leases {
            per_token[lease.index] += 1;
        }
        assert_eq!(per_token, [3, 3, 3]);
        drop(leases);
        assert!(pool.states.lock().unwrap().0.iter().all(|s| s.reserved == 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_pause_fails_fast_as_transient() {
        let pool = TokenPool::new(tokens(1), Arc::new(RateLimiter::new()), Duration::ZERO, Duration::from_secs(30));
        pool.pause(0, Duration::from_secs(3600), "quota");
        let before = Instant::now();
        let Err(err) = pool.checkout().await else { panic!("a token an hour away was handed out") };
        assert!(err.is_retryable(), "{err}");
        assert_eq!(Instant::now(), before);
    }
}
