//! What a run did, counted from the rows it stored: the end-of-run table and progress lines, and
//! the incidents and alerts of the alert stage.

use otklik_clickhouse::{LocalStore, PostRow};
use otklik_model::Alert;
use otklik_pipeline::{BatchSink, Message, SinkError};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counts of stored post rows. The alert stage's linked version of a post is a second row of
/// the same post: it counts in `rows` and `linked`, not in the tables.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub rows: u64,
    pub linked: u64,
    pub by_platform: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<String, u64>,
    pub by_topic: BTreeMap<String, u64>,
    /// Keyed by "name (ОКТМО)"; posts without one under "—".
    pub by_municipality: BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, row: &PostRow) {
        self.rows += 1;
        if !row.incident_id.is_empty() {
            self.linked += 1;
            return;
        }
        *self.by_platform.entry(row.platform.clone()).or_default() += 1;
        *self.by_kind.entry(row.kind.clone()).or_default() += 1;
        for topic in &row.topics {
            *self.by_topic.entry(topic.clone()).or_default() += 1;
        }
        let municipality = if row.municipality.is_empty() {
            "—".to_owned()
        } else {
            format!("{} ({})", row.municipality_name, row.municipality)
        };
        *self.by_municipality.entry(municipality).or_default() += 1;
    }
}

/// The post store with a tally of what it wrote.
pub struct CountingStore {
    pub store: LocalStore<PostRow>,
    pub counts: Arc<Mutex<Counts>>,
    /// A test hook: once this many rows are stored, every further write reports the store as
    /// unavailable, so the run holds still at a known point until it is stopped (see
    /// [`HOLD_STORE_ENV`]). Tests use it to interrupt a run mid-way however fast the machine is.
    pub hold_after_rows: Option<u64>,
}

/// The environment variable that sets [`CountingStore::hold_after_rows`] (tests only).
pub const HOLD_STORE_ENV: &str = "OTKLIK_TEST_HOLD_STORE_AFTER_ROWS";

impl CountingStore {
    pub fn new(store: LocalStore<PostRow>, counts: Arc<Mutex<Counts>>) -> Self {
        let hold_after_rows = std::env::var(HOLD_STORE_ENV).ok().and_then(|n| n.parse().ok());
        CountingStore { store, counts, hold_after_rows }
    }

    fn held(&self) -> bool {
        let stored = self.counts.lock().unwrap_or_else(|p| p.into_inner()).rows;
        self.hold_after_rows.is_some_and(|limit| stored >= limit)
    }
}

#[async_trait::async_trait]
impl BatchSink for CountingStore {
    type Row = PostRow;

    fn decode(&self, message: &Message) -> Result<PostRow, String> {
        self.store.decode(message)
    }

    async fn write(&self, rows: &[PostRow]) -> Result<(), SinkError> {
        if self.held() {
            return Err(SinkError::Retryable(format!("held by {HOLD_STORE_ENV}")));
        }
        self.store.write(rows).await?;
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        rows.iter().for_each(|row| counts.add(row));
        Ok(())
    }
}

/// Incidents the summary lists.
const SUMMARY_INCIDENTS: usize = 10;

/// The end-of-run report.
pub struct Summary {
    pub counts: Counts,
    /// The incidents of the run's time, most voices first.
    pub incidents: crate::incidents_cmd::Listed,
    /// Every alert event raised, in order.
    pub alerts: Vec<Alert>,
    /// Who answered the stored complaints, and how fast.
    pub responses: crate::responses_cmd::Answered,
    /// Each alert receiver's deliveries.
    pub deliveries: BTreeMap<String, otklik_notify::ReceiverCounts>,
    pub collected: u64,
    pub dead_lettered: u64,
    pub unavailable: Vec<(String, String)>,
    pub elapsed: Duration,
    pub store_dir: String,
    pub interrupted: bool,
}

fn table(f: &mut fmt::Formatter<'_>, title: &str, counts: &BTreeMap<String, u64>) -> fmt::Result {
    writeln!(f, "\n{title}:")?;
    let mut rows: Vec<_> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (name, n) in rows {
        writeln!(f, "  {n:>6}  {name}")?;
    }
    Ok(())
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(f, "\n== otklik run summary{} ==", if self.interrupted { " (interrupted)" } else { "" })?;
        let (collected, stored, linked, dir) = (self.collected, c.rows, c.linked, &self.store_dir);
        let (dead, seconds) = (self.dead_lettered, self.elapsed.as_secs_f64());
        writeln!(f, "collected {collected} items, stored {stored} rows ({linked} of them linked versions) in {dir}, {dead} to the DLQ, in {seconds:.1}s")?;
        table(f, "posts per platform", &c.by_platform)?;
        table(f, "posts per kind", &c.by_kind)?;
        table(f, "posts per topic", &c.by_topic)?;
        table(f, "posts per municipality", &c.by_municipality)?;
        let n = self.incidents.incidents.len();
        writeln!(f, "\nincidents: {n}, the {} with most voices:", n.min(SUMMARY_INCIDENTS))?;
        write!(f, "{}", self.incidents.render(SUMMARY_INCIDENTS))?;
        writeln!(f, "\nalerts ({} events):", self.alerts.len())?;
        for a in &self.alerts {
            writeln!(f, "  {}", crate::alerts_cmd::line(a))?;
        }
        if !self.deliveries.is_empty() {
            writeln!(f, "\nalert deliveries:")?;
            for (name, d) in &self.deliveries {
                let disabled = if d.disabled { " · DISABLED (410 Gone)" } else { "" };
                let (delivered, pending, retried, failed) = (d.delivered, d.pending, d.retried, d.failed);
                writeln!(f, "  {name}: {delivered} delivered · {pending} left in the outbox · {retried} retries · {failed} failed{disabled}")?;
            }
        }
        write!(f, "\nresponses: {}", self.responses)?;
        if !self.unavailable.is_empty() {
            writeln!(f, "\nunavailable sources:")?;
            for (id, reason) in &self.unavailable {
                writeln!(f, "  {id}: {reason}")?;
            }
        }
        Ok(())
    }
}
