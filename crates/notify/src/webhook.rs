//! The webhook receiver, per the Standard Webhooks specification: a JSON body, `webhook-id` (the
//! notification id, the same on every retry), `webhook-timestamp` (this attempt's unix seconds)
//! and `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
//!
//! The URL may carry a token of its own, so errors and logs name only its scheme, host and port.

use crate::attempt::{classify_status, parse_retry_after, Attempt, Verdict};
use crate::config::WebhookConfig;
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use otklik_model::{Alert, Notification};
use otklik_pipeline::secrets;
use otklik_pipeline::units::ConfigProblem;
use serde::Serialize;
use sha2::Sha256;
use std::fmt;

/// The body's `version`: bump it when the body changes incompatibly.
pub const BODY_VERSION: &str = "1";

/// The signing key: the decoded bytes of a `whsec_<base64>` secret, else the secret's bytes,
/// keyed into the HMAC once.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    pub fn from_secret(secret: &Secret) -> Result<Self, String> {
        let text = secret.expose();
        match text.strip_prefix("whsec_") {
            Some(encoded) => {
                let bytes = STANDARD
                    .decode(encoded)
                    .map_err(|_| "a whsec_ secret must be base64 after the prefix".to_owned())?;
                if bytes.is_empty() {
                    return Err("the whsec_ secret is empty".into());
                }
                Self::keyed(&bytes)
            }
            None => Self::keyed(text.as_bytes()),
        }
    }

    fn keyed(key: &[u8]) -> Result<Self, String> {
        Hmac::<Sha256>::new_from_slice(key).map(SigningKey).map_err(|_| "the secret cannot key HMAC-SHA256".to_owned())
    }

    /// `v1,<base64 signature>` of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl SigningKey {
    /// Whether `signatures` (the `webhook-signature` header: space-separated `v1,<base64>`)
    /// holds this key's signature of `{id}.{timestamp}.{body}` — the receiving side of the
    /// specification. Compared in constant time.
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], signatures: &str) -> bool {
        let candidates =
            signatures.split(' ').filter_map(|s| s.strip_prefix("v1,")).filter_map(|b| STANDARD.decode(b).ok());
        candidates.into_iter().any(|given| self.mac(id, timestamp, body).verify_slice(&given).is_ok())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// The JSON body. `type` and `timestamp` are the fields the specification recommends; the rest
/// is the notification.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    event_type: String,
    timestamp: String,
    version: &'static str,
    notification_id: &'a str,
    receiver: &'a str,
    status: &'static str,
    kind: &'static str,
    group_key: &'a str,
    thread: &'a str,
    alerts: &'a [Alert],
}

/// The exact bytes sent (and signed) for `notification`.
pub fn body(notification: &Notification) -> Vec<u8> {
    let body = Body {
        event_type: format!("otklik.alert_group.{}", notification.kind.as_str()),
        timestamp: otklik_model::format_rfc3339_secs(&notification.created_at),
        version: BODY_VERSION,
        notification_id: &notification.id,
        receiver: &notification.receiver,
        status: notification.status(),
        kind: notification.kind.as_str(),
        group_key: &notification.group_key,
        thread: &notification.thread,
        alerts: &notification.alerts,
    };
    // Serialising plain data into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Clone)]
pub struct WebhookReceiver {
    name: String,
    url: reqwest::Url,
    shown: String,
    key: SigningKey,
    client: reqwest::Client,
}

impl WebhookReceiver {
    pub fn new(config: &WebhookConfig, secret: &Secret) -> Result<Self, ConfigProblem> {
        let url = reqwest::Url::parse(&config.url).map_err(|_| ConfigProblem::new("url", "not an http(s) URL"))?;
        let field = if config.secret_env.is_some() { "secret_env" } else { "secret_file" };
        let key = SigningKey::from_secret(secret).map_err(|message| ConfigProblem::new(field, message))?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(concat!("otklik/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigProblem::new("url", format!("cannot build an HTTP client: {}", e.without_url())))?;
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let shown = format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or(""));
        Ok(WebhookReceiver { name: config.name.clone(), url, shown, key, client })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The endpoint as logs show it: scheme, host and port.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// One POST of `notification`, timestamped `now`.
    pub async fn deliver(&self, notification: &Notification, now: DateTime<Utc>) -> Attempt {
        let body = body(notification);
        let timestamp = now.timestamp();
        let signature = self.key.sign(&notification.id, timestamp, &body);
        let request = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &notification.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            // A request that cannot even be built (an id no header can carry) never will be.
            Err(e) if e.is_builder() => return Attempt::new(Verdict::Failed, 0, self.network_detail(&e)),
            Err(e) => return Attempt::new(Verdict::Retry, 0, self.network_detail(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let verdict = classify_status(status);
        if verdict == Verdict::Delivered {
            return Attempt::delivered(status);
        }
        // A little of the answer helps whoever reads the log; it passes the secret filter.
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(200).collect();
        let detail =
            secrets::redact(&format!("{} answered HTTP {status} {}", self.shown, excerpt.trim())).trim().to_owned();
        Attempt { retry_after, ..Attempt::new(verdict, status, detail) }
    }

    fn network_detail(&self, error: &reqwest::Error) -> String {
        let what = if error.is_timeout() { "timed out".to_owned() } else { chain(error) };
        secrets::redact(&format!("{}: {what}", self.shown)).into_owned()
    }
}

impl fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the whole URL: its path or query may carry a token.
        f.debug_struct("WebhookReceiver").field("name", &self.name).field("url", &self.shown).finish_non_exhaustive()
    }
}

/// The error and its causes without any URL (a webhook URL may hold a token).
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the endpoint");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whsec_secrets_sign_with_their_decoded_bytes() {
        // The specification's example secret, message and signature.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let key = SigningKey::from_secret(&secret).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let raw = SigningKey::from_secret(&Secret::new("plain-secret-value")).unwrap();
        // A secret without the prefix signs with its own bytes (HMAC computed apart, in Python).
        let by_bytes = "v1,k/nfkjhIhPrno21HQXXTghrulwcbVpjsreAf7B9bDy0=";
        assert_eq!(raw.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body), by_bytes);
        assert!(SigningKey::from_secret(&Secret::new("whsec_not*base64")).is_err());
        assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
    }

    #[test]
    fn verify_accepts_the_specifications_example_and_nothing_altered() {
        let key = SigningKey::from_secret(&Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
        let (id, at, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#.as_slice());
        let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(key.verify(id, at, body, signature));
        // Several signatures (a secret being rotated): one that matches is enough.
        assert!(key.verify(id, at, body, &format!("v1,AAAA {signature}")));
        assert!(!key.verify(id, at + 1, body, signature), "another timestamp");
        assert!(!key.verify("msg_other", at, body, signature), "another id");
        assert!(!key.verify(id, at, br#"{"test": 2432232315}"#, signature), "another body");
        assert!(!key.verify(id, at, body, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), "another scheme");
        assert!(!key.verify(id, at, body, ""));
    }
}
