//! Durations and sizes as every config file writes them: `"250ms"`, `"30s"`, `"5m"`, `"2h"`,
//! `"7d"`; `"512KiB"`, `"4MiB"`, `"1GiB"` or a plain number of bytes. One parser for every
//! crate's config, so they all accept and reject the same spellings with the same hints.
//!
//! Also what every config's `validate()` shares: [`ConfigProblem`] (a field, what is wrong, a
//! hint) with range checks that name the allowed range, and [`read_capped`], so that no config
//! or secret file is read without a size limit (`/dev/zero` as a file name must not hang).

use serde::{Deserialize, Deserializer};
use std::io::Read;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

pub use otklik_model::ConfigProblem;

/// Adds a problem when `value` is outside `range`; the hint names the range as written in
/// config files.
pub fn check_duration(
    problems: &mut Vec<ConfigProblem>,
    field: &str,
    value: Duration,
    range: RangeInclusive<Duration>,
) {
    if !range.contains(&value) {
        let (lo, hi) = (format_duration(*range.start()), format_duration(*range.end()));
        problems.push(
            ConfigProblem::new(field, format!("{} is outside the allowed range", format_duration(value)))
                .with_hint(format!("allowed: {lo} ..= {hi}")),
        );
    }
}

/// [`check_duration`] for sizes in bytes.
pub fn check_size(problems: &mut Vec<ConfigProblem>, field: &str, value: usize, range: RangeInclusive<usize>) {
    if !range.contains(&value) {
        let (lo, hi) = (format_size(*range.start()), format_size(*range.end()));
        problems.push(
            ConfigProblem::new(field, format!("{} is outside the allowed range", format_size(value)))
                .with_hint(format!("allowed: {lo} ..= {hi}")),
        );
    }
}

/// [`check_duration`] for counts.
pub fn check_count(problems: &mut Vec<ConfigProblem>, field: &str, value: u64, range: RangeInclusive<u64>) {
    if !range.contains(&value) {
        let (lo, hi) = (range.start(), range.end());
        let problem = ConfigProblem::new(field, format!("{value} is outside the allowed range"));
        problems.push(problem.with_hint(format!("allowed: {lo} ..= {hi}")));
    }
}

/// A duration as config files write it, in the largest unit that shows it exactly.
pub fn format_duration(d: Duration) -> String {
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{d:?}");
    }
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let unit = [(86_400, "d"), (3600, "h"), (60, "m")].into_iter().find(|(u, _)| secs.is_multiple_of(*u));
    let (n, unit) = unit.map_or((secs, "s"), |(u, name)| (secs / u, name));
    format!("{n}{unit}")
}

/// A size as config files write it, in the largest binary unit that shows it exactly.
pub fn format_size(bytes: usize) -> String {
    let units = [(1usize << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match units.into_iter().find(|(u, _)| bytes >= *u && bytes.is_multiple_of(*u)) {
        Some((u, name)) => format!("{}{name}", bytes / u),
        None => format!("{bytes} bytes"),
    }
}

/// The most a secret file (a password, tokens) is read: a token file of thousands of tokens fits.
pub const SECRET_FILE_MAX_BYTES: usize = 64 << 10;

/// Why [`read_capped`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadCappedError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than {} (the limit for this file)", format_size(*.0))]
    TooLarge(usize),
    #[error("not UTF-8 text")]
    NotText,
}

/// Reads at most `max_bytes` of `path` as UTF-8 text: a larger file (or an endless one such as
/// `/dev/zero`) is an error as soon as the limit is passed, not a hang.
pub fn read_capped(path: &Path, max_bytes: usize) -> Result<String, ReadCappedError> {
    String::from_utf8(read_capped_bytes(path, max_bytes)?).map_err(|_| ReadCappedError::NotText)
}

/// [`read_capped`] for files that need not be text (saved network responses).
pub fn read_capped_bytes(path: &Path, max_bytes: usize) -> Result<Vec<u8>, ReadCappedError> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit).read_to_end(&mut bytes)?;
    if bytes.len() > max_bytes {
        return Err(ReadCappedError::TooLarge(max_bytes));
    }
    Ok(bytes)
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = || {
        format!("invalid duration {text:?}: write a number and a unit, e.g. \"250ms\", \"30s\", \"5m\", \"2h\", \"7d\"")
    };
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
    fn ranges_name_their_bounds() {
        let mut problems = Vec::new();
        let week = Duration::from_secs(7 * 86_400);
        check_duration(&mut problems, "poll_interval", Duration::ZERO, Duration::from_secs(1)..=week);
        check_duration(&mut problems, "ok", Duration::from_secs(60), Duration::ZERO..=Duration::from_secs(60));
        check_size(&mut problems, "batch_bytes", 3 << 30, 1 << 10..=1 << 30);
        check_count(&mut problems, "retries", 21, 0..=20);
        let shown: Vec<String> = problems.iter().map(|p| format!("{p} ({})", p.hint.as_ref().unwrap())).collect();
        assert_eq!(
            shown,
            [
                "poll_interval: 0s is outside the allowed range (allowed: 1s ..= 7d)",
                "batch_bytes: 3GiB is outside the allowed range (allowed: 1KiB ..= 1GiB)",
                "retries: 21 is outside the allowed range (allowed: 0 ..= 20)",
            ]
        );
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_size(1000), "1000 bytes");
    }

    #[test]
    fn read_capped_stops_at_the_limit() {
        let dir = std::env::temp_dir().join(format!("otklik-units-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.txt");
        std::fs::write(&file, "12345").unwrap();
        assert_eq!(read_capped(&file, 5).unwrap(), "12345");
        assert!(matches!(read_capped(&file, 4), Err(ReadCappedError::TooLarge(4))));
        std::fs::remove_dir_all(&dir).ok();
        if Path::new("/dev/zero").exists() {
            let err = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
            assert_eq!(err.to_string(), "larger than 1MiB (the limit for this file)");
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
