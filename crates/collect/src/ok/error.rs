//! OK API errors: HTTP 200 with an `Invocation-Error` header and a body
//! `{"error_code", "error_msg", "error_data"}`, typed and classified for the client.

use std::fmt;

/// What the collector should do about an [`OkApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OkErrorClass {
    /// 8 (FLOOD_BLOCKED), 11 (LIMIT_REACHED): back off this credential.
    BackOff,
    /// 101 (PARAM_API_KEY: bad application key), 102 (PARAM_SESSION_EXPIRED), 103
    /// (PARAM_SESSION_KEY: invalid session), 104 (PARAM_SIGNATURE): stop using this credential
    /// and say so loudly; no retry will fix it.
    Credential,
    /// 300 (NOT_FOUND), 10 (PERMISSION_DENIED): mark the source unavailable and carry on.
    SourceUnavailable,
    /// 1 (UNKNOWN), 2 (SERVICE), 9999 (SYSTEM): a server-side failure; retry with backoff.
    Retry,
    /// Anything else (bad parameters, unknown method, …): retrying the same request fails again.
    Permanent,
}

impl OkErrorClass {
    pub fn of(code: i64) -> Self {
        match code {
            8 | 11 => OkErrorClass::BackOff,
            101..=104 => OkErrorClass::Credential,
            300 | 10 => OkErrorClass::SourceUnavailable,
            1 | 2 | 9999 => OkErrorClass::Retry,
            _ => OkErrorClass::Permanent,
        }
    }

    pub fn is_retryable(self) -> bool {
        matches!(self, OkErrorClass::BackOff | OkErrorClass::Retry)
    }

    pub fn name(self) -> &'static str {
        match self {
            OkErrorClass::BackOff => "back_off",
            OkErrorClass::Credential => "credential",
            OkErrorClass::SourceUnavailable => "source_unavailable",
            OkErrorClass::Retry => "retry",
            OkErrorClass::Permanent => "permanent",
        }
    }
}

impl fmt::Display for OkErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error body OK answered instead of data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OK API error {code}: {message}{}", .data.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct OkApiError {
    pub code: i64,
    /// `error_msg`, e.g. `PARAM_SIGNATURE : Invalid signature …`.
    pub message: String,
    /// `error_data` when it is a scalar (often the offending id).
    pub data: Option<String>,
}

impl OkApiError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        OkApiError { code, message: message.into(), data: None }
    }

    pub fn class(&self) -> OkErrorClass {
        OkErrorClass::of(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_class() {
        for (code, class) in [
            (8, OkErrorClass::BackOff),
            (11, OkErrorClass::BackOff),
            (101, OkErrorClass::Credential),
            (102, OkErrorClass::Credential),
            (103, OkErrorClass::Credential),
            (104, OkErrorClass::Credential),
            (300, OkErrorClass::SourceUnavailable),
            (10, OkErrorClass::SourceUnavailable),
            (1, OkErrorClass::Retry),
            (2, OkErrorClass::Retry),
            (9999, OkErrorClass::Retry),
            (100, OkErrorClass::Permanent),
            (105, OkErrorClass::Permanent),
        ] {
            assert_eq!(OkErrorClass::of(code), class, "code {code}");
        }
        assert!(OkErrorClass::BackOff.is_retryable());
        assert!(!OkErrorClass::Credential.is_retryable());
        assert_eq!(OkApiError::new(300, "NOT_FOUND").to_string(), "OK API error 300: NOT_FOUND");
    }
}
