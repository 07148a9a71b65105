//! The VK API client: one request carries one method call, or up to 25 through `execute`; the
//! token pool picks the token; VK errors decide what happens to the token, the call and the
//! source ([`VkErrorClass`]).
//!
//! [`Batcher`] gathers calls made concurrently (every source's walk, every post's comments) and
//! sends them as `execute` requests of up to `execute_batch` calls:
//! `return [API.wall.get({"owner_id":-1,"count":100}), …];`. VK answers a list with the result
//! of each call, or `false` for a failed one plus, in call order, an entry in `execute_errors`.

use super::config::VkConfig;
use super::tokens::{TokenPool, TokenStatus, VkToken};
use super::types::ErrorBody;
use super::{VkApiError, VkErrorClass};
use crate::code;
use crate::collector::{BadPage, CollectError, Detail};
use crate::http::{redact, HttpClient, HttpError};
use crate::ParseError;
use futures_util::stream::{FuturesUnordered, StreamExt};
use otklik_model::Platform;
use otklik_pipeline::{secrets, Backoff};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// One API method call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VkCall {
    pub method: &'static str,
    pub params: Map<String, Value>,
}

impl VkCall {
    pub(crate) fn new(method: &'static str, params: impl IntoIterator<Item = (&'static str, Value)>) -> Self {
        VkCall { method, params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect() }
    }

    /// `API.wall.get({...})` for an `execute` script.
    fn vkscript(&self) -> String {
        format!("API.{}({})", self.method, Value::Object(self.params.clone()))
    }

    /// `wall.get owner_id=-1 offset=100`: for logs and DLQ origins (no secrets in params).
    pub(crate) fn describe(&self) -> String {
        let mut out = self.method.to_owned();
        for (k, v) in &self.params {
            match v {
                Value::String(s) => out.push_str(&format!(" {k}={s}")),
                other => out.push_str(&format!(" {k}={other}")),
            }
        }
        out
    }

    fn query_value(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Why a call produced no data.
#[derive(Debug)]
pub(crate) enum CallError {
    /// VK refused the call for a reason retrying cannot fix: source unavailable (15, 18, 19,
    /// 30, 203) or a permanent error (bad parameters, …).
    Api(VkApiError),
    /// No token, or retries exhausted.
    Collect(CollectError),
    /// The response could not be read at all.
    Bad(BadPage),
}

pub(crate) type CallResult = Result<Value, CallError>;

/// What one request came back with.
enum RequestError {
    Http(HttpError),
    Api(VkApiError),
    Bad { bytes: Vec<u8>, reason: String },
}

enum Disposition {
    /// Try again (another token, or after `wait`).
    Retry(Option<Duration>),
    Final,
}

/// The client: token pool, rate limits, retries.
pub(crate) struct VkApi {
    http: HttpClient,
    base: reqwest::Url,
    version: String,
    pool: TokenPool,
    rate_limited_pause: Duration,
    quota_pause: Duration,
    captcha_pause: Duration,
    max_attempts: u32,
    backoff: Backoff,
}

impl VkApi {
    pub(crate) fn new(config: &VkConfig, tokens: Vec<VkToken>, http: HttpClient) -> Result<Self, CollectError> {
        if tokens.is_empty() {
            return Err(CollectError::Config("no usable VK tokens: none configured".into()));
        }
        let mut base = reqwest::Url::parse(&config.api_base)
            .map_err(|e| CollectError::Config(format!("collect.vk.api_base {:?}: {e}", config.api_base).into()))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let pool = TokenPool::new(tokens, http.limiter().clone(), config.rate_margin, config.max_token_wait);
        Ok(VkApi {
            http,
            base,
            version: config.api_version.clone(),
            pool,
            rate_limited_pause: config.rate_limited_pause,
            quota_pause: config.quota_pause,
            captcha_pause: config.captcha_pause,
            max_attempts: config.max_attempts.max(1),
            backoff: Backoff { initial: config.retry_initial, max: config.retry_max.max(config.retry_initial) },
        })
    }

    pub(crate) fn token_status(&self) -> Vec<TokenStatus> {
        self.pool.status()
    }

    /// Runs `calls` (one request if one call, else one `execute`), retrying what VK or the
    /// network say may pass; results in call order.
    pub(crate) async fn run(&self, calls: &[VkCall]) -> Vec<CallResult> {
        let mut results: Vec<Option<CallResult>> = calls.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..calls.len()).collect();
        let mut attempt = 0u32;
        let mut last_problem = String::new();
        // The code of the latest failure: what a call that gives up failed of.
        let mut last_code = Cow::Borrowed(code::OTHER);
        while !pending.is_empty() {
            if attempt >= self.max_attempts {
                for &i in &pending {
                    let reason = format!("{}: gave up after {attempt} attempts: {last_problem}", calls[i].method);
                    let detail = Detail::coded(last_code.clone(), reason);
                    results[i] = Some(Err(CallError::Collect(CollectError::Transient(detail))));
                }
                break;
            }
            let lease = match self.pool.checkout().await {
                Ok(lease) => lease,
                Err(e) => {
                    let config = matches!(e, CollectError::Config(_));
                    // Tokens paused by the errors before (6, 29, 14) fail of those errors.
                    let code = if attempt > 0 { last_code.clone() } else { Cow::Owned(e.code().to_owned()) };
                    let detail = Detail::coded(code, e.detail().message());
                    for &i in &pending {
                        let e = if config {
                            CollectError::Config(detail.clone())
                        } else {
                            CollectError::Transient(detail.clone())
                        };
                        results[i] = Some(Err(CallError::Collect(e)));
                    }
                    break;
                }
            };
            let batch: Vec<&VkCall> = pending.iter().map(|&i| &calls[i]).collect();
            let token = lease.index;
            let outcome = self.request(token, &batch).await;
            drop(lease);
            attempt += 1;
            let mut wait = None;
            match outcome {
                Err(RequestError::Http(e)) => {
                    last_problem = e.to_string();
                    last_code = code::http(&e);
                    if !e.is_retryable() {
                        // A redirect means api_base (or a proxy) is wrong: say so, as OK's reader does.
                        let redirect = matches!(e, HttpError::Redirect { .. });
                        let error = if redirect { CollectError::Config } else { CollectError::Transient };
                        for &i in &pending {
                            let detail = Detail::coded(last_code.clone(), last_problem.clone());
                            results[i] = Some(Err(CallError::Collect(error(detail))));
                        }
                        break;
                    }
                    wait = Some(self.backoff.delay(attempt - 1));
                }
                Err(RequestError::Bad { bytes, reason }) => {
                    for &i in &pending {
                        let origin = format!("{}{} ({})", redact(&self.base), calls[i].method, calls[i].describe());
                        let error = ParseError::new(Platform::Vk, reason.clone());
                        results[i] = Some(Err(CallError::Bad(BadPage { origin, bytes: bytes.clone(), error })));
                    }
                    break;
                }
                Err(RequestError::Api(e)) => {
                    last_problem = e.to_string();
                    last_code = code::vk(e.code);
                    match self.dispose(token, &e, attempt) {
                        Disposition::Retry(w) => wait = w,
                        Disposition::Final => {
                            for &i in &pending {
                                results[i] = Some(Err(CallError::Api(e.clone())));
                            }
                            break;
                        }
                    }
                }
                Ok(per_call) => {
                    let mut still = Vec::new();
                    for (&i, result) in pending.iter().zip(per_call) {
                        match result {
                            Ok(value) => results[i] = Some(Ok(value)),
                            Err(e) => {
                                last_problem = e.to_string();
                                last_code = code::vk(e.code);
                                match self.dispose(token, &e, attempt) {
                                    Disposition::Retry(w) => {
                                        wait = wait.max(w);
                                        still.push(i);
                                    }
                                    Disposition::Final => results[i] = Some(Err(CallError::Api(e))),
                                }
                            }
                        }
                    }
                    pending = still;
                }
            }
            if let (Some(wait), false) = (wait, pending.is_empty()) {
                tracing::debug!(?wait, attempt, problem = %last_problem, "VK call retrying");
                tokio::time::sleep(wait).await;
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(CallError::Collect(CollectError::Transient("VK call was not answered".into()))))
            })
            .collect()
    }

    /// What an error means for the token and for the call.
    fn dispose(&self, token: usize, e: &VkApiError, attempt: u32) -> Disposition {
        match e.class() {
            VkErrorClass::RateLimited => {
                self.pool.pause(token, self.rate_limited_pause, &format!("VK error {}: {}", e.code, e.message));
                Disposition::Retry(None)
            }
            VkErrorClass::QuotaExhausted => {
                self.pool.pause(
                    token,
                    self.quota_pause,
                    "VK error 29: rate limit reached (quota for the window spent)",
                );
                Disposition::Retry(None)
            }
            VkErrorClass::Captcha => {
                self.pool.pause(token, self.captcha_pause, "VK error 14: captcha needed");
                Disposition::Retry(None)
            }
            VkErrorClass::AuthFailed => {
                self.pool.remove(token, &format!("VK error 5: {}", e.message));
                Disposition::Retry(None)
            }
            VkErrorClass::Retry => Disposition::Retry(Some(self.backoff.delay(attempt.saturating_sub(1)))),
            VkErrorClass::SourceUnavailable | VkErrorClass::Permanent => Disposition::Final,
        }
    }

    /// Sends one request with `token`: the call itself, or an `execute` of several.
    async fn request(&self, token: usize, calls: &[&VkCall]) -> Result<Vec<Result<Value, VkApiError>>, RequestError> {
        let (method, params): (&str, Vec<(String, String)>) = match calls {
            [one] => (one.method, one.params.iter().map(|(k, v)| (k.clone(), VkCall::query_value(v))).collect()),
            many => {
                let code = format!("return [{}];", many.iter().map(|c| c.vkscript()).collect::<Vec<_>>().join(","));
                ("execute", vec![("code".to_owned(), code)])
            }
        };
        let mut url = self.base.join(method).map_err(|e| RequestError::Http(HttpError::BadUrl(e.to_string())))?;
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in &params {
                query.append_pair(k, v);
            }
            query.append_pair("v", &self.version);
            query.append_pair("access_token", self.pool.token(token).secret());
        }
        let (key, rate) = self.pool.limit(token);
        let response = self.http.get(url, &[], key, rate).await.map_err(RequestError::Http)?;
        if response.status != 200 {
            let url = format!("{}{method}", redact(&self.base));
            return Err(RequestError::Http(HttpError::Status { url, status: response.status }));
        }
        let body = response.body;
        let text = String::from_utf8_lossy(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body)).into_owned();
        let mut root: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                // serde_json quotes the strings it rejects, so the reason can hold server text.
                let reason = secrets::redact(&format!("{method} response is not JSON: {e}")).into_owned();
                return Err(RequestError::Bad { reason, bytes: body });
            }
        };
        if let Some(error) = root.get("error").filter(|e| e.is_object()) {
            let mut e = api_error(error);
            e.method.get_or_insert_with(|| method.to_owned());
            return Err(RequestError::Api(e));
        }
        let Some(answer) = root.get_mut("response").map(Value::take) else {
            return Err(RequestError::Bad {
                reason: format!("{method} response has neither \"response\" nor \"error\""),
                bytes: body,
            });
        };
        if calls.len() == 1 {
            return Ok(vec![Ok(answer)]);
        }
        let Value::Array(answers) = answer else {
            return Err(RequestError::Bad { reason: "execute response is not a list".into(), bytes: body });
        };
        if answers.len() != calls.len() {
            return Err(RequestError::Bad {
                reason: format!("execute answered {} results for {} calls", answers.len(), calls.len()),
                bytes: body,
            });
        }
        let mut errors = root.get("execute_errors").and_then(Value::as_array).cloned().unwrap_or_default().into_iter();
        Ok(answers
            .into_iter()
            .zip(calls)
            .map(|(answer, call)| match answer {
                Value::Bool(false) => Err(match errors.next() {
                    Some(e) => {
                        let mut e = api_error(&e);
                        e.method.get_or_insert_with(|| call.method.to_owned());
                        e
                    }
                    // A failure VK did not explain: treat it like an internal error (retry).
                    None => {
                        let mut e = VkApiError::new(10, "call failed inside execute without an execute_errors entry");
                        e.method = Some(call.method.to_owned());
                        e
                    }
                }),
                other => Ok(other),
            })
            .collect())
    }
}

