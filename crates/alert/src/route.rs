//! Alert routing, pure: alert events and a clock in, [`Notification`]s to send and
//! [`DeliveryRecord`]s of what was left out, Alertmanager-style. No I/O and no tokio: the caller
//! passes the time, sleeps until [`Router::next_due`] and hands the results to the outbox.
//!
//! **Routes.** An alert goes to the receivers of the first `[[alerts.route]]` rule it matches
//! (municipality codes, topics, a minimum severity; an empty list matches anything), or of every
//! matching rule up to and including the first without `continue_matching`. A region-series
//! alert (no municipality) matches only rules with no municipality list. An alert that no rule
//! matches is not sent and recorded nowhere: a last rule with no matchers catches everything.
//!
//! **Groups.** Alerts are grouped per receiver × municipality (`group_key` = the ОКТМО code). A
//! group's episode opens with its first alert: the `Opened` notification waits `group_wait` after
//! it, so alerts raised together go out in one message. Later changes (a new alert, an update, a
//! resolution) are sent at most once per `group_interval`, as `Updated`; while the group has open
//! alerts and nothing changed, a `Reminder` goes out every `repeat_interval`; when every alert the
//! episode announced has resolved, one `Resolved` notification ends the episode, and a later alert
//! opens a new one (a new thread). A notification lists the latest event of every alert of the
//! group that is open and sendable, plus those that resolved since the last one.
//!
//! **Identity.** [`Notification::id`] is `{receiver}:{group_key}:{seq}`, `seq` counting the
//! group's notifications from 1 and never reused; [`Notification::thread`] is
//! `{group_key}:{YYYYMMDDTHHMM}`, when the episode's first alert arrived. [`Router::restore`]
//! rebuilds both from the notifications already sent, so that a restart neither repeats nor
//! renumbers anything; the caller then feeds the open alerts again.
//!
//! **What is not sent.** An alert the calendar expected (`!Alert::pages()`) is never sent; a
//! resolution only to a thread that announced the alert open.
//!
//! **Overdue alerts** (an organisation's complaints unanswered past their deadline) are routed
//! and grouped like spikes — `kind = ["overdue"]` in a rule picks them — but take no part in
//! inhibition: they stay in their municipality's group (`region:overdue` without one).
//!
//! **Inhibition.** A topic is regional while a region-series alert on it is open, or while open
//! alerts on it stand in at least `regional_min_municipalities` municipalities at once; it stays
//! regional until every alert on it has resolved, so that a group does not flap between the
//! regional thread and the local ones. Every alert on a regional topic goes to the receiver's
//! group `region:{topic}` instead of its municipality's, and each local one is recorded as
//! [`DeliveryOutcome::Inhibited`] (detail: the regional group) when the regional group carries a
//! new event of it. An alert already announced in its municipality's thread leaves it quietly;
//! that thread still hears of its resolution.
//!
//! **Silences** are checked when a group is due: a silenced alert is left out of the message and
//! recorded as [`DeliveryOutcome::Silenced`] (detail: the silence's id and reason) once per event;
//! a group whose due alerts are all silenced sends nothing. A silence's end sends nothing by
//! itself: the alert's next event (or the group's next reminder) carries it. Silences mute pages,
//! not resolutions of alerts a thread already announced.

use chrono::{DateTime, TimeDelta, Utc};
use otklik_model::{
    Alert, AlertKind, AlertSeverity, AlertState, DeliveryOutcome, DeliveryRecord, Notification, NotificationKind,
    Schema, Silence, Topic,
};
use otklik_pipeline::units::{check_count, check_duration, deserialize_duration, ConfigProblem};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// `[alerts]` of the config: timing of groups, inhibition, and `[[alerts.route]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// How long a group's first notification waits for more alerts (default 60s).
    #[serde(deserialize_with = "deserialize_duration")]
    pub group_wait: Duration,
    /// The least time between two notifications of a group about changes (default 15m).
    #[serde(deserialize_with = "deserialize_duration")]
    pub group_interval: Duration,
    /// A reminder of a group still open with nothing new, this long after its last message (4h).
    #[serde(deserialize_with = "deserialize_duration")]
    pub repeat_interval: Duration,
    /// Open alerts on one topic in this many municipalities make a regional alert (default 3).
    pub regional_min_municipalities: u64,
    /// `[[alerts.route]]`, tried in order.
    #[serde(rename = "route")]
    pub routes: Vec<RouteRule>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            group_wait: Duration::from_secs(60),
            group_interval: Duration::from_secs(15 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            regional_min_municipalities: 3,
            routes: Vec::new(),
        }
    }
}

