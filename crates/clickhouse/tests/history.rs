//! `History` over ClickHouse and over a local store holding the same rows: one test body, run
//! on both, must give the same answers. The local run always runs; the ClickHouse run needs
//! OTKLIK_TEST_CLICKHOUSE (scripts/test.sh starts Debian's 18.16).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use otklik_clickhouse::row::post_version;
use otklik_clickhouse::{AlertRow, ClickHouseSink, DataDir, History, HourlyVoices, LocalStore, PostRow};
use otklik_pipeline::{BatchSink, Message};

const PENZA: (&str, &str) = ("56701000", "г. Пенза");
const ZARECHNY: (&str, &str) = ("56734000", "г. Заречный");

/// The classifier's (unlinked) version of a post published `minutes` after `base`.
fn post(uid: &str, minutes: i64, kind: &str, topics: &[&str], (oktmo, name): (&str, &str)) -> PostRow {
    let mut row = row(1, base_time(), 40);
    row.uid = uid.into();
    row.published_at = base_time() + Duration::minutes(minutes);
    row.edited_at = row.published_at;
    row.collected_at = row.published_at + Duration::minutes(5);
    row.kind = kind.into();
    row.topics = topics.iter().map(|t| t.to_string()).collect();
    row.topic_scores = vec![0.9; topics.len()];
    row.topic_rules = vec!["test.rule".into(); topics.len()];
    row.municipality = oktmo.into();
    row.municipality_name = name.into();
    row.version = post_version(row.collected_at, false);
    row
}

/// The alert stage's linked version of `row`.
fn linked(row: &PostRow, incident: &str, copy_of: &str, voice: bool) -> PostRow {
    let mut row = row.clone();
    row.incident_id = incident.into();
    row.copy_of = copy_of.into();
    row.is_voice = voice.into();
    row.version = post_version(row.collected_at, true);
    row
}

fn alert(id: &str, state: &str, raised_minutes: i64) -> AlertRow {
    let at = |m: i64| base_time() + Duration::minutes(m);
    AlertRow {
        id: id.into(),
        state: state.into(),
        severity: "high".into(),
        method: "baseline".into(),
        expected_note: String::new(),
        municipality: PENZA.0.into(),
        municipality_name: PENZA.1.into(),
        topic: "heating".into(),
        window_start: at(-180),
        window_end: at(-120),
        observed: 12,
        expected: 1.5,
        upper_bound: 6,
        p_value: 1e-7,
        incidents: 1,
        voices: 3,
        incident_uids: vec!["vk:-1:1".into()],
        incident_urls: vec!["https://vk.com/wall-1_1".into()],
        incident_excerpts: vec![format!("Нет отопления ({state})")],
        incident_voices: vec![3],
        raised_at: at(raised_minutes),
        kind: "spike".into(),
        overdue: String::new(),
    }
}

/// What both stores receive, in delivery order: every post unlinked first, then the linked
/// versions (one delivered twice), then alert events.
struct Fixture {
    unlinked: Vec<PostRow>,
    linked: Vec<PostRow>,
    alerts: Vec<AlertRow>,
}

fn fixture() -> Fixture {
    let p1 = post("vk:-1:1", -118, "complaint", &["heating"], PENZA);
    let p2 = post("vk:-1:2", -110, "complaint", &["heating"], PENZA);
    let p3 = post("vk:-2:3", -105, "complaint", &["heating"], PENZA); // a repost of p1
    let p4 = post("vk:-1:4", -100, "info", &["heating"], PENZA); // the administration: no voice, no cell
    let p5 = post("vk:-1:5", -50, "complaint", &["heating", "hot_water"], PENZA);
    let p6 = post("ok:7:6", -115, "question", &["roads"], ZARECHNY);
    let p7 = post("ok:7:7", -95, "complaint", &["roads"], ZARECHNY);
    let p8 = post("tg:town:8", -90, "complaint", &["garbage"], PENZA); // not linked yet
    let p9 = post("tg:town:9", -85, "complaint", &[], PENZA);
    let p10 = post("vk:-1:10", -230, "complaint", &["heating"], PENZA); // before `since`
    let linked = vec![
        linked(&p1, "vk:-1:1", "", true),
        linked(&p2, "vk:-1:1", "", true),
        linked(&p3, "vk:-1:1", "vk:-1:1", false),
        linked(&p4, "vk:-1:1", "", false),
        linked(&p5, "vk:-1:1", "", true),
        linked(&p6, "ok:7:6", "", true),
        linked(&p7, "ok:7:6", "", true),
        linked(&p9, "tg:town:9", "", true),
        linked(&p10, "vk:-1:10", "", true),
        // Redelivered.
        linked(&p2, "vk:-1:1", "", true),
    ];
    let alerts = vec![
        alert("a1", "opened", -110),
        alert("a1", "updated", -60),
        // The same second as the update: the later lifecycle state wins.
        alert("a1", "resolved", -60),
        alert("a2", "opened", -240),
        alert("a2", "updated", -90),
        alert("a3", "opened", -300),
    ];
    Fixture { unlinked: vec![p1, p2, p3, p4, p5, p6, p7, p8, p9, p10], linked, alerts }
}

