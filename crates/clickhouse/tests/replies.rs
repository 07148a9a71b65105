//! Response tracking over a real ClickHouse (OTKLIK_TEST_CLICKHOUSE): the `replies` table and
//! its `response_daily` view stay exact when rows are delivered twice, and `response_items`
//! reads the same posts from ClickHouse as from a local store.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clickhouse::Row;
use common::*;
use otklik_clickhouse::{ClickHouseSink, History, LocalStore, PostRow, ReplyRow};

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn reply(uid: &str, minutes: i64, delay_minutes: Option<i64>, computed: DateTime<Utc>) -> ReplyRow {
    let at = noon() + Duration::minutes(minutes);
    ReplyRow {
        complaint_uid: uid.into(),
        source_id: "vk-zhk".into(),
        municipality: "56701000".into(),
        organisation: "uk-a".into(),
        complaint_at: at,
        answered: u8::from(delay_minutes.is_some()),
        reply_uid: delay_minutes.map(|_| format!("{uid}:c9")).unwrap_or_default(),
        replied_by: delay_minutes.map(|_| "uk-a".to_owned()).unwrap_or_default(),
        first_reply_at: at + Duration::minutes(delay_minutes.unwrap_or(0)),
        reply_delay_seconds: u32::try_from(delay_minutes.unwrap_or(0) * 60).unwrap(),
        computed_at: computed,
    }
}

#[derive(Debug, PartialEq, Row, serde::Deserialize)]
struct Figures {
    complaints: u64,
    answered_24h: u64,
    median: u64,
    p90: u64,
}

#[tokio::test]
async fn response_figures_do_not_change_when_replies_are_delivered_twice() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_replies").await;
    let later = noon() + Duration::days(2);
    let rows = vec![
        reply("vk:-7:1", 0, Some(2), later),
        reply("vk:-7:2", 1, Some(60 * 30), later),
        reply("vk:-7:3", 2, Some(5), later),
        reply("vk:-7:4", 3, None, later),
    ];
    // An earlier computation, when complaint 2 was not answered yet: the later one wins.
    let earlier = vec![reply("vk:-7:2", 1, None, noon() + Duration::hours(1))];
    let sink = ClickHouseSink::<ReplyRow>::new(db.config.clone());
    for batch in [&earlier, &rows, &rows] {
        sink.insert(batch).await.unwrap();
    }
    // The figures from the rows themselves: quantileExact takes the element at floor(q·n).
    let answered = rows.iter().filter(|r| r.answered == 1);
    let mut delays: Vec<u64> = answered.map(|r| u64::from(r.reply_delay_seconds)).collect();
    delays.sort_unstable();
    let at = |q: f64| delays[((q * delays.len() as f64).floor() as usize).min(delays.len() - 1)];
    let expected = Figures { complaints: 4, answered_24h: 2, median: at(0.5), p90: at(0.9) };
    let sql = "SELECT toUInt64(complaints), toUInt64(answered_24h), toUInt64(median_delay_seconds), \
               toUInt64(p90_delay_seconds) FROM response_daily \
               WHERE organisation = 'uk-a' AND day = toDate('2026-11-20')";
    let got: Vec<Figures> = db.client.query(sql).fetch_all().await.unwrap();
    assert_eq!(got, vec![expected]);
    db.drop().await;
}

#[tokio::test]
async fn response_items_are_the_same_from_clickhouse_and_the_local_store() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_response_items").await;
    let mut rows: Vec<PostRow> = (0..6).map(|i| row(i, base_time(), 16)).collect();
    rows[1].kind = "info".into();
    rows[2].kind = "info".into();
    rows[2].item_kind = "comment".into();
    rows[3].kind = "question".into();
    let sink = ClickHouseSink::<PostRow>::new(db.config.clone());
    sink.insert(&rows).await.unwrap();
    sink.insert(&rows).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::<PostRow>::open(dir.path()).unwrap();
    store.append(&rows, Utc::now()).unwrap();
    store.append(&rows, Utc::now()).unwrap();
    drop(store);
    let since = base_time() - Duration::days(1);
    let from_ch = History::ClickHouse(db.config.clone()).response_items(since).await.unwrap();
    let from_store = History::Local(dir.path().to_owned()).response_items(since).await.unwrap();
    let uids = |rows: &[PostRow]| rows.iter().map(|r| r.uid.clone()).collect::<Vec<_>>();
    assert_eq!(uids(&from_ch), uids(&from_store));
    assert_eq!(from_ch.len(), rows.iter().filter(|r| r.kind != "info" || r.item_kind == "comment").count());
    db.drop().await;
}
