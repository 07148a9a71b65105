//! The embedded mode's store: ClickHouse-ready JSONEachRow files, one per table and hour,
//! `<data_dir>/<table>/<table>-YYYYMMDDHH.jsonl`, holding exactly the rows the ClickHouse sink
//! writes.
//!
//! One process writes a data directory: [`DataDir::lock`] takes an exclusive `flock` on
//! `<data_dir>/.lock` (holding the writer's pid, for the error a second writer gets), and every
//! store is opened from that handle, so the posts and DLQ stores of one run share the lock.
//! Readers ([`StoreReader`]: `otklik report`, `otklik clickhouse load`) take no lock and change
//! nothing.
//!
//! A batch is appended with one `write_all` and made durable with `fsync` before the sink
//! acknowledges it, so a committed offset never points past data that could vanish. Opening a
//! store, with the lock held, checks every line of every file: a line that is not a complete,
//! valid row (a torn tail left by a crash, garbage, invalid UTF-8, JSON of another shape) is
//! appended to `<file>.corrupt` and the file is rewritten without it (temp file, fsync, rename),
//! so the next batch goes after valid rows. A file with no such line is only read. A torn tail
//! was never acknowledged, so its rows are delivered again. A column added to a row type later
//! needs `#[serde(default)]`, or every older line would be quarantined.

use crate::row::{AlertRow, DeliveryRow, DlqRow, PostRow, SourceStatRow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::{Alert, ClassifiedPost, DeliveryRecord, DlqRecord, SourceStat};
use otklik_pipeline::{BatchSink, Message, SinkError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A row type the store can hold: which table it belongs to and how it arrives on the bus.
pub trait StoreRow: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// Table name: the sub-directory and file prefix.
    const TABLE: &'static str;

    fn from_message(message: &Message) -> Result<Self, String>;
}

impl StoreRow for PostRow {
    const TABLE: &'static str = "posts";

    fn from_message(message: &Message) -> Result<Self, String> {
        let post: ClassifiedPost =
            otklik_model::decode("ClassifiedPost", &message.payload).map_err(|e| e.to_string())?;
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

impl StoreRow for AlertRow {
    const TABLE: &'static str = "alerts";

    fn from_message(message: &Message) -> Result<Self, String> {
        let alert: Alert = otklik_model::decode("Alert", &message.payload).map_err(|e| e.to_string())?;
        Ok(AlertRow::from(&alert))
    }
}

impl StoreRow for SourceStatRow {
    const TABLE: &'static str = "source_stats";

    fn from_message(message: &Message) -> Result<Self, String> {
        let stat: SourceStat = otklik_model::decode("SourceStat", &message.payload).map_err(|e| e.to_string())?;
        Ok(SourceStatRow::from(&stat))
    }
}

impl StoreRow for DeliveryRow {
    const TABLE: &'static str = "alert_deliveries";

    fn from_message(message: &Message) -> Result<Self, String> {
        let record: DeliveryRecord =
            otklik_model::decode("DeliveryRecord", &message.payload).map_err(|e| e.to_string())?;
        Ok(DeliveryRow::from(&record))
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
    #[error("cannot read {path} line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        #[source]
        source: io::Error,
    },
    #[error("cannot serialise a {table} row: {reason}")]
    Serialise { table: &'static str, reason: String },
    #[error(
        "data directory {dir} is in use by another otklik process{}: only one process may write to it \
         (stop that one, or give this one another data_dir)",
        holder_text(*.pid)
    )]
    Locked { dir: PathBuf, pid: Option<u32> },
    #[error("the {table} store of {dir} is already open for writing in this process")]
    AlreadyOpen { dir: PathBuf, table: &'static str },
}

fn holder_text(pid: Option<u32>) -> String {
    pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Io { .. } | StoreError::Read { .. })
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

/// The lock file in a data directory.
pub const LOCK_FILE: &str = ".lock";

/// A data directory opened for writing: holds the exclusive lock on `<dir>/.lock` for as long as
/// this handle, a clone of it or a store opened from it lives. Holding one is what makes a
/// repair safe: no other process can be appending to the files.
#[derive(Clone)]
pub struct DataDir {
    inner: Arc<DirLock>,
}

struct DirLock {
    path: PathBuf,
    /// The `flock` lives as long as this open file description.
    _file: File,
    /// Tables with an open store: one writer per table in this process too.
    open_tables: Mutex<HashSet<&'static str>>,
}

impl DataDir {
    /// Creates `path` if needed and locks it, or says which process holds it.
    pub fn lock(path: &Path) -> Result<DataDir, StoreError> {
        fs::create_dir_all(path).map_err(io_error(path))?;
        let lock_path = path.join(LOCK_FILE);
        // Not truncated on open: the holder's pid must stay readable for a refused writer.
        let opened = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path);
        let mut file = opened.map_err(io_error(&lock_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { dir: path.to_owned(), pid: holder_pid(&lock_path) });
            }
            Err(TryLockError::Error(source)) => return Err(StoreError::Io { path: lock_path, source }),
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0).and_then(|()| file.write_all(pid.as_bytes())).map_err(io_error(&lock_path))?;
        Ok(DataDir { inner: Arc::new(DirLock { path: path.to_owned(), _file: file, open_tables: Mutex::default() }) })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn claim(&self, table: &'static str) -> Result<TableClaim, StoreError> {
        let mut open = self.inner.open_tables.lock().unwrap_or_else(|p| p.into_inner());
        if !open.insert(table) {
            return Err(StoreError::AlreadyOpen { dir: self.inner.path.clone(), table });
        }
        Ok(TableClaim { dir: self.clone(), table })
    }
}

fn holder_pid(lock_path: &Path) -> Option<u32> {
    fs::read_to_string(lock_path).ok()?.trim().parse().ok()
}

/// A table's write claim on a locked data directory, released on drop.
struct TableClaim {
    dir: DataDir,
    table: &'static str,
}

impl Drop for TableClaim {
    fn drop(&mut self) {
        self.dir.inner.open_tables.lock().unwrap_or_else(|p| p.into_inner()).remove(self.table);
    }
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
    _claim: TableClaim,
}

// Not derived: a derive would require `R: Clone`, and only the shared handle is cloned.
impl<R> Clone for LocalStore<R> {
    fn clone(&self) -> Self {
        LocalStore { inner: Arc::clone(&self.inner), _rows: PhantomData }
    }
}

impl<R: StoreRow> LocalStore<R> {
    /// Locks `data_dir` for this store alone; see [`LocalStore::open_in`]. A process writing
    /// several tables opens them all from one [`DataDir`].
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_in(&DataDir::lock(data_dir)?)
    }

    /// Opens (creating) `<data_dir>/<table>/` and quarantines every line of its files that is not
    /// a valid row (see the module docs).
    pub fn open_in(data_dir: &DataDir) -> Result<Self, StoreError> {
        let claim = data_dir.claim(R::TABLE)?;
        let dir = data_dir.path().join(R::TABLE);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        remove_stale_temps(&dir)?;
        for path in table_files(&dir, R::TABLE)? {
            quarantine::<R>(data_dir, &path)?;
        }
        let inner = Inner { dir, table: R::TABLE, current: Mutex::new(None), _claim: claim };
        Ok(LocalStore { inner: Arc::new(inner), _rows: PhantomData })
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

/// Where the invalid lines of a store file go.
pub fn corrupt_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".corrupt");
    path.with_file_name(name)
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
            // The file may now end in a partial line of this very batch: forget the handle and
            // cut it back, so the retry starts on a line boundary.
            *current = None;
            let _ = repair_tail(&path);
            return Err(StoreError::Io { path, source });
        }
        Ok(path)
    }
}

