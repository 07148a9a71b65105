//! A negative-binomial CUSUM on hourly counts for slow rises that no single window shows, as
//! `glrnb` of the R `surveillance` package with a fixed alternative: the in-control mean μ₀ of
//! each hour against μ₁ = 2μ₀ (a shift of log 2), the NB size kept at μ₀/(φ−1) so that both
//! hypotheses share the in-control variance shape; Poisson when φ ≈ 1. The detector passes the
//! 24 h dispersion: a slow rise unfolds over a day, and hours of one day share its
//! overdispersion (with the hourly φ the CUSUM paged on every busy day of the bench).

use serde::{Deserialize, Serialize};

/// The log-likelihood ratio of count x under mean 2μ against mean μ.
pub fn llr(x: u64, mu: f64, phi: f64) -> f64 {
    let x = x as f64;
    if mu <= 0.0 {
        return 0.0;
    }
    let mu1 = 2.0 * mu;
    if phi <= 1.0 + 1e-6 {
        return x * std::f64::consts::LN_2 - (mu1 - mu);
    }
    let r = mu / (phi - 1.0);
    x * (mu1 * (mu + r) / (mu * (mu1 + r))).ln() + r * ((mu + r) / (mu1 + r)).ln()
}

/// The running statistic and what it has accumulated since it last stood at zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NbCusum {
    pub s: f64,
    /// Hours, observed and expected counts since the statistic left zero.
    pub run_hours: u32,
    pub run_observed: u64,
    pub run_expected: f64,
}

/// What an alarm of the CUSUM reports: the run of hours it accumulated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumAlarm {
    pub hours: u32,
    pub observed: u64,
    pub expected: f64,
}

impl NbCusum {
    /// Feeds one complete hour; returns the run when the statistic crosses `h` (and restarts).
    pub fn update(&mut self, x: u64, mu: f64, phi: f64, h: f64) -> Option<CusumAlarm> {
        self.s = (self.s + llr(x, mu, phi)).max(0.0);
        if self.s == 0.0 {
            *self = NbCusum::default();
            return None;
        }
        self.run_hours += 1;
        self.run_observed += x;
        self.run_expected += mu;
        if self.s < h {
            return None;
        }
        let alarm = CusumAlarm { hours: self.run_hours, observed: self.run_observed, expected: self.run_expected };
        *self = NbCusum::default();
        Some(alarm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_llr_is_x_log2_minus_mu() {
        assert!((llr(3, 1.5, 1.0) - (3.0 * 2f64.ln() - 1.5)).abs() < 1e-12);
        // NB with large size tends to Poisson.
        assert!((llr(3, 1.5, 1.0 + 1e-5) - llr(3, 1.5, 1.0)).abs() < 1e-3);
    }

    #[test]
    fn in_control_stays_low_and_a_doubling_alarms() {
        let mut c = NbCusum::default();
        for _ in 0..500 {
            assert!(c.update(2, 2.0, 1.0, 8.0).is_none());
        }
        let mut hours = 0;
        let alarm = loop {
            hours += 1;
            if let Some(a) = c.update(4, 2.0, 1.0, 8.0) {
                break a;
            }
        };
        // Each doubled hour adds 4 ln 2 − 2 ≈ 0.77: 11 hours to pass 8.
        assert_eq!(hours, 11);
        assert_eq!(alarm.hours, 11);
        assert_eq!(alarm.observed, 44);
        assert_eq!(c.s, 0.0, "restarts after an alarm");
    }

    #[test]
    fn overdispersion_weakens_the_evidence() {
        assert!(llr(10, 3.0, 3.0) < llr(10, 3.0, 1.0));
    }
}
