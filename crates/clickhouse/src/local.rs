//! The embedded mode's store: ClickHouse-ready JSONEachRow files, one per table and hour,
//! `<data_dir>/<table>/<table>-YYYYMMDDHH.jsonl`, holding exactly the rows the ClickHouse sink
//! writes.
//!
//! A batch is appended with one `write_all` and made durable with `fsync` before the sink
//! acknowledges it, so a committed offset never points past data that could vanish. A crash in
//! the middle of a write can leave a torn last line; opening the store cuts every file back to its
//! last complete line (that batch was not committed, so it is delivered again).

use crate::row::{DlqRow, PostRow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::{ClassifiedPost, DlqRecord};
use otklik_pipeline::{BatchSink, Message, SinkError};
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A row type the store can hold: which table it belongs to and how it arrives on the bus.
pub trait StoreRow: Serialize + Send + Sync + Sized + 'static {
    /// Table name: the sub-directory and file prefix.
    const TABLE: &'static str;

    fn from_message(message: &Message) -> Result<Self, String>;
}

impl StoreRow for PostRow {
    const TABLE: &'static str = "posts";

    fn from_message(message: &Message) -> Result<Self, String> {
        let post: ClassifiedPost = otklik_model::decode("ClassifiedPost", &message.payload).map_err(|e| e.to_string())?;
        Ok(PostRow::from(&post))
    }
}

impl StoreRow for DlqRow {
    const TABLE: &'static str = "dlq";

    fn from_message(message: &Message) -> Result<Self, String> {
        let record: DlqRecord = otklik_model::decode("DlqRecord", &message.payload).map_err(|e| e.to_string())?;
        Ok(DlqRow::from(&record))
    }
}

/// A store failure. Disk errors are retryable (space may be freed, a mount may come back).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot serialise a {table} row: {reason}")]
    Serialise { table: &'static str, reason: String },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Io { .. })
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

/// The hourly JSONEachRow files of one table.
pub struct LocalStore<R> {
    inner: Arc<Inner>,
    _rows: PhantomData<fn(R)>,
}

struct Inner {
    dir: PathBuf,
    table: &'static str,
    /// The file of the current hour, kept open between batches.
    current: Mutex<Option<(String, File)>>,
}

impl<R: StoreRow> LocalStore<R> {
    /// Opens (creating) `<data_dir>/<table>/` and repairs torn tails left by a crash.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let dir = data_dir.join(R::TABLE);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        for path in table_files(&dir, R::TABLE)? {
            let cut = repair_tail(&path).map_err(io_error(&path))?;
            if cut > 0 {
                tracing::warn!(path = %path.display(), bytes = cut, "cut a torn last line left by an interrupted write");
            }
        }
        Ok(LocalStore { inner: Arc::new(Inner { dir, table: R::TABLE, current: Mutex::new(None) }), _rows: PhantomData })
    }

    /// The table's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Appends `rows` durably to the file of `now`'s hour; returns that file.
    pub fn append(&self, rows: &[R], now: DateTime<Utc>) -> Result<PathBuf, StoreError> {
        self.inner.append(&encode_rows(rows, R::TABLE)?, now)
    }
}

