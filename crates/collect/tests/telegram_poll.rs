//! The Telegram poller against a fake t.me on 127.0.0.1: paged channels (page and XHR paging,
//! overlapping pages), edits and view counts between polls, 429 with `Retry-After`, 5xx, a
//! missing channel, a channel without a public preview (redirect or contact page), truncated
//! bodies, a 20 MB page, the per-host rate limit, and the whole poll loop with its DLQ.
//!
//! Pages are generated from the real t.me/s markup (the message block of
//! `tests/fixtures/telegram/channel_page.html`), with times relative to now so that the re-check
//! window means what it says. Real sockets, real time: every wait here is short.

use chrono::{DateTime, Duration as Age, SecondsFormat, Utc};
use otklik_collect::http::{HttpClient, HttpConfig};
use otklik_collect::ratelimit::{Rate, RateLimiter};
use otklik_collect::telegram::{TelegramConfig, TelegramReader};
use otklik_collect::*;
use otklik_model::*;
use otklik_pipeline::{Backoff, Bus, DeadLetters, MemoryBus, StageMetrics};
use otklik_testkit::fake_http::{FakeRequest, FakeResponse, FakeServer};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

mod common;

const CHANNEL: &str = "penza_test";
const PAGE_SIZE: u64 = 20;

// ---------------------------------------------------------------------------------------------
// The fake channel and its markup

#[derive(Clone)]
struct FakePost {
    text: String,
    views: u64,
    edited: bool,
    published_at: DateTime<Utc>,
}

/// A channel's posts by id, as t.me would show them now.
#[derive(Clone)]
struct FakeChannel {
    name: String,
    title: String,
    posts: BTreeMap<u64, FakePost>,
}

impl FakeChannel {
    /// Posts 1..=newest; post `i` was published `(newest - i) * 2 h + 30 min` ago, so with a
    /// 48 h window the newest 24 are young.
    fn new(name: &str, newest: u64) -> Self {
        let now = Utc::now();
        let mut channel =
            FakeChannel { name: name.into(), title: format!("Канал {name}"), posts: BTreeMap::new() };
        for id in 1..=newest {
            let age = Age::hours(2 * (newest - id) as i64) + Age::minutes(30);
            channel.posts.insert(
                id,
                FakePost {
                    text: format!("Пост {id}: во дворе на ул. Лермонтова, {id} не убран снег"),
                    views: 100 + id,
                    edited: false,
                    published_at: now - age,
                },
            );
        }
        channel
    }

    fn add(&mut self, id: u64) {
        self.posts.insert(
            id,
            FakePost {
                text: format!("Новый пост {id}: нет горячей воды"),
                views: 7,
                edited: false,
                published_at: Utc::now() - Age::minutes(5),
            },
        );
    }

    /// The ids t.me shows for `?before=` (`None`: the newest page); `overlap` more posts at
    /// the newer end, as a page boundary that moved between requests would.
    fn page_ids(&self, before: Option<u64>, overlap: u64) -> Vec<u64> {
        let below: Vec<u64> = self.posts.keys().copied().filter(|&id| before.is_none_or(|b| id < b)).collect();
        let start = below.len().saturating_sub(PAGE_SIZE as usize);
        let mut ids = below[start..].to_vec();
        if let (Some(b), Some(&newest_shown)) = (before, ids.last()) {
            ids.extend(self.posts.keys().copied().filter(|&id| id > newest_shown && id >= b).take(overlap as usize));
        }
        ids
    }

    fn blocks(&self, ids: &[u64]) -> String {
        ids.iter().map(|id| message_block(&self.name, &self.title, *id, &self.posts[id])).collect()
    }

    /// The whole `t.me/s/<channel>` page for `before`.
    fn page(&self, before: Option<u64>, overlap: u64) -> String {
        let ids = self.page_ids(before, overlap);
        page_html(&self.name, &self.title, &self.more_links(&ids, before), &self.blocks(&ids))
    }

    /// The XHR answer for `before`: the message markup as one JSON string.
    fn fragment(&self, before: u64) -> String {
        let ids = self.page_ids(Some(before), 0);
        serde_json::to_string(&format!("{}{}", self.more_links(&ids, Some(before)), self.blocks(&ids))).unwrap()
    }

