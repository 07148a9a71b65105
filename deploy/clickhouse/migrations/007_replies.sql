-- otklik migration 007: response tracking — each resident complaint's first reply, and the
-- response figures per organisation and municipality per day.
--
-- One row per complaint (a resident's complaint or question, post or comment) with its first
-- reply, if any yet (columns = `ReplyRow`; written by `otklik report responses --record`, computed
-- by otklik_respond from the latest version of every post). A complaint computed again (another
-- report, the same posts delivered twice) is the same sorting key: ReplacingMergeTree keeps the
-- latest `computed_at`, so redelivery never inflates a figure. complaint_at is fixed by the
-- platform, so every version of a complaint lands in the same monthly partition.
CREATE TABLE IF NOT EXISTS replies
(
    complaint_uid String,
    source_id LowCardinality(String),
    municipality LowCardinality(String),
    organisation LowCardinality(String),
    complaint_at DateTime('UTC'),
    answered UInt8,
    reply_uid String,
    replied_by LowCardinality(String),
    first_reply_at DateTime('UTC'),
    reply_delay_seconds UInt32,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(complaint_at)
ORDER BY (toDate(complaint_at), complaint_uid);

-- Response figures per day (of the complaint) × organisation × municipality. A plain view over
-- `replies FINAL`, not a materialized one: a materialized view sees each inserted block, so a
-- complaint recomputed (answered later, or delivered twice) would be counted again, and 18.16
-- has no way to retract it. Medians are quantileExact's: the element at floor(q·n) of the sorted
-- delays, as `otklik report responses` computes them.
CREATE VIEW IF NOT EXISTS response_daily AS
SELECT
    toDate(complaint_at) AS day,
    organisation,
    municipality,
    count() AS complaints,
    countIf(answered = 1 AND reply_delay_seconds <= 86400) AS answered_24h,
    answered_24h / complaints AS answered_24h_share,
    quantileExactIf(0.5)(reply_delay_seconds, answered = 1) AS median_delay_seconds,
    quantileExactIf(0.9)(reply_delay_seconds, answered = 1) AS p90_delay_seconds
FROM
(
    -- A subquery: 18.16 adds the sorting key's toDate(complaint_at) to a FINAL read, which
    -- would clash with `day` in the same SELECT.
    SELECT complaint_at, organisation, municipality, answered, reply_delay_seconds FROM replies FINAL
)
GROUP BY day, organisation, municipality;
