-- otklik migration 005: incidents and voices (the alert stage's linking) in `posts` and
-- `complaints_hourly`, and the `alerts` table reshaped for alert events.
--
-- `posts` gains the linking columns, placed so that the columns stay exactly `PostRow`'s fields
-- in order (a test compares them): `copy_of` (the first post of its copy cluster), `incident_id`
-- (the uid of the incident's first post) and `is_voice` (counts as a distinct resident).
ALTER TABLE posts ADD COLUMN IF NOT EXISTS copy_of String AFTER classifier_version;

ALTER TABLE posts ADD COLUMN IF NOT EXISTS incident_id String AFTER copy_of;

ALTER TABLE posts ADD COLUMN IF NOT EXISTS is_voice UInt8 AFTER incident_id;

-- `complaints_hourly` gains, per cell, the distinct incidents (non-empty `incident_id`) and the
-- distinct voices (uids with `is_voice = 1`): the series the spike detector counts.
--
-- A post reaches `posts` at least twice: the classifier's version (not linked yet: no incident,
-- no voice) and then the alert stage's linked one (a higher `version`), plus any redelivery. The
-- view sees every insert, but the states are sets (uniqExact), so merging them is a union: the
-- unlinked version adds nothing to `incidents` and `voices`, the linked one adds its incident and
-- voice once, and a redelivery adds nothing new. Known limit, as for re-classification in 002: if
-- a later version moves a post to another incident or takes its voice back, the earlier state
-- keeps it; `posts FINAL` is the exact source then.
--
-- `uniqExactStateIf` (State, then If), not `uniqExactIfState`: only the former yields the plain
-- `AggregateFunction(uniqExact, String)` on both 18.16 and current servers.
ALTER TABLE complaints_hourly ADD COLUMN IF NOT EXISTS incidents AggregateFunction(uniqExact, String) AFTER posts;

ALTER TABLE complaints_hourly ADD COLUMN IF NOT EXISTS voices AggregateFunction(uniqExact, String) AFTER incidents;

-- The view of 002 does not fill the new columns: replace it. Posts inserted between the DROP and
-- the CREATE are caught by the backfill below, which runs after the new view exists.
DROP TABLE IF EXISTS complaints_hourly_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaints_hourly_mv TO complaints_hourly AS
SELECT
    toStartOfHour(published_at) AS hour,
    municipality,
    municipality_name,
    arrayJoin(if(empty(topics), [''], topics)) AS topic,
    kind,
    uniqExactState(uid) AS posts,
    uniqExactStateIf(incident_id, incident_id != '') AS incidents,
    uniqExactStateIf(uid, is_voice = 1) AS voices
FROM posts
WHERE kind IN ('complaint', 'question')
GROUP BY hour, municipality, municipality_name, topic, kind;

-- Backfill what `posts` held before the new view existed. Safe to repeat and safe against rows
-- the view caught meanwhile: the states are unions (`posts` again included, harmlessly).
INSERT INTO complaints_hourly (hour, municipality, municipality_name, topic, kind, posts, incidents, voices)
SELECT
    toStartOfHour(published_at) AS hour,
    municipality,
    municipality_name,
    arrayJoin(if(empty(topics), [''], topics)) AS topic,
    kind,
    uniqExactState(uid) AS posts,
    uniqExactStateIf(incident_id, incident_id != '') AS incidents,
    uniqExactStateIf(uid, is_voice = 1) AS voices
FROM posts
WHERE kind IN ('complaint', 'question')
GROUP BY hour, municipality, municipality_name, topic, kind;

-- `alerts` of 003 does not fit alert events: its columns are not `AlertRow`'s, and its sorting
-- key (window_start, municipality, topic) under ReplacingMergeTree would collapse the events of
-- one alert (opened, updated, resolved share a window) into one row. Nothing ever wrote to it,
-- but it is moved aside, not dropped. The guard makes this a no-op once the old shape is gone
-- (a repeated or repairing run; old servers have no RENAME TABLE IF EXISTS).
-- @if SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'alerts' AND name = 'baseline'
RENAME TABLE alerts TO alerts_v0;

-- One row per event of an alert (opened, updated, reopened, resolved; columns = `AlertRow`):
-- a plain MergeTree keeps every event, and an alert's state is its latest event by raised_at
-- (argMax per id; `History::latest_alerts`).
CREATE TABLE IF NOT EXISTS alerts
(
    id String,
    state LowCardinality(String),
    severity LowCardinality(String),
    method LowCardinality(String),
    expected_note String,
    municipality LowCardinality(String),
    municipality_name LowCardinality(String),
    topic LowCardinality(String),
    window_start DateTime('UTC'),
    window_end DateTime('UTC'),
    observed UInt64,
    expected Float64,
    upper_bound UInt64,
    p_value Float64,
    incidents UInt64,
    voices UInt64,
    incident_uids Array(String),
    incident_urls Array(String),
    incident_excerpts Array(String) CODEC(ZSTD(3)),
    incident_voices Array(UInt64),
    raised_at DateTime('UTC') CODEC(Delta(4), ZSTD(1))
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(raised_at)
ORDER BY (id, raised_at)
TTL raised_at + toIntervalDay(730);
