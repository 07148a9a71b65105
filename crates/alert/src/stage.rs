//! The alert stage's state, pure: classified posts in, linked posts and alert events out, time
//! given by the caller. The wirings (embedded over the local store, production over the series
//! topic) feed it and publish what it returns; a backtest drives the same code.
//!
//! - [`AlertCore::link`] links a post into its incident ([`crate::incident`]), counts its voice in
//!   the hourly buckets of its `published_at` (municipality × topic and region × topic: every
//!   topic of the post, as `complaints_hourly` counts it) and keeps a summary of its incident.
//! - [`AlertCore::advance`] moves the detector's clock to a time, evaluating every series at each
//!   [`StageConfig::evaluate_every`] boundary on the way, and returns the alerts raised — each
//!   with its incidents, voices and top five incidents.
//! - With [`AlertCore::with_overdue`], each linked post also feeds an
//!   `otklik_respond::OverdueTracker`, checked at the same boundaries: its `overdue` alerts (an
//!   organisation's complaints unanswered past their deadline) come out of `advance` with the
//!   spikes.
//! - [`AlertCore::restore`] rebuilds the state after a restart from what was stored (linked posts
//!   of the last 72 h, hourly voices of 8 weeks, the latest event of each alert), then replays
//!   the last two days of evaluations silently so that an open alert keeps its id and lifecycle
//!   and nothing already sent is sent again.

use crate::detect::calendar::Calendar;
use crate::detect::{hour_of, AlertEvent, Detector, DetectorConfig, Hour, SeriesKey};
use crate::incident::{Link, LinkConfig, LinkPost, Linker, PostFeatures};
use chrono::{DateTime, Duration, DurationRound, Utc};
use otklik_classify::gazetteer::Gazetteer;
use otklik_model::{Alert, AlertIncident, AlertState, ClassifiedPost, ItemKind, PostUid, Topic};
use otklik_respond::OverdueTracker;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Top incidents an alert carries.
const TOP_INCIDENTS: usize = 5;
/// Characters of a first post's text kept as an incident's excerpt.
const EXCERPT_CHARS: usize = 160;
/// How far back a restore replays evaluations silently: the lifecycle's 48 h cap and its 6 h
/// reopening window, so an alert open before the restart is found open again, with its id.
const SILENT_REPLAY: Duration = Duration::hours(56);
/// The name of the region-wide series in alerts.
pub const REGION_NAME: &str = "вся область";

/// The stage's parameters.
#[derive(Debug, Clone)]
pub struct StageConfig {
    pub link: LinkConfig,
    pub detector: DetectorConfig,
    /// Series are evaluated at every multiple of this.
    pub evaluate_every: Duration,
    /// When the clock is further behind than this, it jumps (silently) to this long before the
    /// time it is advanced to: a live stage started on weeks of backfilled posts does not page for
    /// spikes long past. `None` replays every boundary (a replay or backtest).
    pub max_catch_up: Option<Duration>,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig {
            link: LinkConfig::default(),
            detector: DetectorConfig::default(),
            evaluate_every: Duration::minutes(15),
            max_catch_up: Some(Duration::hours(72)),
        }
    }
}

/// One incident as the duty officer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    /// The uid of the first post.
    pub id: String,
    pub url: String,
    pub excerpt: String,
    pub municipality: Option<String>,
    pub topic: Option<Topic>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub posts: u64,
    /// (published_at seconds, topic) of each voice, one entry per topic of a voice post.
    voice_marks: Vec<(i64, Topic)>,
    pub voices: u64,
}

/// A post read back from the store, already linked.
#[derive(Debug, Clone)]
pub struct RestoredPost {
    pub post: LinkPost,
    pub link: Link,
    pub url: String,
    pub text: String,
    pub municipality_name: String,
}

/// What a restart reads back.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// Linked posts of the last 72 h, oldest first.
    pub posts: Vec<RestoredPost>,
    /// Voices per series and hour: 8 weeks.
    pub hourly: Vec<(SeriesKey, Hour, u32)>,
    /// Where the stored history starts (the hour `hourly` was read from): a series with its
    /// first voice later still has zeros since then.
    pub history_from: Option<Hour>,
    /// The latest event of each alert.
    pub alerts: Vec<Alert>,
    /// Complaints and comments of the overdue tracker's window (stored rows).
    pub replies: Vec<otklik_respond::Item>,
}

