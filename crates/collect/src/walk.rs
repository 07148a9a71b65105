//! Incremental polling shared by every network: walk a feed newest-first until the cursor, then
//! decide what to publish.
//!
//! - A **first poll** (no cursor yet) stops at a configured depth: a number of posts or an age.
//! - A **later poll** walks back until it has passed both the newest post already seen and the
//!   re-check window, so young posts are looked at again; a post is published when it is new, or
//!   when it is inside the window and its [`RawPost::fingerprint`] differs from what the cursor
//!   remembers (edited, new view counts, new comments count).
//! - Pinned posts (older than the rest, shown first) never end a walk.
//!
//! The network supplies pages through [`PagedFeed`]; [`settle`] is the pure selection step.

use crate::collector::{BadPage, CollectError};
use crate::RawPost;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::{Cursor, ItemKind, SeenPost};
use otklik_pipeline::units::{check_count, check_duration, ConfigProblem};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How deep a walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkLimits {
    /// A first poll takes at most this many posts,
    pub first_poll_max_posts: usize,
    /// and none older than this.
    pub first_poll_max_age: Duration,
    /// Posts younger than this are re-checked on every poll.
    pub recheck_window: Duration,
    /// Hard stop for one poll, whatever the cursor says (a feed that floods).
    pub max_pages: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            first_poll_max_posts: 200,
            first_poll_max_age: Duration::from_secs(7 * 86_400),
            recheck_window: Duration::from_secs(48 * 3600),
            max_pages: 50,
        }
    }
}

const DAY: Duration = Duration::from_secs(86_400);

impl WalkLimits {
    /// Range checks of the four walk options every network's config has: `first_poll_max_posts`
    /// 1..=100000, `first_poll_max_age` 1m..=36500d (old archives are replayed),
    /// `recheck_window` 0s..=90d, `max_pages` 1..=10000.
    pub fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        check_count(problems, "first_poll_max_posts", self.first_poll_max_posts as u64, 1..=100_000);
        check_duration(problems, "first_poll_max_age", self.first_poll_max_age, Duration::from_secs(60)..=DAY * 36_500);
        check_duration(problems, "recheck_window", self.recheck_window, Duration::ZERO..=DAY * 90);
        check_count(problems, "max_pages", self.max_pages as u64, 1..=10_000);
    }
}

/// A rate's period must lie in 1ms..=1d: a longer one would park a source for ever.
pub(crate) fn check_rate(problems: &mut Vec<ConfigProblem>, field: &str, rate: crate::ratelimit::Rate) {
    check_duration(problems, &format!("{field} (period)"), rate.period, Duration::from_millis(1)..=DAY);
}

/// One page of a feed, newest posts first.
#[derive(Debug)]
pub struct FeedPage<T> {
    pub posts: Vec<RawPost>,
    /// The token of the next older page; `None` at the feed's beginning.
    pub older: Option<T>,
}

/// A feed that can be read page by page from the newest end.
#[async_trait]
pub trait PagedFeed: Send + Sync {
    type Token: Send + Sync;

    /// The newest page (`None`), or the page older than `token`.
    async fn page(&self, older_than: Option<&Self::Token>) -> Result<FeedPage<Self::Token>, PageError>;
}

/// A page that could not be fetched or read.
#[derive(Debug)]
pub enum PageError {
    /// Stop the walk: the source is unavailable, or fetching failed.
    Collect(CollectError),
    /// The page arrived but does not parse: keep it for the DLQ and end the walk there.
    Bad(BadPage),
}

/// What a walk found.
#[derive(Debug)]
pub struct Walked {
    /// Posts to publish, newest first.
    pub publish: Vec<RawPost>,
    /// Every post seen this poll (for fetching their comments).
    pub seen: Vec<RawPost>,
    pub bad_pages: Vec<BadPage>,
    pub cursor: Cursor,
    pub pages: usize,
}