/// Truncates `path` after its last newline; returns how many bytes were cut. Only for the
/// writer's own failed append: anything else that is not a row is quarantined, not cut.
fn repair_tail(path: &Path) -> io::Result<u64> {
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

/// A line longer than this is not a row (a post is at most some hundred KB); it is never held
/// in memory whole.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The lines of a file, streamed: each one's byte range, and its first bytes in `buf`.
struct Lines {
    reader: BufReader<File>,
    buf: Vec<u8>,
    /// The line ended with a newline (`buf` may not show it: it holds at most `MAX_LINE_BYTES`).
    complete: bool,
    offset: u64,
    number: u64,
}

impl Lines {
    fn open(path: &Path) -> io::Result<Lines> {
        let reader = BufReader::with_capacity(256 << 10, File::open(path)?);
        Ok(Lines { reader, buf: Vec::new(), complete: false, offset: 0, number: 0 })
    }

    /// The next line (its newline included, when it has one); `buf` holds up to
    /// `MAX_LINE_BYTES` of it.
    fn next_line(&mut self) -> io::Result<Option<Range<u64>>> {
        self.buf.clear();
        self.complete = false;
        let start = self.offset;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                break;
            }
            let (used, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.buf.len()).min(used);
            self.buf.extend_from_slice(&available[..room]);
            self.reader.consume(used);
            self.offset += used as u64;
            if done {
                self.complete = true;
                break;
            }
        }
        if self.offset == start {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some(start..self.offset))
    }
}

