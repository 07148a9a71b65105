//! One function per subcommand: load what it needs, call the crates, print.

use crate::config::{Config, Mode};
use crate::graph::Role;
use anyhow::{bail, Context, Result};
use chrono::Utc;
use otklik_collect::{parse_saved, ParseContext};
use otklik_model::{Platform, PostUid};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Prints to stdout; a closed pipe (`otklik report | head`) ends the output quietly.
pub fn print_stdout(text: impl std::fmt::Display) -> Result<()> {
    quiet_on_closed_pipe(write!(std::io::stdout().lock(), "{text}").map_err(Into::into))
}

/// Ends a streaming command quietly when its reader has gone (`otklik classify | head`): a closed
/// pipe is how a pipeline says it has enough, not a failure.
pub fn quiet_on_closed_pipe(result: Result<()>) -> Result<()> {
    let closed_pipe = |e: &anyhow::Error| {
        e.chain().any(|cause| {
            cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind)
                    == Some(std::io::ErrorKind::BrokenPipe)
        })
    };
    match result {
        Err(e) if closed_pipe(&e) => Ok(()),
        result => result,
    }
}

pub fn check_config(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            println!("{}: ok ({:?} mode, {} sources)", path.display(), config.run.mode, config.sources.len());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("{problems}");
            ExitCode::from(2)
        }
    }
}

/// Loads a config for a command that cannot start without one.
pub fn load_config(path: &Path) -> Result<Config> {
    Config::load(path)
        .map_err(|problems| anyhow::anyhow!("{problems}"))
        .with_context(|| format!("invalid config {}", path.display()))
}

/// Runs the stages of `role`: every stage (`otklik run`, embedded or over Kafka), or one kind of
/// stage over Kafka (`otklik collect`, `classify-stage`, `sink`).
pub fn run(path: &Path, role: Role) -> Result<()> {
    let config = load_config(path)?;
    if role != Role::All && config.run.mode != Mode::Production {
        bail!("a stage of its own needs production mode ([run] mode = \"production\" with [kafka]): the embedded bus lives inside one process; use `otklik run`");
    }
    crate::telemetry::init(&config.telemetry)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match config.run.mode {
            Mode::Embedded => {
                let summary = crate::embedded::run(path, &config).await?;
                print_stdout(summary)
            }
            Mode::Production => crate::production::run(path, &config, role).await,
        }
    })
}

/// What `otklik parse` reads at most by default: a saved response is a few MiB.
pub const PARSE_MAX_BYTES: &str = "64MiB";

/// What `otklik parse` is told besides the file.
pub struct ParseOptions {
    pub source_id: Option<String>,
    pub parent: Option<String>,
    /// The VK wall's owner id for items that do not carry one.
    pub owner: Option<i64>,
    pub max_bytes: usize,
}

pub fn parse(platform: Platform, file: &Path, options: ParseOptions) -> Result<()> {
    let bytes = read_capped(file, options.max_bytes)?;
    let parent = options.parent.map(|p| p.parse::<PostUid>()).transpose().context("--parent")?;
    if options.owner.is_some() && platform != Platform::Vk {
        bail!("--owner is for VK responses");
    }
    let ctx = ParseContext { source_id: options.source_id, collected_at: Utc::now(), parent, owner: options.owner };
    let parsed = parse_saved(platform, &bytes, &ctx).with_context(|| format!("{}", file.display()))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for post in &parsed.posts {
        serde_json::to_writer(&mut out, post)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    report_unparsed(file, &parsed)
}

/// Names on stderr every item that is not a post; fails (exit 1) when nothing was parsed and the
/// input was not a well-formed empty feed, so a script never mistakes a broken answer for a
/// quiet one.
fn report_unparsed(file: &Path, parsed: &otklik_collect::Parsed) -> Result<()> {
    for bad in &parsed.bad_items {
        eprintln!("{}: skipped {bad}", file.display());
    }
    if !parsed.posts.is_empty() {
        return Ok(());
    }
    match (&parsed.empty, parsed.bad_items.len()) {
        (Some(empty), _) => anyhow::bail!("{}: {empty}", file.display()),
        (None, 0) => Ok(()),
        (None, n) => anyhow::bail!("{}: nothing parsed: all {n} items are invalid", file.display()),
    }
}

/// `otklik rules-coverage`: every pattern's count of matched texts over `files`, the unmatched
/// ones (or, with `all`, every one) listed by file and line.
pub fn rules_coverage(config_path: &Path, files: &[PathBuf], all: bool) -> Result<()> {
    let config = load_config(config_path)?;
    let mut texts = Vec::new();
    for file in files {
        texts.extend(read_texts(file).with_context(|| format!("cannot read texts from {}", file.display()))?);
    }
    let topics = config.resolve(&config.classify.topics_dir);
    let mut uses = otklik_classify::coverage::pattern_coverage(&topics, texts.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot load the rules in {}", topics.display()))?;
    let unmatched = uses.iter().filter(|u| u.texts == 0).count();
    let mut out = format!("{} patterns, {unmatched} matching none of {} texts\n", uses.len(), texts.len());
    uses.sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
    for u in uses.iter().filter(|u| all || u.texts == 0) {
        let file =
            u.origin.file.file_name().map_or(u.origin.file.display().to_string(), |f| f.to_string_lossy().into());
        out.push_str(&format!("{file}:{}\t{}\t{}\t{}\n", u.origin.line, u.rule, u.texts, u.origin.text));
    }
    print_stdout(out)
}

/// The `text` column of a CSV file.
pub fn csv_texts(path: &Path) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("cannot read {}", path.display()))?.clone();
    let column =
        headers.iter().position(|h| h == "text").with_context(|| format!("{} has no text column", path.display()))?;
    let mut texts = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("cannot read {}", path.display()))?;
        texts.extend(record.get(column).map(str::to_owned));
    }
    Ok(texts)
}

/// The texts of a CSV file's `text` column, or a text file's non-empty lines.
fn read_texts(file: &Path) -> Result<Vec<String>> {
    if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        return csv_texts(file);
    }
    let text = std::fs::read_to_string(file)?;
    Ok(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect())
}

/// Reads at most `max` bytes of `file` (`Read::take`): a wrong path (a device, a disk image) fails
/// at once instead of filling memory.
fn read_capped(file: &Path, max: usize) -> Result<Vec<u8>> {
    use otklik_pipeline::units::{read_capped_bytes, ReadCappedError};
    match read_capped_bytes(file, max) {
        Err(ReadCappedError::TooLarge(_)) => {
            bail!("{} is larger than {max} bytes (--max-bytes): not a saved response?", file.display())
        }
        result => result.with_context(|| format!("cannot read {}", file.display())),
    }
}

pub fn eval(config_path: &Path, file: &Path, misses: Option<&Path>) -> Result<()> {
    let config = load_config(config_path)?;
    let classifier = config.classifier()?;
    let reader = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let report = otklik_classify::eval::evaluate(&classifier, reader)
        .with_context(|| format!("cannot evaluate {}", file.display()))?;
    print_stdout(&report)?;
    if let Some(path) = misses {
        let writer = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        report.write_misses(writer).with_context(|| format!("cannot write {}", path.display()))?;
        print_stdout(format_args!("misclassified rows written to {}\n", path.display()))?;
    }
    if report.rows == 0 {
        bail!("{} has no rows", file.display());
    }
    Ok(())
}