/// `now - age`, or the earliest time chrono can represent when that would underflow: an absurd
/// window (validation bypassed by a library user) means «everything», never a panic.
pub fn saturating_before(now: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    let age = chrono::TimeDelta::from_std(age).ok();
    age.and_then(|age| now.checked_sub_signed(age)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The numeric post id of a post (comments have their post's id).
pub fn post_number(post: &RawPost) -> Option<u64> {
    post.uid.id.parse().ok()
}

/// Walks `feed` newest-first as far as `cursor` and `limits` require.
pub async fn walk<F: PagedFeed + ?Sized>(
    feed: &F,
    cursor: &Cursor,
    limits: &WalkLimits,
    now: DateTime<Utc>,
) -> Result<Walked, CollectError> {
    let recheck_from = saturating_before(now, limits.recheck_window);
    let age_floor = saturating_before(now, limits.first_poll_max_age);
    let mut seen = Vec::new();
    let mut uids = HashSet::new();
    let mut bad_pages = Vec::new();
    let mut token: Option<F::Token> = None;
    let mut pages = 0;
    while pages < limits.max_pages.max(1) {
        let page = match feed.page(token.as_ref()).await {
            Ok(page) => page,
            Err(PageError::Collect(e)) if pages == 0 => return Err(e),
            Err(PageError::Collect(e)) => {
                // Keep what the earlier pages gave; the next poll walks this far again.
                tracing::warn!(error = %e, pages, "walk stopped early");
                break;
            }
            Err(PageError::Bad(bad)) => {
                bad_pages.push(bad);
                break;
            }
        };
        pages += 1;
        let oldest = page
            .posts
            .iter()
            .filter(|p| p.item_kind == ItemKind::Post && !p.pinned)
            .min_by_key(|p| (post_number(p), p.published_at))
            .cloned();
        for post in page.posts {
            if uids.insert(post.uid.clone()) {
                seen.push(post);
            }
        }
        let (Some(older), Some(oldest)) = (page.older, oldest) else { break };
        let deep_enough = match cursor.newest_id {
            None => seen.len() >= limits.first_poll_max_posts || oldest.published_at < age_floor,
            Some(newest) => post_number(&oldest).is_some_and(|n| n <= newest) && oldest.published_at < recheck_from,
        };
        if deep_enough {
            break;
        }
        token = Some(older);
    }
    let (publish, cursor) = settle(&seen, cursor, limits, now);
    Ok(Walked { publish, seen, bad_pages, cursor, pages })
}

/// Chooses what to publish from `seen` and advances the cursor (pure).
pub fn settle(seen: &[RawPost], cursor: &Cursor, limits: &WalkLimits, now: DateTime<Utc>) -> (Vec<RawPost>, Cursor) {
    let recheck_from = saturating_before(now, limits.recheck_window);
    let age_floor = saturating_before(now, limits.first_poll_max_age);
    let remembered: HashMap<_, _> = cursor.recent.iter().map(|s| (&s.uid, s.fingerprint)).collect();
    let mut posts: Vec<&RawPost> = seen.iter().collect();
    posts.sort_by_key(|p| std::cmp::Reverse((post_number(p), p.published_at)));

    let mut publish = Vec::new();
    let mut first_poll_taken = 0;
    for post in posts.iter().copied() {
        let is_comment = post.item_kind == ItemKind::Comment;
        let new = match cursor.newest_id {
            // Comments are not bounded by the cursor's post id: they are new when unseen.
            _ if is_comment => !remembered.contains_key(&post.uid) && post.published_at >= recheck_from.min(age_floor),
            None => {
                let within = first_poll_taken < limits.first_poll_max_posts && post.published_at >= age_floor;
                first_poll_taken += usize::from(within && post.item_kind == ItemKind::Post);
                within
            }
            Some(newest) => post_number(post).is_none_or(|n| n > newest),
        };
        let changed =
            post.published_at >= recheck_from && remembered.get(&post.uid).is_some_and(|&f| f != post.fingerprint());
        let unseen_young =
            post.published_at >= recheck_from && !remembered.contains_key(&post.uid) && cursor.newest_id.is_some();
        if new || changed || unseen_young && !is_comment {
            publish.push(post.clone());
        }
    }

    let newest_id =
        seen.iter().filter(|p| p.item_kind == ItemKind::Post).filter_map(post_number).max().max(cursor.newest_id);
    let seen_uids: HashSet<_> = seen.iter().map(|p| &p.uid).collect();
    let mut recent: Vec<SeenPost> = seen
        .iter()
        .filter(|p| p.published_at >= recheck_from)
        .map(|p| SeenPost { uid: p.uid.clone(), published_at: p.published_at, fingerprint: p.fingerprint() })
        .collect();
    recent.extend(
        cursor.recent.iter().filter(|s| s.published_at >= recheck_from && !seen_uids.contains(&s.uid)).cloned(),
    );
    recent.sort_by(|a, b| a.uid.cmp(&b.uid));
    let cursor =
        Cursor { newest_id, recent, polled_at: Some(now), status: otklik_model::SourceStatus::Ok, ..cursor.clone() };
    (publish, cursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use otklik_model::{Author, Counters, Platform, PostUid, Schema};

    fn post(id: u64, published_at: DateTime<Utc>) -> RawPost {
        RawPost {
            schema: Schema,
            uid: PostUid::post(Platform::Telegram, "chan", id.to_string()).expect("uid"),
            platform: Platform::Telegram,
            source_id: "s".into(),
            item_kind: ItemKind::Post,
            parent_uid: None,
            url: None,
            author: Author::default(),
            published_at,
            edited_at: None,
            edited: false,
            collected_at: published_at,
            text: format!("post {id}"),
            repost_of: None,
            attachments: vec![],
            counters: Counters::default(),
            pinned: false,
            ads: false,
            geo: None,
        }
    }

    struct OnePage(Vec<RawPost>);

    #[async_trait]
    impl PagedFeed for OnePage {
        type Token = ();

        async fn page(&self, _: Option<&()>) -> Result<FeedPage<()>, PageError> {
            Ok(FeedPage { posts: self.0.clone(), older: Some(()) })
        }
    }

    #[tokio::test]
    async fn absurd_windows_saturate_instead_of_panicking() {
        let now = Utc::now();
        // The values of the «Hardening» issue, and the largest a Duration holds.
        let day = 86_400;
        let huge = [Duration::from_secs(100_000_000 * day), Duration::from_secs(999_999_999_999 * day), Duration::MAX];
        let defaults = WalkLimits::default();
        for age in huge {
            assert_eq!(saturating_before(now, age), DateTime::<Utc>::MIN_UTC);
            let limits = WalkLimits { first_poll_max_age: age, recheck_window: age, max_pages: 3, ..defaults };
            let seen = vec![post(2, now), post(1, DateTime::<Utc>::MIN_UTC)];
            let (publish, cursor) = settle(&seen, &Cursor::new("s"), &limits, now);
            assert_eq!(publish.len(), 2, "an endless window takes everything");
            assert_eq!(cursor.newest_id, Some(2));
            let walked = walk(&OnePage(seen), &cursor, &limits, now).await.expect("walk");
            assert_eq!(walked.pages, 3, "the window never ends the walk; max_pages does");
        }
        assert_eq!(saturating_before(now, Duration::from_secs(60)), now - chrono::TimeDelta::seconds(60));
    }
}
