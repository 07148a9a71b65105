//! What the page shows, computed from [`PageData`]'s answers without I/O: alert cards with their
//! incidents, silences and deliveries, the 24-hour table against the usual, the delivery status.

use crate::data::{DataError, HourCell, IncidentView, PageData};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use otklik_model::{Alert, AlertState, DeliveryOutcome, DeliveryRecord, Silence};
use std::collections::{BTreeMap, HashMap};

/// How far back resolved alerts and deliveries are listed.
pub const RECENT: TimeDelta = TimeDelta::days(7);
/// The weeks whose same 24 hours give the usual count.
pub const USUAL_WEEKS: i64 = 8;
/// Incidents listed under one alert.
const CARD_INCIDENTS: usize = 8;
/// Rows of the 24-hour table; the rest are counted.
const TABLE_ROWS: usize = 40;
/// Notifications listed; the rest are counted.
const NOTIFICATION_ROWS: usize = 30;

/// One alert as the page shows it.
#[derive(Debug, Clone)]
pub struct AlertCard {
    pub alert: Alert,
    /// Not resolved at the page's clock.
    pub open: bool,
    /// Shown unfolded: open, and not a region's alert repeating an open local one's incidents.
    pub expanded: bool,
    /// The latest stored event was raised after the page's clock (a page of the past): then.
    pub later_event: Option<DateTime<Utc>>,
    /// Its incidents with posts in its window, most voices first (empty: show the alert's own
    /// top incidents).
    pub incidents: Vec<IncidentView>,
    /// An active silence covering it.
    pub silence: Option<Silence>,
    /// The latest delivery of a notification naming it, one per receiver.
    pub deliveries: Vec<(String, DeliveryOutcome, DateTime<Utc>)>,
}

/// One municipality × topic of the last 24 hours.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub municipality: String,
    pub municipality_name: String,
    pub topic: String,
    pub observed: u64,
    /// The mean of the same 24 hours of the previous weeks; `None` without history.
    pub usual: Option<f64>,
    /// An open alert of the cell: its window, observed and expected (what the detector expected).
    pub alert: Option<(DateTime<Utc>, DateTime<Utc>, u64, f64)>,
}

/// The last 24 hours against the usual.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rows: Vec<TableRow>,
    /// Weeks of history the usual is the mean of (fewer than [`USUAL_WEEKS`] in a young store).
    pub weeks: i64,
    /// Rows left out of `rows`.
    pub hidden: usize,
}

/// Where one notification stands: its latest log record.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRow {
    pub id: String,
    pub receiver: String,
    pub group_key: String,
    pub alert_ids: Vec<String>,
    pub outcome: DeliveryOutcome,
    pub attempts: u32,
    pub at: DateTime<Utc>,
    pub status_code: u16,
    pub detail: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// One receiver's notifications by their latest outcome.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiverRow {
    pub name: String,
    pub delivered: usize,
    pub pending: usize,
    pub failed: usize,
    pub suppressed: usize,
    pub disabled: bool,
    pub last_delivered: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deliveries {
    pub receivers: Vec<ReceiverRow>,
    /// Newest first.
    pub notifications: Vec<NotificationRow>,
    pub hidden: usize,
}

/// Everything on the page at one moment; a section that could not be read carries its error.
#[derive(Debug)]
pub struct Snapshot {
    pub now: DateTime<Utc>,
    pub alerts: Result<Vec<AlertCard>, DataError>,
    pub table: Result<Table, DataError>,
    pub silences: Result<Vec<Silence>, DataError>,
    pub deliveries: Result<Deliveries, DataError>,
}

