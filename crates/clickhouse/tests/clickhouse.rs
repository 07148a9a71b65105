//! The schema, the writer and the queries against a real ClickHouse (scripts/test.sh starts
//! Debian's 18.16 and sets OTKLIK_TEST_CLICKHOUSE; without it these skip, or fail under
//! OTKLIK_REQUIRE_SERVICES=1).

mod common;

use clickhouse::Row;
use common::*;
use otklik_clickhouse::{queries::QUERIES, ClickHouseSink, DlqRow, Migrator, PostRow, MIGRATIONS};
use otklik_pipeline::{
    run_sink_stage, Backoff, BatchLimits, BatchSink, Bus, CancellationToken, DeadLetters, MemoryBus, Message,
    SinkError, SinkStageConfig, StageMetrics,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, PartialEq, Eq, Row, serde::Deserialize)]
struct Column {
    table: String,
    name: String,
    r#type: String,
    default_kind: String,
    default_expression: String,
}

async fn schema(db: &ScratchDb) -> Vec<Column> {
    db.client
        .query("SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = ? AND table != 'schema_migrations' ORDER BY table, name")
        .bind(&db.config.database)
        .fetch_all()
        .await
        .unwrap()
}

async fn tables(db: &ScratchDb) -> Vec<(String, String)> {
    #[derive(Row, serde::Deserialize)]
    struct T {
        name: String,
        engine: String,
    }
    let rows: Vec<T> = db
        .client
        .query("SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name")
        .bind(&db.config.database)
        .fetch_all()
        .await
        .unwrap();
    rows.into_iter().map(|t| (t.name, t.engine)).collect()
}

#[tokio::test]
async fn migrates_from_empty_and_from_every_earlier_version_idempotently() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let fresh = ScratchDb::empty(&url, "otklik_mig_fresh");
    let migrator = Migrator::new(&fresh.config);
    let report = migrator.migrate(None).await.unwrap();
    let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(report.applied, all);
    assert_eq!(migrator.applied().await.unwrap(), all);
    // Idempotent: nothing to do the second time, schema unchanged.
    let target = schema(&fresh).await;
    let again = migrator.migrate(None).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(schema(&fresh).await, target);
    let names: Vec<String> = tables(&fresh).await.into_iter().map(|t| t.0).collect();
    for table in [
        "alerts",
        "alerts_v0",
        "complaints_hourly",
        "complaints_hourly_mv",
        "dlq",
        "posts",
        "schema_migrations",
        "sources_status",
    ] {
        assert!(names.iter().any(|n| n == table), "{table} missing from {names:?}");
    }

    for start in 1..all.len() as u32 {
        let db = ScratchDb::empty(&url, "otklik_mig_step");
        let migrator = Migrator::new(&db.config);
        assert_eq!(migrator.migrate(Some(start)).await.unwrap().current, start);
        // Data written at the earlier version survives the upgrade and reaches complaints_hourly
        // (created by a later migration: the backfill).
        let rows: Vec<PostRow> = (0..300).map(|i| row(i, base_time(), 64)).collect();
        db.insert_pre_005_posts(&rows).await;
        let report = migrator.migrate(None).await.unwrap();
        assert_eq!(report.applied, all[start as usize..].to_vec(), "upgrade from {start}");
        assert_eq!(schema(&db).await, target, "schema after upgrading from {start}");
        assert_eq!(tables(&db).await, tables(&fresh).await);
        assert_eq!(db.count("SELECT count() FROM posts FINAL").await, 300);
        assert_eq!(db.hourly_cells().await, expected_cells(&rows), "complaints_hourly after upgrading from {start}");
        db.drop().await;
    }
    fresh.drop().await;
}

