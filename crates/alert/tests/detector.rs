//! The detector end to end: counts and a clock in, alert events out.

use chrono::{DateTime, Utc};
use otklik_alert::detect::calendar::Calendar;
use otklik_alert::detect::lifecycle::EventKind;
use otklik_alert::detect::rules::ThresholdRule;
use otklik_alert::detect::{AlertEvent, Detector, DetectorConfig, Hour, Method, SeriesKey};
use otklik_model::Topic;
use std::path::Path;

const START: Hour = 490_000; // 2025-11-25T16:00Z

fn key(topic: Topic) -> SeriesKey {
    SeriesKey { municipality: Some("56701000".into()), topic }
}

/// A steady series: 1, 2 or 3 voices an hour in a fixed pattern (mean 2).
fn steady(h: Hour) -> u32 {
    1 + (h.rem_euclid(3)) as u32
}

fn end_of(h: Hour) -> DateTime<Utc> {
    DateTime::from_timestamp(h * 3600 + 3599, 0).unwrap()
}

/// Feeds `days` of steady history, then `spike(hour offset)` for `hours`, evaluating at the end
/// of every hour; returns the events.
fn run(d: &mut Detector, k: &SeriesKey, days: i64, hours: i64, spike: impl Fn(i64) -> u32) -> Vec<AlertEvent> {
    d.add_series(k.clone(), START);
    for h in START..START + days * 24 {
        d.observe(k, h, steady(h));
    }
    let t0 = START + days * 24;
    let mut events = Vec::new();
    for off in 0..hours {
        d.observe(k, t0 + off, steady(t0 + off) + spike(off));
        events.extend(d.evaluate(end_of(t0 + off)));
    }
    events
}

fn opened(events: &[AlertEvent]) -> Vec<&AlertEvent> {
    events.iter().filter(|e| e.kind == EventKind::Opened).collect()
}

#[test]
fn a_spike_opens_one_alert_with_its_figures() {
    let mut d = Detector::new(DetectorConfig::default(), Calendar::default());
    let k = key(Topic::Heating);
    let events = run(&mut d, &k, 14, 40, |off| if (2..5).contains(&off) { 20 } else { 0 });
    let opened = opened(&events);
    assert_eq!(opened.len(), 1, "{events:#?}");
    let det = opened[0].detection.as_ref().unwrap();
    assert_eq!(det.method, Method::Baseline);
    assert!(det.observed >= 20 && det.expected < 5.0 && det.p_value < 1e-5, "{det:?}");
    assert!(opened[0].upper_bound.unwrap() <= det.observed);
    assert!(opened[0].id.starts_with("56701000:heating:"));
    // The 24 h window holds the spike for a day; two quiet hours after that resolve it.
    assert!(events.iter().any(|e| e.kind == EventKind::Resolved), "quiet again → resolved");
    let alert = opened[0].to_alert("г. Пенза").unwrap();
    assert_eq!(alert.observed, det.observed);
}

#[test]
fn steady_counts_never_alert() {
    let mut d = Detector::new(DetectorConfig::default(), Calendar::default());
    let events = run(&mut d, &key(Topic::Roads), 14, 24 * 14, |_| 0);
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn flapping_input_gives_one_alert() {
    let mut d = Detector::new(DetectorConfig::default(), Calendar::default());
    let events = run(&mut d, &key(Topic::Heating), 14, 12, |off| if off % 2 == 0 { 15 } else { 0 });
    assert_eq!(opened(&events).len(), 1, "{events:#?}");
    assert!(!events.iter().any(|e| e.kind == EventKind::Resolved));
}

#[test]
fn a_calendar_outage_makes_the_alert_expected() {
    let t0 = START + 14 * 24;
    let from = DateTime::from_timestamp(t0 * 3600, 0).unwrap().to_rfc3339();
    let to = DateTime::from_timestamp((t0 + 6) * 3600, 0).unwrap().to_rfc3339();
    let text = format!(
        "[[outage]]\ntopic = \"hot_water\"\nmunicipalities = [\"56701000\"]\n\
         from = \"{from}\"\nto = \"{to}\"\nnote = \"ГВС\"\n"
    );
    let calendar = Calendar::parse(&text, Path::new("t.toml")).unwrap();
    let mut d = Detector::new(DetectorConfig::default(), calendar);
    let events = run(&mut d, &key(Topic::HotWater), 14, 5, |off| if off >= 1 { 25 } else { 0 });
    let opened = opened(&events);
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].detection.as_ref().unwrap().expected_note.as_deref(), Some("ГВС"));
}

#[test]
fn a_restart_mid_spike_sends_nothing_twice() {
    let k = key(Topic::Heating);
    let mut live = Detector::new(DetectorConfig::default(), Calendar::default());
    let first = run(&mut live, &k, 14, 4, |off| if off >= 2 { 20 } else { 0 });
    assert_eq!(opened(&first).len(), 1);
    // The process dies; the stage rebuilds from the stored counts and the alerts it sent.
    let (counts, open) = (live.export_counts(), live.open_alerts());
    let mut restarted = Detector::rebuild(DetectorConfig::default(), Calendar::default(), START, counts, &open);
    let t0 = START + 14 * 24 + 4;
    let mut after = Vec::new();
    for off in 0..4 {
        restarted.observe(&k, t0 + off, steady(t0 + off) + 20);
        after.extend(restarted.evaluate(end_of(t0 + off)));
    }
    assert!(opened(&after).is_empty(), "re-sent: {after:#?}");
    assert!(after.iter().all(|e| e.id == first[0].id));
}

#[test]
fn cold_start_uses_ears_and_thresholds_fire_anywhere() {
    let config = DetectorConfig {
        thresholds: vec![ThresholdRule { topic: Topic::Heating, count: 10, window_hours: 1 }],
        ..DetectorConfig::default()
    };
    let mut d = Detector::new(config, Calendar::default());
    let events = run(&mut d, &key(Topic::Heating), 1, 3, |off| if off == 2 { 14 } else { 0 });
    let first = opened(&events);
    assert_eq!(first.len(), 1, "{events:#?}");
    let method = first[0].detection.as_ref().unwrap().method;
    assert!(matches!(method, Method::Ears | Method::Threshold), "{method:?}");

    let mut d = Detector::new(DetectorConfig::default(), Calendar::default());
    let events = run(&mut d, &key(Topic::Roads), 2, 3, |off| if off == 2 { 14 } else { 0 });
    assert_eq!(opened(&events)[0].detection.as_ref().unwrap().method, Method::Ears);
}
