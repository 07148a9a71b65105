//! The signed OK REST client: one credential, its rate limit, and what OK's error codes mean
//! for it.
//!
//! Every call is `GET {api_base}?method=…&application_key=…&format=json&…&sig=…&access_token=…`,
//! `sig` computed by [`signature`] over every parameter but `access_token`. OK reports errors
//! with HTTP 200, an `Invocation-Error` header and an error body; the client turns them into
//! actions on the credential:
//!
//! | codes | meaning | what the client does |
//! |---|---|---|
//! | 8, 11 | FLOOD_BLOCKED, LIMIT_REACHED | blocks the credential's rate-limit key for `flood_backoff` / `limit_backoff` (every request on it waits), fails the call as retryable |
//! | 101–104 | bad application key, session expired / invalid, bad signature | stops the credential for good with a loud error: no further request is sent |
//! | 300, 10 | not found, permission denied | fails the call; the caller marks its source unavailable |
//! | 1, 2, 9999 | server-side failures | retries the call with backoff |
//!
//! Nothing here prints a query string: URLs are shown through [`redact`].

use super::config::{OkConfig, OkCredentials};
use super::{signature, OkApiError, OkErrorClass, SigningSecret};
use crate::collector::LONGEST_WAIT;
use crate::http::{redact, HttpClient, HttpConfig, HttpError};
use crate::ratelimit::{Rate, RateLimiter};
use crate::vk::lenient::{LId, LInt, LText, LUint};
use otklik_pipeline::units::ConfigProblem;
use otklik_pipeline::{secrets, Backoff};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Why an OK call produced no data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OkCallError {
    /// OK answered with an error body (after any retries the code allows).
    #[error("{method}: {error}")]
    Api { method: String, error: OkApiError },
    /// The HTTP request itself failed (after the shared client's retries).
    #[error("{method}: {error}")]
    Http { method: String, error: HttpError },
    /// An HTTP status other than 200 that the shared client does not retry (a 404 from a proxy).
    #[error("{method}: {url}: unexpected HTTP {status}")]
    Status { method: String, url: String, status: u16 },
    /// The credential was stopped by an earlier credential error; nothing was sent.
    #[error("{0}")]
    Stopped(String),
}

impl OkCallError {
    /// The OK error class, when OK itself answered.
    pub fn class(&self) -> Option<OkErrorClass> {
        match self {
            OkCallError::Api { error, .. } => Some(error.class()),
            _ => None,
        }
    }

    /// Whether the credential (not just this call) is unusable.
    pub fn is_credential(&self) -> bool {
        matches!(self, OkCallError::Stopped(_)) || self.class() == Some(OkErrorClass::Credential)
    }
}

/// A response body OK answered with data.
#[derive(Debug, Clone)]
pub struct OkBody {
    pub bytes: Vec<u8>,
    /// Where it came from, safe to log and store: `https://api.ok.ru/fb.do mediatopic.getTopics`.
    pub origin: String,
}

/// A group as `group.getInfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OkGroup {
    pub uid: String,
    pub name: Option<String>,
    pub shortname: Option<String>,
    /// The group's member count, when OK shows it.
    pub members_count: Option<u64>,
}

/// The signed client of one OK credential. Share it (`Arc`) between every source that uses the
/// credential: the rate limit and the stop/backoff state are per client.
pub struct OkClient {
    http: HttpClient,
    api_base: reqwest::Url,
    credentials: OkCredentials,
    rate: Rate,
    limit_key: String,
    flood_backoff: Duration,
    limit_backoff: Duration,
    retries: u32,
    retry_backoff: Backoff,
    stopped: Mutex<Option<String>>,
}