/// The table's files, sorted by name (= by hour).
pub fn table_files(dir: &Path, table: &str) -> Result<Vec<PathBuf>, StoreError> {
    let mut files = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(io_error(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io_error(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(&format!("{table}-")) && name.ends_with(".jsonl") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn encode_rows<R: Serialize>(rows: &[R], table: &'static str) -> Result<Vec<u8>, StoreError> {
    let mut buffer = Vec::with_capacity(rows.len() * 512);
    for row in rows {
        serde_json::to_writer(&mut buffer, row).map_err(|e| StoreError::Serialise { table, reason: e.to_string() })?;
        buffer.push(b'\n');
    }
    Ok(buffer)
}

impl Inner {
    fn append(&self, bytes: &[u8], now: DateTime<Utc>) -> Result<PathBuf, StoreError> {
        let hour = now.format("%Y%m%d%H").to_string();
        let path = self.dir.join(format!("{}-{hour}.jsonl", self.table));
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().map(|(h, _)| h != &hour).unwrap_or(true) {
            let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_error(&path))?;
            *current = Some((hour, file));
        }
        let (_, file) = current.as_mut().expect("set just above");
        let written = file.write_all(bytes).and_then(|()| file.sync_data());
        if let Err(source) = written {
            // The file may now end in a partial line: forget the handle and cut it back, so the
            // retry of this batch starts on a line boundary.
            *current = None;
            let _ = repair_tail(&path);
            return Err(StoreError::Io { path, source });
        }
        Ok(path)
    }
}

/// Truncates `path` after its last newline; returns how many bytes were cut.
pub fn repair_tail(path: &Path) -> io::Result<u64> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
                file.sync_all()?;
            }
            return Ok(len - keep);
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
        file.sync_all()?;
    }
    Ok(len)
}

#[async_trait]
impl<R: StoreRow> BatchSink for LocalStore<R> {
    type Row = R;

    fn decode(&self, message: &Message) -> Result<R, String> {
        R::from_message(message)
    }

    async fn write(&self, rows: &[R]) -> Result<(), SinkError> {
        let bytes = encode_rows(rows, R::TABLE).map_err(|e| SinkError::Fatal(e.to_string()))?;
        let inner = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || inner.append(&bytes, Utc::now()))
            .await
            .map_err(|e| SinkError::Retryable(format!("store write task failed: {e}")))?;
        result.map(drop).map_err(|e| if e.is_retryable() { SinkError::Retryable(e.to_string()) } else { SinkError::Fatal(e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize)]
    struct Row {
        n: u32,
    }

    impl StoreRow for Row {
        const TABLE: &'static str = "t";
        fn from_message(_: &Message) -> Result<Self, String> {
            Err("unused".into())
        }
    }

    #[test]
    fn appends_to_one_file_per_hour() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::<Row>::open(dir.path()).unwrap();
        let at = |h| Utc.with_ymd_and_hms(2026, 11, 29, h, 10, 0).unwrap();
        let a = store.append(&[Row { n: 1 }, Row { n: 2 }], at(2)).unwrap();
        let b = store.append(&[Row { n: 3 }], at(2)).unwrap();
        let c = store.append(&[Row { n: 4 }], at(3)).unwrap();
        assert_eq!(a, b);
        assert!(a.ends_with("t/t-2026112902.jsonl"));
        assert_eq!(fs::read_to_string(&a).unwrap(), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
        assert_eq!(fs::read_to_string(&c).unwrap(), "{\"n\":4}\n");
        assert_eq!(table_files(store.dir(), "t").unwrap(), vec![a, c]);
    }

    #[test]
    fn opening_cuts_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t");
        fs::create_dir_all(&table).unwrap();
        fs::write(table.join("t-2026112902.jsonl"), "{\"n\":1}\n{\"n\":2}\n{\"n\":3").unwrap();
        fs::write(table.join("t-2026112903.jsonl"), "{\"n\":").unwrap();
        fs::write(table.join("t-2026112904.jsonl"), "").unwrap();
        LocalStore::<Row>::open(dir.path()).unwrap();
        assert_eq!(fs::read_to_string(table.join("t-2026112902.jsonl")).unwrap(), "{\"n\":1}\n{\"n\":2}\n");
        assert_eq!(fs::read_to_string(table.join("t-2026112903.jsonl")).unwrap(), "");
    }

    #[test]
    fn repair_handles_long_lines_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let long = "y".repeat(200_000);
        fs::write(&path, format!("a\n{long}")).unwrap();
        assert_eq!(repair_tail(&path).unwrap(), 200_000);
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\n");
    }
}