    fn more_links(&self, ids: &[u64], before: Option<u64>) -> String {
        let (name, oldest_here) = (&self.name, ids.first().copied());
        let oldest = self.posts.keys().next().copied();
        let mut links = String::new();
        if let Some(first) = oldest_here.filter(|&first| Some(first) != oldest) {
            links.push_str(&format!(r#"<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{name}?before={first}" class="tme_messages_more js-messages_more" data-before="{first}"></a></div>"#));
            links.push('\n');
        }
        if let (Some(_), Some(&last)) = (before, ids.last()) {
            links.push_str(&format!(r#"<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{name}?after={last}" class="tme_messages_more js-messages_more" data-after="{last}"></a></div>"#));
        }
        links
    }
}

/// One message block in t.me's markup (the fixtures' block, bubble tail omitted).
fn message_block(channel: &str, title: &str, id: u64, post: &FakePost) -> String {
    let datetime = post.published_at.to_rfc3339_opts(SecondsFormat::Secs, false);
    let hhmm = post.published_at.format("%H:%M");
    let edited = if post.edited { "edited " } else { "" };
    let FakePost { text, views, .. } = post;
    format!(
        r#"<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{channel}/{id}" data-view="eyJjIjotMTAwMTc3NzM0NTEyMywicCI6{id}fQ">
  <div class="tgme_widget_message_user"><a href="https://t.me/{channel}"><i class="tgme_widget_message_user_photo bgcolor3" data-content="К"><img src="https://cdn4.telesco.pe/file/avatar.jpg"></i></a></div>
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">{title}</span></a></div>
    <div class="tgme_widget_message_text js-message_text" dir="auto">{text}<br/><br/><a href="?q=%23%D0%96%D0%9A%D0%A5">#ЖКХ</a></div>
    <div class="tgme_widget_message_footer compact js-message_footer">
      <div class="tgme_widget_message_info short js-message_info">
        <span class="tgme_widget_message_views">{views}</span><span class="copyonclick" data-copy="https://t.me/{channel}/{id}"></span><span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" href="https://t.me/{channel}/{id}"><time datetime="{datetime}" class="time">{hhmm}</time></a></span>
      </div>
    </div>
  </div>
</div></div>
"#
    )
}

fn page_html(channel: &str, title: &str, more: &str, blocks: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title} – Telegram</title>
    <meta property="og:title" content="{title}">
    <link rel="canonical" href="https://t.me/s/{channel}" />
  </head>
  <body class="widget_frame_base tgme_webpreview_body emoji_image nogap">
    <main class="tgme_main" data-url="/s/{channel}">
      <div class="tgme_container">
        <section class="tgme_right_column">
          <div class="tgme_channel_info">
            <div class="tgme_channel_info_header">
              <div class="tgme_channel_info_header_title_wrap"><div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div></div>
              <div class="tgme_channel_info_header_username"><a href="https://t.me/{channel}">@{channel}</a></div>
            </div>
            <div class="tgme_channel_info_counters">
              <div class="tgme_channel_info_counter"><span class="counter_value">12.5K</span> <span class="counter_type">subscribers</span></div>
            </div>
          </div>
        </section>
        <section class="tgme_channel_history js-message_history">
          {more}
{blocks}        </section>
      </div>
    </main>
    <script src="//telegram.org/js/widget-frame.js?65"></script>
  </body>
</html>
"#
    )
}

/// Serves every channel in `channels` like t.me: `/s/<name>` pages, `?before=`, XHR fragments
/// when asked with `X-Requested-With`, 404 for unknown names.
fn serve(channels: &Mutex<HashMap<String, FakeChannel>>, request: &FakeRequest, overlap: u64) -> FakeResponse {
    let Some(name) = request.path.strip_prefix("/s/") else { return FakeResponse::status(404) };
    let channels = channels.lock().unwrap();
    let Some(channel) = channels.get(name) else { return FakeResponse::status(404) };
    let before = request.param("before").map(|b| b.parse::<u64>().expect("numeric before"));
    match (before, request.header("x-requested-with")) {
        (Some(before), Some("XMLHttpRequest")) => FakeResponse::json(channel.fragment(before)),
        _ => FakeResponse::html(channel.page(before, overlap)),
    }
}

type Channels = Arc<Mutex<HashMap<String, FakeChannel>>>;

fn channels(list: &[FakeChannel]) -> Channels {
    Arc::new(Mutex::new(list.iter().map(|c| (c.name.clone(), c.clone())).collect()))
}

// ---------------------------------------------------------------------------------------------
// The reader under test

fn config(server: &FakeServer) -> TelegramConfig {
    TelegramConfig {
        base_url: server.url().parse().unwrap(),
        rate: Rate::per_second(20),
        timeout: Duration::from_secs(5),
        ..TelegramConfig::default()
    }
}

/// A reader whose retries back off in milliseconds, not seconds.
fn tg_reader(config: TelegramConfig) -> TelegramReader {
    let http = HttpConfig {
        backoff: Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(100) },
        ..config.http_config()
    };
    TelegramReader::with_client(HttpClient::new(http, Arc::new(RateLimiter::new())).unwrap(), config).unwrap()
}

fn source(handle: &str) -> Source {
    Source {
        schema: Schema,
        id: format!("tg-{handle}"),
        platform: Platform::Telegram,
        handle: handle.into(),
        name: String::new(),
        municipality: None,
        official: false,
        comments: CommentsPolicy::None,
        enabled: true,
    }
}

fn ids(posts: &[RawPost]) -> Vec<u64> {
    let mut ids: Vec<u64> = posts.iter().map(|p| p.uid.id.parse().unwrap()).collect();
    ids.sort();
    ids
}

/// Asserts that no uid occurs twice and returns the sorted ids.
fn unique_ids(posts: &[RawPost]) -> Vec<u64> {
    let uids: BTreeSet<String> = posts.iter().map(|p| p.uid.to_string()).collect();
    assert_eq!(uids.len(), posts.len(), "a post was published twice in one poll");
    ids(posts)
}

fn befores(requests: &[FakeRequest]) -> Vec<Option<String>> {
    requests.iter().map(|r| r.param("before").map(str::to_owned)).collect()
}

fn expect_err(result: Result<PollOutcome, CollectError>) -> CollectError {
    match result {
        Ok(outcome) => panic!("expected an error, got {} posts", outcome.posts.len()),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Paging and incremental polls

#[tokio::test]
async fn first_poll_walks_every_page_and_sets_the_cursor() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 0)
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(&format!("@{CHANNEL}"));
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();

    assert_eq!(unique_ids(&outcome.posts), (1..=45).collect::<Vec<_>>());
    assert!(outcome.bad_pages.is_empty());
    assert_eq!(
        befores(&server.requests()),
        [None, Some("26".into()), Some("6".into())],
        "newest page, then ?before= the oldest id shown"
    );
    assert!(server.requests().iter().all(|r| r.path == "/s/penza_test" && r.header("x-requested-with").is_none()));

    let post_40 = outcome.posts.iter().find(|p| p.uid.id == "40").unwrap();
    assert_eq!(post_40.uid.to_string(), "tg:penza_test:40");
    assert_eq!(post_40.source_id, "tg-@penza_test");
    assert_eq!(post_40.counters.views, Some(140));
    assert!(post_40.text.starts_with("Пост 40: во дворе"), "{}", post_40.text);
    assert!(!post_40.edited);

    let cursor = &outcome.cursor;
    assert_eq!(cursor.source_id, source.id);
    assert_eq!(cursor.newest_id, Some(45));
    assert_eq!(cursor.status, SourceStatus::Ok);
    // Posts 22..=45 are younger than the 48 h window (post 22 is 46.5 h old, post 21 48.5 h).
    let recent: BTreeSet<u64> = cursor.recent.iter().map(|s| s.uid.id.parse().unwrap()).collect();
    assert_eq!(recent, (22..=45).collect());
    let fingerprint_40 = cursor.recent.iter().find(|s| s.uid.id == "40").unwrap().fingerprint;
    assert_eq!(fingerprint_40, post_40.fingerprint());
}

#[tokio::test]
async fn message_blocks_that_are_not_posts_go_to_the_dlq_one_by_one() {
    let mut channel = FakeChannel::new(CHANNEL, 5);
    // A date before any of these networks existed: the block fails the item check.
    channel.posts.get_mut(&3).unwrap().published_at = DateTime::from_timestamp(0, 0).unwrap();
    let state = channels(&[channel]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 0)
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), [1, 2, 4, 5]);
    assert_eq!(outcome.bad_pages.len(), 1, "{:?}", outcome.bad_pages);
    let bad = &outcome.bad_pages[0];
    assert!(bad.error.to_string().contains("1970"), "{}", bad.error);
}