/// One `[[alerts.route]]`: which alerts go to which receivers.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteRule {
    /// ОКТМО codes; empty matches every municipality and the region's series.
    pub municipality: Vec<String>,
    /// Empty matches every topic.
    pub topic: Vec<Topic>,
    /// `spike`, `overdue`; empty matches both.
    pub kind: Vec<AlertKind>,
    pub min_severity: Option<AlertSeverity>,
    /// `[[alerts.receiver]]` names.
    pub receivers: Vec<String>,
    /// Also try the next rules when this one matches (false: the first matching rule wins).
    pub continue_matching: bool,
}

impl RouteRule {
    fn matches(&self, alert: &Alert) -> bool {
        let place = match &alert.municipality {
            Some(code) => self.municipality.is_empty() || self.municipality.contains(code),
            None => self.municipality.is_empty(),
        };
        let topic = self.topic.is_empty() || self.topic.contains(&alert.topic);
        let kind = self.kind.is_empty() || self.kind.contains(&alert.kind);
        place && topic && kind && self.min_severity.is_none_or(|min| alert.severity >= min)
    }
}

const SECOND: Duration = Duration::from_secs(1);

impl RouterConfig {
    /// Every problem of the values this config owns; receiver names are checked by whoever knows
    /// the receivers, with [`RouterConfig::receiver_names`].
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        check_duration(&mut problems, "group_wait", self.group_wait, Duration::ZERO..=SECOND * 3600);
        check_duration(&mut problems, "group_interval", self.group_interval, SECOND * 60..=SECOND * 86_400);
        check_duration(&mut problems, "repeat_interval", self.repeat_interval, SECOND * 900..=SECOND * 7 * 86_400);
        if self.repeat_interval < self.group_interval {
            let problem = ConfigProblem::new("repeat_interval", "is shorter than group_interval");
            problems.push(problem.with_hint("a reminder cannot come sooner than an update may"));
        }
        check_count(&mut problems, "regional_min_municipalities", self.regional_min_municipalities, 2..=1000);
        for (index, rule) in self.routes.iter().enumerate() {
            rule.check(&format!("route[{index}]"), &mut problems);
        }
        problems
    }

    /// Every receiver name the routes use, for the binary to check against `[[alerts.receiver]]`.
    pub fn receiver_names(&self) -> BTreeSet<&str> {
        self.routes.iter().flat_map(|rule| rule.receivers.iter().map(String::as_str)).collect()
    }
}

impl RouteRule {
    fn check(&self, at: &str, problems: &mut Vec<ConfigProblem>) {
        if self.receivers.is_empty() {
            let problem = ConfigProblem::new(format!("{at}.receivers"), "is empty");
            problems.push(problem.with_hint("name at least one [[alerts.receiver]]"));
        }
        if self.receivers.iter().any(|name| name.trim().is_empty()) {
            problems.push(ConfigProblem::new(format!("{at}.receivers"), "holds an empty name"));
        }
        for code in self.municipality.iter().filter(|code| !is_oktmo(code)) {
            let problem = ConfigProblem::new(format!("{at}.municipality"), format!("{code:?} is not an ОКТМО code"));
            problems.push(problem.with_hint("8 or 11 digits, e.g. \"56701000\""));
        }
    }
}

fn is_oktmo(code: &str) -> bool {
    matches!(code.len(), 8 | 11) && code.bytes().all(|b| b.is_ascii_digit())
}

/// What one call of the router decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routed {
    /// For the outbox, in group order.
    pub send: Vec<Notification>,
    /// Alerts recorded, not sent: silenced or inhibited.
    pub suppressed: Vec<DeliveryRecord>,
}

/// The latest event of an alert and when its open stretch began, by the caller's clock.
#[derive(Debug, Clone)]
struct Tracked {
    alert: Alert,
    arrived: DateTime<Utc>,
}

/// One receiver × group key.
#[derive(Debug, Clone, Default)]
struct Group {
    /// The last notification's sequence number.
    seq: u64,
    episode: Option<Episode>,
    /// Events this group considered and left out (silenced): not a change any more.
    muted: BTreeMap<String, Alert>,
}

