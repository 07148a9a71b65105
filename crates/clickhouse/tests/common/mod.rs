//! Shared by the service tests and the benchmark: sample posts and a scratch database.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use clickhouse::Row;
use otklik_clickhouse::{ClickHouseSinkConfig, Migrator, PostRow};
use otklik_model::{
    Author, Classification, ClassifiedPost, Counters, ItemKind, MunicipalityEvidence, MunicipalityMatch, Platform,
    PostKind, RawPost, Schema, Topic, TopicHit,
};

pub const MUNICIPALITIES: &[(&str, &str)] =
    &[("56701000", "г. Пенза"), ("56734000", "г. Заречный"), ("56640000", "Кузнецкий район"), ("", "")];
pub const TOPICS: &[Topic] = &[Topic::Heating, Topic::HotWater, Topic::Roads, Topic::Garbage, Topic::Lifts];

/// Post number `i`, published in the hour `i % 48` hours before `base`, with `text_len` bytes of text.
pub fn classified(i: u64, base: DateTime<Utc>, text_len: usize) -> ClassifiedPost {
    let published_at = base - chrono::Duration::minutes((i % (48 * 60)) as i64);
    let kind = [PostKind::Complaint, PostKind::Question, PostKind::Info][(i % 3) as usize];
    let topics = if i.is_multiple_of(7) {
        Vec::new()
    } else {
        let mut hits = vec![TopicHit { topic: TOPICS[(i % 5) as usize], score: 0.9, rule: "test.rule".into() }];
        if i.is_multiple_of(4) {
            hits.push(TopicHit { topic: TOPICS[((i + 1) % 5) as usize], score: 0.5, rule: "test.second".into() });
        }
        hits
    };
    let (oktmo, name) = MUNICIPALITIES[(i % 4) as usize];
    let mut text = format!("Жалоба номер {i}: во дворе нет отопления, батареи холодные. ");
    while text.len() < text_len {
        text.push_str("Управляющая компания не отвечает на звонки уже неделю. ");
    }
    text.truncate(text.char_indices().map(|(at, _)| at).take_while(|&at| at <= text_len).last().unwrap_or(0));
    ClassifiedPost {
        post: RawPost {
            schema: Schema,
            uid: format!("vk:-1000:{i}").parse().unwrap(),
            platform: Platform::Vk,
            source_id: "vk:-1000".into(),
            item_kind: ItemKind::Post,
            parent_uid: None,
            url: Some(format!("https://vk.com/wall-1000_{i}")),
            author: Author {
                id: Some(format!("{}", 500 + i % 100)), name: Some("Житель".into()), is_source: false
            },
            published_at,
            edited_at: None,
            edited: false,
            collected_at: published_at + chrono::Duration::minutes(5),
            text,
            repost_of: None,
            attachments: Vec::new(),
            counters: Counters { views: Some(i), likes: Some(i % 10), reposts: None, comments: Some(1) },
            pinned: false,
            ads: false,
            geo: None,
        },
        classification: Classification {
            classifier_version: "test-1".into(),
            language: "ru".into(),
            kind,
            topics,
            municipality: (!oktmo.is_empty()).then(|| MunicipalityMatch {
                oktmo: oktmo.into(),
                name: name.into(),
                evidence: MunicipalityEvidence::Text,
            }),
            out_of_region: false,
        },
        copy_of: None,
        incident_id: None,
        is_voice: None,
    }
}

pub fn row(i: u64, base: DateTime<Utc>, text_len: usize) -> PostRow {
    PostRow::from(&classified(i, base, text_len))
}

/// A fixed recent hour (rows hour-aligned so counts do not depend on when the test runs).
pub fn base_time() -> DateTime<Utc> {
    let now = Utc::now();
    Utc.timestamp_opt(now.timestamp() - now.timestamp() % 3600, 0).unwrap()
}

/// Complaint/question (uid, cell) pairs `complaints_hourly` must count for these rows.
pub fn expected_cells(rows: &[PostRow]) -> u64 {
    rows.iter().filter(|r| r.kind == "complaint" || r.kind == "question").map(|r| r.topics.len().max(1) as u64).sum()
}

/// A fresh, migrated database on the test server, dropped when the guard goes.
pub struct ScratchDb {
    pub config: ClickHouseSinkConfig,
    pub client: clickhouse::Client,
}

impl ScratchDb {
    pub async fn new(url: &str, prefix: &str) -> ScratchDb {
        let db = Self::empty(url, prefix);
        Migrator::new(&db.config).migrate(None).await.expect("migrate");
        db
    }

    pub fn empty(url: &str, prefix: &str) -> ScratchDb {
        let config = ClickHouseSinkConfig::new(url, otklik_testkit::unique_name(prefix));
        ScratchDb { client: config.client(), config }
    }

    pub async fn count(&self, sql: &str) -> u64 {
        self.client.query(sql).fetch_one::<u64>().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// complaints_hourly's distinct (uid, hour, municipality, topic, kind) cells.
    pub async fn hourly_cells(&self) -> u64 {
        self.count("SELECT toUInt64(sum(n)) FROM (SELECT uniqExactMerge(posts) AS n FROM complaints_hourly GROUP BY hour, municipality, topic, kind)").await
    }

    /// Inserts `rows` as JSONEachRow into the columns of `posts` before migration 005 (without
    /// the linking columns): what a writer of that time sent.
    pub async fn insert_pre_005_posts(&self, rows: &[PostRow]) {
        const LINKING: [&str; 3] = ["copy_of", "incident_id", "is_voice"];
        let columns: Vec<&str> = PostRow::COLUMN_NAMES.iter().copied().filter(|c| !LINKING.contains(c)).collect();
        let mut body = Vec::new();
        for row in rows {
            let mut value = serde_json::to_value(row).unwrap();
            for column in LINKING {
                value.as_object_mut().unwrap().remove(column);
            }
            serde_json::to_writer(&mut body, &value).unwrap();
            body.push(b'\n');
        }
        let sql = format!("INSERT INTO posts ({}) FORMAT JSONEachRow", columns.join(", "));
        let mut insert = self.client.insert_formatted_with(sql);
        insert.send(body.into()).await.unwrap();
        insert.end().await.unwrap();
    }

    pub async fn drop(self) {
        let mut server = self.config.clone();
        server.database = String::new();
        server
            .client()
            .query(&format!("DROP DATABASE IF EXISTS `{}`", self.config.database))
            .execute()
            .await
            .expect("drop database");
    }
}
