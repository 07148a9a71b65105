//! The alert stage over the memory bus with paused time: a complaint on a management company's
//! page left unanswered pages it as an overdue alert, which the router sends to its receiver;
//! the company's reply resolves it.

use super::*;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use otklik_alert::detect::calendar::Calendar;
use otklik_alert::route::{RouteRule, Router, RouterConfig};
use otklik_alert::stage::StageConfig;
use otklik_model::{
    AlertKind, AlertState, Author, Classification, Counters, ItemKind, MunicipalityEvidence, MunicipalityMatch,
    NotificationKind, Platform, RawPost, Schema,
};
use otklik_pipeline::{Backoff, Bus, DeadLetters, MapStageConfig, MemoryBus, StageMetrics};
use otklik_respond::{OrgType, Organisation, OverdueConfig, OverdueTracker, Responders};
use std::sync::Arc;

const SERIES: &str = "series";
const ALERTS: &str = "alerts";

fn at(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).single().unwrap_or_default() + TimeDelta::hours(hour)
}

/// A post (`parent` None) or a comment in the УК's own group `vk-uk`, `hour` hours after midnight.
fn post(n: u32, parent: Option<u32>, author: &str, hour: i64, kind: PostKind) -> ClassifiedPost {
    let uid = match parent {
        Some(p) => format!("vk:-100:{p}:c{n}"),
        None => format!("vk:-100:{n}"),
    };
    let raw = RawPost {
        schema: Schema,
        uid: uid.parse().unwrap(),
        platform: Platform::Vk,
        source_id: "vk-uk".into(),
        item_kind: if parent.is_some() { ItemKind::Comment } else { ItemKind::Post },
        parent_uid: parent.map(|p| format!("vk:-100:{p}").parse().unwrap()),
        url: Some(format!("https://vk.com/wall-100_{n}")),
        author: Author { id: Some(author.into()), name: None, is_source: author == "-100" },
        published_at: at(hour),
        edited_at: None,
        edited: false,
        collected_at: at(hour),
        text: "Третий день течёт крыша в подъезде, заявку не принимают".into(),
        repost_of: None,
        attachments: Vec::new(),
        counters: Counters::default(),
        pinned: false,
        ads: false,
        geo: None,
    };
    let classification = Classification {
        classifier_version: "test".into(),
        language: "ru".into(),
        kind,
        topics: Vec::new(),
        municipality: Some(MunicipalityMatch {
            oktmo: "56701000".into(),
            name: "город Пенза".into(),
            evidence: MunicipalityEvidence::Text,
        }),
        out_of_region: false,
    };
    ClassifiedPost::new(raw, classification)
}

fn core() -> AlertCore {
    let uk = Organisation {
        id: "uk-a".into(),
        name: "ООО «УК А»".into(),
        org_type: OrgType::Uk,
        municipality: Some("56701000".into()),
        inn: None,
        accounts: vec![(Platform::Vk, "-100".into())],
        sources: vec!["vk-uk".into()],
    };
    let deadlines = OrgType::ALL.iter().map(|&t| (t, TimeDelta::hours(24))).collect();
    let tracker =
        OverdueTracker::new(OverdueConfig { deadlines, window: TimeDelta::hours(72) }, Responders::new(vec![uk]));
    let config = StageConfig { max_catch_up: None, ..StageConfig::default() };
    AlertCore::new(config, Calendar::default(), None, HashMap::new()).with_overdue(tracker)
}

/// Runs the stage over `posts` as a replay and returns the alert events it published.
async fn replay(posts: &[ClassifiedPost]) -> Vec<Alert> {
    let bus = MemoryBus::new(1);
    let publisher = bus.publisher();
    for p in posts {
        publisher.publish(SERIES, b"56701000", &otklik_model::encode(p)).await.unwrap();
    }
    let upstream_done = CancellationToken::new();
    let clock = StageClock::Replay { upstream_done: upstream_done.clone() };
    let stage = Arc::new(AlertStage::new(core(), "classified".into(), ALERTS.into(), clock));
    let mut alerts = bus.subscribe("test", &[ALERTS]).await.unwrap();
    let shutdown = CancellationToken::new();
    let config = MapStageConfig {
        name: "alert".into(),
        max_batch: 100,
        in_flight: 1,
        commit_interval: Duration::from_secs(1),
        backoff: Backoff::default(),
    };
    let dead_letters = DeadLetters {
        publisher: bus.publisher(),
        topic: "dlq".into(),
        stage: "alert".into(),
        backoff: Backoff::default(),
    };
    let subscriber = bus.subscribe("alert", &[SERIES]).await.unwrap();
    let metrics = Arc::new(StageMetrics::default());
    let task = tokio::spawn(otklik_pipeline::run_map_stage(
        subscriber,
        bus.publisher(),
        stage.clone(),
        dead_letters,
        config,
        metrics,
        shutdown.clone(),
    ));
    upstream_done.cancel();
    while !stage.settled() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let mut events = Vec::new();
    for _ in 0..stage.raised().len() {
        let message = alerts.recv().await.unwrap();
        events.push(otklik_model::decode::<Alert>("Alert", &message.payload).unwrap());
    }
    events
}