impl Snapshot {
    /// Reads everything the page shows as of `now`.
    pub async fn load(data: &dyn PageData, now: DateTime<Utc>) -> Snapshot {
        let history_from = day_window(now).0 - TimeDelta::weeks(USUAL_WEEKS);
        let (alerts, hourly, silences, records) = tokio::join!(
            data.alerts(now - RECENT),
            data.hourly_voices(history_from),
            data.silences(now),
            data.deliveries(now - RECENT)
        );
        let alerts: Vec<Alert> = match alerts {
            Ok(alerts) => alerts.into_iter().filter(|a| a.window_start <= now).collect(),
            Err(e) => return Snapshot::without_alerts(now, e, hourly, silences, records),
        };
        let incidents = match alerts.iter().map(|a| a.window_start).min() {
            Some(first) => data.incidents(first, now.max(first)).await,
            None => Ok(Vec::new()),
        };
        // Overdue alerts are about an organisation, not a topic's voices: not in the day's table.
        let open: Vec<&Alert> = alerts.iter().filter(|a| is_open(a, now) && a.kind.is_spike()).collect();
        let table = hourly.map(|cells| table(&cells, &open, now));
        let no_silences = Vec::new();
        let no_records = Vec::new();
        let cards = incidents.map(|incidents| {
            let silences = silences.as_ref().unwrap_or(&no_silences);
            let records = records.as_ref().unwrap_or(&no_records);
            cards(alerts, &incidents, silences, records, now)
        });
        Snapshot { now, alerts: cards, table, silences, deliveries: records.map(|r| deliveries(&r)) }
    }

    fn without_alerts(
        now: DateTime<Utc>,
        error: DataError,
        hourly: Result<Vec<HourCell>, DataError>,
        silences: Result<Vec<Silence>, DataError>,
        records: Result<Vec<DeliveryRecord>, DataError>,
    ) -> Snapshot {
        let table = hourly.map(|cells| table(&cells, &[], now));
        Snapshot { now, alerts: Err(error), table, silences, deliveries: records.map(|r| deliveries(&r)) }
    }
}

/// The 24 hours the table counts: the current hour and the 23 before it.
pub fn day_window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    (hour - TimeDelta::hours(23), hour + TimeDelta::hours(1))
}

/// Whether the alert was open at `now`. An alert whose latest stored event came after `now`
/// (a page of the past) is counted open then: its later event is an update or its resolution.
pub fn is_open(alert: &Alert, now: DateTime<Utc>) -> bool {
    alert.raised_at > now || alert.state != AlertState::Resolved
}

/// Open alerts first (the most severe first), then the rest, newest first.
pub fn cards(
    alerts: Vec<Alert>,
    incidents: &[IncidentView],
    silences: &[Silence],
    records: &[DeliveryRecord],
    now: DateTime<Utc>,
) -> Vec<AlertCard> {
    let mut cards: Vec<AlertCard> = alerts
        .into_iter()
        .map(|alert| AlertCard {
            open: is_open(&alert, now),
            expanded: false,
            later_event: (alert.raised_at > now).then_some(alert.raised_at),
            incidents: incidents_of(&alert, incidents),
            silence: silences.iter().find(|s| s.active(now) && s.matches(&alert)).cloned(),
            deliveries: deliveries_of(&alert, records),
            alert,
        })
        .collect();
    let local = cards.iter().filter(|c| c.open && c.alert.municipality.is_some() && c.alert.kind.is_spike());
    let local_topics: Vec<_> = local.map(|c| c.alert.topic).collect();
    for card in &mut cards {
        card.expanded = card.open && (card.alert.municipality.is_some() || !local_topics.contains(&card.alert.topic));
    }
    cards.sort_by(|a, b| {
        let key = |c: &AlertCard| (c.open, c.open.then_some(c.alert.severity), c.alert.raised_at);
        key(b).cmp(&key(a)).then_with(|| a.alert.id.cmp(&b.alert.id))
    });
    cards
}

