//! The compiled matcher: every term of every rule in one Aho–Corasick automaton, every regex in
//! one `RegexSet`, so a post is scanned once whatever the number of rules.
//!
//! Terms are matched at word starts: the normalised text is space-framed (`" tok1 tok2 "`) and
//! every automaton pattern is `" " + key`. A hit is then checked against the token it landed in
//! (exact: the token ends there; inflected: the rest of the token is a Russian ending; prefix:
//! anything). Phrases are evaluated only when one of their terms was hit, from the sorted list
//! of (term, token) hits.

use crate::normalize::Normalized;
use crate::pattern::{PhraseSpec, TermKind};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet};
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{HashMap, HashSet};

/// How an inflected term is recognised in a token. Chosen by measurement (see the crate docs);
/// the alternatives stay for re-measuring when the rules change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InflectionMode {
    /// The token is the term's Snowball stem plus an ending from a fixed list of Russian noun,
    /// adjective and verb endings. No stemming at classification time.
    #[default]
    Endings,
    /// The token's own Snowball stem equals the term's (the stemmer runs on candidate tokens only).
    Snowball,
    /// Either of the two.
    Either,
}

/// Endings that may follow a Snowball stem in an inflected form. Snowball removes these (and a
/// few derivational suffixes, which rules cover with more terms or prefixes).
const ENDINGS: &[&str] = &[
    "", "а", "я", "о", "е", "ы", "и", "у", "ю", "ь", "й", "ой", "ей", "ом", "ем", "ам", "ям", "ах", "ях", "ами",
    "ями", "ов", "ев", "ью", "ии", "ия", "ие", "ий", "ию", "ием", "иям", "иях", "иями", "ье", "ья", "ьи", "ьев",
    "ьям", "ьях", "ьями", "ьем", "ьей", "ый", "ая", "яя", "ое", "ее", "ые", "ого", "его", "ому", "ему", "ым", "им",
    "ых", "их", "ую", "юю", "ою", "ею", "ыми", "ими", "ть", "ти", "ет", "ют", "ут", "ит", "ат", "ят", "ете", "ите",
    "ешь", "ишь", "ал", "ала", "ало", "али", "ил", "ила", "ило", "или", "ел", "ела", "ело", "ели", "ял", "яла", "яло",
    "яли", "ла", "ло", "ли", "л", "ай", "айте", "йте", "ться", "тся", "ется", "ится", "ются", "утся", "атся", "ятся",
    "ался", "алась", "алось", "ались", "ился", "илась", "илось", "ились", "ен", "ена", "ено", "ены", "ан", "ана",
    "ано", "аны", "н", "на", "но", "ны", "ок", "ка", "ки", "ку", "кой", "ек", "ев", "ьею", "ейся", "ийся", "ий",
];

/// A compiled term: what the automaton looks for and how a hit is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Term {
    kind: TermKind,
    /// Stem (inflected), prefix or exact word.
    key: String,
}

#[derive(Debug, Clone)]
struct Phrase {
    slots: Vec<Vec<u32>>,
    gaps: Vec<u8>,
    unordered: bool,
    rule: u32,
}

/// A matcher: a phrase or a regex, owned by one rule.
pub(crate) struct RuleSpecs {
    pub phrases: Vec<PhraseSpec>,
    pub regexes: Vec<Regex>,
}

/// The compiled automaton and everything needed to turn its hits into fired rules.
pub(crate) struct Engine {
    ac: AhoCorasick,
    /// Automaton pattern id → the terms that share that key.
    pattern_terms: Vec<Vec<u32>>,
    terms: Vec<Term>,
    /// Term → phrases with that term in a slot.
    term_phrases: Vec<Vec<u32>>,
    phrases: Vec<Phrase>,
    regex_set: RegexSet,
    regexes: Vec<Regex>,
    regex_rule: Vec<u32>,
    rule_count: usize,
    endings: HashSet<&'static str>,
    stemmer: Stemmer,
    mode: InflectionMode,
}

