//! `otklik clickhouse load DIR`: the local store's JSONEachRow files into the tables, unchanged,
//! with `INSERT INTO table (columns) FORMAT JSONEachRow` over HTTP. Loading the same files twice
//! is harmless: `posts` collapses versions and `complaints_hourly` counts distinct uids.

use crate::config::ClickHouseSinkConfig;
use crate::error::ClickHouseError;
use crate::local::table_files;
use crate::row::{AlertRow, DlqRow, PostRow, SourceStatusRow};
use crate::migrate::quote_ident;
use bytes::Bytes;
use clickhouse::Row;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What was loaded from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedFile {
    pub table: &'static str,
    pub path: PathBuf,
    pub rows: u64,
}

/// The tables a store directory may hold, with their columns.
pub fn store_tables() -> [(&'static str, &'static [&'static str]); 4] {
    [("posts", PostRow::COLUMN_NAMES), ("dlq", DlqRow::COLUMN_NAMES), ("alerts", AlertRow::COLUMN_NAMES), ("sources_status", SourceStatusRow::COLUMN_NAMES)]
}

/// Loads every table file under `dir` (`<dir>/<table>/<table>-*.jsonl`), oldest first.
pub async fn load_store(config: &ClickHouseSinkConfig, dir: &Path) -> Result<Vec<LoadedFile>, ClickHouseError> {
    let client = config.client();
    let mut loaded = Vec::new();
    for (table, columns) in store_tables() {
        let files = table_files(&dir.join(table), table).map_err(|e| ClickHouseError::Client(e.to_string()))?;
        for path in files {
            let rows = load_file(&client, table, columns, &path).await?;
            tracing::info!(table, path = %path.display(), rows, "loaded");
            loaded.push(LoadedFile { table, path, rows });
        }
    }
    Ok(loaded)
}

async fn load_file(client: &clickhouse::Client, table: &str, columns: &[&str], path: &Path) -> Result<u64, ClickHouseError> {
    let io = |e: std::io::Error| ClickHouseError::Client(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!("INSERT INTO {} ({}) FORMAT JSONEachRow", quote_ident(table), columns.join(", "));
    let mut insert = client.insert_formatted_with(sql);
    let mut rows = 0u64;
    let mut chunk = vec![0u8; 4 << 20];
    loop {
        let n = file.read(&mut chunk).map_err(io)?;
        if n == 0 {
            break;
        }
        rows += chunk[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        insert.send(Bytes::copy_from_slice(&chunk[..n])).await.map_err(|e| with_path(e.into(), path))?;
    }
    if rows > 0 {
        insert.end().await.map_err(|e| with_path(e.into(), path))?;
    }
    Ok(rows)
}

fn with_path(error: ClickHouseError, path: &Path) -> ClickHouseError {
    match error {
        ClickHouseError::Server { code, message } => ClickHouseError::Server { code, message: format!("{}: {message}", path.display()) },
        other => other,
    }
}