/// `line` (as read, newline included) as a row of `R`, or why it is not one.
fn parse_line<R: DeserializeOwned>(line: &[u8], len: u64) -> Result<R, String> {
    if len > MAX_LINE_BYTES as u64 {
        return Err(format!("longer than {MAX_LINE_BYTES} bytes"));
    }
    let Some(json) = line.strip_suffix(b"\n") else {
        return Err("incomplete line (no newline at the end)".into());
    };
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

/// Reads the rows of one store file, streaming, without a lock and without changing it: lines
/// that are not valid rows (garbage, or the tail a live writer is still appending) are skipped
/// and counted, and a warning names the file, the count and the first reason.
pub struct StoreReader<R> {
    path: PathBuf,
    lines: Lines,
    skipped: u64,
    first_skip: Option<String>,
    done: bool,
    _rows: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> StoreReader<R> {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let lines = Lines::open(path).map_err(io_error(path))?;
        Ok(StoreReader { path: path.to_owned(), lines, skipped: 0, first_skip: None, done: false, _rows: PhantomData })
    }

    /// The next valid row and its line as stored (newline included).
    pub fn next_row(&mut self) -> Result<Option<(R, &[u8])>, StoreError> {
        while !self.done {
            let read = self.lines.next_line();
            let line = self.lines.number + 1;
            let range = read.map_err(|source| StoreError::Read { path: self.path.clone(), line, source })?;
            let Some(range) = range else {
                self.done = true;
                self.warn_skipped();
                break;
            };
            match parse_line::<R>(&self.lines.buf, range.end - range.start) {
                Ok(row) => return Ok(Some((row, self.lines.buf.as_slice()))),
                Err(reason) => self.skip(reason),
            }
        }
        Ok(None)
    }

    /// Lines skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Why the first skipped line was skipped: `cannot parse <file> line N: …`.
    pub fn first_skip(&self) -> Option<&str> {
        self.first_skip.as_deref()
    }

    fn skip(&mut self, reason: String) {
        self.skipped += 1;
        if self.first_skip.is_none() {
            let (path, line) = (self.path.display(), self.lines.number);
            self.first_skip = Some(format!("cannot parse {path} line {line}: {reason}"));
        }
    }

    fn warn_skipped(&self) {
        if let Some(first) = &self.first_skip {
            let lines = self.skipped;
            tracing::warn!(path = %self.path.display(), lines, "skipped {lines} unreadable line(s); first: {first}");
        }
    }
}

/// What a scan of a store file found: the byte ranges of its invalid lines (adjacent ones merged).
struct Scan {
    invalid: Vec<Range<u64>>,
    invalid_lines: u64,
    /// The last line has no newline (only it can lack one).
    torn_tail: bool,
    first_reason: Option<String>,
}

fn scan<R: DeserializeOwned>(path: &Path) -> Result<Scan, StoreError> {
    let mut lines = Lines::open(path).map_err(io_error(path))?;
    let mut found = Scan { invalid: Vec::new(), invalid_lines: 0, torn_tail: false, first_reason: None };
    let read_error = |line: u64| move |source| StoreError::Read { path: path.to_owned(), line, source };
    while let Some(range) = lines.next_line().map_err(read_error(lines.number + 1))? {
        let Err(reason) = parse_line::<R>(&lines.buf, range.end - range.start) else { continue };
        found.torn_tail = !lines.complete;
        found.first_reason.get_or_insert_with(|| format!("cannot parse line {}: {reason}", lines.number));
        found.invalid_lines += 1;
        match found.invalid.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => found.invalid.push(range),
        }
    }
    Ok(found)
}

/// Moves the invalid lines of `path` to its `.corrupt` file; returns how many. Takes the locked
/// data directory as proof that no writer is appending to the file, the only way to reach here.
fn quarantine<R: DeserializeOwned>(_locked: &DataDir, path: &Path) -> Result<u64, StoreError> {
    let found = scan::<R>(path)?;
    if found.invalid_lines == 0 {
        return Ok(0);
    }
    let corrupt = corrupt_path(path);
    rewrite_without(path, &corrupt, &found)?;
    tracing::warn!(
        path = %path.display(),
        lines = found.invalid_lines,
        "moved {} invalid line(s) to {} (first: {})",
        found.invalid_lines,
        corrupt.display(),
        found.first_reason.as_deref().unwrap_or_default()
    );
    Ok(found.invalid_lines)
}

