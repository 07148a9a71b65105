-- otklik migration 008: the audience of sources — one row per poll that saw a source's member or
-- subscriber count (VK `members_count`, the t.me/s header, OK `members_count`; columns =
-- `SourceStatRow`). The sink writes them from `otklik.sources.stats.v1`; the local store keeps
-- the same rows. A record delivered twice is the same sorting key, which ReplacingMergeTree
-- collapses; growth reads the first and last observation of a period, which a duplicate never
-- changes either.
CREATE TABLE IF NOT EXISTS source_stats
(
    source_id LowCardinality(String),
    platform LowCardinality(String),
    observed_at DateTime('UTC'),
    audience UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(observed_at)
ORDER BY (source_id, observed_at);
