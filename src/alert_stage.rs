//! The alert stage in both wirings, around the pure `otklik_alert::stage::AlertCore`: posts from
//! the series topic are linked into incidents and published again to the classified topic (a
//! later version of the same uid, with `copy_of`, `incident_id`, `is_voice`); whenever the stage
//! has caught up, the detector's clock advances and the alerts it raises go to the alerts topic,
//! from where a sink stores them (ClickHouse `alerts`, or the local store). The same clock checks
//! the complaints and comments it sees for organisations that leave residents unanswered past
//! their deadline (`[responses]`): those `overdue` alerts go out the same way.
//!
//! The clock: live, it follows the wall clock. In an embedded replay it waits until everything
//! collected is classified and linked, and then runs through the replayed posts' time, so that posts replayed source by source
//! (out of time order) are all counted before any boundary is evaluated — the alerts are those a
//! live run would have raised then.

use crate::config::Config;
use crate::reload::Rules;
use otklik_alert::detect::{hour_of, SeriesKey, HELD_HOURS};
use otklik_alert::incident::{Link, LinkPost};
use otklik_alert::stage::{AlertCore, Restore, RestoredPost};
use otklik_clickhouse::{AlertRow, History, PostRow};
use otklik_model::{Alert, ClassifiedPost, PostKind, Topic};
use otklik_pipeline::{CancellationToken, Message, Output, Transform, Unprocessable};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// After a replay the clock runs this far past the newest post, so that alerts still open at the
/// end of the replayed time can resolve (2 quiet hours) as they would have live.
const REPLAY_TAIL: chrono::Duration = chrono::Duration::hours(6);

/// What drives the detector's clock.
pub enum StageClock {
    /// The wall clock, checked every `tick` while idle.
    Live { tick: Duration },
    /// The replayed posts' own time, once the token is cancelled: every replayed post is in the
    /// series topic, so a caught-up stage has linked them all.
    Replay { upstream_done: CancellationToken },
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
    /// Replay only: posts held until everything is collected, then linked in time order (the
    /// linker expects time order, and a replay comes source by source, newest first).
    held: Mutex<Vec<ClassifiedPost>>,
    /// Told every alert event as it is raised (the `otklik_alerts_open` gauge).
    observer: Option<AlertObserver>,
    /// The rules in use (hot reload): their gazetteer and sources replace the core's places.
    rules: Option<Mutex<watch::Receiver<Arc<Rules>>>>,
}

/// A hook told of every alert event the stage raises.
pub type AlertObserver = std::sync::Arc<dyn Fn(&Alert) + Send + Sync>;

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
            held: Mutex::new(Vec::new()),
            observer: None,
            rules: None,
        }
    }

    /// Reads places with the gazetteer and the sources of the rules `reload` holds, from the
    /// next post on after each reload.
    pub fn following(mut self, rules: watch::Receiver<Arc<Rules>>) -> Self {
        self.rules = Some(Mutex::new(rules));
        self
    }

    /// Tells `observer` of every alert event from now on, starting with the latest event of each
    /// series restored (so alerts open before a restart count as open).
    pub fn observed_by(mut self, observer: AlertObserver) -> Self {
        self.core().latest_events().for_each(|alert| observer(alert));
        self.observer = Some(observer);
        self
    }

    /// The state, with the places of the newest rules.
    fn core(&self) -> MutexGuard<'_, AlertCore> {
        let mut core = self.core.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rules) = &self.rules {
            let mut rules = rules.lock().unwrap_or_else(|p| p.into_inner());
            if rules.has_changed().unwrap_or(false) {
                let rules = rules.borrow_and_update();
                core.set_places(rules.classifier.shared_gazetteer(), rules.official());
            }
        }
        core
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

    fn linked_output(&self, linked: &ClassifiedPost) -> Output {
        let key = linked.post.uid.to_string().into_bytes();
        Output { topic: self.classified_topic.clone(), key, payload: otklik_model::encode(linked) }
    }

    fn target(&self, core: &AlertCore) -> Option<chrono::DateTime<chrono::Utc>> {
        match &self.clock {
            StageClock::Live { .. } => Some(chrono::Utc::now()),
            StageClock::Replay { upstream_done } if upstream_done.is_cancelled() => {
                Some(core.watermark()? + REPLAY_TAIL)
            }
            StageClock::Replay { .. } => None,
        }
    }
}

