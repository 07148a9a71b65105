//! `/metrics` (Prometheus text), `/healthz` and `/readyz` on `telemetry.metrics_listen`.
//!
//! A deliberately tiny HTTP/1.1 responder: three fixed GET paths, one response per connection.
//! It needs no web framework, and a scrape can never hold up the pipeline.

use otklik_notify::ReceiverMetrics;
use otklik_pipeline::{CancellationToken, StageMetrics};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Per receiver: deliveries, retries, give-ups, and whether a 410 disabled it.
fn render_receivers(out: &mut String, receivers: &[(String, Arc<ReceiverMetrics>)]) {
    type Family = (&'static str, &'static str, &'static str, fn(&otklik_notify::ReceiverCounts) -> u64);
    let families: [Family; 5] = [
        ("delivered_total", "counter", "Notifications a receiver accepted.", |c| c.delivered),
        ("retries_total", "counter", "Delivery attempts that failed and are tried again.", |c| c.retried),
        ("failed_total", "counter", "Notifications given up on.", |c| c.failed),
        ("pending", "gauge", "Notifications waiting in a receiver's queue.", |c| c.pending),
        ("disabled", "gauge", "1 when the receiver answered 410 Gone and gets nothing more.", |c| u64::from(c.disabled)),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP otklik_alert_receiver_{name} {help}\n# TYPE otklik_alert_receiver_{name} {kind}");
        for (receiver, metrics) in receivers {
            let _ = writeln!(out, "otklik_alert_receiver_{name}{{receiver=\"{receiver}\"}} {}", value(&metrics.snapshot()));
        }
    }
}

/// The stages whose counters are exported, and whether the process is ready.
#[derive(Default)]
pub struct Registry {
    stages: Mutex<Vec<(String, Arc<StageMetrics>)>>,
    receivers: Mutex<Vec<(String, Arc<ReceiverMetrics>)>>,
    ready: AtomicBool,
    config_version: Mutex<String>,
}

impl Registry {
    pub fn register(&self, stage: &str, metrics: Arc<StageMetrics>) {
        self.stages.lock().unwrap_or_else(|p| p.into_inner()).push((stage.to_owned(), metrics));
    }

    /// Alert receivers' delivery counters.
    pub fn register_receivers(&self, receivers: Vec<(String, Arc<ReceiverMetrics>)>) {
        self.receivers.lock().unwrap_or_else(|p| p.into_inner()).extend(receivers);
    }

    /// The hash of the config files in use (hot reload changes it).
    pub fn set_config_version(&self, version: &str) {
        *self.config_version.lock().unwrap_or_else(|p| p.into_inner()) = version.to_owned();
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every registered stage.
    pub fn render(&self) -> String {
        let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        type Family = (&'static str, &'static str, fn(&StageMetrics) -> u64);
        let families: [Family; 6] = [
            ("received", "Messages a stage received from the bus.", |m| StageMetrics::get(&m.received)),
            ("emitted", "Records a stage published or rows it wrote.", |m| StageMetrics::get(&m.emitted)),
            ("dead_lettered", "Records a stage sent to the DLQ.", |m| StageMetrics::get(&m.dead_lettered)),
            ("batches", "Batches a sink stage wrote.", |m| StageMetrics::get(&m.batches)),
            ("retries", "Failed attempts a stage retried.", |m| StageMetrics::get(&m.retries)),
            ("commits", "Offset commits a stage made.", |m| StageMetrics::get(&m.commits)),
        ];
        for (name, help, value) in families {
            let _ = writeln!(out, "# HELP otklik_stage_{name}_total {help}\n# TYPE otklik_stage_{name}_total counter");
            for (stage, metrics) in stages.iter() {
                let _ = writeln!(out, "otklik_stage_{name}_total{{stage=\"{stage}\"}} {}", value(metrics));
            }
        }
        render_receivers(&mut out, &self.receivers.lock().unwrap_or_else(|p| p.into_inner()));
        let version = self.config_version.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let _ = writeln!(out, "# HELP otklik_config_info The config version in use.\n# TYPE otklik_config_info gauge");
        let _ = writeln!(out, "otklik_config_info{{version=\"{version}\"}} 1");
        let _ = writeln!(out, "# HELP otklik_ready Whether the process is ready.\n# TYPE otklik_ready gauge\notklik_ready {}", u8::from(self.is_ready()));
        out
    }

    fn respond(&self, request_line: &str) -> (u16, String) {
        match request_line.split(' ').nth(1).unwrap_or("") {
            "/metrics" => (200, self.render()),
            "/healthz" => (200, "ok\n".into()),
            "/readyz" if self.is_ready() => (200, "ready\n".into()),
            "/readyz" => (503, "not ready\n".into()),
            _ => (404, "not found\n".into()),
        }
    }
}

/// Serves the registry on `addr` until `shutdown`.
pub async fn serve(addr: SocketAddr, registry: Arc<Registry>, shutdown: CancellationToken) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    loop {
        let (mut stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 2048];
            let n = match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buffer)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buffer[..n]);
            let (status, body) = registry.respond(request.lines().next().unwrap_or(""));
            let reason = match status {
                200 => "OK",
                503 => "Service Unavailable",
                _ => "Not Found",
            };
            let response = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(response.as_bytes()).await;
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

    #[test]
    fn renders_counters_and_readiness() {
        let registry = Registry::default();
        let metrics = Arc::new(StageMetrics::default());
        StageMetrics::add(&metrics.received, 7);
        registry.register("classify", metrics);
        let text = registry.render();
        assert!(text.contains("otklik_stage_received_total{stage=\"classify\"} 7"), "{text}");
        assert!(text.contains("otklik_ready 0"));
        assert_eq!(registry.respond("GET /readyz HTTP/1.1").0, 503);
        registry.set_ready(true);
        assert_eq!(registry.respond("GET /readyz HTTP/1.1").0, 200);
        assert_eq!(registry.respond("GET /healthz HTTP/1.1").0, 200);
        assert_eq!(registry.respond("GET /nope HTTP/1.1").0, 404);
    }
}