#[derive(Debug, Clone)]
struct Episode {
    thread: String,
    last_sent: DateTime<Utc>,
    next_reminder: DateTime<Utc>,
    /// The event of each alert the thread last carried, open ones only.
    sent: BTreeMap<String, Alert>,
}

/// Why a group is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Change,
    Reminder,
}

type GroupId = (String, String);

/// The router's whole state; see the module doc for what it does.
#[derive(Debug, Clone)]
pub struct Router {
    group_wait: TimeDelta,
    group_interval: TimeDelta,
    repeat_interval: TimeDelta,
    regional_min: usize,
    routes: Vec<RouteRule>,
    alerts: BTreeMap<String, Tracked>,
    regional: BTreeSet<Topic>,
    groups: BTreeMap<GroupId, Group>,
    silences: Vec<Silence>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn after(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The same event of an alert: floats compared bit for bit, so a NaN never looks like a change.
fn same_event(a: &Alert, b: &Alert) -> bool {
    (a.state, a.raised_at, a.severity, a.observed, a.voices, a.incidents, a.window_start, a.window_end)
        == (b.state, b.raised_at, b.severity, b.observed, b.voices, b.incidents, b.window_start, b.window_end)
        && a.expected.to_bits() == b.expected.to_bits()
        && a.p_value.to_bits() == b.p_value.to_bits()
        && a.expected_note == b.expected_note
}

fn is_open(alert: &Alert) -> bool {
    alert.state != AlertState::Resolved
}

impl Router {
    pub fn new(cfg: RouterConfig) -> Self {
        Router {
            group_wait: delta(cfg.group_wait),
            group_interval: delta(cfg.group_interval),
            repeat_interval: delta(cfg.repeat_interval),
            regional_min: usize::try_from(cfg.regional_min_municipalities).unwrap_or(usize::MAX),
            routes: cfg.routes,
            alerts: BTreeMap::new(),
            regional: BTreeSet::new(),
            groups: BTreeMap::new(),
            silences: Vec::new(),
        }
    }

    /// Takes an alert event; nothing is sent before [`Router::due`]. A repeated or older event of
    /// an alert, and the resolution of an alert never seen open, change nothing.
    pub fn on_alert(&mut self, alert: Alert, now: DateTime<Utc>) {
        let previous = self.alerts.get(&alert.id);
        if previous.is_some_and(|p| same_event(&p.alert, &alert) || p.alert.raised_at > alert.raised_at) {
            return;
        }
        if previous.is_none() && !is_open(&alert) {
            return;
        }
        let arrived = match previous {
            Some(p) if is_open(&p.alert) => p.arrived,
            _ => now,
        };
        let topic = alert.topic;
        self.alerts.insert(alert.id.clone(), Tracked { alert, arrived });
        self.update_regional(topic);
    }

    /// Replaces the silences (active or not: each is checked against the time of the group).
    pub fn set_silences(&mut self, silences: Vec<Silence>) {
        self.silences = silences;
    }

    /// Every group whose time has come by `now`.
    pub fn due(&mut self, now: DateTime<Utc>) -> Routed {
        self.run(now, false)
    }

    /// Every group with anything unsent, now, whatever its wait: the end of a replay.
    pub fn flush(&mut self, now: DateTime<Utc>) -> Routed {
        self.run(now, true)
    }

    /// When [`Router::due`] next has something to do (possibly already past: call it at once);
    /// `None` while nothing is pending, until the next alert.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.next_for(|_| true)
    }

    /// When a group next has a change to tell (new, changed or resolved alerts), reminders left
    /// out: the end of a replay runs on until nothing is news, not until every alert resolves.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        self.next_for(|reason| reason == Reason::Change)
    }

    fn next_for(&self, wanted: impl Fn(Reason) -> bool) -> Option<DateTime<Utc>> {
        let candidates = self.candidates();
        let members = |id: &GroupId| candidates.get(id).cloned().unwrap_or_default();
        let due = |id: GroupId| self.due_at(&id, &members(&id)).filter(|(_, reason)| wanted(*reason));
        self.groups_with(&candidates).filter_map(due).map(|(t, _)| t).min()
    }

