//! Integration tests of the `otklik` binary: one test binary, a module per area.

mod audience;
mod check_config;
mod cli;
mod dedup;
mod embedded;
mod fleet;
mod kafka_faults;
mod metrics;
mod notify;
mod production;
mod reload;
mod responses;
mod secrets;
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `config/` lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn otklik() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otklik"));
    command.current_dir(repo()).env_remove("RUST_LOG").env_remove("OTKLIK_DATA_DIR");
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("otklik runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every line of every JSONEachRow file under `dir`, each checked to be one whole JSON object.
pub fn store_rows(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return rows };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{} ends in a torn line", file.display());
        for line in text.lines() {
            rows.push(
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("torn or invalid row in {}: {e}: {line}", file.display())),
            );
        }
    }
    rows
}

/// Removes a file (a test's config copy) when dropped.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
