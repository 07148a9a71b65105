//! Scoring: from the rules that fired in one text to the topics it is tagged with, in named
//! steps that [`Classifier::run`](crate::Classifier) calls in order:
//!
//! 1. [`Classifier::count_evidence`]: each fired rule's weight goes to its topic as *core* (names
//!    the subject), *context* (a place or setting word), *located* (every match a noun read as a
//!    location) or *caused* (every match inside an event named as the cause); exclusion spans
//!    cancel their topic's matches inside them;
//! 2. [`Classifier::weigh_place_words`]: place words strengthen only topics that pass on their
//!    own evidence, unless none does; causes count only when none does;
//! 3. [`Classifier::choose_topics`]: thresholds, suppression, the short-post fallback, the
//!    secondary share and the first-named subject decide which topics are tagged, and why the
//!    others are not.

use crate::engine::ScanScratch;
use crate::kind::{Cue, CueCounts};
use crate::location::Role;
use crate::normalize::Normalized;
use crate::{Classifier, Owner, RuleHit, RuleMeta, TopicScore};
use otklik_model::{Topic, TopicHit};

/// Keep a secondary topic only when it scores at least this share of the best topic's score: a
/// passing mention («…у подъезда, где не горит фонарь…») should not make a second topic of a post
/// about something else.
pub(crate) const SECONDARY_SHARE: f32 = 0.75;

/// The least score that tags a topic when no topic reaches its threshold (see [`fallback_leader`]).
const FALLBACK_SCORE: f32 = 0.5;

/// The fallback is for short posts, where there is no room for more evidence; in a long post a
/// single weak word is more often a passing mention than the subject.
const FALLBACK_MAX_TOKENS: usize = 40;

/// A topic's strongest fired rule: its weight and index.
type Strongest = Option<(f32, u32)>;

/// The evidence for one topic, by what it says.
struct Tally {
    topic: Topic,
    /// Rules that name the subject.
    core: f32,
    /// Place and setting rules (`context = true`).
    context: f32,
    /// Rules whose every match is a noun read as a location («у лифта»): where, not what.
    located: f32,
    /// Rules whose every match lies in an event named as the cause («после ремонта
    /// теплотрассы»): why, not what.
    caused: f32,
    strongest: Strongest,
}

impl Tally {
    fn new(topic: Topic) -> Tally {
        Tally { topic, core: 0.0, context: 0.0, located: 0.0, caused: 0.0, strongest: None }
    }
}

/// What a fired rule's counted matches stand on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Words of the post's subject (some of them at least).
    Own,
    /// Nouns read as locations only («у лифта»): where, not what.
    Located,
    /// An event named as the cause («после ремонта теплотрассы»): why, not what.
    Caused,
}

/// What one text's fired rules say, per topic and per post-kind cue.
pub(crate) struct Evidence {
    tallies: Vec<Tally>,
    /// Per topic, the first and last token of its core evidence's first phrase.
    first_at: Vec<(Topic, (u32, u32))>,
    /// (topic suppressed, the rule that suppresses it).
    suppressed: Vec<(Topic, u32)>,
    pub cues: CueCounts,
    /// Explain only: every rule that fired, counted or not.
    pub rules: Vec<RuleHit>,
}

/// A topic's score once place words are weighed.
struct Scored {
    topic: Topic,
    score: f32,
    strongest: Strongest,
}

/// Why a scored topic was not tagged; formatted only when explaining.
#[derive(Clone, Copy)]
enum Rejection {
    BelowThreshold,
    Suppressed(u32),
    Secondary,
}

/// The topics a text is tagged with and, when explaining, every scored topic with its verdict.
pub(crate) struct Chosen {
    pub hits: Vec<TopicHit>,
    pub scores: Vec<TopicScore>,
}

impl Classifier {
    fn threshold_of(&self, topic: &Topic) -> f32 {
        self.thresholds[*topic as usize]
    }

