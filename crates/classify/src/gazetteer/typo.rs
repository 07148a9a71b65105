//! One-letter typos of the home region's names («Кузнецкк», «белинскии район», «в Мокщане»).
//!
//! A typo is believed only where the context says a place is meant (see `resolve`); this module
//! only finds, for a word the automaton did not match, the single name form one edit away
//! (a letter left out, added, replaced, or two neighbours swapped). The index is a symmetric-delete
//! one: every qualifying form and each of its one-letter deletions point to the form's pattern, so
//! a word is looked up with itself and its own deletions, and each hit is checked for distance 1.

use super::{Gazetteer, Meaning, PlaceClass, Strength};
// A post looks up each word after a preposition with every one-letter deletion of it: a fast
// hash over short keys matters here, and the keys are the gazetteer's own, not an attacker's.
use rustc_hash::FxHashMap as HashMap;

/// Shorter forms are one edit away from too many everyday words.
const MIN_FORM_LEN: usize = 5;
/// A word shorter than this is never read as a typo.
pub(crate) const MIN_WORD_LEN: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct TypoIndex {
    /// A form or a deletion of it (encoded, without the leading space) → pattern ids.
    variants: HashMap<Vec<u8>, Vec<u32>>,
}

impl TypoIndex {
    /// Indexes the single-word forms of the home region's towns and district centres (strong names),
    /// district adjectives and city adjectives.
    pub(crate) fn build(g: &Gazetteer) -> TypoIndex {
        let mut variants: HashMap<Vec<u8>, Vec<u32>> = HashMap::default();
        for (pattern, key) in g.keys.iter().enumerate() {
            let word = &key[1..];
            if word.len() < MIN_FORM_LEN || !word.iter().all(|&b| b >= 0xC0) || !home_name(g, pattern) {
                continue;
            }
            for v in std::iter::once(word.to_vec()).chain(deletions(word)) {
                let ids = variants.entry(v).or_default();
                if !ids.contains(&(pattern as u32)) {
                    ids.push(pattern as u32);
                }
            }
        }
        TypoIndex { variants }
    }

    /// A pattern exactly one edit away from `word` (encoded letters), when every such pattern
    /// names the same municipalities («кузнецкк»: «кузнецк» and «кузнецке» are both the town).
    pub(crate) fn lookup(&self, g: &Gazetteer, word: &[u8]) -> Option<usize> {
        if word.len() < MIN_WORD_LEN || self.variants.is_empty() {
            return None;
        }
        let mut found: Option<(usize, Vec<u32>)> = None;
        // The word, then each of its deletions, built in one buffer.
        let mut variant = Vec::with_capacity(word.len());
        for deleted in std::iter::once(None).chain((0..word.len()).map(Some)) {
            variant.clear();
            match deleted {
                None => variant.extend_from_slice(word),
                Some(i) => {
                    variant.extend_from_slice(&word[..i]);
                    variant.extend_from_slice(&word[i + 1..]);
                }
            }
            for &p in self.variants.get(variant.as_slice()).into_iter().flatten() {
                let p = p as usize;
                if found.as_ref().is_some_and(|f| f.0 == p) || !one_edit(word, &g.keys[p][1..]) {
                    continue;
                }
                let munis = munis(g, p);
                match &found {
                    None => found = Some((p, munis)),
                    Some((_, m)) if *m == munis => {}
                    Some(_) => return None, // names of two places one letter away: no way to tell
                }
            }
        }
        found.map(|f| f.0)
    }
}

/// The municipalities a pattern's meanings name, sorted.
fn munis(g: &Gazetteer, pattern: usize) -> Vec<u32> {
    let mut out: Vec<u32> = g
        .meanings_of(pattern)
        .iter()
        .filter_map(|m| match *m {
            Meaning::DistrictAdj { muni } | Meaning::CityAdj { muni } => Some(muni),
            Meaning::Place { place, .. } => Some(g.places[place as usize].muni),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn home_name(g: &Gazetteer, pattern: usize) -> bool {
    g.meanings_of(pattern).iter().any(|m| match *m {
        Meaning::DistrictAdj { muni } | Meaning::CityAdj { muni } => g.region_of(muni) == g.home,
        Meaning::Place { place, .. } => {
            let p = &g.places[place as usize];
            // Villages are many and their names short: one letter from a village is too often
            // another word («в Ломове» is not «в Ломовке»). Towns and district centres only.
            let strong =
                p.strength == Strength::Strong || p.strength == Strength::Person && p.class == PlaceClass::Town;
            strong && p.salient && g.region_of(p.muni) == g.home
        }
        _ => false,
    })
}

fn deletions(word: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..word.len()).map(move |i| [&word[..i], &word[i + 1..]].concat())
}

/// Exactly one insertion, deletion, substitution or swap of neighbours apart.
fn one_edit(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return false;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    match long.len() - short.len() {
        0 => {
            let (sa, sb) = (&a[prefix + 1..], &b[prefix + 1..]);
            let swapped = prefix + 1 < a.len()
                && a[prefix] == b[prefix + 1]
                && a[prefix + 1] == b[prefix]
                && a[prefix + 2..] == b[prefix + 2..];
            sa == sb || swapped
        }
        1 => short[prefix..] == long[prefix + 1..],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::one_edit;

    #[test]
    fn one_edit_apart() {
        assert!(one_edit(b"abcde", b"abxde"));
        assert!(one_edit(b"abcde", b"abde"));
        assert!(one_edit(b"abcde", b"abcdef"));
        assert!(one_edit(b"abcde", b"abdce"));
        assert!(!one_edit(b"abcde", b"abcde"));
        assert!(!one_edit(b"abcde", b"axcdy"));
        assert!(!one_edit(b"abcde", b"abc"));
    }
}
