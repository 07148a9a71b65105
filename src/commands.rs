//! One function per subcommand: load what it needs, call the crates, print.

use crate::config::{Config, Mode};
use crate::graph::Role;
use anyhow::{bail, Context, Result};
use chrono::Utc;
use otklik_classify::{Classifier, SourceContext};
use otklik_collect::{parse_saved, ParseContext};
use otklik_model::{ClassifiedPost, Platform, PostUid, RawPost};
use std::io::{BufRead, BufReader, BufWriter, Write};
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

/// The longest stdin line `otklik classify` reads by default; a post is tens of KiB at most.
pub const CLASSIFY_MAX_LINE_BYTES: &str = "64MiB";

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

/// How `otklik classify` reads stdin.
pub struct ClassifyOptions {
    pub explain: bool,
    pub official: bool,
    /// Stop at the first bad line instead of skipping it.
    pub strict: bool,
    pub max_line_bytes: usize,
}

/// Classifies stdin line by line. A bad line (not UTF-8, not a RawPost, too long) is reported on
/// stderr with its number and skipped — one broken record must not lose the rest of a file — and
/// the run fails at the end with the count; `strict` stops at the first.
/// The stdin and stdout buffers of `otklik classify`.
const IO_BUFFER: usize = 1 << 20;

pub fn classify(config_path: &Path, options: &ClassifyOptions) -> Result<()> {
    let config = load_config(config_path)?;
    let classifier = config.classifier()?;
    // Large buffers: a post is a few hundred bytes, and the default 8 KiB ones cost a system call
    // every few dozen posts each way.
    let mut stdin = BufReader::with_capacity(IO_BUFFER, std::io::stdin().lock());
    let mut out = BufWriter::with_capacity(IO_BUFFER, std::io::stdout().lock());
    let context = SourceContext { official: options.official, municipality: None };
    let (mut line, mut number, mut skipped) = (Vec::new(), 0usize, 0usize);
    loop {
        let (read, too_long) =
            read_line_capped(&mut stdin, &mut line, options.max_line_bytes).context("cannot read stdin")?;
        if read == 0 {
            break;
        }
        number += 1;
        let outcome = if too_long {
            Line::Bad(format!("longer than {} bytes (--max-line-bytes)", options.max_line_bytes))
        } else {
            classify_line(&classifier, &line, &context, options.explain)?
        };
        match outcome {
            Line::Blank => {}
            Line::Out(value) => {
                serde_json::to_writer(&mut out, &value)?;
                out.write_all(b"\n")?;
            }
            Line::Bad(reason) if options.strict => {
                out.flush()?;
                bail!("stdin line {number}: {reason}");
            }
            Line::Bad(reason) => {
                eprintln!("stdin line {number}: {reason}; skipped");
                skipped += 1;
            }
        }
    }
    out.flush()?;
    if skipped > 0 {
        bail!("{skipped} line{} skipped", if skipped == 1 { "" } else { "s" });
    }
    Ok(())
}

/// What became of one stdin line.
enum Line {
    Blank,
    Out(serde_json::Value),
    /// Why the line cannot be classified; never the line itself.
    Bad(String),
}

fn classify_line(classifier: &Classifier, bytes: &[u8], context: &SourceContext, explain: bool) -> Result<Line> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let line = match std::str::from_utf8(bytes) {
        Ok(line) => line,
        Err(e) => return Ok(Line::Bad(format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1))),
    };
    if line.trim().is_empty() {
        return Ok(Line::Blank);
    }
    // A line that starts like a JSON object is a RawPost; anything else is plain text.
    let explain_text = |text: &str| explain.then(|| classifier.explain_text(text, context));
    let (mut value, explanation) = if line.trim_start().starts_with('{') {
        let post: RawPost = match otklik_model::decode_str("RawPost", line) {
            Ok(post) => post,
            Err(e) => {
                let (start, reason) = (prefix(line, 24), prefix(&e.to_string(), 200));
                return Ok(Line::Bad(format!("starts with «{start}» but is not a RawPost: {reason}")));
            }
        };
        let explanation = explain_text(&post.full_text());
        let classification = classifier.classify(&post, context);
        (serde_json::to_value(ClassifiedPost::new(post, classification))?, explanation)
    } else {
        let classification = classifier.classify_text(line, context);
        (serde_json::json!({ "text": line, "classification": classification }), explain_text(line))
    };
    if let Some(explanation) = explanation {
        value["explain"] = serde_json::to_value(explanation)?;
    }
    Ok(Line::Out(value))
}

/// The first `chars` characters of `text`, with «…» when there is more.
fn prefix(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Reads one line, its end included, into `line`, keeping at most `max` bytes and consuming the
/// rest of a longer one. Returns the bytes consumed (0 at the end of input) and whether the line
/// was longer than `max`.
fn read_line_capped(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<(usize, bool)> {
    line.clear();
    let (mut consumed, mut too_long) = (0, false);
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((consumed, too_long));
        }
        let end = buf.iter().position(|&b| b == b'\n').map(|i| i + 1);
        let chunk = &buf[..end.unwrap_or(buf.len())];
        let room = max.saturating_sub(line.len());
        too_long |= chunk.len() > room;
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        input.consume(n);
        consumed += n;
        if end.is_some() {
            return Ok((consumed, too_long));
        }
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
        println!("misclassified rows written to {}", path.display());
    }
    if report.rows == 0 {
        bail!("{} has no rows", file.display());
    }
    Ok(())
}
