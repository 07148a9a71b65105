//! One series' state: a ring of hourly counts (8 weeks of fit + the 24 h kept out of it), its
//! baseline, CUSUM and lifecycle.

use super::baseline::{self, Baseline, WINDOWS};
use super::cusum::NbCusum;
use super::{ears, rules, tails, Ctx, Detection, Hour, Lifecycle, Method, SeriesKey, Stats};

/// Hours held per series: 56 days for the fit and the last day that stays out of it.
pub const HELD_HOURS: usize = 57 * 24;
const FIT_HOURS: i64 = 56 * 24;

#[derive(Debug, Clone)]
pub struct SeriesState {
    pub key: SeriesKey,
    counts: Box<[u16]>,
    /// The newest hour the ring holds (slots older than HELD_HOURS before it are gone).
    newest: Hour,
    /// The first hour of the series' history.
    pub first: Hour,
    baseline: Option<Baseline>,
    fitted_at: Hour,
    stagger: i64,
    cusum: NbCusum,
    cusum_through: Hour,
    pub evaluated_through: Hour,
    pub lifecycle: Lifecycle,
    pub last_detection: Option<Detection>,
}

impl SeriesState {
    pub fn new(key: SeriesKey, first: Hour, stagger: i64) -> SeriesState {
        SeriesState {
            key,
            counts: vec![0; HELD_HOURS].into_boxed_slice(),
            newest: first,
            first,
            baseline: None,
            fitted_at: Hour::MIN,
            stagger,
            cusum: NbCusum::default(),
            cusum_through: first - 1,
            evaluated_through: first - 1,
            lifecycle: Lifecycle::default(),
            last_detection: None,
        }
    }

    fn slot(hour: Hour) -> usize {
        hour.rem_euclid(HELD_HOURS as i64) as usize
    }

    /// Moves the ring forward to `hour`, zeroing the hours it skips.
    pub fn advance(&mut self, hour: Hour) {
        if hour <= self.newest {
            return;
        }
        let from = (self.newest + 1).max(hour - HELD_HOURS as i64 + 1);
        for h in from..=hour {
            self.counts[Self::slot(h)] = 0;
        }
        self.newest = hour;
    }

    pub fn set(&mut self, hour: Hour, count: u32) {
        self.advance(hour);
        if hour <= self.newest - HELD_HOURS as i64 {
            return;
        }
        self.first = self.first.min(hour);
        self.counts[Self::slot(hour)] = count.min(u16::MAX as u32) as u16;
    }

    pub fn count(&self, hour: Hour) -> u64 {
        if hour > self.newest || hour <= self.newest - HELD_HOURS as i64 || hour < self.first {
            return 0;
        }
        self.counts[Self::slot(hour)] as u64
    }

