//! Telling Kafka trouble once. During a broker outage librdkafka reports every reconnect attempt
//! of every client twice (an error callback and a log line), and a consumer sees the same error
//! again on each poll: a 27 s outage made 137 ERROR lines. [`Repeats`] turns that into one WARN
//! per kind of trouble when it starts, at most one summary line per interval while it lasts, and
//! one INFO line when the client works again. [`QuietContext`] routes librdkafka's callbacks
//! through it; the publisher and the subscriber report their own errors and successes to it.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::TopicPartitionList;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a lasting kind of trouble is summarised.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(30);

/// What to say about one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tell {
    /// The first of its kind (or the first after it had stopped): say it.
    First,
    /// It goes on: say how many were not told since the last line.
    Summary { untold: u64, lasting: Duration },
    /// Already told recently.
    Quiet,
}

/// One kind of trouble going on.
#[derive(Debug, Clone)]
struct Run {
    started: Instant,
    last_told: Instant,
    untold: u64,
    total: u64,
}

/// What was going on when the client recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub kind: String,
    pub occurrences: u64,
    pub lasted: Duration,
}

/// The trouble going on, by kind. Pure: the caller passes the time.
#[derive(Debug)]
pub struct Repeats {
    interval: Duration,
    runs: HashMap<String, Run>,
}

impl Repeats {
    pub fn new(interval: Duration) -> Self {
        Repeats { interval, runs: HashMap::new() }
    }

    /// Notes one occurrence of `kind` at `now` and says whether to tell it.
    pub fn observe(&mut self, kind: &str, now: Instant) -> Tell {
        let Some(run) = self.runs.get_mut(kind) else {
            self.runs.insert(kind.to_owned(), Run { started: now, last_told: now, untold: 0, total: 1 });
            return Tell::First;
        };
        run.total += 1;
        if now.saturating_duration_since(run.last_told) < self.interval {
            run.untold += 1;
            return Tell::Quiet;
        }
        let tell = Tell::Summary { untold: run.untold + 1, lasting: now.saturating_duration_since(run.started) };
        run.last_told = now;
        run.untold = 0;
        tell
    }

    /// The client works again: every run ends. Returns what ended (nothing when all was well).
    pub fn recovered(&mut self, now: Instant) -> Vec<Ended> {
        let mut ended: Vec<Ended> = self
            .runs
            .drain()
            .map(|(kind, run)| Ended {
                kind,
                occurrences: run.total,
                lasted: now.saturating_duration_since(run.started),
            })
            .collect();
        ended.sort_by(|a, b| a.kind.cmp(&b.kind));
        ended
    }

    pub fn is_quiet(&self) -> bool {
        self.runs.is_empty()
    }
}

/// The [`Repeats`] of one bus, shared by its clients, and the logging around it.
#[derive(Clone)]
pub struct Trouble {
    repeats: Arc<Mutex<Repeats>>,
    /// Set while some run is open, so that the hot path (every message) checks one atomic.
    open: Arc<AtomicBool>,
}