    /// Step 1: the weight of every fired rule, per topic. Exclusions count first: a topic's rules
    /// do not count inside its excluded spans. `excluded` is a reused buffer.
    pub(crate) fn count_evidence(
        &self,
        scan: &ScanScratch,
        norm: &Normalized,
        roles: &[Role],
        excluded: &mut Vec<(Topic, (u32, u32))>,
        explain: bool,
    ) -> Evidence {
        excluded.clear();
        let mut cues = CueCounts::default();
        for f in scan.fired() {
            let meta = &self.rules[f.rule as usize];
            match meta.owner {
                Owner::Topic(t) if meta.exclude => excluded.extend(f.spans.iter().map(|&s| (t, s))),
                Owner::Cue(c) => cues.add(c),
                Owner::Topic(_) => {}
            }
        }
        // Sorted by (topic, start), so that overlap checks look at a few neighbours only.
        excluded.sort_unstable();
        let longest_exclusion = excluded.iter().map(|(_, (a, b))| b - a).max().unwrap_or(0);
        let excluded = &*excluded;
        // A phrase's first and last words are two of its terms: one on a name is a term matched
        // by the name.
        let on_name = |&(a, b): &(u32, u32)| roles[a as usize] == Role::Name || roles[b as usize] == Role::Name;
        let roles_of = |&(a, b): &(u32, u32)| &roles[a as usize..=b as usize];
        let on_location = |s: &(u32, u32)| roles_of(s).iter().all(|&r| matches!(r, Role::Location | Role::Name));
        // Every word of the match is in a cause, or some is and the rest are places or names.
        // Most texts name no cause: one look at the roles spares the look at every match.
        let any_cause = roles.contains(&Role::Cause);
        let on_cause = |s: &(u32, u32)| {
            let roles = roles_of(s);
            any_cause && roles.iter().all(|&r| r != Role::Word) && roles.contains(&Role::Cause)
        };
        let mut evidence =
            Evidence { tallies: Vec::new(), first_at: Vec::new(), suppressed: Vec::new(), cues, rules: Vec::new() };
        for f in scan.fired() {
            let meta = &self.rules[f.rule as usize];
            let topic = match meta.owner {
                Owner::Topic(topic) if !meta.exclude => topic,
                _ => {
                    if explain {
                        evidence.rules.push(self.rule_hit(&f, norm, false));
                    }
                    continue;
                }
            };
            let overlaps = |&(a, b): &(u32, u32)| {
                let from =
                    excluded.partition_point(|&(t, (x, _))| (t, x) < (topic, a.saturating_sub(longest_exclusion)));
                excluded[from..].iter().take_while(|&&(t, (x, _))| t == topic && x <= b).any(|&(_, (_, y))| a <= y)
            };
            let counts = f.spans.iter().any(|s| !overlaps(s) && !on_name(s));
            // A rule that names its topic's own place (`place`) counts at a location, not in a cause.
            let standing = if !counts {
                Standing::Own
            } else if !meta.place && f.spans.iter().filter(|s| !overlaps(s)).all(on_location) {
                Standing::Located
            } else if f.spans.iter().filter(|s| !overlaps(s)).all(on_cause) {
                Standing::Caused
            } else {
                Standing::Own
            };
            if explain {
                let named = !counts && f.spans.iter().any(|s| !overlaps(s));
                let mut hit = self.rule_hit(&f, norm, !counts && !named);
                hit.located = standing == Standing::Located;
                hit.caused = standing == Standing::Caused;
                hit.named = named;
                evidence.rules.push(hit);
            }
            if counts {
                // A cause is named before the problem it led to: it makes its topic the first
                // named only when the rule matched nowhere else.
                let counted = |s: &&(u32, u32)| !overlaps(s) && !on_name(s);
                let first = f
                    .spans
                    .iter()
                    .filter(counted)
                    .filter(|s| !on_cause(s))
                    .copied()
                    .reduce(first_phrase)
                    .or_else(|| f.spans.iter().filter(counted).copied().reduce(first_phrase))
                    .unwrap_or((u32::MAX, u32::MAX));
                evidence.add(f.rule, meta, topic, standing, first);
            }
        }
        evidence
    }

