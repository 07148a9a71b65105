//! A [`FeedReader`] over saved responses: the demo, and reproducing a production incident from
//! captured pages.
//!
//! Layout: `<dir>/<platform>/<handle>/<NN>-<kind>.<json|html>`, pages in file-name order. Each
//! page goes through the network's real parser. A file named `…-comments-<post_id>.json` holds
//! the comments of that post (OK's `discussions.getComments` does not name its topic).
//! A recording is finite: the first poll returns everything in it and records the newest post id
//! in the cursor; later polls return only posts newer than that. Items that fail the item check
//! go to the DLQ like pages that do not parse; suspiciously empty pages are logged once per
//! source. A page that shows the source's audience (a t.me/s header) gives the poll its audience.

use crate::collector::{BadPage, CollectError, EmptyLog, FeedReader, PollNotes, PollOutcome};
use crate::{parse_saved, ParseContext};
use async_trait::async_trait;
use chrono::Utc;
use otklik_model::{Cursor, PostUid, Source, SourceStatus};
use std::path::{Path, PathBuf};

/// Reads sources from a directory of saved responses.
pub struct ReplayReader {
    dir: PathBuf,
    empty_log: EmptyLog,
}

impl ReplayReader {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ReplayReader { dir: dir.into(), empty_log: EmptyLog::default() }
    }

    /// The pages recorded for `source`, in order.
    pub fn pages(&self, source: &Source) -> Result<Vec<PathBuf>, CollectError> {
        let dir = self.dir.join(source.platform.name()).join(&source.handle);
        let entries = std::fs::read_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                CollectError::Unavailable(format!("no recording at {}", dir.display()).into())
            }
            _ => CollectError::Transient(format!("cannot list {}: {e}", dir.display()).into()),
        })?;
        let mut pages: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "html")))
            .collect();
        pages.sort();
        Ok(pages)
    }
}

/// `05-comments-1234.json` → `1234`.
fn commented_post_id(path: &Path) -> Option<&str> {
    let stem = path.file_stem()?.to_str()?;
    let (_, id) = stem.split_once("-comments-")?;
    Some(id)
}

/// The numeric post id of a uid (the root post for comments).
fn post_number(uid: &PostUid) -> Option<u64> {
    uid.id.parse().ok()
}

#[async_trait]
impl FeedReader for ReplayReader {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        let collected_at = Utc::now();
        let mut posts = Vec::new();
        let mut bad_pages = Vec::new();
        let mut audience = None;
        let notes = PollNotes::default();
        for path in self.pages(source)? {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| CollectError::Transient(format!("cannot read {}: {e}", path.display()).into()))?;
            let parent = match commented_post_id(&path) {
                Some(id) => Some(
                    PostUid::post(source.platform, &source.handle, id)
                        .map_err(|e| CollectError::Config(format!("{}: {e}", path.display()).into()))?,
                ),
                None => None,
            };
            let ctx = ParseContext { source_id: Some(source.id.clone()), collected_at, parent, owner: None };
            match parse_saved(source.platform, &bytes, &ctx) {
                Ok(parsed) => {
                    notes.note(source.platform, &path.display().to_string(), &bytes, parsed.bad_items, parsed.empty);
                    audience = audience.or(parsed.audience);
                    posts.extend(parsed.posts);
                }
                Err(error) => bad_pages.push(BadPage { origin: path.display().to_string(), bytes, error }),
            }
        }
        let (bad_items, empty) = notes.into_parts();
        bad_pages.extend(bad_items);
        self.empty_log.record(&source.id, empty.as_ref());
        if let Some(seen) = cursor.newest_id {
            posts.retain(|p| post_number(&p.uid).is_none_or(|n| n > seen));
        }
        let newest = posts.iter().filter(|p| p.uid.comment.is_none()).filter_map(|p| post_number(&p.uid)).max();
        let cursor = Cursor {
            newest_id: newest.max(cursor.newest_id),
            polled_at: Some(collected_at),
            status: SourceStatus::Ok,
            ..cursor.clone()
        };
        Ok(PollOutcome { posts, bad_pages, cursor, audience })
    }
}