/// A VK error object (`error`, or an entry of `execute_errors`), secrets redacted.
fn api_error(value: &Value) -> VkApiError {
    match ErrorBody::deserialize(value) {
        Ok(body) => VkApiError::from_body(&body),
        Err(_) => {
            let shown = crate::vk::lenient::truncate(&value.to_string());
            VkApiError::new(0, format!("unreadable error object: {}", secrets::redact(&shown)))
        }
    }
}

/// Gathers calls made concurrently into `execute` requests of up to `max` calls.
pub(crate) struct Batcher<'a> {
    api: &'a VkApi,
    max: usize,
    linger: Duration,
    queue: Mutex<Queue>,
    notify: Notify,
}

#[derive(Default)]
struct Queue {
    items: Vec<(VkCall, oneshot::Sender<CallResult>)>,
    first_at: Option<Instant>,
}

impl<'a> Batcher<'a> {
    pub(crate) fn new(api: &'a VkApi, max: usize, linger: Duration) -> Self {
        Batcher { api, max: max.clamp(1, 25), linger, queue: Mutex::new(Queue::default()), notify: Notify::new() }
    }

    /// Makes a call through the next batch. Needs [`Batcher::drive`] running alongside.
    pub(crate) async fn call(&self, call: VkCall) -> CallResult {
        let (tx, rx) = oneshot::channel();
        {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.items.is_empty() {
                queue.first_at = Some(Instant::now());
            }
            queue.items.push((call, tx));
        }
        self.notify.notify_one();
        rx.await.unwrap_or_else(|_| Err(CallError::Collect(CollectError::Transient("VK batch was dropped".into()))))
    }

