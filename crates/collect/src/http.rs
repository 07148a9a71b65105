//! The HTTP client every collector shares: per-key rate limits, timeouts, a response size cap,
//! and retries with jittered backoff on network errors, 5xx and 429 (honouring `Retry-After`).
//!
//! URLs carry credentials (VK's and OK's `access_token`, OK's `sig`), so nothing here ever
//! prints a query string: errors and logs name the URL as `scheme://host:port/path` only
//! ([`redact`]). For the same reason redirects are not followed and no `Referer` is sent: a
//! redirect would hand the whole query to whatever host the `Location` names, so a 3xx answer is
//! a non-retryable [`HttpError::Redirect`] naming where it pointed (never with its query).

use crate::ratelimit::{Rate, RateLimiter};
use otklik_pipeline::{secrets, Backoff};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Client behaviour shared by every request.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// A larger body is an error (`TooLarge`), not read into memory.
    pub max_body_bytes: usize,
    /// Retries after the first attempt for retryable failures.
    pub max_retries: u32,
    pub backoff: Backoff,
    /// Longest `Retry-After` honoured; a server asking for more gets this.
    pub max_retry_after: Duration,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 8 << 20,
            max_retries: 4,
            backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(30) },
            max_retry_after: Duration::from_secs(300),
            user_agent: concat!("otklik/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// Why a request failed after its retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url}: rate limited (HTTP 429) after {attempts} attempts")]
    RateLimited { url: String, attempts: u32 },
    #[error("GET {url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("GET {url}: {reason}")]
    Network { url: String, reason: String },
    /// No answer (or no whole body) within `HttpConfig::timeout` / `connect_timeout`.
    #[error("GET {url}: timed out")]
    Timeout { url: String },
    /// A 3xx answer: never followed, since the request's query (its credentials) would go along.
    #[error("GET {url}: HTTP {status} redirect to {location} not followed (it would carry the credentials along)")]
    Redirect { url: String, status: u16, location: String },
    #[error("invalid request URL: {0}")]
    BadUrl(String),
}

impl HttpError {
    /// Whether trying later may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status >= 500,
            HttpError::RateLimited { .. } | HttpError::Network { .. } | HttpError::Timeout { .. } => true,
            HttpError::TooLarge { .. } | HttpError::Redirect { .. } | HttpError::BadUrl(_) => false,
        }
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// A URL safe to log: scheme, host, port and path; no user, password, query or fragment, and
/// any registered secret in the path masked (some APIs put the token there).
pub fn redact(url: &reqwest::Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let shown = format!("{}://{}{port}{}", url.scheme(), url.host_str().unwrap_or(""), url.path());
    secrets::redact(&shown).into_owned()
}

/// The shared client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    limiter: Arc<RateLimiter>,
    config: HttpConfig,
}

impl HttpClient {
    pub fn new(config: HttpConfig, limiter: Arc<RateLimiter>) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(&config.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| HttpError::Network { url: String::new(), reason: e.without_url().to_string() })?;
        Ok(HttpClient { client, limiter, config })
    }

    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// GETs `url` under rate-limit key `limit_key`, retrying what is retryable. A 3xx is an
    /// [`HttpError::Redirect`]; every other status below 500 but 429 is returned to the caller as
    /// a response (APIs put errors in 200 bodies; a 404 means something to the collector).
    pub async fn get(
        &self,
        url: reqwest::Url,
        headers: &[(&str, &str)],
        limit_key: &str,
        rate: Rate,
    ) -> Result<HttpResponse, HttpError> {
        let shown = redact(&url);
        let mut attempt = 0;
        loop {
            self.limiter.acquire(limit_key, rate).await;
            let outcome = self.attempt(&url, headers, &shown).await;
            let retry_after = match &outcome {
                Ok(response) if response.status == 429 => {
                    Some(retry_after(&response.headers).unwrap_or_else(|| self.config.backoff.delay(attempt)))
                }
                Ok(response) if response.status >= 500 => {
                    Some(retry_after(&response.headers).unwrap_or_else(|| self.config.backoff.delay(attempt)))
                }
                Ok(response) if (300..400).contains(&response.status) => return Err(redirect(&url, &shown, response)),
                Ok(_) => return outcome,
                Err(e) if e.is_retryable() => Some(self.config.backoff.delay(attempt)),
                Err(_) => return outcome,
            };
            if attempt >= self.config.max_retries {
                return match outcome {
                    Ok(response) if response.status == 429 => {
                        Err(HttpError::RateLimited { url: shown, attempts: attempt + 1 })
                    }
                    Ok(response) => Err(HttpError::Status { url: shown, status: response.status }),
                    Err(e) => Err(e),
                };
            }
            let wait = retry_after.unwrap_or_default().min(self.config.max_retry_after);
            if let Ok(response) = &outcome {
                if response.status == 429 {
                    // Everyone using this key waits, not just this request.
                    self.limiter.block_until(limit_key, rate, Instant::now() + wait);
                }
            }
            tracing::warn!(url = %shown, attempt, ?wait, "request failed, retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        url: &reqwest::Url,
        headers: &[(&str, &str)],
        shown: &str,
    ) -> Result<HttpResponse, HttpError> {
        let network = |e: reqwest::Error| {
            if e.is_timeout() {
                return HttpError::Timeout { url: shown.to_owned() };
            }
            let reason = secrets::redact(&e.without_url().to_string()).into_owned();
            HttpError::Network { url: shown.to_owned(), reason }
        };
        let mut request = self.client.get(url.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send().await.map_err(network)?;
        let limit = self.config.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(HttpError::TooLarge { url: shown.to_owned(), limit });
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > limit {
                return Err(HttpError::TooLarge { url: shown.to_owned(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

/// The error for a 3xx answer to `url`: where the `Location` pointed, redacted like any URL.
fn redirect(url: &reqwest::Url, shown: &str, response: &HttpResponse) -> HttpError {
    let location = response.headers.get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
    let location = match location.map(|l| url.join(l.trim())) {
        Some(Ok(target)) => redact(&target),
        Some(Err(_)) => "an unreadable Location".to_owned(),
        None => "nowhere (no Location)".to_owned(),
    };
    HttpError::Redirect { url: shown.to_owned(), status: response.status, location }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and treated as absent).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}
