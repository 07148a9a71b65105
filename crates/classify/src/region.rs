//! An explicit other region: «…Тамбовской области», «(Самарская обл.)», «в Саратове».
//!
//! Settlement names repeat from region to region («Сосновка», «Никольское»), so a post about a
//! village of another region would otherwise land in the Penza district of the same name. When
//! the text names another region, or a big city of one, and never Penza itself, the post gets no
//! municipality and the `out_of_region` flag.

use crate::normalize::Normalized;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Words that make the adjective before them a region's name.
const REGION_WORDS: &[&str] =
    &["область", "области", "областью", "обл", "край", "края", "крае", "краю", "краем", "ао", "округа", "округе"];

/// Words after which the next token is a republic's name.
const REPUBLIC_WORDS: &[&str] = &["республика", "республики", "республике", "республику", "республикой", "респ"];

/// Cities of 250,000 people or more outside Penza oblast (`../shared/data/gazetteer/hflabs_city.csv`,
/// plus the two federal cities), in the nominative, by the last word of the name. Left out: those
/// that are a first name, a surname streets are named after or a common word («Киров»,
/// «Владимир», «Орёл», «Курган», «Грозный», «Волжский»), and Архангельск, a Penza village's name too.
const BIG_CITIES: &[&str] = &[
    "москва", "санкт-петербург", "петербург", "барнаул", "астрахань", "стерлитамак", "уфа", "белгород", "брянск",
    "улан-удэ", "волгоград", "вологда", "череповец", "воронеж", "махачкала", "чита", "иваново", "иркутск",
    "калининград", "калуга", "петрозаводск", "кемерово", "новокузнецк", "кострома", "краснодар", "сочи", "красноярск",
    "симферополь", "курск", "липецк", "саранск", "мурманск", "новгород", "новосибирск", "омск", "оренбург", "пермь",
    "владивосток", "ростов-на-дону", "таганрог", "рязань", "самара", "тольятти", "саратов", "екатеринбург", "тагил",
    "владикавказ", "смоленск", "ставрополь", "тамбов", "казань", "челны", "тверь", "томск", "тула", "тюмень",
    "ижевск", "ульяновск", "комсомольск-на-амуре", "хабаровск", "нижневартовск", "сургут", "магнитогорск",
    "челябинск", "чебоксары", "якутск", "ярославль",
];

/// The text's first naming of another region, when it never names Penza: the words that did.
pub(crate) fn other_region(norm: &Normalized) -> Option<String> {
    let n = norm.tokens.len();
    let word = |i: usize| norm.token(i);
    if (0..n).any(|i| word(i).starts_with("пенз")) {
        return None;
    }
    for i in 0..n {
        let w = word(i);
        if i > 0 && REGION_WORDS.contains(&w) && is_region_adjective(word(i - 1)) {
            return Some(norm.span_text(i - 1, i).to_owned());
        }
        if REPUBLIC_WORDS.contains(&w) && i + 1 < n && word(i + 1).chars().count() > 3 {
            return Some(norm.span_text(i, i + 1).to_owned());
        }
        if is_big_city(w) {
            return Some(w.to_owned());
        }
    }
    None
}

/// «тамбовской», «самарская», «краснодарского»: a place adjective in any case.
fn is_region_adjective(w: &str) -> bool {
    const ENDINGS: &[&str] =
        &["ской", "ская", "скую", "ского", "ском", "цкой", "цкая", "цкого", "ной", "ная", "ного", "вой", "вая"];
    ENDINGS.iter().any(|e| w.ends_with(e)) && w.chars().count() > 5
}

/// One of [`BIG_CITIES`] in a case form: «в Самаре», «из Саратова», «под Казанью». The forms are
/// spelled out once, so that a post costs one hash lookup per token.
fn is_big_city(w: &str) -> bool {
    static FORMS: OnceLock<HashSet<String>> = OnceLock::new();
    FORMS.get_or_init(|| BIG_CITIES.iter().flat_map(|c| case_forms(c)).collect()).contains(w)
}

/// The nominative and the oblique case forms of a city's name.
fn case_forms(city: &str) -> Vec<String> {
    let (stem, endings): (&str, &[&str]) = match city.chars().last() {
        Some('а') => (&city[..city.len() - 'а'.len_utf8()], &["а", "ы", "и", "е", "у", "ой", "ою"]),
        Some('ь') => (&city[..city.len() - 'ь'.len_utf8()], &["ь", "и", "ью"]),
        // «Иваново», «Сочи», «Улан-Удэ», «Челны» are not declined (or rarely).
        Some('о' | 'и' | 'э' | 'ы') => (city, &[""]),
        _ => (city, &["", "а", "е", "у", "ом"]),
    };
    endings.iter().map(|e| format!("{stem}{e}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn found(text: &str) -> Option<String> {
        other_region(&normalize(text))
    }

    #[test]
    fn a_region_named_by_its_adjective_or_a_big_city_is_found() {
        assert_eq!(found("В Сосновке Тамбовской области нет воды").as_deref(), Some("тамбовской области"));
        assert_eq!(found("Никольское (Самарская обл.) без света").as_deref(), Some("самарская обл"));
        assert_eq!(found("Краснодарского края").as_deref(), Some("краснодарского края"));
        assert_eq!(found("в Республике Мордовия дороги лучше").as_deref(), Some("республике мордовия"));
        assert_eq!(found("вчера вернулся из Саратова").as_deref(), Some("саратова"));
        assert_eq!(found("под Казанью").as_deref(), Some("казанью"));
    }

    #[test]
    fn penza_its_streets_and_adjectives_are_not_another_region() {
        assert_eq!(found("Сосновка Пензенской области, нет воды"), None);
        assert_eq!(found("переехали из Самары в Пензу"), None);
        assert_eq!(found("на улице Кирова яма"), None);
        assert_eq!(found("Казанская церковь в Никольске"), None);
        assert_eq!(found("в Кузнецком районе нет света"), None);
        assert_eq!(found("Каменка, центральная площадь"), None);
    }
}
