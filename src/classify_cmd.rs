//! `otklik classify`: RawPost JSON lines or plain text on stdin, one classified post a line on
//! stdout, in input order.
//!
//! The classifier is a pure function of a line, so lines are classified in batches on every core
//! (`--threads`): one thread reads stdin into batches, workers classify them, and the calling
//! thread writes the results back in input order. A bad line (not UTF-8, not a RawPost, too long) is reported on
//! stderr with its number and skipped — one broken record must not lose the rest of a file — and
//! the run fails at the end with the count; `--strict` stops at the first.

use crate::commands::load_config;
use anyhow::{bail, Context, Result};
use otklik_classify::{Classifier, Explanation, SourceContext};
use otklik_model::{Classification, ClassifiedPost, RawPost};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};

/// The longest stdin line `otklik classify` reads by default; a post is tens of KiB at most.
pub const CLASSIFY_MAX_LINE_BYTES: &str = "64MiB";

/// How `otklik classify` reads stdin.
pub struct ClassifyOptions {
    pub explain: bool,
    pub official: bool,
    /// Stop at the first bad line instead of skipping it.
    pub strict: bool,
    pub max_line_bytes: usize,
    /// Threads that classify (at least one).
    pub threads: usize,
}

/// The stdin and stdout buffers: a post is a few hundred bytes, and the default 8 KiB ones cost a
/// system call every few dozen posts each way.
const IO_BUFFER: usize = 1 << 20;

/// A batch closes at this many lines or bytes, whichever comes first: big enough that handing it
/// to a worker costs nothing next to classifying it, small enough that `| head -1` is answered at
/// once and that memory stays bounded whatever the lines' length.
const BATCH_LINES: usize = 256;
const BATCH_BYTES: usize = 1 << 20;

/// Batches read but not yet written, per worker: enough to keep every worker busy while the
/// writer waits for the oldest one.
const IN_FLIGHT_PER_WORKER: usize = 4;

/// A run of stdin lines back to back in `text`; `first` is the number of the first one (from 1).
struct Batch {
    index: usize,
    first: usize,
    text: Vec<u8>,
    /// Per line: where it ends in `text`, and whether it was cut at `--max-line-bytes`.
    lines: Vec<(usize, bool)>,
}

/// A batch classified: its output lines back to back, and what became of each input line.
struct Classified {
    index: usize,
    first: usize,
    out: Vec<u8>,
    lines: Vec<Outcome>,
}

/// What became of one stdin line.
enum Outcome {
    Blank,
    /// Written to the batch's output up to this offset.
    Out(usize),
    /// Why the line cannot be classified; never the line itself.
    Bad(String),
}

