//! `otklik clickhouse load DIR`: the local store's JSONEachRow files into the tables, unchanged,
//! with `INSERT INTO table (columns) FORMAT JSONEachRow` over HTTP. Loading the same files twice
//! is harmless: `posts` collapses versions and `complaints_hourly` counts distinct uids. Lines
//! that are not valid rows of their table are skipped and counted, not sent.

use crate::config::ClickHouseSinkConfig;
use crate::error::ClickHouseError;
use crate::local::{table_files, StoreReader};
use crate::migrate::quote_ident;
use crate::row::{
    AlertRow, DeliveryRow, DlqRow, PostRow, ReplyRow, SilenceRow, SourceStatRow, SourceStatusRow, TableRow,
};
use bytes::{BufMut, BytesMut};
use clickhouse::Row;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// What was loaded from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedFile {
    pub table: &'static str,
    pub path: PathBuf,
    pub rows: u64,
    /// Lines that were not valid rows.
    pub skipped: u64,
    /// Why the first of them was skipped (`cannot parse <file> line N: …`).
    pub first_skip: Option<String>,
}

/// The tables a store directory may hold, with their columns (and `replies`, which only
/// ClickHouse holds: `otklik report responses --record` writes it).
pub fn store_tables() -> [(&'static str, &'static [&'static str]); 8] {
    [
        ("posts", PostRow::COLUMN_NAMES),
        ("dlq", DlqRow::COLUMN_NAMES),
        ("alerts", AlertRow::COLUMN_NAMES),
        ("sources_status", SourceStatusRow::COLUMN_NAMES),
        ("alert_deliveries", DeliveryRow::COLUMN_NAMES),
        ("alert_silences", SilenceRow::COLUMN_NAMES),
        ("replies", ReplyRow::COLUMN_NAMES),
        ("source_stats", SourceStatRow::COLUMN_NAMES),
    ]
}

/// Loads every table file under `dir` (`<dir>/<table>/<table>-*.jsonl`), oldest first.
pub async fn load_store(config: &ClickHouseSinkConfig, dir: &Path) -> Result<Vec<LoadedFile>, ClickHouseError> {
    let client = config.client();
    let mut loaded = Vec::new();
    load_table::<PostRow>(&client, dir, &mut loaded).await?;
    load_table::<DlqRow>(&client, dir, &mut loaded).await?;
    load_table::<AlertRow>(&client, dir, &mut loaded).await?;
    load_table::<SourceStatusRow>(&client, dir, &mut loaded).await?;
    load_table::<DeliveryRow>(&client, dir, &mut loaded).await?;
    load_table::<SilenceRow>(&client, dir, &mut loaded).await?;
    load_table::<SourceStatRow>(&client, dir, &mut loaded).await?;
    Ok(loaded)
}

async fn load_table<R: TableRow + DeserializeOwned>(
    client: &clickhouse::Client,
    dir: &Path,
    loaded: &mut Vec<LoadedFile>,
) -> Result<(), ClickHouseError> {
    let table = <R as TableRow>::TABLE;
    let files = table_files(&dir.join(table), table).map_err(|e| ClickHouseError::Client(e.to_string()))?;
    for path in files {
        let (rows, reader) = load_file::<R>(client, &path).await?;
        let (skipped, first_skip) = (reader.skipped(), reader.first_skip().map(str::to_owned));
        tracing::info!(table, path = %path.display(), rows, skipped, "loaded");
        loaded.push(LoadedFile { table, path, rows, skipped, first_skip });
    }
    Ok(())
}

/// Rows are sent in chunks of about this size.
const CHUNK_BYTES: usize = 4 << 20;

/// Sends the valid lines of `path` as they are; returns the rows sent and the reader (what it skipped).
async fn load_file<R: TableRow + DeserializeOwned>(
    client: &clickhouse::Client,
    path: &Path,
) -> Result<(u64, StoreReader<R>), ClickHouseError> {
    let mut reader = StoreReader::<R>::open(path).map_err(|e| ClickHouseError::Client(e.to_string()))?;
    let columns: Vec<String> = R::COLUMN_NAMES.iter().map(|c| quote_ident(c)).collect();
    let table = quote_ident(<R as TableRow>::TABLE);
    let sql = format!("INSERT INTO {table} ({}) FORMAT JSONEachRow", columns.join(", "));
    let mut insert = client.insert_formatted_with(sql);
    let mut rows = 0u64;
    let mut chunk = BytesMut::with_capacity(CHUNK_BYTES);
    loop {
        let line = reader.next_row().map_err(|e| ClickHouseError::Client(e.to_string()))?;
        if let Some((_, line)) = &line {
            chunk.put_slice(line);
            rows += 1;
        }
        if chunk.len() >= CHUNK_BYTES || (line.is_none() && !chunk.is_empty()) {
            let full = std::mem::replace(&mut chunk, BytesMut::with_capacity(CHUNK_BYTES));
            insert.send(full.freeze()).await.map_err(|e| with_path(e.into(), path))?;
        }
        if line.is_none() {
            break;
        }
    }
    if rows > 0 {
        insert.end().await.map_err(|e| with_path(e.into(), path))?;
    }
    Ok((rows, reader))
}

fn with_path(error: ClickHouseError, path: &Path) -> ClickHouseError {
    match error {
        ClickHouseError::Server { code, message } => {
            ClickHouseError::Server { code, message: format!("{}: {message}", path.display()) }
        }
        other => other,
    }
}
