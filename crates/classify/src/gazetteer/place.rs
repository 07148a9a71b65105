//! The place detail a text gives below the municipality: settlement or micro-district, street and
//! house, landmark. Incident linking needs it to tell «no water at Мира, 5» from «a pothole at
//! Мира, 12»; the municipality alone cannot.
//!
//! Settlements come from the resolver's accepted mentions (so the same rules about common words
//! and ambiguity apply). Streets, houses and landmarks are read from the words of the text (case
//! kept, since a capital tells a name from a word): a street word («ул.», «улица», «пр-т»,
//! «переулок», «мкр» …) and the name next to it; a capitalised name and a number («Ладожская 5»);
//! «на» and a capitalised adjective («на Московской»); a house number after the name or after
//! «дом»; a landmark noun («школа», «поликлиника», «рынок» …) with its number. Names are reduced
//! to a crude stem (case ending off, six letters at most),
//! so «на улице Мира» and «ул. Мира» give the same key; the cost of the crude stem is that two
//! streets sharing six letters («Ленина», «Ленинградская») share a key.

use super::resolve::MentionKind;
use super::Gazetteer;
use serde::Serialize;
use std::ops::Range;

/// Where exactly, as far as the text says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct PlaceDetail {
    /// The dictionary name of the settlement or micro-district the text names («Терновка»).
    pub settlement: Option<String>,
    /// The street's stem key («мир» for «ул. Мира», «на улице Мира»).
    pub street: Option<String>,
    /// The house number as written, lower case («5а», «12/3»).
    pub house: Option<String>,
    /// A landmark's key: its noun's stem and number or name («школ 12», «рынок»).
    pub landmark: Option<String>,
}

impl PlaceDetail {
    /// Whether the text gave no detail at all.
    pub fn is_empty(&self) -> bool {
        self.settlement.is_none() && self.street.is_none() && self.house.is_none() && self.landmark.is_none()
    }

    /// Whether two details can be the same place: every field both give agrees.
    pub fn compatible(&self, other: &PlaceDetail) -> bool {
        fn agree(a: &Option<String>, b: &Option<String>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        // A house number means nothing on a different street; compare it only on the same one.
        let same_street = matches!((&self.street, &other.street), (Some(a), Some(b)) if a == b);
        agree(&self.settlement, &other.settlement)
            && agree(&self.street, &other.street)
            && (!same_street || agree(&self.house, &other.house))
            && agree(&self.landmark, &other.landmark)
    }
}

/// Street words as the normaliser leaves them (lower case, no dots).
const STREET_WORDS: &[&str] = &[
    "ул",
    "улица",
    "улице",
    "улицу",
    "улицы",
    "улицей",
    "пр",
    "пр-т",
    "пр-кт",
    "проспект",
    "проспекте",
    "проспекта",
    "пер",
    "переулок",
    "переулке",
    "переулка",
    "б-р",
    "бульвар",
    "бульваре",
    "бульвара",
    "ш",
    "шоссе",
    "проезд",
    "проезде",
    "проезда",
    "пл",
    "площадь",
    "площади",
    "мкр",
    "микрорайон",
    "микрорайоне",
    "микрорайона",
    "тупик",
];

/// Words after which a number is a house: «дом 5», «д. 5», «в доме 12».
const HOUSE_WORDS: &[&str] = &["д", "дом", "дома", "доме", "домом", "дому"];

/// Landmark nouns (stems): a number or a name may follow.
const LANDMARKS: &[&str] = &[
    "школ",
    "садик",
    "детсад",
    "поликлиник",
    "больниц",
    "рынк",
    "рынок",
    "остановк",
    "вокзал",
    "дк",
    "тц",
    "парк",
    "сквер",
    "стадион",
    "почт",
    "аптек",
    "магазин",
    "мост",
    "кладбищ",
    "гимнази",
    "лице",
    "амбулатори",
    "фап",
];

/// Endings taken off names, longest first.
const ENDINGS: &[&str] = &[
    "ого", "ому", "ыми", "ими", "ой", "ая", "ую", "ей", "ий", "ый", "ом", "ие", "ые", "их", "ых", "ам", "ах", "а", "е",
    "у", "ы", "и", "я", "ю", "о",
];

/// Words that are never a street's name.
const NOT_NAMES: &[&str] = &["и", "в", "на", "у", "с", "по", "не", "нет", "от", "до", "за", "д", "дом", "где", "уже"];

impl Gazetteer {
    /// The place detail of a text (see the module docs). Runs the resolver for the settlement;
    /// words the resolver read as places are not taken for streets.
    pub fn place_detail(&self, text: &str) -> PlaceDetail {
        let resolution = self.resolve(text);
        let settlement = resolution
            .mentions
            .iter()
            .find(|m| matches!(m.kind, MentionKind::Settlement | MentionKind::Microdistrict) && m.resolved.is_some())
            .and_then(|m| m.name.clone());
        let places: Vec<Range<usize>> = resolution.mentions.iter().map(|m| m.span.clone()).collect();
        PlaceDetail { settlement, ..street_detail_except(text, &places) }
    }
}

/// A word of the original text: its byte range, lower-cased form («ё» → «е») and whether it
/// was capitalised.
struct Word<'a> {
    span: Range<usize>,
    original: &'a str,
    lower: String,
}

