//! The router on plain time values: grouping, throttling, reminders, resolution, inhibition,
//! silences, routing rules, restarts and its config.

use chrono::{DateTime, Duration, TimeZone, Utc};
use otklik_alert::route::{RouteRule, Routed, Router, RouterConfig};
use otklik_model::{
    Alert, AlertSeverity, AlertState, DeliveryOutcome, Notification, NotificationKind, Schema, Silence, Topic,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const PENZA: &str = "56701000";
const KUZNECK: &str = "56705000";
const ZARECHNY: &str = "56734000";
const SERDOBSK: &str = "56656000";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn alert(municipality: Option<&str>, topic: Topic, observed: u64) -> Alert {
    let place = municipality.unwrap_or("region");
    Alert {
        schema: Schema,
        id: format!("{place}:{topic}:20261120T03"),
        kind: otklik_model::AlertKind::Spike,
        state: AlertState::Opened,
        severity: AlertSeverity::Low,
        method: "baseline".into(),
        expected_note: None,
        municipality: municipality.map(str::to_owned),
        municipality_name: String::new(),
        topic,
        window_start: t0(),
        window_end: t0() + Duration::hours(1),
        observed,
        expected: 0.5,
        upper_bound: None,
        p_value: 1e-6,
        incidents: 1,
        voices: observed,
        top_incidents: Vec::new(),
        raised_at: t0() + Duration::minutes(observed as i64),
        overdue: None,
    }
}

/// The next event of an alert: more voices, raised later.
fn update(alert: &Alert, observed: u64) -> Alert {
    Alert { state: AlertState::Updated, observed, raised_at: alert.raised_at + Duration::minutes(1), ..alert.clone() }
}

fn resolve(alert: &Alert) -> Alert {
    Alert { state: AlertState::Resolved, raised_at: alert.raised_at + Duration::minutes(2), ..alert.clone() }
}

fn rule(receivers: &[&str]) -> RouteRule {
    RouteRule { receivers: receivers.iter().map(|r| r.to_string()).collect(), ..RouteRule::default() }
}

fn router() -> Router {
    Router::new(RouterConfig { routes: vec![rule(&["duty"])], ..RouterConfig::default() })
}

fn ids(routed: &Routed) -> Vec<(&str, NotificationKind, usize)> {
    routed.send.iter().map(|n| (n.id.as_str(), n.kind, n.alerts.len())).collect()
}

fn silence(series: &str, from: i64, to: i64) -> Silence {
    Silence {
        schema: Schema,
        id: "s1".into(),
        series: series.into(),
        starts_at: at(from),
        ends_at: at(to),
        reason: "плановые работы".into(),
        created_by: "duty".into(),
    }
}

#[test]
fn five_alerts_in_a_minute_are_one_message() {
    let mut r = router();
    let topics = [Topic::Heating, Topic::HotWater, Topic::ColdWater, Topic::Electricity, Topic::Lifts];
    for (i, topic) in topics.into_iter().enumerate() {
        let now = at(i as i64 * 10);
        r.on_alert(alert(Some(KUZNECK), topic, 5), now);
        assert!(r.due(now).send.is_empty(), "nothing before the group wait");
    }
    assert_eq!(r.next_due(), Some(at(60)));
    let routed = r.due(at(60));
    assert_eq!(ids(&routed), [("duty:56705000:1", NotificationKind::Opened, 5)]);
    assert_eq!(routed.send[0].thread, "56705000:20261120T0300");
    assert_eq!(routed.send[0].group_key, KUZNECK);
    assert!(r.due(at(61)).send.is_empty());
}

#[test]
fn updates_wait_for_the_group_interval() {
    let mut r = router();
    let first = alert(Some(KUZNECK), Topic::Heating, 5);
    r.on_alert(first.clone(), at(0));
    assert_eq!(r.due(at(60)).send.len(), 1);
    r.on_alert(update(&first, 9), at(120));
    r.on_alert(update(&update(&first, 9), 14), at(300));
    r.on_alert(alert(Some(KUZNECK), Topic::Lifts, 6), at(400));
    assert_eq!(r.next_due(), Some(at(60 + 900)), "15 minutes after the opening");
    assert!(r.due(at(600)).send.is_empty());
    let routed = r.due(at(960));
    assert_eq!(ids(&routed), [("duty:56705000:2", NotificationKind::Updated, 2)]);
    let heating = routed.send[0].alerts.iter().find(|a| a.topic == Topic::Heating).unwrap();
    assert_eq!(heating.observed, 14, "the latest event of each alert");
    r.on_alert(update(&first, 9), at(1000));
    assert!(r.due(at(3000)).send.is_empty(), "an older event is no change");
}

#[test]
fn reminders_come_every_repeat_interval_while_open() {
    let mut r = router();
    r.on_alert(alert(Some(PENZA), Topic::Roads, 5), at(0));
    r.due(at(60));
    assert_eq!(r.next_due(), Some(at(60 + 4 * 3600)));
    assert!(r.due(at(60 + 4 * 3600 - 1)).send.is_empty());
    let routed = r.due(at(60 + 4 * 3600));
    assert_eq!(ids(&routed), [("duty:56701000:2", NotificationKind::Reminder, 1)]);
    assert_eq!(r.next_due(), Some(at(60 + 8 * 3600)));
}

#[test]
fn next_change_names_news_and_not_reminders() {
    let mut r = router();
    let first = alert(Some(PENZA), Topic::Roads, 5);
    r.on_alert(first.clone(), at(0));
    assert_eq!(r.next_change(), Some(at(60)), "the opening is news");
    r.due(at(60));
    assert_eq!(r.next_change(), None, "an open alert with nothing new has only reminders to come");
    assert_eq!(r.next_due(), Some(at(60 + 4 * 3600)));
    r.on_alert(update(&first, 9), at(120));
    assert_eq!(r.next_change(), Some(at(60 + 900)), "an update waits for the group interval");
}

#[test]
fn resolution_is_sent_once_and_ends_the_episode() {
    let mut r = router();
    let heating = alert(Some(KUZNECK), Topic::Heating, 5);
    let lifts = alert(Some(KUZNECK), Topic::Lifts, 6);
    r.on_alert(heating.clone(), at(0));
    r.on_alert(lifts.clone(), at(0));
    r.due(at(60));
    r.on_alert(resolve(&heating), at(600));
    let routed = r.due(at(960));
    assert_eq!(ids(&routed), [("duty:56705000:2", NotificationKind::Updated, 2)]);
    assert_eq!(routed.send[0].status(), "firing");
    r.on_alert(resolve(&lifts), at(1000));
    let routed = r.due(at(1860));
    assert_eq!(ids(&routed), [("duty:56705000:3", NotificationKind::Resolved, 1)]);
    assert_eq!(routed.send[0].status(), "resolved");
    r.on_alert(resolve(&lifts), at(2000));
    r.on_alert(resolve(&heating), at(2000));
    assert_eq!(r.next_due(), None);
    assert!(r.due(at(99_999)).send.is_empty(), "a repeated resolution is not sent again");

    let later = Alert { id: format!("{KUZNECK}:heating:20261120T09"), ..alert(Some(KUZNECK), Topic::Heating, 30) };
    r.on_alert(later, at(6 * 3600));
    let routed = r.due(at(6 * 3600 + 60));
    assert_eq!(ids(&routed), [("duty:56705000:4", NotificationKind::Opened, 1)]);
    assert_eq!(routed.send[0].thread, "56705000:20261120T0900", "a new episode, a new thread");
}

#[test]
fn a_resolution_of_an_alert_never_sent_is_not_sent() {
    let mut r = router();
    let heating = alert(Some(KUZNECK), Topic::Heating, 5);
    r.on_alert(heating.clone(), at(0));
    r.on_alert(resolve(&heating), at(30));
    assert_eq!(r.next_due(), None);
    assert!(r.due(at(600)).send.is_empty());
    r.on_alert(resolve(&heating), at(700));
    assert!(r.flush(at(800)).send.is_empty());
}

#[test]
fn three_local_alerts_go_out_as_one_regional_group() {
    let mut r = router();
    for (i, place) in [PENZA, KUZNECK, ZARECHNY].into_iter().enumerate() {
        r.on_alert(alert(Some(place), Topic::Heating, 5), at(i as i64 * 10));
    }
    r.on_alert(alert(Some(PENZA), Topic::Roads, 5), at(0));
    let routed = r.due(at(60));
    let mut sent: Vec<_> = ids(&routed);
    sent.sort_by_key(|s| s.0);
    assert_eq!(
        sent,
        [("duty:56701000:1", NotificationKind::Opened, 1), ("duty:region:heating:1", NotificationKind::Opened, 3)]
    );
    let inhibited: BTreeSet<(&str, &str)> =
        routed.suppressed.iter().map(|d| (d.group_key.as_str(), d.detail.as_str())).collect();
    let expected: BTreeSet<(&str, &str)> =
        [(PENZA, "region:heating"), (KUZNECK, "region:heating"), (ZARECHNY, "region:heating")].into();
    assert_eq!(inhibited, expected);
    assert!(routed.suppressed.iter().all(|d| d.outcome == DeliveryOutcome::Inhibited && d.receiver == "duty"));
    assert_eq!(routed.suppressed[0].notification_id, format!("duty:{}", routed.suppressed[0].alert_ids[0]));
    assert!(r.due(at(5 * 3600)).suppressed.is_empty(), "each event is recorded once, reminders add nothing");
}

#[test]
fn a_region_series_alert_inhibits_its_local_ones() {
    // Four municipalities would be needed without the region's own alert.
    let cfg = RouterConfig { regional_min_municipalities: 4, routes: vec![rule(&["duty"])], ..RouterConfig::default() };
    let mut r = Router::new(cfg);
    r.on_alert(alert(None, Topic::Heating, 40), at(0));
    r.on_alert(alert(Some(PENZA), Topic::Heating, 12), at(5));
    r.on_alert(alert(Some(KUZNECK), Topic::Heating, 6), at(10));
    r.on_alert(alert(Some(SERDOBSK), Topic::Heating, 7), at(20));
    r.on_alert(alert(Some(SERDOBSK), Topic::Roads, 7), at(0));
    let routed = r.due(at(60));
    let mut sent = ids(&routed);
    sent.sort_by_key(|s| s.0);
    assert_eq!(
        sent,
        [("duty:56656000:1", NotificationKind::Opened, 1), ("duty:region:heating:1", NotificationKind::Opened, 4)]
    );
    let inhibited: BTreeSet<&str> = routed.suppressed.iter().map(|d| d.group_key.as_str()).collect();
    assert_eq!(inhibited, [SERDOBSK, PENZA, KUZNECK].into());
    assert!(routed.suppressed.iter().all(|d| d.outcome == DeliveryOutcome::Inhibited && d.detail == "region:heating"));
}

#[test]
fn an_alert_joining_later_moves_to_the_regional_thread_and_its_own_hears_the_resolution() {
    let mut r = router();
    let penza = alert(Some(PENZA), Topic::Heating, 5);
    r.on_alert(penza.clone(), at(0));
    assert_eq!(ids(&r.due(at(60))), [("duty:56701000:1", NotificationKind::Opened, 1)]);
    r.on_alert(alert(Some(KUZNECK), Topic::Heating, 5), at(100));
    r.on_alert(alert(Some(ZARECHNY), Topic::Heating, 5), at(110));
    let routed = r.due(at(160));
    assert_eq!(ids(&routed), [("duty:region:heating:1", NotificationKind::Opened, 3)]);
    assert_eq!(routed.suppressed.len(), 3);
    r.on_alert(resolve(&penza), at(1000));
    let routed = r.due(at(2000));
    let mut sent = ids(&routed);
    sent.sort_by_key(|s| s.0);
    assert_eq!(
        sent,
        [("duty:56701000:2", NotificationKind::Resolved, 1), ("duty:region:heating:2", NotificationKind::Updated, 3)]
    );
}

#[test]
fn a_silenced_alert_is_recorded_not_sent() {
    let mut r = router();
    r.set_silences(vec![silence("56705000:heating", 0, 3600)]);
    let heating = alert(Some(KUZNECK), Topic::Heating, 5);
    r.on_alert(heating.clone(), at(0));
    r.on_alert(alert(Some(KUZNECK), Topic::Lifts, 5), at(0));
    let routed = r.due(at(60));
    assert_eq!(ids(&routed), [("duty:56705000:1", NotificationKind::Opened, 1)]);
    assert_eq!(routed.send[0].alerts[0].topic, Topic::Lifts);
    assert_eq!(routed.suppressed.len(), 1);
    let record = &routed.suppressed[0];
    assert_eq!(record.outcome, DeliveryOutcome::Silenced);
    assert_eq!(record.alert_ids, std::slice::from_ref(&heating.id));
    assert_eq!(record.detail, "silence s1: плановые работы");
    assert_eq!(record.group_key, KUZNECK);

    r.on_alert(update(&heating, 9), at(600));
    let routed = r.due(at(960));
    assert!(routed.send.is_empty(), "a silenced update is no message");
    assert_eq!(routed.suppressed.len(), 1, "but it is recorded");
    assert!(r.due(at(3000)).suppressed.is_empty(), "once");

    r.on_alert(update(&update(&heating, 9), 20), at(4000));
    let routed = r.due(at(4000));
    assert_eq!(ids(&routed), [("duty:56705000:2", NotificationKind::Updated, 2)], "the silence expired at 3600");
    assert!(routed.suppressed.is_empty());
}

#[test]
fn silences_are_checked_when_the_group_is_due() {
    let mut r = router();
    r.on_alert(alert(Some(KUZNECK), Topic::Heating, 5), at(0));
    r.on_alert(alert(Some(PENZA), Topic::Heating, 5), at(0));
    r.set_silences(vec![silence("56705000:*", 30, 3600), silence("56701000:*", -3600, 50)]);
    let routed = r.due(at(60));
    assert_eq!(ids(&routed), [("duty:56701000:1", NotificationKind::Opened, 1)], "Пенза's silence ended at 50");
    assert_eq!(routed.suppressed.len(), 1);
    assert_eq!(routed.suppressed[0].group_key, KUZNECK, "Кузнецк's began at 30");
}

#[test]
fn an_alert_whose_silence_ended_comes_with_the_next_reminder_as_news() {
    let mut r = router();
    r.set_silences(vec![silence("56705000:heating", 0, 3600)]);
    r.on_alert(alert(Some(KUZNECK), Topic::Heating, 5), at(0));
    r.on_alert(alert(Some(KUZNECK), Topic::Lifts, 5), at(0));
    assert_eq!(ids(&r.due(at(60))), [("duty:56705000:1", NotificationKind::Opened, 1)]);
    assert!(r.due(at(7200)).send.is_empty(), "the silence's end sends nothing by itself");
    let routed = r.due(at(60 + 4 * 3600));
    assert_eq!(ids(&routed), [("duty:56705000:2", NotificationKind::Updated, 2)]);
}

#[test]
fn a_group_whose_alerts_are_all_silenced_sends_nothing() {
    let mut r = router();
    r.set_silences(vec![silence("*:heating", 0, 6 * 3600)]);
    r.on_alert(alert(Some(KUZNECK), Topic::Heating, 5), at(0));
    r.on_alert(alert(None, Topic::Heating, 50), at(0));
    let routed = r.due(at(60));
    assert!(routed.send.is_empty());
    assert_eq!(routed.suppressed.len(), 2);
    assert!(routed.suppressed.iter().all(|d| d.outcome == DeliveryOutcome::Silenced));
    assert_eq!(r.next_due(), None, "nothing pending: the caller sleeps until the next event");
}

#[test]
fn expected_alerts_are_not_sent() {
    let mut r = router();
    let note = Some("начало отопительного сезона".to_owned());
    let season = Alert { expected_note: note, ..alert(Some(PENZA), Topic::Heating, 9) };
    r.on_alert(season.clone(), at(0));
    assert_eq!(r.next_due(), None);
    r.on_alert(resolve(&season), at(3600));
    let routed = r.flush(at(7200));
    assert!(routed.send.is_empty() && routed.suppressed.is_empty());
}

#[test]
fn rules_route_to_the_first_match_or_continue() {
    let high = |place: Option<&str>| Alert { severity: AlertSeverity::High, ..alert(place, Topic::Heating, 9) };
    let routes = vec![
        RouteRule { municipality: vec![PENZA.into()], ..rule(&["penza"]) },
        RouteRule {
            topic: vec![Topic::Heating],
            min_severity: Some(AlertSeverity::High),
            continue_matching: true,
            ..rule(&["boss"])
        },
        rule(&["all"]),
    ];
    let receivers = |a: Alert| {
        let mut r = Router::new(RouterConfig { routes: routes.clone(), ..RouterConfig::default() });
        r.on_alert(a, at(0));
        r.flush(at(0)).send.into_iter().map(|n| n.receiver).collect::<Vec<_>>()
    };
    assert_eq!(receivers(high(Some(PENZA))), ["penza"], "the first matching rule wins");
    assert_eq!(receivers(high(Some(KUZNECK))), ["all", "boss"]);
    assert_eq!(receivers(alert(Some(KUZNECK), Topic::Heating, 9)), ["all"], "below min_severity");
    assert_eq!(receivers(alert(Some(KUZNECK), Topic::Roads, 9)), ["all"]);
    assert_eq!(receivers(high(None)), ["all", "boss"], "a region series skips municipality rules");

    let mut r = Router::new(RouterConfig { routes: vec![routes[0].clone()], ..RouterConfig::default() });
    r.on_alert(alert(Some(KUZNECK), Topic::Roads, 9), at(0));
    assert_eq!(r.next_due(), None, "no rule matches: not sent, recorded nowhere");
    assert_eq!(r.flush(at(60)), Routed::default());
}

#[test]
fn flush_sends_every_pending_group_now() {
    let mut r = router();
    let heating = alert(Some(KUZNECK), Topic::Heating, 5);
    r.on_alert(heating.clone(), at(0));
    assert_eq!(ids(&r.flush(at(1))), [("duty:56705000:1", NotificationKind::Opened, 1)]);
    r.on_alert(update(&heating, 8), at(2));
    r.on_alert(alert(Some(PENZA), Topic::Roads, 5), at(2));
    let routed = r.flush(at(3));
    let mut sent = ids(&routed);
    sent.sort_by_key(|s| s.0);
    assert_eq!(
        sent,
        [("duty:56701000:1", NotificationKind::Opened, 1), ("duty:56705000:2", NotificationKind::Updated, 1)]
    );
    assert!(r.flush(at(4)).send.is_empty(), "a reminder is not pending");
}

#[test]
fn a_restart_mid_episode_neither_repeats_nor_renumbers() {
    let heating = alert(Some(KUZNECK), Topic::Heating, 5);
    let mut before = router();
    let mut sent: Vec<Notification> = Vec::new();
    before.on_alert(heating.clone(), at(0));
    sent.extend(before.due(at(60)).send);
    before.on_alert(update(&heating, 9), at(120));
    sent.extend(before.due(at(960)).send);
    assert_eq!(sent.len(), 2);

    let mut after = router();
    after.restore(&sent);
    after.on_alert(heating.clone(), at(1000));
    after.on_alert(update(&heating, 9), at(1000));
    assert!(after.due(at(1000)).send.is_empty(), "what was sent is not sent again");
    assert_eq!(after.next_due(), Some(at(960 + 4 * 3600)), "the reminder keeps its time");
    after.on_alert(update(&update(&heating, 9), 15), at(1100));
    let routed = after.due(at(1100 + 900));
    assert_eq!(ids(&routed), [("duty:56705000:3", NotificationKind::Updated, 1)]);
    assert_eq!(routed.send[0].thread, sent[0].thread, "the same thread");

    let mut empty = router();
    empty.restore(&sent);
    let routed = empty.due(at(960 + 4 * 3600));
    assert_eq!(ids(&routed), [("duty:56705000:3", NotificationKind::Reminder, 1)], "the alerts come back with it");
    empty.on_alert(resolve(&update(&heating, 9)), at(20_000));
    assert_eq!(ids(&empty.due(at(20_000))), [("duty:56705000:4", NotificationKind::Resolved, 1)]);
}

#[test]
fn a_restart_after_a_resolution_opens_a_new_thread_with_the_next_number() {
    let mut before = router();
    let heating = alert(Some(KUZNECK), Topic::Heating, 5);
    before.on_alert(heating.clone(), at(0));
    let mut sent = before.due(at(60)).send;
    before.on_alert(resolve(&heating), at(100));
    sent.extend(before.due(at(960)).send);
    let mut after = router();
    after.restore(&sent);
    let next = Alert { id: format!("{KUZNECK}:heating:20261120T05"), ..alert(Some(KUZNECK), Topic::Heating, 7) };
    after.on_alert(next, at(7200));
    let routed = after.due(at(7260));
    assert_eq!(ids(&routed), [("duty:56705000:3", NotificationKind::Opened, 1)]);
    assert_eq!(routed.send[0].thread, "56705000:20261120T0500");
}

#[test]
fn config_defaults_and_durations_as_strings() {
    let cfg: RouterConfig = toml::from_str("").unwrap();
    assert_eq!(cfg, RouterConfig::default());
    assert_eq!(cfg.group_wait, std::time::Duration::from_secs(60));
    assert_eq!(cfg.repeat_interval, std::time::Duration::from_secs(4 * 3600));
    let text = r#"
        group_wait = "30s"
        group_interval = "5m"
        [[route]]
        municipality = ["56701000"]
        topic = ["heating", "hot_water"]
        min_severity = "medium"
        receivers = ["duty", "tg"]
        continue_matching = true
        [[route]]
        receivers = ["duty"]
    "#;
    let cfg: RouterConfig = toml::from_str(text).unwrap();
    assert_eq!(cfg.group_wait, std::time::Duration::from_secs(30));
    assert_eq!(cfg.routes[0].topic, [Topic::Heating, Topic::HotWater]);
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    assert_eq!(cfg.receiver_names().into_iter().collect::<Vec<_>>(), ["duty", "tg"]);
}

#[test]
fn config_rejects_unknown_keys() {
    let err = toml::from_str::<RouterConfig>("group_wiat = \"30s\"").unwrap_err();
    assert!(err.to_string().contains("unknown field `group_wiat`"), "{err}");
    let err = toml::from_str::<RouterConfig>("[[route]]\nreceiver = [\"x\"]").unwrap_err();
    assert!(err.to_string().contains("unknown field `receiver`"), "{err}");
    assert!(toml::from_str::<RouterConfig>("group_wait = \"soon\"").is_err());
}

#[test]
fn config_reports_every_bad_value() {
    let text = r#"
        group_wait = "2h"
        group_interval = "10s"
        repeat_interval = "1m"
        regional_min_municipalities = 1
        [[route]]
        municipality = ["Пенза", "56701000"]
        [[route]]
        receivers = [""]
    "#;
    let cfg: RouterConfig = toml::from_str(text).unwrap();
    let fields: Vec<String> = cfg.validate().iter().map(|p| p.field.clone()).collect();
    assert_eq!(
        fields,
        [
            "group_wait",
            "group_interval",
            "repeat_interval",
            "regional_min_municipalities",
            "route[0].receivers",
            "route[0].municipality",
            "route[1].receivers",
        ]
    );
    let shown: Vec<String> = cfg.validate().iter().map(ToString::to_string).collect();
    assert!(shown.contains(&"route[0].municipality: \"Пенза\" is not an ОКТМО code".to_owned()), "{shown:?}");
    let minutes = |m: u64| std::time::Duration::from_secs(m * 60);
    let short = RouterConfig { repeat_interval: minutes(30), group_interval: minutes(60), ..RouterConfig::default() };
    assert_eq!(short.validate().len(), 1, "a reminder sooner than an update may come");
}

/// One step of a random run.
#[derive(Debug, Clone)]
enum Step {
    /// Opens (or updates) the alert of a series: (place index, topic index, expected).
    Raise(usize, usize, bool),
    Resolve(usize, usize),
    /// Seconds pass; the caller wakes at every `next_due` on the way.
    Tick(i64),
    /// Toggles a silence of one place for an hour.
    Silence(usize),
    /// A new router restored from every notification so far, fed the open alerts again.
    Restart,
}

const PLACES: [Option<&str>; 5] = [Some(PENZA), Some(KUZNECK), Some(ZARECHNY), Some(SERDOBSK), None];
const TOPICS: [Topic; 2] = [Topic::Heating, Topic::Roads];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..PLACES.len(), 0..TOPICS.len(), prop::bool::weighted(0.15)).prop_map(|(p, t, e)| Step::Raise(p, t, e)),
        1 => (0..PLACES.len(), 0..TOPICS.len()).prop_map(|(p, t)| Step::Resolve(p, t)),
        3 => prop_oneof![1i64..120, 120i64..3600, 3600i64..20_000].prop_map(Step::Tick),
        1 => (0..PLACES.len()).prop_map(Step::Silence),
        1 => Just(Step::Restart),
    ]
}