pub fn classify(config_path: &Path, options: &ClassifyOptions) -> Result<()> {
    let config = load_config(config_path)?;
    let classifier = Arc::new(config.classifier()?);
    let context = SourceContext { official: options.official, municipality: None };
    let workers = options.threads.max(1);
    let (batch_tx, batch_rx) = sync_channel::<Batch>(workers);
    let (done_tx, done_rx) = sync_channel::<Result<Classified>>(workers);
    // One permit per batch read and not yet written: bounds memory when one batch is slow.
    let (permit_tx, permit_rx) = sync_channel::<()>(workers * IN_FLIGHT_PER_WORKER);
    // The threads are not joined when the writer fails (a closed pipe): a reader waiting for
    // stdin that never ends must not keep the process alive, so they own what they use.
    let max_line_bytes = options.max_line_bytes;
    // Named, so that a profile or `scripts/classify-bench.py` can tell the threads' shares apart.
    let reader = std::thread::Builder::new()
        .name("classify-reader".into())
        .spawn(move || read_batches(max_line_bytes, &batch_tx, &permit_tx))
        .context("cannot start the stdin reader")?;
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    for worker in 0..workers {
        let (batch_rx, done_tx) = (Arc::clone(&batch_rx), done_tx.clone());
        let (classifier, context, explain) = (Arc::clone(&classifier), context.clone(), options.explain);
        std::thread::Builder::new()
            .name(format!("classify-{worker}"))
            .spawn(move || loop {
                let Ok(batch) = batch_rx.lock().unwrap_or_else(PoisonError::into_inner).recv() else { break };
                if done_tx.send(classify_batch(&classifier, &context, explain, max_line_bytes, batch)).is_err() {
                    break;
                }
            })
            .context("cannot start a classifier thread")?;
    }
    drop(done_tx);
    write_in_order(done_rx, permit_rx, options.strict)?;
    reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Reads stdin into batches until its end or until no one takes them.
fn read_batches(max_line_bytes: usize, batches: &SyncSender<Batch>, permits: &SyncSender<()>) -> Result<()> {
    let mut stdin = BufReader::with_capacity(IO_BUFFER, std::io::stdin().lock());
    let (mut index, mut number, mut line) = (0, 0, Vec::new());
    let mut at_end = false;
    while !at_end {
        let mut batch = Batch { index, first: number + 1, text: Vec::new(), lines: Vec::new() };
        while batch.lines.len() < BATCH_LINES && batch.text.len() < BATCH_BYTES {
            let (read, too_long) =
                read_line_capped(&mut stdin, &mut line, max_line_bytes).context("cannot read stdin")?;
            if read == 0 {
                at_end = true;
                break;
            }
            batch.text.extend_from_slice(&line);
            batch.lines.push((batch.text.len(), too_long));
        }
        if batch.lines.is_empty() {
            break;
        }
        number += batch.lines.len();
        index += 1;
        if permits.send(()).is_err() || batches.send(batch).is_err() {
            break; // the writer has stopped; it reports why
        }
    }
    Ok(())
}

fn classify_batch(
    classifier: &Classifier,
    context: &SourceContext,
    explain: bool,
    max_line_bytes: usize,
    batch: Batch,
) -> Result<Classified> {
    let mut done = Classified {
        index: batch.index,
        first: batch.first,
        out: Vec::new(),
        lines: Vec::with_capacity(batch.lines.len()),
    };
    let mut from = 0;
    for &(end, too_long) in &batch.lines {
        let line = &batch.text[from..end];
        from = end;
        let outcome = if too_long {
            Outcome::Bad(format!("longer than {max_line_bytes} bytes (--max-line-bytes)"))
        } else {
            classify_line(classifier, line, context, explain, &mut done.out)?
        };
        done.lines.push(outcome);
    }
    Ok(done)
}

/// Writes the batches' output in input order and reports their bad lines.
fn write_in_order(done: Receiver<Result<Classified>>, permits: Receiver<()>, strict: bool) -> Result<()> {
    let mut out = BufWriter::with_capacity(IO_BUFFER, std::io::stdout().lock());
    let (mut pending, mut next, mut skipped) = (BTreeMap::new(), 0, 0usize);
    for batch in done {
        let batch = batch?;
        pending.insert(batch.index, batch);
        while let Some(batch) = pending.remove(&next) {
            next += 1;
            let mut from = 0;
            for (number, outcome) in (batch.first..).zip(&batch.lines) {
                match outcome {
                    Outcome::Blank => {}
                    Outcome::Out(end) => {
                        out.write_all(&batch.out[from..*end])?;
                        from = *end;
                    }
                    Outcome::Bad(reason) if strict => {
                        out.flush()?;
                        bail!("stdin line {number}: {reason}");
                    }
                    Outcome::Bad(reason) => {
                        eprintln!("stdin line {number}: {reason}; skipped");
                        skipped += 1;
                    }
                }
            }
            // The reader may read one batch more.
            let _ = permits.recv();
        }
    }
    out.flush()?;
    if skipped > 0 {
        bail!("{skipped} line{} skipped", if skipped == 1 { "" } else { "s" });
    }
    Ok(())
}

/// A plain-text line with its classification.
#[derive(Serialize)]
struct ClassifiedText<'a> {
    text: &'a str,
    classification: Classification,
}

/// An output line: the classified post or text, written straight from its fields (the wire's
/// order, as `otklik classify-stage` writes it), with `--explain`'s account beside them.
#[derive(Serialize)]
struct Explained<T: Serialize> {
    #[serde(flatten)]
    item: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Explanation>,
}

/// Classifies one line into `out` (its JSON and a newline).
fn classify_line(
    classifier: &Classifier,
    bytes: &[u8],
    context: &SourceContext,
    explain: bool,
    out: &mut Vec<u8>,
) -> Result<Outcome> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let line = match simdutf8::basic::from_utf8(bytes) {
        Ok(line) => line,
        // The fast check says only whether; the slow one, run on bad lines alone, says where.
        Err(_) => {
            let at = std::str::from_utf8(bytes).err().map_or(0, |e| e.valid_up_to());
            return Ok(Outcome::Bad(format!("not valid UTF-8 (byte {})", at + 1)));
        }
    };
    if line.trim().is_empty() {
        return Ok(Outcome::Blank);
    }
    // A line that starts like a JSON object is a RawPost; anything else is plain text.
    let explain_text = |text: &str| explain.then(|| classifier.explain_text(text, context));
    if line.trim_start().starts_with('{') {
        let post: RawPost = match otklik_model::decode_str("RawPost", line) {
            Ok(post) => post,
            Err(e) => {
                let (start, reason) = (prefix(line, 24), prefix(&e.to_string(), 200));
                return Ok(Outcome::Bad(format!("starts with «{start}» but is not a RawPost: {reason}")));
            }
        };
        let explain = explain_text(&post.full_text());
        let classification = classifier.classify(&post, context);
        let post = ClassifiedPost::new(post, classification);
        serde_json::to_writer(&mut *out, &Explained { item: &post, explain })?;
    } else {
        let classification = classifier.classify_text(line, context);
        let item = ClassifiedText { text: line, classification };
        serde_json::to_writer(&mut *out, &Explained { item, explain: explain_text(line) })?;
    }
    out.push(b'\n');
    Ok(Outcome::Out(out.len()))
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
