//! The pattern language of topic rules.
//!
//! A pattern is a phrase: one or more *slots* separated by spaces. Each slot is one token of the
//! normalised post and lists alternatives with `|`. An alternative is a *term*:
//!
//! | term | matches a token that… | example |
//! |---|---|---|
//! | `word` | is `word` in any inflected form (Snowball stem of `word` + a Russian ending) | `батарея` |
//! | `pref*` | starts with `pref` | `отопит*` |
//! | `=word` | is exactly `word` | `=нет` |
//!
//! Between two slots an optional gap operator allows other tokens in between:
//! `~N` — the next slot follows within N intervening tokens, in order (`нет ~3 отопление`);
//! `~~N` — either order (`батарея ~~4 холодный`, two-slot patterns only). Without an operator the
//! slots are adjacent.
//!
//! Terms are written in lower case, with «е» for «ё» — the same form the normaliser produces.

use std::fmt;

/// How a term compares with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TermKind {
    /// Snowball stem + an inflectional ending.
    Inflected,
    /// Any token starting with the text.
    Prefix,
    /// Exactly the text.
    Exact,
}

/// One alternative of a slot, before stemming.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TermSpec {
    pub kind: TermKind,
    /// The word as written (without `*` or `=`).
    pub text: String,
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseSpec {
    pub slots: Vec<Vec<TermSpec>>,
    /// `gaps[i]` is the most tokens allowed between slot `i` and slot `i + 1`.
    pub gaps: Vec<u8>,
    /// Whether the two slots may come in either order.
    pub unordered: bool,
}

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest gap a pattern may ask for: a phrase spread wider than a sentence is not a phrase.
pub const MAX_GAP: u8 = 12;

/// Parses one pattern (see the module docs).
pub fn parse(pattern: &str) -> Result<PhraseSpec, PatternError> {
    let err = |m: String| Err(PatternError(m));
    let mut slots: Vec<Vec<TermSpec>> = Vec::new();
    let mut gaps = Vec::new();
    let mut pending_gap: Option<(u8, bool)> = None;
    let mut unordered = false;
    for part in pattern.split_whitespace() {
        if let Some(rest) = part.strip_prefix('~') {
            let (n, either) = match rest.strip_prefix('~') {
                Some(n) => (n, true),
                None => (rest, false),
            };
            let Ok(n) = n.parse::<u8>() else {
                return err(format!("gap operator {part:?} needs a number: ~3 or ~~3"));
            };
            if n > MAX_GAP {
                return err(format!("gap {n} in {part:?} is larger than {MAX_GAP}"));
            }
            if slots.is_empty() || pending_gap.is_some() {
                return err(format!("gap operator {part:?} must stand between two words"));
            }
            pending_gap = Some((n, either));
            continue;
        }
        if !slots.is_empty() {
            let (gap, either) = pending_gap.take().unwrap_or((0, false));
            unordered |= either;
            gaps.push(gap);
        }
        let mut slot = Vec::new();
        for alt in part.split('|') {
            slot.push(parse_term(alt, part)?);
        }
        slots.push(slot);
    }
    if pending_gap.is_some() {
        return err("a pattern cannot end with a gap operator".into());
    }
    if slots.is_empty() {
        return err("empty pattern".into());
    }
    if unordered && slots.len() != 2 {
        return err("the either-order operator ~~N is allowed only between exactly two words".into());
    }
    Ok(PhraseSpec { slots, gaps, unordered })
}

fn parse_term(alt: &str, part: &str) -> Result<TermSpec, PatternError> {
    let (kind, text) = if let Some(t) = alt.strip_prefix('=') {
        (TermKind::Exact, t)
    } else if let Some(t) = alt.strip_suffix('*') {
        (TermKind::Prefix, t)
    } else {
        (TermKind::Inflected, alt)
    };
    if text.is_empty() {
        return Err(PatternError(format!("empty alternative in {part:?}")));
    }
    if let Some(c) = text.chars().find(|&c| !(c.is_alphanumeric() || c == '-' || c == '/')) {
        return Err(PatternError(format!(
            "{c:?} in {alt:?}: terms are letters, digits, '-' and '/' (operators: | * = ~N ~~N)"
        )));
    }
    if text.chars().any(|c| c.is_uppercase() || c == 'ё') {
        return Err(PatternError(format!(
            "{alt:?}: write terms in lower case with «е» for «ё», as the normaliser does"
        )));
    }
    if kind == TermKind::Prefix && text.chars().count() < 3 {
        return Err(PatternError(format!("prefix {alt:?} is shorter than 3 letters and would match too much")));
    }
    Ok(TermSpec { kind, text: text.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_slots_alternatives_and_gaps() {
        let p = parse("=нет ~3 отопление|батаре*").unwrap();
        assert_eq!(p.slots.len(), 2);
        assert_eq!(p.gaps, [3]);
        assert!(!p.unordered);
        assert_eq!(p.slots[0][0], TermSpec { kind: TermKind::Exact, text: "нет".into() });
        assert_eq!(p.slots[1][1], TermSpec { kind: TermKind::Prefix, text: "батаре".into() });
        let p = parse("горячий вода").unwrap();
        assert_eq!(p.gaps, [0]);
        assert!(parse("батарея ~~4 холодный").unwrap().unordered);
    }

    #[test]
    fn rejects_malformed_patterns() {
        for bad in [
            "",
            "~3 вода",
            "вода ~3",
            "вода ~x газ",
            "вода ~99 газ",
            "а ~~2 б ~1 в",
            "во*да",
            "Вода",
            "ёлка",
            "|вода",
            "в*",
            "вода ~1 ~2 газ",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
