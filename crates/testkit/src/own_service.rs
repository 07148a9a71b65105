//! A Kafka broker or ClickHouse server of a test's own, for fault-injection tests that stop and
//! restart it: the shared services of `scripts/test.sh` must keep serving the other tests.
//!
//! Started with the same scripts (`scripts/kafka.sh`, `scripts/clickhouse.sh`), under a temporary
//! state directory, on free loopback ports; stopped when dropped. Available where the shared
//! service is (its env var is set), since that is where the scripts can run; otherwise the test
//! skips, or fails under `OTKLIK_REQUIRE_SERVICES=1` (see [`crate::service`]).

use std::path::PathBuf;
use std::process::Command;

/// Which service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kafka,
    ClickHouse,
}

impl Kind {
    fn script(self) -> PathBuf {
        let name = match self {
            Kind::Kafka => "kafka.sh",
            Kind::ClickHouse => "clickhouse.sh",
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts").join(name)
    }

    fn shared_var(self) -> &'static str {
        match self {
            Kind::Kafka => crate::KAFKA,
            Kind::ClickHouse => crate::CLICKHOUSE,
        }
    }
}

/// A running service of the test's own.
pub struct OwnService {
    kind: Kind,
    state: tempfile::TempDir,
    /// Kafka's bootstrap address or ClickHouse's HTTP URL.
    pub address: String,
}

impl OwnService {
    /// Starts one, or returns `None` (skip) where the shared service is not available.
    #[track_caller]
    pub fn start(kind: Kind) -> Option<OwnService> {
        crate::service(kind.shared_var())?;
        let state = tempfile::Builder::new().prefix("otklik-own-").tempdir().expect("a temporary state dir");
        let address = run(kind, "start", &state);
        Some(OwnService { kind, state, address })
    }

    /// Stops it; its data stays for [`OwnService::restart`].
    pub fn stop(&self) {
        run(self.kind, "stop", &self.state);
    }

    /// Starts it again on the same data and address.
    pub fn restart(&self) {
        let address = run(self.kind, "restart", &self.state);
        assert_eq!(address, self.address, "restarted on another address");
    }
}

impl Drop for OwnService {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(self.kind.script()).arg("stop").arg(self.state.path()).status();
    }
}

/// Runs the script's `verb` on `state`; returns what it printed (the address), panicking with
/// its log when it fails.
fn run(kind: Kind, verb: &str, state: &tempfile::TempDir) -> String {
    let output = Command::new("bash").arg(kind.script()).arg(verb).arg(state.path()).output().expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{} {verb} failed:\n{stderr}", kind.script().display());
    eprint!("{stderr}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
