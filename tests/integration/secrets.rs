//! Secrets the binary knows never reach its output: a ClickHouse that echoes the password in
//! its error answer (as some proxies and old servers do with the request) does not get it
//! printed by the error chain or any log line.

use super::{otklik, run, stderr, stdout};
use otklik_testkit::fake_http::{FakeResponse, FakeServer};

const PASSWORD: &str = "ch-integration-password-51c9";

#[test]
fn a_password_echoed_by_clickhouse_is_masked_in_the_error_chain_and_logs() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakeServer::start(|_| {
        let body = format!("Code: 516. DB::Exception: default: Authentication failed: password {PASSWORD} is wrong");
        FakeResponse::ok("text/plain", body).with_header("X-ClickHouse-Exception-Code", "516")
    }));
    let output = run(otklik()
        .args(["clickhouse", "migrate", "--config", "config/demo.toml"])
        .env("OTKLIK_CLICKHOUSE_URL", server.url())
        .env("OTKLIK_CLICKHOUSE_PASSWORD", PASSWORD)
        .env("RUST_LOG", "trace"));
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(!output.status.success(), "{out}{err}");
    assert!(!server.requests().is_empty(), "ClickHouse was not asked: {err}");
    assert!(err.contains("password *** is wrong"), "the echo did not reach the error chain: {err}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD), "{out}{err}");
}
