//! The outbox: notifications are written to the delivery log before anything is sent, one task
//! per receiver delivers them (in order per thread, retrying with jittered backoff), and every
//! attempt is logged. After a restart [`rebuild`](crate::rebuild) finds what is still owed.

use crate::attempt::Verdict;
use crate::clock::{after, Clock, SystemClock};
use crate::metrics::{ReceiverCounts, ReceiverMetrics};
use crate::rebuild::{rebuild, Pending};
use crate::receiver::Receiver;
use crate::{DeliveryLog, NotifyError};
use chrono::{DateTime, Utc};
use otklik_model::{DeliveryOutcome, DeliveryRecord, Notification, Schema};
use otklik_pipeline::{Backoff, CancellationToken};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How the outbox retries and how far back it looks on start.
#[derive(Clone)]
pub struct OutboxOptions {
    /// Records read on start to rebuild the outbox and the Telegram threads.
    pub history: Duration,
    /// Retry waits: jittered exponential, capped (a receiver's `Retry-After` is capped the same).
    pub backoff: Backoff,
    /// A notification still undelivered this long after it was queued is given up (`failed`).
    pub give_up_after: Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            history: Duration::from_secs(7 * 86_400),
            backoff: Backoff { initial: Duration::from_secs(10), max: Duration::from_secs(6 * 3600) },
            give_up_after: Duration::from_secs(24 * 3600),
            clock: Arc::new(SystemClock),
        }
    }
}

/// A notification in a receiver's queue.
#[derive(Debug, Clone)]
struct Job {
    notification: Notification,
    attempts: u32,
    queued_at: DateTime<Utc>,
    next_at: DateTime<Utc>,
    message_ids: Vec<i64>,
}

impl From<Pending> for Job {
    fn from(p: Pending) -> Self {
        let next_at = p.next_attempt_at.unwrap_or(p.queued_at);
        Job {
            notification: p.notification,
            attempts: p.attempts,
            queued_at: p.queued_at,
            next_at,
            message_ids: p.message_ids,
        }
    }
}

struct Handle {
    tx: mpsc::UnboundedSender<Job>,
    metrics: Arc<ReceiverMetrics>,
}

