//! The compiled matcher: every term of every rule in one letter trie, every regex in one
//! `RegexSet`, so a post is read once whatever the number of rules.
//!
//! Terms only ever match at the start of a token, so instead of scanning the whole text for
//! every key (an overlapping Aho–Corasick search, which also reports keys inside words only to
//! throw them away), each token walks the trie from its first letter: every node passed on the
//! way is a key that is a prefix of the token. A hit is then checked against the rest of the
//! token (exact: nothing left; inflected: the rest is a Russian ending; prefix: anything). Most
//! tokens leave the trie after a letter or two. Phrases are evaluated only when one of their
//! terms was hit, from the sorted list of (term, token) hits.

use crate::normalize::{fold_letters, Normalized};
use crate::pattern::{PhraseSpec, TermKind};
use regex::{Regex, RegexSet};
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

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
    "",
    "а",
    "я",
    "о",
    "е",
    "ы",
    "и",
    "у",
    "ю",
    "ь",
    "й",
    "ой",
    "ей",
    "ом",
    "ем",
    "ам",
    "ям",
    "ах",
    "ях",
    "ами",
    "ями",
    "ов",
    "ев",
    "ью",
    "ии",
    "ия",
    "ие",
    "ий",
    "ию",
    "ием",
    "иям",
    "иях",
    "иями",
    "ье",
    "ья",
    "ьи",
    "ьев",
    "ьям",
    "ьях",
    "ьями",
    "ьем",
    "ьей",
    "ый",
    "ая",
    "яя",
    "ое",
    "ее",
    "ые",
    "ого",
    "его",
    "ому",
    "ему",
    "ым",
    "им",
    "ых",
    "их",
    "ую",
    "юю",
    "ою",
    "ею",
    "ыми",
    "ими",
    "ть",
    "ти",
    "ет",
    "ют",
    "ут",
    "ит",
    "ат",
    "ят",
    "ете",
    "ите",
    "ешь",
    "ишь",
    "ал",
    "ала",
    "ало",
    "али",
    "ил",
    "ила",
    "ило",
    "или",
    "ел",
    "ела",
    "ело",
    "ели",
    "ял",
    "яла",
    "яло",
    "яли",
    "ла",
    "ло",
    "ли",
    "л",
    "ай",
    "айте",
    "йте",
    "ться",
    "тся",
    "ется",
    "ится",
    "ются",
    "утся",
    "атся",
    "ятся",
    "ался",
    "алась",
    "алось",
    "ались",
    "ился",
    "илась",
    "илось",
    "ились",
    "ен",
    "ена",
    "ено",
    "ены",
    "ан",
    "ана",
    "ано",
    "аны",
    "н",
    "на",
    "но",
    "ны",
    "ок",
    "ка",
    "ки",
    "ку",
    "кой",
    "ек",
    "ев",
    "ьею",
    "ейся",
    "ийся",
    "ий",
];

/// A compiled term: what the automaton looks for and how a hit is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Term {
    kind: TermKind,
    /// Stem (inflected), prefix or exact word.
    key: String,
}

/// Lists of numbers stored back to back: list `i` is `items[from[i]..from[i + 1]]`, one stretch
/// of memory rather than a heap block per list. (A scan reads dozens of lists a post; measured,
/// this layout is no faster than a `Vec` per list on our machine, and kept for being smaller.)
#[derive(Debug, Clone, Default)]
struct Lists {
    from: Vec<u32>,
    items: Vec<u32>,
}

impl Lists {
    fn push(&mut self, list: impl IntoIterator<Item = u32>) {
        if self.from.is_empty() {
            self.from.push(0);
        }
        self.items.extend(list);
        self.from.push(self.items.len() as u32);
    }

    #[inline]
    fn get(&self, i: usize) -> &[u32] {
        &self.items[self.from[i] as usize..self.from[i + 1] as usize]
    }

    fn memory_usage(&self) -> usize {
        (self.from.len() + self.items.len()) * 4
    }
}

/// A phrase while the engine is built: its slots' terms and the gaps between slots.
struct PhraseTerms {
    slots: Vec<Vec<u32>>,
    gaps: Vec<u8>,
    unordered: bool,
    rule: u32,
}