#[tokio::test]
async fn a_table_dropped_by_hand_is_recreated_by_the_next_migration() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::empty(&url, "otklik_mig_dropped");
    let migrator = Migrator::new(&db.config);
    migrator.migrate(None).await.unwrap();
    let target = schema(&db).await;
    let all_tables = tables(&db).await;
    for statement in ["DROP TABLE posts", "DROP TABLE complaints_hourly_mv"] {
        db.client.query(statement).execute().await.unwrap();
    }
    let report = migrator.migrate(None).await.unwrap();
    assert!(report.applied.is_empty(), "nothing new to apply: {report:?}");
    let repaired: Vec<u32> = report.repaired.iter().map(|(version, _)| *version).collect();
    // 001 creates posts; 004 and 005 add posts' later columns; 005 owns the view (002's is
    // superseded, so repairing never brings back the view without incidents and voices).
    assert_eq!(repaired, vec![1, 4, 5], "{report:?}");
    assert_eq!(schema(&db).await, target);
    assert_eq!(tables(&db).await, all_tables);
    // The view feeds complaints_hourly again.
    let rows: Vec<PostRow> = (0..50).map(|i| row(i, base_time(), 64)).collect();
    let mut insert = db.client.insert::<PostRow>("posts").await.unwrap();
    for r in &rows {
        insert.write(r).await.unwrap();
    }
    insert.end().await.unwrap();
    assert_eq!(db.hourly_cells().await, expected_cells(&rows));
    assert!(migrator.migrate(None).await.unwrap().repaired.is_empty(), "a whole schema needs no repair");
    db.drop().await;
}

#[tokio::test]
async fn table_columns_are_exactly_the_row_fields() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_columns").await;
    // The row's fields are columns in table order, and every column a row leaves out has a
    // default (DEFAULT, MATERIALIZED): a column added with a default may be in the row or not.
    for (table, fields) in otklik_clickhouse::load::store_tables() {
        let columns = describe(&db, table).await;
        let in_row: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).filter(|n| fields.contains(n)).collect();
        assert_eq!(in_row, fields, "{table}: the row's fields in table order");
        let unsent: Vec<&str> = columns
            .iter()
            .filter(|(name, default_kind)| default_kind.is_empty() && !fields.contains(&name.as_str()))
            .map(|(name, _)| name.as_str())
            .collect();
        assert!(unsent.is_empty(), "{table}: columns without a default that no row sends: {unsent:?}");
    }
    db.drop().await;
}

