//! `otklik dedup eval FILE.csv [--out PRED.csv]`: incident linking measured on a labelled CSV.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use otklik_alert::eval::{link_rows, read_rows, Report};
use otklik_alert::incident::LinkConfig;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many worst merges and splits to print.
const WORST: usize = 5;

#[derive(Subcommand)]
pub enum DedupCommand {
    /// Classify each row, link the rows in time order and compare the incidents with the labels
    /// (`id,author,published_at,text,incident`; optional `source,source_oktmo,reply_to,repost_of,
    /// is_source,official`).
    Eval {
        file: PathBuf,
        #[arg(long, short, default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Write `id,incident` as predicted to this CSV.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(command: DedupCommand) -> Result<()> {
    match command {
        DedupCommand::Eval { file, config, out } => eval(&config, &file, out.as_deref()),
    }
}

fn eval(config_path: &Path, file: &Path, out: Option<&Path>) -> Result<()> {
    let config = crate::commands::load_config(config_path)?;
    let classifier = config.classifier()?;
    let reader = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let rows = read_rows(reader).with_context(|| format!("cannot read {}", file.display()))?;
    if rows.is_empty() {
        bail!("{} has no rows", file.display());
    }
    let gold: Vec<&str> = rows.iter().map(|r| r.incident.as_str()).collect();
    let links = link_rows(&rows, &classifier, LinkConfig::default());
    let predicted: Vec<&str> = links.iter().map(|l| l.incident_id.as_str()).collect();
    let copies = link_rows(&rows, &classifier, LinkConfig { copies_only: true, ..LinkConfig::default() });
    let copies: Vec<&str> = copies.iter().map(|l| l.incident_id.as_str()).collect();
    let voices = links.iter().filter(|l| l.is_voice).count();
    let copies_found = links.iter().filter(|l| l.copy_of.is_some()).count();
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", Report::new("incident linking", &gold, &predicted, WORST))?;
    writeln!(stdout, "copies {copies_found}, voices {voices}\n")?;
    write!(stdout, "{}", Report::new("copies only (text alone, no linking)", &gold, &copies, WORST))?;
    if let Some(path) = out {
        let mut csv = String::from("id,incident\n");
        for (row, link) in rows.iter().zip(&links) {
            csv.push_str(&format!("{},{}\n", field(&row.id), field(&link.incident_id)));
        }
        std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(stdout, "predicted incidents written to {}", path.display())?;
    }
    Ok(())
}

/// A CSV field, quoted when it must be.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}
