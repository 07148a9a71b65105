//! What `otklik report audience` reads: every source's audience observations since a time, from
//! ClickHouse or the local store, with the same answer for the same rows. A record delivered
//! twice (a Kafka redelivery, a retried INSERT) is one observation: rows are unique per source
//! and second, the larger audience winning should two polls of one second differ.

use crate::history::{fetch, files_since, local, read_rows, HistoryError};
use crate::local::StoreError;
use crate::row::SourceStatRow;
use crate::History;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::Path;

impl History {
    /// The audience observations at or after `since`, by source id, then time.
    pub async fn source_stats(&self, since: DateTime<Utc>) -> Result<Vec<SourceStatRow>, HistoryError> {
        match self {
            History::ClickHouse(config) => Ok(fetch(config, SOURCE_STATS_SQL, since).await?),
            History::Local(dir) => local(dir, since, local_source_stats).await,
        }
    }
}

// GROUP BY rather than FINAL: the answer must not depend on whether the server merged yet, and
// 18.16 reads it the same way. The aliases differ from the columns so the aggregates never see
// themselves.
const SOURCE_STATS_SQL: &str = "SELECT source_id, any(platform) AS any_platform, observed_at, \
    max(audience) AS max_audience FROM source_stats WHERE observed_at >= toDateTime(?) \
    GROUP BY source_id, observed_at ORDER BY source_id, observed_at";

fn local_source_stats(dir: &Path, since: DateTime<Utc>) -> Result<Vec<SourceStatRow>, StoreError> {
    let mut rows: BTreeMap<(String, DateTime<Utc>), SourceStatRow> = BTreeMap::new();
    read_rows(&files_since(dir, "source_stats", since)?, |row: SourceStatRow| {
        if row.observed_at < since {
            return;
        }
        let key = (row.source_id.clone(), row.observed_at);
        if rows.get(&key).is_none_or(|kept| kept.audience < row.audience) {
            rows.insert(key, row);
        }
    })?;
    Ok(rows.into_values().collect())
}
