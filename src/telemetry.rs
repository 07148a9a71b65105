//! Logging setup (the only place a `tracing` subscriber is installed), signals, and progress.

use crate::config::{LogFormat, TelemetryConfig};
use anyhow::{anyhow, Result};
use otklik_pipeline::secrets;
use std::io::Write;
use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// `--log-format`, when given: it overrides `telemetry.log_format`.
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Sets the log format from the command line (before [`init`]).
pub fn override_log_format(format: LogFormat) {
    let _ = LOG_FORMAT.set(format);
}

/// Installs the subscriber: `RUST_LOG` overrides `telemetry.log_level`, `--log-format`
/// `telemetry.log_format`; logs go to stderr so stdout stays for data (`parse`, `classify`) and
/// the run summary. Every line passes through [`Redacting`], whatever the format and level.
pub fn init(config: &TelemetryConfig) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) => EnvFilter::try_new(filter)?,
        Err(_) => EnvFilter::try_new(&config.log_level)?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(Redacting(std::io::stderr));
    let result = match LOG_FORMAT.get().copied().unwrap_or(config.log_format) {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow!("cannot install the log subscriber: {e}"))
}

/// A writer maker that masks every registered secret ([`secrets`]) in each formatted event
/// before it reaches `M`'s writer: fields, messages and debug dumps of server answers alike.
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactedEvent<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedEvent { buffer: Vec::new(), inner: self.0.make_writer() }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        RedactedEvent { buffer: Vec::new(), inner: self.0.make_writer_for(meta) }
    }
}

/// One event's output, held until it is complete: a secret split across two writes is still
/// found. Written on flush and when dropped (the formatter drops it after each event).
pub struct RedactedEvent<W: Write> {
    buffer: Vec<u8>,
    inner: W,
}

impl<W: Write> Write for RedactedEvent<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            self.inner.write_all(&secrets::redact_bytes(&self.buffer))?;
            self.buffer.clear();
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactedEvent<W> {
    fn drop(&mut self) {
        // Nowhere to report a failure to write a log line.
        let _ = self.flush();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
        }
    }

    fn log_everything(secret: &str) {
        tracing::debug!(body = %format!("<html>echo {secret}</html>"), "VK answered garbage");
        tracing::info!(token = secret, query = %format!("access_token={secret}&v=5.199"), "request");
        tracing::warn!(error = ?format!("\"quoted\" {secret}"), "failed: {secret}");
    }

    #[test]
    fn every_format_masks_registered_secrets_at_every_level() {
        let secret = "telemetry-secret-7f3a9c";
        secrets::register(secret);
        let (pretty, json) = (Captured::default(), Captured::default());
        let writer = |c: &Captured| {
            let c = c.clone();
            Redacting(move || c.clone())
        };
        let builder = || tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE);
        let subscriber = builder().with_writer(writer(&pretty)).finish();
        tracing::subscriber::with_default(subscriber, || log_everything(secret));
        let subscriber = builder().json().with_writer(writer(&json)).finish();
        tracing::subscriber::with_default(subscriber, || log_everything(secret));
        for text in [pretty.text(), json.text()] {
            assert_eq!(text.lines().count(), 3, "{text}");
            assert!(!text.contains(secret) && text.contains("access_token=***"), "{text}");
        }
    }

    #[test]
    fn a_secret_split_across_writes_is_masked() {
        let secret = "telemetry-split-secret-2b";
        secrets::register(secret);
        let captured = Captured::default();
        let maker = Redacting({
            let c = captured.clone();
            move || c.clone()
        });
        let mut event = maker.make_writer();
        event.write_all(b"token=telemetry-split").unwrap();
        event.write_all(b"-secret-2b\n").unwrap();
        drop(event);
        assert_eq!(captured.text(), "token=***\n");
    }
}
