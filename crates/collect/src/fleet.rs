//! A collector fleet: sources live in a compacted topic (keyed by source id), and each collector
//! polls the sources of the partitions its consumer group assigns it.
//!
//! - [`SourceTable`]: the sources of the assigned partitions, rebuilt from the compacted topic's
//!   records (the latest value per key wins, a tombstone removes, a revoked partition's sources
//!   go). Pure: no I/O.
//! - [`import_plan`]: what `otklik sources import` writes so the topic holds exactly a file's
//!   sources — new and changed ones, a tombstone for each one no longer in the file. Pure.
//! - [`Collector::run_share`]: the poll loop over a share that changes with the group: it
//!   applies [`ShareEvent`]s between passes, re-reads the cursors on every assignment, and on a
//!   revocation abandons the pass in progress before confirming, so the partition is given up
//!   only once nothing of it is being walked and every finished poll's cursor is published.
//!
//! The group membership itself (the Kafka consumer and its rebalance callbacks) is the kafka
//! adapter's; the binary forwards its events here.

use crate::collector::Collector;
use otklik_model::{Cursor, Source};
use otklik_pipeline::BusError;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// What the group membership tells the collector, in order.
#[derive(Debug)]
pub enum ShareEvent {
    /// These partitions of the sources topic are now this collector's.
    Assigned(Vec<i32>),
    /// A record of an assigned partition: a source (`value`), or a tombstone (`None`).
    Record { partition: i32, key: Vec<u8>, value: Option<Vec<u8>> },
    /// These partitions are taken away; send on `done` once nothing of them is walked any more
    /// and their cursors are published (the group waits for it).
    Revoked { partitions: Vec<i32>, done: std::sync::mpsc::SyncSender<()> },
}

/// The sources of the assigned partitions, by partition and id.
#[derive(Debug, Default)]
pub struct SourceTable {
    partitions: BTreeMap<i32, BTreeMap<String, Source>>,
}

impl SourceTable {
    /// Takes `partitions` on, empty: their records follow from the topic's beginning.
    pub fn assign(&mut self, partitions: &[i32]) {
        for &partition in partitions {
            self.partitions.insert(partition, BTreeMap::new());
        }
    }

    /// Gives `partitions` up with their sources.
    pub fn revoke(&mut self, partitions: &[i32]) {
        for partition in partitions {
            self.partitions.remove(partition);
        }
    }

    /// Applies one record: a source replaces its key's earlier value, a tombstone removes it.
    /// A record of a partition not assigned, or whose value does not decode as a [`Source`] with
    /// its key as id, is skipped and logged (the key keeps its earlier value); false then.
    pub fn apply(&mut self, partition: i32, key: &[u8], value: Option<&[u8]>) -> bool {
        let id = String::from_utf8_lossy(key).into_owned();
        let Some(table) = self.partitions.get_mut(&partition) else {
            tracing::debug!(partition, source = %id, "record of a partition not assigned");
            return false;
        };
        let Some(value) = value else {
            table.remove(&id);
            return true;
        };
        match otklik_model::decode::<Source>("Source", value) {
            Ok(source) if source.id == id => {
                table.insert(id, source);
                true
            }
            Ok(source) => {
                tracing::warn!(key = %id, id = %source.id, "skipping a source whose id is not its key");
                false
            }
            Err(e) => {
                tracing::warn!(key = %id, error = %e, "skipping a source record that does not decode");
                false
            }
        }
    }

    /// Every source of the assigned partitions, by id.
    pub fn sources(&self) -> Vec<Source> {
        let mut sources: Vec<Source> = self.partitions.values().flat_map(|t| t.values().cloned()).collect();
        sources.sort_by(|a, b| a.id.cmp(&b.id));
        sources
    }

    pub fn partitions(&self) -> Vec<i32> {
        self.partitions.keys().copied().collect()
    }
}

