//! Upper tail probabilities P(X ≥ x) of the Poisson and negative-binomial laws.
//!
//! Both reduce to regularized incomplete functions: for x ≥ 1,
//! P(X ≥ x | Poisson λ) = P(x, λ) (lower incomplete gamma) and
//! P(X ≥ x | NB(r, p)) = I_{1−p}(x, r) (incomplete beta). Each is evaluated on the side where it
//! is small, by a power series or a continued fraction (modified Lentz), with the prefactor in
//! logarithms, so tails of 1e-300 keep full relative precision. Tests pin them to values computed
//! independently with scipy.

use std::f64::consts::PI;

const EPS: f64 = 1e-16;
const TINY: f64 = 1e-300;
const MAX_ITER: usize = 100_000;

/// ln Γ(x) for x > 0: the recurrence lifts x to ≥ 15, where the Stirling series with seven
/// Bernoulli terms is accurate to ~1e-17 absolute.
pub fn ln_gamma(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return f64::NAN;
    }
    let mut shift = 0.0;
    let mut z = x;
    let mut product = 1.0;
    while z < 15.0 {
        product *= z;
        z += 1.0;
    }
    if product != 1.0 {
        shift = product.ln();
    }
    let inv = 1.0 / z;
    let inv2 = inv * inv;
    // 1/(12z) − 1/(360z³) + 1/(1260z⁵) − 1/(1680z⁷) + 1/(1188z⁹) − 691/(360360z¹¹) + 1/(156z¹³)
    let mut series = 1.0 / 156.0;
    for c in [-691.0 / 360_360.0, 1.0 / 1188.0, -1.0 / 1680.0, 1.0 / 1260.0, -1.0 / 360.0, 1.0 / 12.0] {
        series = c + inv2 * series;
    }
    series *= inv;
    (z - 0.5) * z.ln() - z + 0.5 * (2.0 * PI).ln() + series - shift
}

/// P(X ≥ x) for X ~ Poisson(λ).
pub fn poisson_upper(x: u64, lambda: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    gamma_p(x as f64, lambda)
}

/// P(X ≥ x) for X with mean `mu` and variance `phi · mu`: negative binomial when φ > 1
/// (size r = μ/(φ−1), success probability 1/φ), Poisson when φ is within 1e-9 of 1.
pub fn nb_upper(x: u64, mu: f64, phi: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    if phi <= 1.0 + 1e-9 {
        return poisson_upper(x, mu);
    }
    let r = mu / (phi - 1.0);
    let q = 1.0 - 1.0 / phi;
    beta_i(q, x as f64, r)
}

/// The regularized lower incomplete gamma P(a, z).
fn gamma_p(a: f64, z: f64) -> f64 {
    if z < a + 1.0 {
        gamma_series(a, z)
    } else {
        1.0 - gamma_cf(a, z)
    }
}

fn gamma_prefactor(a: f64, z: f64) -> f64 {
    (a * z.ln() - z - ln_gamma(a)).exp()
}

/// P(a, z) = z^a e^−z / Γ(a+1) · Σ z^n / ((a+1)…(a+n)).
fn gamma_series(a: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut denom = a;
    for _ in 0..MAX_ITER {
        denom += 1.0;
        term *= z / denom;
        sum += term;
        if term < sum * EPS {
            break;
        }
    }
    gamma_prefactor(a, z) * sum / a
}

/// Q(a, z) by its continued fraction (Legendre), evaluated with modified Lentz.
fn gamma_cf(a: f64, z: f64) -> f64 {
    let mut b = z + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_ITER {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    gamma_prefactor(a, z) * h
}

/// The regularized incomplete beta I_z(a, b), from the side where the continued fraction
/// converges fast (and where the value is the small one when z lies below the mean).
fn beta_i(z: f64, a: f64, b: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    if z >= 1.0 {
        return 1.0;
    }
    if z < (a + 1.0) / (a + b + 2.0) {
        beta_prefactor(z, a, b) * beta_cf(z, a, b) / a
    } else {
        1.0 - beta_prefactor(z, a, b) * beta_cf(1.0 - z, b, a) / b
    }
}

/// z^a (1−z)^b / B(a, b), in logarithms.
fn beta_prefactor(z: f64, a: f64, b: f64) -> f64 {
    let ln_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    (a * z.ln() + b * (-z).ln_1p() - ln_beta).exp()
}

/// The continued fraction of I_z(a, b) (DLMF 8.17.22), modified Lentz.
fn beta_cf(z: f64, a: f64, b: f64) -> f64 {
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * z / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..MAX_ITER {
        let m = m as f64;
        let even = m * (b - m) * z / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        lentz_step(&mut c, &mut d, &mut h, even);
        let odd = -(a + m) * (a + b + m) * z / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        let delta = lentz_step(&mut c, &mut d, &mut h, odd);
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

fn lentz_step(c: &mut f64, d: &mut f64, h: &mut f64, coeff: f64) -> f64 {
    *d = 1.0 + coeff * *d;
    if d.abs() < TINY {
        *d = TINY;
    }
    *c = 1.0 + coeff / *c;
    if c.abs() < TINY {
        *c = TINY;
    }
    *d = 1.0 / *d;
    let delta = *d * *c;
    *h *= delta;
    delta
}

/// The smallest count u with P(X ≥ u) < α: the window's upper bound.
pub fn upper_bound(mu: f64, phi: f64, alpha: f64) -> u64 {
    let sd = (phi.max(1.0) * mu.max(0.0)).sqrt();
    let mut lo = 0u64;
    let mut hi = (mu + 10.0 * sd + 10.0).ceil() as u64;
    while nb_upper(hi, mu, phi) >= alpha {
        hi = hi.saturating_mul(2).max(1);
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if nb_upper(mid, mu, phi) < alpha {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}
