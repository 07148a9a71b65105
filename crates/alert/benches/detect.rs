//! One evaluation pass over 10 000 series holding 8 weeks of hourly counts, and their state size.

use chrono::DateTime;
use criterion::{criterion_group, criterion_main, Criterion};
use otklik_alert::detect::calendar::Calendar;
use otklik_alert::detect::{Detector, DetectorConfig, SeriesKey};
use otklik_model::Topic;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SERIES: usize = 10_000;
const START: i64 = 490_000;
const HOURS: i64 = 57 * 24;

fn detector() -> Detector {
    let mut d = Detector::new(DetectorConfig::default(), Calendar::default());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..SERIES {
        let topic = Topic::ALL[i % Topic::ALL.len()];
        let key = SeriesKey { municipality: Some(format!("{:08}", 56_000_000 + i / Topic::ALL.len())), topic };
        let rate = [0.05, 0.3, 1.0, 4.0][i % 4];
        d.add_series(key.clone(), START);
        for h in START..START + HOURS {
            let n = (0..8).filter(|_| rng.gen::<f64>() < rate / 8.0).count() as u32;
            d.observe(&key, h, n);
        }
    }
    d.fit_profiles();
    d
}

/// Resident memory in bytes (Linux), to measure what the state costs.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()).unwrap_or(0) * 4096
}

fn bench(c: &mut Criterion) {
    let before = resident();
    let mut d = detector();
    // The first pass fits every baseline; later passes refit 1/24 of the series per hour.
    let mut minute = 0i64;
    let t0 = (START + HOURS) * 3600;
    d.evaluate(DateTime::from_timestamp(t0, 0).unwrap_or_default());
    println!(
        "state: {} series, {} held hours each: {:.1} MB of counts, {:.1} MB resident growth",
        d.series_count(),
        57 * 24,
        (d.series_count() * 57 * 24 * 2) as f64 / 1e6,
        resident().saturating_sub(before) as f64 / 1e6
    );
    c.bench_function("evaluate 10k series (15-minute pass)", |b| {
        b.iter(|| {
            minute += 15;
            d.evaluate(DateTime::from_timestamp(t0 + minute * 60, 0).unwrap_or_default())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
