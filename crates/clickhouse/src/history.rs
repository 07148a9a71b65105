//! What the alert stage restores on start and the CLI summarises (`otklik incidents`,
//! `otklik alerts list`): linked posts, voices and incidents per hour, the latest event of each
//! alert — read back from ClickHouse (production) or from the local store (embedded), with the
//! same answer for the same rows.
//!
//! The local store's files are named by the hour they were *written*, not by `published_at` or
//! `raised_at`. A row is written after its post was published (or its alert raised), so a file
//! whose hour ended before `since` cannot hold a row from `since` on; files older than that, with
//! a day of slack for a platform's clock running ahead of ours, are not read.

use crate::config::ClickHouseSinkConfig;
use crate::error::ClickHouseError;
use crate::local::{table_files, StoreError, StoreReader};
use crate::row::{ch_datetime, AlertRow, PostRow};
use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use clickhouse::{Row, RowOwned, RowRead};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Where history is read from.
#[derive(Debug, Clone)]
pub enum History {
    ClickHouse(ClickHouseSinkConfig),
    /// A local store's data directory (holding `posts/`, `alerts/`).
    Local(PathBuf),
}

/// Voices and incidents of one hour × municipality × topic cell (complaints and questions).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct HourlyVoices {
    #[serde(with = "ch_datetime")]
    pub hour: DateTime<Utc>,
    /// ОКТМО code, empty when none.
    pub municipality: String,
    /// Topic id, empty for posts without a topic.
    pub topic: String,
    /// Distinct incidents.
    pub incidents: u64,
    /// Distinct voices (posts counted as a resident's voice).
    pub voices: u64,
}

/// Reading history failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing to ClickHouse failed (deliveries, silences).
    #[error(transparent)]
    Write(#[from] otklik_pipeline::SinkError),
    /// The blocking read of the local store did not finish (the runtime is shutting down).
    #[error("reading the local store stopped: {0}")]
    Interrupted(String),
    /// A stored row that cannot be read back as what it stands for.
    #[error("unreadable stored row: {0}")]
    Corrupt(String),
}

impl HistoryError {
    pub fn is_retryable(&self) -> bool {
        match self {
            HistoryError::ClickHouse(e) => e.is_retryable(),
            HistoryError::Store(e) => e.is_retryable(),
            HistoryError::Write(e) => matches!(e, otklik_pipeline::SinkError::Retryable(_)),
            HistoryError::Interrupted(_) | HistoryError::Corrupt(_) => false,
        }
    }
}

/// Rank of an alert event among events raised in the same second: the later in the lifecycle wins.
const STATE_RANK: &str = "indexOf(['opened', 'reopened', 'updated', 'resolved'], state)";

fn state_rank(state: &str) -> usize {
    ["opened", "reopened", "updated", "resolved"].iter().position(|s| *s == state).map_or(0, |i| i + 1)
}

impl History {
    /// Latest version of every post with a non-empty `incident_id` published at or after `since`,
    /// oldest first (by `published_at`, then uid). A post whose latest version is not linked is
    /// left out.
    pub async fn linked_posts(&self, since: DateTime<Utc>) -> Result<Vec<PostRow>, HistoryError> {
        match self {
            History::ClickHouse(config) => Ok(fetch(config, &linked_posts_sql(), since).await?),
            History::Local(dir) => local(dir, since, local_linked_posts).await,
        }
    }

    /// Voices and incidents per hour × municipality × topic for the hours starting at or after
    /// `since`, ordered by hour, municipality, topic: complaints and questions, every topic of a
    /// post (none: topic ''), the cells `complaints_hourly` holds, zero cells included.
    pub async fn hourly_voices(&self, since: DateTime<Utc>) -> Result<Vec<HourlyVoices>, HistoryError> {
        match self {
            History::ClickHouse(config) => Ok(fetch(config, HOURLY_VOICES_SQL, since).await?),
            History::Local(dir) => local(dir, since, local_hourly_voices).await,
        }
    }

    /// The latest event of every alert with an event raised at or after `since`, oldest first (by
    /// that event's `raised_at`, then id). Events of one second: the later lifecycle state wins.
    pub async fn latest_alerts(&self, since: DateTime<Utc>) -> Result<Vec<AlertRow>, HistoryError> {
        match self {
            History::ClickHouse(config) => Ok(fetch(config, &latest_alerts_sql(), since).await?),
            History::Local(dir) => local(dir, since, local_latest_alerts).await,
        }
    }
}

