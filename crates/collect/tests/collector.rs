//! The shared poll loop over the memory bus with a scripted feed reader: posts before cursors,
//! unavailable sources, bad pages to the DLQ.

use async_trait::async_trait;
use chrono::Utc;
use otklik_collect::*;
use otklik_model::*;
use otklik_pipeline::{Backoff, Bus, DeadLetters, MemoryBus, StageMetrics};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Scripted;

fn post(source: &Source, id: u64) -> RawPost {
    RawPost {
        schema: Schema,
        uid: PostUid::post(source.platform, &source.handle, id.to_string()).unwrap(),
        platform: source.platform,
        source_id: source.id.clone(),
        item_kind: ItemKind::Post,
        parent_uid: None,
        url: None,
        author: Author::default(),
        published_at: Utc::now(),
        edited_at: None,
        edited: false,
        collected_at: Utc::now(),
        text: format!("post {id}"),
        repost_of: None,
        attachments: vec![],
        counters: Counters::default(),
        pinned: false,
        ads: false,
        geo: None,
    }
}

#[async_trait]
impl FeedReader for Scripted {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        match source.handle.as_str() {
            "gone" => Err(CollectError::Unavailable("group deleted".into())),
            "flaky" => Err(CollectError::Transient("HTTP 503".into())),
            "huge" => Ok(PollOutcome {
                posts: vec![RawPost { text: "жалоба ".repeat(200_000), ..post(source, 1) }, post(source, 2)],
                bad_pages: vec![],
                cursor: Cursor { newest_id: Some(2), ..cursor.clone() },
                audience: None,
            }),
            _ => Ok(PollOutcome {
                posts: vec![post(source, 1), post(source, 2)],
                bad_pages: vec![BadPage {
                    origin: "page-2".into(),
                    bytes: b"<html><div".to_vec(),
                    error: ParseError::new(source.platform, "truncated page"),
                }],
                cursor: Cursor { newest_id: Some(2), ..cursor.clone() },
                audience: None,
            }),
        }
    }
}

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

/// A collector over the [`Scripted`] reader publishing to `raw`, `cursors` and `dlq` of `bus`.
fn scripted_collector(bus: &MemoryBus) -> Collector {
    let backoff = Backoff::default();
    Collector {
        reader: Arc::new(Scripted),
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: "raw".into(), cursors: "cursors".into(), stats: "stats".into() },
        dead_letters: DeadLetters { publisher: bus.publisher(), topic: "dlq".into(), stage: "collect".into(), backoff },
        backoff,
        metrics: Arc::new(StageMetrics::default()),
        polls: Default::default(),
    }
}

async fn drain(bus: &MemoryBus, topic: &str) -> Vec<(String, Vec<u8>)> {
    let mut sub = bus.subscribe(&format!("reader-{topic}"), &[topic]).await.unwrap();
    let mut out = vec![];
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {
        out.push((m.key_str().unwrap_or_default(), m.payload));
    }
    out
}

#[tokio::test]
async fn publishes_posts_cursors_and_dead_letters() {
    let bus = MemoryBus::new(2);
    let collector = scripted_collector(&bus);
    let sources = [
        source("a", "chan_a"),
        source("gone", "gone"),
        source("flaky", "flaky"),
        Source { enabled: false, ..source("off", "off") },
    ];
    let mut cursors = HashMap::new();
    let summary = collector.poll_all(&sources, &mut cursors, &CancellationToken::new()).await.unwrap();
    assert_eq!(summary.polled, 3);
    assert_eq!(summary.posts, 2);
    assert_eq!(summary.unavailable, vec![("gone".to_string(), "group deleted".to_string())]);
    assert_eq!(summary.failed.len(), 1);

    let raw = drain(&bus, "raw").await;
    let mut keys: Vec<_> = raw.iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    assert_eq!(keys, vec!["tg:chan_a:1", "tg:chan_a:2"]);

    let cursors_published: HashMap<String, Cursor> =
        drain(&bus, "cursors").await.into_iter().map(|(k, v)| (k, decode("Cursor", &v).unwrap())).collect();
    assert_eq!(cursors_published["a"].newest_id, Some(2));
    assert!(matches!(cursors_published["gone"].status, SourceStatus::Unavailable { .. }));
    assert!(matches!(cursors_published["flaky"].status, SourceStatus::Failing { .. }));
    assert!(!cursors_published.contains_key("off"));

    let dlq = drain(&bus, "dlq").await;
    assert_eq!(dlq.len(), 1);
    let record: DlqRecord = decode("DlqRecord", &dlq[0].1).unwrap();
    assert_eq!(record.payload, "<html><div");
    assert!(record.error.contains("truncated page"));

    // An unavailable source is not polled again.
    let again = collector.poll_all(&sources, &mut cursors, &CancellationToken::new()).await.unwrap();
    assert_eq!(again.polled, 2);
}

#[tokio::test]
async fn a_post_larger_than_the_bus_takes_goes_to_the_dlq_and_the_poll_goes_on() {
    let bus = MemoryBus::new(2);
    let collector = scripted_collector(&bus);
    let mut cursors = HashMap::new();
    collector.poll_all(&[source("big", "huge")], &mut cursors, &CancellationToken::new()).await.unwrap();
    let raw: Vec<String> = drain(&bus, "raw").await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(raw, vec!["tg:huge:2"]);
    let dlq = drain(&bus, "dlq").await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].0, "tg:huge:1");
    let record: DlqRecord = decode("DlqRecord", &dlq[0].1).unwrap();
    assert!(
        record.error.contains("refused by the bus") && record.error.contains("payload truncated"),
        "{}",
        record.error
    );
    let cursors_published: HashMap<String, Cursor> =
        drain(&bus, "cursors").await.into_iter().map(|(k, v)| (k, decode("Cursor", &v).unwrap())).collect();
    assert_eq!(cursors_published["big"].newest_id, Some(2), "the poll completed");
}

