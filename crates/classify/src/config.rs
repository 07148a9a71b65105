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
    /// Where each phrase, then each regex, was written.
    pub origins: Vec<PatternOrigin>,
    pub suppress: Vec<Topic>,
}

/// A post-kind cue's patterns, and where each was written.
pub(crate) struct CueConfig {
    pub cue: Cue,
    pub phrases: Vec<PhraseSpec>,
    pub origins: Vec<PatternOrigin>,
}

/// Where a pattern was written: for tools that report on the patterns one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternOrigin {
    pub file: PathBuf,
    pub line: usize,
    /// The pattern or regex as written.
    pub text: String,
}

/// All topics' rules, validated.
pub(crate) struct RulesConfig {
    pub rules: Vec<RuleConfig>,
    /// Per topic (taxonomy order): its threshold.
    pub thresholds: HashMap<Topic, f32>,
    /// Topics tagged beside a stronger one whatever the ratio of their scores.
    pub alongside: Vec<Topic>,
    /// Every post-kind cue with its patterns, in [`Cue::ALL`] order.
    pub cues: Vec<CueConfig>,
    /// The files read, for the version fingerprint.
    pub sources: Vec<(PathBuf, String)>,
}

/// The default score a topic needs.
pub const DEFAULT_THRESHOLD: f64 = 1.0;
/// Weights beyond this would let one rule drown every other signal.
pub const MAX_WEIGHT: f64 = 10.0;

/// The largest topic rules file read; the shipped ones are ~30 KiB each.
pub const MAX_RULES_FILE_BYTES: u64 = 4 << 20;

/// Where the newlines of a file are, to turn the parser's byte offsets into line numbers: a
/// rules file has thousands of patterns, and counting newlines from the top for each one made
/// loading the rules quadratic in a file's length (a fifth of `otklik classify`'s start-up).
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i).collect())
    }

    /// The line (from 1) holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
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
        let mut reader = RulesFile::new(file, text, &mut *problems);
        let Some(def) = reader.parse::<FileDef>() else { continue };
        for topic_def in def.topic {
            let Some(topic) = reader.topic(&topic_def, &mut defined) else { continue };
            thresholds.insert(topic, reader.threshold(topic, topic_def.threshold.as_ref()));
            if topic_def.alongside {
                alongside.push(topic);
            }
            rules.extend(reader.exclude_rule(topic, &topic_def.exclude));
            let mut rule_ids = BTreeSet::new();
            for rule in &topic_def.rule {
                rules.push(reader.rule(topic, rule, &mut rule_ids));
            }
        }
    }
    if let Some(problem) = missing_topics(&sources, &defined) {
        problems.push(problem);
    }
    RulesConfig { rules, thresholds, alongside, cues: Vec::new(), sources }
}

/// Every taxonomy topic needs a definition: the one problem naming those without.
fn missing_topics(sources: &[(PathBuf, String)], defined: &HashMap<Topic, (PathBuf, usize)>) -> Option<Problem> {
    let (first, _) = sources.first()?;
    let missing: Vec<&str> = Topic::ALL.iter().filter(|t| !defined.contains_key(t)).map(|t| t.id()).collect();
    if missing.is_empty() {
        return None;
    }
    let plural = if missing.len() == 1 { "" } else { "s" };
    Some(Problem {
        file: first.parent().map(Path::to_path_buf).unwrap_or_default(),
        line: None,
        message: format!("no rules for topic{plural} {}: every taxonomy topic needs a definition", missing.join(", ")),
        hint: None,
    })
}

/// One rules file being read: each check reports its problems with this file and a line.
struct RulesFile<'a> {
    file: &'a Path,
    text: &'a str,
    lines: LineIndex,
    problems: &'a mut Vec<Problem>,
}

