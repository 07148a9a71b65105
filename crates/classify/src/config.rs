//! Loading topic rules from `config/topics/*.toml`, and the post-kind cues from
//! `config/topics/kinds.toml`.
//!
//! One file per topic group; each file holds `[[topic]]` tables:
//!
//! ```toml
//! [[topic]]
//! id = "heating"                 # a taxonomy id (DESIGN.md)
//! threshold = 1.0                # score needed to tag a post (default 1.0)
//! exclude = ["горячий линия"]    # spans where this topic's rules do not count
//! alongside = false              # a topic of who failed rather than what (the management
//!                                # company): tagged beside a stronger topic whatever the ratio
//!
//! [[topic.rule]]
//! id = "no_heating"              # unique within the topic; reported as "heating.no_heating"
//! weight = 1.0                   # added to the topic's score once when the rule fires (default 1.0)
//! patterns = ["=нет ~3 отопление"]
//! regex = []                     # over the normalised text, for what patterns cannot say
//! suppress = ["street_lighting"] # topics this rule rules out when it fires
//! context = false                # a place or setting word («в подъезде», «на дороге»): counts
//!                                # only for a topic with other evidence, or when no topic has any
//! place = false                  # its nouns name a place that is the topic itself (a container
//!                                # site): still counts when read as a location («у контейнеров»)
//! ```
//!
//! `kinds.toml` ([`KINDS_FILE`]) holds `[[cue]]` tables instead, one for every [`Cue`]:
//!
//! ```toml
//! [[cue]]
//! id = "complaint"               # a cue id (crate::kind::Cue)
//! patterns = ["=нет", "безобраз*"]
//! ```
//!
//! Every problem in every file is collected, with its file and line, before loading fails: a
//! rules author fixes them all in one go.

use crate::kind::Cue;
use crate::pattern::{self, PhraseSpec};
use otklik_model::Topic;
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// One thing wrong with the rules (or the gazetteer), located: the one [`Problem`] of every
/// component's config.
pub use otklik_model::Problem;

/// The classifier could not be loaded. Lists every problem found; never retryable: the same
/// files fail the same way until someone edits them.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot load the classifier ({} problem{}):\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, ProblemList(.problems))]
pub struct LoadError {
    pub problems: Vec<Problem>,
}

impl LoadError {
    /// Configuration errors do not go away by retrying.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    topic: Vec<TopicDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicDef {
    id: Spanned<String>,
    #[serde(default)]
    threshold: Option<Spanned<f64>>,
    /// Free text for rule authors.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    alongside: bool,
    #[serde(default)]
    rule: Vec<RuleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: Spanned<String>,
    #[serde(default)]
    weight: Option<Spanned<f64>>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    regex: Vec<Spanned<String>>,
    #[serde(default)]
    suppress: Vec<Spanned<String>>,
    #[serde(default)]
    context: bool,
    #[serde(default)]
    place: bool,
}

/// `kinds.toml`: the post-kind cues.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindsDef {
    #[serde(default)]
    cue: Vec<CueDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CueDef {
    id: Spanned<String>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
}

/// The file of post-kind cues, in the topics directory so that whatever ships the topic rules
/// (a container image, a ConfigMap of the directory) ships the cues too.
pub const KINDS_FILE: &str = "kinds.toml";

/// A rule ready to compile.
pub(crate) struct RuleConfig {
    /// `topic.rule`, or `topic.exclude` for a topic's exclusions.
    pub id: String,
    pub topic: Topic,
    pub weight: f32,
    pub exclude: bool,
    /// Only counts when the post has no stronger evidence elsewhere (see the crate docs).
    pub context: bool,
    /// Counts even where its match is read as a location (see [`crate::location`]).
    pub place: bool,
    pub phrases: Vec<PhraseSpec>,
    pub regexes: Vec<Regex>,
    pub suppress: Vec<Topic>,
}