/// The run's view of the world: which alert of each series is open since when, and what came out.
struct World {
    router: Router,
    now: DateTime<Utc>,
    open: BTreeMap<(usize, usize), (Alert, DateTime<Utc>)>,
    episodes: u32,
    silences: Vec<Silence>,
    ids: BTreeSet<String>,
    told: BTreeSet<String>,
    sent: Vec<Notification>,
}

impl World {
    fn take(&mut self, routed: Routed) -> Result<(), TestCaseError> {
        for n in routed.send {
            prop_assert!(self.ids.insert(n.id.clone()), "notification id {} produced twice", n.id);
            prop_assert_eq!(&n.receiver, "duty", "the first matching rule wins");
            for a in &n.alerts {
                prop_assert!(a.expected_note.is_none(), "an expected alert was sent: {}", a.id);
                self.told.insert(a.id.clone());
            }
            self.sent.push(n);
        }
        self.told.extend(routed.suppressed.into_iter().flat_map(|d| d.alert_ids));
        Ok(())
    }

    fn tick(&mut self, seconds: i64) -> Result<(), TestCaseError> {
        let target = self.now + Duration::seconds(seconds);
        while let Some(due) = self.router.next_due().filter(|t| *t <= target) {
            self.now = self.now.max(due);
            let routed = self.router.due(self.now);
            self.take(routed)?;
            prop_assert!(self.router.next_due().is_none_or(|t| t > self.now), "due again at once");
        }
        self.now = target;
        let routed = self.router.due(self.now);
        self.take(routed)
    }

