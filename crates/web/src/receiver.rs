//! A webhook sink for otklik's own deliveries: `POST /hooks/alerts` checks the Standard Webhooks
//! headers and signature and appends what arrived to `<dir>/webhook-YYYYMMDD.jsonl` (one line per
//! delivery: when, the `webhook-id`, whether the signature held, the body). The demo run starts
//! one for its webhook receiver, and `otklik serve --receiver` mounts it beside the page, so a
//! first run shows a delivery end to end without anything else installed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use otklik_notify::webhook::SigningKey;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// The path deliveries are posted to.
pub const PATH: &str = "/hooks/alerts";
/// How far a `webhook-timestamp` may be from now (the specification's replay protection).
const TOLERANCE_SECONDS: i64 = 5 * 60;

struct Sink {
    key: SigningKey,
    dir: PathBuf,
}

/// One delivery as written to the file.
#[derive(Serialize)]
struct Received<'a> {
    received_at: String,
    webhook_id: &'a str,
    webhook_timestamp: i64,
    signature_valid: bool,
    body: serde_json::Value,
}

/// The sink's routes: deliveries signed with `key` are appended under `dir`.
pub fn router(key: SigningKey, dir: PathBuf) -> Router {
    Router::new().route(PATH, post(receive)).with_state(Arc::new(Sink { key, dir }))
}

async fn receive(State(sink): State<Arc<Sink>>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, signatures) = (header("webhook-id"), header("webhook-signature"));
    let Ok(timestamp) = header("webhook-timestamp").parse::<i64>() else {
        return (StatusCode::BAD_REQUEST, "webhook-timestamp is missing or not a number\n");
    };
    if id.is_empty() || signatures.is_empty() {
        return (StatusCode::BAD_REQUEST, "webhook-id and webhook-signature are required\n");
    }
    let now = Utc::now();
    if (now.timestamp() - timestamp).abs() > TOLERANCE_SECONDS {
        return (StatusCode::BAD_REQUEST, "webhook-timestamp is too far from now\n");
    }
    let valid = sink.key.verify(id, timestamp, &body, signatures);
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not JSON\n");
    };
    let line = Received {
        received_at: otklik_model::format_rfc3339_secs(&now),
        webhook_id: id,
        webhook_timestamp: timestamp,
        signature_valid: valid,
        body: json,
    };
    if let Err(e) = append(&sink.dir, &line, now) {
        tracing::error!(error = %e, dir = %sink.dir.display(), "the webhook sink cannot store a delivery");
        return (StatusCode::SERVICE_UNAVAILABLE, "cannot store the delivery\n");
    }
    tracing::info!(webhook_id = id, signature_valid = valid, "webhook delivery received");
    if valid {
        (StatusCode::NO_CONTENT, "")
    } else {
        (StatusCode::UNAUTHORIZED, "the signature does not verify\n")
    }
}

fn append(dir: &std::path::Path, line: &Received<'_>, now: DateTime<Utc>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut text = serde_json::to_vec(line)?;
    text.push(b'\n');
    let path = dir.join(format!("webhook-{}.jsonl", now.format("%Y%m%d")));
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&text)?;
    file.sync_data()
}

/// Serves [`router`] on `listener` until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    key: SigningKey,
    dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(key, dir)).with_graceful_shutdown(shutdown).await
}
