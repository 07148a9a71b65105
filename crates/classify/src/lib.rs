//! The classifier: topic, municipality, post kind and language for every post (pure).
//!
//! [`Classifier::load`] reads the topic rules (`config/topics/*.toml`, see [`config`] for the
//! format and [`pattern`] for the pattern language), the post-kind cues beside them
//! (`config/topics/kinds.toml`, see [`kind`]) and the compiled gazetteer, validates all of it,
//! and compiles every pattern of every topic and cue into one automaton.
//! Classification is then a pure function of the text (its first [`MAX_TEXT_CHARS`] characters:
//! every real post fits, and a pathological one costs bounded memory) and the [`SourceContext`]: normalise
//! ([`normalize`]), detect the language ([`lang`]), scan once ([`engine`]), mark the nouns named
//! as places («у лифта»: [`location`], which carry no topic alone), the words of street and
//! stop names («ул. Энергетиков», which carry none at all) and the events named as causes
//! («после ремонта теплотрассы»: [`cause`], which count only when nothing else names the
//! subject), score topics, decide the kind
//! ([`kind`]: a topic alone is no complaint, and a source's own post needs a resident's voice),
//! resolve the municipality ([`gazetteer`]).
//!
//! Inflection: the shipped rules are written as stem patterns — a prefix («отоплени*», «батаре*»)
//! or an exact form («=батарей») — which cover case forms at no run-time cost and leave the
//! author in control of where a stem stops («дом» must not match «домофон»). A bare word in a
//! rule is an inflected term: its Snowball stem is computed at load time, and a token matches when
//! it is that stem plus a Russian ending from a fixed list ([`engine::InflectionMode::Endings`]);
//! stemming every candidate token at run time instead ([`engine::InflectionMode::Snowball`]) is
//! kept for measurement. On dev.csv and the labelled set both modes score the same (micro-F1 to
//! three decimals) because the rules hardly use bare words; the endings check is chosen because
//! Snowball cuts some forms shorter than the rule's stem («батарей» → «батар») and costs a stemmer
//! call per candidate.
//!
//! - [`eval`]: precision/recall/F1 of the classifier on a labelled CSV.
//! - [`coverage`]: how many texts each pattern matches on its own (`otklik rules-coverage`).
//! - [`gazetteer`]: the compiled ОКТМО gazetteer and municipality resolution.

pub mod cause;
pub mod config;
pub mod coverage;
pub mod engine;
pub mod eval;
pub mod gazetteer;
pub mod kind;
pub mod lang;
pub mod location;
pub mod normalize;
pub mod pattern;
mod region;
mod score;

pub use config::{LoadError, Problem};
pub use engine::InflectionMode;

use engine::{Engine, FiredRef, RuleSpecs, ScanScratch};
use kind::Cue;
use lang::{LanguageDetector, LanguageGuess};
use location::Role;
use normalize::Normalized;
use otklik_model::{Classification, MunicipalityEvidence, MunicipalityMatch, RawPost, Topic};
use serde::Serialize;
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// Version of the rules and matching logic. Bump when rules or scoring change, so analysts can
/// tell which posts were classified by which rules. Every classification carries it, followed by
/// a fingerprint of the rule files actually loaded (`+` and 8 hex digits) so that a locally
/// edited rule set is never mistaken for the released one.
pub const CLASSIFIER_VERSION: &str = "0.6.10";

/// The most text a post is classified on, in characters. A VK post holds at most 16,384
/// characters (Telegram 4,096) and a repost adds its origin's text, so every real post fits; a
/// longer text is cut here, so that megabytes of one line cost bounded time and memory.
pub const MAX_TEXT_CHARS: usize = 2 * 16_384;

/// The most items `--explain` lists per kind (fired rules, spans of one rule, place mentions,
/// rejected names); the rest are counted («… and N more»).
pub const MAX_EXPLAIN_ITEMS: usize = 32;

/// What the classifier knows about where a post comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceContext {
    /// An administration's or official body's own feed.
    pub official: bool,
    /// The ОКТМО code the source is bound to, if any.
    pub municipality: Option<String>,
}

/// Who wrote a post, as far as its kind is concerned: a channel's own posts (news, greetings,
/// accident reports) are complaints only in a resident's voice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Writer {
    #[default]
    Resident,
    /// The source itself (`author.is_source`): a community, a channel, a group.
    Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Topic(Topic),
    Cue(Cue),
}

