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

/// Every secret a run can hold, each distinct enough to be found in any output.
const VK_TOKENS: [&str; 2] = [
    "vk1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8",
    "vk2secondtokenXYZ0123456789abcdefABCDEF0123456789abcdef",
];
const OK_SECRET_KEY: &str = "oksecretkey0123456789ABCDEF0123";
const OK_ACCESS_TOKEN: &str = "okaccesstoken-9f8e7d6c5b4a3f2e1d0c-tkn";
const OK_SESSION_KEY: &str = "oksessionsecret-0a1b2c3d4e5f";
const CH_PASSWORD: &str = "ch-run-password-7e3c91";
const WEBHOOK_SECRET: &str = "webhook-raw-secret-4d2a99f0c1";
const BOT_TOKEN: &str = "1234567890:AAbotTOKENforTheDutyChat_xyz987";

/// A network that echoes each request back in its error, as VK does with `request_params`.
fn echoing(request: &otklik_testkit::fake_http::FakeRequest) -> FakeResponse {
    let echo = format!("{:?} {}", request.query, String::from_utf8_lossy(&request.body)).replace('"', "'");
    if request.path.starts_with("/vk/") {
        let body = format!(r#"{{"error":{{"error_code":5,"error_msg":"User authorization failed: {echo}"}}}}"#);
        FakeResponse::json(body)
    } else if request.path.starts_with("/ok/") {
        FakeResponse::json(format!(r#"{{"error_code":102,"error_msg":"PARAM_SESSION_EXPIRED: {echo}"}}"#))
    } else {
        FakeResponse::Reply { status: 500, headers: vec![], body: format!("server error: {echo}").into_bytes() }
    }
}

fn secrets_config(dir: &std::path::Path, api: &str) -> std::path::PathBuf {
    let config = super::repo().join("config");
    std::fs::write(dir.join("vk.token"), VK_TOKENS[1]).unwrap();
    std::fs::write(dir.join("ok.session"), OK_SESSION_KEY).unwrap();
    std::fs::write(dir.join("webhook.secret"), WEBHOOK_SECRET).unwrap();
    let sources = "[[source]]\nid = \"vk-s\"\nplatform = \"vk\"\nhandle = \"-1000001\"\n\n\
        [[source]]\nid = \"ok-s\"\nplatform = \"ok\"\nhandle = \"54390000000001\"\n\n\
        [[source]]\nid = \"tg-s\"\nplatform = \"telegram\"\nhandle = \"secrets_chan\"\n";
    std::fs::write(dir.join("sources.toml"), sources).unwrap();
    let text = format!(
        r#"[run]
data_dir = {data:?}

[telemetry]
log_level = "trace"
metrics_listen = ""

[classify]
gazetteer = {gazetteer:?}
topics_dir = {topics:?}

[alert]
calendar_dir = {calendar:?}

[clickhouse]
password_env = "OTKLIK_TEST_CH_PASSWORD"

[collect]
sources_file = "sources.toml"

[collect.vk]
api_base = "{api}/vk"
tokens_env = ["OTKLIK_TEST_VK_TOKEN"]
token_files = ["vk.token"]

[collect.ok]
api_base = "{api}/ok/fb.do"
application_key = "CBAPUBLICKEY"
application_secret_key_env = "OTKLIK_TEST_OK_SECRET"
access_token_env = "OTKLIK_TEST_OK_TOKEN"
session_secret_key_file = "ok.session"

[collect.telegram]
base_url = "{api}"

[[alerts.route]]
receivers = ["hook", "duty"]

[[alerts.receiver]]
name = "hook"
kind = "webhook"
url = "{api}/hook"
secret_file = "webhook.secret"

[[alerts.receiver]]
name = "duty"
kind = "telegram"
chat_id = -100123
token_env = "OTKLIK_TEST_BOT_TOKEN"
api_url = "{api}/tg"
"#,
        data = dir.join("data"),
        gazetteer = config.join("gazetteer/gazetteer.tsv"),
        topics = config.join("topics"),
        calendar = config.join("calendar"),
    );
    let path = dir.join("otklik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_json_logged_run_with_every_secret_configured_prints_none_of_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakeServer::start(echoing));
    let dir = tempfile::tempdir().unwrap();
    let config = secrets_config(dir.path(), &server.url());
    let mut child = otklik()
        .args(["run", "--log-format", "json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "trace")
        .env("OTKLIK_TEST_VK_TOKEN", VK_TOKENS[0])
        .env("OTKLIK_TEST_OK_SECRET", OK_SECRET_KEY)
        .env("OTKLIK_TEST_OK_TOKEN", OK_ACCESS_TOKEN)
        .env("OTKLIK_TEST_CH_PASSWORD", CH_PASSWORD)
        .env("OTKLIK_CLICKHOUSE_PASSWORD", CH_PASSWORD)
        .env("OTKLIK_TEST_BOT_TOKEN", BOT_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // One whole poll pass: every network was asked, and answered with its echo.
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("poll pass done")) {
        let line = lines.recv_timeout(std::time::Duration::from_secs(120));
        log.push(line.unwrap_or_else(|_| panic!("no poll pass:\n{}", log.join("\n"))));
    }
    std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let output = child.wait_with_output().unwrap();
    log.extend(lines.iter());
    let (log, out) = (log.join("\n"), stdout(&output));
    let secrets = [VK_TOKENS[0], VK_TOKENS[1], OK_SECRET_KEY, OK_ACCESS_TOKEN, OK_SESSION_KEY];
    let secrets = [&secrets[..], &[CH_PASSWORD, WEBHOOK_SECRET, BOT_TOKEN]].concat();
    // Failures name a secret by number and show the output masked: the test's own output must
    // not print one either.
    let masked = |text: &str| {
        secrets.iter().enumerate().fold(text.to_owned(), |t, (i, s)| t.replace(s, &format!("<secret {i}>")))
    };
    for line in log.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not a JSON log line: {}", masked(line));
    }
    let asked = format!("{:?}", server.requests());
    let vk_asked = asked.contains(VK_TOKENS[0]) || asked.contains(VK_TOKENS[1]);
    assert!(vk_asked, "no VK request carried a token");
    assert!(asked.contains(OK_ACCESS_TOKEN), "no OK request carried the access token");
    assert!(log.contains("***"), "no echo reached the log, so nothing was tested:\n{}", masked(&log));
    for (i, secret) in secrets.iter().enumerate() {
        let printed = log.contains(secret) || out.contains(secret);
        assert!(!printed, "secret {i} was printed:\n{}\n{}", masked(&log), masked(&out));
    }
}
