//! The notify stage in both wirings: alert events from the alerts topic go through the pure
//! router (`otklik_alert::route`: grouping, inhibition, silences) into the outbox
//! (`otklik_notify`: the delivery log first, then one task per receiver).
//!
//! Live, the router runs on the wall clock and the stage wakes when a group falls due. After a
//! restart the router is rebuilt from the delivery log (what was sent) and the alerts table (the
//! latest event of every alert), so nothing already sent goes out again, and the outbox resends
//! what was queued but never delivered.
//!
//! An embedded replay holds the alerts until the alert stage has raised them all, then routes
//! them on their own time (`raised_at`): the messages are those a live run would have sent —
//! opened after the group wait, updates, reminders, the resolution.
//!
//! Known limit: an alert's offset is committed once the router holds it, before its group is
//! due. A crash in between loses nothing only if the alerts sink stored the event (the restart
//! reads it back from there); the sink writes within `[sink] batch_wait`.

use crate::config::Config;
use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_alert::route::{Routed, Router};
use otklik_clickhouse::History;
use otklik_model::{Alert, AlertState};
use otklik_notify::{NotifyError, Outbox, Receiver};
use otklik_pipeline::{
    Backoff, CancellationToken, DeadLetters, Message, Offsets, StageError, StageMetrics, Subscriber,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How far back a restart reads the delivery log (the router's groups) and the alerts.
const RESTORE_DELIVERIES: chrono::Duration = chrono::Duration::days(7);
const RESTORE_ALERTS: chrono::Duration = chrono::Duration::hours(56);
/// How often silences are read again (set by `otklik alerts silence` or the page meanwhile).
const SILENCES_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// What drives the router's clock.
pub enum NotifyClock {
    Live,
    /// Cancelled once every alert of the replay is on the alerts topic and read by this stage.
    Replay {
        alerts_done: CancellationToken,
    },
}

/// The delivery log of `otklik_notify` over ClickHouse or the local store.
pub struct StoredDeliveryLog {
    pub log: otklik_clickhouse::DeliveryLog,
    pub history: History,
}

#[async_trait]
impl otklik_notify::DeliveryLog for StoredDeliveryLog {
    async fn append(&self, records: &[otklik_model::DeliveryRecord]) -> Result<(), NotifyError> {
        self.log.append(records, Utc::now()).await.map_err(log_error)
    }

    async fn records_since(&self, since: DateTime<Utc>) -> Result<Vec<otklik_model::DeliveryRecord>, NotifyError> {
        self.history.deliveries(since).await.map_err(log_error)
    }
}

fn log_error(e: otklik_clickhouse::HistoryError) -> NotifyError {
    NotifyError::Log { retryable: e.is_retryable(), message: e.to_string() }
}

/// The stage: the router, the outbox it feeds, and where silences are read.
pub struct NotifyStage {
    router: Router,
    outbox: Outbox,
    /// Ends the receivers' tasks once the stage has stopped.
    outbox_stop: CancellationToken,
    history: History,
    clock: NotifyClock,
    /// Replay: the alerts held until they are all in.
    held: Vec<Alert>,
    /// Replay: everything is routed and handed to the outbox.
    flushed: Arc<AtomicBool>,
    silences_read_at: Option<DateTime<Utc>>,
    backoff: Backoff,
}

impl NotifyStage {
    /// Starts the outbox and, live, rebuilds the router from what is stored.
    pub async fn start(
        config: &Config,
        receivers: &[otklik_notify::ReceiverConfig],
        history: History,
        log: Arc<dyn otklik_notify::DeliveryLog>,
        clock: NotifyClock,
    ) -> Result<NotifyStage> {
        let outbox_stop = CancellationToken::new();
        let receivers =
            Receiver::from_configs(receivers, &config.base_dir).context("cannot set up the alert receivers")?;
        let outbox = Outbox::start(receivers, log, outbox_stop.clone()).await.context("cannot start the outbox")?;
        let mut router = Router::new(config.alerts.router());
        if matches!(clock, NotifyClock::Live) {
            restore(&mut router, &history).await?;
        }
        let backoff = Backoff { initial: config.sink.retry_initial.0, max: config.sink.retry_max.0 };
        Ok(NotifyStage {
            router,
            outbox,
            outbox_stop,
            history,
            clock,
            held: Vec::new(),
            flushed: Arc::new(AtomicBool::new(false)),
            silences_read_at: None,
            backoff,
        })
    }

    /// Replay: true once every alert is routed and in the outbox.
    pub fn flushed(&self) -> Arc<AtomicBool> {
        self.flushed.clone()
    }

    /// Each receiver's live counters.
    pub fn receiver_metrics(&self) -> Vec<(String, Arc<otklik_notify::ReceiverMetrics>)> {
        self.outbox.receiver_metrics()
    }

    /// Reads alerts until `shutdown`, routing them and handing what is due to the outbox; then
    /// stops the receivers (what they have not delivered stays in the log for the next start).
    pub async fn run(
        mut self,
        subscriber: Box<dyn Subscriber>,
        dead_letters: DeadLetters,
        metrics: Arc<StageMetrics>,
        shutdown: CancellationToken,
    ) -> Result<(), StageError> {
        let ran = self.read(subscriber, dead_letters, metrics, shutdown).await;
        self.outbox_stop.cancel();
        self.outbox.join().await;
        ran
    }

    async fn read(
        &mut self,
        mut subscriber: Box<dyn Subscriber>,
        dead_letters: DeadLetters,
        metrics: Arc<StageMetrics>,
        shutdown: CancellationToken,
    ) -> Result<(), StageError> {
        let mut offsets = Offsets::default();
        let mut failures = 0;
        loop {
            let now = Utc::now();
            if let Err(e) = self.route(now, &metrics, &shutdown).await {
                failures += 1;
                tracing::warn!(error = %e, "cannot hand notifications to the outbox; retrying");
                StageMetrics::add(&metrics.retries, 1);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(self.backoff.delay(failures)) => continue,
                }
            }
            failures = 0;
            if !offsets.is_empty() {
                subscriber.commit(&offsets).await.map_err(StageError::Bus)?;
                StageMetrics::add(&metrics.commits, 1);
                offsets.clear();
            }
            let wait = self.wait(now);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                received = subscriber.recv() => {
                    let message = received.map_err(StageError::Bus)?;
                    StageMetrics::add(&metrics.received, 1);
                    self.take(&message, &dead_letters, &metrics, &shutdown).await?;
                    offsets.advance(&message);
                }
            }
        }
        Ok(())
    }

    async fn take(
        &mut self,
        message: &Message,
        dead_letters: &DeadLetters,
        metrics: &StageMetrics,
        shutdown: &CancellationToken,
    ) -> Result<(), StageError> {
        match otklik_model::decode::<Alert>("Alert", &message.payload) {
            Ok(alert) if matches!(self.clock, NotifyClock::Replay { .. }) => self.held.push(alert),
            Ok(alert) => self.router.on_alert(alert, Utc::now()),
            Err(e) => {
                dead_letters.send(message, &e.to_string(), shutdown).await.map_err(StageError::Bus)?;
                StageMetrics::add(&metrics.dead_lettered, 1);
            }
        }
        Ok(())
    }

    /// Until the next thing to do: a group falling due, silences to read again, a replay's end.
    fn wait(&self, now: DateTime<Utc>) -> Duration {
        if let NotifyClock::Replay { alerts_done } = &self.clock {
            let waiting = !alerts_done.is_cancelled() || !self.flushed.load(Ordering::SeqCst);
            return if waiting { Duration::from_millis(50) } else { Duration::from_secs(3600) };
        }
        let silences = self.silences_read_at.map_or(now, |t| t + SILENCES_EVERY);
        let next = self.router.next_due().map_or(silences, |due| due.min(silences));
        (next - now).to_std().unwrap_or(Duration::ZERO).max(Duration::from_millis(10))
    }

    /// Routes what is due and hands it to the outbox; in a replay, once all alerts are in,
    /// routes them all on their own time.
    async fn route(&mut self, now: DateTime<Utc>, metrics: &StageMetrics, shutdown: &CancellationToken) -> Result<()> {
        if self.silences_read_at.is_none_or(|t| now - t >= SILENCES_EVERY) {
            let silences =
                self.history.silences(now - chrono::Duration::days(1)).await.context("cannot read the silences")?;
            self.router.set_silences(silences);
            self.silences_read_at = Some(now);
        }
        let routed = match &self.clock {
            NotifyClock::Live => self.router.due(now),
            NotifyClock::Replay { alerts_done }
                if alerts_done.is_cancelled() && !self.flushed.load(Ordering::SeqCst) =>
            {
                self.replay()
            }
            NotifyClock::Replay { .. } => return Ok(()),
        };
        self.hand(routed, metrics, shutdown).await?;
        if matches!(self.clock, NotifyClock::Replay { .. }) {
            self.flushed.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The held alerts in the order they were raised, each after what fell due before it, then
    /// the clock run on until no group has news left to tell. Reminders fall due only while the
    /// replayed data lasts: an alert still open at its end would otherwise be reminded of every
    /// `repeat_interval` until the end of time.
    fn replay(&mut self) -> Routed {
        let mut alerts = std::mem::take(&mut self.held);
        alerts
            .sort_by(|a, b| (a.raised_at, state_rank(a.state), &a.id).cmp(&(b.raised_at, state_rank(b.state), &b.id)));
        let mut all = Routed::default();
        let mut clock = DateTime::<Utc>::MIN_UTC;
        for alert in alerts {
            let at = alert.raised_at;
            all = self.run_on(clock, all, |router| router.next_due().filter(|due| *due < at));
            clock = clock.max(at);
            self.router.on_alert(alert, clock);
        }
        self.run_on(clock, all, Router::next_change)
    }

    /// Runs the router at each moment `next` names, at that moment (or at `clock`, for one already
    /// past) until it names none.
    fn run_on(
        &mut self,
        clock: DateTime<Utc>,
        mut all: Routed,
        next: impl Fn(&Router) -> Option<DateTime<Utc>>,
    ) -> Routed {
        while let Some(due) = next(&self.router) {
            let due = due.max(clock);
            let routed = self.router.due(due);
            let idle = routed.send.is_empty() && routed.suppressed.is_empty();
            all.send.extend(routed.send);
            all.suppressed.extend(routed.suppressed);
            // `due` acts on what `next` named; a router that neither said anything nor moved its
            // next moment past `due` would be asked the same forever.
            if idle && next(&self.router).is_some_and(|again| again <= due) {
                break;
            }
        }
        all
    }

    async fn hand(&self, routed: Routed, metrics: &StageMetrics, shutdown: &CancellationToken) -> Result<()> {
        if shutdown.is_cancelled() && routed.send.is_empty() && routed.suppressed.is_empty() {
            return Ok(());
        }
        let sent = routed.send.len() as u64;
        for n in &routed.send {
            tracing::info!(id = %n.id, receiver = %n.receiver, kind = n.kind.as_str(), alerts = n.alerts.len(), "notification queued");
        }
        self.outbox.record(routed.suppressed).await?;
        self.outbox.enqueue(routed.send).await?;
        StageMetrics::add(&metrics.emitted, sent);
        Ok(())
    }
}

fn state_rank(state: AlertState) -> u8 {
    match state {
        AlertState::Opened => 0,
        AlertState::Reopened => 1,
        AlertState::Updated => 2,
        AlertState::Resolved => 3,
    }
}

/// The router after a restart: the groups from the notifications sent, then the latest event of
/// every recent alert (an event already sent changes nothing).
async fn restore(router: &mut Router, history: &History) -> Result<()> {
    let now = Utc::now();
    let records = history.deliveries(now - RESTORE_DELIVERIES).await.context("cannot read the delivery log")?;
    let sent: Vec<otklik_model::Notification> = records.into_iter().filter_map(|r| r.notification).collect();
    router.restore(&sent);
    let rows = history.latest_alerts(now - RESTORE_ALERTS).await.context("cannot read the alerts")?;
    for row in &rows {
        match Alert::try_from(row) {
            Ok(alert) => router.on_alert(alert, now),
            Err(e) => tracing::warn!(error = %e, "a stored alert cannot be read back; it is not routed again"),
        }
    }
    Ok(())
}

/// The webhook sink of `[alerts.local_receiver]`, served until dropped.
pub struct LocalReceiver {
    _stop: tokio_util::sync::DropGuard,
}

/// The configured receivers, with the one `[alerts.local_receiver]` serves pointed at the sink
/// started here (deliveries appended under `dir`).
pub async fn local_receiver(
    config: &Config,
    dir: &std::path::Path,
) -> Result<(Vec<otklik_notify::ReceiverConfig>, Option<LocalReceiver>)> {
    let mut receivers = config.alerts.receivers.clone();
    let Some(local) = &config.alerts.local_receiver else { return Ok((receivers, None)) };
    let Some(otklik_notify::ReceiverConfig::Webhook(webhook)) =
        receivers.iter_mut().find(|r| r.name() == local.receiver)
    else {
        anyhow::bail!("[alerts.local_receiver] receiver: no webhook receiver is named {:?}", local.receiver);
    };
    let secret = otklik_notify::ReceiverConfig::Webhook(webhook.clone())
        .load_secret(&config.base_dir)
        .map_err(|p| anyhow::anyhow!("[alerts.receiver] {}: {p}", webhook.name))?;
    let key = otklik_notify::webhook::SigningKey::from_secret(&secret).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(&local.listen)
        .await
        .with_context(|| format!("cannot listen on {}", local.listen))?;
    let address = listener.local_addr()?;
    webhook.url = format!("http://{address}{}", otklik_web::receiver::PATH);
    tracing::info!(receiver = %webhook.name, "the local webhook sink listens on {address}; deliveries go to {}", dir.display());
    let stop = CancellationToken::new();
    let (shutdown, dir) = (stop.clone().cancelled_owned(), dir.to_owned());
    tokio::spawn(async move {
        if let Err(e) = otklik_web::receiver::run(listener, key, dir, shutdown).await {
            tracing::error!(error = %e, "the local webhook sink stopped");
        }
    });
    Ok((receivers, Some(LocalReceiver { _stop: stop.drop_guard() })))
}
