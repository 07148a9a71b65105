//! The `clickhouse` crate against a real server: `scripts/test.sh` starts one (Debian's
//! clickhouse-server, 18.16) and sets `OTKLIK_TEST_CLICKHOUSE`. Without it this skips (or fails,
//! with `OTKLIK_REQUIRE_SERVICES=1`).

use chrono::{DateTime, TimeZone, Utc};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct SmokeRow {
    uid: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    published_at: DateTime<Utc>,
    views: u64,
    score: f64,
    is_source: u8,
    topics: Vec<String>,
    municipality: Option<String>,
}

fn rows() -> Vec<SmokeRow> {
    (0..100u64)
        .map(|i| SmokeRow {
            uid: format!("vk:-12345:{i}"),
            published_at: Utc.with_ymd_and_hms(2025, 10, 1, 8, 0, 0).unwrap() + chrono::Duration::minutes(i as i64),
            views: i * 1000,
            score: i as f64 / 8.0,
            is_source: (i % 2) as u8,
            topics: (0..i % 3).map(|t| ["heating", "garbage"][t as usize % 2].to_owned()).collect(),
            municipality: (i % 4 != 0).then(|| format!("Пенза {i}")),
        })
        .collect()
}

#[tokio::test]
async fn insert_and_read_back_rows() {
    let Some(url) = otklik_testkit::clickhouse() else { return };
    let database = otklik_testkit::unique_name("otklik_smoke");
    // Validation must be off for 18.16: with it on (the default) the crate fetches the schema with
    // `DESCRIBE TABLE … SETTINGS describe_include_subcolumns=1` and reads with
    // RowBinaryWithNamesAndTypes, and 18.16 answers "Unknown setting describe_include_subcolumns".
    let client = Client::default().with_url(&url).with_validation(false);
    client.query(&format!("CREATE DATABASE {database}")).execute().await.expect("create database");
    let result = roundtrip(&client.clone().with_database(&database)).await;
    client.query(&format!("DROP DATABASE {database}")).execute().await.expect("drop database");
    result.unwrap();
}

async fn roundtrip(client: &Client) -> clickhouse::error::Result<()> {
    for table in ["posts_insert", "posts_inserter"] {
        client
            .query(&format!(
                "CREATE TABLE {table} (
                    uid String,
                    published_at DateTime('UTC'),
                    views UInt64,
                    score Float64,
                    is_source UInt8,
                    topics Array(String),
                    municipality Nullable(String)
                ) ENGINE = MergeTree ORDER BY uid"
            ))
            .execute()
            .await?;
    }
    let rows = rows();

    // One INSERT (RowBinary) for all rows.
    let mut insert = client.insert::<SmokeRow>("posts_insert").await?;
    for row in &rows {
        insert.write(row).await?;
    }
    insert.end().await?;

    // The batching inserter: a new INSERT every 30 rows.
    let mut inserter = client.inserter::<SmokeRow>("posts_inserter").with_max_rows(30);
    let mut committed = 0;
    for row in &rows {
        inserter.write(row).await?;
        committed += inserter.commit().await?.rows;
    }
    committed += inserter.end().await?.rows;
    assert_eq!(committed, rows.len() as u64);

    for table in ["posts_insert", "posts_inserter"] {
        let back = client.query(&format!("SELECT ?fields FROM {table} ORDER BY views")).fetch_all::<SmokeRow>().await?;
        assert_eq!(back, rows, "{table}");
        let count: u64 = client
            .query(&format!("SELECT count() FROM {table} WHERE has(topics, ?)"))
            .bind("heating")
            .fetch_one()
            .await?;
        assert_eq!(count, rows.iter().filter(|r| r.topics.iter().any(|t| t == "heating")).count() as u64);
        client.query(&format!("DROP TABLE {table}")).execute().await?;
    }
    Ok(())
}
