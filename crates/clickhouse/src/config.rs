//! Where and how to reach ClickHouse. The binary fills this from `otklik.toml` and the secret
//! sources it names; this crate never reads config files or the environment itself.

use std::fmt;
use std::time::Duration;

/// Connection and writer settings. `Debug` never shows the password.
#[derive(Clone)]
pub struct ClickHouseSinkConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    pub database: String,
    pub user: String,
    /// From the environment or a secrets file, passed in by the binary.
    pub password: Option<String>,
    /// LZ4-compress inserts (ClickHouse's own block format, `decompress=1`: 18.x and later).
    pub compression: bool,
    /// The writer splits a batch into at most this many concurrent INSERTs (1 = one INSERT per
    /// batch). More than one helps only when the server has cores to spare.
    pub max_in_flight: usize,
    /// Per-request send and end timeouts; a timed-out INSERT is retried.
    pub timeout: Duration,
}

impl ClickHouseSinkConfig {
    /// Defaults for `url` and `database`: user `default`, no password, LZ4, one INSERT in flight.
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> Self {
        ClickHouseSinkConfig {
            url: url.into(),
            database: database.into(),
            user: "default".into(),
            password: None,
            compression: true,
            max_in_flight: 1,
            timeout: Duration::from_secs(60),
        }
    }

    /// Whether the server answers a trivial query within `timeout` (readiness probes).
    pub async fn ping(&self, timeout: Duration) -> Result<(), crate::error::ClickHouseError> {
        match tokio::time::timeout(timeout, self.client().query("SELECT 1").execute()).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(crate::error::ClickHouseError::Network(format!("no answer within {timeout:?}"))),
        }
    }

    /// A `clickhouse` client for this config (validation off: 18.x lacks what it queries).
    pub fn client(&self) -> clickhouse::Client {
        let mut client = clickhouse::Client::default()
            .with_url(&self.url)
            .with_user(&self.user)
            .with_validation(false)
            .with_compression(if self.compression {
                clickhouse::Compression::Lz4
            } else {
                clickhouse::Compression::None
            });
        if let Some(password) = &self.password {
            client = client.with_password(password);
        }
        if !self.database.is_empty() {
            client = client.with_database(&self.database);
        }
        client
    }
}

impl fmt::Debug for ClickHouseSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouseSinkConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("compression", &self.compression)
            .field("max_in_flight", &self.max_in_flight)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let mut config = ClickHouseSinkConfig::new("http://127.0.0.1:8123", "otklik");
        config.password = Some("hunter2-secret".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("otklik"), "{shown}");
    }
}
