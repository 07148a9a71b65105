//! The expected count of a window: the series' level × the topic's hour-of-week profile, after
//! Farrington (1996) and Noufaily et al. (2013).
//!
//! - The **profile** (168 weights with mean 1) is pooled over the topic's municipalities: hours
//!   of the day × days of the week, each shrunk towards flat where counts are few. A public holiday
//!   takes Sunday's weights (the caller maps it when computing the hour of week).
//! - The **level** is a quasi-Poisson fit over up to 8 weeks of daily totals (the last 24 h stay
//!   out; calendar hours get weight 0), with a log-linear trend kept only when it is clearly
//!   there (|b| > 2 se). Days with Anscombe residual > 2.58 are down-weighted by (2.58/r)² and the
//!   fit is repeated, so an outbreak never raises its own baseline.
//! - The **dispersion** φ ≥ 1 is a Pearson estimate per window length (1 h, 3 h, 24 h blocks of
//!   the fit period), because spreading daily overdispersion over hours leaves hourly counts
//!   nearly Poisson while daily totals are not. A prior pulls it towards 1 (or the topic's value)
//!   when few blocks exist.

use super::Hour;

/// The windows every series is evaluated over, in hours.
pub const WINDOWS: [u32; 3] = [1, 3, 24];
pub const HOURS_OF_WEEK: usize = 168;

/// Tunables of the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Anscombe residual above which a day is down-weighted.
    pub downweight_at: f64,
    /// |slope| / se above which the trend is kept.
    pub trend_z: f64,
    /// Days of data needed before a trend is considered.
    pub trend_min_days: usize,
    /// Pseudo-blocks of the dispersion prior.
    pub prior_blocks: f64,
    /// The dispersion prior per window (the topic's pooled value, else 1).
    pub prior_phi: [f64; 3],
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig { downweight_at: 2.58, trend_z: 2.0, trend_min_days: 14, prior_blocks: 5.0, prior_phi: [1.0; 3] }
    }
}

/// A topic's hour-of-week weights, mean 1 over the week.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    weights: [f64; HOURS_OF_WEEK],
}

impl Default for Profile {
    fn default() -> Self {
        Profile { weights: [1.0; HOURS_OF_WEEK] }
    }
}

impl Profile {
    pub fn weight(&self, hour_of_week: usize) -> f64 {
        self.weights[hour_of_week % HOURS_OF_WEEK]
    }

    pub fn weights(&self) -> &[f64; HOURS_OF_WEEK] {
        &self.weights
    }
}

/// Counts and exposure by hour of day and day of week, pooled over a topic's series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileAccumulator {
    hour_counts: [f64; 24],
    hour_exposure: [f64; 24],
    day_counts: [f64; 7],
    day_exposure: [f64; 7],
}

/// Pseudo-counts pulling a sparse hour or day towards the average.
const PROFILE_PRIOR: f64 = 5.0;

impl ProfileAccumulator {
    /// One observed hour slot (hour_of_week = day × 24 + hour, Monday 0).
    pub fn add(&mut self, hour_of_week: usize, count: u64) {
        let how = hour_of_week % HOURS_OF_WEEK;
        self.hour_counts[how % 24] += count as f64;
        self.hour_exposure[how % 24] += 1.0;
        self.day_counts[how / 24] += count as f64;
        self.day_exposure[how / 24] += 1.0;
    }

    pub fn merge(&mut self, other: &ProfileAccumulator) {
        for h in 0..24 {
            self.hour_counts[h] += other.hour_counts[h];
            self.hour_exposure[h] += other.hour_exposure[h];
        }
        for d in 0..7 {
            self.day_counts[d] += other.day_counts[d];
            self.day_exposure[d] += other.day_exposure[d];
        }
    }