#[derive(Debug, Clone)]
struct RuleMeta {
    id: String,
    owner: Owner,
    weight: f32,
    exclude: bool,
    context: bool,
    /// Names a place that is the topic itself: a location match still counts.
    place: bool,
    suppress: Vec<Topic>,
}

/// A loaded, compiled classifier. Cheap to share between threads (`&Classifier` is all it needs).
pub struct Classifier {
    engine: Engine,
    rules: Vec<RuleMeta>,
    /// Per topic (by its place in [`Topic::ALL`]), the score it needs: read for every scored
    /// topic of every post, so an array rather than a hash map.
    thresholds: Vec<f32>,
    /// Topics exempt from [`score::SECONDARY_SHARE`] (`alongside = true`).
    alongside: Vec<Topic>,
    language: LanguageDetector,
    /// Shared: the alert stage reads places with the same one (and a reload swaps both).
    gazetteer: Option<Arc<gazetteer::Gazetteer>>,
    /// The region served: its municipalities are the ones assigned.
    home: region::Home,
    version: String,
}

/// A span of the normalised text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// Byte offsets into [`Explanation::normalized`].
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleHit {
    pub rule: String,
    /// The topic, or `kind:<cue>` for post-kind cues.
    pub target: String,
    pub weight: f32,
    pub spans: Vec<Span>,
    /// Spans past the first [`MAX_EXPLAIN_ITEMS`], counted only.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_spans: usize,
    /// The rule matched only inside spans its topic excludes, so it did not count.
    pub excluded: bool,
    /// Every match is a noun read as a location: it counts only for a topic with other evidence.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub located: bool,
    /// Every match lies in an event named as the cause («после ремонта теплотрассы»): it counts
    /// only when no topic passes on evidence of its own.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub caused: bool,
    /// Every match not excluded starts or ends on a street's or a stop's name: it did not count.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
}

/// A topic's score and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicScore {
    pub topic: Topic,
    pub score: f32,
    pub threshold: f32,
    pub accepted: bool,
    /// Why a topic with some score was not tagged.
    pub rejected_because: Option<String>,
}

/// Everything behind one classification, for `otklik classify --explain` and rule debugging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub normalized: String,
    pub language: LanguageGuess,
    pub kind_reason: String,
    /// Nouns read as the place where something is («у лифта», «в кабине лифта»), which carry no
    /// topic alone.
    pub locations: Vec<Span>,
    /// Words of an event named as the cause of the problem («после прорыва водопровода»), which
    /// count only when nothing else names the subject.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Span>,
    /// Words of a street's, a square's or a stop's name («ул. Школьная»), which carry no topic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Span>,
    pub rules: Vec<RuleHit>,
    /// Fired rules past the first [`MAX_EXPLAIN_ITEMS`], counted only.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_rules: usize,
    pub topics: Vec<TopicScore>,
    /// How the municipality was found, or why none was.
    pub municipality_evidence: Vec<String>,
    pub classification: Classification,
    /// The text was longer than [`MAX_TEXT_CHARS`]: the characters classified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_at_chars: Option<usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The first [`MAX_TEXT_CHARS`] characters of `text`, and whether it was cut.