    /// (hour, count) for every held hour of the series' history.
    pub fn held(&self) -> impl Iterator<Item = (Hour, u32)> + '_ {
        let from = self.first.max(self.newest - HELD_HOURS as i64 + 1);
        (from..=self.newest).map(|h| (h, self.count(h) as u32))
    }

    fn sum(&self, end: Hour, hours: u32) -> u64 {
        (end + 1 - hours as i64..=end).map(|h| self.count(h)).sum()
    }

    /// Refits the baseline once per `refit_every_hours`, at an hour staggered by series.
    pub fn maybe_refit(&mut self, now_hour: Hour, ctx: &Ctx) {
        let every = ctx.detector_config.refit_every_hours.max(1);
        let period = (now_hour + self.stagger).div_euclid(every);
        if self.baseline.is_some() && period == (self.fitted_at + self.stagger).div_euclid(every) {
            return;
        }
        self.fitted_at = now_hour;
        let end = now_hour - 23; // the last 24 h, this hour included, stay out
        let start = self.first.max(end - FIT_HOURS);
        if end - start < 24 {
            self.baseline = None;
            return;
        }
        let counts: Vec<u32> = (start..end).map(|h| self.count(h) as u32).collect();
        let weights: Vec<f64> = (start..end).map(|h| ctx.weight(&self.key, h)).collect();
        self.baseline = baseline::fit(&counts, &weights, end, &ctx.detector_config.fit);
    }

    fn history_hours(&self, end: Hour) -> i64 {
        end - self.first + 1
    }

    /// Feeds the CUSUM the complete hours up to `through`; an alarm is a detection.
    pub fn run_cusum(&mut self, through: Hour, ctx: &Ctx) -> Option<Detection> {
        let from = (self.cusum_through + 1).max(through - 48);
        self.cusum_through = self.cusum_through.max(through);
        let b = self.baseline.as_ref()?;
        if self.history_hours(through) < ctx.detector_config.cold_start_hours {
            return None;
        }
        let mut found = None;
        for h in from..=through {
            let w = ctx.weight(&self.key, h);
            if w == 0.0 {
                continue;
            }
            let mu = b.expected(h, w);
            let Some(alarm) = self.cusum.update(self.count(h), mu, b.phi[2], ctx.detector_config.cusum_threshold)
            else {
                continue;
            };
            if rules::passes_guards(alarm.observed, alarm.expected) {
                let phi = b.phi_eff(0, alarm.expected);
                let p = tails::nb_upper(alarm.observed, alarm.expected, phi);
                let (x, mu) = (alarm.observed, alarm.expected);
                found = Some(self.detection(Method::Cusum, h, alarm.hours, x, mu, phi, p, ctx));
            }
        }
        found
    }

    #[allow(clippy::too_many_arguments)]
    fn detection(
        &self,
        method: Method,
        end: Hour,
        hours: u32,
        observed: u64,
        expected: f64,
        phi: f64,
        p_value: f64,
        ctx: &Ctx,
    ) -> Detection {
        let expected_note = ctx.calendar.expected(&self.key, end).map(str::to_owned);
        Detection { method, window_end: end, window_hours: hours, observed, expected, phi, p_value, expected_note }
    }

    /// The most significant window ending at `end` that fires, if any.
    pub fn windows(&self, end: Hour, ctx: &Ctx, stats: &mut Stats) -> Option<Detection> {
        let mut best: Option<Detection> = None;
        let cold = self.history_hours(end) < ctx.detector_config.cold_start_hours;
        // Counts and expectations of the last 24 hours, newest first: every window is a prefix.
        let mut x = [0u64; 24];
        let mut mu = [0f64; 24];
        let baseline = self.baseline.as_ref().filter(|_| !cold);
        if let Some(b) = baseline {
            let (rate, step) = (b.expected(end, 1.0), (-b.slope_per_day / 24.0).exp());
            let mut r = rate;
            let profile = ctx.profiles.get(&self.key.topic).map(|p| &**p);
            for (i, m) in mu.iter_mut().enumerate() {
                *m = r * ctx.weight_in(profile, &self.key, end - i as i64);
                r *= step;
            }
        }
        for (i, c) in x.iter_mut().enumerate() {
            *c = self.count(end - i as i64);
        }
        for (w, &hours) in WINDOWS.iter().enumerate() {
            let n = hours as usize;
            let sum: u64 = x[..n].iter().sum();
            let found = match baseline {
                Some(b) => self.baseline_window(b, w, end, sum, mu[..n].iter().sum(), ctx, stats),
                None => self.ears_window(end, hours, sum, ctx),
            };
            let found = found.or_else(|| self.threshold_window(end, hours, sum, &mu[..n], ctx));
            if let Some(d) = found {
                if best.as_ref().is_none_or(|b| d.p_value < b.p_value) {
                    best = Some(d);
                }
            }
        }
        best
    }

    #[allow(clippy::too_many_arguments)]
    fn baseline_window(
        &self,
        b: &Baseline,
        w: usize,
        end: Hour,
        x: u64,
        mu: f64,
        ctx: &Ctx,
        stats: &mut Stats,
    ) -> Option<Detection> {
        let hours = WINDOWS[w];
        stats.tests += 1;
        if (x as f64) <= mu {
            return None;
        }
        let phi = b.phi_eff(w, mu);
        let p = tails::nb_upper(x, mu, phi);
        let alpha = ctx.detector_config.alpha;
        if p < alpha {
            stats.below_alpha += 1;
        }
        let fires = p < alpha && rules::passes_guards(x, mu);
        fires.then(|| self.detection(Method::Baseline, end, hours, x, mu, phi, p, ctx))
    }

    fn ears_window(&self, end: Hour, hours: u32, x: u64, ctx: &Ctx) -> Option<Detection> {
        let needed = (ears::GAP_WINDOWS + ears::REFERENCE_WINDOWS + 1) as i64 * hours as i64;
        if self.history_hours(end) < needed {
            return None;
        }
        let previous: Vec<u64> = (1..=(ears::GAP_WINDOWS + ears::REFERENCE_WINDOWS) as i64)
            .map(|k| self.sum(end - k * hours as i64, hours))
            .collect();
        let (mean, sd) = ears::reference(&previous)?;
        if ears::statistic(x, mean, sd) <= ears::THRESHOLD || !rules::passes_guards(x, mean) {
            return None;
        }
        let phi = (sd * sd / mean.max(0.5)).max(1.0);
        let p = tails::nb_upper(x, mean.max(0.5), phi);
        Some(self.detection(Method::Ears, end, hours, x, mean, phi, p, ctx))
    }

    fn threshold_window(&self, end: Hour, hours: u32, x: u64, mu: &[f64], ctx: &Ctx) -> Option<Detection> {
        ctx.detector_config.thresholds.iter().find(|r| r.fires(self.key.topic, hours, x))?;
        Some(self.detection(Method::Threshold, end, hours, x, mu.iter().sum(), 1.0, 0.0, ctx))
    }
}
