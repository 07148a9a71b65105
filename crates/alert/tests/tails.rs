//! The tails against reference values computed independently.

use otklik_alert::detect::tails::{ln_gamma, nb_upper, poisson_upper, upper_bound};

// Computed with scipy 1.17.1: poisson.sf(x - 1, lam); nbinom.sf(x - 1, mu / (phi - 1), 1 / phi); gammaln(v).
const POISSON: &[(u64, f64, f64)] = &[
    (1, 0.05, 0.04877057549928599),
    (3, 0.5, 0.014387677966970684),
    (5, 1.0, 0.003659846827343713),
    (10, 2.5, 0.0002773520946208362),
    (20, 3.0, 8.314423588191718e-11),
    (50, 10.0, 1.8547268838698457e-19),
    (100, 60.0, 1.4815276326460494e-06),
    (200, 10.0, 6.057917351915032e-180),
    (30, 30.0, 0.52428301389368),
    (1000, 900.0, 0.0005499022657117818),
    (7, 12.0, 0.9541776931113489),
];
const NB: &[(u64, f64, f64, f64)] = &[
    (1, 0.05, 1.5, 0.039735499207781945),
    (5, 1.0, 2.0, 0.03125),
    (10, 2.5, 1.2, 0.001220454967043968),
    (20, 3.0, 4.0, 0.0031712119389339963),
    (50, 10.0, 1.5, 3.55897120806246e-11),
    (100, 60.0, 1.1, 4.925324272015973e-06),
    (300, 50.0, 3.0, 7.544124184764064e-29),
    (40, 40.0, 2.0, 0.5000000000000002),
    (5, 20.0, 5.0, 0.9804185599999999),
    (1000, 800.0, 1.3, 1.7419616940233715e-09),
    (15, 0.3, 1.05, 1.8114255227872938e-16),
];
const LN_GAMMA: &[(f64, f64)] = &[
    (0.3, 1.0957979948180756),
    (1.0, 0.0),
    (2.5, 0.2846828704729192),
    (7.0, 6.579251212010101),
    (14.9, 24.924132002217277),
    (15.0, 25.191221182738683),
    (100.5, 361.43554046777757),
    (12345.678, 103959.91990554606),
];

fn assert_rel(got: f64, want: f64, what: &str) {
    let rel = if want == 0.0 { got.abs() } else { ((got - want) / want).abs() };
    assert!(rel < 1e-9, "{what}: got {got:e}, want {want:e}, relative error {rel:e}");
}

#[test]
fn poisson_tails_match_scipy() {
    for &(x, lambda, want) in POISSON {
        assert_rel(poisson_upper(x, lambda), want, &format!("Poisson P(X >= {x}; {lambda})"));
    }
}

#[test]
fn negative_binomial_tails_match_scipy() {
    for &(x, mu, phi, want) in NB {
        assert_rel(nb_upper(x, mu, phi), want, &format!("NB P(X >= {x}; mu {mu}, phi {phi})"));
    }
}

#[test]
fn ln_gamma_matches_scipy() {
    for &(v, want) in LN_GAMMA {
        let got = ln_gamma(v);
        let err = if want == 0.0 { got.abs() } else { ((got - want) / want).abs() };
        assert!(err < 1e-13, "ln_gamma({v}) = {got}, want {want}");
    }
}

#[test]
fn tails_are_one_at_zero_and_phi_one_is_poisson() {
    assert_eq!(nb_upper(0, 3.0, 2.0), 1.0);
    assert_eq!(poisson_upper(0, 3.0), 1.0);
    assert_rel(nb_upper(12, 4.0, 1.0), poisson_upper(12, 4.0), "phi = 1");
}

#[test]
fn upper_bound_is_the_first_count_below_alpha() {
    for &(mu, phi) in &[(0.5, 1.0), (3.0, 1.5), (40.0, 2.0), (150.0, 5.0)] {
        let u = upper_bound(mu, phi, 1e-5);
        assert!(nb_upper(u, mu, phi) < 1e-5);
        assert!(nb_upper(u - 1, mu, phi) >= 1e-5);
    }
}