impl std::fmt::Debug for OkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OkClient")
            .field("api_base", &redact(&self.api_base))
            .field("application_key", &self.credentials.application_key)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OkClient {
    /// A client over a shared `http` client (whose rate limiter holds this credential's key).
    pub fn new(config: &OkConfig, credentials: OkCredentials, http: HttpClient) -> Result<Self, super::OkConfigError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(super::OkConfigError { problems });
        }
        let api_base = reqwest::Url::parse(&config.api_base)
            .map_err(|e| super::OkConfigError { problems: vec![ConfigProblem::new("api_base", e.to_string())] })?;
        // One rate-limit key per credential; the token itself never becomes part of a key
        // (keys may be logged), only a short digest of it.
        let token_digest = &signature(&[("t", credentials.access_token.expose())], SigningSecret::Application(""))[..8];
        let limit_key = format!("ok:{}:{token_digest}", credentials.application_key);
        Ok(OkClient {
            http,
            api_base,
            credentials,
            rate: config.rate,
            limit_key,
            flood_backoff: config.flood_backoff,
            limit_backoff: config.limit_backoff,
            retries: config.retries,
            retry_backoff: config.retry_backoff(),
            stopped: Mutex::new(None),
        })
    }

    /// A client with its own HTTP client and rate limiter (timeouts from `config`).
    pub fn from_config(config: &OkConfig, credentials: OkCredentials) -> Result<Self, super::OkConfigError> {
        let http_config = HttpConfig { timeout: config.timeout, ..HttpConfig::default() };
        let http = HttpClient::new(http_config, Arc::new(RateLimiter::new())).map_err(|e| super::OkConfigError {
            problems: vec![ConfigProblem::new("api_base", format!("cannot build the HTTP client: {e}"))],
        })?;
        Self::new(config, credentials, http)
    }

    /// The rate-limit key of this credential (for tests and metrics; contains no secret).
    pub fn limit_key(&self) -> &str {
        &self.limit_key
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Why the credential was stopped, if it was.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn secret(&self) -> SigningSecret<'_> {
        match &self.credentials.session_secret_key {
            Some(session) => SigningSecret::SessionSecret(session.expose()),
            None => SigningSecret::AccessToken {
                access_token: self.credentials.access_token.expose(),
                application_secret_key: self.credentials.application_secret_key.expose(),
            },
        }
    }

    /// The signed URL of `method` with `params` (contains the token: never log it).
    pub fn signed_url(&self, method: &str, params: &[(&str, &str)]) -> reqwest::Url {
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 5);
        all.push(("application_key", &self.credentials.application_key));
        all.push(("format", "json"));
        all.push(("method", method));
        all.extend(params.iter().copied());
        let sig = signature(&all, self.secret());
        let mut url = self.api_base.clone();
        url.query_pairs_mut()
            .extend_pairs(all.iter().copied())
            .append_pair("sig", &sig)
            .append_pair("access_token", self.credentials.access_token.expose());
        url
    }

    /// Calls `method`, handling OK's error codes as the module documents.
    pub async fn call(&self, method: &str, params: &[(&str, &str)]) -> Result<OkBody, OkCallError> {
        let url = self.signed_url(method, params);
        let origin = format!("{} {method}", redact(&url));
        let mut attempt = 0;
        loop {
            if let Some(reason) = self.stopped() {
                return Err(OkCallError::Stopped(reason));
            }
            let response = self
                .http
                .get(url.clone(), &[], &self.limit_key, self.rate)
                .await
                .map_err(|error| OkCallError::Http { method: method.to_owned(), error })?;
            // A stop that happened while this request waited for its turn still counts: the
            // response is dropped rather than used with a credential known to be bad.
            if let Some(reason) = self.stopped() {
                return Err(OkCallError::Stopped(reason));
            }
            let invocation_error =
                response.headers.get("invocation-error").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let error = api_error(invocation_error.as_deref(), &response.body);
            let Some(error) = error else {
                if response.status != 200 {
                    return Err(OkCallError::Status {
                        method: method.to_owned(),
                        url: redact(&url),
                        status: response.status,
                    });
                }
                return Ok(OkBody { bytes: response.body, origin });
            };
            match error.class() {
                OkErrorClass::BackOff => {
                    let rest = if error.code == 11 { self.limit_backoff } else { self.flood_backoff };
                    let rest = rest.min(LONGEST_WAIT);
                    self.http.limiter().block_until(&self.limit_key, self.rate, Instant::now() + rest);
                    tracing::warn!(code = error.code, method, application_key = %self.credentials.application_key, ?rest, "OK asks this credential to back off; its requests wait");
                }
                OkErrorClass::Credential => {
                    let reason = format!(
                        "OK credential of application {} stopped: {method} answered {error} — {}; fix the credential and restart",
                        self.credentials.application_key,
                        credential_hint(error.code)
                    );
                    tracing::error!(code = error.code, method, application_key = %self.credentials.application_key, "{reason}");
                    self.stopped.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(reason);
                }
                OkErrorClass::Retry if attempt < self.retries => {
                    let wait = self.retry_backoff.delay(attempt);
                    tracing::warn!(code = error.code, method, attempt, ?wait, "OK server-side error, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                OkErrorClass::Retry | OkErrorClass::SourceUnavailable | OkErrorClass::Permanent => {}
            }
            return Err(OkCallError::Api { method: method.to_owned(), error });
        }
    }

    /// `group.getInfo` for `uids`; groups OK does not know are simply absent from the answer.
    pub async fn group_info(&self, uids: &[&str]) -> Result<Vec<OkGroup>, OkCallError> {
        let uids = uids.join(",");
        let fields = "uid,name,shortname,members_count";
        let body = self.call("group.getInfo", &[("uids", &uids), ("fields", fields)]).await?;
        #[derive(Deserialize)]
        struct Group<'a> {
            #[serde(borrow, default)]
            uid: LId<'a>,
            #[serde(borrow, default)]
            name: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            shortname: Option<Cow<'a, str>>,
            #[serde(default)]
            members_count: LUint,
        }
        let groups: Vec<Group<'_>> = serde_json::from_slice(&body.bytes).map_err(|e| OkCallError::Api {
            method: "group.getInfo".into(),
            error: OkApiError::new(0, secrets::redact(&format!("unreadable group.getInfo answer: {e}"))),
        })?;
        Ok(groups
            .into_iter()
            .filter_map(|g| {
                let (name, shortname) = (g.name.map(Cow::into_owned), g.shortname.map(Cow::into_owned));
                Some(OkGroup { uid: g.uid.0?.into_owned(), name, shortname, members_count: g.members_count.0 })
            })
            .collect())
    }
}

