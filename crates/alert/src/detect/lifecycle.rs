//! One alert per series at a time: open → updated → resolved, reopened by a re-fire within 6 h,
//! closed after 2 h without a fire, capped at 48 h. Flapping input (a series crossing its
//! threshold every other hour) therefore gives one alert, not one per crossing.

use serde::{Deserialize, Serialize};

/// Durations of the lifecycle, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleConfig {
    pub resolve_after: i64,
    pub reopen_within: i64,
    pub cap: i64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig { resolve_after: 2 * 3600, reopen_within: 6 * 3600, cap: 48 * 3600 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Updated,
    Reopened,
    Resolved,
}

impl EventKind {
    pub fn state(self) -> otklik_model::AlertState {
        use otklik_model::AlertState;
        match self {
            EventKind::Opened => AlertState::Opened,
            EventKind::Updated => AlertState::Updated,
            EventKind::Reopened => AlertState::Reopened,
            EventKind::Resolved => AlertState::Resolved,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl From<Severity> for otklik_model::AlertSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Low => otklik_model::AlertSeverity::Low,
            Severity::Medium => otklik_model::AlertSeverity::Medium,
            Severity::High => otklik_model::AlertSeverity::High,
        }
    }
}

impl Severity {
    /// Strong evidence alone is not enough for a high severity: the excess must matter too.
    pub fn of(p_value: f64, observed: u64, expected: f64) -> Severity {
        let excess = observed as f64 - expected;
        if p_value < 1e-12 && excess >= 20.0 {
            Severity::High
        } else if p_value < 1e-8 && excess >= 8.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Idle,
    Open,
    Resolved,
    /// Closed by the 48 h cap; a new alert needs 2 quiet hours first.
    Capped,
}

/// A series' alert state; exportable so that a restart neither forgets nor re-sends an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub phase: Phase,
    pub id: String,
    pub opened_at: i64,
    pub last_fire: i64,
    pub resolved_at: i64,
    /// The count and severity last sent, so that only material growth is an update.
    pub reported_observed: u64,
    pub reported_severity: Severity,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            phase: Phase::Idle,
            id: String::new(),
            opened_at: 0,
            last_fire: 0,
            resolved_at: 0,
            reported_observed: 0,
            reported_severity: Severity::Low,
        }
    }
}

/// What fired at this evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fire {
    pub observed: u64,
    pub severity: Severity,
}

impl Lifecycle {
    /// Advances to `now` (seconds) with this evaluation's fire, if any; `new_id` names a newly
    /// opened alert.
    pub fn step(
        &mut self,
        now: i64,
        fire: Option<Fire>,
        new_id: impl FnOnce() -> String,
        cfg: &LifecycleConfig,
    ) -> Option<EventKind> {
        match fire {
            Some(f) => self.on_fire(now, f, new_id, cfg),
            None => self.on_quiet(now, cfg),
        }
    }

    fn open(&mut self, now: i64, f: Fire, id: String) -> EventKind {
        *self = Lifecycle {
            phase: Phase::Open,
            id,
            opened_at: now,
            last_fire: now,
            resolved_at: 0,
            reported_observed: f.observed,
            reported_severity: f.severity,
        };
        EventKind::Opened
    }

    fn on_fire(
        &mut self,
        now: i64,
        f: Fire,
        new_id: impl FnOnce() -> String,
        cfg: &LifecycleConfig,
    ) -> Option<EventKind> {
        match self.phase {
            Phase::Idle => Some(self.open(now, f, new_id())),
            Phase::Resolved if now - self.resolved_at > cfg.reopen_within => Some(self.open(now, f, new_id())),
            Phase::Capped if now - self.last_fire >= cfg.resolve_after => Some(self.open(now, f, new_id())),
            Phase::Capped => {
                self.last_fire = now;
                None
            }
            Phase::Resolved => {
                self.phase = Phase::Open;
                self.last_fire = now;
                self.report(f);
                Some(EventKind::Reopened)
            }
            Phase::Open => {
                self.last_fire = now;
                if now - self.opened_at >= cfg.cap {
                    self.phase = Phase::Capped;
                    self.resolved_at = now;
                    return Some(EventKind::Resolved);
                }
                let grew = f.observed as f64 >= 1.5 * self.reported_observed as f64;
                (grew || f.severity > self.reported_severity).then(|| {
                    self.report(f);
                    EventKind::Updated
                })
            }
        }
    }

