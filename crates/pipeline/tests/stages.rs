//! Stage runners over the memory bus, with paused tokio time: batch triggers, retry, DLQ, no
//! commit before the write, drain on shutdown.

use async_trait::async_trait;
use otklik_model::DlqRecord;
use otklik_pipeline::*;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

const INPUT: &str = "in";
const OUTPUT: &str = "out";
const DLQ: &str = "dlq";
const GROUP: &str = "sink";

/// Records every batch; fails according to a script; can be made to wait for permission.
#[derive(Default)]
struct TestSink {
    batches: Mutex<Vec<Vec<String>>>,
    script: Mutex<VecDeque<SinkError>>,
    gate: Option<Arc<Semaphore>>,
}

#[async_trait]
impl BatchSink for TestSink {
    type Row = String;

    fn decode(&self, message: &Message) -> Result<String, String> {
        let text = String::from_utf8(message.payload.clone()).map_err(|e| e.to_string())?;
        if text.starts_with("bad") {
            return Err(format!("cannot decode {text}"));
        }
        Ok(text)
    }

    async fn write(&self, rows: &[String]) -> Result<(), SinkError> {
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        if let Some(error) = self.script.lock().unwrap().pop_front() {
            if let SinkError::Rejected(rejected) = &error {
                let kept = rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !rejected.iter().any(|r| r.index == *i))
                    .map(|(_, r)| r.clone())
                    .collect();
                self.batches.lock().unwrap().push(kept);
            }
            return Err(error);
        }
        self.batches.lock().unwrap().push(rows.to_vec());
        Ok(())
    }
}

struct Harness {
    bus: MemoryBus,
    sink: Arc<TestSink>,
    metrics: Arc<StageMetrics>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), StageError>>,
}

fn limits(max_rows: usize, max_bytes: usize, max_wait_ms: u64) -> BatchLimits {
    BatchLimits { max_rows, max_bytes, max_wait: Duration::from_millis(max_wait_ms) }
}

fn dead_letters(bus: &MemoryBus, stage: &str) -> DeadLetters {
    DeadLetters { publisher: bus.publisher(), topic: DLQ.into(), stage: stage.into(), backoff: Backoff::default() }
}

async fn start_sink(bus: &MemoryBus, sink: TestSink, limits: BatchLimits) -> Harness {
    let sink = Arc::new(sink);
    let metrics = Arc::new(StageMetrics::default());
    let shutdown = CancellationToken::new();
    let subscriber = bus.subscribe(GROUP, &[INPUT]).await.unwrap();
    let config = SinkStageConfig {
        name: "test-sink".into(),
        limits,
        backoff: Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5) },
    };
    let task = tokio::spawn(run_sink_stage(
        subscriber,
        sink.clone(),
        dead_letters(bus, "test-sink"),
        config,
        metrics.clone(),
        shutdown.clone(),
    ));
    Harness { bus: bus.clone(), sink, metrics, shutdown, task }
}

async fn publish(bus: &MemoryBus, payloads: &[&str]) {
    for p in payloads {
        bus.publish(INPUT, p.as_bytes(), p.as_bytes()).await.unwrap();
    }
}

/// Lets spawned tasks run without moving the paused clock.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

impl Harness {
    fn batches(&self) -> Vec<Vec<String>> {
        self.sink.batches.lock().unwrap().clone()
    }

    fn written(&self) -> Vec<String> {
        let mut all: Vec<String> = self.batches().concat();
        all.sort();
        all
    }

    fn lag(&self) -> i64 {
        self.bus.lag(GROUP, INPUT)
    }

    async fn stop(self) -> Result<(), StageError> {
        self.shutdown.cancel();
        self.task.await.unwrap()
    }
}