impl Default for Trouble {
    fn default() -> Self {
        Trouble {
            repeats: Arc::new(Mutex::new(Repeats::new(SUMMARY_INTERVAL))),
            open: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Trouble {
    /// Reports `message` of kind `kind` (an error code or a log facility), logging it when
    /// [`Repeats`] says so.
    pub fn report(&self, kind: &str, message: &str) {
        let tell = self.repeats.lock().unwrap_or_else(|p| p.into_inner()).observe(kind, Instant::now());
        self.open.store(true, Ordering::Release);
        match tell {
            Tell::First => tracing::warn!(kind, "Kafka: {message} (retrying; repeats are summarised)"),
            Tell::Summary { untold, lasting } => {
                tracing::warn!(kind, untold, lasting_s = lasting.as_secs(), "Kafka trouble goes on: {message}")
            }
            Tell::Quiet => {}
        }
    }

    /// A call succeeded: whatever trouble was going on is over.
    pub fn ok(&self) {
        if !self.open.swap(false, Ordering::AcqRel) {
            return;
        }
        let ended = self.repeats.lock().unwrap_or_else(|p| p.into_inner()).recovered(Instant::now());
        for Ended { kind, occurrences, lasted } in ended {
            tracing::info!(kind, occurrences, lasted_s = lasted.as_secs(), "Kafka works again");
        }
    }
}

/// The rdkafka context of every otklik client: librdkafka's errors and warnings go through
/// [`Trouble`]; its informational lines are kept at DEBUG; partition assignments and
/// revocations are logged and counted.
#[derive(Clone, Default)]
pub struct QuietContext {
    pub trouble: Trouble,
    /// Revocations seen by the consumers of this context (a member that leaves the group, or a
    /// rebalance, takes partitions away).
    pub revocations: Arc<AtomicU64>,
    /// The clients' latest statistics reports (consumer lag, producer queue).
    pub stats: Arc<crate::stats::KafkaStats>,
    /// The consumer group of the client this context belongs to: lag is the group's, so two
    /// groups reading one partition each have their own. `None` for producers and for the
    /// group-less readers of whole topics (whose lag is nobody's).
    pub group: Option<Arc<str>>,
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        // A configuration warning is said once at start-up and is no trouble that can end.
        if fac == "CONFWARN" {
            tracing::warn!("Kafka: {log_message}");
            return;
        }
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => self.trouble.report(fac, log_message),
            _ => tracing::debug!(facility = fac, "librdkafka: {log_message}"),
        }
    }

    fn stats(&self, statistics: rdkafka::statistics::Statistics) {
        self.stats.record(&statistics, self.group.as_deref());
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let kind = error.rdkafka_error_code().map_or_else(|| "client".to_owned(), |code| format!("{code:?}"));
        self.trouble.report(&kind, reason);
    }
}

impl ConsumerContext for QuietContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => tracing::info!(partitions = %describe(partitions), "partitions assigned"),
            Rebalance::Revoke(partitions) => {
                self.revocations.fetch_add(1, Ordering::Relaxed);
                tracing::info!(partitions = %describe(partitions), "partitions revoked");
            }
            Rebalance::Error(e) => self.trouble.report("rebalance", &e.to_string()),
        }
    }
}

/// `topic[0,1,2] other[3]`.
fn describe(partitions: &TopicPartitionList) -> String {
    let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = std::collections::BTreeMap::new();
    for element in partitions.elements() {
        by_topic.entry(element.topic().to_owned()).or_default().push(element.partition());
    }
    let parts: Vec<String> = by_topic.iter().map(|(topic, ids)| format!("{topic}{ids:?}")).collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_once_then_summarised_then_ended() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut repeats = Repeats::new(Duration::from_secs(30));
        // A reconnect attempt every second for 70 s, from two kinds of report.
        let mut told = Vec::new();
        for s in 0..70 {
            for kind in ["BrokerTransportFailure", "FAIL"] {
                match repeats.observe(kind, at(s)) {
                    Tell::Quiet => {}
                    tell => told.push((s, kind, tell)),
                }
            }
        }
        let summary = |untold, lasting| Tell::Summary { untold, lasting: Duration::from_secs(lasting) };
        assert_eq!(
            told,
            vec![
                (0, "BrokerTransportFailure", Tell::First),
                (0, "FAIL", Tell::First),
                (30, "BrokerTransportFailure", summary(30, 30)),
                (30, "FAIL", summary(30, 30)),
                (60, "BrokerTransportFailure", summary(30, 60)),
                (60, "FAIL", summary(30, 60)),
            ]
        );
        let ended = repeats.recovered(at(75));
        assert_eq!(ended.len(), 2);
        assert_eq!(
            ended[0],
            Ended { kind: "BrokerTransportFailure".into(), occurrences: 70, lasted: Duration::from_secs(75) }
        );
        assert!(repeats.is_quiet() && repeats.recovered(at(80)).is_empty());
        // After recovery the same trouble is news again.
        assert_eq!(repeats.observe("FAIL", at(90)), Tell::First);
    }
}