pub(crate) async fn fetch<R: RowOwned + RowRead>(
    config: &ClickHouseSinkConfig,
    sql: &str,
    since: DateTime<Utc>,
) -> Result<Vec<R>, ClickHouseError> {
    let seconds = u32::try_from(since.timestamp().max(0)).unwrap_or(u32::MAX);
    Ok(config.client().query(sql).bind(seconds).fetch_all::<R>().await?)
}

/// Every column of `R` in order, the latest by `order_key` per `key`, in a subquery whose columns
/// are `key` and `latest_<column>` (rows are read by position).
pub(crate) fn latest_per_key(columns: &[&str], key: &str, order_key: &str, table: &str, time: &str) -> String {
    let select: Vec<String> = columns
        .iter()
        .map(|&c| if c == key { c.to_owned() } else { format!("argMax({c}, {order_key}) AS latest_{c}") })
        .collect();
    format!("SELECT {} FROM {table} WHERE {time} >= toDateTime(?) GROUP BY {key}", select.join(", "))
}

fn linked_posts_sql() -> String {
    // argMax, not FINAL: the incident filter must see each uid's latest version only, and a WHERE
    // next to FINAL may be applied before the collapse on some servers. published_at is the same
    // in every version, so filtering on it first is safe.
    let inner = latest_per_key(PostRow::COLUMN_NAMES, "uid", "version", "posts", "published_at");
    format!("SELECT * FROM ({inner}) WHERE latest_incident_id != '' ORDER BY latest_published_at, uid")
}

const HOURLY_VOICES_SQL: &str = "SELECT hour, municipality, topic, \
    uniqExactMerge(incidents) AS n_incidents, uniqExactMerge(voices) AS n_voices \
    FROM complaints_hourly WHERE hour >= toDateTime(?) \
    GROUP BY hour, municipality, topic ORDER BY hour, municipality, topic";

fn latest_alerts_sql() -> String {
    let order_key = format!("(raised_at, {STATE_RANK})");
    let inner = latest_per_key(AlertRow::COLUMN_NAMES, "id", &order_key, "alerts", "raised_at");
    format!("SELECT * FROM ({inner}) ORDER BY latest_raised_at, id")
}

/// Runs a blocking store read off the async threads.
pub(crate) async fn local<T: Send + 'static>(
    dir: &Path,
    since: DateTime<Utc>,
    read: fn(&Path, DateTime<Utc>) -> Result<T, StoreError>,
) -> Result<T, HistoryError> {
    let dir = dir.to_owned();
    let joined = tokio::task::spawn_blocking(move || read(&dir, since)).await;
    Ok(joined.map_err(|e| HistoryError::Interrupted(e.to_string()))??)
}

/// A clock of a platform running ahead of ours: how much later than its file's hour a row's own
/// time may be.
const CLOCK_SLACK: TimeDelta = TimeDelta::days(1);

/// The files of `table` that may hold rows timed at or after `since`.
pub(crate) fn files_since(dir: &Path, table: &str, since: DateTime<Utc>) -> Result<Vec<PathBuf>, StoreError> {
    let files = table_files(&dir.join(table), table)?;
    Ok(files
        .into_iter()
        .filter(|path| file_hour(path, table).is_none_or(|hour| hour + TimeDelta::hours(1) + CLOCK_SLACK > since))
        .collect())
}

/// The hour in a store file's name (`posts-2026112902.jsonl`).
fn file_hour(path: &Path, table: &str) -> Option<DateTime<Utc>> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix(table)?.strip_prefix('-')?.strip_suffix(".jsonl")?;
    NaiveDateTime::parse_from_str(&format!("{digits}0000"), "%Y%m%d%H%M%S").ok().map(|t| t.and_utc())
}

/// Every valid row of the files, in file order.
pub(crate) fn read_rows<R: serde::de::DeserializeOwned>(
    files: &[PathBuf],
    mut each: impl FnMut(R),
) -> Result<(), StoreError> {
    for path in files {
        let mut reader = StoreReader::<R>::open(path)?;
        while let Some((row, _)) = reader.next_row()? {
            each(row);
        }
    }
    Ok(())
}

