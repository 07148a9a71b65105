//! The shared newest-first walk: first-poll depth, incremental polls, re-check of young posts,
//! pinned posts, bad pages.

use async_trait::async_trait;
use chrono::{DateTime, Duration as Age, TimeZone, Utc};
use otklik_collect::walk::*;
use otklik_collect::{BadPage, ParseError};
use otklik_model::*;
use std::sync::Mutex;
use std::time::Duration;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// Post `id` published `id` hours before… no: newer ids are younger — post 100 is 0 h old.
fn post(id: u64) -> RawPost {
    RawPost {
        schema: Schema,
        uid: PostUid::post(Platform::Telegram, "chan", id.to_string()).unwrap(),
        platform: Platform::Telegram,
        source_id: "tg-chan".into(),
        item_kind: ItemKind::Post,
        parent_uid: None,
        url: None,
        author: Author::default(),
        published_at: now() - Age::hours(100 - id as i64),
        edited_at: None,
        edited: false,
        collected_at: now(),
        text: format!("post {id}"),
        repost_of: None,
        attachments: vec![],
        counters: Counters { views: Some(10), ..Default::default() },
        pinned: false,
        ads: false,
        geo: None,
    }
}

/// A channel with posts 1..=newest, 10 per page, newest first; counts page requests.
struct Channel {
    posts: Vec<RawPost>,
    requests: Mutex<usize>,
    bad_after: Option<u64>,
}

impl Channel {
    fn new(newest: u64) -> Self {
        Channel { posts: (1..=newest).rev().map(post).collect(), requests: Mutex::new(0), bad_after: None }
    }
}

#[async_trait]
impl PagedFeed for Channel {
    type Token = u64;

    async fn page(&self, older_than: Option<&u64>) -> Result<FeedPage<u64>, PageError> {
        *self.requests.lock().unwrap() += 1;
        let before = older_than.copied().unwrap_or(u64::MAX);
        if self.bad_after.is_some_and(|b| before <= b) {
            return Err(PageError::Bad(BadPage {
                origin: format!("before={before}"),
                bytes: b"<html".to_vec(),
                error: ParseError::new(Platform::Telegram, "truncated"),
            }));
        }
        let posts: Vec<RawPost> =
            self.posts.iter().filter(|p| p.uid.id.parse::<u64>().unwrap() < before).take(10).cloned().collect();
        let older = posts.last().map(|p| p.uid.id.parse().unwrap()).filter(|&id| id > 1);
        Ok(FeedPage { posts, older })
    }
}

fn limits() -> WalkLimits {
    WalkLimits {
        first_poll_max_posts: 25,
        first_poll_max_age: Duration::from_secs(7 * 86_400),
        recheck_window: Duration::from_secs(24 * 3600),
        max_pages: 50,
    }
}

fn ids(posts: &[RawPost]) -> Vec<u64> {
    posts.iter().map(|p| p.uid.id.parse().unwrap()).collect()
}

#[tokio::test]
async fn a_first_poll_stops_at_its_depth() {
    let channel = Channel::new(100);
    let walked = walk(&channel, &Cursor::new("tg-chan"), &limits(), now()).await.unwrap();
    assert_eq!(ids(&walked.publish), (76..=100).rev().collect::<Vec<_>>());
    assert_eq!(walked.pages, 3);
    assert_eq!(walked.cursor.newest_id, Some(100));
    assert_eq!(walked.cursor.recent.len(), 25, "posts of the last 24 h are remembered");
}

#[tokio::test]
async fn a_first_poll_stops_at_its_age() {
    let channel = Channel::new(100);
    let shallow =
        WalkLimits { first_poll_max_posts: 1000, first_poll_max_age: Duration::from_secs(5 * 3600), ..limits() };
    let walked = walk(&channel, &Cursor::new("tg-chan"), &shallow, now()).await.unwrap();
    assert_eq!(ids(&walked.publish), (95..=100).rev().collect::<Vec<_>>());
    assert_eq!(walked.pages, 1);
}

#[tokio::test]
async fn later_polls_publish_new_and_changed_posts_only() {
    let mut channel = Channel::new(100);
    let first = walk(&channel, &Cursor::new("tg-chan"), &limits(), now()).await.unwrap();
    // Three new posts (all a bit younger), one young post edited, one young post's views grew,
    // one old post (outside the window) edited.
    let later = now() + Age::hours(3);
    for id in 101..=103 {
        let mut p = post(id);
        p.published_at = later - Age::minutes(103 - id as i64);
        channel.posts.insert(0, p);
    }
    let edit = |channel: &mut Channel, id: u64, f: &dyn Fn(&mut RawPost)| {
        f(channel.posts.iter_mut().find(|p| p.uid.id == id.to_string()).unwrap())
    };
    edit(&mut channel, 95, &|p| p.text.push_str(" (upd)"));
    edit(&mut channel, 90, &|p| p.counters.views = Some(500));
    edit(&mut channel, 60, &|p| p.text.push_str(" (old edit)"));
    *channel.requests.lock().unwrap() = 0;
    let second = walk(&channel, &first.cursor, &limits(), later).await.unwrap();
    assert_eq!(ids(&second.publish), vec![103, 102, 101, 95, 90]);
    assert_eq!(second.cursor.newest_id, Some(103));
    assert_eq!(*channel.requests.lock().unwrap(), 3, "walked past the 24 h window, no further");
    // Nothing changed: nothing published.
    let third = walk(&channel, &second.cursor, &limits(), later).await.unwrap();
    assert!(third.publish.is_empty(), "{:?}", ids(&third.publish));
}

#[tokio::test]
async fn a_pinned_old_post_does_not_end_the_walk() {
    let mut channel = Channel::new(100);
    let first = walk(&channel, &Cursor::new("tg-chan"), &limits(), now()).await.unwrap();
    let mut pinned = post(3);
    pinned.pinned = true;
    channel.posts.retain(|p| p.uid.id != "3");
    for id in 101..=115 {
        channel.posts.insert(0, post(id));
    }
    channel.posts.insert(0, pinned);
    let later = now();
    let second = walk(&channel, &first.cursor, &limits(), later).await.unwrap();
    let published = ids(&second.publish);
    for id in 101..=115 {
        assert!(published.contains(&id), "{id} missing from {published:?}");
    }
}

#[tokio::test]
async fn a_bad_page_is_kept_and_the_walk_ends_there() {
    let mut channel = Channel::new(100);
    channel.bad_after = Some(91);
    let walked = walk(&channel, &Cursor::new("tg-chan"), &limits(), now()).await.unwrap();
    assert_eq!(walked.bad_pages.len(), 1);
    assert_eq!(ids(&walked.publish), (91..=100).rev().collect::<Vec<_>>());
}
