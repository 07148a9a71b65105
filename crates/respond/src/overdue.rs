use crate::reply::{first_replies, Complaint, Item};
use crate::responders::{OrgType, Organisation, Responders};
use chrono::{DateTime, TimeDelta, Utc};
use otklik_model::{Alert, AlertIncident, AlertKind, AlertOverdue, AlertSeverity, AlertState, ItemKind, Schema, Topic};
use std::collections::{BTreeMap, HashMap};

/// The oldest overdue complaints an alert lists.
const LISTED: usize = 5;

/// When complaints become overdue and how long they are watched.
#[derive(Debug, Clone)]
pub struct OverdueConfig {
    /// How long each type of organisation may leave a complaint unanswered.
    pub deadlines: HashMap<OrgType, TimeDelta>,
    /// Complaints older than this are no longer watched: an alert whose overdue complaints have
    /// all left the window resolves as if they were answered.
    pub window: TimeDelta,
}

/// Pages organisations that leave residents unanswered: one alert per organisation, opened when
/// the first complaint on one of its own pages passes its deadline without a reply, updated (same
/// id) as the number of overdue complaints or the oldest one changes, resolved when none is left
/// — each answered, or older than [`OverdueConfig::window`]. Replies are found by
/// [`first_replies`], over the items published up to the time checked, so a replay sees what a
/// live run would have seen then. Pure: items and a clock in, alert events out.
#[derive(Debug, Clone)]
pub struct OverdueTracker {
    config: OverdueConfig,
    responders: Responders,
    /// Complaints and comments by (published_at, uid): a redelivered item replaces itself.
    items: BTreeMap<(DateTime<Utc>, String), Item>,
    /// Organisation id → the last event of its open alert.
    open: BTreeMap<String, Alert>,
    /// After a restore: the newest stored event. A restarted stage's clock resumes from its
    /// newest post, possibly before that event; checking those times again would resolve and
    /// re-open what was already told.
    quiet_until: Option<DateTime<Utc>>,
}

/// An organisation's complaints overdue at one time, oldest first.
struct Overdue<'a> {
    org: &'a Organisation,
    deadline: TimeDelta,
    complaints: Vec<&'a Complaint>,
}

impl OverdueTracker {
    pub fn new(config: OverdueConfig, responders: Responders) -> Self {
        OverdueTracker { config, responders, items: BTreeMap::new(), open: BTreeMap::new(), quiet_until: None }
    }

    /// Watches a complaint or question (a comment may be a reply or a complaint itself); other
    /// posts are ignored.
    pub fn add(&mut self, item: Item) {
        if item.kind.counts_for_alerts() || item.item_kind == ItemKind::Comment {
            self.items.insert((item.published_at, item.uid.clone()), item);
        }
    }

    /// After a restart: the stored items, and the latest event of each alert (overdue alerts
    /// still open keep their id and are not opened again; times up to the newest event are not
    /// checked again).
    pub fn restore(&mut self, items: impl IntoIterator<Item = Item>, alerts: &[Alert]) {
        items.into_iter().for_each(|item| self.add(item));
        for alert in alerts.iter().filter(|a| a.kind == AlertKind::Overdue) {
            self.quiet_until = self.quiet_until.max(Some(alert.raised_at));
            if let Some(o) = alert.overdue.as_ref().filter(|_| alert.state != AlertState::Resolved) {
                self.open.insert(o.organisation.clone(), alert.clone());
            }
        }
    }

    /// The open alerts, by organisation.
    pub fn open(&self) -> impl Iterator<Item = &Alert> {
        self.open.values()
    }