/// The running outbox. Dropping it does not stop the receivers' tasks: cancel the shutdown
/// token, then [`Outbox::join`].
pub struct Outbox {
    log: Arc<dyn DeliveryLog>,
    clock: Arc<dyn Clock>,
    handles: HashMap<String, Handle>,
    known: Mutex<HashSet<String>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Outbox {
    /// [`Outbox::start_with`] the default options.
    pub async fn start(
        receivers: Vec<Receiver>,
        log: Arc<dyn DeliveryLog>,
        shutdown: CancellationToken,
    ) -> Result<Outbox, NotifyError> {
        Self::start_with(receivers, log, shutdown, OutboxOptions::default()).await
    }

    /// Reads the log's recent history, hands each receiver the work still owed to it, and
    /// starts one task per receiver.
    pub async fn start_with(
        receivers: Vec<Receiver>,
        log: Arc<dyn DeliveryLog>,
        shutdown: CancellationToken,
        options: OutboxOptions,
    ) -> Result<Outbox, NotifyError> {
        let clock = options.clock.clone();
        let since = clock.now() - chrono::Duration::from_std(options.history).unwrap_or(chrono::Duration::days(7));
        let rebuilt = rebuild(&log.records_since(since).await?);
        if !rebuilt.orphans.is_empty() {
            tracing::warn!(
                count = rebuilt.orphans.len(),
                "pending deliveries without their queued record (older than the history read) are skipped"
            );
        }
        let mut pending: HashMap<String, Vec<Job>> = HashMap::new();
        for p in rebuilt.pending {
            pending.entry(p.notification.receiver.clone()).or_default().push(Job::from(p));
        }
        let mut handles = HashMap::new();
        let mut tasks = Vec::new();
        for receiver in receivers {
            if let Receiver::Telegram(telegram) = &receiver {
                for ((name, thread), ids) in &rebuilt.threads {
                    if name == telegram.name() {
                        telegram.set_thread(thread, ids.clone());
                    }
                }
            }
            let name = receiver.name().to_owned();
            let (tx, rx) = mpsc::unbounded_channel();
            let metrics = Arc::new(ReceiverMetrics::default());
            let worker = Worker {
                receiver,
                log: log.clone(),
                options: options.clone(),
                metrics: metrics.clone(),
                rx,
                shutdown: shutdown.clone(),
                threads: BTreeMap::new(),
                hold_until: None,
            };
            let jobs = pending.remove(&name).unwrap_or_default();
            if !jobs.is_empty() {
                let count = jobs.len();
                tracing::info!(receiver = %name, count, "undelivered notifications from before the restart");
            }
            let span = tracing::info_span!("receiver", name = %name);
            tasks.push(tokio::spawn(worker.run(jobs).instrument(span)));
            handles.insert(name, Handle { tx, metrics });
        }
        for (receiver, jobs) in pending {
            let count = jobs.len();
            tracing::warn!(%receiver, count, "notifications owed to a receiver no longer configured are not sent");
        }
        Ok(Outbox { log, clock, handles, known: Mutex::new(rebuilt.known), tasks })
    }

    /// Writes a `queued` record for each notification (durably: once this returns, the caller
    /// may commit its input) and hands them to their receivers. A notification id already in
    /// the log is not queued again. An unknown or disabled receiver gets a final record instead.
    pub async fn enqueue(&self, notifications: Vec<Notification>) -> Result<(), NotifyError> {
        let now = self.clock.now();
        let mut records = Vec::new();
        let mut handed = Vec::new();
        let mut fresh = Vec::new();
        {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            for notification in notifications {
                if !known.insert(notification.id.clone()) {
                    continue;
                }
                fresh.push(notification.id.clone());
                let (outcome, detail) = match self.handles.get(&notification.receiver) {
                    None => (
                        DeliveryOutcome::Failed,
                        format!("no receiver named {:?} is configured", notification.receiver),
                    ),
                    Some(h) if h.metrics.is_disabled() => {
                        (DeliveryOutcome::Disabled, "the receiver is disabled (HTTP 410 Gone)".into())
                    }
                    Some(_) => (DeliveryOutcome::Queued, String::new()),
                };
                let mut record = record_of(&notification, 0, now, outcome, 0, detail);
                record.notification = Some(notification.clone());
                records.push(record);
                if outcome == DeliveryOutcome::Queued {
                    let job = Job { attempts: 0, queued_at: now, next_at: now, message_ids: Vec::new(), notification };
                    handed.push(job);
                }
            }
        }
        if let Err(e) = self.log.append(&records).await {
            // Not durable, so not queued: the caller will enqueue them again.
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            fresh.iter().for_each(|id| {
                known.remove(id);
            });
            return Err(e);
        }
        for job in handed {
            if let Some(handle) = self.handles.get(&job.notification.receiver) {
                ReceiverMetrics::add(&handle.metrics.pending, 1);
                // A stopped task (shutdown) leaves the job in the log for the next start.
                let _ = handle.tx.send(job);
            }
        }
        Ok(())
    }

    /// Appends records the router made itself (alerts silenced or inhibited: recorded, not sent).
    pub async fn record(&self, records: Vec<DeliveryRecord>) -> Result<(), NotifyError> {
        if records.is_empty() {
            return Ok(());
        }
        self.log.append(&records).await
    }

    /// Each receiver's counters, by name.
    pub fn metrics(&self) -> BTreeMap<String, ReceiverCounts> {
        self.handles.iter().map(|(name, h)| (name.clone(), h.metrics.snapshot())).collect()
    }

    /// Each receiver's live counters, shared (for an exporter or a caller waiting on `pending`).
    pub fn receiver_metrics(&self) -> Vec<(String, Arc<ReceiverMetrics>)> {
        self.handles.iter().map(|(name, h)| (name.clone(), h.metrics.clone())).collect()
    }

    /// Waits for the receivers' tasks to end (after the shutdown token is cancelled).
    pub async fn join(self) {
        drop(self.handles);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn record_of(
    notification: &Notification,
    attempt: u32,
    at: DateTime<Utc>,
    outcome: DeliveryOutcome,
    status_code: u16,
    detail: String,
) -> DeliveryRecord {
    DeliveryRecord {
        schema: Schema,
        notification_id: notification.id.clone(),
        receiver: notification.receiver.clone(),
        group_key: notification.group_key.clone(),
        alert_ids: notification.alerts.iter().map(|a| a.id.clone()).collect(),
        attempt,
        at,
        outcome,
        status_code,
        detail,
        next_attempt_at: None,
        message_ids: Vec::new(),
        notification: None,
    }
}

/// One receiver's task: its queue, one FIFO per thread, and the pause the receiver asked for.
struct Worker {
    receiver: Receiver,
    log: Arc<dyn DeliveryLog>,
    options: OutboxOptions,
    metrics: Arc<ReceiverMetrics>,
    rx: mpsc::UnboundedReceiver<Job>,
    shutdown: CancellationToken,
    threads: BTreeMap<String, VecDeque<Job>>,
    /// `Retry-After` / `retry_after`: nothing goes to the receiver before then.
    hold_until: Option<DateTime<Utc>>,
}

impl Worker {
    async fn run(mut self, restored: Vec<Job>) {
        ReceiverMetrics::add(&self.metrics.pending, restored.len() as u64);
        restored.into_iter().for_each(|job| self.push(job));
        // False once every sender is gone (the outbox was joined): only the queue is left.
        let mut open = true;
        loop {
            while let Ok(job) = self.rx.try_recv() {
                self.push(job);
            }
            let clock = self.options.clock.clone();
            let woke = match self.next_due() {
                Some((thread, at)) if at <= clock.now() => {
                    if self.attempt(&thread).await.is_err() {
                        return;
                    }
                    continue;
                }
                Some((_, at)) => tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => return,
                    job = self.rx.recv(), if open => job,
                    _ = clock.sleep_until(at) => continue,
                },
                None if !open => return,
                None => tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => return,
                    job = self.rx.recv() => job,
                },
            };
            match woke {
                Some(job) => self.push(job),
                None => open = false,
            }
        }
    }

    fn push(&mut self, job: Job) {
        self.threads.entry(job.notification.thread.clone()).or_default().push_back(job);
    }

    /// The thread whose head is due first, and when (never before the receiver's pause ends).
    fn next_due(&self) -> Option<(String, DateTime<Utc>)> {
        let earliest =
            self.threads.iter().filter_map(|(t, q)| q.front().map(|j| (t, j.next_at))).min_by_key(|(_, at)| *at)?;
        let at = self.hold_until.map_or(earliest.1, |hold| hold.max(earliest.1));
        Some((earliest.0.clone(), at))
    }

    /// Delivers the head of `thread` once and logs the attempt. `Err` means shutdown.
    async fn attempt(&mut self, thread: &str) -> Result<(), ()> {
        let Some(mut job) = self.threads.get_mut(thread).and_then(VecDeque::pop_front) else { return Ok(()) };
        let clock = self.options.clock.clone();
        if self.metrics.is_disabled() {
            let record = record_of(
                &job.notification,
                job.attempts,
                clock.now(),
                DeliveryOutcome::Disabled,
                410,
                disabled_detail(),
            );
            return self.finish(thread, record).await;
        }
        if clock.now() > after(job.queued_at, self.options.give_up_after) {
            let detail = format!(
                "given up: undelivered {} after it was queued",
                otklik_pipeline::units::format_duration(self.options.give_up_after)
            );
            ReceiverMetrics::add(&self.metrics.failed, 1);
            let record = record_of(&job.notification, job.attempts, clock.now(), DeliveryOutcome::Failed, 0, detail);
            return self.finish(thread, record).await;
        }
        let result = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return Err(()),
            result = self.receiver.deliver(&job.notification, &job.message_ids, clock.as_ref()) => result,
        };
        let now = clock.now();
        job.attempts += 1;
        let outcome = match result.verdict {
            Verdict::Delivered => DeliveryOutcome::Delivered,
            Verdict::Failed => DeliveryOutcome::Failed,
            Verdict::Disabled => DeliveryOutcome::Disabled,
            Verdict::Retry => DeliveryOutcome::Retry,
        };
        let mut record =
            record_of(&job.notification, job.attempts, now, outcome, result.status_code, result.detail.clone());
        record.message_ids = result.message_ids.clone();
        match result.verdict {
            Verdict::Delivered => ReceiverMetrics::add(&self.metrics.delivered, 1),
            Verdict::Failed => {
                let id = &job.notification.id;
                tracing::warn!(notification = %id, detail = %result.detail, "delivery failed for good");
                ReceiverMetrics::add(&self.metrics.failed, 1);
            }
            Verdict::Disabled => self.disable(&result.detail),
            Verdict::Retry => {
                let wait = result
                    .retry_after
                    .unwrap_or_else(|| self.options.backoff.delay(job.attempts - 1))
                    .min(self.options.backoff.max);
                let next = after(now, wait);
                if result.retry_after.is_some() {
                    self.hold_until = Some(next);
                }
                if next > after(job.queued_at, self.options.give_up_after) {
                    record.outcome = DeliveryOutcome::Failed;
                    record.detail = format!("{}; given up after {} attempts", result.detail, job.attempts);
                    ReceiverMetrics::add(&self.metrics.failed, 1);
                } else {
                    let (id, attempt) = (&job.notification.id, job.attempts);
                    let detail = &result.detail;
                    tracing::info!(notification = %id, attempt, ?wait, %detail, "delivery failed, retrying");
                    ReceiverMetrics::add(&self.metrics.retried, 1);
                    record.next_attempt_at = Some(next);
                    job.next_at = next;
                    job.message_ids = result.message_ids;
                    self.append(record).await;
                    if let Some(queue) = self.threads.get_mut(thread) {
                        queue.push_front(job);
                    }
                    return Ok(());
                }
            }
        }
        self.finish(thread, record).await
    }

