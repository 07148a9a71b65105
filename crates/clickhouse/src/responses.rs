//! What response tracking reads: the latest version of every complaint, question and comment
//! published since a time, from ClickHouse or the local store, with the same answer for the
//! same rows. Finding the replies is `otklik_respond`'s (pure) work.

use crate::history::{fetch, latest_per_key, latest_posts, local, HistoryError};
use crate::local::StoreError;
use crate::row::PostRow;
use crate::History;
use chrono::{DateTime, Utc};
use clickhouse::Row;
use std::path::Path;

impl History {
    /// The latest version of every complaint or question (posts and comments) and every comment
    /// published at or after `since`, oldest first (by `published_at`, then uid).
    pub async fn response_items(&self, since: DateTime<Utc>) -> Result<Vec<PostRow>, HistoryError> {
        match self {
            History::ClickHouse(config) => Ok(fetch(config, &response_items_sql(), since).await?),
            History::Local(dir) => local(dir, since, local_response_items).await,
        }
    }
}

/// Whether a post's latest version takes part in response tracking.
fn wanted(kind: &str, item_kind: &str) -> bool {
    matches!(kind, "complaint" | "question") || item_kind == "comment"
}

fn response_items_sql() -> String {
    // argMax, not FINAL, for the reason `linked_posts` gives: the filter must see the latest
    // version of each uid only.
    let inner = latest_per_key(PostRow::COLUMN_NAMES, "uid", "version", "posts", "published_at");
    format!(
        "SELECT * FROM ({inner}) WHERE latest_kind IN ('complaint', 'question') OR latest_item_kind = 'comment' \
         ORDER BY latest_published_at, uid"
    )
}

fn local_response_items(dir: &Path, since: DateTime<Utc>) -> Result<Vec<PostRow>, StoreError> {
    let latest = latest_posts(dir, since)?;
    let mut rows: Vec<PostRow> = latest.into_values().filter(|r| wanted(&r.kind, &r.item_kind)).collect();
    rows.sort_by(|a, b| a.published_at.cmp(&b.published_at).then_with(|| a.uid.cmp(&b.uid)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaints_questions_and_comments_are_read() {
        assert!(wanted("complaint", "post") && wanted("question", "comment") && wanted("info", "comment"));
        assert!(!wanted("info", "post") && !wanted("gratitude", "post"));
        assert!(response_items_sql().contains("latest_item_kind = 'comment'"));
    }
}
