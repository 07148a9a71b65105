//! The stable machine codes of poll failures ([`crate::CollectError::code`]), which `/metrics`
//! uses as a label: the platform's own error code where it gave one (VK and OK `error_code`),
//! `http_<status>` for an HTTP status, `timeout`, `network`, `too_large`, `redirect` and `parse`
//! for the transport and the page, and `other` for the rest. Every code comes from a fixed
//! set, so the label's values stay few however odd the platforms' answers get.

use crate::http::HttpError;
use std::borrow::Cow;

/// Whatever has no code of its own, or a code outside the known set.
pub const OTHER: &str = "other";
pub const TIMEOUT: &str = "timeout";
pub const NETWORK: &str = "network";
pub const PARSE: &str = "parse";
pub const TOO_LARGE: &str = "too_large";
pub const REDIRECT: &str = "redirect";

/// VK `error_code`s worth a series of their own: the ones the reader handles specially (see
/// `vk::error`) and the common request errors.
const VK_CODES: &[i64] = &[1, 5, 6, 7, 8, 9, 10, 14, 15, 17, 18, 19, 27, 28, 29, 30, 100, 113, 200, 203];

/// OK `error_code`s worth a series of their own (see `ok::error`).
const OK_CODES: &[i64] = &[1, 2, 3, 8, 10, 11, 100, 101, 102, 103, 104, 160, 300, 9999];

/// A VK `error_code` as a label value: the number, or `other` when unknown.
pub fn vk(code: i64) -> Cow<'static, str> {
    known(VK_CODES, code)
}

/// An OK `error_code` as a label value: the number, or `other` when unknown.
pub fn ok(code: i64) -> Cow<'static, str> {
    known(OK_CODES, code)
}

fn known(codes: &[i64], code: i64) -> Cow<'static, str> {
    if codes.contains(&code) {
        Cow::Owned(code.to_string())
    } else {
        Cow::Borrowed(OTHER)
    }
}

/// `http_<status>` for a status from 300 to 599, else `other`.
pub fn http_status(status: u16) -> Cow<'static, str> {
    if (300..600).contains(&status) {
        Cow::Owned(format!("http_{status}"))
    } else {
        Cow::Borrowed(OTHER)
    }
}

/// The code of a request that failed in transport.
pub fn http(error: &HttpError) -> Cow<'static, str> {
    match error {
        HttpError::Status { status, .. } => http_status(*status),
        HttpError::RateLimited { .. } => http_status(429),
        HttpError::Timeout { .. } => Cow::Borrowed(TIMEOUT),
        HttpError::Network { .. } => Cow::Borrowed(NETWORK),
        HttpError::TooLarge { .. } => Cow::Borrowed(TOO_LARGE),
        HttpError::Redirect { .. } => Cow::Borrowed(REDIRECT),
        HttpError::BadUrl(_) => Cow::Borrowed(OTHER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_stay_within_a_fixed_set() {
        assert_eq!(vk(6), "6");
        assert_eq!(vk(987_654), OTHER);
        assert_eq!(ok(104), "104");
        assert_eq!(ok(-3), OTHER);
        assert_eq!(http_status(503), "http_503");
        assert_eq!(http_status(200), OTHER);
        assert_eq!(http_status(9999), OTHER);
        let timeout = HttpError::Timeout { url: "https://api.vk.com/method/wall.get".into() };
        assert_eq!(http(&timeout), TIMEOUT);
    }
}