fn overdue_router() -> Router {
    let rule =
        RouteRule { kind: vec![AlertKind::Overdue], receivers: vec!["responses".into()], ..RouteRule::default() };
    Router::new(RouterConfig { routes: vec![rule], ..RouterConfig::default() })
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_complaint_pages_its_organisation_and_the_reply_resolves_it() {
    let posts = [
        post(1, None, "501", 0, PostKind::Complaint),
        post(2, None, "502", 3, PostKind::Complaint),
        // A resident's «+1» answers nothing; the УК answers both complaints at 30 h.
        post(3, Some(1), "503", 2, PostKind::Info),
        post(4, Some(1), "-100", 30, PostKind::Info),
        post(5, Some(2), "-100", 30, PostKind::Info),
    ];
    let events = replay(&posts).await;
    let seen: Vec<(AlertKind, AlertState, u64)> = events.iter().map(|a| (a.kind, a.state, a.observed)).collect();
    assert_eq!(
        seen,
        [
            (AlertKind::Overdue, AlertState::Opened, 1),
            (AlertKind::Overdue, AlertState::Updated, 2),
            (AlertKind::Overdue, AlertState::Resolved, 2)
        ]
    );
    assert!(events.iter().all(|a| a.id == events[0].id && a.key() == "56701000:overdue:uk-a"));
    // Checked at each 15-minute boundary: opened at the first one past 24 h.
    assert_eq!(events[0].raised_at, at(24) + TimeDelta::minutes(15));
    assert_eq!(events[0].municipality_name, "город Пенза");
    let detail = events[1].overdue.as_ref().unwrap();
    assert_eq!(
        (detail.organisation_name.as_str(), detail.oldest_url.as_str()),
        ("ООО «УК А»", "https://vk.com/wall-100_1")
    );

    // The router sends the opening to the receiver its kind is routed to, then the resolution.
    let mut router = overdue_router();
    let mut sent = Vec::new();
    for alert in events {
        let now = alert.raised_at;
        router.on_alert(alert, now);
        sent.extend(router.due(now + TimeDelta::hours(1)).send);
    }
    let told: Vec<(&str, NotificationKind, u64)> =
        sent.iter().map(|n| (n.receiver.as_str(), n.kind, n.alerts[0].observed)).collect();
    assert_eq!(told[0], ("responses", NotificationKind::Opened, 1));
    assert_eq!(told.last().map(|t| t.1), Some(NotificationKind::Resolved));
}

#[tokio::test(start_paused = true)]
async fn a_complaint_answered_in_time_pages_nobody() {
    let posts = [post(1, None, "501", 0, PostKind::Complaint), post(2, Some(1), "-100", 5, PostKind::Info)];
    assert!(replay(&posts).await.is_empty());
}

/// The rules a reload would send: the shipped topics, the gazetteer if `places`, and the УК's
/// group `vk-uk` official or not.
fn rules(places: bool, official: bool) -> Arc<Rules> {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let gazetteer = config.join("gazetteer/gazetteer.tsv");
    let classifier =
        otklik_classify::Classifier::load(&config.join("topics"), places.then_some(gazetteer.as_path())).unwrap();
    let context = otklik_classify::SourceContext { official, municipality: None };
    Arc::new(Rules { classifier: Arc::new(classifier), sources: HashMap::from([("vk-uk".to_owned(), context)]) })
}

/// Whether the stage, linking `post` live, counts it as a resident's voice.
fn linked_as_voice(stage: &AlertStage, post: &ClassifiedPost) -> Option<bool> {
    let message =
        Message { topic: SERIES.into(), partition: 0, offset: 0, key: None, payload: otklik_model::encode(post) };
    let outputs = stage.apply(&message).unwrap();
    otklik_model::decode::<ClassifiedPost>("ClassifiedPost", &outputs[0].payload).unwrap().is_voice
}

#[test]
fn a_reload_gives_the_stage_the_new_gazetteer_and_official_sources() {
    let (reload, following) = watch::channel(rules(false, false));
    let clock = StageClock::Live { tick: Duration::from_secs(30) };
    let stage = AlertStage::new(core(), "classified".into(), ALERTS.into(), clock).following(following);
    let text = "В селе Терновка у дома 5 на улице Мира третий день нет воды";
    let settlement = |stage: &AlertStage| stage.with_core(|core| core.features(text).place.settlement);
    assert_eq!(settlement(&stage), None, "no gazetteer, no settlements");
    assert_eq!(linked_as_voice(&stage, &post(1, None, "555", 1, PostKind::Complaint)), Some(true));

    reload.send_replace(rules(true, true));
    assert_eq!(settlement(&stage).as_deref(), Some("Терновка"));
    // An official body's feed now: a post on its wall is no resident's voice.
    assert_eq!(linked_as_voice(&stage, &post(2, None, "556", 2, PostKind::Complaint)), Some(false));
}
