//! The alert stage in both wirings, around the pure `otklik_alert::stage::AlertCore`: posts from
//! the series topic are linked into incidents and published again to the classified topic (a
//! later version of the same uid, with `copy_of`, `incident_id`, `is_voice`); whenever the stage
//! has caught up, the detector's clock advances and the alerts it raises go to the alerts topic,
//! from where a sink stores them (ClickHouse `alerts`, or the local store).
//!
//! The clock: live, it follows the wall clock. In an embedded replay it waits until collecting has
//! ended and then runs through the replayed posts' time, so that posts replayed source by source
//! (out of time order) are all counted before any boundary is evaluated — the alerts are those a
//! live run would have raised then.

use crate::config::Config;
use otklik_alert::detect::{hour_of, SeriesKey, HELD_HOURS};
use otklik_alert::incident::{Link, LinkPost};
use otklik_alert::stage::{AlertCore, Restore, RestoredPost};
use otklik_clickhouse::{AlertRow, History, PostRow};
use otklik_model::{Alert, ClassifiedPost, PostKind, Topic};
use otklik_pipeline::{CancellationToken, Message, Output, Transform, Unprocessable};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// After a replay the clock runs this far past the newest post, so that alerts still open at the
/// end of the replayed time can resolve (2 quiet hours) as they would have live.
const REPLAY_TAIL: chrono::Duration = chrono::Duration::hours(6);

/// What drives the detector's clock.
pub enum StageClock {
    /// The wall clock, checked every `tick` while idle.
    Live { tick: Duration },
    /// The replayed posts' own time, once the token (collecting ended) is cancelled.
    Replay { collected: CancellationToken },
}

/// The alert stage as a pipeline map stage.
pub struct AlertStage {
    core: Mutex<AlertCore>,
    classified_topic: String,
    alerts_topic: String,
    clock: StageClock,
    /// A post was linked since the clock last advanced.
    pending: AtomicBool,
    /// Replay only: the clock has run through everything and what it raised is published.
    settled: AtomicBool,
    /// Every alert event this process raised, in order (the embedded run's summary).
    raised: Mutex<Vec<Alert>>,
}

impl AlertStage {
    pub fn new(core: AlertCore, classified_topic: String, alerts_topic: String, clock: StageClock) -> Self {
        AlertStage {
            core: Mutex::new(core),
            classified_topic,
            alerts_topic,
            clock,
            pending: AtomicBool::new(false),
            settled: AtomicBool::new(false),
            raised: Mutex::new(Vec::new()),
        }
    }

    fn core(&self) -> MutexGuard<'_, AlertCore> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replay: every post is linked, the clock has run past them and the alerts are published.
    pub fn settled(&self) -> bool {
        self.settled.load(Ordering::SeqCst)
    }

