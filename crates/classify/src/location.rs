//! Words that say where, not what, and the per-token lexicon of function words that this
//! module's marks and [`cause`](crate::cause)'s read.
//!
//! **Locations.** «Грязные стены у лифта» is about the walls; the lift is where they are. A
//! prepositional phrase of place — у, возле, около, рядом с, перед, над, под, за, напротив… + a
//! noun (the cases those prepositions take), or a frame such as «в кабине», «на площадке» + the
//! noun it governs — marks its noun as a *location*. A topic rule whose every match lies on
//! locations says where, not what: it counts only for a topic with evidence of its own (see
//! `Classifier::run`).
//!
//! Only the noun group right after the preposition is marked: one token, or two when the first
//! is an adjective or a number («у старого лифта», «возле 3 подъезда»). A «у» one or two words
//! after a word of lacking names the owner of what lacks, not a place («нет угла у козырька»).
//!
//! **Names.** «ул. Школьная», «на Лиственной улице», «остановка Больничная», «проспект
//! Строителей»: a street's, a square's or a stop's name is an address, whatever its words mean
//! elsewhere. Its words are marked as a *name*, and a topic rule's match that starts or ends on
//! a name (a phrase's first or last term matched by it) does not count at all. A name is the word after an abbreviation that only ever stands before
//! one («ул.», «пр-т», «пер.»), in any case; or a word written as a name is (a capital, then lower
//! case, not first in its sentence) right after the kind of place it names («улица», «остановка»)
//! or right before it («Садовая улица»). A predicate in lower case stays a word: «улица грязная»,
//! «на тёмной улице».

use crate::cause::{self, past_form, CAUSE_PREPOSITIONS, CLAUSE_OPENERS, TIME_PREPOSITIONS};
use crate::normalize::{Normalized, NAME_ABBREVIATIONS};
use crate::region::CONTRASTS;
use std::sync::LazyLock;

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
pub(crate) const GENITIVE_ADJECTIVE: &[&str] = &["ого", "его", "ой", "ей", "ых", "их"];
const INSTRUMENTAL_ADJECTIVE: &[&str] = &["ым", "им", "ыми", "ими"];

/// What a token is besides a word of the post's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Role {
    #[default]
    Word,
    /// The noun of a phrase of place.
    Location,
    /// A word of a street's, a square's or a stop's name.
    Name,
    /// A word of an event named as the cause of the problem («после ремонта теплотрассы»).
    Cause,
}

/// Stems of the kinds of place that stand before their name («улица Садовая», «на остановке
/// Больничная») or after it («Садовая улица»); whole forms where a stem would catch other words
/// («площадка», «аллергия»).
const PLACE_KIND_STEMS: &[&str] =
    &["улиц", "переул", "проспект", "бульвар", "проезд", "набережн", "тупик", "микрорайон"];
const PLACE_KIND_FORMS: &[&str] = &["шоссе", "площадь", "площади", "площадью", "аллея", "аллеи", "аллее", "аллею"];
/// Stops are named after the word only («остановка Садовая»).
const STOP_STEMS: &[&str] = &["остановк", "станци"];

/// The most titled words read into one name besides the first after its kind («улица Верхняя
/// Луговая»), or before its kind («на Верхней Луговой улице»).
const MAX_NAME_TAIL: usize = 2;

/// What a word can do in this module's marks, as bits; most words do nothing. One lookup per
/// token replaces the dozens of comparisons against the word lists that each mark would make.
pub(crate) type Kinds = u16;
const GENITIVE_PREPOSITION: Kinds = 1;
const INSTRUMENTAL_PREPOSITION: Kinds = 1 << 1;
/// «в», «на», which frame a place with a noun such as «кабине».
const FRAMING_PREPOSITION: Kinds = 1 << 2;
const NAME_ABBREVIATION: Kinds = 1 << 3;
/// The first word of a clause opener or of a preposition of time or cause.
pub(crate) const OPENS: Kinds = 1 << 4;
pub(crate) const CONTRAST: Kinds = 1 << 5;

