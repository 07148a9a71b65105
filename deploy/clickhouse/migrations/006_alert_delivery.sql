-- otklik migration 006: alert delivery — the delivery log (which is also the outbox) and the
-- duty officers' silences.
--
-- One row per line of `DeliveryRecord` (columns = `DeliveryRow`): a notification queued (its
-- JSON in `notification`), each attempt and its outcome, or an alert recorded but not sent
-- (silenced, inhibited). Rows are only appended; a notification's state is its latest row by
-- (at, attempt), and on start the outbox resends every notification whose latest row is `queued`
-- or `retry`.
CREATE TABLE IF NOT EXISTS alert_deliveries
(
    notification_id String,
    receiver LowCardinality(String),
    group_key LowCardinality(String),
    alert_ids Array(String),
    attempt UInt32,
    at DateTime('UTC'),
    outcome LowCardinality(String),
    status_code UInt16,
    detail String,
    next_attempt_at DateTime('UTC'),
    message_ids Array(Int64),
    notification String CODEC(ZSTD(3))
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (receiver, notification_id, at, attempt)
TTL at + toIntervalDay(730);

-- One row per version of a silence (columns = `SilenceRow`): ending one early stores it again
-- with `ends_at` = now; the latest `stored_at` of an id wins.
CREATE TABLE IF NOT EXISTS alert_silences
(
    id String,
    series String,
    starts_at DateTime('UTC'),
    ends_at DateTime('UTC'),
    reason String,
    created_by String,
    stored_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(stored_at)
ORDER BY id;