    /// Rebuilds the groups from the notifications already sent (call it before any alert): the
    /// latest of each receiver × group gives its sequence number and, unless it resolved the
    /// episode, its thread, last message time and the alerts it carried. Then feed the latest
    /// event of every open alert again (the alerts table): an event already sent changes nothing,
    /// one that was still waiting goes out as it would have. Which events were silenced is not
    /// rebuilt: such an event is recorded once more.
    pub fn restore(&mut self, sent: &[Notification]) {
        let mut latest: BTreeMap<GroupId, (u64, &Notification)> = BTreeMap::new();
        for n in sent {
            let seq = n.id.rsplit(':').next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            let id = (n.receiver.clone(), n.group_key.clone());
            let newer = latest.get(&id).is_none_or(|(s, old)| (seq, n.created_at) > (*s, old.created_at));
            if newer {
                latest.insert(id, (seq, n));
            }
        }
        for (id, (seq, n)) in latest {
            self.restore_group(id, seq, n);
        }
        let topics: BTreeSet<Topic> = self.alerts.values().map(|t| t.alert.topic).collect();
        for topic in topics {
            self.update_regional(topic);
        }
        for ((_, key), group) in &self.groups {
            let open = group.episode.as_ref().is_some_and(|e| !e.sent.is_empty());
            if let Some(topic) = key.strip_prefix("region:").and_then(|t| t.parse().ok()).filter(|_| open) {
                self.regional.insert(topic);
            }
        }
    }

    fn restore_group(&mut self, id: GroupId, seq: u64, n: &Notification) {
        let group = self.groups.entry(id).or_default();
        if seq < group.seq {
            return;
        }
        group.seq = seq;
        group.episode = None;
        if n.kind == NotificationKind::Resolved {
            return;
        }
        let sent: BTreeMap<String, Alert> =
            n.alerts.iter().filter(|a| is_open(a)).map(|a| (a.id.clone(), a.clone())).collect();
        for alert in sent.values() {
            let known = self.alerts.get(&alert.id).is_some_and(|t| t.alert.raised_at >= alert.raised_at);
            if !known {
                self.alerts.insert(alert.id.clone(), Tracked { alert: alert.clone(), arrived: n.created_at });
            }
        }
        let next_reminder = after(n.created_at, self.repeat_interval);
        group.episode = Some(Episode { thread: n.thread.clone(), last_sent: n.created_at, next_reminder, sent });
    }

    /// A topic turns regional with a region-series alert or enough municipalities, and stays so
    /// until nothing on it is open.
    fn update_regional(&mut self, topic: Topic) {
        let open: Vec<&Alert> = self
            .alerts
            .values()
            .map(|t| &t.alert)
            .filter(|a| a.topic == topic && a.kind.is_spike() && a.pages())
            .collect();
        let places: BTreeSet<&str> = open.iter().filter_map(|a| a.municipality.as_deref()).collect();
        if open.is_empty() {
            self.regional.remove(&topic);
        } else if places.len() >= self.regional_min || open.iter().any(|a| a.municipality.is_none()) {
            self.regional.insert(topic);
        }
    }

    fn group_key(&self, alert: &Alert) -> String {
        match &alert.municipality {
            Some(code) if alert.kind == AlertKind::Overdue || !self.regional.contains(&alert.topic) => code.clone(),
            None if alert.kind == AlertKind::Overdue => "region:overdue".into(),
            _ => format!("region:{}", alert.topic),
        }
    }