fn since() -> DateTime<Utc> {
    base_time() - Duration::hours(3)
}

fn cell(hours: i64, (oktmo, _): (&str, &str), topic: &str, incidents: u64, voices: u64) -> HourlyVoices {
    HourlyVoices {
        hour: base_time() + Duration::hours(hours),
        municipality: oktmo.into(),
        topic: topic.into(),
        incidents,
        voices,
    }
}

/// The one test body: the answers `history` must give for the fixture.
async fn check(history: &History) {
    let data = fixture();
    let posts = history.linked_posts(since()).await.unwrap();
    let uids: Vec<&str> = posts.iter().map(|p| p.uid.as_str()).collect();
    assert_eq!(
        uids,
        ["vk:-1:1", "ok:7:6", "vk:-1:2", "vk:-2:3", "vk:-1:4", "ok:7:7", "tg:town:9", "vk:-1:5"],
        "{history:?}"
    );
    // Each is the latest (linked) version, whole.
    for post in &posts {
        let expected = data.linked.iter().find(|l| l.uid == post.uid).unwrap();
        assert_eq!(post, expected, "{history:?}");
    }

    let voices = history.hourly_voices(since()).await.unwrap();
    let expected = vec![
        cell(-2, PENZA, "", 1, 1),
        cell(-2, PENZA, "garbage", 0, 0),
        // p1, p2 and p3 (a copy, no voice) of one incident; p2 arrived three times.
        cell(-2, PENZA, "heating", 1, 2),
        cell(-2, ZARECHNY, "roads", 1, 2),
        cell(-1, PENZA, "heating", 1, 1),
        cell(-1, PENZA, "hot_water", 1, 1),
    ];
    assert_eq!(voices, expected, "{history:?}");
    // Hours before `since` are not asked for.
    assert!(history
        .hourly_voices(base_time() - Duration::hours(1))
        .await
        .unwrap()
        .iter()
        .all(|c| c.hour == base_time() - Duration::hours(1)));

    let alerts = history.latest_alerts(since()).await.unwrap();
    let states: Vec<(&str, &str)> = alerts.iter().map(|a| (a.id.as_str(), a.state.as_str())).collect();
    assert_eq!(states, [("a2", "updated"), ("a1", "resolved")], "{history:?}");
    assert_eq!(alerts[1], data.alerts[2], "the whole latest row");
    assert_eq!(history.latest_alerts(base_time()).await.unwrap(), Vec::new());
}

#[tokio::test]
async fn history_from_a_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture();
    {
        let locked = DataDir::lock(dir.path()).unwrap();
        let posts = LocalStore::<PostRow>::open_in(&locked).unwrap();
        let alerts = LocalStore::<AlertRow>::open_in(&locked).unwrap();
        posts.write(&data.unlinked).await.unwrap();
        posts.write(&data.linked).await.unwrap();
        alerts.write(&data.alerts).await.unwrap();
        assert!(alerts.dir().ends_with("alerts"));
    }
    check(&History::Local(dir.path().to_owned())).await;
}

#[tokio::test]
async fn history_from_clickhouse() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_history").await;
    let data = fixture();
    let posts = ClickHouseSink::<PostRow>::new(db.config.clone());
    posts.insert(&data.unlinked).await.unwrap();
    posts.insert(&data.linked).await.unwrap();
    ClickHouseSink::<AlertRow>::new(db.config.clone()).insert(&data.alerts).await.unwrap();
    check(&History::ClickHouse(db.config.clone())).await;
    // The same after the merges (the unlinked versions collapse away; the states are unions).
    db.client.query("OPTIMIZE TABLE posts FINAL").execute().await.unwrap();
    db.client.query("OPTIMIZE TABLE complaints_hourly FINAL").execute().await.unwrap();
    check(&History::ClickHouse(db.config.clone())).await;
    db.drop().await;
}