    /// Step 2: place and setting words («в подъезде», «на дороге») say where, not what. When some
    /// topic passes on evidence of its own, they strengthen only topics that pass too (a place
    /// word must not lift a weak mention of the road to the level of the litter lying on it);
    /// when none does, they count fully and may decide. An `alongside` topic names who failed,
    /// not what: it never makes place words count less.
    fn weigh_place_words(&self, tallies: &[Tally]) -> Vec<Scored> {
        let core_decides =
            tallies.iter().any(|e| e.core >= self.threshold_of(&e.topic) && !self.alongside.contains(&e.topic));
        tallies
            .iter()
            .map(|e| {
                let own = e.core >= self.threshold_of(&e.topic);
                let mut score = if !core_decides || own { e.core + e.context } else { e.core };
                // A location strengthens a topic named otherwise, and never makes one alone.
                if e.core > 0.0 {
                    score += e.located;
                }
                // A cause decides only when nothing else names the subject: then the cause is it.
                if !core_decides {
                    score += e.caused;
                }
                Scored { topic: e.topic, score, strongest: e.strongest }
            })
            .collect()
    }

    /// Step 3: the topics tagged in the text `norm`.
    pub(crate) fn choose_topics(&self, evidence: &mut Evidence, norm: &Normalized, explain: bool) -> Chosen {
        let tokens = norm.tokens.len();
        let scored = self.weigh_place_words(&evidence.tallies);
        let passing = |t: &Topic, s: f32| s >= self.threshold_of(t);
        // Suppression counts only from topics that pass themselves, and two topics that suppress
        // each other cancel out: else neither is tagged, though the text names both.
        let owner_of = |rule: u32| match self.rules[rule as usize].owner {
            Owner::Topic(owner) => Some(owner),
            Owner::Cue(_) => None,
        };
        // A few pairs at most, and none in most texts (an empty clone allocates nothing).
        let all = evidence.suppressed.clone();
        let mutual = |target: Topic, owner: Topic| all.iter().any(|&(t, r)| t == owner && owner_of(r) == Some(target));
        let passes = |topic: Topic| scored.iter().any(|s| s.topic == topic && passing(&s.topic, s.score));
        evidence
            .suppressed
            .retain(|&(target, rule)| owner_of(rule).is_some_and(|owner| passes(owner) && !mutual(target, owner)));
        let suppressed = &evidence.suppressed;
        let suppressed_by = |t: &Topic| suppressed.iter().find(|(x, _)| x == t).map(|&(_, r)| r);
        let best = scored
            .iter()
            .filter(|s| passing(&s.topic, s.score) && suppressed_by(&s.topic).is_none())
            .map(|s| s.score)
            .fold(0.0f32, f32::max);
        let fallback = (best == 0.0 && tokens <= FALLBACK_MAX_TOKENS && evidence.cues.get(Cue::Private) == 0)
            .then(|| fallback_leader(&scored, suppressed_by))
            .flatten();
        let mut chosen = Chosen { hits: Vec::new(), scores: Vec::new() };
        // Topics under the secondary share, kept after all when named as «ни X, ни Y» with a kept one.
        let mut secondary = Vec::new();
        for s in &scored {
            let threshold = self.threshold_of(&s.topic);
            let rejection = if fallback == Some(s.topic) {
                None
            } else if s.score < threshold {
                Some(Rejection::BelowThreshold)
            } else if let Some(rule) = suppressed_by(&s.topic) {
                Some(Rejection::Suppressed(rule))
            } else if s.score < best * SECONDARY_SHARE && !self.alongside.contains(&s.topic) {
                Some(Rejection::Secondary)
            } else {
                None
            };
            let hit = || {
                let rule = s.strongest.map(|(_, r)| self.rules[r as usize].id.clone()).unwrap_or_default();
                TopicHit { topic: s.topic, score: s.score, rule }
            };
            match rejection {
                None => chosen.hits.push(hit()),
                Some(Rejection::Secondary) => secondary.push(hit()),
                Some(_) => {}
            }
            if explain {
                let score = s.score;
                let rejected_because = rejection.map(|r| match r {
                    Rejection::BelowThreshold => format!("score {score:.2} below threshold {threshold:.2}"),
                    Rejection::Suppressed(rule) => format!("suppressed by rule {}", self.rules[rule as usize].id),
                    Rejection::Secondary => {
                        format!("score {score:.2} is under {SECONDARY_SHARE} of the best topic's {best:.2}")
                    }
                });
                let accepted = rejection.is_none();
                chosen.scores.push(TopicScore { topic: s.topic, score, threshold, accepted, rejected_because });
            }
        }
        self.keep_neither_nor(&mut chosen, secondary, &evidence.first_at, norm, explain);
        chosen.hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.topic.cmp(&b.topic)));
        self.keep_first_named(&mut chosen, &evidence.first_at, norm, explain);
        chosen
    }

    /// Residents name the subject first and the setting after it («яма у остановки», «мусор под
    /// деревом»): of the topics that pass, the one whose own (non-context) evidence starts
    /// earliest is the post's topic. Topics whose evidence starts at the same token stay
    /// together. Measured: dev.csv micro-F1 0.792 → 0.805, labelled set 0.843 → 0.849. An
    /// `alongside` topic (who failed) neither leads nor yields here: it stands beside whatever the
    /// post is about. Subjects joined by «и», «ни… ни», «или» are named together («нет ни горячей,
    /// ни холодной воды», «нет горячей воды и отопления»): a topic whose evidence follows a kept
    /// topic's first match across such words only is kept too.
    fn keep_first_named(
        &self,
        chosen: &mut Chosen,
        first_at: &[(Topic, (u32, u32))],
        norm: &Normalized,
        explain: bool,
    ) {
        let leads = |t: Topic| !self.alongside.contains(&t);
        if chosen.hits.iter().filter(|h| leads(h.topic)).count() <= 1 {
            return;
        }
        let first_of = |t: Topic| first_at.iter().find(|(x, _)| *x == t).map_or((u32::MAX, u32::MAX), |e| e.1);
        let first = chosen.hits.iter().filter(|h| leads(h.topic)).map(|h| first_of(h.topic).0).min().unwrap_or(0);
        // Kept subjects in text order: those named first, then each one coordinated with the last.
        let mut named: Vec<(u32, u32)> =
            chosen.hits.iter().filter(|h| leads(h.topic)).map(|h| first_of(h.topic)).collect();
        named.sort_unstable();
        let mut kept = Vec::new();
        let mut until = 0;
        for &(start, end) in &named {
            if start == first {
                until = until.max(end);
            } else if coordinated(norm, until, start) {
                until = end;
            } else {
                break;
            }
            kept.push(start);
        }
        let later = |t: Topic| leads(t) && !kept.contains(&first_of(t).0);
        if explain {
            for ts in chosen.scores.iter_mut().filter(|ts| ts.accepted && later(ts.topic)) {
                ts.accepted = false;
                ts.rejected_because =
                    Some(format!("its evidence starts after that of a topic named earlier (token {first})"));
            }
        }
        chosen.hits.retain(|h| !later(h.topic));
    }

    /// «Нет ни отопления, ни горячей воды»: subjects listed after «ни» are each the post's subject,
    /// however much more evidence the first one has, so a topic that `secondary` holds for scoring
    /// under [`SECONDARY_SHARE`] is kept when its first phrase follows a kept topic's across «ни»
    /// alone. Other coordinators do not lift the share: «спилили и не вывезли» joins two verbs of
    /// one subject far more often than two subjects (measured: keeping every topic joined by «и»
    /// or «а» cost the labelled set 0.002 micro-F1).
    fn keep_neither_nor(
        &self,
        chosen: &mut Chosen,
        secondary: Vec<TopicHit>,
        first_at: &[(Topic, (u32, u32))],
        norm: &Normalized,
        explain: bool,
    ) {
        let phrase = |t: Topic| first_at.iter().find(|(x, _)| *x == t).map(|e| e.1);
        let kept: Vec<(u32, u32)> = chosen.hits.iter().filter_map(|h| phrase(h.topic)).collect();
        let neither_nor = |start: u32| {
            start >= 2 && norm.token(start as usize - 1) == "ни" && kept.iter().any(|&(_, end)| end + 2 == start)
        };
        for hit in secondary {
            if !phrase(hit.topic).is_some_and(|(start, _)| neither_nor(start)) {
                continue;
            }
            if explain {
                if let Some(ts) = chosen.scores.iter_mut().find(|ts| ts.topic == hit.topic) {
                    ts.accepted = true;
                    ts.rejected_because = None;
                }
            }
            chosen.hits.push(hit);
        }
    }
}