    /// Checks every organisation at `at`: the events of alerts that opened, changed or resolved.
    /// `name_of` names a municipality (ОКТМО code) for the alert.
    pub fn check(&mut self, at: DateTime<Utc>, name_of: impl Fn(&str) -> String) -> Vec<Alert> {
        if self.quiet_until.is_some_and(|quiet| at <= quiet) {
            return Vec::new();
        }
        let horizon = at - self.config.window;
        self.items = self.items.split_off(&(horizon, String::new()));
        let visible: Vec<Item> = self.items.range(..=(at, char::MAX.to_string())).map(|(_, i)| i.clone()).collect();
        let complaints = first_replies(&visible, &self.responders);
        let overdue = overdue(&self.responders, &self.config, &complaints, at);
        let mut events = Vec::new();
        for found in overdue.values() {
            let name = found.org.municipality.as_deref().map(&name_of).unwrap_or_default();
            let alert = self.alert(found, at, name);
            let changed = match self.open.get(&found.org.id) {
                None => true,
                Some(last) => last.overdue != alert.overdue,
            };
            if changed {
                self.open.insert(found.org.id.clone(), alert.clone());
                events.push(alert);
            }
        }
        let gone: Vec<String> = self.open.keys().filter(|org| !overdue.contains_key(org.as_str())).cloned().collect();
        for org in gone {
            if let Some(mut last) = self.open.remove(&org) {
                last.state = AlertState::Resolved;
                last.raised_at = at;
                events.push(last);
            }
        }
        events
    }

    /// The event for `found` at `at`: opened, or an update of the open alert (same id).
    fn alert(&self, found: &Overdue, at: DateTime<Utc>, municipality_name: String) -> Alert {
        let (org, oldest) = (found.org, found.complaints[0]);
        let last = self.open.get(&org.id);
        let count = found.complaints.len() as u64;
        let listed = found.complaints.iter().take(LISTED).filter_map(|c| {
            let url = c.url.clone().unwrap_or_default();
            Some(AlertIncident { uid: c.uid.parse().ok()?, url, excerpt: String::new(), voices: 1 })
        });
        Alert {
            schema: Schema,
            id: last.map_or_else(|| format!("overdue:{}:{}", org.id, at.format("%Y%m%dT%H%M")), |l| l.id.clone()),
            kind: AlertKind::Overdue,
            state: if last.is_some() { AlertState::Updated } else { AlertState::Opened },
            severity: AlertSeverity::Medium,
            method: "overdue".into(),
            expected_note: None,
            municipality: org.municipality.clone(),
            municipality_name,
            topic: topic_of(org.org_type),
            window_start: oldest.published_at,
            window_end: at,
            observed: count,
            expected: 0.0,
            upper_bound: None,
            p_value: 0.0,
            incidents: count,
            voices: count,
            top_incidents: listed.collect(),
            raised_at: at,
            overdue: Some(AlertOverdue {
                organisation: org.id.clone(),
                organisation_name: org.name.clone(),
                org_type: org.org_type.id().to_owned(),
                deadline_secs: u64::try_from(found.deadline.num_seconds()).unwrap_or(0),
                complaints: count,
                oldest_uid: oldest.uid.clone(),
                oldest_url: oldest.url.clone().unwrap_or_default(),
                oldest_at: oldest.published_at,
            }),
        }
    }
}

/// The unanswered complaints on each organisation's own pages older than its deadline.
fn overdue<'a>(
    responders: &'a Responders,
    config: &OverdueConfig,
    complaints: &'a [Complaint],
    at: DateTime<Utc>,
) -> BTreeMap<&'a str, Overdue<'a>> {
    let mut found: BTreeMap<&str, Overdue> = BTreeMap::new();
    for c in complaints.iter().filter(|c| c.reply.is_none()) {
        let Some(org) = c.addressed_to.as_deref().and_then(|id| responders.by_id(id)) else { continue };
        let Some(&deadline) = config.deadlines.get(&org.org_type) else { continue };
        if at - c.published_at > deadline {
            let entry = found.entry(&org.id).or_insert_with(|| Overdue { org, deadline, complaints: Vec::new() });
            entry.complaints.push(c);
        }
    }
    found
}

/// The topic an overdue alert carries, so that `[[alerts.route]]` topic lists can pick it: the
/// work of management companies, or of the administrations and their services.
pub fn topic_of(org_type: OrgType) -> Topic {
    match org_type {
        OrgType::Administration | OrgType::Ministry => Topic::PublicServices,
        OrgType::Uk | OrgType::Utility | OrgType::Other => Topic::ManagementCompany,
    }
}

#[cfg(test)]
#[path = "overdue_tests.rs"]
mod tests;
