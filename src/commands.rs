//! One function per subcommand: load what it needs, call the crates, print.

use crate::config::{Config, Mode};
use anyhow::{bail, Context, Result};
use chrono::Utc;
use otklik_classify::{Classifier, SourceContext};
use otklik_collect::{parse_saved_response, ParseContext};
use otklik_model::{ClassifiedPost, Platform, PostUid, RawPost};
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
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
                || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind) == Some(std::io::ErrorKind::BrokenPipe)
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
    Config::load(path).map_err(|problems| anyhow::anyhow!("{problems}")).with_context(|| format!("invalid config {}", path.display()))
}

pub fn load_classifier(config: &Config) -> Result<Classifier> {
    let gazetteer = (!config.classify.gazetteer.as_os_str().is_empty()).then(|| config.resolve(&config.classify.gazetteer));
    Classifier::load(&config.resolve(&config.classify.topics_dir), gazetteer.as_deref()).context("cannot load the classifier")
}

pub fn run(path: &Path) -> Result<()> {
    let config = load_config(path)?;
    crate::telemetry::init(&config.telemetry)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match config.run.mode {
            Mode::Embedded => {
                let summary = crate::embedded::run(&config).await?;
                print_stdout(summary)
            }
            Mode::Production => crate::production::run(&config).await,
        }
    })
}

pub fn parse(platform: Platform, file: &Path, source_id: Option<String>, parent: Option<String>) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parent = parent.map(|p| p.parse::<PostUid>()).transpose().context("--parent")?;
    let ctx = ParseContext { source_id, collected_at: Utc::now(), parent };
    let posts = parse_saved_response(platform, &bytes, &ctx).with_context(|| format!("{}", file.display()))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for post in &posts {
        serde_json::to_writer(&mut out, post)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub fn classify(config_path: &Path, explain: bool, official: bool) -> Result<()> {
    let config = load_config(config_path)?;
    let classifier = load_classifier(&config)?;
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (number, line) in stdin.lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let context = SourceContext { official, municipality: None };
        // A line that starts like a JSON object is a RawPost; anything else is plain text.
        let value = if line.trim_start().starts_with('{') {
            let post: RawPost = otklik_model::decode("RawPost", line.as_bytes()).with_context(|| format!("stdin line {}", number + 1))?;
            let classification = classifier.classify(&post, &context);
            let mut value = serde_json::to_value(ClassifiedPost::new(post.clone(), classification))?;
            if explain {
                value["explain"] = serde_json::to_value(classifier.explain_text(&post.full_text(), &context))?;
            }
            value
        } else {
            let mut value = serde_json::json!({ "text": line, "classification": classifier.classify_text(&line, &context) });
            if explain {
                value["explain"] = serde_json::to_value(classifier.explain_text(&line, &context))?;
            }
            value
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub fn eval(config_path: &Path, file: &Path, misses: Option<&Path>) -> Result<()> {
    let config = load_config(config_path)?;
    let classifier = load_classifier(&config)?;
    let reader = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let report = otklik_classify::eval::evaluate(&classifier, reader).with_context(|| format!("cannot evaluate {}", file.display()))?;
    print_stdout(&report)?;
    if let Some(path) = misses {
        let writer = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        report.write_misses(writer).with_context(|| format!("cannot write {}", path.display()))?;
        println!("misclassified rows written to {}", path.display());
    }
    if report.rows == 0 {
        bail!("{} has no rows", file.display());
    }
    Ok(())
}