/// The incidents of the alert's topic and place with posts in its window, most voices first.
fn incidents_of(alert: &Alert, incidents: &[IncidentView]) -> Vec<IncidentView> {
    if alert.overdue.is_some() {
        // Its complaints are its own top incidents (the oldest unanswered ones).
        return Vec::new();
    }
    let topic = alert.topic.id();
    let mut found: Vec<IncidentView> = incidents
        .iter()
        .filter(|i| i.topic.as_deref() == Some(topic))
        .filter(|i| alert.municipality.is_none() || i.municipality == alert.municipality)
        .filter(|i| i.first_seen < alert.window_end && i.last_seen >= alert.window_start)
        .cloned()
        .collect();
    found.sort_by(|a, b| b.voices.cmp(&a.voices).then(b.posts.cmp(&a.posts)).then(a.first_seen.cmp(&b.first_seen)));
    found.truncate(CARD_INCIDENTS);
    found
}

/// Per receiver, the latest record of a notification naming the alert.
fn deliveries_of(alert: &Alert, records: &[DeliveryRecord]) -> Vec<(String, DeliveryOutcome, DateTime<Utc>)> {
    let mut latest: BTreeMap<&str, &DeliveryRecord> = BTreeMap::new();
    for record in records.iter().filter(|r| r.alert_ids.contains(&alert.id)) {
        let newer = latest.get(record.receiver.as_str()).is_none_or(|kept| order(kept) <= order(record));
        if newer {
            latest.insert(&record.receiver, record);
        }
    }
    latest.into_iter().map(|(receiver, r)| (receiver.to_owned(), r.outcome, r.at)).collect()
}

/// Log records of one notification in the order they were written.
fn order(record: &DeliveryRecord) -> (DateTime<Utc>, u32) {
    (record.at, record.attempt)
}

/// Voices of each municipality × topic in the day window, against the mean of the same hours of
/// the previous weeks the cells cover; cells with open alerts also carry the detector's figures.
pub fn table(cells: &[HourCell], open: &[&Alert], now: DateTime<Utc>) -> Table {
    let (from, to) = day_window(now);
    let week = |k: i64| (from - TimeDelta::weeks(k), to - TimeDelta::weeks(k));
    let earliest = cells.iter().map(|c| c.hour).min();
    let weeks = (1..=USUAL_WEEKS).filter(|&k| earliest.is_some_and(|e| e < week(k).1)).count() as i64;
    let mut observed: HashMap<(&str, &str), u64> = HashMap::new();
    let mut before: HashMap<(&str, &str), u64> = HashMap::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    for cell in cells.iter().filter(|c| !c.topic.is_empty()) {
        let key = (cell.municipality.as_str(), cell.topic.as_str());
        if !cell.municipality_name.is_empty() {
            names.insert(&cell.municipality, &cell.municipality_name);
        }
        if cell.hour >= from && cell.hour < to {
            *observed.entry(key).or_default() += cell.voices;
        } else if (1..=weeks).any(|k| cell.hour >= week(k).0 && cell.hour < week(k).1) {
            *before.entry(key).or_default() += cell.voices;
        }
    }
    let alert_of =
        |m: &str, t: &str| open.iter().find(|a| a.municipality.as_deref() == Some(m) && a.topic.id() == t).copied();
    let mut keys: Vec<(&str, &str)> = observed.iter().filter(|(_, &n)| n > 0).map(|(k, _)| *k).collect();
    for alert in open {
        if let Some(m) = alert.municipality.as_deref() {
            keys.push((m, alert.topic.id()));
        }
    }
    keys.sort();
    keys.dedup();
    let mut rows: Vec<TableRow> = keys
        .into_iter()
        .map(|(m, t)| {
            let alert = alert_of(m, t);
            let name = names.get(m).map(|n| n.to_string()).or_else(|| alert.map(|a| a.municipality_name.clone()));
            TableRow {
                municipality: m.to_owned(),
                municipality_name: name.unwrap_or_default(),
                topic: t.to_owned(),
                observed: observed.get(&(m, t)).copied().unwrap_or(0),
                usual: (weeks > 0).then(|| before.get(&(m, t)).copied().unwrap_or(0) as f64 / weeks as f64),
                alert: alert.map(|a| (a.window_start, a.window_end, a.observed, a.expected)),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let excess = |r: &TableRow| r.observed as f64 - r.usual.unwrap_or(0.0);
        (b.alert.is_some(), excess(b), b.observed)
            .partial_cmp(&(a.alert.is_some(), excess(a), a.observed))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| (&a.municipality, &a.topic).cmp(&(&b.municipality, &b.topic)))
    });
    let hidden = rows.len().saturating_sub(TABLE_ROWS);
    rows.truncate(TABLE_ROWS);
    Table { from, to, rows, weeks, hidden }
}