    /// Sends batches as they fill (or linger out), several in flight at once; runs until dropped.
    pub(crate) async fn drive(&self) {
        let mut inflight = FuturesUnordered::new();
        loop {
            let (batch, deadline) = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                let due = queue.first_at.map(|t| t + self.linger);
                if queue.items.len() >= self.max
                    || (!queue.items.is_empty() && due.is_some_and(|d| d <= Instant::now()))
                {
                    let n = queue.items.len().min(self.max);
                    let batch: Vec<_> = queue.items.drain(..n).collect();
                    queue.first_at = (!queue.items.is_empty()).then(Instant::now);
                    (Some(batch), None)
                } else {
                    (None, due)
                }
            };
            if let Some(batch) = batch {
                let api = self.api;
                inflight.push(async move {
                    let (calls, senders): (Vec<VkCall>, Vec<_>) = batch.into_iter().unzip();
                    for (tx, result) in senders.into_iter().zip(api.run(&calls).await) {
                        let _ = tx.send(result);
                    }
                });
                continue;
            }
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = sleep_until_some(deadline) => {}
                Some(()) = inflight.next(), if !inflight.is_empty() => {}
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_render_as_vkscript_and_descriptions() {
        let call = VkCall::new("wall.get", [("owner_id", json!(-1)), ("domain", json!("a\"b")), ("count", json!(100))]);
        assert_eq!(call.vkscript(), r#"API.wall.get({"count":100,"domain":"a\"b","owner_id":-1})"#);
        assert_eq!(call.describe(), "wall.get count=100 domain=a\"b owner_id=-1");
    }

    #[test]
    fn error_objects_are_read_and_redacted() {
        let e = api_error(
            &json!({"error_code": 15, "error_msg": "Access denied", "request_params": [{"key": "access_token", "value": "SECRET"}, {"key": "owner_id", "value": "-1"}]}),
        );
        assert_eq!(e.code, 15);
        assert!(!format!("{e:?}").contains("SECRET"));
        assert_eq!(api_error(&json!("nonsense")).code, 0);
    }
}
