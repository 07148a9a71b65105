//! Measures the classifier on a labelled CSV.
//!
//! `cargo run -p otklik-classify --release --example eval -- FILE.csv [--misses out.csv]
//!  [--topics DIR] [--gazetteer FILE | --no-gazetteer] [--mode endings|snowball|either]`

use anyhow::{bail, Context};
use otklik_classify::{eval, Classifier, InflectionMode};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut file = None;
    let mut misses = None;
    let mut topics = root.join("config/topics");
    // The shipped gazetteer is used unless another is named, so municipality scores show up.
    let shipped = root.join("config/gazetteer/gazetteer.tsv");
    let mut gazetteer = shipped.exists().then_some(shipped);
    let mut mode = InflectionMode::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--misses" => misses = Some(PathBuf::from(args.next().context("--misses needs a file")?)),
            "--topics" => topics = PathBuf::from(args.next().context("--topics needs a directory")?),
            "--gazetteer" => gazetteer = Some(PathBuf::from(args.next().context("--gazetteer needs a file")?)),
            "--no-gazetteer" => gazetteer = None,
            "--mode" => {
                mode = match args.next().as_deref() {
                    Some("endings") => InflectionMode::Endings,
                    Some("snowball") => InflectionMode::Snowball,
                    Some("either") => InflectionMode::Either,
                    other => bail!("--mode endings|snowball|either, not {other:?}"),
                }
            }
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => bail!("unexpected argument {arg:?}"),
        }
    }
    let file = file.context("usage: eval FILE.csv [--misses out.csv] [--topics DIR] [--gazetteer FILE | --no-gazetteer] [--mode endings|snowball|either]")?;
    let started = std::time::Instant::now();
    let classifier = Classifier::load_with_mode(&topics, gazetteer.as_deref(), mode)?;
    let loaded = started.elapsed();
    let reader = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let report = eval::evaluate(&classifier, reader)?;
    print!("{report}");
    println!("\nloaded in {loaded:.2?}, evaluated in {:.2?}", started.elapsed() - loaded);
    if let Some(path) = misses {
        let out = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        report.write_misses(out)?;
        println!("{} misclassified rows written to {}", report.misses.len(), path.display());
    }
    Ok(())
}
