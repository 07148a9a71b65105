//! `otklik alerts bench`: glue between the command line and `otklik_alert::bench`.

use anyhow::{Context, Result};
use otklik_alert::bench::{self, BenchConfig};
use std::path::Path;

/// Runs the simulation with a year of history and again with 3 days, prints both reports and
/// writes every figure to `csv` when given.
pub fn bench(replicates: usize, seed: u64, series: usize, csv: Option<&Path>) -> Result<()> {
    anyhow::ensure!(replicates > 0, "--replicates must be at least 1");
    let full = BenchConfig { replicates, seed, series, ..BenchConfig::default() };
    let cold = BenchConfig { history_days: 3, ..full.clone() };
    let reports = [bench::run(&full, "one year of history"), bench::run(&cold, "3 days of history")];
    for report in &reports {
        println!("{}", bench::render(report));
    }
    if let Some(path) = csv {
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        bench::write_csv(&reports, &mut out).with_context(|| format!("cannot write {}", path.display()))?;
        std::io::Write::flush(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
