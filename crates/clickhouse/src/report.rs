//! `otklik report [--since 24h]`: complaints and questions per municipality × topic, from
//! ClickHouse (`complaints_hourly`) or, in embedded mode, from the local store's files — with
//! the same semantics: posts published from the start of the hour `since` ago, each uid counted
//! once per cell however often it was delivered, posts without topics under topic `—`. Lines of
//! the store that are not valid rows are skipped and counted, never a reason to fail.

use crate::config::ClickHouseSinkConfig;
use crate::error::ClickHouseError;
use crate::local::{table_files, StoreError, StoreReader};
use crate::row::PostRow;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clickhouse::Row;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct ReportRow {
    pub municipality: String,
    pub municipality_name: String,
    pub topic: String,
    pub complaints: u64,
    pub questions: u64,
    /// Distinct posts of either kind.
    pub total: u64,
}

/// The report: rows by `total` descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub since: Duration,
    /// Where the numbers came from (`ClickHouse <url>/<db>` or the store directory).
    pub origin: String,
    pub rows: Vec<ReportRow>,
    /// Lines of the local store that were not valid rows (0 from ClickHouse).
    pub skipped: u64,
    /// Why the first of them was skipped (`cannot parse <file> line N: …`).
    pub first_skip: Option<String>,
}

const CLICKHOUSE_SQL: &str = "SELECT municipality, municipality_name, topic, \
    uniqExactMergeIf(posts, kind = 'complaint') AS complaints, uniqExactMergeIf(posts, kind = 'question') AS questions, \
    uniqExactMerge(posts) AS total \
    FROM complaints_hourly WHERE hour >= toStartOfHour(now() - toIntervalSecond(?)) \
    GROUP BY municipality, municipality_name, topic ORDER BY total DESC, municipality, topic";

/// The report from ClickHouse.
pub async fn from_clickhouse(config: &ClickHouseSinkConfig, since: Duration) -> Result<Report, ClickHouseError> {
    let rows = config.client().query(CLICKHOUSE_SQL).bind(since.as_secs()).fetch_all::<ReportRow>().await?;
    let origin = format!("ClickHouse {} database {}", config.url, config.database);
    Ok(Report { since, origin, rows, skipped: 0, first_skip: None })
}

/// The report from a local store directory (`<data_dir>`, holding `posts/`), as of `now`.
pub fn from_store(data_dir: &Path, since: Duration, now: DateTime<Utc>) -> Result<Report, StoreError> {
    let since_delta = TimeDelta::from_std(since).unwrap_or(TimeDelta::MAX);
    let start = now.checked_sub_signed(since_delta).unwrap_or(DateTime::UNIX_EPOCH);
    let start = start.duration_trunc(TimeDelta::hours(1)).unwrap_or(start);
    #[derive(Default)]
    struct Cell {
        complaints: HashSet<String>,
        questions: HashSet<String>,
        total: HashSet<String>,
    }
    let mut cells: BTreeMap<(String, String, String), Cell> = BTreeMap::new();
    let (mut skipped, mut first_skip) = (0, None);
    for path in table_files(&data_dir.join("posts"), "posts")? {
        let mut reader = StoreReader::<PostRow>::open(&path)?;
        while let Some((row, _)) = reader.next_row()? {
            if !(row.kind == "complaint" || row.kind == "question")
                || row.published_at.duration_trunc(TimeDelta::hours(1)).unwrap_or(row.published_at) < start
            {
                continue;
            }
            let topics: Vec<&str> =
                if row.topics.is_empty() { vec![""] } else { row.topics.iter().map(String::as_str).collect() };
            for topic in topics {
                let cell = cells
                    .entry((row.municipality.clone(), row.municipality_name.clone(), topic.to_owned()))
                    .or_default();
                let by_kind = if row.kind == "complaint" { &mut cell.complaints } else { &mut cell.questions };
                by_kind.insert(row.uid.clone());
                cell.total.insert(row.uid.clone());
            }
        }
        skipped += reader.skipped();
        first_skip = first_skip.or_else(|| reader.first_skip().map(str::to_owned));
    }
    let mut rows: Vec<ReportRow> = cells
        .into_iter()
        .map(|((municipality, municipality_name, topic), cell)| ReportRow {
            municipality,
            municipality_name,
            topic,
            complaints: cell.complaints.len() as u64,
            questions: cell.questions.len() as u64,
            total: cell.total.len() as u64,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.total.cmp(&a.total).then_with(|| a.municipality.cmp(&b.municipality)).then_with(|| a.topic.cmp(&b.topic))
    });
    Ok(Report { since, origin: format!("local store {}", data_dir.display()), rows, skipped, first_skip })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Complaints and questions per municipality × topic, last {} ({})", human(self.since), self.origin)?;
        if self.rows.is_empty() {
            writeln!(f, "(no complaints or questions in this period)")?;
            return self.fmt_skipped(f);
        }
        let place = |r: &ReportRow| match (r.municipality_name.is_empty(), r.municipality.is_empty()) {
            (_, true) => "(unknown)".to_owned(),
            (true, false) => r.municipality.clone(),
            (false, false) => format!("{} ({})", r.municipality_name, r.municipality),
        };
        let topic = |r: &ReportRow| if r.topic.is_empty() { "—".to_owned() } else { r.topic.clone() };
        let header = ["municipality", "topic", "complaints", "questions", "total"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| [place(r), topic(r), r.complaints.to_string(), r.questions.to_string(), r.total.to_string()])
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, values: [&str; 5]| -> fmt::Result {
            let mut text = String::new();
            for (i, (value, width)) in values.iter().zip(widths).enumerate() {
                let pad = " ".repeat(width - value.chars().count());
                // Names left-aligned, numbers right-aligned.
                if i < 2 {
                    text.push_str(&format!("{value}{pad}  "));
                } else {
                    text.push_str(&format!("{pad}{value}  "));
                }
            }
            writeln!(f, "{}", text.trim_end())
        };
        line(f, header)?;
        for row in &cells {
            line(f, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
        }
        let total: u64 = self.rows.iter().map(|r| r.total).sum();
        writeln!(f, "{} cell(s), {} post-topic pair(s)", self.rows.len(), total)?;
        self.fmt_skipped(f)
    }
}

impl Report {
    fn fmt_skipped(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.first_skip.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default();
        match self.skipped {
            0 => Ok(()),
            1 => writeln!(f, "1 unreadable line skipped{first}"),
            n => writeln!(f, "{n} unreadable lines skipped{first}"),
        }
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) && s > 0 => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) && s > 0 => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) && s > 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}