/// A compiled phrase: its slots are [`Engine::slots`] `first_slot..first_slot + slot_count`.
#[derive(Debug, Clone, Copy)]
struct Phrase {
    first_slot: u32,
    slot_count: u32,
    unordered: bool,
    rule: u32,
}

impl Phrase {
    fn slots(&self) -> std::ops::Range<usize> {
        self.first_slot as usize..(self.first_slot + self.slot_count) as usize
    }
}

/// A matcher: a phrase or a regex, owned by one rule.
pub(crate) struct RuleSpecs {
    pub phrases: Vec<PhraseSpec>,
    pub regexes: Vec<Regex>,
}

/// Letters of the trie's fast alphabet: Latin, digits, the Russian alphabet, '-' and '/'. Any
/// other character a key uses gets a symbol of its own at build time ([`Trie::extra`]).
const FAST_SYMBOLS: usize = 26 + 10 + 32 + 2;

/// A symbol no character has: the end of a walk.
const NO_SYMBOL: u8 = u8::MAX;

/// A trie over the keys of all terms, walked letter by letter along a token.
///
/// Laid out for the cache, since on diverse text nearly every walk reads nodes nobody read
/// lately: the root is a dense row (every token starts there), every other node is a few bytes
/// of `nodes` in depth-first order — a node's first child right after it — so a walk down a
/// key reads one short stretch of memory. A dense table of all nodes (one row of every symbol
/// per node) was twenty times the size and cost a cache miss per letter.
struct Trie {
    /// The root's child per symbol, as an offset into `nodes` (0: none; offset 0 is no node).
    root: Vec<u32>,
    /// Nodes, each `[children: u8, term list + 1: u24 LE, labels: u8 × children, offsets: u32
    /// LE × children]`, labels sorted.
    nodes: Vec<u8>,
    /// Per term list: the range of [`Trie::node_terms`] holding the terms whose key ends at a node.
    ends: Vec<(u32, u32)>,
    node_terms: Vec<u32>,
    /// The symbol of each ASCII character and of each character U+0400..U+047F.
    ascii: [u8; 128],
    cyrillic: [u8; 128],
    /// Symbols of other characters some key uses.
    extra: HashMap<char, u8>,
}

/// The symbol of an ASCII or basic-Cyrillic lower-case character, if it has a fast one.
fn fast_symbol(c: char) -> Option<u8> {
    let s = match c {
        'a'..='z' => c as u32 - 'a' as u32,
        '0'..='9' => 26 + c as u32 - '0' as u32,
        'а'..='я' => 36 + c as u32 - 'а' as u32,
        '-' => 68,
        '/' => 69,
        _ => return None,
    };
    Some(s as u8)
}

/// A trie node while building: its children by symbol, and its term list.
#[derive(Default)]
struct BuildNode {
    children: Vec<(u8, usize)>,
    terms: Option<u32>,
}