/// Ends as a verb in the past does (see [`past_form`]).
pub(crate) const PAST: Kinds = 1 << 6;

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut lexicon = Lexicon::default();
    lexicon.add(GENITIVE, GENITIVE_PREPOSITION);
    lexicon.add(INSTRUMENTAL, INSTRUMENTAL_PREPOSITION);
    lexicon.add(&["в", "на"], FRAMING_PREPOSITION);
    lexicon.add(NAME_ABBREVIATIONS, NAME_ABBREVIATION);
    for phrase in CLAUSE_OPENERS.iter().chain(TIME_PREPOSITIONS).chain(CAUSE_PREPOSITIONS) {
        lexicon.add(&phrase[..1], OPENS);
    }
    lexicon.add(CONTRASTS, CONTRAST);
    lexicon
});

/// The function words of this module's lists and their kinds, in an open-addressing table
/// keyed by a word's length and two of its bytes: nearly every word of a post lands on an empty
/// slot or on one of another length, and is told apart without hashing it or comparing text.
struct Lexicon {
    slots: Vec<(&'static str, Kinds)>,
}

impl Default for Lexicon {
    fn default() -> Lexicon {
        Lexicon { slots: vec![("", 0); LEXICON_SLOTS] }
    }
}

/// A power of two, several times the number of words, so that probes are short.
const LEXICON_SLOTS: usize = 512;

impl Lexicon {
    fn slot(word: &str) -> usize {
        let b = word.as_bytes();
        let (first, last) = (b.get(1).copied().unwrap_or(0) as usize, b.last().copied().unwrap_or(0) as usize);
        (b.len().wrapping_mul(61) ^ first.wrapping_mul(31) ^ last.wrapping_mul(7)) & (LEXICON_SLOTS - 1)
    }