#[test]
fn stored_cursors_are_restored_and_bad_ones_skipped() {
    let mut table = HashMap::new();
    let cursor = Cursor { newest_id: Some(7), ..Cursor::new("tg-a") };
    table.insert(b"tg-a".to_vec(), encode(&cursor));
    table.insert(b"tg-b".to_vec(), b"{not a cursor".to_vec());
    let restored = cursors_from_table(table);
    assert_eq!(restored.len(), 1);
    assert_eq!(restored["tg-a"], cursor);
}

#[tokio::test]
async fn a_restored_unavailable_source_is_not_polled_again() {
    let bus = MemoryBus::new(1);
    let collector = scripted_collector(&bus);
    let mut cursors = HashMap::new();
    cursors.insert(
        "a".to_string(),
        Cursor { status: SourceStatus::Unavailable { reason: "gone".into() }, ..Cursor::new("a") },
    );
    let summary = collector
        .poll_all(&[source("a", "chan_a"), source("b", "chan_b")], &mut cursors, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.polled, 1);
    assert_eq!(summary.posts, 2);
}

#[test]
fn suspicious_empty_answers_are_logged_once_per_source() {
    let log = EmptyLog::default();
    let empty = Empty::new("the response reports count 5 but has no items list");
    assert!(log.record("a", Some(&empty)));
    assert!(!log.record("a", Some(&empty)), "not again on every poll");
    assert!(log.record("b", Some(&empty)), "once per source");
    assert!(log.record("a", Some(&Empty::new("every call of the execute batch failed"))), "a new reason is news");
    assert!(log.record("a", None), "the recovery is logged");
    assert!(!log.record("a", None));
    assert!(!log.record("c", None), "a healthy source logs nothing");
}

/// The replay reader (the demo) routes items that fail the item check to the DLQ one by one.
#[tokio::test]
async fn replayed_invalid_items_become_dead_letters_of_their_own() {
    let dir = std::env::temp_dir().join(format!("otklik-replay-bad-items-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("vk/-5")).unwrap();
    let now = Utc::now().timestamp();
    let item = |id: i64| format!(r#"{{"id": {id}, "owner_id": -5, "date": {now}, "text": "{id}"}}"#);
    let wall = format!(r#"{{"response": {{"count": 2, "items": [{}, {}]}}}}"#, item(-1), item(2));
    std::fs::write(dir.join("vk/-5/01-wall.json"), wall).unwrap();
    let source = Source { platform: Platform::Vk, ..source("vk-5", "-5") };
    let outcome = ReplayReader::new(&dir).poll(&source, &Cursor::new("vk-5")).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(outcome.posts.iter().map(|p| p.uid.to_string()).collect::<Vec<_>>(), ["vk:-5:2"]);
    assert_eq!(outcome.bad_pages.len(), 1);
    assert!(outcome.bad_pages[0].origin.ends_with("01-wall.json item 0"), "{}", outcome.bad_pages[0].origin);
    assert!(outcome.bad_pages[0].error.to_string().contains("vk:-5:-1: post id -1 is not positive"));
    let payload: RawPost = decode("RawPost", &outcome.bad_pages[0].bytes).unwrap();
    assert_eq!(payload.uid.to_string(), "vk:-5:-1");
}

/// A replayed t.me/s page shows its channel's subscribers, as a live poll would: the demo's
/// store gets audiences too.
#[tokio::test]
async fn a_replayed_channel_page_gives_the_poll_its_audience() {
    let feeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/demo/feeds");
    let source = Source { platform: Platform::Telegram, ..source("tg-tsur58", "tsur58") };
    let outcome = ReplayReader::new(&feeds).poll(&source, &Cursor::new("tg-tsur58")).await.unwrap();
    assert!(!outcome.posts.is_empty());
    assert_eq!(outcome.audience, Some(18_400), "«18.4K subscribers» in the page header");
}

#[tokio::test(start_paused = true)]
async fn a_zero_poll_interval_is_clamped_not_a_panic() {
    let bus = MemoryBus::new(1);
    let collector = scripted_collector(&bus);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        stop.cancel();
    });
    collector.run(&[source("a", "chan_a")], HashMap::new(), Duration::ZERO, &shutdown).await.unwrap();
    let cursors = drain(&bus, "cursors").await;
    assert_eq!(cursors.len(), 4, "one pass at once, then one per MIN_POLL_INTERVAL (1s) for 3.5s");
}

#[tokio::test(start_paused = true)]
async fn a_changed_sources_list_is_polled_from_the_next_pass() {
    let bus = MemoryBus::new(1);
    let collector = scripted_collector(&bus);
    let (sources, watched) = tokio::sync::watch::channel(Arc::new(vec![source("a", "chan_a")]));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        // Passes run at 0 s, 1 s, 2 s: the list changes between the first and the second.
        tokio::time::sleep(Duration::from_millis(500)).await;
        sources.send_replace(Arc::new(vec![source("b", "chan_b")]));
        tokio::time::sleep(Duration::from_millis(2000)).await;
        stop.cancel();
    });
    collector.run_watched(watched, HashMap::new(), Duration::from_secs(1), &shutdown).await.unwrap();
    let polled: Vec<String> = drain(&bus, "cursors").await.into_iter().map(|(key, _)| key).collect();
    assert_eq!(polled, ["a", "b", "b"]);
}