/// Appends the `found.invalid` ranges of `path` to `corrupt` and atomically replaces `path` with
/// the rest. Both are durable before the rename, so a crash loses nothing (at worst the next
/// repair quarantines the same lines again).
fn rewrite_without(path: &Path, corrupt: &Path, found: &Scan) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = temp_path(path);
    let mut source = File::open(path).map_err(io_error(path))?;
    let mut kept = BufWriter::new(File::create(&temp).map_err(io_error(&temp))?);
    let corrupt_file = OpenOptions::new().create(true).append(true).open(corrupt).map_err(io_error(corrupt))?;
    let mut moved = BufWriter::new(corrupt_file);
    let mut at = 0;
    for range in &found.invalid {
        copy_range(&mut source, range.start - at, &mut kept).map_err(io_error(&temp))?;
        copy_range(&mut source, range.end - range.start, &mut moved).map_err(io_error(corrupt))?;
        at = range.end;
    }
    io::copy(&mut source, &mut kept).map_err(io_error(&temp))?;
    if found.torn_tail {
        // Keeps the .corrupt file line-shaped for the next quarantined line.
        moved.write_all(b"\n").map_err(io_error(corrupt))?;
    }
    finish(moved).map_err(io_error(corrupt))?;
    finish(kept).map_err(io_error(&temp))?;
    fs::rename(&temp, path).map_err(io_error(path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))
}

fn copy_range(source: &mut File, len: u64, to: &mut impl Write) -> io::Result<()> {
    let copied = io::copy(&mut Read::by_ref(source).take(len), to)?;
    if copied < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while being repaired"));
    }
    Ok(())
}

fn finish(writer: BufWriter<File>) -> io::Result<()> {
    writer.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// The repair's temp file: hidden, so no reader takes it for a table file.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".repair");
    path.with_file_name(name)
}

/// Temp files of a repair a crash interrupted (the original file is still whole).
fn remove_stale_temps(dir: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') && name.ends_with(".jsonl.repair") {
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(())
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
        result.map(drop).map_err(|e| {
            if e.is_retryable() {
                SinkError::Retryable(e.to_string())
            } else {
                SinkError::Fatal(e.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize, serde::Deserialize)]
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
        // Nothing is lost: the torn lines are kept, one per line.
        assert_eq!(fs::read_to_string(table.join("t-2026112902.jsonl.corrupt")).unwrap(), "{\"n\":3\n");
        assert_eq!(fs::read_to_string(table.join("t-2026112903.jsonl.corrupt")).unwrap(), "{\"n\":\n");
        assert!(!table.join("t-2026112904.jsonl.corrupt").exists());
    }

    #[test]
    fn a_valid_file_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t");
        fs::create_dir_all(&table).unwrap();
        let path = table.join("t-2026112902.jsonl");
        fs::write(&path, "{\"n\":1}\n{\"n\":2}\n").unwrap();
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
        let before = inode(&path);
        LocalStore::<Row>::open(dir.path()).unwrap();
        assert_eq!(inode(&path), before, "the file was replaced");
        assert!(!corrupt_path(&path).exists());
    }

    #[test]
    fn lines_longer_than_the_limit_are_streamed_to_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t");
        fs::create_dir_all(&table).unwrap();
        let path = table.join("t-2026112902.jsonl");
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        fs::write(&path, format!("{{\"n\":1}}\n{long}\n{{\"n\":2}}\n")).unwrap();
        LocalStore::<Row>::open(dir.path()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"n\":1}\n{\"n\":2}\n");
        assert_eq!(fs::read_to_string(corrupt_path(&path)).unwrap(), format!("{long}\n"));
    }

    #[test]
    fn stale_repair_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t");
        fs::create_dir_all(&table).unwrap();
        let temp = temp_path(&table.join("t-2026112902.jsonl"));
        fs::write(&temp, "half a repair").unwrap();
        LocalStore::<Row>::open(dir.path()).unwrap();
        assert!(!temp.exists());
    }

    #[test]
    fn one_store_per_table_per_process() {
        let dir = tempfile::tempdir().unwrap();
        let locked = DataDir::lock(dir.path()).unwrap();
        let first = LocalStore::<Row>::open_in(&locked).unwrap();
        let error = LocalStore::<Row>::open_in(&locked).err().unwrap();
        assert!(matches!(error, StoreError::AlreadyOpen { table: "t", .. }), "{error}");
        drop(first);
        LocalStore::<Row>::open_in(&locked).unwrap();
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
