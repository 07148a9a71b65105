//! `/metrics` (OpenMetrics text), `/healthz` and `/readyz` on `telemetry.metrics_listen`: an axum
//! router served by hyper with at most [`MAX_CONNECTIONS`] connections at once (a flood of
//! scrapers waits for a free slot instead of costing the pipeline memory and tasks), and a
//! connection that has not sent a request's headers within [`HEADER_READ_TIMEOUT`] is closed, so
//! a client that connects and says nothing cannot hold a slot for good.

use crate::metrics::Registry;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use otklik_pipeline::CancellationToken;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections served at once (Prometheus keeps one per target; probes open one each).
pub const MAX_CONNECTIONS: usize = 16;

/// How long a client may take to send a request's headers, the first or a next one on a
/// kept-alive connection. Prometheus and probes send theirs at once.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The three routes over `registry`.
pub fn router(registry: Arc<Registry>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(registry)
}

async fn metrics(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, OPENMETRICS)], registry.render())
}

/// 200 `ready`, or 503 with every reason on its own line.
async fn readyz(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let reasons = registry.unready_reasons();
    if reasons.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready:\n{}\n", reasons.join("\n")))
    }
}

/// A TCP listener that accepts a connection only while fewer than its limit are open.
pub struct LimitedListener {
    listener: TcpListener,
    slots: Arc<Semaphore>,
}

impl LimitedListener {
    pub fn new(listener: TcpListener, limit: usize) -> Self {
        LimitedListener { listener, slots: Arc::new(Semaphore::new(limit)) }
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring only waits.
        let permit = self.slots.clone().acquire_owned().await.expect("the connection semaphore is never closed");
        let (stream, addr) = axum::serve::Listener::accept(&mut self.listener).await;
        (LimitedStream { stream, _slot: permit }, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A connection holding its slot until it is dropped.
pub struct LimitedStream {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves the registry on `addr` until `shutdown`.
pub async fn serve(addr: SocketAddr, registry: Arc<Registry>, shutdown: CancellationToken) -> std::io::Result<()> {
    let listener = LimitedListener::new(TcpListener::bind(addr).await?, MAX_CONNECTIONS);
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    serve_on(listener, router(registry), HEADER_READ_TIMEOUT, shutdown).await;
    Ok(())
}

/// Serves `app` on `listener` until `shutdown`, closing connections whose request headers take
/// longer than `header_timeout`.
async fn serve_on(
    mut listener: LimitedListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    use axum::serve::Listener as _;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
            let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            // A failed connection (a reset, a timed-out header read) concerns that client only.
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

/// Starts serving when `listen` is set (validated by `check-config`); logs and carries on if the
/// port is taken, because metrics must never stop the pipeline.
pub fn spawn(listen: &str, registry: Arc<Registry>, shutdown: CancellationToken) {
    let Ok(addr) = listen.parse::<SocketAddr>() else { return };
    tokio::spawn(async move {
        if let Err(e) = serve(addr, registry, shutdown).await {
            tracing::error!(%addr, error = %e, "metrics listener failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response).await.unwrap();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, response)
    }

    async fn start(registry: Arc<Registry>, limit: usize, header_timeout: Duration) -> (SocketAddr, CancellationToken) {
        let listener = LimitedListener::new(TcpListener::bind("127.0.0.1:0").await.unwrap(), limit);
        let addr = axum::serve::Listener::local_addr(&listener).unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(serve_on(listener, router(registry), header_timeout, shutdown.clone()));
        (addr, shutdown)
    }

    #[tokio::test]
    async fn a_client_that_sends_no_headers_is_dropped_and_frees_its_slot() {
        let (addr, shutdown) = start(Arc::new(Registry::default()), 1, Duration::from_millis(200)).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        // Only the server's close ends this read; the cap is there to fail, not to pass.
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(60), tokio::io::AsyncReadExt::read(&mut silent, &mut byte));
        let closed = read.await.expect("the silent connection was never closed");
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
        // The one slot is free again.
        let served = tokio::time::timeout(Duration::from_secs(60), get(addr, "/healthz")).await;
        assert_eq!(served.expect("the slot stayed taken").0, 200);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn routes_and_readiness() {
        let registry = Arc::new(Registry::default());
        let metrics = Arc::new(otklik_pipeline::StageMetrics::default());
        otklik_pipeline::StageMetrics::add(&metrics.received, 7);
        registry.register("classify", metrics);
        let (addr, shutdown) = start(registry.clone(), 4, HEADER_READ_TIMEOUT).await;
        let (status, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(body.contains("otklik_stage_received_total{stage=\"classify\"} 7"), "{body}");
        assert!(body.contains("application/openmetrics-text"), "{body}");
        let (status, body) = get(addr, "/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("stages not started"), "{body}");
        registry.set_ready(true);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        registry.set_dependency("clickhouse", false);
        let (status, body) = get(addr, "/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("clickhouse is unreachable"), "{body}");
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/nope").await.0, 404);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_connection_beyond_the_limit_waits_for_a_free_slot() {
        use axum::serve::Listener as _;
        let mut listener = LimitedListener::new(TcpListener::bind("127.0.0.1:0").await.unwrap(), 1);
        let addr = listener.local_addr().unwrap();
        let _first_client = TcpStream::connect(addr).await.unwrap();
        let (first, _) = listener.accept().await;
        let _second_client = TcpStream::connect(addr).await.unwrap();
        let mut second = Box::pin(listener.accept());
        // Waiting can only make this pass: a served second connection fails it at any speed.
        let early = tokio::time::timeout(std::time::Duration::from_millis(200), &mut second).await;
        assert!(early.is_err(), "a second connection was accepted while the only slot was taken");
        drop(first);
        let _ = second.await;
    }
}
