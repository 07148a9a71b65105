//! The families `/metrics` serves (src/metrics.rs). A file of its own so that the integration
//! tests include it and deploy/tests/check_observability.py reads it: one list for the code, the
//! tests, the Prometheus rules, the dashboards and docs/operations.md.

// The binary serves these families through src/metrics.rs; only the tests read the list itself.
#![allow(dead_code)]

/// Every family `/metrics` serves: the name a query uses (with `_total` for counters), its
/// type, and whether only the production wiring has it (Kafka, ClickHouse).
pub const FAMILIES: &[(&str, &str, Wiring)] = &[
    ("otklik_build_info", "info", Wiring::Any),
    ("otklik_config_info", "info", Wiring::Any),
    ("otklik_ready", "gauge", Wiring::Any),
    ("otklik_dependency_up", "gauge", Wiring::Production),
    ("otklik_stage_up", "gauge", Wiring::Any),
    ("otklik_stage_received_total", "counter", Wiring::Any),
    ("otklik_stage_emitted_total", "counter", Wiring::Any),
    ("otklik_stage_dead_lettered_total", "counter", Wiring::Any),
    ("otklik_stage_failed_total", "counter", Wiring::Any),
    ("otklik_stage_batches_total", "counter", Wiring::Any),
    ("otklik_stage_retries_total", "counter", Wiring::Any),
    ("otklik_stage_commits_total", "counter", Wiring::Any),
    ("otklik_alert_receiver_delivered_total", "counter", Wiring::Any),
    ("otklik_alert_receiver_retries_total", "counter", Wiring::Any),
    ("otklik_alert_receiver_failed_total", "counter", Wiring::Any),
    ("otklik_alert_receiver_pending", "gauge", Wiring::Any),
    ("otklik_alert_receiver_disabled", "gauge", Wiring::Any),
    ("otklik_source_polls_total", "counter", Wiring::Polled),
    ("otklik_source_poll_failures_total", "counter", Wiring::Polled),
    ("otklik_source_posts_total", "counter", Wiring::Polled),
    ("otklik_source_last_success_timestamp_seconds", "gauge", Wiring::Polled),
    ("otklik_rate_limit_waits_total", "counter", Wiring::Polled),
    ("otklik_rate_limit_wait_seconds_total", "counter", Wiring::Polled),
    ("otklik_classifier_posts_total", "counter", Wiring::Polled),
    ("otklik_classifier_topics_total", "counter", Wiring::Polled),
    ("otklik_alerts_open", "gauge", Wiring::Polled),
    ("otklik_kafka_consumer_lag", "gauge", Wiring::Production),
    ("otklik_kafka_consumer_stalled", "gauge", Wiring::Production),
    ("otklik_kafka_producer_queue_messages", "gauge", Wiring::Production),
    ("otklik_kafka_producer_queue_bytes", "gauge", Wiring::Production),
    ("otklik_clickhouse_inserts_total", "counter", Wiring::Production),
    ("otklik_clickhouse_insert_rows_total", "counter", Wiring::Production),
    ("otklik_clickhouse_insert_bytes_total", "counter", Wiring::Production),
    ("otklik_clickhouse_insert_retries_total", "counter", Wiring::Production),
    ("otklik_clickhouse_insert_duration_seconds", "histogram", Wiring::Production),
];

/// Which wirings serve a family's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    Any,
    /// Once a source has been polled (a post classified, an alert opened).
    Polled,
    Production,
}
