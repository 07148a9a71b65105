//! Credentials stay home: against fake VK, OK and t.me servers on 127.0.0.1 that redirect to a
//! second fake on another port, or echo the token back in every place they can (an error
//! message, error data, a non-JSON body, a header, a redirect's `Location`), no request reaches
//! the other host, no request carries a `Referer`, and the token is in no error, no cursor, no
//! DLQ record and no log line.

use otklik_collect::http::{redact, HttpClient, HttpConfig};
use otklik_collect::ok::{OkClient, OkConfig, OkCredentials, OkReader, Secret};
use otklik_collect::ratelimit::{Rate, RateLimiter};
use otklik_collect::telegram::{TelegramConfig, TelegramReader};
use otklik_collect::vk::{VkConfig, VkReader, VkToken};
use otklik_collect::{CollectError, Collector, CollectorTopics, FeedReader, PollOutcome};
use otklik_model::{CommentsPolicy, Cursor, Platform, Schema, Source};
use otklik_pipeline::{Backoff, Bus, DeadLetters, MemoryBus, StageMetrics};
use otklik_testkit::fake_http::{FakeRequest, FakeResponse, FakeServer};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const VK_TOKEN: &str = "vk1.a.NoLeak-Vk-Token-5d41402abc";
const OK_TOKEN: &str = "-nl-NoLeak.Ok-Access-Token-8f14e45f";
const OK_APP_SECRET: &str = "NOLEAKAPPSECRET0C9F1A2B";
const OK_APP_KEY: &str = "CBANOLEAKAPPKEY";
const MIRROR_PASSWORD: &str = "mirror-pass-7781";

fn source(platform: Platform, handle: &str) -> Source {
    let id = format!("{platform}-{handle}");
    let (handle, comments) = (handle.into(), CommentsPolicy::None);
    let (name, municipality) = (String::new(), None);
    Source { schema: Schema, id, platform, handle, name, municipality, official: false, comments, enabled: true }
}

fn http() -> HttpClient {
    let backoff = Backoff { initial: Duration::from_millis(5), max: Duration::from_millis(20) };
    let config = HttpConfig { timeout: Duration::from_secs(5), max_retries: 2, backoff, ..HttpConfig::default() };
    HttpClient::new(config, Arc::new(RateLimiter::new())).unwrap()
}

fn vk_reader(server: &FakeServer) -> VkReader {
    let config = VkConfig {
        api_base: format!("{}/method", server.url()),
        tokens_env: vec!["UNUSED".into()],
        max_attempts: 2,
        retry_initial: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        batch_linger: Duration::from_millis(1),
        ..VkConfig::default()
    };
    VkReader::new(config, vec![VkToken::new(VK_TOKEN, "test", Rate::per_second(100))], http()).unwrap()
}

fn ok_config(server: &FakeServer) -> OkConfig {
    OkConfig {
        api_base: format!("{}/fb.do", server.url()),
        application_key: OK_APP_KEY.into(),
        rate: Rate::per_second(100),
        retries: 1,
        retry_initial: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
        ..OkConfig::default()
    }
}

fn ok_reader(server: &FakeServer) -> OkReader {
    let config = ok_config(server);
    let credentials = OkCredentials {
        application_key: OK_APP_KEY.into(),
        application_secret_key: Secret::new(OK_APP_SECRET),
        access_token: Secret::new(OK_TOKEN),
        session_secret_key: None,
    };
    OkReader::new(&config, Arc::new(OkClient::new(&config, credentials, http()).unwrap()))
}

fn telegram_reader(server: &FakeServer) -> TelegramReader {
    // A mirror that wants credentials: they ride in the base URL's userinfo.
    let base = server.url().replace("http://", &format!("http://mirror:{MIRROR_PASSWORD}@"));
    let (base_url, rate) = (base.parse().unwrap(), Rate::per_second(100));
    let config = TelegramConfig { base_url, rate, timeout: Duration::from_secs(5), ..TelegramConfig::default() };
    TelegramReader::with_client(http(), config).unwrap()
}

fn expect_err(result: Result<PollOutcome, CollectError>) -> CollectError {
    match result {
        Ok(outcome) => panic!("expected an error, got {} posts", outcome.posts.len()),
        Err(e) => e,
    }
}

/// A fake on another port that must never hear from the collectors.
async fn other_host() -> FakeServer {
    FakeServer::start(|_| FakeResponse::json("{}")).await
}

fn assert_no_referer(server: &FakeServer) {
    assert!(!server.requests().is_empty());
    for request in server.requests() {
        assert_eq!(request.header("referer"), None, "{request:?}");
    }
}