impl Evidence {
    /// Counts fired rule `rule` of `topic` whose earliest counted match is the span `first`.
    fn add(&mut self, rule: u32, meta: &RuleMeta, topic: Topic, standing: Standing, first: (u32, u32)) {
        let index = match self.tallies.iter().position(|e| e.topic == topic) {
            Some(index) => index,
            None => {
                self.tallies.push(Tally::new(topic));
                self.tallies.len() - 1
            }
        };
        let tally = &mut self.tallies[index];
        match standing {
            Standing::Located => tally.located += meta.weight,
            Standing::Caused => tally.caused += meta.weight,
            Standing::Own if meta.context => tally.context += meta.weight,
            Standing::Own => {
                tally.core += meta.weight;
                match self.first_at.iter_mut().find(|(t, _)| *t == topic) {
                    Some(e) => e.1 = first_phrase(e.1, first),
                    None => self.first_at.push((topic, first)),
                }
            }
        }
        if tally.strongest.is_none_or(|(w, _)| meta.weight > w) {
            tally.strongest = Some((meta.weight, rule));
        }
        self.suppressed.extend(meta.suppress.iter().map(|&t| (t, rule)));
    }
}

/// The earliest of two spans of a topic's evidence, stretched over the other when they overlap
/// or touch: «нет горячей» and «горячей воды» are one phrase, «нет горячей воды».
fn first_phrase(a: (u32, u32), b: (u32, u32)) -> (u32, u32) {
    let (early, late) = if a <= b { (a, b) } else { (b, a) };
    if late.0 <= early.1.saturating_add(1) {
        (early.0, early.1.max(late.1))
    } else {
        early
    }
}