    fn receivers(&self, alert: &Alert) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for rule in self.routes.iter().filter(|rule| rule.matches(alert)) {
            for name in &rule.receivers {
                if !out.contains(&name.as_str()) {
                    out.push(name);
                }
            }
            if !rule.continue_matching {
                break;
            }
        }
        out
    }

    /// The open, paging alerts of each receiver × group, silences not yet applied.
    fn candidates(&self) -> BTreeMap<GroupId, Vec<&Tracked>> {
        let mut out: BTreeMap<GroupId, Vec<&Tracked>> = BTreeMap::new();
        for tracked in self.alerts.values().filter(|t| t.alert.pages()) {
            let key = self.group_key(&tracked.alert);
            for receiver in self.receivers(&tracked.alert) {
                out.entry((receiver.to_owned(), key.clone())).or_default().push(tracked);
            }
        }
        out
    }

    fn groups_with<'a>(
        &'a self,
        candidates: &'a BTreeMap<GroupId, Vec<&Tracked>>,
    ) -> impl Iterator<Item = GroupId> + 'a {
        let ids: BTreeSet<&GroupId> = candidates.keys().chain(self.groups.keys()).collect();
        ids.into_iter().cloned()
    }

    /// When a group is next due, and why.
    fn due_at(&self, id: &GroupId, members: &[&Tracked]) -> Option<(DateTime<Utc>, Reason)> {
        let group = self.groups.get(id);
        let considered = |t: &&Tracked| {
            let known = |m: &BTreeMap<String, Alert>| m.get(&t.alert.id).is_some_and(|a| same_event(a, &t.alert));
            group.is_some_and(|g| known(&g.muted) || g.episode.as_ref().is_some_and(|e| known(&e.sent)))
        };
        let new_since = members.iter().filter(|t| !considered(t)).map(|t| t.arrived).min();
        let Some(episode) = group.and_then(|g| g.episode.as_ref()) else {
            return new_since.map(|t| (after(t, self.group_wait), Reason::Change));
        };
        let resolved = episode.sent.keys().any(|id| self.alerts.get(id).is_some_and(|t| !is_open(&t.alert)));
        if new_since.is_some() || resolved {
            Some((after(episode.last_sent, self.group_interval), Reason::Change))
        } else if !members.is_empty() {
            Some((episode.next_reminder, Reason::Reminder))
        } else {
            None
        }
    }

    fn run(&mut self, now: DateTime<Utc>, force: bool) -> Routed {
        let mut routed = Routed::default();
        let groups: Vec<(GroupId, Vec<Tracked>)> = {
            let candidates = self.candidates();
            let members = |id: &GroupId| candidates.get(id).map(|m| m.iter().map(|t| (*t).clone()).collect());
            self.groups_with(&candidates).map(|id| (id.clone(), members(&id).unwrap_or_default())).collect()
        };
        for (id, members) in groups {
            // A change can leave the group's reminder due as well: both go out in this call, so
            // that nothing is due at `now` once it returns.
            for _ in 0..2 {
                let Some((at, reason)) = self.due_at(&id, &members.iter().collect::<Vec<_>>()) else { break };
                if at > now && !(force && reason == Reason::Change) {
                    break;
                }
                self.fire(id.clone(), reason, &members, now, &mut routed);
            }
        }
        self.forget_resolved();
        routed
    }

    fn silence_of(&self, alert: &Alert, now: DateTime<Utc>) -> Option<&Silence> {
        self.silences.iter().find(|s| s.active(now) && s.matches(alert))
    }

    /// Sends what a due group has to say, and records what it leaves out.
    fn fire(&mut self, id: GroupId, reason: Reason, members: &[Tracked], now: DateTime<Utc>, routed: &mut Routed) {
        let firing = self.mute_silenced(&id, members, now, routed);
        let resolved: Vec<Alert> = self.resolved_of(&id);
        let sent = self.groups.get(&id).and_then(|g| g.episode.as_ref()).map(|e| &e.sent);
        let is_new = |a: &Alert| !sent.and_then(|s| s.get(&a.id)).is_some_and(|old| same_event(old, a));
        let changed: Vec<&Alert> = firing.iter().map(|t| &t.alert).filter(|a| is_new(a)).collect();
        let worth = match reason {
            Reason::Change => !changed.is_empty() || !resolved.is_empty(),
            Reason::Reminder => !firing.is_empty(),
        };
        if !worth {
            let repeat = self.repeat_interval;
            let episode = self.groups.get_mut(&id).and_then(|g| g.episode.as_mut());
            if let Some(episode) = episode.filter(|_| reason == Reason::Reminder) {
                episode.next_reminder = after(now, repeat);
            }
            return;
        }
        for alert in changed.iter().filter(|a| a.municipality.is_some() && id.1.starts_with("region:")) {
            let code = alert.municipality.clone().unwrap_or_default();
            routed.suppressed.push(record(&id, &code, alert, DeliveryOutcome::Inhibited, id.1.clone(), now));
        }
        // A reminder that finds an alert its silence no longer hides tells it as news.
        let reason = if changed.is_empty() { reason } else { Reason::Change };
        let arrived = firing.iter().map(|t| t.arrived).min().unwrap_or(now);
        let firing: Vec<Alert> = firing.iter().map(|t| t.alert.clone()).collect();
        routed.send.push(self.notify(&id, reason, firing, resolved, arrived, now));
    }

    /// The members no silence covers now; the others are recorded, once per event.
    fn mute_silenced<'a>(
        &mut self,
        id: &GroupId,
        members: &'a [Tracked],
        now: DateTime<Utc>,
        routed: &mut Routed,
    ) -> Vec<&'a Tracked> {
        let mut firing = Vec::new();
        let mut silenced = Vec::new();
        for tracked in members {
            match self.silence_of(&tracked.alert, now) {
                Some(silence) => silenced.push((&tracked.alert, silence_detail(silence))),
                None => firing.push(tracked),
            }
        }
        let group = self.groups.entry(id.clone()).or_default();
        for (alert, detail) in silenced {
            if !group.muted.get(&alert.id).is_some_and(|a| same_event(a, alert)) {
                routed.suppressed.push(record(id, &id.1, alert, DeliveryOutcome::Silenced, detail, now));
                group.muted.insert(alert.id.clone(), alert.clone());
            }
        }
        firing
    }

    /// Alerts the group's thread announced open that have resolved since.
    fn resolved_of(&self, id: &GroupId) -> Vec<Alert> {
        let Some(episode) = self.groups.get(id).and_then(|g| g.episode.as_ref()) else {
            return Vec::new();
        };
        let current = |alert: &Alert| self.alerts.get(&alert.id).map_or_else(|| alert.clone(), |t| t.alert.clone());
        episode.sent.values().map(current).filter(|a| !is_open(a)).collect()
    }

    /// Makes the notification and moves the group's episode on.
    fn notify(
        &mut self,
        id: &GroupId,
        reason: Reason,
        firing: Vec<Alert>,
        resolved: Vec<Alert>,
        arrived: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Notification {
        let repeat = self.repeat_interval;
        let group = self.groups.entry(id.clone()).or_default();
        let episode = group.episode.get_or_insert_with(|| Episode {
            thread: format!("{}:{}", id.1, arrived.format("%Y%m%dT%H%M")),
            last_sent: now,
            next_reminder: now,
            sent: BTreeMap::new(),
        });
        let opening = episode.sent.is_empty() && resolved.is_empty();
        for alert in &resolved {
            episode.sent.remove(&alert.id);
        }
        for alert in &firing {
            group.muted.remove(&alert.id);
            episode.sent.insert(alert.id.clone(), alert.clone());
        }
        let kind = match reason {
            Reason::Reminder => NotificationKind::Reminder,
            Reason::Change if opening => NotificationKind::Opened,
            Reason::Change if episode.sent.is_empty() => NotificationKind::Resolved,
            Reason::Change => NotificationKind::Updated,
        };
        episode.last_sent = now;
        episode.next_reminder = after(now, repeat);
        let thread = episode.thread.clone();
        if kind == NotificationKind::Resolved {
            group.episode = None;
        }
        group.seq += 1;
        let mut alerts: Vec<Alert> = firing.into_iter().chain(resolved).collect();
        alerts.sort_by(|a, b| a.id.cmp(&b.id));
        Notification {
            schema: Schema,
            id: format!("{}:{}:{}", id.0, id.1, group.seq),
            receiver: id.0.clone(),
            group_key: id.1.clone(),
            kind,
            alerts,
            thread,
            created_at: now,
        }
    }

    /// Drops resolved alerts no thread still has to hear about, and muted events of alerts gone.
    fn forget_resolved(&mut self) {
        let announced: BTreeSet<&String> =
            self.groups.values().filter_map(|g| g.episode.as_ref()).flat_map(|e| e.sent.keys()).collect();
        let gone: Vec<String> = self
            .alerts
            .iter()
            .filter(|(id, t)| !is_open(&t.alert) && !announced.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.alerts.remove(id);
        }
        let alerts = &self.alerts;
        for group in self.groups.values_mut() {
            group.muted.retain(|id, _| alerts.get(id).is_some_and(|t| is_open(&t.alert)));
        }
    }
}

fn silence_detail(silence: &Silence) -> String {
    format!("silence {}: {}", silence.id, silence.reason)
}

fn record(
    id: &GroupId,
    group_key: &str,
    alert: &Alert,
    outcome: DeliveryOutcome,
    detail: String,
    now: DateTime<Utc>,
) -> DeliveryRecord {
    DeliveryRecord {
        schema: Schema,
        notification_id: format!("{}:{}", id.0, alert.id),
        receiver: id.0.clone(),
        group_key: group_key.to_owned(),
        alert_ids: vec![alert.id.clone()],
        attempt: 0,
        at: now,
        outcome,
        status_code: 0,
        detail,
        next_attempt_at: None,
        message_ids: Vec::new(),
        notification: None,
    }
}