#[tokio::test]
async fn later_polls_publish_new_edited_and_recounted_posts_once() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 0)
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let first = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(first.posts.len(), 45);

    {
        let mut channels = state.lock().unwrap();
        let channel = channels.get_mut(CHANNEL).unwrap();
        channel.add(46);
        channel.add(47);
        let edited = channel.posts.get_mut(&40).unwrap();
        edited.text = "Пост 40: снег убрали, спасибо".into();
        edited.edited = true;
        channel.posts.get_mut(&30).unwrap().views += 1000;
        // Outside the re-check window: neither fetched nor re-published.
        channel.posts.get_mut(&5).unwrap().edited = true;
    }
    let requests_before = server.requests().len();
    let second = reader.poll(&source, &first.cursor).await.unwrap();
    assert_eq!(unique_ids(&second.posts), [30, 40, 46, 47]);
    let post_40 = second.posts.iter().find(|p| p.uid.id == "40").unwrap();
    assert!(post_40.edited, "the edit is visible in the republished post");
    assert!(post_40.text.starts_with("Пост 40: снег убрали"), "{}", post_40.text);
    assert_eq!(second.posts.iter().find(|p| p.uid.id == "30").unwrap().counters.views, Some(1130));
    assert_eq!(second.cursor.newest_id, Some(47));
    let recent: BTreeSet<u64> = second.cursor.recent.iter().map(|s| s.uid.id.parse().unwrap()).collect();
    assert_eq!(recent, (22..=47).collect());
    assert_eq!(second.cursor.recent.iter().find(|s| s.uid.id == "40").unwrap().fingerprint, post_40.fingerprint());
    // Newest page (28..=47, all young) and one older page reaching past the window.
    assert_eq!(befores(&server.requests()[requests_before..]), [None, Some("28".into())]);

    // Nothing changed since: nothing to publish, the cursor stays.
    let third = reader.poll(&source, &second.cursor).await.unwrap();
    assert!(third.posts.is_empty(), "republished without a change: {:?}", ids(&third.posts));
    assert_eq!(third.cursor.newest_id, Some(47));
    assert_eq!(third.cursor.recent, second.cursor.recent);
}

