//! The pure spike detector: fed `(series, hour, count)` and a clock, it returns alert events.
//! No I/O and no wall clock; a replay of last winter's counts gives last winter's alerts.
//!
//! Each evaluation looks at windows of 1, 3 and 24 hours ending at the current hour (and, once,
//! at the hour just completed). With at least 3 days of history a window fires when
//! P(X ≥ x) < α under NB(μ, φ) and the [`rules::passes_guards`] hold; with less it uses EARS C2;
//! an NB CUSUM on complete hours catches slow rises; plain thresholds fire regardless. The most
//! significant detection drives the series' [`lifecycle::Lifecycle`].

pub mod baseline;
pub mod calendar;
pub mod cusum;
pub mod ears;
pub mod lifecycle;
pub mod rules;
pub mod tails;

mod series;

pub use series::HELD_HOURS;

use baseline::{FitConfig, Profile, ProfileAccumulator, WINDOWS};
use calendar::Calendar;
use chrono::{DateTime, NaiveDate, Utc};
use lifecycle::{EventKind, LifecycleConfig, Severity};
use otklik_model::{Alert, Schema, Topic};
use rules::ThresholdRule;
use serde::{Deserialize, Serialize};
use series::SeriesState;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use lifecycle::Lifecycle;

/// Hours since the Unix epoch (UTC): the bucket of a post's `published_at`.
pub type Hour = i64;

/// The bucket of a timestamp.
pub fn hour_of(t: DateTime<Utc>) -> Hour {
    t.timestamp().div_euclid(3600)
}

fn hour_start(hour: Hour) -> DateTime<Utc> {
    DateTime::from_timestamp(hour * 3600, 0).unwrap_or_default()
}

/// A series: one topic in one municipality, or in the whole region (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    pub municipality: Option<String>,
    pub topic: Topic,
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.municipality.as_deref().unwrap_or("region"), self.topic)
    }
}

/// The detector's tunables; defaults are the values calibrated on `otklik alerts bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Tail probability below which a window fires.
    pub alpha: f64,
    /// The NB CUSUM's decision threshold.
    pub cusum_threshold: f64,
    /// Local time offset of the region (hours), for the hour-of-week profile and holidays.
    pub utc_offset_hours: i64,
    /// Below this much history a series is judged by EARS C2.
    pub cold_start_hours: i64,
    /// The baseline is refitted this often (staggered across series).
    pub refit_every_hours: i64,
    pub fit: FitConfig,
    pub lifecycle: LifecycleConfig,
    pub thresholds: Vec<ThresholdRule>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            alpha: 1e-5,
            cusum_threshold: 16.0,
            utc_offset_hours: 3,
            cold_start_hours: 72,
            refit_every_hours: 24,
            fit: FitConfig::default(),
            lifecycle: LifecycleConfig::default(),
            thresholds: Vec::new(),
        }
    }
}

/// Which test fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Baseline,
    Ears,
    Cusum,
    Threshold,
}

/// One window that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub method: Method,
    /// The window's last hour (inclusive) and length.
    pub window_end: Hour,
    pub window_hours: u32,
    pub observed: u64,
    pub expected: f64,
    pub phi: f64,
    pub p_value: f64,
    /// The calendar note when the spike is expected (listed, not paged).
    pub expected_note: Option<String>,
}

impl Detection {
    pub fn severity(&self) -> Severity {
        Severity::of(self.p_value, self.observed, self.expected)
    }
}

/// What the detector tells the alert stage.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub kind: EventKind,
    /// Stable across restarts and reopenings: `{series}:{opening bucket, YYYYMMDDTHH}`.
    pub id: String,
    pub series: SeriesKey,
    /// The detection behind the event (for `Resolved`, none).
    pub detection: Option<Detection>,
    pub severity: Severity,
    /// The smallest count that would have fired the window.
    pub upper_bound: Option<u64>,
    pub raised_at: DateTime<Utc>,
}

impl AlertEvent {
    /// The wire form of an opening or update. Incidents and voices are the alert stage's to fill
    /// in; a `Resolved` event has no detection and is told as the last alert, resolved.
    pub fn to_alert(&self, municipality_name: &str) -> Option<Alert> {
        let d = self.detection.as_ref()?;
        Some(Alert {
            schema: Schema,
            id: self.id.clone(),
            kind: otklik_model::AlertKind::Spike,
            state: self.kind.state(),
            severity: self.severity.into(),
            method: d.method.as_str().to_owned(),
            expected_note: d.expected_note.clone(),
            municipality: self.series.municipality.clone(),
            municipality_name: municipality_name.to_owned(),
            topic: self.series.topic,
            window_start: hour_start(d.window_end + 1 - d.window_hours as i64),
            window_end: hour_start(d.window_end + 1),
            observed: d.observed,
            expected: d.expected,
            upper_bound: self.upper_bound,
            p_value: d.p_value,
            incidents: 0,
            voices: 0,
            top_incidents: Vec::new(),
            raised_at: self.raised_at,
            overdue: None,
        })
    }
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Baseline => "baseline",
            Method::Ears => "ears",
            Method::Cusum => "cusum",
            Method::Threshold => "threshold",
        }
    }
}