/// All topics' rules, validated.
pub(crate) struct RulesConfig {
    pub rules: Vec<RuleConfig>,
    /// Per topic (taxonomy order): its threshold.
    pub thresholds: HashMap<Topic, f32>,
    /// Topics tagged beside a stronger one whatever the ratio of their scores.
    pub alongside: Vec<Topic>,
    /// Every post-kind cue with its patterns, in [`Cue::ALL`] order.
    pub cues: Vec<(Cue, Vec<PhraseSpec>)>,
    /// The files read, for the version fingerprint.
    pub sources: Vec<(PathBuf, String)>,
}

/// The default score a topic needs.
pub const DEFAULT_THRESHOLD: f64 = 1.0;
/// Weights beyond this would let one rule drown every other signal.
pub const MAX_WEIGHT: f64 = 10.0;

/// The largest topic rules file read; the shipped ones are ~30 KiB each.
pub const MAX_RULES_FILE_BYTES: u64 = 4 << 20;

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Why [`read_capped`] gave up on a file.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    Io(std::io::Error),
    /// Longer than the limit: not the kind of file expected (or `/dev/zero`).
    TooLarge(u64),
    /// The first invalid byte is on this 1-based line.
    NotUtf8 {
        line: usize,
    },
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailure::Io(e) => write!(f, "cannot read: {e}"),
            ReadFailure::TooLarge(limit) => write!(f, "larger than {limit} bytes, the most this file may hold"),
            ReadFailure::NotUtf8 { line } => write!(f, "line {line} is not valid UTF-8"),
        }
    }
}

/// Reads a UTF-8 text file of at most `limit` bytes. Never reads more than `limit + 1` bytes, so a
/// wrong path (a device, a huge log) fails at once instead of filling memory.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<String, ReadFailure> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(ReadFailure::Io)?;
    if file.metadata().is_ok_and(|m| m.is_file() && m.len() > limit) {
        return Err(ReadFailure::TooLarge(limit));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(ReadFailure::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFailure::TooLarge(limit));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        ReadFailure::NotUtf8 { line: e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count() + 1 }
    })
}

/// Reads and validates every `*.toml` in `dir`.
pub(crate) fn load_dir(dir: &Path) -> Result<RulesConfig, LoadError> {
    let mut problems = Vec::new();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            return Err(LoadError {
                problems: vec![Problem {
                    file: dir.into(),
                    line: None,
                    message: format!("cannot read the topics directory: {e}"),
                    hint: None,
                }],
            })
        }
    };
    files.sort();
    if files.is_empty() {
        problems.push(Problem { file: dir.into(), line: None, message: "no *.toml topic files".into(), hint: None });
    }
    let mut sources = Vec::new();
    for file in files {
        match read_capped(&file, MAX_RULES_FILE_BYTES) {
            Ok(text) => sources.push((file, text)),
            Err(ReadFailure::NotUtf8 { line }) => {
                problems.push(Problem { file, line: Some(line), message: "not valid UTF-8".into(), hint: None })
            }
            Err(e) => problems.push(Problem { file, line: None, message: e.to_string(), hint: None }),
        }
    }
    // The cues' file is read like a rules file but parsed apart.
    let kinds_at = sources.iter().position(|(f, _)| f.file_name().is_some_and(|n| n == KINDS_FILE));
    let kinds = kinds_at.map(|i| sources.remove(i));
    let cues = match &kinds {
        Some((file, text)) => parse_kinds(file, text, &mut problems),
        None => {
            let message = format!("no {KINDS_FILE}: the post-kind cues are defined there");
            problems.push(Problem { file: dir.into(), line: None, message, hint: None });
            Vec::new()
        }
    };
    let mut config = parse_sources(sources, &mut problems);
    config.cues = cues;
    config.sources.extend(kinds);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(LoadError { problems })
    }
}