/// Words that join subjects named together.
const COORDINATORS: &[&str] = &["и", "ни", "или", "а", "также", "плюс"];

/// Whether the tokens strictly between `until` and `start` are a coordinating word or two
/// («и», «а также», «ни»).
fn coordinated(norm: &Normalized, until: u32, start: u32) -> bool {
    let between = until + 1..start;
    !between.is_empty()
        && between.len() <= 2
        && between.into_iter().all(|t| COORDINATORS.contains(&norm.token(t as usize)))
}

/// Short posts («яма у подъезда», «не косят траву») often carry one weak word only. When no topic
/// reaches its threshold in a short post, a single clear leader with at least [`FALLBACK_SCORE`]
/// is tagged: a weak signal is better than none, but a tie is no signal. Not in a sale, a job
/// offer or a lost-pet post, where the weak word is merchandise or a landmark («продам дрова»,
/// «сдам квартиру без животных»): measured on the labelled set's off-topic posts, 42 → 31 wrongly
/// tagged; dev.csv unchanged (the caller checks the private-post cue).
fn fallback_leader(scored: &[Scored], suppressed_by: impl Fn(&Topic) -> Option<u32>) -> Option<Topic> {
    let mut leader: Option<(Topic, f32)> = None;
    let mut tied = false;
    for s in scored {
        if s.score < FALLBACK_SCORE || suppressed_by(&s.topic).is_some() {
            continue;
        }
        match leader {
            Some((_, l)) if s.score < l => {}
            Some((_, l)) if s.score == l => tied = true,
            _ => {
                leader = Some((s.topic, s.score));
                tied = false;
            }
        }
    }
    leader.filter(|_| !tied).map(|(t, _)| t)
}
