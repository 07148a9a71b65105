//! Insert throughput of one `ClickHouseSink` into a real server (with the `complaints_hourly`
//! view attached, as in production): 1 KB posts, batches as the sink runner would hand them.
//!
//!   OTKLIK_TEST_CLICKHOUSE=http://127.0.0.1:PORT cargo bench -p otklik-clickhouse --bench insert
//!
//! Env: OTKLIK_BENCH_ROWS (default 1 000 000), OTKLIK_BENCH_BATCH (default 50 000),
//! OTKLIK_BENCH_IN_FLIGHT (default 1), OTKLIK_BENCH_LZ4 (default 1).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use otklik_clickhouse::{ClickHouseSink, PostRow};
use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let Ok(url) = std::env::var("OTKLIK_TEST_CLICKHOUSE") else {
        eprintln!("insert bench skipped: set OTKLIK_TEST_CLICKHOUSE (scripts/clickhouse.sh start DIR prints a URL)");
        return;
    };
    let (total, batch) = (env("OTKLIK_BENCH_ROWS", 1_000_000), env("OTKLIK_BENCH_BATCH", 50_000));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut db = ScratchDb::new(&url, "otklik_bench").await;
        db.config.max_in_flight = env("OTKLIK_BENCH_IN_FLIGHT", 1) as usize;
        db.config.compression = env("OTKLIK_BENCH_LZ4", 1) == 1;
        let sink = ClickHouseSink::<PostRow>::new(db.config.clone());
        // Distinct uids per batch, 1 KB of text each; generation is outside the timed part.
        let template: Vec<PostRow> = (0..batch).map(|i| row(i, base_time(), 1_000)).collect();
        let bytes_per_row = template.iter().map(|r| r.text.len() + r.uid.len() + 200).sum::<usize>() / template.len();
        let mut busy = std::time::Duration::ZERO;
        let mut rows = template.clone();
        for start in (0..total).step_by(batch as usize) {
            for (k, r) in rows.iter_mut().enumerate() {
                r.uid = format!("vk:-1000:{}", start + k as u64);
            }
            let t = Instant::now();
            sink.insert(&rows).await.expect("insert");
            busy += t.elapsed();
        }
        let stored = db.count("SELECT count() FROM posts").await;
        assert_eq!(stored, total);
        let rate = total as f64 / busy.as_secs_f64();
        println!(
            "insert: {total} rows (~{bytes_per_row} B each) in batches of {batch}, {} in flight, lz4 {}: {:.2}s, {:.0} rows/s, {:.0} MB/s",
            db.config.max_in_flight,
            db.config.compression,
            busy.as_secs_f64(),
            rate,
            rate * bytes_per_row as f64 / 1e6
        );
        db.drop().await;
    });
}
