//! `otklik clickhouse migrate`, `otklik clickhouse load DIR` and `otklik report [--since 24h]`:
//! glue between the config and `otklik_clickhouse`.

use crate::config::{Config, Mode};
use anyhow::{Context, Result};
use otklik_clickhouse::Migrator;
use std::path::Path;
use std::time::Duration;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Creates or upgrades the database; prints what was applied.
pub fn migrate(config: &Config) -> Result<()> {
    let sink = config.clickhouse_sink()?;
    let report = runtime()?
        .block_on(Migrator::new(&sink).migrate(None))
        .with_context(|| format!("cannot migrate ClickHouse database {} at {}", sink.database, sink.url))?;
    for (version, missing) in &report.repaired {
        let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
        println!("{}: migration {version} applied again: {} had gone missing", sink.database, missing.join(", "));
    }
    if report.applied.is_empty() {
        println!(
            "{} is up to date at version {} (ClickHouse {}, {} form)",
            sink.database,
            report.current,
            report.server_version,
            report.form.name()
        );
    } else {
        let applied: Vec<String> = report.applied.iter().map(u32::to_string).collect();
        println!(
            "{}: applied migration(s) {} — now at version {} (ClickHouse {}, {} form)",
            sink.database,
            applied.join(", "),
            report.current,
            report.server_version,
            report.form.name()
        );
    }
    Ok(())
}

/// Loads a local store directory (the embedded mode's `data_dir`) into the tables, migrating
/// first so that a fresh server works with one command.
pub fn load(config: &Config, dir: &Path) -> Result<()> {
    let sink = config.clickhouse_sink()?;
    let loaded = runtime()?.block_on(async {
        Migrator::new(&sink).migrate(None).await.context("cannot migrate before loading")?;
        otklik_clickhouse::load::load_store(&sink, dir).await.with_context(|| format!("cannot load {}", dir.display()))
    })?;
    let mut by_table: std::collections::BTreeMap<&str, (usize, u64, u64)> = Default::default();
    for file in &loaded {
        let entry = by_table.entry(file.table).or_default();
        entry.0 += 1;
        entry.1 += file.rows;
        entry.2 += file.skipped;
    }
    if by_table.is_empty() {
        println!("nothing to load under {}", dir.display());
    }
    for (table, (files, rows, skipped)) in by_table {
        let skipped = if skipped > 0 { format!(", {skipped} unreadable line(s) skipped") } else { String::new() };
        println!("{table}: {rows} row(s) from {files} file(s){skipped}");
    }
    if let Some(first) = loaded.iter().find_map(|f| f.first_skip.as_deref()) {
        println!("first unreadable line: {first}");
    }
    Ok(())
}

/// Prints complaints per municipality × topic for the last `since`: from ClickHouse in
/// production mode, from the local store in embedded mode.
pub fn report(config: &Config, since: Duration) -> Result<()> {
    let report = match config.run.mode {
        Mode::Production => {
            let sink = config.clickhouse_sink()?;
            runtime()?
                .block_on(otklik_clickhouse::report::from_clickhouse(&sink, since))
                .context("cannot read the report from ClickHouse")?
        }
        Mode::Embedded => {
            let dir = config.resolve(&config.run.data_dir);
            otklik_clickhouse::report::from_store(&dir, since, chrono::Utc::now())
                .with_context(|| format!("cannot read the local store {}", dir.display()))?
        }
    };
    crate::commands::print_stdout(report)
}
