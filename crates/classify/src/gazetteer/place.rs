//! The place detail a text gives below the municipality: settlement or micro-district, street and
//! house, landmark. Incident linking needs it to tell «no water at Мира, 5» from «a pothole at
//! Мира, 12»; the municipality alone cannot.
//!
//! Settlements come from the resolver's accepted mentions (so the same rules about common words
//! and ambiguity apply). Streets, houses and landmarks are read from the normalised tokens: a
//! street word («ул.», «улица», «пр-т», «переулок», «мкр» …) and the name next to it, a house
//! number after the name or after «дом»; a landmark noun («школа», «поликлиника», «рынок» …) with
//! its number or name. Names are reduced to a crude stem (case ending off, six letters at most),
//! so «на улице Мира» and «ул. Мира» give the same key; the cost of the crude stem is that two
//! streets sharing six letters («Ленина», «Ленинградская») share a key.

use super::resolve::MentionKind;
use super::Gazetteer;
use crate::normalize::{normalize, Normalized};
use serde::Serialize;

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
    "ул", "улица", "улице", "улицу", "улицы", "улицей", "пр", "пр-т", "пр-кт", "проспект", "проспекте", "проспекта",
    "пер", "переулок", "переулке", "переулка", "б-р", "бульвар", "бульваре", "бульвара", "ш", "шоссе", "проезд",
    "проезде", "проезда", "пл", "площадь", "площади", "мкр", "микрорайон", "микрорайоне", "микрорайона", "тупик",
];

/// Words after which a number is a house: «дом 5», «д. 5», «в доме 12».
const HOUSE_WORDS: &[&str] = &["д", "дом", "дома", "доме", "домом", "дому", "домa"];

/// Landmark nouns (stems): a number or a name may follow.
const LANDMARKS: &[&str] = &[
    "школ", "садик", "детсад", "поликлиник", "больниц", "рынк", "рынок", "остановк", "вокзал", "дк", "тц", "парк",
    "сквер", "стадион", "почт", "аптек", "магазин", "мост", "кладбищ", "гимнази", "лице", "амбулатори", "фап",
];

/// Endings taken off names, longest first.
const ENDINGS: &[&str] = &[
    "ого", "ому", "ыми", "ими", "ой", "ая", "ую", "ей", "ий", "ый", "ом", "ие", "ые", "их", "ых", "ам", "ах", "а", "е",
    "у", "ы", "и", "я", "ю", "о",
];

/// Words that are never a street's name.
const NOT_NAMES: &[&str] = &["и", "в", "на", "у", "с", "по", "не", "нет", "от", "до", "за", "д", "дом", "где", "уже"];

impl Gazetteer {
    /// The place detail of a text (see the module docs). Runs the resolver for the settlement.
    pub fn place_detail(&self, text: &str) -> PlaceDetail {
        let resolution = self.resolve(text);
        let settlement = resolution
            .mentions
            .iter()
            .find(|m| matches!(m.kind, MentionKind::Settlement | MentionKind::Microdistrict) && m.resolved.is_some())
            .and_then(|m| m.name.clone());
        PlaceDetail { settlement, ..street_detail(&normalize(text)) }
    }
}

/// Street, house and landmark from normalised tokens (no gazetteer needed).
pub fn street_detail(norm: &Normalized) -> PlaceDetail {
    let toks: Vec<&str> = (0..norm.tokens.len()).map(|i| norm.token(i)).collect();
    let mut detail = PlaceDetail::default();
    for (i, &t) in toks.iter().enumerate() {
        if detail.street.is_none() && STREET_WORDS.contains(&t) {
            if let Some((name, after)) = street_name(&toks, i) {
                detail.street = Some(name);
                detail.house = detail.house.take().or_else(|| house_after(&toks, after));
            }
        }
        if detail.house.is_none() && HOUSE_WORDS.contains(&t) {
            detail.house = toks.get(i + 1).filter(|n| is_number(n)).map(|n| n.to_string());
        }
        if detail.landmark.is_none() {
            detail.landmark = landmark(&toks, i);
        }
    }
    if detail.street.is_none() {
        // A house without a street says little, and would split an incident from its own posts
        // that name the street.
        detail.house = None;
    }
    detail
}

/// The street name next to the street word at `i`, and the index after the name.
fn street_name(toks: &[&str], i: usize) -> Option<(String, usize)> {
    let next = toks.get(i + 1).copied();
    match next {
        // «ул. 8 Марта», «ул. 40 лет Победы»: the number belongs to the name.
        Some(n) if is_number(n) && toks.get(i + 2).is_some_and(|w| !is_number(w)) => {
            let w = toks[i + 2];
            Some((format!("{n} {}", stem(w)), i + 3))
        }
        Some(n) if !is_number(n) && !NOT_NAMES.contains(&n) => Some((stem(n), i + 2)),
        // «Пушкинская улица», «на Пензенской улице»: the adjective before the noun.
        _ => {
            let prev = toks.get(i.checked_sub(1)?).copied()?;
            let adjective = ["ая", "ой", "ую", "ий", "ый"].iter().any(|e| prev.ends_with(e));
            (adjective && !NOT_NAMES.contains(&prev)).then(|| (stem(prev), i + 1))
        }
    }
}

/// A house number right after a street name, or after «д.»/«дом» there.
fn house_after(toks: &[&str], at: usize) -> Option<String> {
    let mut at = at;
    if toks.get(at).is_some_and(|t| HOUSE_WORDS.contains(t)) {
        at += 1;
    }
    toks.get(at).filter(|t| is_number(t)).map(|t| t.to_string())
}

fn landmark(toks: &[&str], i: usize) -> Option<String> {
    let t = toks[i];
    let noun = LANDMARKS.iter().find(|l| t.starts_with(*l) && t.chars().count() <= l.chars().count() + 3)?;
    let noun = if *noun == "рынк" { "рынок" } else { noun };
    // «школа 12», «школе № 12» (NFKC makes «№» the token «no»)
    let next = if toks.get(i + 1).is_some_and(|t| matches!(*t, "no" | "но" | "n")) { i + 2 } else { i + 1 };
    let number = toks.get(next).map(|n| n.strip_prefix("no").unwrap_or(n));
    match number {
        Some(n) if is_number(n) => Some(format!("{noun} {n}")),
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
        street_detail(&normalize(text))
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
    fn landmarks() {
        assert_eq!(detail("у школы № 12 яма").landmark.as_deref(), Some("школ 12"));
        assert_eq!(detail("возле рынка грязь").landmark.as_deref(), Some("рынок"));
    }
}