/// What an import changes in the sources topic.
#[derive(Debug, Default, PartialEq)]
pub struct ImportPlan {
    /// Sources to write: new ones and changed ones.
    pub write: Vec<Source>,
    /// Ids to delete with a tombstone: in the topic, not in the file.
    pub delete: Vec<String>,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// How to make a topic holding `existing` hold exactly `wanted` (ids are unique in a checked
/// sources file). Unchanged sources are not written again, so an import run twice writes
/// nothing the second time.
pub fn import_plan(existing: &HashMap<String, Source>, wanted: &[Source]) -> ImportPlan {
    let mut plan = ImportPlan::default();
    for source in wanted {
        match existing.get(&source.id) {
            Some(old) if old == source => plan.unchanged += 1,
            Some(_) => {
                plan.changed += 1;
                plan.write.push(source.clone());
            }
            None => {
                plan.added += 1;
                plan.write.push(source.clone());
            }
        }
    }
    let kept: std::collections::HashSet<&str> = wanted.iter().map(|s| s.id.as_str()).collect();
    plan.delete = existing.keys().filter(|id| !kept.contains(id.as_str())).cloned().collect();
    plan.delete.sort();
    plan
}

/// The events a pass did not handle, in order, and whether one was a revocation.
#[derive(Default)]
struct Pending {
    events: Vec<ShareEvent>,
}

impl Collector {
    /// Polls the sources of this collector's share every `interval` until shutdown, following
    /// the group's `events`. `read_cursors` reads every source's cursor from the cursors topic;
    /// it runs on every assignment, so a source moved here resumes from the cursor its previous
    /// owner published. Ends with an error when the events end (the membership failed).
    pub async fn run_share<F, Fut>(
        &self,
        events: &mut UnboundedReceiver<ShareEvent>,
        read_cursors: F,
        interval: std::time::Duration,
        shutdown: &CancellationToken,
    ) -> Result<(), BusError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<HashMap<String, Cursor>, BusError>>,
    {
        let mut table = SourceTable::default();
        let mut cursors = HashMap::new();
        let mut tick = tokio::time::interval(interval.max(crate::collector::MIN_POLL_INTERVAL));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Events first: a pass starts only once every assignment and source record already
            // delivered is applied. Otherwise a pass could start on half a table and, with one walk
            // hanging, keep the rest of the share waiting until the pass ends.
            let event = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                event = events.recv() => Some(event.ok_or_else(membership_ended)?),
                _ = tick.tick() => None,
            };
            let handled = match event {
                Some(event) => vec![event],
                None => self.share_pass(&table, &mut cursors, events, shutdown).await?.events,
            };
            for event in handled {
                apply_event(event, &mut table, &mut cursors, &read_cursors).await?;
            }
        }
    }

    /// One pass over the share; events that arrive meanwhile are kept for after it, and a
    /// revocation among them abandons the walks in progress.
    async fn share_pass(
        &self,
        table: &SourceTable,
        cursors: &mut HashMap<String, Cursor>,
        events: &mut UnboundedReceiver<ShareEvent>,
        shutdown: &CancellationToken,
    ) -> Result<Pending, BusError> {
        let sources = table.sources();
        let abandon = CancellationToken::new();
        let mut pending = Pending::default();
        let pass = self.poll_pass(&sources, cursors, &abandon, shutdown);
        tokio::pin!(pass);
        let mut open = true;
        let summary = loop {
            tokio::select! {
                summary = &mut pass => break summary?,
                event = events.recv(), if open => match event {
                    Some(event) => {
                        if matches!(event, ShareEvent::Revoked { .. }) {
                            tracing::info!("partitions revoked: abandoning the walks in progress");
                            abandon.cancel();
                        }
                        pending.events.push(event);
                    }
                    None => {
                        open = false;
                        abandon.cancel();
                    }
                },
            }
        };
        if !open {
            return Err(membership_ended());
        }
        if summary.polled > 0 {
            tracing::info!(
                polled = summary.polled,
                posts = summary.posts,
                failed = summary.failed.len(),
                "poll pass done"
            );
        }
        Ok(pending)
    }
}

async fn apply_event<F, Fut>(
    event: ShareEvent,
    table: &mut SourceTable,
    cursors: &mut HashMap<String, Cursor>,
    read_cursors: &F,
) -> Result<(), BusError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<HashMap<String, Cursor>, BusError>>,
{
    match event {
        ShareEvent::Assigned(partitions) => {
            table.assign(&partitions);
            // The previous owners published their cursors before giving these partitions up.
            *cursors = read_cursors().await?;
            tracing::info!(?partitions, cursors = cursors.len(), "sources partitions assigned; cursors re-read");
        }
        ShareEvent::Record { partition, key, value } => {
            table.apply(partition, &key, value.as_deref());
        }
        ShareEvent::Revoked { partitions, done } => {
            table.revoke(&partitions);
            tracing::info!(?partitions, "sources partitions given up: no walk in progress, cursors published");
            // The member may have stopped waiting (shutdown): nothing to confirm then.
            let _ = done.send(());
        }
    }
    Ok(())
}