impl Transform for AlertStage {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        self.apply_batch(std::slice::from_ref(message)).pop().unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Links the batch in time order (a collector's page comes newest first).
    fn apply_batch(&self, batch: &[Message]) -> Vec<Result<Vec<Output>, Unprocessable>> {
        let decoded: Vec<Result<ClassifiedPost, Unprocessable>> = batch
            .iter()
            .map(|m| otklik_model::decode("ClassifiedPost", &m.payload).map_err(|e| Unprocessable(e.to_string())))
            .collect();
        self.pending.store(true, Ordering::SeqCst);
        self.settled.store(false, Ordering::SeqCst);
        let mut results: Vec<Result<Vec<Output>, Unprocessable>> = Vec::with_capacity(batch.len());
        let mut posts = Vec::new();
        for (i, decoded) in decoded.into_iter().enumerate() {
            match decoded {
                Ok(post) => {
                    posts.push((i, post));
                    results.push(Ok(Vec::new()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if let StageClock::Replay { .. } = self.clock {
            self.held.lock().unwrap_or_else(|p| p.into_inner()).extend(posts.into_iter().map(|(_, post)| post));
            return results;
        }
        posts.sort_by(|a, b| time_order(&a.1, &b.1));
        let mut core = self.core();
        for (i, post) in posts {
            results[i] = Ok(vec![self.linked_output(&core.link(post))]);
        }
        results
    }

    fn on_idle(&self) -> Vec<Output> {
        let mut core = self.core();
        let mut outputs = Vec::new();
        if matches!(&self.clock, StageClock::Replay { upstream_done } if upstream_done.is_cancelled()) {
            let mut held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
            held.sort_by(time_order);
            outputs.extend(held.into_iter().map(|post| self.linked_output(&core.link(post))));
        }
        let Some(target) = self.target(&core) else {
            if matches!(&self.clock, StageClock::Replay { upstream_done } if upstream_done.is_cancelled()) {
                self.settled.store(true, Ordering::SeqCst);
            }
            return outputs;
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
            if let Some(observe) = &self.observer {
                observe(alert);
            }
            tracing::info!(
                id = %alert.id, kind = alert.kind.as_str(), state = alert.state.as_str(), observed = alert.observed, expected = alert.expected,
                incidents = alert.incidents, "alert {}: {} in {}", alert.state.as_str(), alert.topic, alert.municipality_name
            );
        }
        let told = alerts.iter().map(|a| Output {
            topic: self.alerts_topic.clone(),
            key: a.key().into_bytes(),
            payload: otklik_model::encode(a),
        });
        outputs.extend(told);
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

/// Publication time, then uid: the order the linker expects.
fn time_order(a: &ClassifiedPost, b: &ClassifiedPost) -> std::cmp::Ordering {
    a.post.published_at.cmp(&b.post.published_at).then_with(|| a.post.uid.to_string().cmp(&b.post.uid.to_string()))
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
    Some(RestoredPost {
        post,
        link,
        url: row.url.clone(),
        text: row.text.clone(),
        municipality_name: row.municipality_name.clone(),
    })
}

/// Hourly voices per municipality × topic (as stored) into the detector's series: each
/// municipality's, and the whole region's as their sum.
pub fn hourly_series(
    cells: impl IntoIterator<Item = (chrono::DateTime<chrono::Utc>, String, String, u64)>,
) -> Vec<(SeriesKey, i64, u32)> {
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
        .map(|((municipality, topic, hour), voices)| {
            (SeriesKey { municipality, topic }, hour, voices.min(u32::MAX.into()) as u32)
        })
        .collect();
    series.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    series
}

/// What a restart reads back, from stored rows.
pub fn restore(
    core: &AlertCore,
    posts: &[PostRow],
    hourly: Vec<(SeriesKey, i64, u32)>,
    history_from: i64,
    alerts: &[AlertRow],
    replies: &[PostRow],
) -> Restore {
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
        replies: replies.iter().filter_map(crate::responses_cmd::item_of).collect(),
    }
}

/// How far back the stored alerts are read on a restart: longer than any alert lives.
const ALERTS_LOOKBACK: chrono::Duration = chrono::Duration::days(7);

/// A fresh alert stage state, restored from what `history` holds: linked posts of the linking
/// window, hourly voices of the detector's history, the latest event of recent alerts, and the
/// complaints and comments of the overdue tracker's window.
pub async fn restored_core(
    config: &Config,
    history: &History,
    live: bool,
    rules: Option<&Rules>,
) -> anyhow::Result<AlertCore> {
    use anyhow::Context;
    let mut core = config.alert_core(live, rules)?;
    let now = chrono::Utc::now();
    let hourly_from = now - chrono::Duration::hours(HELD_HOURS as i64);
    let window = core.link_window();
    let posts = history.linked_posts(now - window).await.context("cannot read the linked posts back")?;
    let cells = history.hourly_voices(hourly_from).await.context("cannot read the hourly voices back")?;
    let alerts = history.latest_alerts(now - ALERTS_LOOKBACK).await.context("cannot read the alerts back")?;
    let replies = match config.responses.overdue() {
        Some(overdue) => history.response_items(now - overdue.window).await.context("cannot read the replies back")?,
        None => Vec::new(),
    };
    let hourly = hourly_series(cells.into_iter().map(|c| (c.hour, c.municipality, c.topic, c.voices)));
    tracing::info!(
        posts = posts.len(),
        hourly_cells = hourly.len(),
        alerts = alerts.len(),
        replies = replies.len(),
        "alert stage state restored"
    );
    let restored = restore(&core, &posts, hourly, hour_of(hourly_from), &alerts, &replies);
    core.restore(restored);
    Ok(core)
}

#[cfg(test)]
#[path = "alert_stage_tests.rs"]
mod tests;