#[tokio::test]
async fn overlapping_pages_never_duplicate_posts() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    // Every ?before= page repeats three newer posts of the page before it.
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 3)
    })
    .await;
    let served: Vec<u64> = {
        let channels = state.lock().unwrap();
        [None, Some(26), Some(6)].iter().flat_map(|&before| channels[CHANNEL].page_ids(before, 3)).collect()
    };
    assert_eq!(served.len(), 45 + 6, "the pages overlap by three posts each");
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let first = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&first.posts), (1..=45).collect::<Vec<_>>());
    assert_eq!(befores(&server.requests()), [None, Some("26".into()), Some("6".into())]);
    assert_eq!(first.cursor.newest_id, Some(45));

    state.lock().unwrap().get_mut(CHANNEL).unwrap().posts.get_mut(&26).unwrap().views += 1;
    let second = reader.poll(&source, &first.cursor).await.unwrap();
    assert_eq!(unique_ids(&second.posts), [26], "post 26 is on two pages and changed once");
}

#[tokio::test]
async fn xhr_paging_reads_json_fragments() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 0)
    })
    .await;
    let reader = tg_reader(TelegramConfig { xhr_paging: true, ..config(&server) });
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), (1..=45).collect::<Vec<_>>());
    assert!(outcome.bad_pages.is_empty());
    let requests = server.requests();
    assert_eq!(befores(&requests), [None, Some("26".into()), Some("6".into())]);
    let xhr: Vec<Option<&str>> = requests.iter().map(|r| r.header("x-requested-with")).collect();
    assert_eq!(
        xhr,
        [None, Some("XMLHttpRequest"), Some("XMLHttpRequest")],
        "the newest page is a page, older ones fragments"
    );
}

#[tokio::test]
async fn first_poll_stops_at_its_depth() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 0)
    })
    .await;
    let reader = tg_reader(TelegramConfig { first_poll_max_posts: 25, ..config(&server) });
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), (21..=45).collect::<Vec<_>>());
    assert_eq!(server.requests().len(), 2, "two pages hold 25 posts");
    assert_eq!(outcome.cursor.newest_id, Some(45));

    let reader = reader_for_age(&server, "20h");
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    // Post 36 is 18.5 h old, post 35 20.5 h.
    assert_eq!(unique_ids(&outcome.posts), (36..=45).collect::<Vec<_>>());
}

