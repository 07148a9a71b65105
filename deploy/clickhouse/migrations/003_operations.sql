-- otklik migration 003: the operational tables: `dlq` (what a stage could not process, with the
-- reason; columns = `DlqRow`), `alerts` (spikes the alerter raised; columns = `AlertRow`) and
-- `sources_status` (each source's latest collection state; columns = `SourceStatusRow`).
CREATE TABLE IF NOT EXISTS dlq
(
    stage LowCardinality(String),
    error String,
    topic LowCardinality(String),
    `partition` Int32,
    `offset` Int64,
    key String,
    payload String CODEC(ZSTD(3)),
    payload_encoding LowCardinality(String),
    failed_at DateTime('UTC')
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(failed_at)
ORDER BY (stage, failed_at)
TTL failed_at + toIntervalDay(90);

-- Re-raised alerts for the same window replace the earlier row (latest raised_at wins).
CREATE TABLE IF NOT EXISTS alerts
(
    municipality LowCardinality(String),
    municipality_name LowCardinality(String),
    topic LowCardinality(String),
    window_start DateTime('UTC'),
    window_end DateTime('UTC'),
    count UInt64,
    baseline Float64,
    score Float64,
    sample_uids Array(String),
    raised_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(raised_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, municipality, topic);

-- One row per source and update; ReplacingMergeTree keeps the latest per source.
CREATE TABLE IF NOT EXISTS sources_status
(
    source_id String,
    platform LowCardinality(String),
    state LowCardinality(String),
    reason String,
    newest_id UInt64,
    polled_at DateTime('UTC'),
    updated_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY source_id;