    /// The separable profile hour-of-day × day-of-week, normalised to mean 1.
    pub fn profile(&self) -> Profile {
        let total: f64 = self.hour_counts.iter().sum();
        let exposure: f64 = self.hour_exposure.iter().sum();
        if total <= 0.0 || exposure <= 0.0 {
            return Profile::default();
        }
        let rate = total / exposure;
        let factor = |c: f64, e: f64| (c + PROFILE_PRIOR) / (e * rate + PROFILE_PRIOR);
        let mut weights = [0.0; HOURS_OF_WEEK];
        for (how, w) in weights.iter_mut().enumerate() {
            let (d, h) = (how / 24, how % 24);
            *w = factor(self.hour_counts[h], self.hour_exposure[h]) * factor(self.day_counts[d], self.day_exposure[d]);
        }
        let mean = weights.iter().sum::<f64>() / HOURS_OF_WEEK as f64;
        weights.iter_mut().for_each(|w| *w /= mean);
        Profile { weights }
    }
}

/// A fitted baseline: the expected count of an hour is `rate(hour) × profile weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// log of the rate per unit profile weight at `end`.
    pub log_rate: f64,
    /// Trend per day (0 unless significant).
    pub slope_per_day: f64,
    /// The first hour after the fit period.
    pub end: Hour,
    /// Relative variance of the estimated rate at `end` (φ × the inverse information).
    pub rate_rel_var: f64,
    /// Dispersion per entry of [`WINDOWS`].
    pub phi: [f64; 3],
    /// Days of data the fit used.
    pub days: usize,
}

impl Baseline {
    /// The expected count of `hour`, whose profile weight is `weight`.
    pub fn expected(&self, hour: Hour, weight: f64) -> f64 {
        let t = (hour - self.end) as f64 / 24.0 + 1.0 / 48.0;
        (self.log_rate + self.slope_per_day * t).exp() * weight
    }

    /// The dispersion of a window of `expected` counts over `WINDOWS[w]` hours, including the
    /// uncertainty of the estimated level (φ_w + μ · var(rate)/rate²).
    pub fn phi_eff(&self, w: usize, expected: f64) -> f64 {
        self.phi[w] + expected * self.rate_rel_var
    }
}

struct Day {
    y: f64,
    e: f64,
    t: f64,
    w: f64,
}

/// Fits a baseline to `counts` (one per hour, oldest first, ending at `end` exclusive) whose
/// profile weights are `weights` (0 for hours the calendar keeps out).
/// `None` when no hour of the period counts.
pub fn fit(counts: &[u32], weights: &[f64], end: Hour, cfg: &FitConfig) -> Option<Baseline> {
    let n = counts.len().min(weights.len());
    let weights = &weights[weights.len() - n..];
    // Hours the calendar keeps out count for nothing, on either side.
    let masked: Vec<u32> =
        counts[counts.len() - n..].iter().zip(weights).map(|(&c, &w)| if w > 0.0 { c } else { 0 }).collect();
    let counts = &masked[..];
    let mut days: Vec<Day> = (0..n.div_ceil(24))
        .map(|j| {
            let hi = n - 24 * j;
            let lo = hi.saturating_sub(24);
            let y = counts[lo..hi].iter().map(|&c| c as f64).sum();
            let e = weights[lo..hi].iter().sum();
            Day { y, e, t: -(j as f64) - 0.5, w: 1.0 }
        })
        .collect();
    // An outbreak inflates the first φ and so hides from its own residual: iterate.
    for _ in 0..4 {
        let (a, _) = constant_fit(&days);
        let phi_day = pearson_days(&days, a, 0.0, 1);
        downweight(&mut days, a, 0.0, phi_day, cfg.downweight_at);
    }
    let (a0, info0) = constant_fit(&days);
    if info0 <= 0.0 {
        return None;
    }
    let (mut log_rate, mut slope, mut info) = (a0, 0.0, 1.0 / info0);
    let phi_24 = pearson_days(&days, log_rate, 0.0, 1).max(1.0);
    let used = days.iter().filter(|d| d.e > 0.0).count();
    if used >= cfg.trend_min_days {
        if let Some((a, b, var_a, var_b)) = trend_fit(&days, log_rate) {
            if b.abs() > cfg.trend_z * (phi_24 * var_b).sqrt() {
                (log_rate, slope, info) = (a, b, var_a);
            }
        }
    }
    let hourly_mu: Vec<f64> =
        (0..n).map(|i| (log_rate + slope * ((i as f64 - n as f64) / 24.0 + 1.0 / 48.0)).exp() * weights[i]).collect();
    let phi = std::array::from_fn(|w| {
        window_phi(counts, &hourly_mu, &days, WINDOWS[w] as usize, cfg.prior_phi[w], cfg.prior_blocks)
    });
    Some(Baseline { log_rate, slope_per_day: slope, end, rate_rel_var: phi_24 * info, phi, days: used })
}

