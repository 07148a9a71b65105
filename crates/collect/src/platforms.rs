//! One [`FeedReader`] over several networks: each source goes to its platform's reader.

use crate::collector::{CollectError, FeedReader, PollOutcome};
use async_trait::async_trait;
use otklik_model::{Cursor, Platform, Source};
use std::collections::HashMap;
use std::sync::Arc;

/// Dispatches sources to the reader of their platform; a platform without a reader is a
/// configuration error for its sources.
#[derive(Default, Clone)]
pub struct PlatformReaders {
    readers: HashMap<Platform, Arc<dyn FeedReader>>,
}

impl PlatformReaders {
    pub fn with(mut self, platform: Platform, reader: Arc<dyn FeedReader>) -> Self {
        self.readers.insert(platform, reader);
        self
    }

    fn missing(platform: Platform) -> CollectError {
        CollectError::Config(
            format!("no {platform} reader is configured (see [collect.{platform}] in otklik.toml)").into(),
        )
    }
}

#[async_trait]
impl FeedReader for PlatformReaders {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        match self.readers.get(&source.platform) {
            Some(reader) => reader.poll(source, cursor).await,
            None => Err(Self::missing(source.platform)),
        }
    }

    /// Each platform's sources go to its reader's `poll_many` together (so VK can batch them),
    /// all platforms at once.
    async fn poll_many(&self, sources: &[(&Source, &Cursor)]) -> Vec<Result<PollOutcome, CollectError>> {
        let mut results: Vec<Option<Result<PollOutcome, CollectError>>> = sources.iter().map(|_| None).collect();
        let mut groups: HashMap<Platform, Vec<usize>> = HashMap::new();
        for (i, (source, _)) in sources.iter().enumerate() {
            groups.entry(source.platform).or_default().push(i);
        }
        let polls = groups.into_iter().map(|(platform, indices)| async move {
            let batch: Vec<(&Source, &Cursor)> = indices.iter().map(|&i| sources[i]).collect();
            let outcomes = match self.readers.get(&platform) {
                Some(reader) => reader.poll_many(&batch).await,
                None => batch.iter().map(|_| Err(Self::missing(platform))).collect(),
            };
            (indices, outcomes)
        });
        for (indices, outcomes) in futures_util::future::join_all(polls).await {
            for (i, outcome) in indices.into_iter().zip(outcomes) {
                results[i] = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(CollectError::Transient("reader returned too few results".into()))))
            .collect()
    }
}