/// The latest version (highest `version`; the later line on a tie) of every post published at
/// or after `since`.
pub(crate) fn latest_posts(dir: &Path, since: DateTime<Utc>) -> Result<HashMap<String, PostRow>, StoreError> {
    let mut latest: HashMap<String, PostRow> = HashMap::new();
    read_rows(&files_since(dir, "posts", since)?, |row: PostRow| {
        if row.published_at < since || latest.get(&row.uid).is_some_and(|kept| kept.version > row.version) {
            return;
        }
        latest.insert(row.uid.clone(), row);
    })?;
    Ok(latest)
}

fn local_linked_posts(dir: &Path, since: DateTime<Utc>) -> Result<Vec<PostRow>, StoreError> {
    let mut rows: Vec<PostRow> =
        latest_posts(dir, since)?.into_values().filter(|r| !r.incident_id.is_empty()).collect();
    rows.sort_by(|a, b| a.published_at.cmp(&b.published_at).then_with(|| a.uid.cmp(&b.uid)));
    Ok(rows)
}

fn local_hourly_voices(dir: &Path, since: DateTime<Utc>) -> Result<Vec<HourlyVoices>, StoreError> {
    #[derive(Default)]
    struct Cell {
        incidents: HashSet<String>,
        voices: HashSet<String>,
    }
    let mut cells: BTreeMap<(DateTime<Utc>, String, String), Cell> = BTreeMap::new();
    for row in latest_posts(dir, since)?.into_values() {
        let hour = row.published_at.duration_trunc(TimeDelta::hours(1)).unwrap_or(row.published_at);
        if hour < since || !(row.kind == "complaint" || row.kind == "question") {
            continue;
        }
        let topics = if row.topics.is_empty() { vec![String::new()] } else { row.topics.clone() };
        for topic in topics {
            let cell = cells.entry((hour, row.municipality.clone(), topic)).or_default();
            if !row.incident_id.is_empty() {
                cell.incidents.insert(row.incident_id.clone());
            }
            if row.is_voice == 1 {
                cell.voices.insert(row.uid.clone());
            }
        }
    }
    Ok(cells
        .into_iter()
        .map(|((hour, municipality, topic), cell)| HourlyVoices {
            hour,
            municipality,
            topic,
            incidents: cell.incidents.len() as u64,
            voices: cell.voices.len() as u64,
        })
        .collect())
}

fn local_latest_alerts(dir: &Path, since: DateTime<Utc>) -> Result<Vec<AlertRow>, StoreError> {
    let mut latest: HashMap<String, AlertRow> = HashMap::new();
    let key = |row: &AlertRow| (row.raised_at, state_rank(&row.state));
    read_rows(&files_since(dir, "alerts", since)?, |row: AlertRow| {
        if row.raised_at < since || latest.get(&row.id).is_some_and(|kept| key(kept) > key(&row)) {
            return;
        }
        latest.insert(row.id.clone(), row);
    })?;
    let mut rows: Vec<AlertRow> = latest.into_values().collect();
    rows.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then_with(|| a.id.cmp(&b.id)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn file_hours_come_from_the_name() {
        let hour = file_hour(Path::new("/d/posts/posts-2026112902.jsonl"), "posts");
        assert_eq!(hour, Some(Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap()));
        assert_eq!(file_hour(Path::new("/d/posts/posts-20261129.jsonl"), "posts"), None);
        assert_eq!(file_hour(Path::new("/d/posts/alerts-2026112902.jsonl"), "posts"), None);
    }

    #[test]
    fn old_files_are_skipped_with_slack_for_clocks() {
        let dir = tempfile::tempdir().unwrap();
        let posts = dir.path().join("posts");
        std::fs::create_dir_all(&posts).unwrap();
        for hour in ["2026112700", "2026112800", "2026112823", "2026112900"] {
            std::fs::write(posts.join(format!("posts-{hour}.jsonl")), "").unwrap();
        }
        let since = Utc.with_ymd_and_hms(2026, 11, 29, 0, 30, 0).unwrap();
        let names: Vec<String> = files_since(dir.path(), "posts", since)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["posts-2026112800.jsonl", "posts-2026112823.jsonl", "posts-2026112900.jsonl"]);
    }

    #[test]
    fn the_queries_read_columns_in_row_order() {
        let sql = linked_posts_sql();
        assert!(sql.contains("SELECT uid, argMax(platform, version) AS latest_platform,"), "{sql}");
        assert!(sql.contains("argMax(version, version) AS latest_version FROM posts"), "{sql}");
        let sql = latest_alerts_sql();
        assert!(sql.starts_with("SELECT * FROM (SELECT id, argMax(state, (raised_at, indexOf("), "{sql}");
    }
}