impl Word<'_> {
    fn capitalised(&self) -> bool {
        self.original.chars().next().is_some_and(char::is_uppercase)
    }

    fn is(&self, list: &[&str]) -> bool {
        list.contains(&self.lower.as_str())
    }
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '/';
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (start, part(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let original = text[s..i].trim_matches(|c| c == '-' || c == '/');
                if !original.is_empty() {
                    let lower = original.to_lowercase().replace('ё', "е");
                    out.push(Word { span: s..i, original, lower });
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Street, house and landmark of a text (no gazetteer needed).
pub fn street_detail(text: &str) -> PlaceDetail {
    street_detail_except(text, &[])
}

/// [`street_detail`], ignoring words inside `places` (settlement and town names).
fn street_detail_except(text: &str, places: &[Range<usize>]) -> PlaceDetail {
    let words = words(text);
    let place = |w: &Word| places.iter().any(|p| p.start <= w.span.start && w.span.end <= p.end);
    let mut detail = PlaceDetail::default();
    for i in 0..words.len() {
        if detail.street.is_none() {
            if let Some((name, after)) = street_at(&words, i, &place) {
                detail.street = Some(name);
                detail.house = detail.house.take().or_else(|| house_after(&words, after));
            }
        }
        if detail.house.is_none() && words[i].is(HOUSE_WORDS) {
            detail.house = words.get(i + 1).filter(|n| is_number(&n.lower)).map(|n| n.lower.clone());
        }
        if detail.landmark.is_none() {
            detail.landmark = landmark(&words, i);
        }
    }
    if detail.street.is_none() {
        // A house without a street says little, and would split an incident from its own posts
        // that name the street.
        detail.house = None;
    }
    detail
}

/// A street named at word `i`, with the index after its name.
fn street_at(words: &[Word], i: usize, place: &dyn Fn(&Word) -> bool) -> Option<(String, usize)> {
    let w = &words[i];
    if w.is(STREET_WORDS) {
        return street_name(words, i);
    }
    if place(w) || !w.capitalised() || w.is(NOT_NAMES) || LANDMARKS.iter().any(|l| w.lower.starts_with(l)) {
        return None;
    }
    let name_like = w.lower.ends_with(|c: char| "аяоыйеиу".contains(c)) && w.lower.chars().count() >= 4;
    let prev = i.checked_sub(1).map(|p| words[p].lower.as_str());
    let next_number = words.get(i + 1).is_some_and(|n| is_number(&n.lower));
    // «Ладожская 5», «Маяковского 52»: a capitalised name and a number; «на Московской»: a
    // capitalised adjective after «на».
    let adjective = ["ской", "цкой", "ская", "ной", "ная", "вой", "вая"].iter().any(|e| w.lower.ends_with(e));
    (name_like && (next_number || (matches!(prev, Some("на" | "по")) && adjective))).then(|| (stem(&w.lower), i + 1))
}

/// The street name next to the street word at `i`, and the index after the name.
fn street_name(words: &[Word], i: usize) -> Option<(String, usize)> {
    let abbreviation = words[i].lower.chars().count() <= 4;
    let next = words.get(i + 1);
    // «ул. 8 Марта», «ул. 40 лет Победы»: the number belongs to the name.
    if let (Some(n), Some(w)) = (next, words.get(i + 2)) {
        if abbreviation && is_number(&n.lower) && !is_number(&w.lower) {
            return Some((format!("{} {}", n.lower, stem(&w.lower)), i + 3));
        }
    }
    // After «ул.» any word is the name; after «улица» only a capitalised one («улица Мира», not
    // «улица затоплена»), else the adjective before it («Пушкинская улица»).
    if let Some(n) = next.filter(|n| !is_number(&n.lower) && !n.is(NOT_NAMES) && (abbreviation || n.capitalised())) {
        return Some((stem(&n.lower), i + 2));
    }
    let prev = &words[i.checked_sub(1)?];
    let adjective = ["ая", "ой", "ую", "ий", "ый"].iter().any(|e| prev.lower.ends_with(e));
    (adjective && !prev.is(NOT_NAMES)).then(|| (stem(&prev.lower), i + 1))
}

/// A house number right after a street name, or after «д.»/«дом» there.
fn house_after(words: &[Word], at: usize) -> Option<String> {
    let mut at = at;
    if words.get(at).is_some_and(|w| w.is(HOUSE_WORDS)) {
        at += 1;
    }
    words.get(at).filter(|w| is_number(&w.lower)).map(|w| w.lower.clone())
}

fn landmark(words: &[Word], i: usize) -> Option<String> {
    let t = &words[i].lower;
    let noun = LANDMARKS.iter().find(|l| t.starts_with(*l) && t.chars().count() <= l.chars().count() + 3)?;
    let noun = if *noun == "рынк" { "рынок" } else { noun };
    // «школа 12», «школе № 12», «школы №12» (the sign is not part of a word)
    match words.get(i + 1) {
        Some(n) if is_number(&n.lower) => Some(format!("{noun} {}", n.lower)),
        _ => Some((*noun).to_string()),
    }
}

fn is_number(t: &str) -> bool {
    t.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// A crude stem: one case ending off (when three letters remain), six letters at most.
pub fn stem(word: &str) -> String {
    let chars = word.chars().count();
    let base = ENDINGS
        .iter()
        .find(|e| word.ends_with(*e) && chars - e.chars().count() >= 3)
        .map_or(word, |e| &word[..word.len() - e.len()]);
    base.chars().take(6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(text: &str) -> PlaceDetail {
        street_detail(text)
    }

    #[test]
    fn street_forms_share_a_key() {
        assert_eq!(detail("ул. Мира, д. 5").street.as_deref(), Some("мир"));
        assert_eq!(detail("на улице Мира нет воды").street.as_deref(), Some("мир"));
        assert_eq!(detail("Пушкинская улица, 3").street, detail("на ул. Пушкинской 3").street);
    }

    #[test]
    fn house_numbers() {
        assert_eq!(detail("ул. Мира, д. 5а").house.as_deref(), Some("5а"));
        assert_eq!(detail("в доме 12 по ул. Ленина").house.as_deref(), Some("12"));
        assert_eq!(detail("ул. 8 Марта 14").street.as_deref(), Some("8 март"));
        assert_eq!(detail("дом 12 без улицы").house, None);
    }

    #[test]
    fn names_without_a_street_word() {
        assert_eq!(detail("Кузнецк, Рабочая 180 — холодно").street.as_deref(), Some("рабоч"));
        assert_eq!(detail("Кузнецк, Рабочая 180 — холодно").house.as_deref(), Some("180"));
        assert_eq!(detail("На Московской порыв водопровода").street.as_deref(), Some("москов"));
        assert_eq!(detail("Московская улица затоплена").street.as_deref(), Some("москов"));
        assert_eq!(detail("вода течет по улице, а в кранах пусто").street, None);
        assert_eq!(detail("Маршрут 30 не ходит").street, None);
    }

    #[test]
    fn landmarks() {
        assert_eq!(detail("у школы № 12 яма").landmark.as_deref(), Some("школ 12"));
        assert_eq!(detail("возле рынка грязь").landmark.as_deref(), Some("рынок"));
    }
}