#[tokio::test]
async fn saved_real_pages_walk_through_the_reader() {
    // The fixtures: the newest page of a channel and an XHR fragment of older posts, then the
    // empty fragment t.me sends past a channel's start.
    let page = std::fs::read(fixture("channel_page.html")).unwrap();
    let fragment = std::fs::read(fixture("fragment_before_1181.json")).unwrap();
    let server = FakeServer::start(move |r| match (r.path.as_str(), r.param("before"), r.header("x-requested-with")) {
        ("/s/penza_gorod", None, None) => FakeResponse::html(page.clone()),
        ("/s/penza_gorod", Some("1201"), Some("XMLHttpRequest")) => FakeResponse::json(fragment.clone()),
        ("/s/penza_gorod", Some("1177"), Some("XMLHttpRequest")) => FakeResponse::json("\"\""),
        _ => FakeResponse::status(404),
    })
    .await;
    // The fixtures date from 2024: let the first poll reach that far back.
    let config: TelegramConfig = serde_json::from_value(serde_json::json!({ "base_url": server.url(), "rate": "20/s", "first_poll_max_age": "5000d", "xhr_paging": true })).unwrap();
    let reader = tg_reader(config);
    let source = source("https://t.me/penza_gorod");
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert!(outcome.bad_pages.is_empty());
    assert_eq!(befores(&server.requests()), [None, Some("1201".into()), Some("1177".into())]);

    let mut expected: Vec<serde_json::Value> = Vec::new();
    for name in ["channel_page.snap", "fragment_before_1181.snap"] {
        let parsed: serde_json::Value = serde_json::from_str(&common::snapshot::snapshot_body(&fixture(name))).unwrap();
        expected.extend(parsed["posts"].as_array().unwrap().iter().map(|p| p["post"].clone()));
    }
    let expected_uids: BTreeSet<String> = expected.iter().map(|p| p["uid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(outcome.posts.len(), 23);
    assert_eq!(outcome.posts.iter().map(|p| p.uid.to_string()).collect::<BTreeSet<_>>(), expected_uids);
    for want in &expected {
        let got = outcome.posts.iter().find(|p| p.uid.to_string() == want["uid"].as_str().unwrap()).unwrap();
        assert_eq!(got.text, want["text"].as_str().unwrap(), "{}", got.uid);
        assert_eq!(serde_json::to_value(got.counters).unwrap(), want["counters"], "{}", got.uid);
        assert_eq!(got.edited, want["edited"].as_bool().unwrap(), "{}", got.uid);
        assert_eq!(got.source_id, "tg-https://t.me/penza_gorod");
    }
    assert_eq!(outcome.cursor.newest_id, Some(1223));
    assert!(outcome.cursor.recent.is_empty(), "nothing from 2024 is inside the re-check window");
}

fn reader_for_age(server: &FakeServer, age: &str) -> TelegramReader {
    let config: TelegramConfig = serde_json::from_value(
        serde_json::json!({ "base_url": server.url(), "rate": "20/s", "first_poll_max_age": age }),
    )
    .unwrap();
    tg_reader(config)
}

// ---------------------------------------------------------------------------------------------
// HTTP behaviour

#[tokio::test]
async fn per_host_rate_limit_holds_across_channels() {
    let names = ["chan_a", "chan_b", "chan_c", "chan_d"];
    let state = channels(&names.map(|n| FakeChannel::new(n, 45)));
    let server = FakeServer::start({
        let state = state.clone();
        move |r| serve(&state, r, 0)
    })
    .await;
    let rate = Rate { requests: 4, period: Duration::from_millis(250) };
    let reader = tg_reader(TelegramConfig { rate, ..config(&server) });
    let sources: Vec<Source> = names.iter().map(|n| source(n)).collect();
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let batch: Vec<(&Source, &Cursor)> = sources.iter().zip(&cursors).collect();
    let started = Instant::now();
    let outcomes = reader.poll_many(&batch).await;
    let elapsed = started.elapsed();
    for outcome in outcomes {
        assert_eq!(unique_ids(&outcome.unwrap().posts).len(), 45);
    }
    let mut times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    times.sort();
    assert_eq!(times.len(), 12);
    // Request k (in arrival order) is granted no earlier than k/4 whole periods after the start,
    // whichever channel it is for: one limit for the host, not one per channel. (Arrivals lag
    // grants, so this bound holds exactly, with no allowance for jitter.)
    for (k, &t) in times.iter().enumerate() {
        let earliest = rate.period * (k as u32 / rate.requests);
        assert!(
            t.duration_since(started) >= earliest,
            "request {k} arrived {:?} after the start, before {earliest:?}",
            t.duration_since(started)
        );
    }
    assert!(
        elapsed >= Duration::from_millis(500),
        "12 requests at 4 per 250 ms take at least 500 ms, took {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "but not much longer: {elapsed:?}");
}

#[tokio::test]
async fn rate_limited_answer_is_retried_after_retry_after() {
    let state = channels(&[FakeChannel::new(CHANNEL, 15)]);
    let calls = Arc::new(Mutex::new(0));
    let server = FakeServer::start({
        let (state, calls) = (state.clone(), calls.clone());
        move |r| {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            if *calls == 1 {
                FakeResponse::status(429).with_header("Retry-After", "1")
            } else {
                serve(&state, r, 0)
            }
        }
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), (1..=15).collect::<Vec<_>>());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.duration_since(requests[0].at);
    assert!(waited >= Duration::from_secs(1), "Retry-After: 1 honoured, waited {waited:?}");
    assert!(waited < Duration::from_millis(2500), "no needless extra wait: {waited:?}");
}

#[tokio::test]
async fn persistent_rate_limiting_is_transient() {
    let server = FakeServer::start(|_| FakeResponse::status(429).with_header("Retry-After", "0")).await;
    let reader = tg_reader(TelegramConfig { max_retries: 2, ..config(&server) });
    let error = expect_err(reader.poll(&source(CHANNEL), &Cursor::new("tg")).await);
    assert!(matches!(error, CollectError::Transient(_)), "{error:?}");
    assert!(error.to_string().contains("rate limited (HTTP 429) after 3 attempts"), "{error}");
    assert_eq!(error.code(), "http_429");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let state = channels(&[FakeChannel::new(CHANNEL, 15)]);
    let calls = Arc::new(Mutex::new(0));
    let server = FakeServer::start({
        let (state, calls) = (state.clone(), calls.clone());
        move |r| {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            match *calls {
                1 => FakeResponse::status(503),
                2 => FakeResponse::status(502),
                _ => serve(&state, r, 0),
            }
        }
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), (1..=15).collect::<Vec<_>>());
    assert_eq!(server.requests().len(), 3);
    assert_eq!(outcome.cursor.newest_id, Some(15));
}

#[tokio::test]
async fn persistent_server_errors_are_transient() {
    let server = FakeServer::start(|_| FakeResponse::status(500)).await;
    let reader = tg_reader(TelegramConfig { max_retries: 2, ..config(&server) });
    let error = expect_err(reader.poll(&source(CHANNEL), &Cursor::new("tg")).await);
    assert!(matches!(error, CollectError::Transient(_)), "{error:?}");
    assert!(error.to_string().contains("HTTP 500"), "{error}");
    assert_eq!(error.code(), "http_500");
    assert!(error.is_retryable());
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn missing_channel_is_unavailable_without_retry() {
    let state = channels(&[FakeChannel::new(CHANNEL, 5)]);
    let server = FakeServer::start(move |r| serve(&state, r, 0)).await;
    let reader = tg_reader(config(&server));
    let error = expect_err(reader.poll(&source("no_such_channel"), &Cursor::new("tg")).await);
    assert_eq!(error.code(), "http_404");
    match &error {
        CollectError::Unavailable(reason) => assert!(
            reason.starts_with("channel not found") && reason.contains("/s/no_such_channel") && reason.contains("404"),
            "{reason}"
        ),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn redirect_away_from_the_preview_is_unavailable() {
    let contact_page = std::fs::read(fixture("no_public_preview.html")).unwrap();
    let server = FakeServer::start(move |r| match r.path.as_str() {
        "/s/penza_closed" => FakeResponse::status(302).with_header("Location", "/penza_closed"),
        "/penza_closed" => FakeResponse::html(contact_page.clone()),
        _ => FakeResponse::status(404),
    })
    .await;
    let reader = tg_reader(config(&server));
    let error = expect_err(reader.poll(&source("penza_closed"), &Cursor::new("tg")).await);
    match &error {
        CollectError::Unavailable(reason) => {
            assert!(reason.starts_with("no public preview for t.me/s/penza_closed"), "{reason}");
            assert!(
                reason.contains("redirected /s/penza_closed to") && reason.ends_with("web preview turned off)"),
                "{reason}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Redirects are never followed: the contact page is not fetched.
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/s/penza_closed"]);
}

#[tokio::test]
async fn contact_page_instead_of_a_preview_is_unavailable() {
    let contact_page = std::fs::read(fixture("no_public_preview.html")).unwrap();
    let server = FakeServer::start(move |_| FakeResponse::html(contact_page.clone())).await;
    let reader = tg_reader(config(&server));
    let error = expect_err(reader.poll(&source("penza_closed"), &Cursor::new("tg")).await);
    assert!(
        matches!(&error, CollectError::Unavailable(r) if r.contains("no public preview") && r.contains("contact page")),
        "{error:?}"
    );
}

#[tokio::test]
async fn truncated_transfer_is_retried() {
    let state = channels(&[FakeChannel::new(CHANNEL, 15)]);
    let calls = Arc::new(Mutex::new(0));
    let server = FakeServer::start({
        let (state, calls) = (state.clone(), calls.clone());
        move |r| {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            let page = state.lock().unwrap()[CHANNEL].page(None, 0);
            // The first answer announces the whole page and stops half-way.
            if *calls == 1 {
                FakeResponse::truncated(&page.as_bytes()[..page.len() / 2], page.len() - page.len() / 2)
            } else {
                serve(&state, r, 0)
            }
        }
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), (1..=15).collect::<Vec<_>>());
    assert_eq!(server.requests().len(), 2);

    // Always cut short: a transient failure naming the request, not a bad page.
    let always = FakeServer::start(|_| FakeResponse::truncated(b"<!DOCTYPE html><html><body>", 5000)).await;
    let reader = reader_with_retries(&always, 1);
    let error = expect_err(reader.poll(&source, &Cursor::new(&source.id)).await);
    assert!(matches!(&error, CollectError::Transient(r) if r.contains("/s/penza_test")), "{error:?}");
    assert_eq!(always.requests().len(), 2);
}

fn reader_with_retries(server: &FakeServer, max_retries: u32) -> TelegramReader {
    tg_reader(TelegramConfig { max_retries, ..config(server) })
}

#[tokio::test]
async fn page_cut_off_or_unreadable_goes_to_the_dead_letters() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    // The second page ends mid-message on a connection-close response: HTTP cannot tell.
    let cut = {
        let page = state.lock().unwrap()[CHANNEL].page(Some(26), 0);
        page.as_bytes()[..page.len() * 2 / 3].to_vec()
    };
    let server = FakeServer::start({
        let (state, cut) = (state.clone(), cut.clone());
        move |r| match r.param("before") {
            Some("26") => {
                let mut raw =
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n".to_vec();
                raw.extend_from_slice(&cut);
                FakeResponse::Raw(raw)
            }
            _ => serve(&state, r, 0),
        }
    })
    .await;
    let reader = tg_reader(config(&server));
    let source = source(CHANNEL);
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(unique_ids(&outcome.posts), (26..=45).collect::<Vec<_>>(), "the first page's posts are kept");
    assert_eq!(outcome.bad_pages.len(), 1);
    let bad = &outcome.bad_pages[0];
    assert_eq!(bad.origin, format!("{}/s/penza_test?before=26", server.url()));
    assert_eq!(bad.bytes, cut, "the page is kept whole for the DLQ");
    assert_eq!(bad.error.platform, Platform::Telegram);
    assert!(bad.error.reason.contains("truncated"), "{}", bad.error);
    assert_eq!(server.requests().len(), 2, "the walk ends at the bad page");
    assert_eq!(outcome.cursor.newest_id, Some(45));

    // A newest page that is no preview at all (and no contact page): a bad page, not «unavailable».
    let garbage = FakeServer::start(|_| FakeResponse::html("<html><body>502 Bad Gateway (nginx)</body></html>")).await;
    let reader = tg_reader(config(&garbage));
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert!(outcome.posts.is_empty());
    assert_eq!(outcome.bad_pages.len(), 1);
    assert!(
        outcome.bad_pages[0].error.reason.contains("no t.me/s channel preview markup"),
        "{}",
        outcome.bad_pages[0].error
    );
    assert_eq!(outcome.cursor.newest_id, None, "the cursor does not move past what was not read");

    // A fragment that is not JSON: a bad page too.
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    let broken_xhr = FakeServer::start(move |r| match r.header("x-requested-with") {
        Some(_) => FakeResponse::json("\"<div class=\\\"tgme_widget_message"),
        None => serve(&state, r, 0),
    })
    .await;
    let reader = tg_reader(TelegramConfig { xhr_paging: true, ..config(&broken_xhr) });
    let outcome = reader.poll(&source, &Cursor::new(&source.id)).await.unwrap();
    assert_eq!(outcome.posts.len(), 20);
    assert!(outcome.bad_pages[0].error.reason.contains("not a JSON string"), "{}", outcome.bad_pages[0].error);
}

#[tokio::test]
async fn twenty_megabyte_page_is_refused_at_the_cap() {
    let channel = FakeChannel::new(CHANNEL, 20);
    let block = channel.blocks(&[20]);
    let huge_blocks = block.repeat(20 * (1 << 20) / block.len() + 1);
    let huge = page_html(CHANNEL, "Канал", "", &huge_blocks);
    assert!(huge.len() > 20 << 20);
    let stream = {
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n".to_vec();
        raw.extend_from_slice(huge.as_bytes());
        raw
    };
    let server = FakeServer::start(move |r| match r.path.as_str() {
        // Announced with Content-Length: refused before the body is read.
        "/s/announced" => FakeResponse::html(huge.clone()),
        // No length, connection-close framing: reading stops at the cap.
        _ => FakeResponse::Raw(stream.clone()),
    })
    .await;
    let reader = tg_reader(config(&server));
    for handle in ["announced", "streamed"] {
        let started = Instant::now();
        let error = expect_err(reader.poll(&source(handle), &Cursor::new("tg")).await);
        match &error {
            CollectError::Transient(reason) => assert!(
                reason.contains("larger than the 4194304-byte cap") && reason.contains("max_page_bytes"),
                "{reason}"
            ),
            other => panic!("expected a size error, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(3), "{handle}: refused quickly");
    }
    assert_eq!(server.requests().len(), 2, "an oversized page is not retried");
}

// ---------------------------------------------------------------------------------------------
// The whole poll loop

#[tokio::test]
async fn collector_publishes_posts_cursors_and_dead_letters() {
    let state = channels(&[FakeChannel::new(CHANNEL, 45)]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| match (r.path.as_str(), r.param("before")) {
            ("/s/penza_test", Some("6")) => FakeResponse::html("<html><body>oops"),
            _ => serve(&state, r, 0),
        }
    })
    .await;
    let bus = MemoryBus::new(2);
    let collector = Collector {
        reader: Arc::new(tg_reader(config(&server))),
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: "raw".into(), cursors: "cursors".into(), stats: "stats".into() },
        dead_letters: DeadLetters {
            publisher: bus.publisher(),
            topic: "dlq".into(),
            stage: "collect".into(),
            backoff: Backoff::default(),
        },
        backoff: Backoff::default(),
        metrics: Arc::new(StageMetrics::default()),
        polls: Default::default(),
    };
    let sources = [source(CHANNEL), source("gone_channel")];
    let mut cursors = HashMap::new();
    let summary = collector.poll_all(&sources, &mut cursors, &CancellationToken::new()).await.unwrap();
    assert_eq!(summary.posts, 40);
    assert_eq!(summary.bad_pages, 1);
    assert_eq!(summary.unavailable.len(), 1);
    assert!(summary.unavailable[0].1.starts_with("channel not found"), "{:?}", summary.unavailable);

    let raw = drain(&bus, "raw").await;
    let keys: BTreeSet<String> = raw.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(raw.len(), 40);
    assert_eq!(keys, (6..=45).map(|id| format!("tg:penza_test:{id}")).collect());
    let dlq = drain(&bus, "dlq").await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].0, "tg-penza_test");
    let record: serde_json::Value = serde_json::from_slice(&dlq[0].1).unwrap();
    assert!(record.to_string().contains("no t.me/s channel preview markup"), "{record}");
    assert_eq!(cursors["tg-penza_test"].newest_id, Some(45));
    assert!(
        matches!(&cursors["tg-gone_channel"].status, SourceStatus::Unavailable { reason } if reason.starts_with("channel not found"))
    );
    // The header's «12.5K subscribers», once for the channel polled, none for the gone one.
    let stats = drain(&bus, "stats").await;
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].0, "tg-penza_test");
    let stat: SourceStat = otklik_model::decode("SourceStat", &stats[0].1).unwrap();
    assert_eq!((stat.source_id.as_str(), stat.platform, stat.audience), ("tg-penza_test", Platform::Telegram, 12_500));
}

#[tokio::test]
async fn the_audience_is_the_header_count_and_a_page_without_one_still_polls() {
    let state = channels(&[FakeChannel::new(CHANNEL, 5), FakeChannel::new("no_counter", 5)]);
    let server = FakeServer::start({
        let state = state.clone();
        move |r| match serve(&state, r, 0) {
            FakeResponse::Reply { body, .. } if r.path == "/s/no_counter" => {
                let page = String::from_utf8(body).unwrap();
                FakeResponse::html(page.replace(r#"<span class="counter_value">12.5K</span>"#, ""))
            }
            other => other,
        }
    })
    .await;
    let reader = tg_reader(config(&server));
    let outcome = reader.poll(&source(CHANNEL), &Cursor::new("a")).await.unwrap();
    assert_eq!(outcome.audience, Some(12_500));
    let outcome = reader.poll(&source("no_counter"), &Cursor::new("b")).await.unwrap();
    assert_eq!((outcome.audience, outcome.posts.len()), (None, 5), "no count, the posts all the same");
}

async fn drain(bus: &MemoryBus, topic: &str) -> Vec<(String, Vec<u8>)> {
    let mut sub = bus.subscribe(&format!("reader-{topic}"), &[topic]).await.unwrap();
    let mut out = vec![];
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {
        out.push((m.key_str().unwrap_or_default(), m.payload));
    }
    out
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/telegram").join(name)
}