impl<'a> RulesFile<'a> {
    fn new(file: &'a Path, text: &'a str, problems: &'a mut Vec<Problem>) -> RulesFile<'a> {
        RulesFile { file, text, lines: LineIndex::new(text), problems }
    }

    fn line<T>(&self, value: &Spanned<T>) -> usize {
        self.lines.line_of(value.span().start)
    }

    fn problem(&mut self, line: usize, message: String) {
        self.problems.push(Problem { file: self.file.to_path_buf(), line: Some(line), message, hint: None });
    }

    /// The file as `T`, or `None` with the parser's message (redacted: never the file's own text).
    fn parse<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        match toml::from_str(self.text) {
            Ok(def) => Some(def),
            Err(e) => {
                let line = e.span().map(|s| self.lines.line_of(s.start)).unwrap_or(1);
                self.problem(line, redact(e.message().trim()));
                None
            }
        }
    }

    fn origin(&self, pattern: &Spanned<String>) -> PatternOrigin {
        PatternOrigin { file: self.file.to_path_buf(), line: self.line(pattern), text: pattern.get_ref().clone() }
    }

    /// Parses every pattern, with where each was written; `what` names one in a problem
    /// («pattern "x" of rule heating.cold»).
    fn phrases(
        &mut self,
        patterns: &[Spanned<String>],
        what: impl Fn(&str) -> String,
    ) -> (Vec<PhraseSpec>, Vec<PatternOrigin>) {
        let mut phrases = (Vec::new(), Vec::new());
        for p in patterns {
            match pattern::parse(p.get_ref()) {
                Ok(spec) => {
                    phrases.0.push(spec);
                    phrases.1.push(self.origin(p));
                }
                Err(e) => self.problem(self.line(p), format!("{}: {e}", what(p.get_ref()))),
            }
        }
        phrases
    }

    /// The topic a `[[topic]]` table defines, unless its id is unknown or already defined.
    fn topic(&mut self, def: &TopicDef, defined: &mut HashMap<Topic, (PathBuf, usize)>) -> Option<Topic> {
        let id_line = self.line(&def.id);
        let topic: Topic = match def.id.get_ref().parse() {
            Ok(t) => t,
            Err(e) => {
                self.problem(id_line, format!("{e}"));
                return None;
            }
        };
        if let Some((other, line)) = defined.get(&topic) {
            self.problem(id_line, format!("topic {topic} is already defined at {}:{line}", other.display()));
            return None;
        }
        defined.insert(topic, (self.file.to_path_buf(), id_line));
        if def.rule.is_empty() {
            self.problem(
                id_line,
                format!("topic {topic} has no rules: a topic with no patterns would never be tagged"),
            );
        }
        Some(topic)
    }

    fn threshold(&mut self, topic: Topic, threshold: Option<&Spanned<f64>>) -> f32 {
        let Some(t) = threshold else { return DEFAULT_THRESHOLD as f32 };
        let v = *t.get_ref();
        if !(v.is_finite() && v > 0.0 && v <= MAX_WEIGHT * 10.0) {
            self.problem(self.line(t), format!("threshold {v} of topic {topic} must be a positive number"));
        }
        v as f32
    }

    /// A topic's `exclude` phrases, as one rule of weight 0 that marks the spans they cover.
    fn exclude_rule(&mut self, topic: Topic, exclude: &[Spanned<String>]) -> Option<RuleConfig> {
        if exclude.is_empty() {
            return None;
        }
        let (phrases, origins) = self.phrases(exclude, |p| format!("exclude pattern {p:?} of topic {topic}"));
        Some(RuleConfig {
            id: format!("{topic}.exclude"),
            topic,
            weight: 0.0,
            exclude: true,
            context: false,
            place: false,
            phrases,
            regexes: vec![],
            origins,
            suppress: vec![],
        })
    }

