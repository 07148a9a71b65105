//! The routes: `/` (the page), `/api/alerts` (JSON), `/healthz`, and `POST /silences`.

use crate::data::PageData;
use crate::html::{self, PageOptions};
use crate::labels::Clock;
use crate::silence::{self, SilenceForm, Silencing, Token};
use crate::view::{self, Snapshot};
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use otklik_model::Alert;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;

/// How the page is served besides its data.
#[derive(Debug, Clone, Default)]
pub struct PageConfig {
    /// The token `POST /silences` must carry; `None` disables silencing from the page.
    pub silence_token: Option<Token>,
    /// The region's offset from UTC: how times are shown.
    pub utc_offset_hours: i64,
    /// Show the page as of this moment instead of the present (a post-mortem, the demo).
    pub at: Option<DateTime<Utc>>,
    /// Answer only requests addressed to `localhost`, `127.0.0.1` or `[::1]` (set when listening
    /// on loopback): a web page elsewhere that points its own host name at 127.0.0.1 (DNS
    /// rebinding) then cannot read this one through the duty officer's browser.
    pub local_hosts_only: bool,
}

struct App {
    data: Arc<dyn PageData>,
    clock: Clock,
    at: Option<DateTime<Utc>>,
    silencing: Silencing,
}

impl App {
    fn now(&self) -> DateTime<Utc> {
        self.at.unwrap_or_else(Utc::now)
    }
}

/// A silence form is a few hundred bytes.
const BODY_LIMIT: usize = 16 << 10;

/// No framing, no sniffing, no referrer to the networks' sites, nothing cached: the page shows
/// residents' posts and is read live.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page's routes over `data`.
pub fn router(data: Arc<dyn PageData>, config: PageConfig) -> Router {
    let silencing = match (config.silence_token, config.at) {
        (_, Some(_)) => Silencing::PastPage,
        (None, None) => Silencing::NoToken,
        (Some(token), None) => Silencing::Enabled(token),
    };
    let app = Arc::new(App { data, clock: Clock::new(config.utc_offset_hours), at: config.at, silencing });
    Router::new()
        .route("/", get(page))
        .route("/api/alerts", get(api_alerts))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/silences", post(add_silence))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(protective_headers))
        .layer(axum::middleware::from_fn_with_state(config.local_hosts_only, only_local_hosts))
        .with_state(app)
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// Refuses a request for another host when `local_only`.
async fn only_local_hosts(
    State(local_only): State<bool>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if local_only && !is_local_host(host) {
        return (StatusCode::MISDIRECTED_REQUEST, "this page answers only to localhost\n").into_response();
    }
    next.run(request).await
}

/// `localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    matches!(name.to_ascii_lowercase().as_str(), "localhost" | "127.0.0.1" | "::1")
}

async fn protective_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    /// Set by the redirect after a stored silence.
    done: String,
}

async fn page(State(app): State<Arc<App>>, Query(query): Query<PageQuery>) -> Html<String> {
    let snapshot = Snapshot::load(app.data.as_ref(), app.now()).await;
    let flash = (query.done == "silenced").then(|| (true, "Заглушение сохранено.".to_owned()));
    let options = PageOptions { clock: app.clock, silencing: &app.silencing, fixed_clock: app.at.is_some(), flash };
    Html(html::page(&snapshot, &options))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AlertsQuery {
    /// Only the alerts open at the page's clock.
    open: bool,
}

#[derive(Serialize)]
struct ApiAlerts<'a> {
    now: DateTime<Utc>,
    alerts: Vec<ApiAlert<'a>>,
}

#[derive(Serialize)]
struct ApiAlert<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    /// Not resolved at `now`.
    open: bool,
}

/// The latest event of each alert of the last 7 days (as the page lists them), open ones first.
async fn api_alerts(State(app): State<Arc<App>>, Query(query): Query<AlertsQuery>) -> Response {
    let now = app.now();
    let alerts = match app.data.alerts(now - view::RECENT).await {
        Ok(alerts) => alerts,
        Err(e) => {
            let body = serde_json::json!({ "error": e.to_string(), "retryable": e.is_retryable() });
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
    };
    let mut listed: Vec<ApiAlert<'_>> = alerts
        .iter()
        .filter(|a| a.window_start <= now)
        .map(|alert| ApiAlert { alert, open: view::is_open(alert, now) })
        .filter(|a| a.open || !query.open)
        .collect();
    listed.sort_by(|a, b| b.open.cmp(&a.open).then(b.alert.raised_at.cmp(&a.alert.raised_at)));
    Json(ApiAlerts { now, alerts: listed }).into_response()
}

fn refused(status: StatusCode, title: &str, message: &str) -> Response {
    (status, Html(html::message_page(title, message))).into_response()
}

/// Stores the silence the form asks for when it carries the configured token (in the form, or
/// as `Authorization: Bearer` for scripts).
async fn add_silence(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Form<SilenceForm>, FormRejection>,
) -> Response {
    let token = match &app.silencing {
        Silencing::Enabled(token) => token,
        Silencing::NoToken => {
            let message =
                "Токен не настроен ([serve] silence_token_env или silence_token_file): страница только для чтения.";
            return refused(StatusCode::FORBIDDEN, "Заглушение отключено", message);
        }
        Silencing::PastPage => {
            return refused(
                StatusCode::FORBIDDEN,
                "Заглушение отключено",
                "Страница показывает прошлый момент (--at).",
            );
        }
    };
    let Ok(Form(form)) = form else {
        return refused(StatusCode::BAD_REQUEST, "Заглушение не сохранено", "Форма не прочитана.");
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let bearer = authorization.and_then(|v| v.strip_prefix("Bearer "));
    if !token.matches(bearer.unwrap_or(&form.token)) {
        tracing::warn!("a silence from the page was refused: wrong token");
        return refused(StatusCode::FORBIDDEN, "Неверный токен", "Токен не подошёл; заглушение не сохранено.");
    }
    let silence = match silence::build(&form, Utc::now()) {
        Ok(silence) => silence,
        Err(e) => return refused(StatusCode::BAD_REQUEST, "Заглушение не сохранено", &e.to_string()),
    };
    if let Err(e) = app.data.add_silence(&silence).await {
        tracing::error!(error = %e, "cannot store a silence from the page");
        return refused(StatusCode::SERVICE_UNAVAILABLE, "Заглушение не сохранено", &e.to_string());
    }
    let (series, until, by) = (&silence.series, silence.ends_at, &silence.created_by);
    tracing::info!(%series, %until, %by, "silence added from the page");
    Redirect::to("/?done=silenced#silences").into_response()
}
