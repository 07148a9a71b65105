//! Silencing from the page: the form, the token check and the [`Silence`] it stores.

use chrono::{DateTime, TimeDelta, Utc};
use otklik_model::{Schema, Silence, Topic};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// What the silence form posts; a missing field is empty (and then refused with a reason).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SilenceForm {
    /// `{ОКТМО|region|*}:{topic|*}`.
    pub series: String,
    /// One of [`DURATIONS`]' keys.
    pub duration: String,
    pub reason: String,
    pub author: String,
    pub token: String,
}

/// The durations offered: form value, length, label.
pub const DURATIONS: &[(&str, TimeDelta, &str)] = &[
    ("1h", TimeDelta::hours(1), "1 час"),
    ("2h", TimeDelta::hours(2), "2 часа"),
    ("6h", TimeDelta::hours(6), "6 часов"),
    ("12h", TimeDelta::hours(12), "12 часов"),
    ("24h", TimeDelta::hours(24), "сутки"),
    ("72h", TimeDelta::hours(72), "3 суток"),
];

const REASON_MAX_CHARS: usize = 500;
const AUTHOR_MAX_CHARS: usize = 100;

/// Whether the page may silence, and with which token.
#[derive(Clone)]
pub enum Silencing {
    /// No token configured (`[serve] silence_token_env` / `silence_token_file`).
    NoToken,
    /// The page shows a past moment (`--at`): a silence set now would not show on it.
    PastPage,
    Enabled(Token),
}

/// The configured silence token; never printed.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: String) -> Token {
        Token(token)
    }

    /// Compares in constant time for tokens of the same length (only the length can leak).
    pub fn matches(&self, given: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Why a silence form is refused (shown to the duty officer, in Russian).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("серия должна быть вида «ОКТМО:тема» (например 56705000:heating), «region:тема» или с «*»")]
    Series,
    #[error("нельзя заглушить всё сразу («*:*»): укажите муниципалитет или тему")]
    Everything,
    #[error("срок не из списка")]
    Duration,
    #[error("укажите причину (до {REASON_MAX_CHARS} знаков)")]
    Reason,
    #[error("имя длиннее {AUTHOR_MAX_CHARS} знаков")]
    Author,
}

/// The silence the form asks for, starting at `now`.
pub fn build(form: &SilenceForm, now: DateTime<Utc>) -> Result<Silence, FormError> {
    let series = form.series.trim();
    check_series(series)?;
    let length = DURATIONS.iter().find(|(key, _, _)| *key == form.duration).ok_or(FormError::Duration)?.1;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS || reason.chars().any(char::is_control) {
        return Err(FormError::Reason);
    }
    let author = form.author.trim();
    if author.chars().count() > AUTHOR_MAX_CHARS || author.chars().any(char::is_control) {
        return Err(FormError::Author);
    }
    Ok(Silence {
        schema: Schema,
        id: format!("web:{series}:{}", now.format("%Y%m%dT%H%M%S")),
        series: series.to_owned(),
        starts_at: now,
        ends_at: now + length,
        reason: reason.to_owned(),
        created_by: if author.is_empty() { "page".to_owned() } else { author.to_owned() },
    })
}

fn check_series(series: &str) -> Result<(), FormError> {
    let (place, topic) = series.split_once(':').ok_or(FormError::Series)?;
    let place_ok = place == "*" || place == "region" || (place.len() == 8 && place.bytes().all(|b| b.is_ascii_digit()));
    if !place_ok || !(topic == "*" || topic.parse::<Topic>().is_ok()) {
        return Err(FormError::Series);
    }
    if place == "*" && topic == "*" {
        return Err(FormError::Everything);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn form(series: &str) -> SilenceForm {
        let reason = "авария известна".into();
        SilenceForm { series: series.into(), duration: "6h".into(), reason, ..Default::default() }
    }

    #[test]
    fn a_valid_form_makes_a_silence_from_now() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
        let silence = build(&form(" 56705000:heating "), now).unwrap();
        assert_eq!(silence.series, "56705000:heating");
        assert_eq!(silence.ends_at - silence.starts_at, TimeDelta::hours(6));
        assert_eq!(silence.created_by, "page");
        assert!(silence.active(now));
        assert!(build(&form("region:*"), now).is_ok());
        assert!(build(&form("*:heating"), now).is_ok());
    }

    #[test]
    fn bad_forms_are_refused_with_a_reason() {
        let now = Utc::now();
        for series in ["", "56705000", "5670500:heating", "56705000:warmth", "<b>:heating"] {
            assert_eq!(build(&form(series), now), Err(FormError::Series), "{series}");
        }
        assert_eq!(build(&form("*:*"), now), Err(FormError::Everything));
        let forever = SilenceForm { duration: "100y".into(), ..form("region:gas") };
        assert_eq!(build(&forever, now), Err(FormError::Duration));
        assert_eq!(build(&SilenceForm { reason: " ".into(), ..form("region:gas") }, now), Err(FormError::Reason));
        let long = "я".repeat(101);
        assert_eq!(build(&SilenceForm { author: long, ..form("region:gas") }, now), Err(FormError::Author));
    }

    #[test]
    fn the_token_matches_only_itself_and_never_prints() {
        let token = Token::new("s3cret-token-of-the-shift".into());
        assert!(token.matches("s3cret-token-of-the-shift"));
        assert!(!token.matches("s3cret-token-of-the-shifT"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "Token(***)");
    }
}
