-- otklik migration 001: the `posts` table, one row per version of a post or comment.
--
-- Written in current ClickHouse SQL. On servers older than 20.3 the migrator rewrites it
-- mechanically (crates/clickhouse/src/migrate.rs, `downlevel`): LowCardinality(T) -> T, codecs,
-- data-skipping INDEX lines and TTL lines dropped. The columns are exactly `PostRow`'s fields in
-- order (a test compares them).
--
-- ReplacingMergeTree collapses rows with an equal sorting key to the one with the highest
-- `version` (collected_at in ms), so the sorting key must identify the uid and nothing that can
-- change between versions: (day of published_at, uid). Municipality and topics come from the
-- classifier and may change on re-collection, so they cannot be in the key; analyst filters on
-- them use the skipping indexes below, or `complaints_hourly`. published_at is fixed by the
-- platform, so every version of a uid lands in the same monthly partition (dedup never crosses
-- partitions). Read with FINAL (or argMax by version) for exactly-once counts before merges.
CREATE TABLE IF NOT EXISTS posts
(
    uid String,
    platform LowCardinality(String),
    source_id LowCardinality(String),
    item_kind LowCardinality(String),
    parent_uid String,
    url String CODEC(ZSTD(1)),
    author_id String,
    author_name String,
    author_is_source UInt8,
    published_at DateTime('UTC') CODEC(Delta(4), ZSTD(1)),
    edited_at DateTime('UTC') CODEC(Delta(4), ZSTD(1)),
    edited UInt8,
    collected_at DateTime('UTC') CODEC(Delta(4), ZSTD(1)),
    text String CODEC(ZSTD(3)),
    repost_of_uid String,
    repost_of_name String,
    repost_of_text String CODEC(ZSTD(3)),
    attachment_kinds Array(LowCardinality(String)),
    views UInt64,
    likes UInt64,
    reposts UInt64,
    comments UInt64,
    pinned UInt8,
    ads UInt8,
    language LowCardinality(String),
    kind LowCardinality(String),
    topics Array(LowCardinality(String)),
    topic_scores Array(Float32),
    topic_rules Array(LowCardinality(String)),
    municipality LowCardinality(String),
    municipality_name LowCardinality(String),
    municipality_evidence LowCardinality(String),
    classifier_version LowCardinality(String),
    version UInt64,
    INDEX municipality_idx municipality TYPE set(1000) GRANULARITY 4,
    INDEX topics_idx topics TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(published_at)
ORDER BY (toDate(published_at), uid);