    fn report(&mut self, f: Fire) {
        self.reported_observed = self.reported_observed.max(f.observed);
        self.reported_severity = self.reported_severity.max(f.severity);
    }

    fn on_quiet(&mut self, now: i64, cfg: &LifecycleConfig) -> Option<EventKind> {
        if self.phase != Phase::Open {
            return None;
        }
        if now - self.last_fire >= cfg.resolve_after {
            self.phase = Phase::Resolved;
        } else if now - self.opened_at >= cfg.cap {
            self.phase = Phase::Capped;
        } else {
            return None;
        }
        self.resolved_at = now;
        Some(EventKind::Resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn fire(observed: u64) -> Option<Fire> {
        Some(Fire { observed, severity: Severity::Low })
    }

    fn run(lc: &mut Lifecycle, steps: &[(i64, Option<Fire>)]) -> Vec<EventKind> {
        let cfg = LifecycleConfig::default();
        let mut n = 0;
        steps
            .iter()
            .filter_map(|&(t, f)| {
                lc.step(
                    t,
                    f,
                    || {
                        n += 1;
                        format!("a{n}")
                    },
                    &cfg,
                )
            })
            .collect()
    }

    #[test]
    fn flapping_gives_one_alert() {
        let mut lc = Lifecycle::default();
        let steps: Vec<_> = (0..20).map(|i| (i * H, if i % 2 == 0 { fire(10) } else { None })).collect();
        let events = run(&mut lc, &steps);
        assert_eq!(events, vec![EventKind::Opened]);
        assert_eq!(lc.id, "a1");
    }

    #[test]
    fn resolves_after_two_quiet_hours_and_reopens_within_six() {
        let mut lc = Lifecycle::default();
        let events = run(&mut lc, &[(0, fire(10)), (H, None), (2 * H, None), (7 * H, fire(10))]);
        assert_eq!(events, vec![EventKind::Opened, EventKind::Resolved, EventKind::Reopened]);
        assert_eq!(lc.id, "a1", "a reopened alert keeps its id");
        let events = run(&mut lc, &[(9 * H, None), (16 * H, fire(10))]);
        assert_eq!(events, vec![EventKind::Resolved, EventKind::Opened]);
        assert_eq!(lc.id, "a1", "the id counter is per run() call");
    }

    #[test]
    fn updates_only_on_material_growth() {
        let mut lc = Lifecycle::default();
        let events = run(&mut lc, &[(0, fire(10)), (H, fire(11)), (2 * H, fire(15)), (3 * H, fire(16))]);
        assert_eq!(events, vec![EventKind::Opened, EventKind::Updated]);
        assert_eq!(lc.reported_observed, 15);
    }

    #[test]
    fn capped_at_48_hours_then_needs_quiet() {
        let mut lc = Lifecycle::default();
        let mut steps: Vec<_> = (0..=50).map(|i| (i * H, fire(10))).collect();
        steps.push((51 * H, None));
        steps.push((52 * H, None));
        steps.push((53 * H, fire(10)));
        let events = run(&mut lc, &steps);
        assert_eq!(events, vec![EventKind::Opened, EventKind::Resolved, EventKind::Opened]);
    }

    #[test]
    fn severity_needs_evidence_and_excess() {
        assert_eq!(Severity::of(1e-20, 10, 1.0), Severity::Medium);
        assert_eq!(Severity::of(1e-20, 40, 5.0), Severity::High);
        assert_eq!(Severity::of(1e-6, 40, 5.0), Severity::Low);
    }
}