    fn restart(&mut self) {
        self.router = Router::new(config());
        self.router.restore(&self.sent);
        self.router.set_silences(self.silences.clone());
        for (alert, _) in self.open.values() {
            self.router.on_alert(alert.clone(), self.now);
        }
    }

    fn apply(&mut self, step: Step) -> Result<(), TestCaseError> {
        match step {
            Step::Raise(p, t, expected) => {
                let next = match self.open.get(&(p, t)) {
                    Some((a, _)) => update(a, a.observed + 1),
                    None => {
                        self.episodes += 1;
                        let mut a = alert(PLACES[p], TOPICS[t], 5);
                        a.id = format!("{}:{}", a.id, self.episodes);
                        a.raised_at = self.now;
                        a.expected_note = expected.then(|| "календарь".to_owned());
                        a
                    }
                };
                let since = self.open.get(&(p, t)).map_or(self.now, |(_, since)| *since);
                self.open.insert((p, t), (next.clone(), since));
                self.router.on_alert(next, self.now);
            }
            Step::Resolve(p, t) => {
                if let Some((a, _)) = self.open.remove(&(p, t)) {
                    self.router.on_alert(resolve(&a), self.now);
                }
            }
            Step::Silence(p) => {
                let series = format!("{}:*", PLACES[p].unwrap_or("region"));
                let id = format!("s{p}");
                if self.silences.iter().any(|s| s.id == id) {
                    self.silences.retain(|s| s.id != id);
                } else {
                    let (starts_at, ends_at) = (self.now, self.now + Duration::hours(1));
                    let s = Silence { id, series, starts_at, ends_at, ..silence("", 0, 0) };
                    self.silences.push(s);
                }
                self.router.set_silences(self.silences.clone());
            }
            Step::Tick(seconds) => self.tick(seconds)?,
            Step::Restart => self.restart(),
        }
        Ok(())
    }
}