    pub fn raised(&self) -> Vec<Alert> {
        self.raised.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the state (the embedded run's incidents section).
    pub fn with_core<R>(&self, read: impl FnOnce(&AlertCore) -> R) -> R {
        read(&self.core())
    }

    fn target(&self, core: &AlertCore) -> Option<chrono::DateTime<chrono::Utc>> {
        match &self.clock {
            StageClock::Live { .. } => Some(chrono::Utc::now()),
            StageClock::Replay { collected } if collected.is_cancelled() => Some(core.watermark()? + REPLAY_TAIL),
            StageClock::Replay { .. } => None,
        }
    }
}

impl Transform for AlertStage {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let post: ClassifiedPost = otklik_model::decode("ClassifiedPost", &message.payload).map_err(|e| Unprocessable(e.to_string()))?;
        let linked = self.core().link(post);
        self.pending.store(true, Ordering::SeqCst);
        self.settled.store(false, Ordering::SeqCst);
        let key = linked.post.uid.to_string().into_bytes();
        Ok(vec![Output { topic: self.classified_topic.clone(), key, payload: otklik_model::encode(&linked) }])
    }

    fn on_idle(&self) -> Vec<Output> {
        let mut core = self.core();
        let Some(target) = self.target(&core) else {
            if matches!(&self.clock, StageClock::Replay { collected } if collected.is_cancelled()) {
                self.settled.store(true, Ordering::SeqCst);
            }
            return Vec::new();
        };
        let alerts = core.advance(target);
        drop(core);
        // Settled only on a second quiet call: the records of the call before are published by
        // then (the runner publishes before it calls again).
        let linked_since = self.pending.swap(false, Ordering::SeqCst);
        if alerts.is_empty() && !linked_since && matches!(self.clock, StageClock::Replay { .. }) {
            self.settled.store(true, Ordering::SeqCst);
        }
        for alert in &alerts {
            tracing::info!(
                id = %alert.id, state = alert.state.as_str(), observed = alert.observed, expected = alert.expected,
                incidents = alert.incidents, "alert {}: {} in {}", alert.state.as_str(), alert.topic, alert.municipality_name
            );
        }
        let outputs = alerts.iter().map(|a| Output { topic: self.alerts_topic.clone(), key: a.key().into_bytes(), payload: otklik_model::encode(a) });
        let outputs = outputs.collect();
        self.raised.lock().unwrap_or_else(|p| p.into_inner()).extend(alerts);
        outputs
    }

    fn idle_tick(&self) -> Option<Duration> {
        Some(match &self.clock {
            StageClock::Live { tick } => *tick,
            // Only until collecting has ended and the clock has run: then it settles.
            StageClock::Replay { .. } => Duration::from_millis(50),
        })
    }
}

/// A stored post as the linker restores it; `None` for rows that were never linked.
pub fn restored_post(core: &AlertCore, row: &PostRow) -> Option<RestoredPost> {
    if row.incident_id.is_empty() {
        return None;
    }
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let repost = !(row.repost_of_uid.is_empty() && row.repost_of_name.is_empty() && row.repost_of_text.is_empty());
    let post = LinkPost {
        uid: row.uid.clone(),
        author: some(&row.author_id).or_else(|| some(&row.author_name)),
        source: row.source_id.clone(),
        published_at: row.published_at,
        is_source: row.author_is_source != 0,
        official: false,
        quotes_resident: false,
        kind: PostKind::ALL.iter().copied().find(|k| k.id() == row.kind).unwrap_or(PostKind::Info),
        topics: row.topics.iter().filter_map(|t| t.parse().ok()).collect(),
        municipality: some(&row.municipality),
        reply_to: some(&row.parent_uid),
        repost_of: some(&row.repost_of_uid),
        own_words: !repost || !row.text.trim().is_empty(),
        features: core.features(&row.text),
    };
    let link = Link { copy_of: some(&row.copy_of), incident_id: row.incident_id.clone(), is_voice: row.is_voice != 0 };
    Some(RestoredPost { post, link, url: row.url.clone(), text: row.text.clone(), municipality_name: row.municipality_name.clone() })
}

/// Hourly voices per municipality × topic (as stored) into the detector's series: each
/// municipality's, and the whole region's as their sum.
pub fn hourly_series(cells: impl IntoIterator<Item = (chrono::DateTime<chrono::Utc>, String, String, u64)>) -> Vec<(SeriesKey, i64, u32)> {
    let mut sums: HashMap<(Option<String>, Topic, i64), u64> = HashMap::new();
    for (hour, municipality, topic, voices) in cells {
        let Ok(topic) = topic.parse::<Topic>() else { continue };
        let hour = hour_of(hour);
        if !municipality.is_empty() {
            *sums.entry((Some(municipality), topic, hour)).or_default() += voices;
        }
        *sums.entry((None, topic, hour)).or_default() += voices;
    }
    let mut series: Vec<_> = sums
        .into_iter()
        .map(|((municipality, topic, hour), voices)| (SeriesKey { municipality, topic }, hour, voices.min(u32::MAX.into()) as u32))
        .collect();
    series.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    series
}

/// What a restart reads back, from stored rows.
pub fn restore(core: &AlertCore, posts: &[PostRow], hourly: Vec<(SeriesKey, i64, u32)>, history_from: i64, alerts: &[AlertRow]) -> Restore {
    let alerts = alerts.iter().filter_map(|row| match Alert::try_from(row) {
        Ok(alert) => Some(alert),
        Err(e) => {
            tracing::warn!("an alerts row could not be read back, skipped: {e}");
            None
        }
    });
    Restore {
        posts: posts.iter().filter_map(|row| restored_post(core, row)).collect(),
        hourly,
        history_from: Some(history_from),
        alerts: alerts.collect(),
    }
}

/// How far back the stored alerts are read on a restart: longer than any alert lives.
const ALERTS_LOOKBACK: chrono::Duration = chrono::Duration::days(7);

/// A fresh alert stage state, restored from what `history` holds: linked posts of the linking
/// window, hourly voices of the detector's history, the latest event of recent alerts.
pub async fn restored_core(config: &Config, history: &History, live: bool) -> anyhow::Result<AlertCore> {
    use anyhow::Context;
    let mut core = config.alert_core(live)?;
    let now = chrono::Utc::now();
    let hourly_from = now - chrono::Duration::hours(HELD_HOURS as i64);
    let window = core.link_window();
    let posts = history.linked_posts(now - window).await.context("cannot read the linked posts back")?;
    let cells = history.hourly_voices(hourly_from).await.context("cannot read the hourly voices back")?;
    let alerts = history.latest_alerts(now - ALERTS_LOOKBACK).await.context("cannot read the alerts back")?;
    let hourly = hourly_series(cells.into_iter().map(|c| (c.hour, c.municipality, c.topic, c.voices)));
    tracing::info!(posts = posts.len(), hourly_cells = hourly.len(), alerts = alerts.len(), "alert stage state restored");
    let restored = restore(&core, &posts, hourly, hour_of(hourly_from), &alerts);
    core.restore(restored);
    Ok(core)
}