#[tokio::test]
async fn a_post_linked_after_it_was_stored_counts_once() {
    // Unlinked then linked, and the other way round (the linked version's version wins either way).
    let first = post("vk:-1:1", -30, "complaint", &["heating"], PENZA);
    let second = linked(&first, "vk:-1:1", "", true);
    let since = base_time() - Duration::hours(1);
    let expected = vec![cell(-1, PENZA, "heating", 1, 1)];
    for order in [[&first, &second], [&second, &first]] {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::<PostRow>::open(dir.path()).unwrap();
        for row in order {
            store.write(std::slice::from_ref(row)).await.unwrap();
        }
        let history = History::Local(dir.path().to_owned());
        assert_eq!(history.hourly_voices(since).await.unwrap(), expected);
        assert_eq!(history.linked_posts(since).await.unwrap(), vec![second.clone()]);
        if let Some(url) = otklik_testkit::clickhouse() {
            let db = ScratchDb::new(&url, "otklik_twice_linked").await;
            for row in order {
                ClickHouseSink::<PostRow>::new(db.config.clone()).insert(std::slice::from_ref(row)).await.unwrap();
            }
            let history = History::ClickHouse(db.config.clone());
            assert_eq!(history.hourly_voices(since).await.unwrap(), expected);
            assert_eq!(history.linked_posts(since).await.unwrap(), vec![second.clone()]);
            assert_eq!(db.hourly_cells().await, 1, "one post in complaints_hourly");
            db.drop().await;
        }
    }
}

#[tokio::test]
async fn alerts_arrive_in_the_local_store_as_alert_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::<AlertRow>::open(dir.path()).unwrap();
    let row = alert("a1", "opened", -10);
    let alert = otklik_model::Alert::try_from(&row).unwrap();
    let message = Message {
        topic: "otklik.alerts.v1".into(),
        partition: 0,
        offset: 0,
        key: None,
        payload: otklik_model::encode(&alert),
    };
    let decoded = store.decode(&message).unwrap();
    assert_eq!(decoded, row);
    store.write(&[decoded]).await.unwrap();
    let files = otklik_clickhouse::local::table_files(store.dir(), "alerts").unwrap();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("alerts-") && name.ends_with(".jsonl"), "{name}");
    let history = History::Local(dir.path().to_owned());
    assert_eq!(history.latest_alerts(base_time() - Duration::hours(1)).await.unwrap(), vec![row]);
}

#[tokio::test]
async fn overdue_alerts_keep_their_detail_through_a_row_and_old_rows_read_as_spikes() {
    let mut row = alert("overdue:uk-a:20261120T0300", "opened", -10);
    row.kind = "overdue".into();
    let detail = otklik_model::AlertOverdue {
        organisation: "uk-a".into(),
        organisation_name: "УК «А»".into(),
        org_type: "uk".into(),
        deadline_secs: 86_400,
        complaints: 2,
        oldest_uid: "vk:-1:1".into(),
        oldest_url: "https://vk.com/wall-1_1".into(),
        oldest_at: base_time(),
    };
    row.overdue = serde_json::to_string(&detail).unwrap();
    let overdue = otklik_model::Alert::try_from(&row).unwrap();
    assert_eq!(overdue.kind, otklik_model::AlertKind::Overdue);
    assert_eq!(overdue.overdue.as_ref().map(|o| o.complaints), Some(2));
    assert_eq!(AlertRow::from(&overdue), row, "back to the same row");

    // A row the local store wrote before migration 009 has neither column.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::<AlertRow>::open(dir.path()).unwrap();
    let mut old = serde_json::to_value(alert("a1", "opened", -10)).unwrap();
    old.as_object_mut().unwrap().retain(|k, _| k != "kind" && k != "overdue");
    let file = format!("alerts-{}.jsonl", base_time().format("%Y%m%d%H"));
    std::fs::write(store.dir().join(file), format!("{old}\n")).unwrap();
    let history = History::Local(dir.path().to_owned());
    let rows = history.latest_alerts(base_time() - Duration::hours(1)).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(otklik_model::Alert::try_from(&rows[0]).unwrap().kind, otklik_model::AlertKind::Spike);
}