/// Weighted Poisson intercept: log(Σwy / Σwe), never below half a count over the whole fit.
fn constant_fit(days: &[Day]) -> (f64, f64) {
    let y: f64 = days.iter().map(|d| d.w * d.y).sum();
    let e: f64 = days.iter().map(|d| d.w * d.e).sum();
    if e <= 0.0 {
        return (f64::NEG_INFINITY, 0.0);
    }
    let rate = y.max(0.5) / e;
    (rate.ln(), rate * e)
}

/// Weighted Poisson regression log μ = a + b t + log e by Newton's method; returns a, b and
/// the inverse-information variances of a (at t = 0) and b.
fn trend_fit(days: &[Day], start: f64) -> Option<(f64, f64, f64, f64)> {
    let (mut a, mut b) = (start, 0.0);
    for _ in 0..25 {
        let (mut ua, mut ub, mut iaa, mut iab, mut ibb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for d in days {
            let mu = d.e * (a + b * d.t).exp();
            ua += d.w * (d.y - mu);
            ub += d.w * d.t * (d.y - mu);
            iaa += d.w * mu;
            iab += d.w * d.t * mu;
            ibb += d.w * d.t * d.t * mu;
        }
        let det = iaa * ibb - iab * iab;
        if det <= 0.0 || !det.is_finite() {
            return None;
        }
        let da = (ibb * ua - iab * ub) / det;
        let db = (iaa * ub - iab * ua) / det;
        a += da;
        b += db;
        if da.abs() < 1e-10 && db.abs() < 1e-12 {
            return Some((a, b, ibb / det, iaa / det));
        }
    }
    None
}

fn pearson_days(days: &[Day], a: f64, b: f64, params: usize) -> f64 {
    let (mut s, mut n) = (0.0, 0.0);
    for d in days {
        let mu = d.e * (a + b * d.t).exp();
        if mu > 0.0 {
            s += d.w * (d.y - mu).powi(2) / mu;
            n += d.w;
        }
    }
    if n > params as f64 {
        (s / (n - params as f64)).max(1.0)
    } else {
        1.0
    }
}

fn downweight(days: &mut [Day], a: f64, b: f64, phi: f64, at: f64) {
    for d in days.iter_mut() {
        let mu = d.e * (a + b * d.t).exp();
        let r = 1.5 * (d.y.powf(2.0 / 3.0) - mu.powf(2.0 / 3.0)) / (mu.powf(1.0 / 6.0) * phi.sqrt());
        d.w = if r > at { (at / r).powi(2) } else { 1.0 };
    }
}

/// Pearson dispersion of non-overlapping `len`-hour blocks, weighted like their days and shrunk
/// towards `prior` by `prior_blocks` pseudo-blocks.
fn window_phi(counts: &[u32], hourly_mu: &[f64], days: &[Day], len: usize, prior: f64, prior_blocks: f64) -> f64 {
    let n = counts.len();
    let (mut s, mut m) = (0.0, 0.0);
    let mut hi = n;
    while hi >= len {
        let lo = hi - len;
        let mu: f64 = hourly_mu[lo..hi].iter().sum();
        if mu > 0.0 {
            let y: f64 = counts[lo..hi].iter().map(|&c| c as f64).sum();
            let w = days[(n - hi) / 24].w;
            s += w * (y - mu).powi(2) / mu;
            m += w;
        }
        hi = lo;
    }
    ((s + prior_blocks * prior) / (m + prior_blocks)).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(n: usize) -> Vec<f64> {
        vec![1.0; n]
    }

    #[test]
    fn constant_series_gives_its_rate_and_phi_one() {
        let counts: Vec<u32> = (0..56 * 24).map(|i| (i % 5) as u32).collect(); // mean 2, var 2
        let b = fit(&counts, &flat(counts.len()), 1000, &FitConfig::default()).unwrap();
        assert!((b.expected(1000, 1.0) - 2.0).abs() < 0.01, "{b:?}");
        assert_eq!(b.slope_per_day, 0.0);
        assert!(b.phi[0] < 1.1 && b.phi[2] < 1.1, "{:?}", b.phi);
    }

    #[test]
    fn an_outbreak_day_does_not_raise_the_baseline() {
        let mut counts = vec![3u32; 56 * 24];
        for c in &mut counts[40 * 24..41 * 24] {
            *c = 30;
        }
        let b = fit(&counts, &flat(counts.len()), 0, &FitConfig::default()).unwrap();
        let plain = counts.iter().sum::<u32>() as f64 / counts.len() as f64;
        let got = b.expected(0, 1.0);
        assert!(got < 3.1, "down-weighted rate {got}, unweighted {plain}");
    }

    #[test]
    fn a_clear_trend_is_followed_and_noise_is_not() {
        let counts: Vec<u32> = (0..56 * 24).map(|i| (10.0 * (0.02 * (i / 24) as f64).exp()) as u32).collect();
        let b = fit(&counts, &flat(counts.len()), 0, &FitConfig::default()).unwrap();
        assert!((b.slope_per_day - 0.02).abs() < 0.003, "{b:?}");
        assert!(b.expected(0, 1.0) > 29.0, "{}", b.expected(0, 1.0));
    }

    #[test]
    fn calendar_hours_stay_out_of_the_fit() {
        let mut counts = vec![2u32; 28 * 24];
        let mut weights = flat(counts.len());
        for i in 100..200 {
            counts[i] = 50;
            weights[i] = 0.0;
        }
        let b = fit(&counts, &weights, 0, &FitConfig::default()).unwrap();
        assert!((b.expected(0, 1.0) - 2.0).abs() < 0.01);
    }

    #[test]
    fn daily_overdispersion_shows_in_the_24h_window_only() {
        // Days alternate 24 and 72 counts, spread evenly: hours look Poisson-like, days do not.
        let counts: Vec<u32> = (0..56 * 24).map(|i| if (i / 24) % 2 == 0 { 1 } else { 3 }).collect();
        let b = fit(&counts, &flat(counts.len()), 0, &FitConfig::default()).unwrap();
        assert!(b.phi[2] > 10.0 && b.phi[0] < 1.5, "{:?}", b.phi);
    }

    #[test]
    fn profile_is_separable_and_mean_one() {
        let mut acc = ProfileAccumulator::default();
        for week in 0..50 {
            for how in 0..HOURS_OF_WEEK {
                let day = if how / 24 == 6 { 2 } else { 1 };
                let hour = if how % 24 >= 12 { 3 } else { 1 };
                acc.add(how, (day * hour * (10 + week % 2)) as u64);
            }
        }
        let p = acc.profile();
        let mean = p.weights().iter().sum::<f64>() / 168.0;
        assert!((mean - 1.0).abs() < 1e-12);
        assert!((p.weight(6 * 24 + 13) / p.weight(13) - 2.0).abs() < 0.03);
        assert!((p.weight(13) / p.weight(1) - 3.0).abs() < 0.05);
    }
}