fn parse_sources(sources: Vec<(PathBuf, String)>, problems: &mut Vec<Problem>) -> RulesConfig {
    let mut rules = Vec::new();
    let mut thresholds = HashMap::new();
    let mut alongside = Vec::new();
    // Where each topic was defined, to report duplicates.
    let mut defined: HashMap<Topic, (PathBuf, usize)> = HashMap::new();
    for (file, text) in &sources {
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);
        let mut problem = |line: usize, message: String| {
            problems.push(Problem { file: file.clone(), line: Some(line), message, hint: None })
        };
        let def: FileDef = match toml::from_str(text) {
            Ok(def) => def,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
                problem(line, redact(e.message().trim()));
                continue;
            }
        };
        for topic_def in def.topic {
            let id_line = at(topic_def.id.span());
            let topic: Topic = match topic_def.id.get_ref().parse() {
                Ok(t) => t,
                Err(e) => {
                    problem(id_line, e.to_string());
                    continue;
                }
            };
            if let Some((other, line)) = defined.get(&topic) {
                problem(id_line, format!("topic {topic} is already defined at {}:{line}", other.display()));
                continue;
            }
            defined.insert(topic, (file.clone(), id_line));
            let threshold = match &topic_def.threshold {
                None => DEFAULT_THRESHOLD,
                Some(t) => {
                    let v = *t.get_ref();
                    if !(v.is_finite() && v > 0.0 && v <= MAX_WEIGHT * 10.0) {
                        problem(at(t.span()), format!("threshold {v} of topic {topic} must be a positive number"));
                    }
                    v
                }
            };
            thresholds.insert(topic, threshold as f32);
            if topic_def.alongside {
                alongside.push(topic);
            }
            if topic_def.rule.is_empty() {
                problem(id_line, format!("topic {topic} has no rules: a topic with no patterns would never be tagged"));
            }
            if !topic_def.exclude.is_empty() {
                let mut phrases = Vec::new();
                for p in &topic_def.exclude {
                    match pattern::parse(p.get_ref()) {
                        Ok(spec) => phrases.push(spec),
                        Err(e) => {
                            problem(at(p.span()), format!("exclude pattern {:?} of topic {topic}: {e}", p.get_ref()))
                        }
                    }
                }
                rules.push(RuleConfig {
                    id: format!("{topic}.exclude"),
                    topic,
                    weight: 0.0,
                    exclude: true,
                    context: false,
                    place: false,
                    phrases,
                    regexes: vec![],
                    suppress: vec![],
                });
            }
            let mut rule_ids = BTreeSet::new();
            for rule in topic_def.rule {
                let rule_line = at(rule.id.span());
                let name = rule.id.get_ref();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    problem(rule_line, format!("rule id {name:?} of topic {topic}: use ASCII letters, digits and '_'"));
                }
                if !rule_ids.insert(name.clone()) {
                    problem(rule_line, format!("rule id {name:?} appears twice in topic {topic}"));
                }
                let weight = match &rule.weight {
                    None => 1.0,
                    Some(w) => {
                        let v = *w.get_ref();
                        if !(v.is_finite() && v != 0.0 && v.abs() <= MAX_WEIGHT) {
                            problem(
                                at(w.span()),
                                format!("weight {v} of rule {topic}.{name} must be non-zero and within ±{MAX_WEIGHT}"),
                            );
                        }
                        v
                    }
                };
                if rule.patterns.is_empty() && rule.regex.is_empty() {
                    problem(rule_line, format!("rule {topic}.{name} has no patterns and no regex"));
                }
                let mut phrases = Vec::new();
                for p in &rule.patterns {
                    match pattern::parse(p.get_ref()) {
                        Ok(spec) => phrases.push(spec),
                        Err(e) => {
                            problem(at(p.span()), format!("pattern {:?} of rule {topic}.{name}: {e}", p.get_ref()))
                        }
                    }
                }
                let mut regexes = Vec::new();
                for r in &rule.regex {
                    match Regex::new(&crate::normalize::fold_letters(r.get_ref())) {
                        Ok(re) => regexes.push(re),
                        Err(e) => problem(
                            at(r.span()),
                            format!(
                                "regex {:?} of rule {topic}.{name} does not compile: {}",
                                r.get_ref(),
                                flatten(&e.to_string())
                            ),
                        ),
                    }
                }
                let mut suppress = Vec::new();
                for s in &rule.suppress {
                    match s.get_ref().parse::<Topic>() {
                        Ok(t) if t == topic => {
                            problem(at(s.span()), format!("rule {topic}.{name} cannot suppress its own topic"))
                        }
                        Ok(t) => suppress.push(t),
                        Err(e) => problem(at(s.span()), format!("suppress in rule {topic}.{name}: {e}")),
                    }
                }
                rules.push(RuleConfig {
                    id: format!("{topic}.{name}"),
                    topic,
                    weight: weight as f32,
                    exclude: false,
                    context: rule.context,
                    place: rule.place,
                    phrases,
                    regexes,
                    suppress,
                });
            }
        }
    }
    if !sources.is_empty() {
        let missing: Vec<&str> = Topic::ALL.iter().filter(|t| !defined.contains_key(t)).map(|t| t.id()).collect();
        if !missing.is_empty() {
            let dir = sources[0].0.parent().map(Path::to_path_buf).unwrap_or_default();
            problems.push(Problem {
                file: dir,
                line: None,
                message: format!(
                    "no rules for topic{} {}: every taxonomy topic needs a definition",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                ),
                hint: None,
            });
        }
    }
    RulesConfig { rules, thresholds, alongside, cues: Vec::new(), sources }
}

