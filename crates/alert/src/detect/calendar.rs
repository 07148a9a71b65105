//! Spikes the administration knows about: heating-season starts and ends, planned outages, and
//! public holidays. Inside a period an alarm is `expected` (listed, not paged) and the period's
//! buckets stay out of the baseline; a holiday takes Sunday's hour-of-week profile.
//!
//! Files are `config/calendar/*.toml`, read with `deny_unknown_fields`:
//!
//! ```toml
//! holidays = ["2026-01-01", "2026-05-09"]          # local dates
//!
//! [[heating_season]]                                # topic heating; no municipalities = all
//! from = "2026-09-20T00:00:00Z"
//! to = "2026-10-20T00:00:00Z"
//! note = "начало отопительного сезона"
//!
//! [[outage]]
//! topic = "hot_water"
//! municipalities = ["56701000"]
//! from = "2026-06-01T06:00:00Z"
//! to = "2026-06-15T06:00:00Z"
//! note = "плановое отключение ГВС"
//! ```

use super::{Hour, SeriesKey};
use chrono::{DateTime, NaiveDate, Utc};
use otklik_model::Topic;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Reading a calendar failed; the file is named. Not retryable: the same file fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("{path}: period «{note}» ends before it starts")]
    Inverted { path: PathBuf, note: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    heating_season: Vec<SeasonEntry>,
    #[serde(default)]
    outage: Vec<OutageEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeasonEntry {
    #[serde(default)]
    municipalities: Vec<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageEntry {
    topic: Topic,
    #[serde(default)]
    municipalities: Vec<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    #[serde(default)]
    note: String,
}

/// A span of hours in which spikes of one topic (in some or all municipalities) are expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub topic: Topic,
    /// Empty: every municipality, and the region-wide series.
    pub municipalities: Vec<String>,
    /// Hours since the Unix epoch, `from` inclusive, `to` exclusive.
    pub from: Hour,
    pub to: Hour,
    pub note: String,
}

impl Period {
    fn covers(&self, series: &SeriesKey, hour: Hour) -> bool {
        let place = self.municipalities.is_empty()
            || series.municipality.as_ref().is_some_and(|m| self.municipalities.contains(m));
        self.topic == series.topic && place && (self.from..self.to).contains(&hour)
    }
}

/// Holidays and expected periods, merged from every calendar file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    pub holidays: HashSet<NaiveDate>,
    pub periods: Vec<Period>,
}

fn hour_of(t: DateTime<Utc>) -> Hour {
    t.timestamp().div_euclid(3600)
}

/// The first hour after `t` starts (an outage ending 06:30 covers the 06:00 bucket).
fn hour_after(t: DateTime<Utc>) -> Hour {
    (t.timestamp() + 3599).div_euclid(3600)
}

impl Calendar {
    /// Parses one file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Calendar, CalendarError> {
        let file: CalendarFile =
            toml::from_str(text).map_err(|source| CalendarError::Parse { path: path.to_owned(), source })?;
        let mut periods = Vec::new();
        let seasons = file.heating_season.into_iter().map(|s| (Topic::Heating, s.municipalities, s.from, s.to, s.note));
        let outages = file.outage.into_iter().map(|o| (o.topic, o.municipalities, o.from, o.to, o.note));
        for (topic, municipalities, from, to, note) in seasons.chain(outages) {
            if to < from {
                return Err(CalendarError::Inverted { path: path.to_owned(), note });
            }
            periods.push(Period { topic, municipalities, from: hour_of(from), to: hour_after(to), note });
        }
        Ok(Calendar { holidays: file.holidays.into_iter().collect(), periods })
    }

    /// Every `*.toml` in `dir`, in name order; a missing directory is an empty calendar.
    pub fn load_dir(dir: &Path) -> Result<Calendar, CalendarError> {
        let read = |path: &Path, source| CalendarError::Read { path: path.to_owned(), source };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Calendar::default()),
            Err(e) => return Err(read(dir, e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| read(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut calendar = Calendar::default();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| read(&path, e))?;
            let one = Calendar::parse(&text, &path)?;
            calendar.holidays.extend(one.holidays);
            calendar.periods.extend(one.periods);
        }
        Ok(calendar)
    }

    /// The note of the period that makes a spike of `series` at `hour` expected, if any.
    pub fn expected(&self, series: &SeriesKey, hour: Hour) -> Option<&str> {
        self.periods.iter().find(|p| p.covers(series, hour)).map(|p| p.note.as_str())
    }

    pub fn is_holiday(&self, local_date: NaiveDate) -> bool {
        self.holidays.contains(&local_date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(m: &str, topic: Topic) -> SeriesKey {
        SeriesKey { municipality: Some(m.into()), topic }
    }

    #[test]
    fn outages_cover_their_municipality_and_topic_only() {
        let text = r#"
            [[outage]]
            topic = "hot_water"
            municipalities = ["56701000"]
            from = "2026-06-01T06:00:00Z"
            to = "2026-06-01T08:30:00Z"
            note = "ГВС"
        "#;
        let cal = Calendar::parse(text, Path::new("t.toml")).unwrap();
        let h = hour_of("2026-06-01T06:00:00Z".parse().unwrap());
        assert_eq!(cal.expected(&key("56701000", Topic::HotWater), h), Some("ГВС"));
        assert_eq!(cal.expected(&key("56701000", Topic::HotWater), h + 2), Some("ГВС"), "08:00 bucket");
        assert_eq!(cal.expected(&key("56701000", Topic::HotWater), h + 3), None);
        assert_eq!(cal.expected(&key("56701000", Topic::HotWater), h - 1), None);
        assert_eq!(cal.expected(&key("56705000", Topic::HotWater), h), None);
        assert_eq!(cal.expected(&key("56701000", Topic::ColdWater), h), None);
    }

    #[test]
    fn heating_season_without_municipalities_covers_all() {
        let text = "holidays = [\"2026-11-04\"]\n[[heating_season]]\nfrom = \"2026-10-01T00:00:00Z\"\n\
                    to = \"2026-10-10T00:00:00Z\"\n";
        let cal = Calendar::parse(text, Path::new("t.toml")).unwrap();
        let h = hour_of("2026-10-03T12:00:00Z".parse().unwrap());
        assert!(cal.expected(&SeriesKey { municipality: None, topic: Topic::Heating }, h).is_some());
        assert!(cal.is_holiday(NaiveDate::from_ymd_opt(2026, 11, 4).unwrap()));
    }

    #[test]
    fn unknown_fields_and_inverted_periods_are_errors() {
        let err = Calendar::parse(
            "[[outage]]\ntopic = \"gas\"\nfrom = \"2026-01-01T00:00:00Z\"\n\
             to = \"2026-01-02T00:00:00Z\"\nwhen = 1\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("x.toml") && err.to_string().contains("when"), "{err}");
        let err = Calendar::parse(
            "[[outage]]\ntopic = \"gas\"\nfrom = \"2026-01-02T00:00:00Z\"\n\
             to = \"2026-01-01T00:00:00Z\"\n",
            Path::new("y.toml"),
        )
        .unwrap_err();
        assert!(matches!(err, CalendarError::Inverted { .. }));
    }

    #[test]
    fn the_shipped_penza_calendar_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/calendar");
        let cal = Calendar::load_dir(&dir).unwrap();
        assert!(!cal.periods.is_empty());
        assert!(cal.holidays.len() >= 10);
    }
}
