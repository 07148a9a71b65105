//! Durations and sizes as every config file writes them: `"250ms"`, `"30s"`, `"5m"`, `"2h"`,
//! `"7d"`; `"512KiB"`, `"4MiB"`, `"1GiB"` or a plain number of bytes. One parser for every
//! crate's config, so they all accept and reject the same spellings with the same hints.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses `250ms`, `30s`, `5m`, `2h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = || format!("invalid duration {text:?}: write a number and a unit, e.g. \"250ms\", \"30s\", \"5m\", \"2h\", \"7d\"");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(hint)?;
    let n: u64 = t[..split].parse().map_err(|_| hint())?;
    let unit_secs = match t[split..].trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(hint()),
    };
    n.checked_mul(unit_secs).map(Duration::from_secs).ok_or_else(hint)
}

/// Parses `512KiB`, `4MiB`, `1GiB`, or a plain number of bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let hint = || format!("invalid size {text:?}: write e.g. \"512KiB\", \"4MiB\", \"1GiB\" or a number of bytes");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: usize = t[..split].parse().map_err(|_| hint())?;
    let scale: usize = match t[split..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(hint()),
    };
    n.checked_mul(scale).ok_or_else(hint)
}

/// `#[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]`
pub fn deserialize_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// `#[serde(deserialize_with = "otklik_pipeline::units::deserialize_size")]`: a size string or
/// a plain number of bytes.
pub fn deserialize_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => usize::try_from(n).map_err(serde::de::Error::custom),
        Size::Text(text) => parse_size(&text).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("48h").unwrap(), Duration::from_secs(48 * 3600));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        for bad in ["", "5", "m", "5 minutes", "-1s", "1.5s", "5x", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4MiB").unwrap(), 4 << 20);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        for bad in ["", "4MB", "x", "1.5GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
