//! A collector's share of a fleet: sources arrive as records of assigned partitions, cursors are
//! re-read on assignment, and a revocation abandons the walk in progress before it is confirmed.

use async_trait::async_trait;
use otklik_collect::fleet::ShareEvent;
use otklik_collect::*;
use otklik_model::*;
use otklik_pipeline::{Backoff, Bus, DeadLetters, MemoryBus, StageMetrics};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Tells each poll (source id, the cursor's newest id) and never finishes one of `stuck`.
struct Watched(mpsc::UnboundedSender<(String, Option<u64>)>);

#[async_trait]
impl FeedReader for Watched {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        let _ = self.0.send((source.id.clone(), cursor.newest_id));
        if source.handle == "stuck_channel" {
            std::future::pending::<()>().await;
        }
        Ok(PollOutcome {
            posts: vec![],
            bad_pages: vec![],
            cursor: Cursor { polled_at: Some(chrono::Utc::now()), ..cursor.clone() },
            audience: None,
        })
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

fn watched_collector(bus: &MemoryBus, reader: Watched) -> Collector {
    let backoff = Backoff::default();
    Collector {
        reader: Arc::new(reader),
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: "raw".into(), cursors: "cursors".into(), stats: "stats".into() },
        dead_letters: DeadLetters { publisher: bus.publisher(), topic: "dlq".into(), stage: "collect".into(), backoff },
        backoff,
        metrics: Arc::new(StageMetrics::default()),
        polls: Default::default(),
    }
}

fn record(partition: i32, s: &Source) -> ShareEvent {
    ShareEvent::Record { partition, key: s.id.clone().into_bytes(), value: Some(encode(s)) }
}

#[tokio::test(start_paused = true)]
async fn a_revocation_abandons_the_walk_in_progress_before_it_is_confirmed() {
    let bus = MemoryBus::new(1);
    let (polls_tx, mut polls) = mpsc::unbounded_channel();
    let collector = watched_collector(&bus, Watched(polls_tx));
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let read_cursors = {
        let reads = reads.clone();
        move || {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // What the previous owner published.
            let cursor = Cursor { newest_id: Some(41), ..Cursor::new("stuck") };
            async move { Ok(HashMap::from([("stuck".to_owned(), cursor)])) }
        }
    };
    let shutdown = CancellationToken::new();
    let run = {
        let shutdown = shutdown.clone();
        tokio::spawn(
            async move { collector.run_share(&mut events, read_cursors, Duration::from_secs(1), &shutdown).await },
        )
    };
    events_tx.send(ShareEvent::Assigned(vec![0, 1])).unwrap();
    events_tx.send(record(0, &source("stuck", "stuck_channel"))).unwrap();
    events_tx.send(record(1, &source("fine", "fine_channel"))).unwrap();

    // The walk of `stuck` starts from the restored cursor and hangs.
    let mut seen = HashMap::new();
    while seen.len() < 2 {
        let (id, newest) = polls.recv().await.unwrap();
        seen.insert(id, newest);
    }
    assert_eq!(seen["stuck"], Some(41), "the cursor re-read on assignment");
    assert_eq!(seen["fine"], None);
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);

    let (done, confirmed) = std::sync::mpsc::sync_channel(1);
    events_tx.send(ShareEvent::Revoked { partitions: vec![0, 1], done }).unwrap();
    let mut waited = 0;
    while confirmed.try_recv().is_err() {
        assert!(waited < 100, "the revocation was never confirmed: the hung walk was not abandoned");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    // Nothing of the revoked partitions is polled any more.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(polls.try_recv().is_err(), "a revoked source was polled");

    // Assigned again: the cursors are read again, the sources come back with their records.
    events_tx.send(ShareEvent::Assigned(vec![1])).unwrap();
    events_tx.send(record(1, &source("fine", "fine_channel"))).unwrap();
    assert_eq!(polls.recv().await.unwrap().0, "fine");
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    events_tx.send(ShareEvent::Record { partition: 1, key: b"fine".to_vec(), value: None }).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    while let Ok((id, _)) = polls.try_recv() {
        assert_eq!(id, "fine", "only `fine` until its tombstone");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(polls.try_recv().is_err(), "a source polled after its tombstone");

    shutdown.cancel();
    run.await.unwrap().unwrap();
    // Dropping the events ends a member's share with an error, not silently.
    let (_tx, mut closed) = mpsc::unbounded_channel::<ShareEvent>();
    drop(_tx);
    let collector = watched_collector(&bus, Watched(mpsc::unbounded_channel().0));
    let ended = collector
        .run_share(&mut closed, || async { Ok(HashMap::new()) }, Duration::from_secs(1), &CancellationToken::new())
        .await;
    assert!(ended.is_err());
}