fn clip(text: &str) -> (&str, bool) {
    // A character is at least one byte: a text no longer in bytes is never cut (nearly every post).
    if text.len() <= MAX_TEXT_CHARS {
        return (text, false);
    }
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

impl Classifier {
    /// Loads every `*.toml` in `topics_dir` and, when given, the compiled gazetteer. Fails with
    /// every problem found, each with its file and line.
    pub fn load(topics_dir: &Path, gazetteer_file: Option<&Path>) -> Result<Classifier, LoadError> {
        Self::load_with_mode(topics_dir, gazetteer_file, InflectionMode::default())
    }

    /// [`Classifier::load`] for the region with this two-digit ОКТМО code (`[classify] region`): its
    /// places are preferred, and a post naming only another region's gets no municipality.
    pub fn load_in_region(
        topics_dir: &Path,
        gazetteer_file: Option<&Path>,
        region: &str,
    ) -> Result<Classifier, LoadError> {
        Self::load_full(topics_dir, gazetteer_file, InflectionMode::default(), region)
    }

    /// [`Classifier::load`] with a chosen inflection mode, for measuring the alternatives.
    pub fn load_with_mode(
        topics_dir: &Path,
        gazetteer_file: Option<&Path>,
        mode: InflectionMode,
    ) -> Result<Classifier, LoadError> {
        Self::load_full(topics_dir, gazetteer_file, mode, gazetteer::DEFAULT_REGION)
    }

    /// [`Classifier::load_in_region`] with a gazetteer already loaded with `region` as its home
    /// (see [`gazetteer::Gazetteer::with_home_region`]) and shared with whoever else reads it:
    /// the program's config check loads the gazetteer once for the sources' codes and the
    /// classifier.
    pub fn load_with_gazetteer(
        topics_dir: &Path,
        gazetteer: Option<Arc<gazetteer::Gazetteer>>,
        region: &str,
    ) -> Result<Classifier, LoadError> {
        debug_assert!(gazetteer.as_ref().is_none_or(|g| g.home_region() == region));
        Self::build(topics_dir, config::load_dir(topics_dir)?, gazetteer, InflectionMode::default(), region)
    }

    fn load_full(
        topics_dir: &Path,
        gazetteer_file: Option<&Path>,
        mode: InflectionMode,
        region: &str,
    ) -> Result<Classifier, LoadError> {
        let config = config::load_dir(topics_dir);
        // Both halves are checked before failing, so one run reports every problem.
        let gazetteer = gazetteer_file.map(|path| {
            gazetteer::Gazetteer::load(path)
                .and_then(|g| g.with_home_region(region))
                .map_err(|e| gazetteer_problem(path, e))
        });
        match (config, gazetteer.transpose()) {
            (Ok(c), Ok(g)) => Self::build(topics_dir, c, g.map(Arc::new), mode, region),
            (Err(mut e), g) => {
                e.problems.extend(g.err());
                Err(e)
            }
            (Ok(_), Err(p)) => Err(LoadError { problems: vec![p] }),
        }
    }

    /// The classifier of loaded rules and gazetteer.
    fn build(
        topics_dir: &Path,
        config: config::RulesConfig,
        gazetteer: Option<Arc<gazetteer::Gazetteer>>,
        mode: InflectionMode,
        region: &str,
    ) -> Result<Classifier, LoadError> {
        let mut rules = Vec::new();
        let mut specs = Vec::new();
        for r in config.rules {
            let owner = Owner::Topic(r.topic);
            let (exclude, context, place) = (r.exclude, r.context, r.place);
            rules.push(RuleMeta { id: r.id, owner, weight: r.weight, exclude, context, place, suppress: r.suppress });
            specs.push(RuleSpecs { phrases: r.phrases, regexes: r.regexes });
        }
        for config::CueConfig { cue, phrases, .. } in config.cues {
            let id = format!("kind.{}", cue.id());
            let owner = Owner::Cue(cue);
            rules.push(RuleMeta {
                id,
                owner,
                weight: 1.0,
                exclude: false,
                context: false,
                place: false,
                suppress: vec![],
            });
            specs.push(RuleSpecs { phrases, regexes: vec![] });
        }
        let engine = Engine::build(&specs, mode).map_err(|message| LoadError {
            problems: vec![Problem { file: topics_dir.to_path_buf(), line: None, message, hint: None }],
        })?;
        let mut version = format!("{CLASSIFIER_VERSION}+{:08x}", fingerprint(&config.sources));
        if let Some(g) = &gazetteer {
            version.push_str(&format!(" gazetteer {}", g.version()));
        }
        let home = match &gazetteer {
            Some(g) => region::Home::new(region, g.home_words().into_iter().collect(), g.other_region_names()),
            None if region == gazetteer::DEFAULT_REGION => region::Home::penza(),
            None => region::Home::new(region, Default::default(), []),
        };
        let mut thresholds = vec![config::DEFAULT_THRESHOLD as f32; Topic::ALL.len()];
        for (topic, threshold) in config.thresholds {
            thresholds[topic as usize] = threshold;
        }
        let alongside = config.alongside;
        Ok(Classifier {
            engine,
            rules,
            thresholds,
            alongside,
            language: LanguageDetector::default(),
            gazetteer,
            home,
            version,
        })
    }

    /// The rule matcher alone on an already normalised text: how many rules fired. For the
    /// bench's account of where a post's time goes (normalising, matching, the gazetteer, the
    /// language), not for classifying.
    #[doc(hidden)]
    pub fn match_rules(&self, norm: &Normalized) -> usize {
        with_scratch(|scratch| {
            self.engine.scan_into(norm, &mut scratch.scan);
            scratch.scan.fired().count()
        })
    }

    /// The distinct words and stems the rules look for, for the bench's floor: one automaton pass
    /// over a normalised post that finds every one of them, which any matcher of these rules
    /// must at least do.
    #[doc(hidden)]
    pub fn rule_terms(&self) -> Vec<String> {
        self.engine.term_keys().map(str::to_owned).collect()
    }

    /// The loaded gazetteer, for place detail beyond the municipality (incident linking).
    pub fn gazetteer(&self) -> Option<&gazetteer::Gazetteer> {
        self.gazetteer.as_deref()
    }

    /// The loaded gazetteer, shared rather than loaded twice by a process that also links.
    pub fn shared_gazetteer(&self) -> Option<Arc<gazetteer::Gazetteer>> {
        self.gazetteer.clone()
    }

    /// The version string every classification carries.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Rough heap size of the compiled classifier, in bytes.
    pub fn memory_usage(&self) -> usize {
        let gazetteer = self.gazetteer.as_ref().map_or(0, |g| {
            // The automaton dominates; places and meanings are a few dozen bytes each.
            let stats = g.stats();
            stats.automaton_bytes + stats.places * 64 + stats.patterns * 48
        });
        self.engine.memory_usage()
            + self.rules.iter().map(|r| r.id.len() + std::mem::size_of::<RuleMeta>()).sum::<usize>()
            + gazetteer
    }

    /// Classifies a post: its own text followed by any reposted text.
    pub fn classify(&self, post: &RawPost, source: &SourceContext) -> Classification {
        let writer = if post.author.is_source { Writer::Source } else { Writer::Resident };
        self.classify_text_as(&post.full_text(), source, writer)
    }

    /// A resident's text.
    pub fn classify_text(&self, text: &str, source: &SourceContext) -> Classification {
        self.classify_text_as(text, source, Writer::Resident)
    }

    pub fn classify_text_as(&self, text: &str, source: &SourceContext, writer: Writer) -> Classification {
        with_scratch(|scratch| self.run(text, source, writer, false, scratch).0)
    }

    /// Why a resident's text gets its classification.
    pub fn explain_text(&self, text: &str, source: &SourceContext) -> Explanation {
        self.explain_text_as(text, source, Writer::Resident)
    }

    pub fn explain_text_as(&self, text: &str, source: &SourceContext, writer: Writer) -> Explanation {
        match with_scratch(|scratch| self.run(text, source, writer, true, scratch)) {
            (_, Some(e)) => e,
            (classification, None) => unreachable!("run() explains when asked: {classification:?}"),
        }
    }

    fn run(
        &self,
        text: &str,
        source: &SourceContext,
        writer: Writer,
        explain: bool,
        scratch: &mut Scratch,
    ) -> (Classification, Option<Explanation>) {
        let (text, cut) = clip(text);
        let language = self.language.detect(text);
        let russian = language.code == "ru";
        let Scratch { norm, scan, excluded, roles, kinds } = scratch;
        if russian {
            normalize::normalize_into(text, norm);
            self.engine.scan_into(norm, scan);
        } else {
            norm.clear();
            scan.clear();
        }
        let norm = &*norm;
        location::mark(norm, roles, kinds);
        let mut evidence = self.count_evidence(scan, norm, roles, excluded, explain);
        let chosen = self.choose_topics(&mut evidence, norm, explain);
        let origin = kind::Origin {
            has_topics: !chosen.hits.is_empty(),
            official: source.official,
            by_source: writer == Writer::Source,
            terse: norm.tokens.len() <= kind::TERSE_MAX_TOKENS,
        };
        let (kind, kind_reason) = kind::decide(&evidence.cues, kind::Marks::of(text), origin);
        let mut place_evidence = Vec::new();
        let (municipality, out_of_region) = self.place(text, norm, russian, source, &mut place_evidence, explain);
        let classification = Classification {
            classifier_version: self.version.clone(),
            language: language.code.to_owned(),
            kind,
            topics: chosen.hits,
            municipality,
            out_of_region,
        };
        let explanation = explain.then(|| {
            let mut kind_reason = kind_reason.to_owned();
            if !russian {
                kind_reason.push_str(&format!("; language {} is not classified by the Russian rules", language.code));
            }
            let mut topics = chosen.scores;
            topics.sort_by(|a, b| b.score.total_cmp(&a.score));
            let mut rules = evidence.rules;
            let more_rules = rules.len().saturating_sub(MAX_EXPLAIN_ITEMS);
            rules.truncate(MAX_EXPLAIN_ITEMS);
            Explanation {
                normalized: norm.text.clone(),
                language,
                kind_reason,
                locations: role_spans(norm, roles, Role::Location),
                causes: role_spans(norm, roles, Role::Cause),
                names: role_spans(norm, roles, Role::Name),
                rules,
                more_rules,
                topics,
                municipality_evidence: place_evidence,
                classification: classification.clone(),
                cut_at_chars: cut.then_some(MAX_TEXT_CHARS),
            }
        });
        (classification, explanation)
    }

    /// The municipality and the out-of-region flag: none, flagged, when the text names another
    /// region and not this one; else [`Self::municipality`].
    fn place(
        &self,
        text: &str,
        norm: &Normalized,
        russian: bool,
        source: &SourceContext,
        evidence: &mut Vec<String>,
        explain: bool,
    ) -> (Option<MunicipalityMatch>, bool) {
        let other_region = if russian { region::other_region(norm, &self.home) } else { None };
        let Some(region::OtherRegion { words, aside_only }) = other_region else {
            return self.municipality(self.resolve(text), source, evidence, explain);
        };
        if aside_only {
            // Resolved once: the same resolution decides the municipality when it counts.
            let resolution = self.resolve(text);
            if self.home_place_located(text, resolution.as_ref()) {
                if explain {
                    evidence.push(format!(
                        "«{words}» is only aside (a route's end, a comparison, where the writer once was, a place \
                         a contrast turns from), and a place of this region is named as where things are: the \
                         other region does not count"
                    ));
                }
                return self.municipality(resolution, source, evidence, explain);
            }
        }
        if explain {
            // The names found are still shown, to tell what the flag overruled.
            let _ = self.municipality(self.resolve(text), &SourceContext::default(), evidence, explain);
            evidence.push(format!("the text names another region («{words}») and not this one: no municipality"));
        }
        (None, true)
    }

    /// Whether the place the text resolves to is of this region and named as where something is
    /// («а у нас в Каменке», «разбита у Лопатино»).
    fn home_place_located(&self, text: &str, resolution: Option<&gazetteer::Resolution>) -> bool {
        let (Some(g), Some(resolution)) = (&self.gazetteer, resolution) else { return false };
        let Some(chosen) = &resolution.chosen else { return false };
        let home = g.municipality(&chosen.oktmo).is_some_and(|m| m.region_code == self.home.code);
        home && resolution.mentions.iter().any(|m| {
            m.resolved.as_deref() == Some(chosen.oktmo.as_str()) && region::said_as_location(text, m.span.start)
        })
    }

    /// The text's place mentions resolved, when a gazetteer is loaded.
    fn resolve(&self, text: &str) -> Option<gazetteer::Resolution> {
        self.gazetteer.as_ref().map(|g| g.resolve(text))
    }

    /// From the text's `resolution` (see [`Self::resolve`]): text mention first, then the source's
    /// binding, else none (DESIGN.md, «Municipality»); and
    /// whether the text names a place outside the home region instead (a municipality of another
    /// region, or a home name qualified as another place's: «Никольск-Уссурийский»).
    fn municipality(
        &self,
        resolution: Option<gazetteer::Resolution>,
        source: &SourceContext,
        evidence: &mut Vec<String>,
        explain: bool,
    ) -> (Option<MunicipalityMatch>, bool) {
        if let (Some(g), Some(resolution)) = (&self.gazetteer, resolution) {
            if explain {
                for m in resolution.mentions.iter().take(MAX_EXPLAIN_ITEMS) {
                    evidence.push(format!(
                        "mention «{}» at {}..{} ({:?}): candidates {:?}, settled on {:?}, because {}",
                        m.surface,
                        m.span.start,
                        m.span.end,
                        m.kind,
                        m.candidates,
                        m.resolved,
                        m.evidence.join(", ")
                    ));
                }
                push_more(evidence, resolution.mentions.len(), "mentions");
                for r in resolution.rejected.iter().take(MAX_EXPLAIN_ITEMS) {
                    evidence.push(format!(
                        "rejected «{}» at {}..{} (candidates {:?}): {:?}",
                        r.surface, r.span.start, r.span.end, r.candidates, r.reason
                    ));
                }
                push_more(evidence, resolution.rejected.len(), "rejected names");
                if resolution.capped {
                    let max = gazetteer::MAX_MENTIONS;
                    evidence.push(format!("only the first {max} names in the text were considered"));
                }
            }
            match resolution.chosen {
                Some(chosen) if g.municipality(&chosen.oktmo).is_some_and(|m| m.region_code == self.home.code) => {
                    return (Some(chosen), false);
                }
                Some(chosen) => {
                    if explain {
                        evidence.push(format!("«{}» is in another region: no municipality", chosen.name));
                    }
                    return (None, true);
                }
                None if resolution.elsewhere.is_some() => {
                    if explain {
                        let words = resolution.elsewhere.unwrap_or_default();
                        evidence.push(format!("«{words}» names a place elsewhere: no municipality"));
                    }
                    return (None, true);
                }
                None => {}
            }
        } else if explain {
            evidence.push("no gazetteer loaded: text mentions are not resolved".into());
        }
        let Some(code) = source.municipality.as_ref() else { return (None, false) };
        if explain {
            evidence.push(format!("the text names no municipality; the source is bound to {code}"));
        }
        let name =
            self.gazetteer.as_ref().and_then(|g| g.municipality(code)).map(|m| m.name.clone()).unwrap_or_default();
        (Some(MunicipalityMatch { oktmo: code.clone(), name, evidence: MunicipalityEvidence::Source }), false)
    }

    fn rule_hit(&self, f: &FiredRef<'_>, norm: &Normalized, excluded: bool) -> RuleHit {
        let meta = &self.rules[f.rule as usize];
        let target = match meta.owner {
            Owner::Topic(t) => t.id().to_owned(),
            Owner::Cue(c) => format!("kind:{}", c.id()),
        };
        let spans = f
            .spans
            .iter()
            .take(MAX_EXPLAIN_ITEMS)
            .map(|&(a, b)| {
                let (start, end) = (norm.tokens[a as usize].start as usize, norm.tokens[b as usize].end as usize);
                Span { start, end, text: norm.text[start..end].to_owned() }
            })
            .collect();
        let more_spans = f.spans.len().saturating_sub(MAX_EXPLAIN_ITEMS);
        RuleHit {
            rule: meta.id.clone(),
            target,
            weight: meta.weight,
            spans,
            more_spans,
            excluded,
            located: false,
            caused: false,
            named: false,
        }
    }
}

/// «… and N more <what>» when `total` items did not all fit in [`MAX_EXPLAIN_ITEMS`].
fn push_more(evidence: &mut Vec<String>, total: usize, what: &str) {
    if total > MAX_EXPLAIN_ITEMS {
        evidence.push(format!("… and {} more {what}", total - MAX_EXPLAIN_ITEMS));
    }
}

/// The tokens of one role, for `--explain`.
fn role_spans(norm: &Normalized, roles: &[Role], role: Role) -> Vec<Span> {
    (0..norm.tokens.len())
        .filter(|&t| roles[t] == role)
        .take(MAX_EXPLAIN_ITEMS)
        .map(|t| {
            let tok = norm.tokens[t];
            Span { start: tok.start as usize, end: tok.end as usize, text: norm.token(t).to_owned() }
        })
        .collect()
}

/// Per-thread buffers of [`Classifier::run`], reused from post to post: a warm classifier
/// allocates only what it returns.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    scan: ScanScratch,
    /// (topic, span) of exclusion matches.
    excluded: Vec<(Topic, (u32, u32))>,
    /// Per token: a word, a location, a cause or a name.
    roles: Vec<Role>,
    /// Per token: what it can do in the location and cause marks.
    kinds: Vec<location::Kinds>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers, or with fresh ones when they are in use (a
/// classification started from inside another never happens today, but must not panic).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

fn gazetteer_problem(path: &Path, e: gazetteer::GazetteerError) -> Problem {
    use gazetteer::GazetteerError as G;
    let (line, message) = match &e {
        G::Parse { line, message, .. } => (Some(*line), message.clone()),
        G::Io { source, .. } => (None, format!("cannot read the gazetteer: {source}")),
        G::TooLarge { limit, .. } => (None, format!("larger than {limit} bytes, the most a gazetteer may hold")),
        G::Build { message, .. } => (None, format!("cannot compile the gazetteer: {message}")),
        G::UnknownRegion { .. } => (None, e.to_string()),
    };
    Problem { file: path.to_path_buf(), line, message, hint: None }
}

/// FNV-1a over the rule files' names and contents.
fn fingerprint(sources: &[(std::path::PathBuf, String)]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for (path, text) in sources {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= b as u32;
            h = h.wrapping_mul(0x01000193);
        }
    }
    h
}