    fn rule(&mut self, topic: Topic, rule: &RuleDef, rule_ids: &mut BTreeSet<String>) -> RuleConfig {
        let rule_line = self.line(&rule.id);
        let name = rule.id.get_ref();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.problem(rule_line, format!("rule id {name:?} of topic {topic}: use ASCII letters, digits and '_'"));
        }
        if !rule_ids.insert(name.clone()) {
            self.problem(rule_line, format!("rule id {name:?} appears twice in topic {topic}"));
        }
        if rule.patterns.is_empty() && rule.regex.is_empty() {
            self.problem(rule_line, format!("rule {topic}.{name} has no patterns and no regex"));
        }
        let (phrases, mut origins) = self.phrases(&rule.patterns, |p| format!("pattern {p:?} of rule {topic}.{name}"));
        let (regexes, regex_origins) = self.regexes(topic, name, &rule.regex);
        origins.extend(regex_origins);
        RuleConfig {
            id: format!("{topic}.{name}"),
            topic,
            weight: self.weight(topic, name, rule.weight.as_ref()),
            exclude: false,
            context: rule.context,
            place: rule.place,
            phrases,
            regexes,
            origins,
            suppress: self.suppressed(topic, name, &rule.suppress),
        }
    }

    fn weight(&mut self, topic: Topic, name: &str, weight: Option<&Spanned<f64>>) -> f32 {
        let Some(w) = weight else { return 1.0 };
        let v = *w.get_ref();
        if !(v.is_finite() && v != 0.0 && v.abs() <= MAX_WEIGHT) {
            let message = format!("weight {v} of rule {topic}.{name} must be non-zero and within ±{MAX_WEIGHT}");
            self.problem(self.line(w), message);
        }
        v as f32
    }

    fn regexes(&mut self, topic: Topic, name: &str, regexes: &[Spanned<String>]) -> (Vec<Regex>, Vec<PatternOrigin>) {
        let mut compiled = (Vec::new(), Vec::new());
        for r in regexes {
            match Regex::new(&crate::normalize::fold_letters(r.get_ref())) {
                Ok(re) => {
                    compiled.0.push(re);
                    compiled.1.push(self.origin(r));
                }
                Err(e) => {
                    let error = flatten(&e.to_string());
                    let message = format!("regex {:?} of rule {topic}.{name} does not compile: {error}", r.get_ref());
                    self.problem(self.line(r), message)
                }
            }
        }
        compiled
    }

    fn suppressed(&mut self, topic: Topic, name: &str, suppress: &[Spanned<String>]) -> Vec<Topic> {
        let mut topics = Vec::new();
        for s in suppress {
            match s.get_ref().parse::<Topic>() {
                Ok(t) if t == topic => {
                    self.problem(self.line(s), format!("rule {topic}.{name} cannot suppress its own topic"))
                }
                Ok(t) => topics.push(t),
                Err(e) => self.problem(self.line(s), format!("suppress in rule {topic}.{name}: {e}")),
            }
        }
        topics
    }
}

/// Reads the cues of `kinds.toml`: every [`Cue`] once, each with valid patterns.
fn parse_kinds(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Vec<CueConfig> {
    let mut reader = RulesFile::new(file, text, &mut *problems);
    let Some(def) = reader.parse::<KindsDef>() else { return Vec::new() };
    let mut cues: Vec<CueConfig> = Vec::new();
    for c in def.cue {
        let line = reader.line(&c.id);
        let Some(cue) = Cue::from_id(c.id.get_ref()) else {
            let known: Vec<&str> = Cue::ALL.iter().map(|c| c.id()).collect();
            reader.problem(line, format!("unknown cue id {:?} (known: {})", c.id.get_ref(), known.join(", ")));
            continue;
        };
        if cues.iter().any(|c| c.cue == cue) {
            reader.problem(line, format!("cue {} is defined twice", cue.id()));
            continue;
        }
        if c.patterns.is_empty() {
            reader.problem(line, format!("cue {} has no patterns", cue.id()));
        }
        let (phrases, origins) = reader.phrases(&c.patterns, |p| format!("pattern {p:?} of cue {}", cue.id()));
        cues.push(CueConfig { cue, phrases, origins });
    }
    let missing: Vec<&str> = Cue::ALL.iter().filter(|&&c| !cues.iter().any(|x| x.cue == c)).map(|c| c.id()).collect();
    if !missing.is_empty() {
        let message = format!("no patterns for cue {}", missing.join(", "));
        problems.push(Problem { file: file.to_path_buf(), line: None, message, hint: None });
    }
    cues.sort_by_key(|c| Cue::ALL.iter().position(|&x| x == c.cue));
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

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn a_line_index_counts_the_newlines_before_an_offset() {
        let text = "a\n\nbc\nd";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 2 {
            let counted = text[..offset.min(text.len())].matches('\n').count() + 1;
            assert_eq!(index.line_of(offset), counted, "offset {offset}");
        }
    }
}