/// An open alert as the alert stage stored it, to restore after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub series: SeriesKey,
    pub lifecycle: Lifecycle,
}

/// Counters for the benchmark's effective α.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Baseline window tests, and those with P(X ≥ x) < α (guards not applied).
    pub tests: u64,
    pub below_alpha: u64,
}

/// Per-series state for every series it has seen, the topics' profiles and the calendar.
#[derive(Debug, Clone)]
pub struct Detector {
    config: Arc<DetectorConfig>,
    calendar: Arc<Calendar>,
    profiles: HashMap<Topic, Arc<Profile>>,
    series: Vec<SeriesState>,
    index: HashMap<SeriesKey, usize>,
    pub stats: Stats,
}

impl Detector {
    pub fn new(config: DetectorConfig, calendar: Calendar) -> Detector {
        Detector {
            config: Arc::new(config),
            calendar: Arc::new(calendar),
            profiles: HashMap::new(),
            series: Vec::new(),
            index: HashMap::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Sets a topic's pooled hour-of-week profile (flat until set or fitted).
    pub fn set_profile(&mut self, topic: Topic, profile: Profile) {
        self.profiles.insert(topic, Arc::new(profile));
    }

    /// Declares a series whose history starts at `first` (zeros until counts arrive).
    pub fn add_series(&mut self, key: SeriesKey, first: Hour) -> usize {
        if let Some(&i) = self.index.get(&key) {
            self.series[i].first = self.series[i].first.min(first);
            return i;
        }
        let i = self.series.len();
        self.series.push(SeriesState::new(key.clone(), first, i as i64));
        self.index.insert(key, i);
        i
    }

    /// Sets the count of one hourly bucket (a later value replaces an earlier one: late posts
    /// land in the bucket of their `published_at`).
    pub fn observe(&mut self, key: &SeriesKey, hour: Hour, count: u32) {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => self.add_series(key.clone(), hour),
        };
        self.series[i].set(hour, count);
    }

    /// Adds `n` to one hourly bucket (one more voice in the hour of its `published_at`).
    pub fn add(&mut self, key: &SeriesKey, hour: Hour, n: u32) {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => self.add_series(key.clone(), hour),
        };
        let count = self.series[i].count(hour) as u32;
        self.series[i].set(hour, count.saturating_add(n));
    }

    /// Pools every series' held counts into one profile per topic.
    pub fn fit_profiles(&mut self) {
        let mut acc: HashMap<Topic, ProfileAccumulator> = HashMap::new();
        for s in &self.series {
            let a = acc.entry(s.key.topic).or_default();
            for (hour, count) in s.held() {
                a.add(self.hour_of_week(hour), count as u64);
            }
        }
        for (topic, a) in acc {
            self.set_profile(topic, a.profile());
        }
    }

    /// Day × 24 + hour in local time (Monday 0); a public holiday is a Sunday.
    pub fn hour_of_week(&self, hour: Hour) -> usize {
        hour_of_week(hour, self.config.utc_offset_hours, &self.calendar)
    }

    /// Every held count, for export; [`Detector::rebuild`] takes them back.
    pub fn export_counts(&self) -> Vec<(SeriesKey, Hour, u32)> {
        let mut out = Vec::new();
        for s in &self.series {
            out.extend(s.held().filter(|&(_, c)| c > 0).map(|(h, c)| (s.key.clone(), h, c)));
        }
        out
    }

    /// Every alert that is not idle, for the alert stage to store.
    pub fn open_alerts(&self) -> Vec<OpenAlert> {
        let busy = self.series.iter().filter(|s| s.lifecycle.phase != lifecycle::Phase::Idle);
        busy.map(|s| OpenAlert { series: s.key.clone(), lifecycle: s.lifecycle.clone() }).collect()
    }

    /// State after a restart: the hourly counts (from ClickHouse or the local store) and the
    /// alerts already sent, so that nothing is forgotten and nothing is sent twice.
    pub fn rebuild(
        config: DetectorConfig,
        calendar: Calendar,
        first: Hour,
        counts: impl IntoIterator<Item = (SeriesKey, Hour, u32)>,
        open: &[OpenAlert],
    ) -> Detector {
        let mut d = Detector::new(config, calendar);
        for (key, hour, count) in counts {
            d.add_series(key.clone(), first);
            d.observe(&key, hour, count);
        }
        for alert in open {
            let i = d.add_series(alert.series.clone(), first);
            d.series[i].lifecycle = alert.lifecycle.clone();
        }
        d.fit_profiles();
        d
    }