fn config() -> RouterConfig {
    RouterConfig { routes: vec![rule(&["duty"]), rule(&["never"])], ..RouterConfig::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No notification id twice (restarts included), no expected alert sent, no busy loop, and
    /// every paging alert open for a group wait and two group intervals has been sent or recorded
    /// as suppressed.
    #[test]
    fn ids_are_unique_and_open_alerts_are_told(steps in prop::collection::vec(step(), 1..80)) {
        let cfg = config();
        // An alert that moves to the regional group when its topic turns regional may wait for that
        // group's interval too.
        let bound = Duration::seconds((cfg.group_wait + 2 * cfg.group_interval).as_secs() as i64);
        let mut world = World {
            router: Router::new(cfg),
            now: t0(),
            open: BTreeMap::new(),
            episodes: 0,
            silences: Vec::new(),
            ids: BTreeSet::new(),
            told: BTreeSet::new(),
            sent: Vec::new(),
        };
        for step in steps {
            world.apply(step)?;
            for (alert, since) in world.open.values() {
                if alert.expected_note.is_none() && world.now >= *since + bound {
                    prop_assert!(world.told.contains(&alert.id), "{} open since {since} never told", alert.id);
                }
            }
        }
    }
}

/// An overdue alert of the organisation `org` in `municipality`.
fn overdue(municipality: &str, org: &str) -> Alert {
    let detail = otklik_model::AlertOverdue {
        organisation: org.into(),
        organisation_name: format!("УК «{org}»"),
        org_type: "uk".into(),
        deadline_secs: 86_400,
        complaints: 2,
        oldest_uid: "vk:-1:2".into(),
        oldest_url: "https://vk.com/wall-1_2".into(),
        oldest_at: t0() - Duration::hours(30),
    };
    Alert {
        id: format!("overdue:{org}:20261120T0300"),
        kind: otklik_model::AlertKind::Overdue,
        method: "overdue".into(),
        overdue: Some(detail),
        ..alert(Some(municipality), Topic::ManagementCompany, 2)
    }
}

#[test]
fn overdue_alerts_follow_kind_rules_and_are_never_inhibited() {
    let routes =
        vec![RouteRule { kind: vec![otklik_model::AlertKind::Overdue], ..rule(&["responses"]) }, rule(&["duty"])];
    let mut r = Router::new(RouterConfig { routes, ..RouterConfig::default() });
    // management_company turns regional with spikes in three municipalities…
    for place in [PENZA, KUZNECK, ZARECHNY] {
        r.on_alert(alert(Some(place), Topic::ManagementCompany, 5), at(0));
    }
    // …and the overdue alerts on that topic still go to their own municipality's group.
    r.on_alert(overdue(PENZA, "uk-a"), at(0));
    r.on_alert(overdue(SERDOBSK, "uk-b"), at(0));
    let routed = r.due(at(60));
    let mut sent: Vec<(&str, &str, usize)> =
        routed.send.iter().map(|n| (n.receiver.as_str(), n.group_key.as_str(), n.alerts.len())).collect();
    sent.sort();
    assert_eq!(sent, [("duty", "region:management_company", 3), ("responses", SERDOBSK, 1), ("responses", PENZA, 1)]);
    assert!(routed.suppressed.iter().all(|d| d.alert_ids.iter().all(|id| !id.starts_with("overdue"))), "not inhibited");
    // An overdue alert updated with more complaints is news for its thread, not a new page.
    let more = Alert { observed: 3, ..update(&overdue(PENZA, "uk-a"), 3) };
    r.on_alert(more, at(120));
    let updated = r.due(at(60 + 15 * 60));
    let kinds: Vec<(&str, NotificationKind)> = updated.send.iter().map(|n| (n.id.as_str(), n.kind)).collect();
    assert_eq!(kinds, [("responses:56701000:2", NotificationKind::Updated)]);
}