impl Trie {
    fn build(keys: &[(String, Vec<u32>)]) -> Result<Trie, String> {
        let mut extra: HashMap<char, u8> = HashMap::new();
        for (key, _) in keys {
            for c in key.chars().filter(|&c| fast_symbol(c).is_none()) {
                let next = FAST_SYMBOLS + extra.len();
                if let Entry::Vacant(slot) = extra.entry(c) {
                    let s = u8::try_from(next).ok().filter(|&s| s != NO_SYMBOL);
                    let s =
                        s.ok_or("the rules' terms use more than 185 characters outside the Russian and Latin letters")?;
                    slot.insert(s);
                }
            }
        }
        let symbol = |c: char| fast_symbol(c).or_else(|| extra.get(&c).copied()).unwrap_or(NO_SYMBOL);
        let mut ascii = [NO_SYMBOL; 128];
        let mut cyrillic = [NO_SYMBOL; 128];
        for (i, (a, c)) in ascii.iter_mut().zip(cyrillic.iter_mut()).enumerate() {
            // Tokens hold no ASCII outside the fast alphabet.
            *a = fast_symbol(char::from(i as u8)).unwrap_or(NO_SYMBOL);
            *c = char::from_u32(0x400 + i as u32).map_or(NO_SYMBOL, symbol);
        }
        let mut built = vec![BuildNode::default()];
        let mut ends = Vec::new();
        let mut node_terms = Vec::new();
        for (key, terms) in keys {
            let mut node = 0usize;
            for c in key.chars() {
                let sym = symbol(c);
                node = match built[node].children.iter().find(|&&(s, _)| s == sym) {
                    Some(&(_, child)) => child,
                    None => {
                        built.push(BuildNode::default());
                        let child = built.len() - 1;
                        built[node].children.push((sym, child));
                        child
                    }
                };
            }
            // Keys are distinct, so a node gets one term list at most.
            let from = node_terms.len() as u32;
            node_terms.extend_from_slice(terms);
            built[node].terms = Some(ends.len() as u32);
            ends.push((from, node_terms.len() as u32));
        }
        if ends.len() >= 1 << 24 {
            return Err("the rules hold more than 16 million distinct terms".into());
        }
        let (root, nodes) = Trie::lay_out(&mut built);
        Ok(Trie { root, nodes, ends, node_terms, ascii, cyrillic, extra })
    }

    /// Writes the nodes below the root in depth-first order; returns the root's row and them.
    fn lay_out(built: &mut [BuildNode]) -> (Vec<u32>, Vec<u8>) {
        let symbols = built[0].children.iter().map(|&(s, _)| s as usize + 1).max().unwrap_or(0);
        for node in built.iter_mut() {
            node.children.sort_unstable();
        }
        // Offsets first (a parent holds its children's), one byte in so that 0 means none.
        let mut offset = vec![0u32; built.len()];
        let mut order = Vec::with_capacity(built.len());
        let mut stack: Vec<usize> = built[0].children.iter().rev().map(|&(_, c)| c).collect();
        let mut at = 1usize;
        while let Some(n) = stack.pop() {
            offset[n] = at as u32;
            order.push(n);
            at += 4 + 5 * built[n].children.len();
            stack.extend(built[n].children.iter().rev().map(|&(_, c)| c));
        }
        let mut nodes = Vec::with_capacity(at);
        nodes.push(0);
        for &n in &order {
            let node = &built[n];
            let list = node.terms.map_or(0, |t| t + 1);
            nodes.push(node.children.len() as u8);
            nodes.extend_from_slice(&list.to_le_bytes()[..3]);
            nodes.extend(node.children.iter().map(|&(s, _)| s));
            for &(_, c) in &node.children {
                nodes.extend_from_slice(&offset[c].to_le_bytes());
            }
        }
        let mut root = vec![0u32; symbols];
        for &(s, c) in &built[0].children {
            root[s as usize] = offset[c];
        }
        (root, nodes)
    }

    /// Rough heap size, in bytes.
    fn memory_usage(&self) -> usize {
        self.root.len() * 4 + self.nodes.len() + self.ends.len() * 8 + self.node_terms.len() * 4 + self.extra.len() * 8
    }

    /// Calls `found(terms, key_end)` for every key that is a prefix of `token`, shortest first;
    /// `key_end` is the byte offset in `token` where the key ends.
    #[inline]
    fn walk(&self, token: &str, mut found: impl FnMut(&[u32], usize)) {
        let mut node = 0usize;
        let mut i = 0;
        while i < token.len() {
            let Some((sym, len)) = self.symbol_at(token, i) else { return };
            let child =
                if node == 0 { self.root.get(sym as usize).copied().unwrap_or(0) } else { self.child(node, sym) };
            if child == 0 {
                return;
            }
            node = child as usize;
            i += len;
            let list = self.header(node) >> 8;
            if list != 0 {
                let (a, b) = self.ends[list as usize - 1];
                found(&self.node_terms[a as usize..b as usize], i);
            }
        }
    }

