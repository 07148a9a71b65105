//! The benchmark's gates (20 replicates, seed 42): see `otklik alerts bench` and the README's
//! alert notes. A gate changes only with a measured POD / false-alert curve.

use otklik_alert::bench::{self, BenchConfig, Report};

fn runs() -> (Report, Report) {
    let full = BenchConfig { replicates: 20, ..BenchConfig::default() };
    let cold = BenchConfig { history_days: 3, ..full.clone() };
    let a = bench::run(&full, "full history");
    let b = bench::run(&cold, "3 days of history");
    println!("{}\n{}", bench::render(&a), bench::render(&b));
    (a, b)
}

#[test]
fn bench_gates() {
    let (full, cold) = runs();
    let mut failures = Vec::new();
    let o = &full.overall;
    if o.false_per_series_month() > 0.03 {
        failures.push(format!("overall false alerts {:.4} per series-month > 0.03", o.false_per_series_month()));
    }
    for (s, t) in &full.scenarios {
        if t.false_per_series_month() > 0.1 {
            failures.push(format!("scenario {} false alerts {:.4} > 0.1", s.id, t.false_per_series_month()));
        }
    }
    for k in 5..=10 {
        let floor = if k == 10 { 0.97 } else { 0.90 };
        if o.pod_10(k) < floor {
            failures.push(format!("POD at k = {k} (≥ 10 incidents) {:.3} < {floor}", o.pod_10(k)));
        }
    }
    if o.delay_quantile_from(5, 0.5) > 1.0 {
        failures.push(format!("median delay for k ≥ 5 is {} h > 1 h", o.delay_quantile_from(5, 0.5)));
    }
    let c = &cold.overall;
    if c.false_per_series_month() > 0.1 {
        failures.push(format!("cold start false alerts {:.4} per series-month > 0.1", c.false_per_series_month()));
    }
    if c.pod_10(10) < 0.8 {
        failures.push(format!("cold start POD at k = 10 {:.3} < 0.8", c.pod_10(10)));
    }
    assert!(failures.is_empty(), "bench gates failed:\n{}", failures.join("\n"));
}