async fn dlq_records(bus: &MemoryBus) -> Vec<DlqRecord> {
    let mut sub = bus.subscribe("dlq-reader", &[DLQ]).await.unwrap();
    let mut out = Vec::new();
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(10), sub.recv()).await {
        out.push(otklik_model::decode("DlqRecord", &m.payload).unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_written_at_once_and_the_rest_after_max_wait() {
    let bus = MemoryBus::new(1);
    let h = start_sink(&bus, TestSink::default(), limits(3, usize::MAX, 1000)).await;
    publish(&bus, &["a", "b", "c", "d", "e", "f", "g"]).await;
    settle().await;
    assert_eq!(h.batches(), vec![vec!["a", "b", "c"], vec!["d", "e", "f"]]);
    assert_eq!(h.lag(), 1, "two full batches committed, the seventh row waits");
    tokio::time::sleep(Duration::from_millis(999)).await;
    settle().await;
    assert_eq!(h.batches().len(), 2, "not before max_wait");
    tokio::time::sleep(Duration::from_millis(2)).await;
    settle().await;
    assert_eq!(h.batches()[2], vec!["g"]);
    assert_eq!(h.lag(), 0);
    h.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_byte_limit_closes_a_batch() {
    let bus = MemoryBus::new(1);
    let h = start_sink(&bus, TestSink::default(), limits(1000, 10, 60_000)).await;
    publish(&bus, &["12345", "67890", "x"]).await;
    settle().await;
    assert_eq!(h.batches(), vec![vec!["12345", "67890"]]);
    h.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_are_retried_with_backoff_and_nothing_is_committed_before_the_write() {
    let bus = MemoryBus::new(1);
    let sink = TestSink::default();
    sink.script
        .lock()
        .unwrap()
        .extend([SinkError::Retryable("down".into()), SinkError::Retryable("still down".into())]);
    let h = start_sink(&bus, sink, limits(2, usize::MAX, 1000)).await;
    publish(&bus, &["a", "b"]).await;
    settle().await;
    assert!(h.batches().is_empty());
    assert_eq!(h.lag(), 2, "no commit while the write keeps failing");
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(h.batches(), vec![vec!["a", "b"]]);
    assert_eq!(StageMetrics::get(&h.metrics.retries), 2);
    assert_eq!(h.lag(), 0);
    h.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn offsets_are_committed_only_after_the_sink_acknowledges() {
    let bus = MemoryBus::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let h = start_sink(&bus, TestSink { gate: Some(gate.clone()), ..Default::default() }, limits(2, usize::MAX, 1000))
        .await;
    publish(&bus, &["a", "b"]).await;
    settle().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(h.lag(), 2, "the write is in progress: nothing committed");
    gate.add_permits(1);
    settle().await;
    assert_eq!(h.lag(), 0);
    gate.add_permits(10);
    h.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn undecodable_and_rejected_rows_go_to_the_dlq_and_the_rest_is_written() {
    let bus = MemoryBus::new(1);
    let sink = TestSink::default();
    sink.script
        .lock()
        .unwrap()
        .push_back(SinkError::Rejected(vec![Rejection { index: 1, reason: "Cannot parse input".into() }]));
    let h = start_sink(&bus, sink, limits(4, usize::MAX, 1000)).await;
    publish(&bus, &["a", "bad-1", "b", "c", "d"]).await;
    settle().await;
    assert_eq!(h.written(), vec!["a", "c", "d"]);
    assert_eq!(h.lag(), 0, "dead-lettered messages are committed too");
    let dlq = dlq_records(&bus).await;
    let mut reasons: Vec<_> = dlq.iter().map(|r| (r.payload.as_str(), r.error.as_str(), r.stage.as_str())).collect();
    reasons.sort();
    assert_eq!(reasons, vec![("b", "Cannot parse input", "test-sink"), ("bad-1", "cannot decode bad-1", "test-sink")]);
    assert!(dlq.iter().all(|r| r.topic == INPUT && r.offset.is_some()));
    assert_eq!(StageMetrics::get(&h.metrics.dead_lettered), 2);
    h.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_the_partial_batch_and_commits_it() {
    let bus = MemoryBus::new(1);
    let h = start_sink(&bus, TestSink::default(), limits(100, usize::MAX, 60_000)).await;
    publish(&bus, &["a", "b", "c"]).await;
    settle().await;
    assert!(h.batches().is_empty());
    let bus = h.bus.clone();
    let sink = h.sink.clone();
    h.stop().await.unwrap();
    assert_eq!(sink.batches.lock().unwrap().concat(), vec!["a", "b", "c"]);
    assert_eq!(bus.lag(GROUP, INPUT), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_the_sink_down_hands_the_batch_back_for_redelivery() {
    let bus = MemoryBus::new(1);
    let sink = TestSink::default();
    sink.script.lock().unwrap().extend((0..100).map(|_| SinkError::Retryable("down".into())));
    let h = start_sink(&bus, sink, limits(2, usize::MAX, 1000)).await;
    publish(&bus, &["a", "b", "c"]).await;
    settle().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bus = h.bus.clone();
    h.stop().await.unwrap();
    assert_eq!(bus.lag(GROUP, INPUT), 3, "nothing committed");
    // A restarted sink receives all three again.
    let restarted = start_sink(&bus, TestSink::default(), limits(3, usize::MAX, 1000)).await;
    settle().await;
    assert_eq!(restarted.written(), vec!["a", "b", "c"]);
    restarted.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_fatal_sink_error_stops_the_stage_without_committing() {
    let bus = MemoryBus::new(1);
    let sink = TestSink::default();
    sink.script.lock().unwrap().push_back(SinkError::Fatal("table does not exist".into()));
    let h = start_sink(&bus, sink, limits(1, usize::MAX, 1000)).await;
    publish(&bus, &["a"]).await;
    settle().await;
    assert!(h.task.is_finished());
    assert_eq!(h.lag(), 1);
    let err = h.task.await.unwrap().unwrap_err().to_string();
    assert!(err.contains("table does not exist"), "{err}");
}

struct Upper;

impl Transform for Upper {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let text = std::str::from_utf8(&message.payload).map_err(|e| Unprocessable(format!("not UTF-8: {e}")))?;
        if text.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![Output {
            topic: OUTPUT.into(),
            key: message.key.clone().unwrap_or_default(),
            payload: text.to_uppercase().into_bytes(),
        }])
    }
}

#[tokio::test(start_paused = true)]
async fn the_map_stage_publishes_outputs_dead_letters_failures_and_commits() {
    let bus = MemoryBus::new(2);
    let metrics = Arc::new(StageMetrics::default());
    let shutdown = CancellationToken::new();
    let subscriber = bus.subscribe("map", &[INPUT]).await.unwrap();
    let config = MapStageConfig {
        name: "upper".into(),
        max_batch: 2,
        in_flight: 1,
        commit_interval: Duration::from_secs(1),
        backoff: Backoff::default(),
    };
    let task = tokio::spawn(run_map_stage(
        subscriber,
        bus.publisher(),
        Arc::new(Upper),
        dead_letters(&bus, "upper"),
        config,
        metrics.clone(),
        shutdown.clone(),
    ));
    publish(&bus, &["a", "b", ""]).await;
    bus.publish(INPUT, b"k", b"\xff\xfe").await.unwrap();
    settle().await;
    let mut out = bus.subscribe("reader", &[OUTPUT]).await.unwrap();
    let mut got = vec![];
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(10), out.recv()).await {
        got.push(String::from_utf8(m.payload).unwrap());
    }
    got.sort();
    assert_eq!(got, vec!["A", "B"]);
    let dlq = dlq_records(&bus).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].payload_bytes().unwrap(), b"\xff\xfe");
    assert!(dlq[0].error.starts_with("not UTF-8"));
    assert_eq!(bus.lag("map", INPUT), 0);
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(metrics.snapshot().received, 4);
}

/// Turns `grow:N` into an output of N bytes; anything else passes through.
struct Grow;

impl Transform for Grow {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let text = String::from_utf8_lossy(&message.payload);
        let payload = match text.strip_prefix("grow:").and_then(|n| n.split_whitespace().next()?.parse::<usize>().ok())
        {
            Some(n) => vec![b'x'; n],
            None => message.payload.clone(),
        };
        Ok(vec![Output { topic: OUTPUT.into(), key: message.key.clone().unwrap_or_default(), payload }])
    }
}

fn start_grow(
    bus: &MemoryBus,
    subscriber: Box<dyn Subscriber>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), StageError>> {
    let config = MapStageConfig {
        name: "grow".into(),
        max_batch: 8,
        in_flight: 2,
        commit_interval: Duration::from_secs(1),
        backoff: Backoff::default(),
    };
    let metrics = Arc::new(StageMetrics::default());
    tokio::spawn(run_map_stage(
        subscriber,
        bus.publisher(),
        Arc::new(Grow),
        dead_letters(bus, "grow"),
        config,
        metrics,
        shutdown.clone(),
    ))
}

/// Publishes under one key, so every message lands in one partition, in order.
async fn publish_in_order(bus: &MemoryBus, payloads: &[&str]) {
    for p in payloads {
        bus.publish(INPUT, b"k", p.as_bytes()).await.unwrap();
    }
}

async fn outputs(bus: &MemoryBus) -> Vec<Vec<u8>> {
    let mut out = bus.subscribe("reader", &[OUTPUT]).await.unwrap();
    let mut got = vec![];
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(10), out.recv()).await {
        got.push(m.payload);
    }
    got
}

#[tokio::test(start_paused = true)]
async fn an_output_the_bus_refuses_sends_its_message_to_the_dlq_and_the_stage_goes_on() {
    // The bus takes records of up to 100 kB, as a broker with message.max.bytes = 100000 would.
    let bus = MemoryBus::with_max_record_bytes(2, 100_000);
    let shutdown = CancellationToken::new();
    let task = start_grow(&bus, bus.subscribe("map", &[INPUT]).await.unwrap(), &shutdown);
    // An input just under the limit whose output is over it: its DLQ record (the input plus the
    // record's fields) is over the limit too, so the payload is cut.
    let near_limit = format!("grow:200000{}", " ".repeat(99_880));
    publish_in_order(&bus, &["before", "grow:500000", &near_limit, "after"]).await;
    settle().await;
    assert_eq!(outputs(&bus).await, vec![b"before".to_vec(), b"after".to_vec()]);
    let dlq = dlq_records(&bus).await;
    assert_eq!(dlq.len(), 2, "{dlq:?}");
    assert_eq!(dlq[0].payload_bytes().unwrap(), b"grow:500000");
    assert!(dlq[0].error.contains("refused by the bus"), "{}", dlq[0].error);
    assert_eq!(dlq[1].payload.len(), TRUNCATED_PAYLOAD_BYTES);
    assert!(near_limit.starts_with(&dlq[1].payload));
    assert!(dlq[1].error.contains("payload truncated"), "{}", dlq[1].error);
    assert_eq!(bus.lag("map", INPUT), 0, "everything handled and committed");
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Fails its first `failures` commits as a rebalance would (retryable), then commits.
struct LosesCommits {
    inner: Box<dyn Subscriber>,
    failures: usize,
}

#[async_trait]
impl Subscriber for LosesCommits {
    async fn recv(&mut self) -> Result<Message, BusError> {
        self.inner.recv().await
    }

    async fn commit(&mut self, offsets: &Offsets) -> Result<(), BusError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(BusError::retryable("Kafka commit failed: Broker: Unknown member"));
        }
        self.inner.commit(offsets).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_retryable_commit_failure_does_not_end_the_stage() {
    let bus = MemoryBus::new(2);
    let shutdown = CancellationToken::new();
    let subscriber = Box::new(LosesCommits { inner: bus.subscribe("map", &[INPUT]).await.unwrap(), failures: 1 });
    let task = start_grow(&bus, subscriber, &shutdown);
    publish_in_order(&bus, &["one"]).await;
    settle().await;
    assert!(!task.is_finished(), "the stage ended on a retryable commit error");
    assert_eq!(bus.lag("map", INPUT), 1, "the failed commit is not retried as such");
    publish_in_order(&bus, &["two"]).await;
    settle().await;
    // The next commit of the partition covers the lost one.
    assert_eq!(bus.lag("map", INPUT), 0);
    assert_eq!(outputs(&bus).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_draining_sink_writes_without_waiting_out_max_wait() {
    let bus = MemoryBus::new(2);
    let sink = Arc::new(TestSink::default());
    let (shutdown, drain) = (CancellationToken::new(), CancellationToken::new());
    let subscriber = bus.subscribe(GROUP, &[INPUT]).await.unwrap();
    // Duration::MAX: a library user who bypassed validation must not make the deadline overflow.
    let limits = BatchLimits { max_rows: 1000, max_bytes: usize::MAX, max_wait: Duration::MAX };
    let config = SinkStageConfig { name: "drain".into(), limits, backoff: Backoff::default() };
    let metrics = Arc::new(StageMetrics::default());
    let dlq = dead_letters(&bus, "drain");
    let (stop, drain_now) = (shutdown.clone(), drain.clone());
    let stage = run_sink_stage_draining(subscriber, sink.clone(), dlq, config, metrics, stop, drain_now);
    let task = tokio::spawn(stage);
    publish(&bus, &["a", "b", "c"]).await;
    settle().await;
    assert!(sink.batches.lock().unwrap().is_empty(), "not drained yet: the batch waits for max_wait");
    drain.cancel();
    settle().await;
    assert_eq!(sink.batches.lock().unwrap().concat().len(), 3, "drained without the clock moving");
    assert_eq!(bus.lag(GROUP, INPUT), 0);
    publish(&bus, &["d"]).await;
    settle().await;
    assert_eq!(sink.batches.lock().unwrap().concat().len(), 4, "a late message is written at once too");
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Holds every publish of a payload until the test releases that payload.
#[derive(Default)]
struct HeldAcks {
    inner: Option<Arc<dyn Publisher>>,
    released: Mutex<std::collections::HashSet<Vec<u8>>>,
    notify: tokio::sync::Notify,
}

impl HeldAcks {
    fn release(&self, payload: &str) {
        self.released.lock().unwrap().insert(payload.as_bytes().to_vec());
        self.notify.notify_waiters();
    }
}

#[async_trait]
impl Publisher for HeldAcks {
    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<(), BusError> {
        loop {
            let notified = self.notify.notified();
            if self.released.lock().unwrap().contains(payload) {
                return self.inner.as_ref().unwrap().publish(topic, key, payload).await;
            }
            notified.await;
        }
    }
}

/// Counts the messages it transforms; passes them through upper-cased.
#[derive(Default)]
struct CountingUpper(std::sync::atomic::AtomicUsize);

impl Transform for CountingUpper {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Upper.apply(message)
    }
}

#[tokio::test(start_paused = true)]
async fn batches_in_flight_overlap_their_acks_yet_commit_only_a_contiguous_prefix() {
    for in_flight in [1, 2] {
        let bus = MemoryBus::new(1);
        let acks = Arc::new(HeldAcks { inner: Some(bus.publisher()), ..HeldAcks::default() });
        let transform = Arc::new(CountingUpper::default());
        let shutdown = CancellationToken::new();
        let subscriber = bus.subscribe("map", &[INPUT]).await.unwrap();
        let config = MapStageConfig {
            name: "upper".into(),
            max_batch: 1,
            in_flight,
            commit_interval: Duration::ZERO,
            backoff: Backoff::default(),
        };
        let (metrics, dead) = (Arc::new(StageMetrics::default()), dead_letters(&bus, "upper"));
        let task = tokio::spawn(run_map_stage(
            subscriber,
            acks.clone(),
            transform.clone(),
            dead,
            config,
            metrics,
            shutdown.clone(),
        ));
        publish_in_order(&bus, &["a", "b", "c"]).await;
        settle().await;
        // Nothing is acknowledged: the stage has taken as many batches as it may keep in flight.
        assert_eq!(transform.0.load(std::sync::atomic::Ordering::SeqCst), in_flight);
        assert_eq!(bus.lag("map", INPUT), 3);
        // A later batch acknowledged before an earlier one commits nothing.
        acks.release("B");
        settle().await;
        assert_eq!(bus.lag("map", INPUT), 3, "in_flight {in_flight}");
        acks.release("A");
        acks.release("C");
        settle().await;
        assert_eq!(bus.lag("map", INPUT), 0, "in_flight {in_flight}");
        let mut got: Vec<_> = outputs(&bus).await.into_iter().map(|p| String::from_utf8(p).unwrap()).collect();
        got.sort();
        assert_eq!(got, ["A", "B", "C"]);
        shutdown.cancel();
        task.await.unwrap().unwrap();
    }
}
