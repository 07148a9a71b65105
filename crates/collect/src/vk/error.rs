//! VK API errors: the `{"error": {…}}` envelope and `execute_errors`, typed and classified so
//! the client knows whether to back off a token, drop it, pause it, give up on a source or retry.

use otklik_pipeline::secrets;
use std::fmt;

/// What the collector should do about a [`VkApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VkErrorClass {
    /// 6 (too many requests per second) and 9 (flood control): back off this token briefly.
    RateLimited,
    /// 29 (rate limit reached): this method's quota for the token is spent until the window
    /// (a day) ends; back off the token for the rest of it.
    QuotaExhausted,
    /// 5 (authorisation failed): the token is invalid or revoked; take it out of the pool loudly.
    AuthFailed,
    /// 14 (captcha needed): pause this token; an unattended collector cannot solve captchas.
    Captcha,
    /// 15, 18, 19, 30, 203 (access denied, deleted or banned, unavailable, private profile,
    /// closed community): mark the source unavailable with the reason and keep going.
    SourceUnavailable,
    /// 10 (internal server error): retry with backoff.
    Retry,
    /// Anything else (bad parameters, unknown method, …): a bug or misconfiguration; retrying
    /// the same request will fail the same way.
    Permanent,
}

impl VkErrorClass {
    /// Classifies a VK `error_code`.
    pub fn of(code: i64) -> Self {
        match code {
            6 | 9 => VkErrorClass::RateLimited,
            29 => VkErrorClass::QuotaExhausted,
            5 => VkErrorClass::AuthFailed,
            14 => VkErrorClass::Captcha,
            15 | 18 | 19 | 30 | 203 => VkErrorClass::SourceUnavailable,
            10 => VkErrorClass::Retry,
            _ => VkErrorClass::Permanent,
        }
    }

    /// Whether the same request may succeed later (possibly with another token).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            VkErrorClass::RateLimited | VkErrorClass::QuotaExhausted | VkErrorClass::Captcha | VkErrorClass::Retry
        )
    }

    /// Whether the error is about the token rather than the request or the source.
    pub fn concerns_token(self) -> bool {
        matches!(
            self,
            VkErrorClass::RateLimited | VkErrorClass::QuotaExhausted | VkErrorClass::AuthFailed | VkErrorClass::Captcha
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            VkErrorClass::RateLimited => "rate_limited",
            VkErrorClass::QuotaExhausted => "quota_exhausted",
            VkErrorClass::AuthFailed => "auth_failed",
            VkErrorClass::Captcha => "captcha",
            VkErrorClass::SourceUnavailable => "source_unavailable",
            VkErrorClass::Retry => "retry",
            VkErrorClass::Permanent => "permanent",
        }
    }
}

impl fmt::Display for VkErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error VK answered instead of data (HTTP 200 with an `error` object), or one entry of
/// `execute_errors`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("VK API error {code}{}: {message}", .method.as_deref().map(|m| format!(" in {m}")).unwrap_or_default())]
pub struct VkApiError {
    pub code: i64,
    pub message: String,
    /// The method that failed: from `execute_errors`, or the `method` request parameter.
    pub method: Option<String>,
    /// The request parameters VK echoed, secrets redacted (VK echoes what it was sent, and these
    /// errors end up in logs and DLQ records).
    pub request_params: Vec<(String, String)>,
    /// For captcha errors (14): the id a human would answer.
    pub captcha_sid: Option<String>,
}

impl VkApiError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        VkApiError { code, message: message.into(), method: None, request_params: Vec::new(), captcha_sid: None }
    }

    pub fn class(&self) -> VkErrorClass {
        VkErrorClass::of(self.code)
    }

    /// Every text VK sent back passes through [`secrets::redact`]: a server can quote the
    /// request, token included, in any of them.
    pub(crate) fn from_body(body: &super::types::ErrorBody<'_>) -> Self {
        let request_params: Vec<(String, String)> = body
            .request_params
            .iter()
            .map(|p| {
                let value = p.value.as_deref().unwrap_or("");
                let value = if is_secret_key(&p.key) { "[redacted]".to_owned() } else { scrub(value) };
                (scrub(&p.key), value)
            })
            .collect();
        let method = body
            .method
            .as_deref()
            .map(scrub)
            .or_else(|| request_params.iter().find(|(k, _)| k == "method").map(|(_, v)| v.clone()));
        VkApiError {
            // A body without a code is still an error; 0 is no VK code, so it classifies Permanent.
            code: body.error_code.0.unwrap_or(0),
            message: scrub(body.error_msg.as_deref().unwrap_or("(no message)")),
            method,
            request_params,
            captcha_sid: body.captcha_sid.as_deref().map(scrub),
        }
    }
}

fn scrub(text: &str) -> String {
    secrets::redact(text).into_owned()
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["token", "secret", "sig", "password", "key"].iter().any(|s| key.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_class() {
        let cases = [
            (6, VkErrorClass::RateLimited),
            (9, VkErrorClass::RateLimited),
            (29, VkErrorClass::QuotaExhausted),
            (5, VkErrorClass::AuthFailed),
            (14, VkErrorClass::Captcha),
            (15, VkErrorClass::SourceUnavailable),
            (18, VkErrorClass::SourceUnavailable),
            (19, VkErrorClass::SourceUnavailable),
            (30, VkErrorClass::SourceUnavailable),
            (203, VkErrorClass::SourceUnavailable),
            (10, VkErrorClass::Retry),
            (100, VkErrorClass::Permanent),
            (0, VkErrorClass::Permanent),
        ];
        for (code, class) in cases {
            assert_eq!(VkErrorClass::of(code), class, "code {code}");
        }
        assert!(VkErrorClass::Retry.is_retryable());
        assert!(!VkErrorClass::AuthFailed.is_retryable());
        assert!(!VkErrorClass::SourceUnavailable.concerns_token());
        assert!(VkErrorClass::Captcha.concerns_token());
    }

    #[test]
    fn display_names_code_method_and_message() {
        let mut e = VkApiError::new(15, "Access denied");
        e.method = Some("wall.get".into());
        assert_eq!(e.to_string(), "VK API error 15 in wall.get: Access denied");
        assert!(is_secret_key("access_token"));
        assert!(!is_secret_key("owner_id"));
    }
}