/// Each column's name and default kind (empty, DEFAULT, MATERIALIZED, ALIAS) in table order;
/// DESCRIBE because 18.16's system.columns has no `position`.
async fn describe(db: &ScratchDb, table: &str) -> Vec<(String, String)> {
    let text = db
        .client
        .query(&format!("DESCRIBE TABLE {table}"))
        .fetch_bytes("TabSeparated")
        .unwrap()
        .collect()
        .await
        .unwrap();
    String::from_utf8(text.to_vec())
        .unwrap()
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('\t').collect();
            (parts[0].to_owned(), parts.get(2).copied().unwrap_or("").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_million_rows_through_the_writer() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_million").await;
    let sink = ClickHouseSink::<PostRow>::new(db.config.clone());
    let base = base_time();
    let started = Instant::now();
    let batch = 50_000u64;
    // Build one batch's worth of rows once; later batches only renumber them (cheap in debug).
    let mut rows: Vec<PostRow> = (0..batch).map(|i| row(i, base, 40)).collect();
    for start in (0..1_000_000u64).step_by(batch as usize) {
        for (k, r) in rows.iter_mut().enumerate() {
            r.uid = format!("vk:-1000:{}", start + k as u64);
        }
        sink.insert(&rows).await.unwrap();
    }
    eprintln!("1 000 000 rows written in {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(db.count("SELECT count() FROM posts").await, 1_000_000);
    assert_eq!(db.count("SELECT uniqExact(uid) FROM posts").await, 1_000_000);
    db.drop().await;
}

#[tokio::test]
async fn the_same_rows_delivered_twice_count_once() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_twice").await;
    let sink = ClickHouseSink::<PostRow>::new(db.config.clone());
    let rows: Vec<PostRow> = (0..100_000).map(|i| row(i, base_time(), 40)).collect();
    for delivery in 0..2 {
        for chunk in rows.chunks(25_000) {
            sink.insert(chunk).await.unwrap_or_else(|e| panic!("delivery {delivery}: {e}"));
        }
    }
    // Background merges may already have collapsed some duplicates; FINAL sees each uid once
    // whether or not they have.
    assert!(db.count("SELECT count() FROM posts").await >= 100_000);
    assert_eq!(db.count("SELECT count() FROM posts FINAL").await, 100_000, "FINAL sees each uid once");
    assert_eq!(db.hourly_cells().await, expected_cells(&rows), "complaints_hourly is not inflated");
    // The same after the merges that ReplacingMergeTree relies on.
    db.client.query("OPTIMIZE TABLE posts FINAL").execute().await.unwrap();
    db.client.query("OPTIMIZE TABLE complaints_hourly FINAL").execute().await.unwrap();
    assert_eq!(db.count("SELECT count() FROM posts").await, 100_000);
    assert_eq!(db.hourly_cells().await, expected_cells(&rows));
    db.drop().await;
}

/// A sink over PostRow JSON messages, so a test can put rows on the bus that only the server
/// refuses (ClassifiedPost cannot carry a malformed uid: the model rejects it on decode).
struct RowJsonSink(ClickHouseSink<PostRow>);

#[async_trait::async_trait]
impl BatchSink for RowJsonSink {
    type Row = PostRow;
    fn decode(&self, message: &Message) -> Result<PostRow, String> {
        serde_json::from_slice(&message.payload).map_err(|e| e.to_string())
    }
    async fn write(&self, rows: &[PostRow]) -> Result<(), SinkError> {
        self.0.write(rows).await
    }
}

#[tokio::test]
async fn rows_the_server_rejects_go_to_the_dlq_with_its_message() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_reject").await;
    let bad = [17u64, 1_234, 4_998];
    let rows: Vec<PostRow> = (0..5_000)
        .map(|i| {
            let mut r = row(i, base_time(), 40);
            if bad.contains(&i) {
                r.uid = format!("not-a-uid-{i}");
            }
            r
        })
        .collect();

    // Directly: exactly the three, with the server's words.
    let sink = ClickHouseSink::<PostRow>::new(db.config.clone());
    match sink.insert(&rows[..2_500]).await {
        Err(SinkError::Rejected(rejections)) => {
            assert_eq!(rejections.iter().map(|r| r.index as u64).collect::<Vec<_>>(), vec![17, 1_234]);
            for r in &rejections {
                assert!(r.reason.contains("Code: "), "server message expected, got {}", r.reason);
            }
        }
        other => panic!("expected rejections, got {other:?}"),
    }

    // Through the pipeline: the runner sends them to the DLQ topic, the DLQ stage writes the dlq table.
    let bus = MemoryBus::new(2);
    let publisher = bus.publisher();
    for r in &rows[2_500..] {
        publisher.publish("posts", r.uid.as_bytes(), &serde_json::to_vec(r).unwrap()).await.unwrap();
    }
    let shutdown = CancellationToken::new();
    let backoff = Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(500) };
    let dead_letters =
        DeadLetters { publisher: bus.publisher(), topic: "dlq".into(), stage: "clickhouse".into(), backoff };
    let config = |name: &str| SinkStageConfig {
        name: name.into(),
        limits: BatchLimits { max_rows: 1_000, max_bytes: 64 << 20, max_wait: Duration::from_millis(100) },
        backoff,
    };
    let posts_stage = tokio::spawn(run_sink_stage(
        bus.subscribe("ch", &["posts"]).await.unwrap(),
        Arc::new(RowJsonSink(ClickHouseSink::new(db.config.clone()))),
        dead_letters.clone(),
        config("posts"),
        Arc::new(StageMetrics::default()),
        shutdown.clone(),
    ));
    let dlq_stage = tokio::spawn(run_sink_stage(
        bus.subscribe("ch-dlq", &["dlq"]).await.unwrap(),
        Arc::new(ClickHouseSink::<DlqRow>::new(db.config.clone())),
        DeadLetters { topic: "dlq.dead".into(), ..dead_letters },
        config("dlq"),
        Arc::new(StageMetrics::default()),
        shutdown.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.count("SELECT count() FROM dlq").await < 1 || db.count("SELECT count() FROM posts").await < 4_997 {
        assert!(Instant::now() < deadline, "pipeline did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    posts_stage.await.unwrap().unwrap();
    dlq_stage.await.unwrap().unwrap();
    // 2 498 good rows from the direct insert, 2 499 through the pipeline.
    assert_eq!(db.count("SELECT count() FROM posts").await, 4_997, "all others are in");
    assert_eq!(db.count("SELECT count() FROM dlq").await, 1);
    #[derive(Row, serde::Deserialize)]
    struct Dead {
        stage: String,
        error: String,
        payload: String,
    }
    let dead: Vec<Dead> = db.client.query("SELECT stage, error, payload FROM dlq").fetch_all().await.unwrap();
    assert_eq!(dead[0].stage, "clickhouse");
    assert!(dead[0].error.contains("Code: "), "{}", dead[0].error);
    assert!(dead[0].payload.contains("not-a-uid-4998"), "{}", dead[0].payload);
    db.drop().await;
}

#[tokio::test]
async fn bundled_queries_run_and_count_right() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_queries").await;
    let rows: Vec<PostRow> = (0..2_000).map(|i| row(i, base_time(), 40)).collect();
    ClickHouseSink::<PostRow>::new(db.config.clone()).insert(&rows).await.unwrap();
    for query in QUERIES {
        let out = db.client.query_raw(query.sql).fetch_bytes("TabSeparatedWithNames").unwrap().collect().await;
        let out = out.unwrap_or_else(|e| panic!("{}: {e}", query.name));
        assert!(out.len() > 20, "{} returned nothing", query.name);
    }
    // The report agrees with the rows: complaints+questions in the last 24h by municipality × topic.
    let report = otklik_clickhouse::report::from_clickhouse(&db.config, Duration::from_secs(86_400)).await.unwrap();
    let start = base_time().timestamp() - 86_400 + (chrono::Utc::now().timestamp() - base_time().timestamp());
    let start = start - start % 3600;
    let expected: u64 = rows
        .iter()
        .filter(|r| {
            (r.kind == "complaint" || r.kind == "question")
                && r.published_at.timestamp() - r.published_at.timestamp() % 3600 >= start
        })
        .map(|r| r.topics.len().max(1) as u64)
        .sum();
    assert_eq!(report.rows.iter().map(|r| r.total).sum::<u64>(), expected);
    db.drop().await;
}

/// complaints_hourly's totals over (hour, municipality, topic) cells: distinct incidents, voices.
async fn linking_totals(db: &ScratchDb) -> (u64, u64) {
    let cells = "FROM complaints_hourly GROUP BY hour, municipality, topic";
    let incidents =
        db.count(&format!("SELECT toUInt64(sum(n)) FROM (SELECT uniqExactMerge(incidents) AS n {cells})")).await;
    let voices = db.count(&format!("SELECT toUInt64(sum(n)) FROM (SELECT uniqExactMerge(voices) AS n {cells})")).await;
    (incidents, voices)
}

/// What `linking_totals` must be for the latest versions `rows`.
fn expected_linking(rows: &[PostRow]) -> (u64, u64) {
    let (mut incidents, mut voices) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    for r in rows.iter().filter(|r| r.kind == "complaint" || r.kind == "question") {
        let hour = r.published_at.timestamp() / 3600;
        let topics = if r.topics.is_empty() { vec![String::new()] } else { r.topics.clone() };
        for topic in topics {
            if !r.incident_id.is_empty() {
                incidents.insert((hour, r.municipality.clone(), topic.clone(), r.incident_id.clone()));
            }
            if r.is_voice == 1 {
                voices.insert((hour, r.municipality.clone(), topic, r.uid.clone()));
            }
        }
    }
    (incidents.len() as u64, voices.len() as u64)
}

/// The alert stage's linked version of `row`: incidents of ten posts, every other post a voice.
fn linked(row: &PostRow, i: u64) -> PostRow {
    let mut row = row.clone();
    row.incident_id = format!("vk:-1000:{}", i - i % 10);
    row.is_voice = u8::from(i.is_multiple_of(2));
    row.version = otklik_clickhouse::row::post_version(row.collected_at, true);
    row
}

#[tokio::test]
async fn upgrading_from_004_moves_the_old_alerts_aside_and_backfills_incidents_and_voices() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::empty(&url, "otklik_mig_005");
    let migrator = Migrator::new(&db.config);
    migrator.migrate(Some(4)).await.unwrap();
    let rows: Vec<PostRow> = (0..300).map(|i| row(i, base_time(), 64)).collect();
    db.insert_pre_005_posts(&rows).await;
    let old_alert = "INSERT INTO alerts (municipality, municipality_name, topic, window_start, window_end, count, baseline, score, \
                     sample_uids, raised_at) VALUES ('56701000', 'г. Пенза', 'heating', now(), now(), 7, 1.5, 4.2, ['vk:-1000:1'], now())";
    db.client.query(old_alert).execute().await.unwrap();

    assert_eq!(migrator.migrate(None).await.unwrap().applied, vec![5, 6, 7, 8, 9]);
    // The old table, its row included, under its new name; `alerts` is new and empty.
    assert_eq!(db.count("SELECT count() FROM alerts_v0 WHERE count = 7 AND topic = 'heating'").await, 1);
    assert_eq!(db.count("SELECT count() FROM alerts").await, 0);
    assert_eq!(db.count("SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'alerts' AND name = 'id'").await, 1);
    // Posts from before 005 keep their cells and are nobody's voice yet.
    assert_eq!(db.hourly_cells().await, expected_cells(&rows));
    assert_eq!(linking_totals(&db).await, (0, 0));

    // The alert stage's linked versions of the first 100 reach the cells through the new view.
    let mut latest = rows.clone();
    for i in 0..100 {
        latest[i] = linked(&rows[i], i as u64);
    }
    let sink = ClickHouseSink::<PostRow>::new(db.config.clone());
    sink.insert(&latest[..100]).await.unwrap();
    let first = expected_linking(&latest);
    assert!(first.0 > 0 && first.1 > 0, "{first:?}");
    assert_eq!(linking_totals(&db).await, first);

    // Linked posts no view saw (the view dropped by hand): the repair's backfill counts them,
    // and counts the earlier ones no second time.
    db.client.query("DROP TABLE complaints_hourly_mv").execute().await.unwrap();
    for i in 100..200 {
        latest[i] = linked(&rows[i], i as u64);
    }
    sink.insert(&latest[100..200]).await.unwrap();
    assert_eq!(linking_totals(&db).await, first, "no view, no counting");
    let report = migrator.migrate(None).await.unwrap();
    let repaired: Vec<u32> = report.repaired.iter().map(|(version, _)| *version).collect();
    assert_eq!(repaired, vec![5], "{report:?}");
    assert_eq!(linking_totals(&db).await, expected_linking(&latest));
    assert_eq!(db.hourly_cells().await, expected_cells(&rows), "a linked version is the same post");
    // The guarded rename did nothing the second time.
    assert_eq!(db.count("SELECT count() FROM alerts_v0").await, 1);
    assert_eq!(
        db.count("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'alerts%'").await,
        2
    );
    db.drop().await;
}

#[tokio::test]
async fn dropping_the_new_alerts_table_repairs_it_in_its_new_shape() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let db = ScratchDb::new(&url, "otklik_mig_alerts").await;
    let target = schema(&db).await;
    db.client.query("DROP TABLE alerts").execute().await.unwrap();
    let report = Migrator::new(&db.config).migrate(None).await.unwrap();
    // 003 created the old shape, but 005 owns `alerts` now: 005 is applied again, then 009 adds
    // its columns back.
    let repaired: Vec<u32> = report.repaired.iter().map(|(version, _)| *version).collect();
    assert_eq!(repaired, vec![5, 9], "{report:?}");
    assert_eq!(schema(&db).await, target);
    db.drop().await;
}