    fn add(&mut self, words: &[&'static str], kind: Kinds) {
        for &word in words {
            let mut at = Self::slot(word);
            loop {
                let slot = &mut self.slots[at];
                if slot.0.is_empty() || slot.0 == word {
                    *slot = (word, slot.1 | kind);
                    break;
                }
                at = (at + 1) & (LEXICON_SLOTS - 1);
            }
        }
    }

    fn kinds(&self, word: &str) -> Kinds {
        let mut at = Self::slot(word);
        loop {
            let (w, kinds) = self.slots[at];
            if w.is_empty() {
                return 0;
            }
            if w.len() == word.len() && w == word {
                return kinds;
            }
            at = (at + 1) & (LEXICON_SLOTS - 1);
        }
    }
}

/// Marks in `out` (one role per token of `norm`) the tokens read as locations, causes or names;
/// `kinds` is a reused buffer.
pub(crate) fn mark(norm: &Normalized, out: &mut Vec<Role>, kinds: &mut Vec<Kinds>) {
    let lexicon = &*LEXICON;
    kinds.clear();
    kinds.extend((0..norm.tokens.len()).map(|t| {
        let w = norm.token(t);
        lexicon.kinds(w) | if past_form(w) { PAST } else { 0 }
    }));
    mark_locations(norm, kinds, out);
    cause::mark(norm, kinds, out);
    mark_names(norm, kinds, out);
}

fn is_place_kind(word: &str) -> bool {
    PLACE_KIND_STEMS.iter().any(|s| word.starts_with(s)) || PLACE_KIND_FORMS.contains(&word)
}

/// Marks street, square and stop names (see the module docs).
fn mark_names(norm: &Normalized, kinds: &[Kinds], out: &mut [Role]) {
    let n = norm.tokens.len();
    let titled = |i: usize| i < n && norm.titled[i];
    // Marks the name starting at token `at`: its first word, and the titled words after it.
    let name_from = |at: usize, out: &mut [Role]| {
        out[at] = Role::Name;
        for t in (at + 1..n).take(MAX_NAME_TAIL).take_while(|&t| titled(t)) {
            out[t] = Role::Name;
        }
    };
    // Marks the titled words right before token `kind`, «на Верхней Луговой улице».
    let name_before = |kind: usize, out: &mut [Role]| {
        for t in (kind.saturating_sub(MAX_NAME_TAIL)..kind).rev().take_while(|&t| titled(t)) {
            out[t] = Role::Name;
        }
    };
    for (i, &kind) in kinds.iter().enumerate() {
        let w = norm.token(i);
        if kind & NAME_ABBREVIATION != 0 {
            // After a titled name («Плесецкой ул. от …») the abbreviation closes it; else a name
            // follows, titled or not («ул. садовая»).
            let closes = i > 0 && titled(i - 1);
            if closes {
                name_before(i, out);
            }
            if i + 1 < n && (titled(i + 1) || !closes) {
                name_from(i + 1, out);
            }
            continue;
        }
        // Titled words are few: most tokens are no kind next to one, and need no look.
        let (before, after) = (i > 0 && titled(i - 1), titled(i + 1));
        if !(before || after) {
            continue;
        }
        let kind = is_place_kind(w);
        if after && (kind || STOP_STEMS.iter().any(|s| w.starts_with(s))) {
            name_from(i + 1, out);
        }
        // «на Медицинской в Заречном», «по Школьной, 5»: a street's adjective with its «улица»
        // left out, when no noun of its own follows it.
        if after && (w == "на" || w == "по") && street_without_kind(norm, i + 1) {
            out[i + 1] = Role::Name;
        }
        if before && kind {
            name_before(i, out);
        }
    }
}

/// Words after which a titled adjective stands alone: a preposition, a house («д.», «дом»).
const AFTER_A_STREET: &[&str] = &["в", "во", "у", "около", "возле", "напротив", "рядом", "д", "дом", "между", "и"];

/// Whether the titled token `at` is a street's feminine adjective standing alone («Школьной»):
/// the text ends after it, or a punctuation mark, a number or a preposition follows.
fn street_without_kind(norm: &Normalized, at: usize) -> bool {
    let w = norm.token(at);
    let feminine = (w.ends_with("ой") || w.ends_with("ей")) && w.chars().count() > 4;
    feminine
        && (at + 1 >= norm.tokens.len()
            || norm.paused[at + 1]
            || norm.token(at + 1).starts_with(|c: char| c.is_ascii_digit())
            || AFTER_A_STREET.contains(&norm.token(at + 1)))
}

/// Marks the nouns of phrases of place (see the module docs).
fn mark_locations(norm: &Normalized, kinds: &[Kinds], out: &mut Vec<Role>) {
    let n = norm.tokens.len();
    out.clear();
    out.resize(n, Role::Word);
    let word = |i: usize| (i < n).then(|| norm.token(i));
    for (i, &kind) in kinds.iter().enumerate() {
        if kind & (GENITIVE_PREPOSITION | INSTRUMENTAL_PREPOSITION | FRAMING_PREPOSITION) == 0 {
            continue;
        }
        let group = if kind & GENITIVE_PREPOSITION != 0 {
            Some((i + 1, GENITIVE_ADJECTIVE))
        } else if kind & INSTRUMENTAL_PREPOSITION != 0 {
            // «рядом с лифтом», «между домами»: the noun follows the «с».
            Some((if word(i + 1) == Some("с") { i + 2 } else { i + 1 }, INSTRUMENTAL_ADJECTIVE))
        } else if kind & FRAMING_PREPOSITION != 0 && word(i + 1).is_some_and(|f| FRAMES.contains(&f)) {
            Some((i + 2, GENITIVE_ADJECTIVE))
        } else {
            None
        };
        let Some((at, endings)) = group else { continue };
        let Some(first) = word(at) else { continue };
        let extends = is_modifier(first, endings)
            || (endings == INSTRUMENTAL_ADJECTIVE && word(at + 1).is_some_and(|next| feminine_pair(first, next)));
        if norm.token(i) == "у" && possessor(i, word) {
            continue;
        }
        let end = if extends && at + 1 < n { at + 2 } else { at + 1 };
        out[at..end].fill(Role::Location);
    }
}

/// Words of lacking that make a later «у» + noun the owner of what lacks: «нет угла у козырька»,
/// «нет ручки у двери». Said first, «у лифта нет радиатора» is as often «near the lift», so only
/// this order counts.
const LACKING: &[&str] = &["нет", "нету", "отсутствует", "отсутствуют"];

/// Whether the «у» at token `at` says whose («нет угла у козырька»): a word of lacking one or
/// two words before it.
fn possessor<'a>(at: usize, word: impl Fn(usize) -> Option<&'a str>) -> bool {
    let lacking = |i: usize| word(i).is_some_and(|w| LACKING.contains(&w));
    (at >= 1 && lacking(at - 1)) || (at >= 2 && lacking(at - 2))
}

/// «детской площадкой», «старой лестницей»: a feminine adjective and its noun, both in the
/// instrumental. Either word alone may be a noun («под лестницей»); two such words in a row are
/// an adjective and its noun.
fn feminine_pair(first: &str, next: &str) -> bool {
    let instrumental = |w: &str| ["ой", "ей"].iter().any(|e| w.ends_with(e)) && w.chars().count() > 4;
    instrumental(first) && (instrumental(next) || next.ends_with("ью"))
}

/// A number or an adjective in the case the preposition takes: the noun is the next token.
pub(crate) fn is_modifier(word: &str, endings: &[&str]) -> bool {
    word.bytes().all(|b| b.is_ascii_digit())
        || endings.iter().any(|e| word.ends_with(e) && word.chars().count() > e.chars().count() + 2)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::normalize::normalize;

    /// The words of `text` that the marks read as `role`.
    pub(crate) fn marked(text: &str, role: Role) -> Vec<String> {
        let n = normalize(text);
        let mut out = Vec::new();
        mark(&n, &mut out, &mut Vec::new());
        (0..n.tokens.len()).filter(|&i| out[i] == role).map(|i| n.token(i).to_owned()).collect()
    }

    fn places(text: &str) -> Vec<String> {
        marked(text, Role::Location)
    }

    fn names(text: &str) -> Vec<String> {
        marked(text, Role::Name)
    }

    #[test]
    fn the_lexicon_finds_every_listed_word_and_nothing_else() {
        for &w in GENITIVE {
            assert_ne!(LEXICON.kinds(w) & GENITIVE_PREPOSITION, 0, "{w}");
        }
        for &w in NAME_ABBREVIATIONS {
            assert_ne!(LEXICON.kinds(w) & NAME_ABBREVIATION, 0, "{w}");
        }
        // «в» is a framing preposition and the first word of «в ходе», «в результате».
        assert_eq!(LEXICON.kinds("в"), FRAMING_PREPOSITION | OPENS);
        assert_eq!(LEXICON.kinds("однако"), CONTRAST);
        for w in ["", "лифт", "возлее", "ул.", "отопление"] {
            assert_eq!(LEXICON.kinds(w), 0, "{w}");
        }
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
    fn whose_is_no_place() {
        assert!(places("Нет угла у козырька, арматурой закрыли").is_empty());
        assert!(places("отсутствует ручка у старой двери").is_empty());
        assert_eq!(places("у лифта нет радиатора"), ["лифта"]);
        assert_eq!(places("у лифта грязно, а ручки нет"), ["лифта"]);
    }

    #[test]
    fn the_object_itself_is_no_place() {
        assert!(places("лифт не работает третий день").is_empty());
        assert!(places("холодные батареи в квартире").is_empty());
        assert!(places("яма на дороге").is_empty());
    }

    #[test]
    fn a_street_or_a_stop_is_named_after_its_kind_or_before_it() {
        assert_eq!(names("На ул. Школьной прорвало трубу"), ["школьной"]);
        assert_eq!(names("ул.садовая 5, нет воды"), ["садовая"]);
        assert_eq!(names("Три тротуара на Лиственной улице без съездов"), ["лиственной"]);
        assert_eq!(names("Двор на улице Верхняя Луговая залит"), ["верхняя", "луговая"]);
        assert_eq!(names("Проспект Строителей, двор залит водой"), ["строителей"]);
        assert_eq!(names("на остановке Больничная нет навеса"), ["больничная"]);
        assert_eq!(names("Возле Вокзальной площади яма"), ["вокзальной"]);
        assert_eq!(names("светофор на Плесецкой ул. при движении от ост. Школьная"), ["плесецкой", "школьная"]);
        // «улица» left out: a feminine adjective after «на», «по» with no noun of its own.
        assert_eq!(names("три дома на Медицинской в Заречном без света"), ["медицинской"]);
        assert_eq!(names("яма по Школьной, 5"), ["школьной"]);
        assert!(names("мусор на Детской площадке").is_empty());
    }

    #[test]
    fn a_word_said_of_a_street_is_no_name() {
        // A sentence's first word, a predicate in lower case, a word in capitals throughout.
        assert!(names("Грязная улица, никто не убирает").is_empty());
        assert!(names("улица грязная, никто не убирает").is_empty());
        assert!(names("На тёмной улице страшно").is_empty());
        assert!(names("ТЁМНАЯ УЛИЦА, фонари не горят").is_empty());
        assert!(names("На детской площадке Мусор").is_empty());
    }
}