    /// The symbol of the character at byte `i` of `token` and its length, if some key uses it.
    /// The normaliser's output is lower-case: ASCII and two-byte basic Cyrillic are looked up in
    /// tables, anything else through the char decoder.
    #[inline]
    fn symbol_at(&self, token: &str, i: usize) -> Option<(u8, usize)> {
        let bytes = token.as_bytes();
        let b = bytes[i];
        let (sym, len) = if b < 0x80 {
            (self.ascii[b as usize], 1)
        } else if (b == 0xD0 || b == 0xD1) && i + 1 < bytes.len() {
            // U+0400..U+047F: the lead byte's low bit and the continuation byte's six.
            (self.cyrillic[(usize::from(b & 1) << 6) | usize::from(bytes[i + 1] & 0x3F)], 2)
        } else {
            let c = token[i..].chars().next()?;
            (*self.extra.get(&c)?, c.len_utf8())
        };
        (sym != NO_SYMBOL).then_some((sym, len))
    }

    /// The four bytes at `at` as a little-endian number, read at once.
    #[inline]
    fn u32_at(&self, at: usize) -> u32 {
        let bytes: [u8; 4] = self.nodes[at..at + 4].try_into().expect("four bytes");
        u32::from_le_bytes(bytes)
    }

    /// A node's header: its child count in the low byte, its term list + 1 above.
    #[inline]
    fn header(&self, node: usize) -> u32 {
        self.u32_at(node)
    }

    /// The offset of `node`'s child by `sym`, or 0.
    #[inline]
    fn child(&self, node: usize, sym: u8) -> u32 {
        let n = (self.header(node) & 0xFF) as usize;
        let labels = &self.nodes[node + 4..node + 4 + n];
        match labels.iter().position(|&l| l == sym) {
            Some(k) => self.u32_at(node + 4 + n + 4 * k),
            None => 0,
        }
    }
}

/// The compiled matcher and everything needed to turn its hits into fired rules.
pub(crate) struct Engine {
    trie: Trie,
    terms: Vec<Term>,
    /// Each term's kind, apart from its key: a scan reads the kind of every candidate, and a byte
    /// array stays in the cache where the terms with their strings do not.
    kinds: Vec<TermKind>,
    /// Term → the phrases it wakes (those with the term in their trigger slot).
    triggers: Lists,
    phrases: Vec<Phrase>,
    /// Every phrase's slots, each a list of terms.
    slots: Lists,
    /// Per slot, the most tokens allowed between the previous slot's hit and its own (0 for a
    /// phrase's first slot).
    slot_gaps: Vec<u8>,
    regex_set: RegexSet,
    regexes: Vec<Regex>,
    regex_rule: Vec<u32>,
    rule_count: usize,
    /// [`ENDINGS`] packed by [`pack_ending`], sorted: a binary search over a few hundred
    /// integers beats hashing the rest of every candidate token.
    endings: Vec<u128>,
    stemmer: Stemmer,
    mode: InflectionMode,
}

/// One rule that matched, with where (an owned [`FiredRef`], for tests).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fired {
    pub rule: u32,
    /// Token spans (first, last), in text order.
    pub spans: Vec<(u32, u32)>,
}

/// One rule that matched, borrowed from a [`ScanScratch`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FiredRef<'a> {
    pub rule: u32,
    /// Token spans (first, last), in text order.
    pub spans: &'a [(u32, u32)],
}

/// Buffers of one scan, kept between posts so that a warm classifier allocates nothing here.
#[derive(Default)]
pub(crate) struct ScanScratch {
    /// (term, token) hits, each packed as `term << 32 | token` so that sorting them compares one
    /// integer instead of a pair (the sort took about a twelfth of the scan).
    hits: Vec<u64>,
    /// (rule, span) before grouping.
    spans_by_rule: Vec<(u32, (u32, u32))>,
    /// Per phrase slot: token positions.
    positions: Vec<Vec<u32>>,
    /// Bitsets: terms hit, phrases already evaluated.
    present: Vec<u64>,
    seen: Vec<u64>,
    /// Per term hit, the index in `hits` of its first hit (stale for terms not in `present`).
    first_hit: Vec<u32>,
    /// The result: spans grouped by rule, and per fired rule (rule, spans from, spans to).
    spans: Vec<(u32, u32)>,
    fired: Vec<(u32, u32, u32)>,
}