fn membership_ended() -> BusError {
    BusError::fatal("the sources consumer group membership ended")
}

#[cfg(test)]
mod tests {
    use super::*;
    use otklik_model::{CommentsPolicy, Platform, Schema};

    fn source(id: &str, handle: &str) -> Source {
        Source {
            schema: Schema,
            id: id.into(),
            platform: Platform::Telegram,
            handle: handle.into(),
            name: String::new(),
            municipality: None,
            official: false,
            comments: CommentsPolicy::None,
            enabled: true,
        }
    }

    fn ids(table: &SourceTable) -> Vec<(String, String)> {
        table.sources().into_iter().map(|s| (s.id, s.handle)).collect()
    }

    #[test]
    fn the_table_keeps_the_latest_value_per_key_and_tombstones_remove() {
        let mut table = SourceTable::default();
        table.assign(&[0, 1]);
        let encode = |s: &Source| otklik_model::encode(s);
        assert!(table.apply(0, b"a", Some(&encode(&source("a", "chan_one")))));
        assert!(table.apply(1, b"b", Some(&encode(&source("b", "chan_two")))));
        assert!(table.apply(0, b"a", Some(&encode(&source("a", "chan_new")))));
        assert_eq!(ids(&table), [("a".into(), "chan_new".into()), ("b".into(), "chan_two".into())]);
        assert!(table.apply(1, b"b", None), "a tombstone");
        assert!(table.apply(1, b"never", None), "a tombstone of an unknown key is fine");
        assert_eq!(ids(&table), [("a".into(), "chan_new".into())]);
        // Bad records leave the key's earlier value.
        assert!(!table.apply(0, b"a", Some(b"{not json")));
        assert!(!table.apply(0, b"a", Some(&encode(&source("other", "chan_x")))), "id differs from key");
        assert!(!table.apply(5, b"c", Some(&encode(&source("c", "chan_c")))), "partition not assigned");
        assert_eq!(ids(&table), [("a".into(), "chan_new".into())]);
    }

    #[test]
    fn a_revoked_partition_takes_its_sources_along_and_a_new_assignment_starts_empty() {
        let mut table = SourceTable::default();
        table.assign(&[0, 1, 2]);
        for (partition, id) in [(0, "a"), (1, "b"), (2, "c")] {
            table.apply(partition, id.as_bytes(), Some(&otklik_model::encode(&source(id, "chan_one"))));
        }
        table.revoke(&[1, 2]);
        assert_eq!(table.partitions(), [0]);
        assert_eq!(table.sources().len(), 1);
        table.assign(&[2]);
        assert_eq!(table.sources().len(), 1, "records of partition 2 are read again from the beginning");
    }

    #[test]
    fn an_import_writes_what_changed_and_tombstones_what_is_gone() {
        let existing: HashMap<String, Source> =
            [source("keep", "chan_keep"), source("edit", "chan_old"), source("gone", "chan_gone")]
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect();
        let wanted = [source("keep", "chan_keep"), source("edit", "chan_new"), source("new", "chan_fresh")];
        let plan = import_plan(&existing, &wanted);
        let written: Vec<&str> = plan.write.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(written, ["edit", "new"]);
        assert_eq!(plan.delete, ["gone"]);
        assert_eq!((plan.added, plan.changed, plan.unchanged), (1, 1, 1));
        // Applied, the same file again changes nothing.
        let after: HashMap<String, Source> = wanted.iter().map(|s| (s.id.clone(), s.clone())).collect();
        let again = import_plan(&after, &wanted);
        assert!(again.write.is_empty() && again.delete.is_empty() && again.unchanged == 3);
        // An empty file removes everything.
        assert_eq!(import_plan(&after, &[]).delete, ["edit", "keep", "new"]);
    }
}
