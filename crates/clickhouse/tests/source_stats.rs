//! Sources' audiences over ClickHouse and over a local store: the collectors' records through the
//! sink seam (decode, write), read back by `History::source_stats`; one test body, the same
//! answers, a redelivered batch included. The ClickHouse run needs OTKLIK_TEST_CLICKHOUSE.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use otklik_clickhouse::{ClickHouseSink, DataDir, History, LocalStore, SourceStatRow};
use otklik_model::{Platform, Schema, SourceStat};
use otklik_pipeline::{BatchSink, Message};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
}

fn message(source: &str, platform: Platform, day: i64, audience: u64) -> Message {
    let stat = SourceStat {
        schema: Schema,
        source_id: source.into(),
        platform,
        observed_at: t0() + Duration::days(day),
        audience,
    };
    let payload = otklik_model::encode(&stat);
    Message {
        topic: "otklik.sources.stats.v1".into(),
        partition: 0,
        offset: day,
        key: Some(source.as_bytes().to_vec()),
        payload,
    }
}

fn row(source: &str, platform: &str, day: i64, audience: u64) -> SourceStatRow {
    SourceStatRow {
        source_id: source.into(),
        platform: platform.into(),
        observed_at: t0() + Duration::days(day),
        audience,
    }
}

async fn check<S: BatchSink<Row = SourceStatRow>>(history: &History, sink: &S) {
    let messages = [
        message("vk-adm", Platform::Vk, 0, 1000),
        message("tg-news", Platform::Telegram, 0, 12_500),
        message("vk-adm", Platform::Vk, 7, 1070),
        message("ok-uk", Platform::Ok, 7, 300),
        message("vk-adm", Platform::Vk, 13, 1130),
    ];
    let rows: Vec<SourceStatRow> = messages.iter().map(|m| sink.decode(m).unwrap()).collect();
    sink.write(&rows[..3]).await.unwrap();
    // A redelivery: the first batch again, with the rest.
    sink.write(&rows).await.unwrap();
    let expected = [
        row("ok-uk", "ok", 7, 300),
        row("tg-news", "telegram", 0, 12_500),
        row("vk-adm", "vk", 0, 1000),
        row("vk-adm", "vk", 7, 1070),
        row("vk-adm", "vk", 13, 1130),
    ];
    assert_eq!(history.source_stats(t0()).await.unwrap(), expected, "one row per observation, by source and time");
    assert_eq!(
        history.source_stats(t0() + Duration::days(7)).await.unwrap(),
        [expected[0].clone(), expected[3].clone(), expected[4].clone()]
    );
    let bad = Message { payload: b"{\"schema\": 1}".to_vec(), ..messages[0].clone() };
    assert!(sink.decode(&bad).is_err(), "a record that is not a SourceStat goes to the DLQ");
}

#[tokio::test]
async fn audiences_in_a_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let locked = DataDir::lock(dir.path()).unwrap();
    let store = LocalStore::<SourceStatRow>::open_in(&locked).unwrap();
    check(&History::Local(dir.path().to_owned()), &store).await;
}

#[tokio::test]
async fn audiences_in_clickhouse() {
    let Some(url) = otklik_testkit::clickhouse() else {
        return;
    };
    let db = ScratchDb::new(&url, "otklik_audience").await;
    check(&History::ClickHouse(db.config.clone()), &ClickHouseSink::<SourceStatRow>::new(db.config.clone())).await;
    db.drop().await;
}
