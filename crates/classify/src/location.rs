//! The object, not the place: nouns named as the place where something is seen.
//!
//! «Грязные стены у лифта» is about the walls; the lift is where they are. A prepositional phrase
//! of place — у, возле, около, рядом с, перед, над, под, за, напротив… + a noun (the cases those
//! prepositions take), or a frame such as «в кабине», «на площадке» + the noun it governs — marks
//! its noun as a *location*. A topic rule whose every match lies on locations says where, not
//! what: it counts only for a topic with evidence of its own (see `Classifier::run`).
//!
//! Only the noun group right after the preposition is marked: one token, or two when the first
//! is an adjective or a number («у старого лифта», «возле 3 подъезда»).

use crate::normalize::Normalized;

/// Prepositions of place that take the genitive («у лифта», «возле старой батареи»). «в» and «на»
/// say where far more often than they name a place of a problem («нет воды в доме», «яма на
/// дороге»), so they mark a location only through a frame below; «за» governs an object as often
/// as a place («ухаживать за деревьями», «платим за отопление»).
const GENITIVE: &[&str] =
    &["у", "возле", "около", "напротив", "вдоль", "вокруг", "позади", "близ", "подле", "сбоку", "мимо", "посреди"];

/// Prepositions of place that take the instrumental («под лестницей», «рядом с лифтом»).
const INSTRUMENTAL: &[&str] = &["под", "над", "перед", "рядом", "между"];

/// Nouns of a part of a place, which with «в» or «на» frame the noun after them («в кабине
/// лифта», «в холле поликлиники»): the noun in the genitive is a place. The frame itself may be
/// the object («на лестнице отвалилась плитка»), so it stays unmarked.
const FRAMES: &[&str] = &["кабине", "кабинах", "холле", "тамбуре", "крыльце", "углу"];

/// Endings of adjectives and ordinal words that may stand between a preposition and its noun,
/// by the case the preposition takes. A noun never ends so in that case, while «-ой», «-ей»
/// end instrumental nouns («под лестницей») and «-ом» genitive ones never: the punctuation that
/// would tell «рядом с селом, вонь» apart is gone, so only unambiguous endings extend the group.
const GENITIVE_ADJECTIVE: &[&str] = &["ого", "его", "ой", "ей", "ых", "их"];
const INSTRUMENTAL_ADJECTIVE: &[&str] = &["ым", "им", "ыми", "ими"];

/// Marks in `out` (one flag per token of `norm`) the tokens read as locations.
pub(crate) fn mark(norm: &Normalized, out: &mut Vec<bool>) {
    let n = norm.tokens.len();
    out.clear();
    out.resize(n, false);
    let word = |i: usize| (i < n).then(|| norm.token(i));
    for i in 0..n {
        let w = norm.token(i);
        let group = if GENITIVE.contains(&w) {
            Some((i + 1, GENITIVE_ADJECTIVE))
        } else if INSTRUMENTAL.contains(&w) {
            // «рядом с лифтом», «между домами»: the noun follows the «с».
            Some((if word(i + 1) == Some("с") { i + 2 } else { i + 1 }, INSTRUMENTAL_ADJECTIVE))
        } else if (w == "в" || w == "на") && word(i + 1).is_some_and(|f| FRAMES.contains(&f)) {
            Some((i + 2, GENITIVE_ADJECTIVE))
        } else {
            None
        };
        let Some((at, endings)) = group else { continue };
        let Some(first) = word(at) else { continue };
        out[at] = true;
        let extends = is_modifier(first, endings)
            || (endings == INSTRUMENTAL_ADJECTIVE && word(at + 1).is_some_and(|next| feminine_pair(first, next)));
        if extends && at + 1 < n {
            out[at + 1] = true;
        }
    }
}

/// «детской площадкой», «старой лестницей»: a feminine adjective and its noun, both in the
/// instrumental. Either word alone may be a noun («под лестницей»); two such words in a row are
/// an adjective and its noun.
fn feminine_pair(first: &str, next: &str) -> bool {
    let instrumental = |w: &str| ["ой", "ей"].iter().any(|e| w.ends_with(e)) && w.chars().count() > 4;
    instrumental(first) && (instrumental(next) || next.ends_with("ью"))
}

/// A number or an adjective in the case the preposition takes: the noun is the next token.
fn is_modifier(word: &str, endings: &[&str]) -> bool {
    word.bytes().all(|b| b.is_ascii_digit())
        || endings.iter().any(|e| word.ends_with(e) && word.chars().count() > e.chars().count() + 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn places(text: &str) -> Vec<String> {
        let n = normalize(text);
        let mut out = Vec::new();
        mark(&n, &mut out);
        (0..n.tokens.len()).filter(|&i| out[i]).map(|i| n.token(i).to_owned()).collect()
    }

    #[test]
    fn a_prepositional_phrase_of_place_marks_its_noun() {
        assert_eq!(places("Грязные стены у лифта"), ["лифта"]);
        assert_eq!(places("рядом с лифтом разбито окно"), ["лифтом"]);
        assert_eq!(places("возле старого лифта лужа"), ["старого", "лифта"]);
        assert_eq!(places("мусор перед 3 подъездом"), ["3", "подьездом"]);
        assert_eq!(places("у газовой трубы сломана скамейка"), ["газовой", "трубы"]);
        assert_eq!(places("рядом с селом вонь"), ["селом"]);
        assert_eq!(places("под лестницей грязь"), ["лестницей"]);
        assert_eq!(places("кран над детской площадкой"), ["детской", "площадкой"]);
        assert_eq!(places("под старой лестницей мусор"), ["старой", "лестницей"]);
        assert_eq!(places("в кабине лифта исписаны стены"), ["лифта"]);
        assert_eq!(places("на площадке у лифта грязно"), ["лифта"]);
    }

    #[test]
    fn the_object_itself_is_no_place() {
        assert!(places("лифт не работает третий день").is_empty());
        assert!(places("холодные батареи в квартире").is_empty());
        assert!(places("яма на дороге").is_empty());
    }
}