/// The stage's whole state.
pub struct AlertCore {
    config: StageConfig,
    linker: Linker,
    detector: Detector,
    gazetteer: Option<Arc<Gazetteer>>,
    /// Source id → the source is an administration's or official body's feed.
    official: HashMap<String, bool>,
    incidents: HashMap<String, IncidentSummary>,
    /// ОКТМО → name, as the classifier named it.
    names: HashMap<String, String>,
    /// The last boundary evaluated.
    clock: Option<DateTime<Utc>>,
    /// The oldest and newest `published_at` linked or restored.
    earliest: Option<DateTime<Utc>>,
    watermark: Option<DateTime<Utc>>,
    /// The last event sent per series: a resolution repeats it, resolved.
    last: HashMap<SeriesKey, Alert>,
    /// Events stored before a restart (id → state, observed): not sent again.
    sent: HashMap<String, (AlertState, u64)>,
    last_profile_day: i64,
    /// Voices published after the clock, counted when the clock passes them: at a boundary the
    /// detector sees exactly the posts published before it, live or replayed.
    ahead: BTreeMap<(i64, u64), Vec<SeriesKey>>,
    ahead_seq: u64,
    overdue: Option<OverdueTracker>,
}

impl AlertCore {
    pub fn new(
        config: StageConfig,
        calendar: Calendar,
        gazetteer: Option<Arc<Gazetteer>>,
        official: HashMap<String, bool>,
    ) -> Self {
        AlertCore {
            linker: Linker::new(config.link.clone()),
            detector: Detector::new(config.detector.clone(), calendar),
            config,
            gazetteer,
            official,
            incidents: HashMap::new(),
            names: HashMap::new(),
            clock: None,
            earliest: None,
            watermark: None,
            last: HashMap::new(),
            sent: HashMap::new(),
            last_profile_day: i64::MIN,
            ahead: BTreeMap::new(),
            ahead_seq: 0,
            overdue: None,
        }
    }

    /// Reads places with `gazetteer` and takes `official` as the sources' standing from now on
    /// (a config reload); posts already linked keep the features they were linked with.
    pub fn set_places(&mut self, gazetteer: Option<Arc<Gazetteer>>, official: HashMap<String, bool>) {
        self.gazetteer = gazetteer;
        self.official = official;
    }

    /// Also pages organisations whose complaints stay unanswered past their deadline.
    pub fn with_overdue(mut self, tracker: OverdueTracker) -> Self {
        self.overdue = Some(tracker);
        self
    }

    /// The overdue alerts open now, by organisation.
    pub fn open_overdue(&self) -> Vec<&Alert> {
        self.overdue.iter().flat_map(OverdueTracker::open).collect()
    }

    /// How long linked posts stay in the window: what a restart must read back.
    pub fn link_window(&self) -> Duration {
        self.config.link.window
    }

