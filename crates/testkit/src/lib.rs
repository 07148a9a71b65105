//! Test helpers shared by otklik's crates (a dev-dependency only; nothing ships with it).
//!
//! [`fake_http::FakeServer`] plays a social network on 127.0.0.1 for collector tests, and
//! [`telegram::channel_page`] writes the pages of its t.me;
//! [`own_service::OwnService`] is a Kafka broker or ClickHouse server of a test's own, to stop and
//! restart in fault-injection tests.
//!
//! Service tests talk to real Kafka and ClickHouse processes that `scripts/test.sh` starts and
//! announces through environment variables:
//!
//! - [`KAFKA`] (`OTKLIK_TEST_KAFKA`, e.g. `127.0.0.1:39092`): Kafka bootstrap servers;
//! - [`CLICKHOUSE`] (`OTKLIK_TEST_CLICKHOUSE`, e.g. `http://127.0.0.1:38123`): ClickHouse HTTP URL.
//!
//! [`service`] (and the shorthands [`kafka`] / [`clickhouse`]) return the address, or `None`
//! after printing why the test is skipped. When [`REQUIRE`] (`OTKLIK_REQUIRE_SERVICES=1`, set by
//! CI) is on, a missing service panics instead, so CI can never pass by skipping.
//!
//! ```no_run
//! #[test]
//! fn talks_to_kafka() {
//!     let Some(brokers) = otklik_testkit::kafka() else { return };
//!     // … use `brokers` …
//! }
//! ```

/// Env var holding the Kafka bootstrap servers for tests.
pub const KAFKA: &str = "OTKLIK_TEST_KAFKA";
/// Env var holding the ClickHouse HTTP URL for tests.
pub const CLICKHOUSE: &str = "OTKLIK_TEST_CLICKHOUSE";
/// Env var that turns a missing service from a skip into a failure (`1` to require).
pub const REQUIRE: &str = "OTKLIK_REQUIRE_SERVICES";

/// Whether missing services must fail the test rather than skip it.
pub fn services_required() -> bool {
    matches!(std::env::var(REQUIRE).as_deref().map(str::trim), Ok("1") | Ok("true") | Ok("yes"))
}

/// The value of service env var `var`, or `None` (after printing a skip notice) when it is unset
/// or empty. Panics instead of skipping when [`services_required`].
#[track_caller]
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
        _ if services_required() => {
            panic!("{var} is not set but {REQUIRE}=1: run the tests with scripts/test.sh")
        }
        _ => {
            eprintln!("skipping: {var} not set (run scripts/test.sh)");
            None
        }
    }
}

/// Kafka bootstrap servers for tests; see [`service`].
#[track_caller]
pub fn kafka() -> Option<String> {
    service(KAFKA)
}

/// ClickHouse HTTP URL for tests; see [`service`].
#[track_caller]
pub fn clickhouse() -> Option<String> {
    service(CLICKHOUSE)
}

/// A name unique to this process and call, for topics, groups, databases and tables that tests
/// create on shared services (ASCII letters, digits and `_`).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{}_{}", std::process::id(), nanos, NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_identifiers() {
        let (a, b) = (unique_name("t"), unique_name("t"));
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }

    #[test]
    fn unset_service_skips_unless_required() {
        // Only meaningful when the env does not require services; otherwise it must panic.
        let var = "OTKLIK_TEST_SURELY_UNSET_VAR";
        if services_required() {
            assert!(std::panic::catch_unwind(|| service(var)).is_err());
        } else {
            assert_eq!(service(var), None);
        }
    }
}
pub mod fake_http;
pub mod own_service;
pub mod telegram;