impl ScanScratch {
    /// The rules that fired in the last scan, ordered by rule index.
    pub fn fired(&self) -> impl Iterator<Item = FiredRef<'_>> + '_ {
        self.fired.iter().map(|&(rule, a, b)| FiredRef { rule, spans: &self.spans[a as usize..b as usize] })
    }

    pub fn clear(&mut self) {
        self.spans.clear();
        self.fired.clear();
    }
}

/// An ending of up to 15 bytes as one integer (length in the top byte, so that «а» and «а\0»
/// differ); `None` when longer, which no ending in [`ENDINGS`] is.
#[inline]
fn pack_ending(rest: &str) -> Option<u128> {
    let b = rest.as_bytes();
    if b.len() > 15 {
        return None;
    }
    let mut k = (b.len() as u128) << 120;
    for (i, &x) in b.iter().enumerate() {
        k |= (x as u128) << (8 * i);
    }
    Some(k)
}

/// Distinct terms, numbered in the order first met.
#[derive(Default)]
struct TermTable {
    ids: HashMap<Term, u32>,
    terms: Vec<Term>,
}

impl TermTable {
    /// The number of the term a pattern writes as `text` of `kind`.
    fn id(&mut self, stemmer: &Stemmer, kind: TermKind, text: &str) -> u32 {
        let text = fold_letters(text);
        let key = match kind {
            TermKind::Inflected => stem(stemmer, &text),
            _ => text.into_owned(),
        };
        let term = Term { kind, key };
        let next = self.terms.len() as u32;
        *self.ids.entry(term.clone()).or_insert_with(|| {
            self.terms.push(term);
            next
        })
    }
}

/// The trie's keys: every distinct key with the terms it stands for (one key serves an exact, a
/// prefix and an inflected term alike).
fn trie_keys(terms: &[Term]) -> Vec<(String, Vec<u32>)> {
    let mut key_ids: HashMap<&str, usize> = HashMap::new();
    let mut keys: Vec<(String, Vec<u32>)> = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let id = *key_ids.entry(t.key.as_str()).or_insert_with(|| {
            keys.push((t.key.clone(), Vec::new()));
            keys.len() - 1
        });
        keys[id].1.push(i as u32);
    }
    keys
}

/// Per term, the phrases it wakes. A phrase matches only when every slot is hit, so it is woken
/// by the terms of one slot only: the slot least likely to be hit. Lacking word frequencies, a
/// term used by many phrases («=в», «=у», «=нет») stands for a frequent word; the slot whose terms
/// are used least is the trigger. Most phrases pair a rare subject with a common word, and a
/// common word no longer wakes every phrase it appears in.
fn choose_triggers(term_count: usize, phrases: &[PhraseTerms]) -> Lists {
    let mut uses = vec![0u32; term_count];
    for &t in phrases.iter().flat_map(|p| p.slots.iter().flatten()) {
        uses[t as usize] += 1;
    }
    let mut woken = vec![Vec::new(); term_count];
    for (p, phrase) in phrases.iter().enumerate() {
        let trigger = phrase
            .slots
            .iter()
            .min_by_key(|slot| slot.iter().map(|&t| u64::from(uses[t as usize])).sum::<u64>())
            .expect("a phrase has at least one slot");
        for &t in trigger {
            if woken[t as usize].last() != Some(&(p as u32)) {
                woken[t as usize].push(p as u32);
            }
        }
    }
    let mut triggers = Lists::default();
    for list in woken {
        triggers.push(list);
    }
    triggers
}

/// The phrases with their slots laid out back to back: (phrases, slots, per slot the gap before it).
fn lay_out_phrases(built: Vec<PhraseTerms>) -> (Vec<Phrase>, Lists, Vec<u8>) {
    let mut slots = Lists::default();
    let mut slot_gaps = Vec::new();
    let phrases = built
        .into_iter()
        .map(|phrase| {
            let first_slot = slot_gaps.len() as u32;
            for (i, slot) in phrase.slots.into_iter().enumerate() {
                slots.push(slot);
                slot_gaps.push(if i == 0 { 0 } else { phrase.gaps[i - 1] });
            }
            let slot_count = slot_gaps.len() as u32 - first_slot;
            Phrase { first_slot, slot_count, unordered: phrase.unordered, rule: phrase.rule }
        })
        .collect();
    (phrases, slots, slot_gaps)
}