    /// Evaluates every series at `now`.
    pub fn evaluate(&mut self, now: DateTime<Utc>) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for i in 0..self.series.len() {
            if let Some(e) = self.evaluate_one(i, now) {
                events.push(e);
            }
        }
        events
    }

    /// Evaluates one series at `now` (the bench drives series one by one).
    pub fn evaluate_series(&mut self, key: &SeriesKey, now: DateTime<Utc>) -> Option<AlertEvent> {
        let i = *self.index.get(key)?;
        self.evaluate_one(i, now)
    }

    /// The last detection of a series at its last evaluation (whether or not it changed the
    /// lifecycle): the bench's probe for detection delay.
    pub fn last_detection(&self, key: &SeriesKey) -> Option<&Detection> {
        self.index.get(key).and_then(|&i| self.series[i].last_detection.as_ref())
    }

    fn evaluate_one(&mut self, i: usize, now: DateTime<Utc>) -> Option<AlertEvent> {
        let now_s = now.timestamp();
        let now_hour = now_s.div_euclid(3600);
        // The last second of an hour sees it complete.
        let complete_through = if now_s.rem_euclid(3600) == 3599 { now_hour } else { now_hour - 1 };
        let ctx = Ctx { detector_config: &self.config, calendar: &self.calendar, profiles: &self.profiles };
        let s = &mut self.series[i];
        s.advance(now_hour);
        s.maybe_refit(now_hour, &ctx);
        let mut best = s.run_cusum(complete_through, &ctx);
        if s.evaluated_through < complete_through {
            best = better(best, s.windows(complete_through, &ctx, &mut self.stats));
            s.evaluated_through = complete_through;
        }
        if complete_through < now_hour {
            best = better(best, s.windows(now_hour, &ctx, &mut self.stats));
        }
        s.last_detection = best.clone();
        let fire = best.as_ref().map(|d| lifecycle::Fire { observed: d.observed, severity: d.severity() });
        let key = s.key.clone();
        let id_hour = best.as_ref().map_or(now_hour, |d| d.window_end);
        let new_id = || format!("{key}:{}", hour_start(id_hour).format("%Y%m%dT%H"));
        let kind = s.lifecycle.step(now_s, fire, new_id, &self.config.lifecycle)?;
        let upper_bound = best.as_ref().map(|d| tails::upper_bound(d.expected, d.phi, self.config.alpha));
        let severity = best.as_ref().map_or(s.lifecycle.reported_severity, Detection::severity);
        let detection = if kind == EventKind::Resolved { None } else { best };
        let (id, series) = (s.lifecycle.id.clone(), s.key.clone());
        Some(AlertEvent { kind, id, series, detection, severity, upper_bound, raised_at: now })
    }
}

/// What a series needs from its detector while evaluating.
pub(crate) struct Ctx<'a> {
    pub detector_config: &'a DetectorConfig,
    pub calendar: &'a Calendar,
    pub profiles: &'a HashMap<Topic, Arc<Profile>>,
}

impl Ctx<'_> {
    pub fn weight(&self, key: &SeriesKey, hour: Hour) -> f64 {
        self.weight_in(self.profiles.get(&key.topic).map(|p| &**p), key, hour)
    }

    /// [`Ctx::weight`] with the topic's profile looked up once by the caller.
    pub fn weight_in(&self, profile: Option<&Profile>, key: &SeriesKey, hour: Hour) -> f64 {
        if !self.calendar.periods.is_empty() && self.calendar.expected(key, hour).is_some() {
            return 0.0;
        }
        let how = hour_of_week(hour, self.detector_config.utc_offset_hours, self.calendar);
        profile.map_or(1.0, |p| p.weight(how))
    }
}

fn better(a: Option<Detection>, b: Option<Detection>) -> Option<Detection> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.p_value < a.p_value { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Day × 24 + hour in local time (Monday 0); a public holiday is a Sunday.
pub fn hour_of_week(hour: Hour, utc_offset_hours: i64, calendar: &Calendar) -> usize {
    let local = hour + utc_offset_hours;
    let day = local.div_euclid(24);
    let mut dow = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday
    if !calendar.holidays.is_empty() {
        let date = NaiveDate::from_num_days_from_ce_opt(day as i32 + 719_163);
        if date.is_some_and(|d| calendar.is_holiday(d)) {
            dow = 6;
        }
    }
    (dow * 24 + local.rem_euclid(24)) as usize
}

/// The windows a series is evaluated over.
pub const WINDOW_HOURS: [u32; 3] = WINDOWS;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hour(y: i32, m: u32, d: u32, h: u32) -> Hour {
        hour_of(Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap())
    }

    #[test]
    fn hour_of_week_is_local_monday_based_and_holidays_are_sundays() {
        let none = Calendar::default();
        assert_eq!(hour_of_week(hour(2024, 1, 1, 0), 0, &none), 0, "2024-01-01 was a Monday");
        // 23:00 UTC on Sunday is 02:00 on Monday in Penza (UTC+3).
        assert_eq!(hour_of_week(hour(2026, 11, 1, 23), 3, &none), 2);
        let cal = Calendar::parse("holidays = [\"2026-11-04\"]", std::path::Path::new("h.toml")).unwrap();
        // Wednesday 4 November, 10:00 local, takes Sunday's 10:00.
        assert_eq!(hour_of_week(hour(2026, 11, 4, 7), 3, &cal), 6 * 24 + 10);
        assert_eq!(hour_of_week(hour(2026, 11, 5, 7), 3, &cal), 3 * 24 + 10);
    }
}