/// One rule that matched, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fired {
    pub rule: u32,
    /// Token spans (first, last), in text order.
    pub spans: Vec<(u32, u32)>,
}

/// Stems one word with the Russian Snowball stemmer.
pub(crate) fn stem(stemmer: &Stemmer, word: &str) -> String {
    stemmer.stem(word).into_owned()
}

impl Engine {
    /// Compiles the rules, indexed by their position in `rules`.
    pub fn build(rules: &[RuleSpecs], mode: InflectionMode) -> Result<Engine, String> {
        let stemmer = Stemmer::create(Algorithm::Russian);
        let mut term_ids: HashMap<Term, u32> = HashMap::new();
        let mut terms = Vec::new();
        let mut phrases = Vec::new();
        let mut regexes = Vec::new();
        let mut regex_rule = Vec::new();
        for (rule_idx, rule) in rules.iter().enumerate() {
            for spec in &rule.phrases {
                let slots = spec
                    .slots
                    .iter()
                    .map(|slot| {
                        slot.iter()
                            .map(|t| {
                                let key = match t.kind {
                                    TermKind::Inflected => stem(&stemmer, &t.text),
                                    _ => t.text.clone(),
                                };
                                let term = Term { kind: t.kind, key };
                                let next = terms.len() as u32;
                                *term_ids.entry(term.clone()).or_insert_with(|| {
                                    terms.push(term);
                                    next
                                })
                            })
                            .collect()
                    })
                    .collect();
                phrases.push(Phrase { slots, gaps: spec.gaps.clone(), unordered: spec.unordered, rule: rule_idx as u32 });
            }
            for re in &rule.regexes {
                regexes.push(re.clone());
                regex_rule.push(rule_idx as u32);
            }
        }
        let mut term_phrases = vec![Vec::new(); terms.len()];
        for (p, phrase) in phrases.iter().enumerate() {
            for slot in &phrase.slots {
                for &t in slot {
                    if term_phrases[t as usize].last() != Some(&(p as u32)) {
                        term_phrases[t as usize].push(p as u32);
                    }
                }
            }
        }
        let mut key_ids: HashMap<&str, usize> = HashMap::new();
        let mut keys: Vec<String> = Vec::new();
        let mut pattern_terms: Vec<Vec<u32>> = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            let id = *key_ids.entry(t.key.as_str()).or_insert_with(|| {
                keys.push(format!(" {}", t.key));
                pattern_terms.push(Vec::new());
                keys.len() - 1
            });
            pattern_terms[id].push(i as u32);
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keys)
            .map_err(|e| format!("building the automaton: {e}"))?;
        let regex_set = RegexSet::new(regexes.iter().map(|r| r.as_str())).map_err(|e| format!("building the regex set: {e}"))?;
        Ok(Engine {
            ac,
            pattern_terms,
            terms,
            term_phrases,
            phrases,
            regex_set,
            regexes,
            regex_rule,
            rule_count: rules.len(),
            endings: ENDINGS.iter().copied().collect(),
            stemmer,
            mode,
        })
    }

    /// Rough heap size of the compiled matcher, in bytes.
    pub fn memory_usage(&self) -> usize {
        let terms: usize = self.terms.iter().map(|t| t.key.len() + std::mem::size_of::<Term>()).sum();
        let lists: usize = self.pattern_terms.iter().chain(&self.term_phrases).map(|v| v.len() * 4 + 24).sum();
        let phrases: usize = self.phrases.iter().map(|p| p.slots.iter().map(|s| s.len() * 4 + 24).sum::<usize>() + 64).sum();
        // The regex crate does not report its size; its lazy DFA caches are bounded per regex
        // (a few hundred KB at most each) and our rules hold a handful.
        let regex = self.regexes.iter().map(|r| r.as_str().len() * 64).sum::<usize>() * 2;
        self.ac.memory_usage() + terms + lists + phrases + regex
    }

    fn term_matches(&self, term: &Term, text: &str, end: usize, token_end: usize) -> bool {
        match term.kind {
            TermKind::Prefix => true,
            TermKind::Exact => end == token_end,
            TermKind::Inflected => {
                let rest = &text[end..token_end];
                let by_endings = || self.endings.contains(rest);
                let by_stem = || {
                    let token_start = end - term.key.len();
                    self.stemmer.stem(&text[token_start..token_end]) == term.key.as_str()
                };
                match self.mode {
                    InflectionMode::Endings => by_endings(),
                    InflectionMode::Snowball => by_stem(),
                    InflectionMode::Either => by_endings() || by_stem(),
                }
            }
        }
    }

    /// Scans a normalised post once and returns every rule that matched, with its spans,
    /// ordered by rule index.
    pub fn scan(&self, norm: &Normalized) -> Vec<Fired> {
        let text = norm.text.as_str();
        // (term, token) pairs.
        let mut hits: Vec<(u32, u32)> = Vec::new();
        for m in self.ac.find_overlapping_iter(text) {
            // The pattern's leading space is the separator before the token.
            let Some(tok) = norm.token_at(m.start() + 1) else { continue };
            let token_end = norm.tokens[tok].end as usize;
            if m.end() > token_end {
                continue;
            }
            for &t in &self.pattern_terms[m.pattern().as_usize()] {
                if self.term_matches(&self.terms[t as usize], text, m.end(), token_end) {
                    hits.push((t, tok as u32));
                }
            }
        }
        hits.sort_unstable();
        hits.dedup();

        let mut spans_by_rule: Vec<(u32, (u32, u32))> = Vec::new();
        let mut scratch: Vec<Vec<u32>> = Vec::new();
        if !hits.is_empty() {
            let mut seen = vec![0u64; self.phrases.len().div_ceil(64)];
            let mut last_term = u32::MAX;
            for &(t, _) in &hits {
                if t == last_term {
                    continue;
                }
                last_term = t;
                for &p in &self.term_phrases[t as usize] {
                    let (w, b) = (p as usize / 64, p as usize % 64);
                    if seen[w] & (1 << b) != 0 {
                        continue;
                    }
                    seen[w] |= 1 << b;
                    phrase_matches(&self.phrases[p as usize], &hits, &mut scratch, &mut spans_by_rule);
                }
            }
        }
        if !self.regexes.is_empty() {
            for i in self.regex_set.matches(text).iter() {
                for m in self.regexes[i].find_iter(text) {
                    let first = norm.token_at(m.start()).or_else(|| norm.token_at(m.start() + 1));
                    let last = norm.token_at(m.end().saturating_sub(1)).or_else(|| norm.token_at(m.end().saturating_sub(2)));
                    if let (Some(first), Some(last)) = (first, last) {
                        if first <= last {
                            spans_by_rule.push((self.regex_rule[i], (first as u32, last as u32)));
                        }
                    }
                }
            }
        }
        spans_by_rule.sort_unstable();
        spans_by_rule.dedup();
        let mut fired: Vec<Fired> = Vec::new();
        for (rule, span) in spans_by_rule {
            match fired.last_mut() {
                Some(f) if f.rule == rule => f.spans.push(span),
                _ => fired.push(Fired { rule, spans: vec![span] }),
            }
        }
        debug_assert!(fired.iter().all(|f| (f.rule as usize) < self.rule_count));
        fired
    }
}