/// Stems one word with the Russian Snowball stemmer.
pub(crate) fn stem(stemmer: &Stemmer, word: &str) -> String {
    stemmer.stem(word).into_owned()
}

impl Engine {
    /// Compiles the rules, indexed by their position in `rules`.
    pub fn build(rules: &[RuleSpecs], mode: InflectionMode) -> Result<Engine, String> {
        let stemmer = Stemmer::create(Algorithm::Russian);
        let mut interned = TermTable::default();
        let mut built = Vec::new();
        let mut regexes = Vec::new();
        let mut regex_rule = Vec::new();
        for (rule, specs) in rules.iter().enumerate() {
            for spec in &specs.phrases {
                let slots = spec
                    .slots
                    .iter()
                    .map(|slot| slot.iter().map(|t| interned.id(&stemmer, t.kind, &t.text)).collect())
                    .collect();
                built.push(PhraseTerms {
                    slots,
                    gaps: spec.gaps.clone(),
                    unordered: spec.unordered,
                    rule: rule as u32,
                });
            }
            regexes.extend(specs.regexes.iter().cloned());
            regex_rule.extend(specs.regexes.iter().map(|_| rule as u32));
        }
        let terms = interned.terms;
        let trie = Trie::build(&trie_keys(&terms))?;
        let triggers = choose_triggers(terms.len(), &built);
        let (phrases, slots, slot_gaps) = lay_out_phrases(built);
        let regex_set =
            RegexSet::new(regexes.iter().map(|r| r.as_str())).map_err(|e| format!("building the regex set: {e}"))?;
        let mut endings: Vec<u128> = ENDINGS.iter().filter_map(|e| pack_ending(e)).collect();
        endings.sort_unstable();
        endings.dedup();
        Ok(Engine {
            trie,
            kinds: terms.iter().map(|t| t.kind).collect(),
            terms,
            triggers,
            phrases,
            slots,
            slot_gaps,
            regex_set,
            regexes,
            regex_rule,
            rule_count: rules.len(),
            endings,
            stemmer,
            mode,
        })
    }