fn credential_hint(code: i64) -> &'static str {
    match code {
        101 => "the application_key is not valid",
        102 => "the session has expired: issue a new access token",
        103 => "the access token / session is not valid",
        104 => "the signature is wrong: check application_secret_key (and session_secret_key)",
        _ => "the credential is rejected",
    }
}

/// The error in a response: the body's `error_code` when it has one, else the
/// `Invocation-Error` header's code.
fn api_error(header: Option<&str>, body: &[u8]) -> Option<OkApiError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct ErrorBody<'a> {
        error_code: LInt,
        #[serde(borrow)]
        error_msg: Option<Cow<'a, str>>,
        error_data: LText,
    }
    let looks_like_error =
        header.is_some() || (body.len() < 64 << 10 && memchr::memmem::find(body, b"\"error_code\"").is_some());
    if !looks_like_error {
        return None;
    }
    let parsed = serde_json::from_slice::<ErrorBody<'_>>(body).ok();
    match parsed {
        // OK quotes parameters in error_msg and error_data; the token must not ride along.
        Some(ErrorBody { error_code: LInt(Some(code)), error_msg, error_data }) => Some(OkApiError {
            code,
            message: secrets::redact(error_msg.as_deref().unwrap_or("(no message)")).into_owned(),
            data: error_data.0.map(|d| secrets::redact(&d).into_owned()),
        }),
        _ => {
            let code = header?.trim().parse::<i64>().ok().unwrap_or(1);
            Some(OkApiError::new(code, "(Invocation-Error header without a readable error body)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_from_body_or_header() {
        let body = br#"{"error_code":104,"error_msg":"PARAM_SIGNATURE : Invalid signature","error_data":null}"#;
        let e = api_error(Some("104"), body).unwrap();
        assert_eq!((e.code, e.message.as_str(), e.data), (104, "PARAM_SIGNATURE : Invalid signature", None));
        // Without the header, an error body is still an error.
        assert_eq!(
            api_error(None, br#"{"error_code":"300","error_msg":"NOT_FOUND","error_data":"5439"}"#)
                .unwrap()
                .data
                .as_deref(),
            Some("5439")
        );
        // The header alone is enough.
        assert_eq!(api_error(Some("8"), b"<html>").unwrap().code, 8);
        // Data is not an error, even when a text mentions error_code.
        assert_eq!(api_error(None, br#"{"media_topics":[{"media":[{"type":"text","text":"\"error_code\""}]}]}"#), None);
        assert_eq!(api_error(None, br#"[{"uid":"1"}]"#), None);
    }
}