fn assert_clean(text: &str) {
    for secret in [VK_TOKEN, OK_TOKEN, OK_APP_SECRET, MIRROR_PASSWORD] {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_vk_redirect_to_another_host_is_not_followed() {
    let other = other_host().await;
    let other_url = other.url();
    let vk = FakeServer::start(move |r: &FakeRequest| {
        let token = r.param("access_token").unwrap_or_default();
        FakeResponse::status(302).with_header("Location", &format!("{other_url}/stolen/{token}?access_token={token}"))
    })
    .await;
    let error = expect_err(vk_reader(&vk).poll(&source(Platform::Vk, "-1"), &Cursor::new("vk--1")).await);
    assert!(!error.is_retryable(), "{error:?}");
    let text = error.to_string();
    assert_clean(&text);
    assert!(text.contains("HTTP 302 redirect to") && text.contains(&format!("{}/stolen/***", other.url())), "{text}");
    assert!(other.requests().is_empty(), "the other host was called: {:?}", other.requests());
    assert_eq!(vk.requests().len(), 1, "a redirect is not retried");
    assert_no_referer(&vk);
}

#[tokio::test]
async fn an_ok_redirect_to_another_host_is_not_followed() {
    let other = other_host().await;
    let other_url = other.url();
    let ok = FakeServer::start(move |r: &FakeRequest| {
        let token = r.param("access_token").unwrap_or_default();
        let sig = r.param("sig").unwrap_or_default();
        FakeResponse::status(301).with_header("Location", &format!("{other_url}/fb.do?access_token={token}&sig={sig}"))
    })
    .await;
    let error = expect_err(ok_reader(&ok).poll(&source(Platform::Ok, "54390000000201"), &Cursor::new("ok")).await);
    assert!(!error.is_retryable(), "{error:?}");
    let text = error.to_string();
    assert_clean(&text);
    assert!(!text.contains("sig="), "{text}");
    assert!(text.contains(&format!("HTTP 301 redirect to {}/fb.do not followed", other.url())), "{text}");
    assert!(other.requests().is_empty(), "the other host was called: {:?}", other.requests());
    assert_eq!(ok.requests().len(), 1, "a redirect is not retried");
    assert_no_referer(&ok);
}

#[tokio::test]
async fn a_telegram_redirect_to_another_host_is_not_followed() {
    let other = other_host().await;
    let other_url = other.url();
    // The mirror echoes its password into the redirect's path.
    let location = format!("{other_url}/{MIRROR_PASSWORD}/s/penza?before=10");
    let tg = FakeServer::start(move |_| FakeResponse::status(302).with_header("Location", &location)).await;
    let error = expect_err(telegram_reader(&tg).poll(&source(Platform::Telegram, "penza"), &Cursor::new("tg")).await);
    let CollectError::Unavailable(reason) = &error else { panic!("expected Unavailable, got {error:?}") };
    assert_clean(reason);
    assert!(reason.contains(&format!("redirected /s/penza to {}/***/s/penza", other.url())), "{reason}");
    assert!(!reason.contains("before="), "{reason}");
    assert!(other.requests().is_empty(), "the other host was called: {:?}", other.requests());
    assert_no_referer(&tg);
    // The mirror's credentials did reach the mirror itself (as basic auth), and only it.
    assert!(tg.requests()[0].header("authorization").is_some_and(|a| a.starts_with("Basic ")));
}

#[test]
fn redacted_urls_keep_the_port_and_drop_credentials_query_and_fragment() {
    let url = reqwest::Url::parse("http://user:pw@127.0.0.1:8123/fb.do?access_token=x&sig=y#frag").unwrap();
    assert_eq!(redact(&url), "http://127.0.0.1:8123/fb.do");
    let url = reqwest::Url::parse("https://api.vk.com/method/wall.get?access_token=x").unwrap();
    assert_eq!(redact(&url), "https://api.vk.com/method/wall.get");
    let url = reqwest::Url::parse("http://[::1]:9000/x").unwrap();
    assert_eq!(redact(&url), "http://[::1]:9000/x");
    // A token in the path (some APIs put it there) is masked once registered.
    otklik_pipeline::secrets::register("path-token-0123456");
    let url = reqwest::Url::parse("https://api.example.org/botpath-token-0123456/getMe").unwrap();
    assert_eq!(redact(&url), "https://api.example.org/bot***/getMe");
}

// ---------------------------------------------------------------------------------------------
// Echoes
// ---------------------------------------------------------------------------------------------

/// How the fakes answer the next request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Echo {
    ErrorMessage,
    NotJson,
    Redirect,
}

fn vk_echo(mode: Echo, r: &FakeRequest, other: &str) -> FakeResponse {
    let token = r.param("access_token").unwrap_or_default();
    match mode {
        Echo::ErrorMessage => {
            let params = json!([{"key": "access_token", "value": token}, {"key": "echo", "value": token}]);
            let (msg, method) = (format!("invalid access_token={token}"), format!("wall.get {token}"));
            let error = json!({"error_code": 100, "error_msg": msg, "method": method, "request_params": params});
            FakeResponse::json(json!({ "error": error }).to_string())
        }
        Echo::NotJson => {
            let body = format!("<html>proxy error for /method/wall.get?access_token={token}</html>");
            FakeResponse::html(body).with_header("X-Echo", token)
        }
        Echo::Redirect => {
            let location = format!("{other}/stolen/{token}?access_token={token}");
            FakeResponse::status(307).with_header("Location", &location).with_header("X-Echo", token)
        }
    }
}

fn ok_echo(mode: Echo, r: &FakeRequest, other: &str) -> FakeResponse {
    let token = r.param("access_token").unwrap_or_default();
    if r.param("method") == Some("group.getInfo") {
        return FakeResponse::json(json!([{"uid": r.param("uids"), "name": "Группа"}]).to_string());
    }
    match mode {
        Echo::ErrorMessage => {
            let msg = format!("PARAM : access_token {token} / {OK_APP_SECRET}");
            let body = json!({"error_code": 100, "error_msg": msg, "error_data": token}).to_string();
            FakeResponse::json(body).with_header("Invocation-Error", "100").with_header("X-Echo", token)
        }
        Echo::NotJson => {
            let body = format!("<html>bad gateway: access_token={token} secret={OK_APP_SECRET}</html>");
            FakeResponse::html(body).with_header("X-Echo", token)
        }
        Echo::Redirect => {
            FakeResponse::status(302).with_header("Location", &format!("{other}/{token}/fb.do?access_token={token}"))
        }
    }
}

/// Every tracing event with its fields, as a subscriber sees it before any writer.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = Line(format!("SPAN {}", span.metadata().name()));
        span.record(&mut line);
        self.0.lock().unwrap().push(line.0);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = Line("RECORD".into());
        values.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

/// Everything on `topic` of `bus` so far, as text.
async fn drain(bus: &MemoryBus, topic: &str) -> Vec<String> {
    let mut sub = bus.subscribe(&format!("reader-{topic}"), &[topic]).await.unwrap();
    let mut out = Vec::new();
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {
        out.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn tokens_echoed_by_vk_and_ok_reach_no_error_cursor_dlq_record_or_log_line() {
    let logs = Logs::default();
    // See ok_poll.rs: a second live dispatcher keeps tracing from caching a parallel test
    // thread's «no subscriber» interest for the callsites under test.
    let _second = tracing::Dispatch::new(Logs::default());
    let _guard = tracing::subscriber::set_default(logs.clone());

    let other = other_host().await;
    let mode = Arc::new(Mutex::new(Echo::ErrorMessage));
    let (vk_mode, ok_mode, other_url) = (mode.clone(), mode.clone(), other.url());
    let vk = FakeServer::start({
        let other_url = other_url.clone();
        move |r| vk_echo(*vk_mode.lock().unwrap(), r, &other_url)
    })
    .await;
    let ok = FakeServer::start(move |r| ok_echo(*ok_mode.lock().unwrap(), r, &other_url)).await;

    let (bus, backoff) = (MemoryBus::new(1), Backoff::default());
    let collector = |reader: Arc<dyn FeedReader>| Collector {
        reader,
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: "raw".into(), cursors: "cursors".into(), stats: "stats".into() },
        dead_letters: DeadLetters { publisher: bus.publisher(), topic: "dlq".into(), stage: "collect".into(), backoff },
        backoff,
        metrics: Arc::new(StageMetrics::default()),
        polls: Default::default(),
    };
    let (vk_collector, ok_collector) = (collector(Arc::new(vk_reader(&vk))), collector(Arc::new(ok_reader(&ok))));
    let sources = [source(Platform::Vk, "-1"), source(Platform::Ok, "54390000000201")];
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut failures = Vec::new();
    for echo in [Echo::ErrorMessage, Echo::NotJson, Echo::Redirect] {
        *mode.lock().unwrap() = echo;
        for (collector, source) in [(&vk_collector, &sources[0]), (&ok_collector, &sources[1])] {
            let mut cursors = HashMap::new();
            let summary = collector.poll_all(std::slice::from_ref(source), &mut cursors, &shutdown).await.unwrap();
            failures.push(format!("{echo:?} {} {summary:?} {:?}", source.platform, cursors));
        }
    }

    let dlq = drain(&bus, "dlq").await;
    let cursors = drain(&bus, "cursors").await;
    let lines = logs.0.lock().unwrap().clone();
    for text in failures.iter().chain(&dlq).chain(&cursors).chain(&lines) {
        assert_clean(text);
    }
    // Each echo did reach an outlet, masked: the checks above looked at real echoes.
    let all = format!("{failures:?} {dlq:?}");
    assert!(all.contains("invalid access_token=***") && all.contains("PARAM : access_token *** / ***"), "{all}");
    assert!(dlq.iter().any(|r| r.contains("bad gateway: access_token=*** secret=***")), "{dlq:#?} {failures:#?}");
    assert!(all.contains("/stolen/***") && all.contains(&format!("{}/***/fb.do", other.url())), "{all}");
    assert!(lines.iter().any(|l| l.contains("***")), "{lines:#?}");
    assert!(other.requests().is_empty(), "the other host was called: {:?}", other.requests());
    assert_no_referer(&vk);
    assert_no_referer(&ok);
}