/// Each notification's latest record, newest first, and each receiver's totals.
pub fn deliveries(records: &[DeliveryRecord]) -> Deliveries {
    let mut latest: HashMap<&str, (&DeliveryRecord, u32)> = HashMap::new();
    for record in records {
        let entry = latest.entry(&record.notification_id).or_insert((record, 0));
        entry.1 = entry.1.max(record.attempt);
        if order(entry.0) <= order(record) {
            entry.0 = record;
        }
    }
    let mut receivers: BTreeMap<&str, ReceiverRow> = BTreeMap::new();
    let mut notifications: Vec<NotificationRow> = Vec::new();
    for (record, attempts) in latest.into_values() {
        let row = receivers
            .entry(&record.receiver)
            .or_insert_with(|| ReceiverRow { name: record.receiver.clone(), ..ReceiverRow::default() });
        count(row, record);
        notifications.push(NotificationRow {
            id: record.notification_id.clone(),
            receiver: record.receiver.clone(),
            group_key: record.group_key.clone(),
            alert_ids: record.alert_ids.clone(),
            outcome: record.outcome,
            attempts,
            at: record.at,
            status_code: record.status_code,
            detail: record.detail.clone(),
            next_attempt_at: record.next_attempt_at,
        });
    }
    notifications.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
    let hidden = notifications.len().saturating_sub(NOTIFICATION_ROWS);
    notifications.truncate(NOTIFICATION_ROWS);
    Deliveries { receivers: receivers.into_values().collect(), notifications, hidden }
}