    /// The distinct words and stems the rules look for.
    pub fn term_keys(&self) -> impl Iterator<Item = &str> + '_ {
        let mut seen = std::collections::HashSet::new();
        self.terms.iter().map(|t| t.key.as_str()).filter(move |k| seen.insert(*k))
    }

    /// Rough heap size of the compiled matcher, in bytes.
    pub fn memory_usage(&self) -> usize {
        let terms: usize = self.terms.iter().map(|t| t.key.len() + std::mem::size_of::<Term>()).sum();
        let lists = self.triggers.memory_usage() + self.slots.memory_usage() + self.slot_gaps.len();
        let phrases = self.phrases.len() * std::mem::size_of::<Phrase>();
        // The regex crate does not report its size; its lazy DFA caches are bounded per regex
        // (a few hundred KB at most each) and our rules hold a handful.
        let regex = self.regexes.iter().map(|r| r.as_str().len() * 64).sum::<usize>() * 2;
        self.trie.memory_usage() + terms + self.kinds.len() + lists + phrases + regex
    }

    /// Whether term `term`, found as a prefix of `token` ending at byte `end`, matches the token.
    #[inline]
    fn term_matches(&self, term: u32, token: &str, end: usize) -> bool {
        match self.kinds[term as usize] {
            TermKind::Prefix => true,
            TermKind::Exact => end == token.len(),
            TermKind::Inflected => {
                let rest = &token[end..];
                // No ending in the list is longer than five letters.
                let by_endings = || pack_ending(rest).is_some_and(|k| self.endings.binary_search(&k).is_ok());
                let by_stem = || self.stemmer.stem(token) == self.terms[term as usize].key.as_str();
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
    #[cfg(test)]
    pub fn scan(&self, norm: &Normalized) -> Vec<Fired> {
        let mut scratch = ScanScratch::default();
        self.scan_into(norm, &mut scratch);
        scratch.fired().map(|f| Fired { rule: f.rule, spans: f.spans.to_vec() }).collect()
    }

    /// [`Engine::scan`] into reusable buffers; read the result with [`ScanScratch::fired`].
    pub fn scan_into(&self, norm: &Normalized, s: &mut ScanScratch) {
        let text = norm.text.as_str();
        let hits = &mut s.hits;
        hits.clear();
        for (tok, t) in norm.tokens.iter().enumerate() {
            let token = &text[t.start as usize..t.end as usize];
            self.trie.walk(token, |terms, end| {
                for &term in terms {
                    if self.term_matches(term, token, end) {
                        hits.push(u64::from(term) << 32 | tok as u64);
                    }
                }
            });
        }
        hits.sort_unstable();
        hits.dedup();

        let spans_by_rule = &mut s.spans_by_rule;
        spans_by_rule.clear();
        if !hits.is_empty() {
            // Which terms were hit at all, and where each one's hits start: a phrase is ruled
            // out by bit tests before any position list is built (most phrases woken by a
            // common word such as «в» lack their other slots).
            let present = &mut s.present;
            present.clear();
            present.resize(self.terms.len().div_ceil(64), 0);
            s.first_hit.resize(self.terms.len(), 0);
            let mut last_term = u32::MAX;
            for (i, t) in hits.iter().map(|&h| hit_term(h)).enumerate() {
                if t != last_term {
                    last_term = t;
                    present[t as usize / 64] |= 1 << (t % 64);
                    s.first_hit[t as usize] = i as u32;
                }
            }
            let index = HitIndex { hits, present, first_hit: &s.first_hit };
            let seen = &mut s.seen;
            seen.clear();
            seen.resize(self.phrases.len().div_ceil(64), 0);
            let mut last_term = u32::MAX;
            for t in hits.iter().map(|&h| hit_term(h)) {
                if t == last_term {
                    continue;
                }
                last_term = t;
                for &p in self.triggers.get(t as usize) {
                    let (w, b) = (p as usize / 64, p as usize % 64);
                    if seen[w] & (1 << b) != 0 {
                        continue;
                    }
                    seen[w] |= 1 << b;
                    self.phrase_matches(self.phrases[p as usize], &index, &mut s.positions, spans_by_rule);
                }
            }
        }
        if !self.regexes.is_empty() {
            for i in self.regex_set.matches(text).iter() {
                for m in self.regexes[i].find_iter(text) {
                    let first = norm.token_at(m.start()).or_else(|| norm.token_at(m.start() + 1));
                    let last =
                        norm.token_at(m.end().saturating_sub(1)).or_else(|| norm.token_at(m.end().saturating_sub(2)));
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
        s.spans.clear();
        s.fired.clear();
        for &(rule, span) in spans_by_rule.iter() {
            let at = s.spans.len() as u32;
            s.spans.push(span);
            match s.fired.last_mut() {
                Some(f) if f.0 == rule => f.2 = at + 1,
                _ => s.fired.push((rule, at, at + 1)),
            }
        }
        debug_assert!(s.fired.iter().all(|f| (f.0 as usize) < self.rule_count));
    }
}

/// The term of a packed hit (see [`ScanScratch::hits`]).
#[inline]
fn hit_term(hit: u64) -> u32 {
    (hit >> 32) as u32
}

/// A post's (term, token) hits sorted by term, with which terms were hit and where each term's
/// hits start.
struct HitIndex<'a> {
    hits: &'a [u64],
    present: &'a [u64],
    first_hit: &'a [u32],
}

impl HitIndex<'_> {
    #[inline]
    fn has(&self, t: u32) -> bool {
        self.present[t as usize / 64] & (1 << (t % 64)) != 0
    }

    /// The tokens where term `t` was hit, in order.
    #[inline]
    fn tokens(&self, t: u32) -> impl Iterator<Item = u32> + '_ {
        let from = if self.has(t) { self.first_hit[t as usize] as usize } else { self.hits.len() };
        self.hits[from..].iter().take_while(move |&&h| hit_term(h) == t).map(|&h| h as u32)
    }
}

impl Engine {
    /// Appends every span where `phrase` matches (one per start position) to `out`, tagged with
    /// the phrase's rule. `scratch` holds position lists between calls so that a post allocates
    /// once.
    fn phrase_matches(
        &self,
        phrase: Phrase,
        hits: &HitIndex<'_>,
        scratch: &mut Vec<Vec<u32>>,
        out: &mut Vec<(u32, (u32, u32))>,
    ) {
        let rule = phrase.rule;
        let slots = phrase.slots();
        // Most phrases are one word: no position lists to build.
        if let [t] = self.slots.get(slots.start) {
            if slots.len() == 1 {
                out.extend(hits.tokens(*t).map(|tok| (rule, (tok, tok))));
                return;
            }
        }
        if !slots.clone().all(|slot| self.slots.get(slot).iter().any(|&t| hits.has(t))) {
            return;
        }
        if scratch.len() < slots.len() {
            scratch.resize_with(slots.len(), Vec::new);
        }
        for (slot, positions) in slots.clone().zip(scratch.iter_mut()) {
            let terms = self.slots.get(slot);
            positions.clear();
            for &t in terms {
                positions.extend(hits.tokens(t));
            }
            if terms.len() > 1 {
                positions.sort_unstable();
                positions.dedup();
            }
            if positions.is_empty() {
                return;
            }
        }
        let positions = &scratch[..slots.len()];
        let gaps = &self.slot_gaps[slots];
        if positions.len() == 1 {
            out.extend(positions[0].iter().map(|&p| (rule, (p, p))));
            return;
        }
        if phrase.unordered {
            let gap = gaps[1] as u32 + 1;
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
            for (next, &gap) in positions.iter().zip(gaps).skip(1) {
                let limit = at + gap as u32 + 1;
                let from = next.partition_point(|&p| p <= at);
                match next.get(from) {
                    Some(&p) if p <= limit => at = p,
                    _ => continue 'start,
                }
            }
            out.push((rule, (first, at)));
        }
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
    fn a_hard_sign_in_a_rule_matches_a_soft_sign_in_a_post() {
        let e = engine(&[&["подъезд*"], &["=объявление"]], InflectionMode::Endings);
        assert_eq!(fired(&e, "в подьезде грязно"), [0]);
        assert_eq!(fired(&e, "в ПОДЪЕЗДЕ грязно"), [0]);
        assert_eq!(fired(&e, "обьявление"), [1]);
    }

    #[test]
    fn the_trie_finds_every_key_that_starts_a_token_shortest_first() {
        // Shared prefixes, a node with many children, characters outside the fast alphabet.
        let keys = ["а", "ав", "авт", "автобус", "аб", "ак", "ам", "бв", "ёж", "x1", "12/3", "ї", "zz-a", "ab"];
        let entries: Vec<(String, Vec<u32>)> =
            keys.iter().enumerate().map(|(i, k)| (k.to_string(), vec![i as u32, 100 + i as u32])).collect();
        let trie = Trie::build(&entries).unwrap();
        for token in ["автобусы", "ав", "бвг", "ёжик", "x1", "12/3", "її", "zz-ab", "abc", "а", "в", "б", "ам", "e"]
        {
            let mut got = Vec::new();
            trie.walk(token, |terms, end| got.extend(terms.iter().map(|&t| (t, end))));
            let mut want: Vec<(u32, usize)> = keys
                .iter()
                .enumerate()
                .filter(|(_, k)| token.starts_with(*k))
                .flat_map(|(i, k)| [(i as u32, k.len()), (100 + i as u32, k.len())])
                .collect();
            want.sort_by_key(|&(t, end)| (end, t));
            assert_eq!(got, want, "{token}");
        }
    }

    #[test]
    fn snowball_mode_also_matches() {
        let e = engine(&[&["отопление"]], InflectionMode::Snowball);
        assert_eq!(fired(&e, "без отопления"), [0]);
    }
}