/// Reads the cues of `kinds.toml`: every [`Cue`] once, each with valid patterns.
fn parse_kinds(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Vec<(Cue, Vec<PhraseSpec>)> {
    let mut problem = |line: usize, message: String| {
        problems.push(Problem { file: file.to_path_buf(), line: Some(line), message, hint: None })
    };
    let def: KindsDef = match toml::from_str(text) {
        Ok(def) => def,
        Err(e) => {
            problem(e.span().map(|s| line_of(text, s.start)).unwrap_or(1), redact(e.message().trim()));
            return Vec::new();
        }
    };
    let mut cues: Vec<(Cue, Vec<PhraseSpec>)> = Vec::new();
    for c in def.cue {
        let line = line_of(text, c.id.span().start);
        let Some(cue) = Cue::from_id(c.id.get_ref()) else {
            let known: Vec<&str> = Cue::ALL.iter().map(|c| c.id()).collect();
            problem(line, format!("unknown cue id {:?} (known: {})", c.id.get_ref(), known.join(", ")));
            continue;
        };
        if cues.iter().any(|(x, _)| *x == cue) {
            problem(line, format!("cue {} is defined twice", cue.id()));
            continue;
        }
        if c.patterns.is_empty() {
            problem(line, format!("cue {} has no patterns", cue.id()));
        }
        let mut phrases = Vec::new();
        for p in &c.patterns {
            match pattern::parse(p.get_ref()) {
                Ok(spec) => phrases.push(spec),
                Err(e) => {
                    let message = format!("pattern {:?} of cue {}: {e}", p.get_ref(), cue.id());
                    problem(line_of(text, p.span().start), message)
                }
            }
        }
        cues.push((cue, phrases));
    }
    let missing: Vec<&str> = Cue::ALL.iter().filter(|c| !cues.iter().any(|(x, _)| x == *c)).map(|c| c.id()).collect();
    if !missing.is_empty() {
        let message = format!("no patterns for cue {}", missing.join(", "));
        problems.push(Problem { file: file.to_path_buf(), line: None, message, hint: None });
    }
    cues.sort_by_key(|(c, _)| Cue::ALL.iter().position(|x| x == c));
    cues
}

/// The keys of a rules file: a message may name these, but nothing else the file holds.
const KEYS: &[&str] = &[
    "topic",
    "id",
    "threshold",
    "alongside",
    "description",
    "exclude",
    "rule",
    "weight",
    "patterns",
    "regex",
    "suppress",
    "context",
    "place",
    "cue",
];

/// A TOML or serde message without the file's own text: quoted values and unknown keys become «…»,
/// so that a wrong path (a password file, a private key) is never echoed. Our keys and TOML's
/// punctuation hints («expected `.`, `=`») stay.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..=open];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find(quote) else {
            out.push('…');
            return flatten(&out);
        };
        let inner = &rest[..close];
        let punctuation = inner.len() <= 2 && inner.bytes().all(|b| b.is_ascii_punctuation());
        let ours = quote == "`" && (KEYS.contains(&inner) || punctuation);
        out.push_str(if ours { inner } else { "…" });
        out.push_str(quote);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    flatten(&out)
}

/// One problem, one line: the regex crate's messages draw a caret on extra lines.
fn flatten(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