    /// The oldest `published_at` seen.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.earliest
    }

    /// The newest `published_at` seen.
    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.watermark
    }

    /// The last evaluated boundary.
    pub fn clock(&self) -> Option<DateTime<Utc>> {
        self.clock
    }

    /// What linking needs of a text (for posts read back from the store).
    pub fn features(&self, text: &str) -> PostFeatures {
        PostFeatures::of(text, self.gazetteer.as_deref())
    }

    /// Incidents in the window (those with a post within `link.window` of the watermark).
    pub fn incidents(&self) -> impl Iterator<Item = &IncidentSummary> {
        self.incidents.values()
    }

    /// The latest event of each series, restored or raised: an alert whose latest event is not
    /// `resolved` is open.
    pub fn latest_events(&self) -> impl Iterator<Item = &Alert> {
        self.last.values()
    }

    /// Links one post and counts its voice; returns it with `copy_of`, `incident_id`, `is_voice`.
    pub fn link(&mut self, mut post: ClassifiedPost) -> ClassifiedPost {
        let features = PostFeatures::of(&post.post.text, self.gazetteer.as_deref());
        // A resident's comment under an administration's post is not the administration speaking.
        let official_source = self.official.get(&post.post.source_id).copied().unwrap_or(false);
        let official = official_source && (post.post.item_kind == ItemKind::Post || post.post.author.is_source);
        let link_post = LinkPost::from_classified(&post, official, features);
        if let Some(tracker) = &mut self.overdue {
            tracker.add(otklik_respond::Item::from(&post));
        }
        // A redelivered post gets its earlier link back and is not counted twice.
        let redelivered = self.linker.contains(&link_post.uid);
        let link = self.linker.link(&link_post);
        if let Some(m) = &post.classification.municipality {
            self.names.entry(m.oktmo.clone()).or_insert_with(|| m.name.clone());
        }
        if !redelivered {
            let url = post.post.url.clone().unwrap_or_default();
            self.note(&link_post, &link, &url, &post.post.text, true);
        }
        post.copy_of = link.copy_of.as_deref().and_then(|u| u.parse::<PostUid>().ok());
        post.incident_id = link.incident_id.parse::<PostUid>().ok();
        post.is_voice = Some(link.is_voice);
        post
    }

    /// Rebuilds the state from what a run stored, then replays the evaluations of the last
    /// [`SILENT_REPLAY`] before the newest post without sending anything.
    pub fn restore(&mut self, restore: Restore) {
        for alert in restore.alerts.iter().filter(|a| a.kind.is_spike()) {
            self.sent.insert(alert.id.clone(), (alert.state, alert.observed));
            if let Some(m) = &alert.municipality {
                self.names.entry(m.clone()).or_insert_with(|| alert.municipality_name.clone());
            }
            let key = SeriesKey { municipality: alert.municipality.clone(), topic: alert.topic };
            self.last.insert(key, alert.clone());
        }
        self.load_history(&restore);
        if let Some(watermark) = self.watermark {
            self.clock = Some(self.floor(watermark - SILENT_REPLAY));
            let quiet = self.config.max_catch_up.take();
            // Without the overdue tracker: it resumes from the stored open alerts instead.
            let overdue = self.overdue.take();
            self.advance(watermark);
            self.overdue = overdue;
            self.config.max_catch_up = quiet;
        }
        if let Some(tracker) = &mut self.overdue {
            tracker.restore(restore.replies, &restore.alerts);
        }
    }

    /// Loads stored posts and hourly voices without evaluating anything (a backtest then sets
    /// the clock with [`AlertCore::start_clock`] and advances through its range).
    pub fn load_history(&mut self, restore: &Restore) {
        for r in &restore.posts {
            if self.linker.contains(&r.post.uid) {
                continue;
            }
            if let Some(m) = &r.post.municipality {
                self.names.entry(m.clone()).or_insert_with(|| r.municipality_name.clone());
            }
            self.linker.restore(&r.post, &r.link);
            self.note(&r.post, &r.link, &r.url, &r.text, false);
        }
        if let Some(from) = restore.history_from.filter(|_| !restore.hourly.is_empty()) {
            self.see_time(hour_start(from));
        }
        for (key, hour, count) in &restore.hourly {
            self.see_time(hour_start(*hour));
            self.detector.add_series(key.clone(), restore.history_from.unwrap_or(*hour).min(*hour));
            self.detector.observe(key, *hour, *count);
        }
    }

    /// Sets the clock: the next evaluation is the first boundary after `at`.
    pub fn start_clock(&mut self, at: DateTime<Utc>) {
        self.clock = Some(self.floor(at));
    }

    /// Evaluates every boundary after the clock up to `to` and returns the alert events.
    pub fn advance(&mut self, to: DateTime<Utc>) -> Vec<Alert> {
        let Some(earliest) = self.earliest else { return Vec::new() };
        let every = self.config.evaluate_every;
        let mut clock = self.clock.unwrap_or_else(|| self.floor(earliest) - every);
        if let Some(limit) = self.config.max_catch_up {
            if to - clock > limit {
                clock = self.floor(to - limit);
            }
        }
        let mut alerts = Vec::new();
        while clock + every <= to {
            clock += every;
            self.count_ahead_before(clock);
            self.refit_profiles_daily(clock);
            for event in self.detector.evaluate(clock) {
                alerts.extend(self.told(event));
            }
            if let Some(mut tracker) = self.overdue.take() {
                alerts.extend(tracker.check(clock, |m| self.name_of(Some(m))));
                self.overdue = Some(tracker);
            }
        }
        self.clock = Some(clock);
        if let Some(w) = self.watermark {
            let horizon = w - self.config.link.window;
            self.incidents.retain(|_, i| i.last_seen >= horizon);
        }
        alerts
    }

    /// Counts the voices published before `t` (a post published at a boundary reaches a live
    /// stage after the boundary was evaluated).
    fn count_ahead_before(&mut self, t: DateTime<Utc>) {
        let later = self.ahead.split_off(&(t.timestamp(), 0));
        for ((at, _), keys) in std::mem::replace(&mut self.ahead, later) {
            let hour = at.div_euclid(3600);
            keys.iter().for_each(|key| self.detector.add(key, hour, 1));
        }
    }

    fn floor(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t.duration_trunc(self.config.evaluate_every).unwrap_or(t)
    }

    fn see_time(&mut self, t: DateTime<Utc>) {
        self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
        self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
    }

    /// The pooled hour-of-week profiles follow the data: refitted once a day of the clock.
    fn refit_profiles_daily(&mut self, clock: DateTime<Utc>) {
        let day = clock.timestamp().div_euclid(86_400);
        if day != self.last_profile_day {
            self.last_profile_day = day;
            self.detector.fit_profiles();
        }
    }

    /// Records a linked post in its incident's summary; `count` adds its voice to the buckets.
    fn note(&mut self, post: &LinkPost, link: &Link, url: &str, text: &str, count: bool) {
        self.see_time(post.published_at);
        let hour = hour_of(post.published_at);
        let counts_as_voice = link.is_voice && post.kind.counts_for_alerts();
        if count && counts_as_voice {
            let origin = hour_of(self.earliest.unwrap_or(post.published_at));
            let mut keys = Vec::with_capacity(2 * post.topics.len());
            for &topic in &post.topics {
                keys.extend(post.municipality.iter().map(|m| SeriesKey { municipality: Some(m.clone()), topic }));
                keys.push(SeriesKey { municipality: None, topic });
            }
            keys.iter().for_each(|key| _ = self.detector.add_series(key.clone(), origin));
            match self.clock {
                Some(clock) if post.published_at <= clock => {
                    keys.iter().for_each(|key| self.detector.add(key, hour, 1))
                }
                _ => {
                    self.ahead_seq += 1;
                    self.ahead.insert((post.published_at.timestamp(), self.ahead_seq), keys);
                }
            }
        }
        let summary = self.incidents.entry(link.incident_id.clone()).or_insert_with(|| IncidentSummary {
            id: link.incident_id.clone(),
            url: url.to_owned(),
            excerpt: excerpt(text),
            municipality: post.municipality.clone(),
            topic: post.topics.first().copied(),
            first_seen: post.published_at,
            last_seen: post.published_at,
            posts: 0,
            voice_marks: Vec::new(),
            voices: 0,
        });
        summary.posts += 1;
        summary.first_seen = summary.first_seen.min(post.published_at);
        summary.last_seen = summary.last_seen.max(post.published_at);
        summary.topic = summary.topic.or(post.topics.first().copied());
        if summary.municipality.is_none() {
            summary.municipality.clone_from(&post.municipality);
        }
        if link.is_voice {
            summary.voices += 1;
        }
        if counts_as_voice {
            let at = post.published_at.timestamp();
            summary.voice_marks.extend(post.topics.iter().map(|&t| (at, t)));
        }
    }

    /// The wire form of a detector event, with its incidents; `None` when it was sent before
    /// the restart.
    fn told(&mut self, event: AlertEvent) -> Option<Alert> {
        let name = self.name_of(event.series.municipality.as_deref());
        let mut alert = match event.to_alert(&name) {
            Some(alert) => alert,
            None => {
                let mut last = self.last.get(&event.series)?.clone();
                last.state = AlertState::Resolved;
                last.raised_at = event.raised_at;
                last
            }
        };
        if alert.state != AlertState::Resolved {
            self.fill_incidents(&mut alert);
        }
        self.last.insert(event.series.clone(), alert.clone());
        if let Some(&(state, observed)) = self.sent.get(&alert.id) {
            if state == alert.state && (state == AlertState::Resolved || alert.observed <= observed) {
                return None;
            }
        }
        Some(alert)
    }

    fn name_of(&self, municipality: Option<&str>) -> String {
        match municipality {
            Some(m) => self.names.get(m).cloned().unwrap_or_else(|| m.to_owned()),
            None => REGION_NAME.to_owned(),
        }
    }

    /// Incidents and voices of the alert's series in its window, as published before it was
    /// raised (a replay knows later posts already); the five with most voices.
    fn fill_incidents(&self, alert: &mut Alert) {
        let (from, to) =
            (alert.window_start.timestamp(), alert.window_end.timestamp().min(alert.raised_at.timestamp()));
        let mut behind: Vec<(&IncidentSummary, u64)> = self
            .incidents
            .values()
            .filter(|i| alert.municipality.is_none() || i.municipality == alert.municipality)
            .map(|i| {
                let marks = i.voice_marks.iter().filter(|(at, t)| *t == alert.topic && (from..to).contains(at)).count();
                (i, marks as u64)
            })
            .filter(|(_, voices)| *voices > 0)
            .collect();
        behind.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.first_seen.cmp(&b.0.first_seen)));
        alert.incidents = behind.len() as u64;
        alert.voices = behind.iter().map(|(_, v)| v).sum();
        alert.top_incidents = behind
            .iter()
            .take(TOP_INCIDENTS)
            .filter_map(|(i, voices)| {
                let uid = i.id.parse().ok()?;
                Some(AlertIncident { uid, url: i.url.clone(), excerpt: i.excerpt.clone(), voices: *voices })
            })
            .collect();
    }
}

fn hour_start(hour: Hour) -> DateTime<Utc> {
    DateTime::from_timestamp(hour * 3600, 0).unwrap_or_default()
}

/// The start of a text, whitespace collapsed, cut at a character boundary.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (n, word) in text.split_whitespace().enumerate() {
        if out.chars().count() + word.chars().count() + 1 > EXCERPT_CHARS {
            if n == 0 {
                out.extend(word.chars().take(EXCERPT_CHARS));
            }
            out.push('…');
            break;
        }
        if n > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