    /// Logs the final record of the thread's head (already taken off its queue).
    async fn finish(&mut self, thread: &str, record: DeliveryRecord) -> Result<(), ()> {
        if self.threads.get(thread).is_some_and(VecDeque::is_empty) {
            self.threads.remove(thread);
        }
        self.metrics.pending.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.append(record).await;
        Ok(())
    }

    fn disable(&mut self, detail: &str) {
        self.metrics.disabled.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::error!(
            receiver = %self.receiver.name(),
            target = %self.receiver.describe(),
            detail,
            "RECEIVER DISABLED: it answered 410 Gone; nothing goes to it until its config changes and otklik restarts"
        );
    }

    /// Appends one record, retrying a few times: the attempt happened whether or not the log
    /// takes it, so the worker goes on either way (a lost record can mean one repeat after a
    /// restart, never a loss).
    async fn append(&self, record: DeliveryRecord) {
        let backoff = Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(30) };
        for attempt in 0..5 {
            match self.log.append(std::slice::from_ref(&record)).await {
                Ok(()) => return,
                Err(e) => {
                    let id = &record.notification_id;
                    tracing::warn!(notification = %id, error = %e, "cannot log a delivery attempt, retrying");
                    let clock = self.options.clock.clone();
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = clock.sleep_until(after(clock.now(), backoff.delay(attempt))) => {}
                    }
                }
            }
        }
        let (id, outcome) = (&record.notification_id, record.outcome.as_str());
        tracing::error!(notification = %id, outcome, "a delivery attempt could not be logged");
    }
}

fn disabled_detail() -> String {
    "the receiver is disabled (HTTP 410 Gone)".into()
}