/// Token positions of any term of `slot`, sorted, into `out`.
fn slot_positions(slot: &[u32], hits: &[(u32, u32)], out: &mut Vec<u32>) {
    out.clear();
    for &t in slot {
        let from = hits.partition_point(|&(ht, _)| ht < t);
        out.extend(hits[from..].iter().take_while(|&&(ht, _)| ht == t).map(|&(_, tok)| tok));
    }
    if slot.len() > 1 {
        out.sort_unstable();
        out.dedup();
    }
}

/// Appends every span where `phrase` matches (one per start position) to `out`, tagged with the
/// phrase's rule. `scratch` holds position lists between calls so that a post allocates once.
fn phrase_matches(phrase: &Phrase, hits: &[(u32, u32)], scratch: &mut Vec<Vec<u32>>, out: &mut Vec<(u32, (u32, u32))>) {
    let rule = phrase.rule;
    // Most phrases are one word: no position lists to build.
    if let [slot] = phrase.slots.as_slice() {
        if let [t] = slot.as_slice() {
            let from = hits.partition_point(|&(ht, _)| ht < *t);
            out.extend(hits[from..].iter().take_while(|&&(ht, _)| ht == *t).map(|&(_, tok)| (rule, (tok, tok))));
            return;
        }
    }
    if scratch.len() < phrase.slots.len() {
        scratch.resize_with(phrase.slots.len(), Vec::new);
    }
    for (slot, positions) in phrase.slots.iter().zip(scratch.iter_mut()) {
        slot_positions(slot, hits, positions);
        if positions.is_empty() {
            return;
        }
    }
    let positions = &scratch[..phrase.slots.len()];
    if positions.len() == 1 {
        out.extend(positions[0].iter().map(|&p| (rule, (p, p))));
        return;
    }
    if phrase.unordered {
        let gap = phrase.gaps[0] as u32 + 1;
        for &a in &positions[0] {
            // Positions are sorted: look only at the window around `a`.
            let from = positions[1].partition_point(|&b| b + gap < a);
            if let Some(&b) = positions[1][from..].iter().take_while(|&&b| b <= a + gap).find(|&&b| b != a) {
                out.push((rule, (a.min(b), a.max(b))));
            }
        }
        return;
    }
    'start: for &first in &positions[0] {
        let mut at = first;
        for (i, next) in positions.iter().enumerate().skip(1) {
            let limit = at + phrase.gaps[i - 1] as u32 + 1;
            let from = next.partition_point(|&p| p <= at);
            match next.get(from) {
                Some(&p) if p <= limit => at = p,
                _ => continue 'start,
            }
        }
        out.push((rule, (first, at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;
    use crate::pattern::parse;

    fn engine(rules: &[&[&str]], mode: InflectionMode) -> Engine {
        let specs: Vec<RuleSpecs> = rules
            .iter()
            .map(|ps| RuleSpecs { phrases: ps.iter().map(|p| parse(p).unwrap()).collect(), regexes: vec![] })
            .collect();
        Engine::build(&specs, mode).unwrap()
    }

    fn fired(e: &Engine, text: &str) -> Vec<u32> {
        e.scan(&normalize(text)).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn inflected_terms_match_case_forms_but_not_other_words() {
        let e = engine(&[&["отопление"], &["дом"]], InflectionMode::Endings);
        for t in ["Отопления нет", "с отоплением беда", "ОТОПЛЕНИЮ конец"] {
            assert_eq!(fired(&e, t), [0], "{t}");
        }
        assert_eq!(fired(&e, "в доме"), [1]);
        assert_eq!(fired(&e, "домофон сломан"), Vec::<u32>::new());
    }

    #[test]
    fn phrases_respect_order_and_gap() {
        let e = engine(&[&["=нет ~3 отопление"], &["батарея ~~3 холодный"]], InflectionMode::Endings);
        assert_eq!(fired(&e, "нет в квартире отопления"), [0]);
        assert_eq!(fired(&e, "отопления нет"), Vec::<u32>::new());
        assert_eq!(fired(&e, "нет ну совсем вообще никак отопления"), Vec::<u32>::new());
        assert_eq!(fired(&e, "холодные батареи"), [1]);
        assert_eq!(fired(&e, "батареи опять холодные"), [1]);
    }

    #[test]
    fn spans_point_at_the_matched_tokens() {
        let e = engine(&[&["горячий вода"]], InflectionMode::Endings);
        let n = normalize("Третий день нет горячей воды!");
        let f = e.scan(&n);
        assert_eq!(f[0].spans, [(3, 4)]);
        assert_eq!(n.span_text(3, 4), "горячей воды");
    }

    #[test]
    fn snowball_mode_also_matches() {
        let e = engine(&[&["отопление"]], InflectionMode::Snowball);
        assert_eq!(fired(&e, "без отопления"), [0]);
    }
}
