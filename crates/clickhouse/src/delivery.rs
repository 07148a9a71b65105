//! Alert delivery's storage: the delivery log (every notification queued, every attempt and its
//! outcome, every alert recorded but not sent), which is also the outbox a restarted notifier
//! resends from, and the duty officers' silences — in ClickHouse (`alert_deliveries`,
//! `alert_silences`) or the local store (the same rows as JSONEachRow files).
//!
//! The running pipeline appends deliveries under its data directory's lock ([`DeliveryLog`]).
//! Silences are written by other processes (`otklik alerts silence`, the page) while the pipeline
//! runs, so the local form takes a short lock of its own per append instead of the directory's.

use crate::config::ClickHouseSinkConfig;
use crate::history::{read_rows, History, HistoryError};
use crate::local::{table_files, DataDir, LocalStore, StoreError};
use crate::row::{DeliveryRow, SilenceRow, TableRow};
use crate::sink::ClickHouseSink;
use chrono::{DateTime, Utc};
use clickhouse::Row;
use otklik_model::{DeliveryRecord, Silence};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Where the running pipeline appends its delivery log.
pub enum DeliveryLog {
    ClickHouse(Box<ClickHouseSink<DeliveryRow>>),
    Local(LocalStore<DeliveryRow>),
}

impl DeliveryLog {
    pub fn clickhouse(config: ClickHouseSinkConfig) -> Self {
        DeliveryLog::ClickHouse(Box::new(ClickHouseSink::new(config)))
    }

    pub fn local(data_dir: &DataDir) -> Result<Self, StoreError> {
        Ok(DeliveryLog::Local(LocalStore::open_in(data_dir)?))
    }

    /// Appends `records` durably.
    pub async fn append(&self, records: &[DeliveryRecord], now: DateTime<Utc>) -> Result<(), HistoryError> {
        let rows: Vec<DeliveryRow> = records.iter().map(DeliveryRow::from).collect();
        match self {
            DeliveryLog::ClickHouse(sink) => sink.insert(&rows).await.map_err(HistoryError::from),
            DeliveryLog::Local(store) => {
                let store = store.clone();
                let joined = tokio::task::spawn_blocking(move || store.append(&rows, now)).await;
                joined.map_err(|e| HistoryError::Interrupted(e.to_string()))??;
                Ok(())
            }
        }
    }
}

impl History {
    /// Every delivery record at or after `since`, in the order they were made (by `at`, then
    /// attempt; the local store's line order on a tie).
    pub async fn deliveries(&self, since: DateTime<Utc>) -> Result<Vec<DeliveryRecord>, HistoryError> {
        let rows: Vec<DeliveryRow> = match self {
            History::ClickHouse(config) => {
                let sql = format!(
                    "SELECT {} FROM alert_deliveries WHERE at >= toDateTime(?) ORDER BY at, attempt",
                    DeliveryRow::COLUMN_NAMES.join(", ")
                );
                crate::history::fetch(config, &sql, since).await?
            }
            History::Local(dir) => crate::history::local(dir, since, local_deliveries).await?,
        };
        rows.iter().map(|row| DeliveryRecord::try_from(row).map_err(HistoryError::Corrupt)).collect()
    }

    /// The silences that have not ended by `now` (active, or starting later), by start.
    pub async fn silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, HistoryError> {
        let rows: Vec<SilenceRow> = match self {
            History::ClickHouse(config) => crate::history::fetch(config, &silences_sql(), now).await?,
            History::Local(dir) => crate::history::local(dir, now, local_silences).await?,
        };
        let mut silences: Vec<Silence> = rows.iter().map(Silence::from).filter(|s| s.ends_at > now).collect();
        silences.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then_with(|| a.id.cmp(&b.id)));
        Ok(silences)
    }

    /// Stores a silence (or a new version of one: ending it early is storing it with
    /// `ends_at` = now).
    pub async fn add_silence(&self, silence: &Silence, now: DateTime<Utc>) -> Result<(), HistoryError> {
        let row = SilenceRow::new(silence, now);
        match self {
            History::ClickHouse(config) => Ok(ClickHouseSink::<SilenceRow>::new(config.clone()).insert(&[row]).await?),
            History::Local(dir) => {
                let dir = dir.clone();
                let joined = tokio::task::spawn_blocking(move || append_silence(&dir, &row, now)).await;
                Ok(joined.map_err(|e| HistoryError::Interrupted(e.to_string()))??)
            }
        }
    }
}

fn silences_sql() -> String {
    // Every version of a silence shares its id; the latest stored wins. The bound on ends_at
    // is applied after choosing the latest, so an ended silence stays ended.
    let columns = SilenceRow::COLUMN_NAMES;
    let select: Vec<String> = columns
        .iter()
        .map(|&c| if c == "id" { c.to_owned() } else { format!("argMax({c}, stored_at) AS latest_{c}") })
        .collect();
    format!(
        "SELECT * FROM (SELECT {} FROM alert_silences GROUP BY id) WHERE latest_ends_at > toDateTime(?) \
         ORDER BY latest_starts_at, id",
        select.join(", ")
    )
}

fn local_deliveries(dir: &Path, since: DateTime<Utc>) -> Result<Vec<DeliveryRow>, StoreError> {
    let mut rows = Vec::new();
    let table = DeliveryRow::TABLE;
    read_rows(&crate::history::files_since(dir, table, since)?, |row: DeliveryRow| {
        if row.at >= since {
            rows.push(row);
        }
    })?;
    rows.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.attempt.cmp(&b.attempt)));
    Ok(rows)
}

fn local_silences(dir: &Path, _now: DateTime<Utc>) -> Result<Vec<SilenceRow>, StoreError> {
    let mut latest: HashMap<String, SilenceRow> = HashMap::new();
    let table = SilenceRow::TABLE;
    read_rows(&table_files(&dir.join(table), table)?, |row: SilenceRow| {
        if latest.get(&row.id).is_none_or(|kept| kept.stored_at <= row.stored_at) {
            latest.insert(row.id.clone(), row);
        }
    })?;
    Ok(latest.into_values().collect())
}

/// Appends one silence row under `<dir>/alert_silences/.lock`, held only for this write.
fn append_silence(dir: &Path, row: &SilenceRow, now: DateTime<Utc>) -> Result<(), StoreError> {
    let table_dir = dir.join(SilenceRow::TABLE);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    fs::create_dir_all(&table_dir).map_err(io(&table_dir))?;
    let lock_path = table_dir.join(".lock");
    let lock = File::create(&lock_path).map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    let path = table_dir.join(format!("{}-{}.jsonl", SilenceRow::TABLE, now.format("%Y%m%d%H")));
    let mut line = serde_json::to_vec(row)
        .map_err(|e| StoreError::Serialise { table: SilenceRow::TABLE, reason: e.to_string() })?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
    file.write_all(&line).and_then(|()| file.sync_data()).map_err(io(&path))
}