fn count(row: &mut ReceiverRow, record: &DeliveryRecord) {
    match record.outcome {
        DeliveryOutcome::Delivered => {
            row.delivered += 1;
            row.last_delivered = row.last_delivered.max(Some(record.at));
        }
        DeliveryOutcome::Queued | DeliveryOutcome::Retry => row.pending += 1,
        DeliveryOutcome::Failed => row.failed += 1,
        DeliveryOutcome::Disabled => {
            row.failed += 1;
            row.disabled = true;
        }
        DeliveryOutcome::Silenced | DeliveryOutcome::Inhibited => row.suppressed += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use otklik_model::Schema;

    fn cell(hour: DateTime<Utc>, voices: u64) -> HourCell {
        let (municipality, municipality_name) = ("56701000".into(), "город Пенза".into());
        HourCell { hour, municipality, municipality_name, topic: "roads".into(), voices }
    }

    #[test]
    fn the_usual_is_the_mean_of_the_weeks_the_store_holds() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 6, 30, 0).unwrap();
        let (from, to) = day_window(now);
        assert_eq!((to - from, to), (TimeDelta::hours(24), Utc.with_ymd_and_hms(2026, 11, 20, 7, 0, 0).unwrap()));
        // Three weeks of history: 2, 4 and 6 voices on the same day; a voice just outside them.
        let mut cells = vec![cell(now, 5)];
        cells.extend([(1, 2), (2, 4), (3, 6)].map(|(k, n)| cell(now - TimeDelta::weeks(k), n)));
        cells.push(cell(from - TimeDelta::weeks(1) - TimeDelta::hours(1), 100));
        let table = table(&cells, &[], now);
        assert_eq!(table.weeks, 3);
        assert_eq!(table.rows.len(), 1);
        assert_eq!((table.rows[0].observed, table.rows[0].usual), (5, Some(4.0)));
        let fresh = super::table(&[cell(now, 1)], &[], now);
        assert_eq!((fresh.weeks, fresh.rows[0].usual), (0, None), "no history: no usual");
    }

    fn record(id: &str, receiver: &str, attempt: u32, minute: u32, outcome: DeliveryOutcome) -> DeliveryRecord {
        DeliveryRecord {
            schema: Schema,
            notification_id: id.into(),
            receiver: receiver.into(),
            group_key: "56705000".into(),
            alert_ids: vec!["a1".into()],
            attempt,
            at: Utc.with_ymd_and_hms(2026, 11, 20, 4, minute, 0).unwrap(),
            outcome,
            status_code: 0,
            detail: String::new(),
            next_attempt_at: None,
            message_ids: vec![],
            notification: None,
        }
    }

    fn alert(municipality: Option<&str>, topic: otklik_model::Topic, state: AlertState) -> Alert {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 5, 0, 0).unwrap();
        Alert {
            schema: Schema,
            id: format!("{}:{topic}", municipality.unwrap_or("region")),
            kind: otklik_model::AlertKind::Spike,
            state,
            severity: otklik_model::AlertSeverity::High,
            method: "baseline".into(),
            expected_note: None,
            municipality: municipality.map(str::to_owned),
            municipality_name: String::new(),
            topic,
            window_start: at - TimeDelta::hours(3),
            window_end: at,
            observed: 20,
            expected: 0.1,
            upper_bound: None,
            p_value: 1e-9,
            incidents: 5,
            voices: 20,
            top_incidents: vec![],
            raised_at: at,
            overdue: None,
        }
    }

    #[test]
    fn a_regions_alert_repeating_an_open_local_one_is_folded() {
        use otklik_model::Topic::{Electricity, Heating};
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
        let alerts = vec![
            alert(None, Heating, AlertState::Updated),
            alert(Some("56705000"), Heating, AlertState::Updated),
            alert(None, Electricity, AlertState::Opened),
            alert(Some("56701000"), Electricity, AlertState::Resolved),
        ];
        let shown: Vec<(String, bool, bool)> =
            cards(alerts, &[], &[], &[], now).into_iter().map(|c| (c.alert.id, c.open, c.expanded)).collect();
        let expanded = |id: &str| shown.iter().find(|(i, _, _)| i == id).map(|(_, open, expanded)| (*open, *expanded));
        assert_eq!(expanded("56705000:heating"), Some((true, true)));
        assert_eq!(expanded("region:heating"), Some((true, false)), "the local alert tells it already");
        assert_eq!(expanded("region:electricity"), Some((true, true)), "its local alert is closed");
        assert_eq!(expanded("56701000:electricity"), Some((false, false)));
        assert_eq!(shown.last().map(|(id, _, _)| id.as_str()), Some("56701000:electricity"), "closed ones last");
    }

    #[test]
    fn each_notification_stands_at_its_latest_record() {
        use DeliveryOutcome::*;
        let records = [
            record("hook:1", "hook", 0, 0, Queued),
            record("hook:1", "hook", 1, 1, Retry),
            record("hook:1", "hook", 2, 3, Delivered),
            record("tg:1", "tg", 0, 0, Queued),
            record("tg:1", "tg", 1, 1, Retry),
            record("gone:1", "gone", 1, 2, Disabled),
        ];
        let d = deliveries(&records);
        let states: Vec<(&str, DeliveryOutcome, u32)> =
            d.notifications.iter().map(|n| (n.id.as_str(), n.outcome, n.attempts)).collect();
        assert_eq!(states, [("hook:1", Delivered, 2), ("gone:1", Disabled, 1), ("tg:1", Retry, 1)]);
        let hook = d.receivers.iter().find(|r| r.name == "hook").unwrap();
        assert_eq!((hook.delivered, hook.pending, hook.last_delivered), (1, 0, Some(records[2].at)));
        assert!(d.receivers.iter().any(|r| r.name == "gone" && r.disabled && r.failed == 1));
        assert!(d.receivers.iter().any(|r| r.name == "tg" && r.pending == 1));
    }
}
