//! An explicit other region: «…Тамбовской области», «(Самарская обл.)», «в Саратове», «в
//! Мордовии», or a country abroad («в Турции»).
//!
//! Settlement names repeat from region to region («Сосновка», «Никольское»), so a post about a
//! village of another region would otherwise land in the home region's district of the same name.
//! When the text names another region, or a big city of one, and never the home region itself (its
//! adjective, its name, one of its cities: [`Home`]), the post gets no municipality and the
//! `out_of_region` flag.

use crate::normalize::Normalized;
// Fx hashing: the sets are built from fixed lists, and a post asks two of them about every token.
use rustc_hash::FxHashSet as HashSet;

/// Words that make the adjective before them a region's name.
const REGION_WORDS: &[&str] =
    &["область", "области", "областью", "обл", "край", "края", "крае", "краю", "краем", "ао", "округа", "округе"];

/// Words after which the next token is a republic's name.
const REPUBLIC_WORDS: &[&str] = &["республика", "республики", "республике", "республику", "республикой", "респ"];

/// Cities of 250,000 people or more (`../shared/data/gazetteer/hflabs_city.csv`, plus the two
/// federal cities), in the nominative, by the last word of the name, with their region's ОКТМО code:
/// a city of the home region is no other region. Left out: those that are a first name, a surname
/// streets are named after or a common word («Киров», «Владимир», «Орёл», «Курган», «Грозный»,
/// «Волжский»), and Архангельск, a Penza village's name too.
const BIG_CITIES: &[(&str, &str)] = &[
    ("москва", "45"),
    ("санкт-петербург", "40"),
    ("петербург", "40"),
    ("барнаул", "01"),
    ("астрахань", "12"),
    ("стерлитамак", "80"),
    ("уфа", "80"),
    ("белгород", "14"),
    ("брянск", "15"),
    ("улан-удэ", "81"),
    ("волгоград", "18"),
    ("вологда", "19"),
    ("череповец", "19"),
    ("воронеж", "20"),
    ("махачкала", "82"),
    ("чита", "76"),
    ("иваново", "24"),
    ("иркутск", "25"),
    ("калининград", "27"),
    ("калуга", "29"),
    ("петрозаводск", "86"),
    ("кемерово", "32"),
    ("новокузнецк", "32"),
    ("кострома", "34"),
    ("краснодар", "03"),
    ("сочи", "03"),
    ("красноярск", "04"),
    ("симферополь", "35"),
    ("курск", "38"),
    ("липецк", "42"),
    ("саранск", "89"),
    ("мурманск", "47"),
    ("новгород", "22"),
    ("новосибирск", "50"),
    ("омск", "52"),
    ("оренбург", "53"),
    ("пермь", "57"),
    ("владивосток", "05"),
    ("ростов-на-дону", "60"),
    ("таганрог", "60"),
    ("рязань", "61"),
    ("самара", "36"),
    ("тольятти", "36"),
    ("саратов", "63"),
    ("екатеринбург", "65"),
    ("тагил", "65"),
    ("владикавказ", "90"),
    ("смоленск", "66"),
    ("ставрополь", "07"),
    ("тамбов", "68"),
    ("казань", "92"),
    ("челны", "92"),
    ("тверь", "28"),
    ("томск", "69"),
    ("тула", "70"),
    ("тюмень", "71"),
    ("ижевск", "94"),
    ("ульяновск", "73"),
    ("комсомольск-на-амуре", "08"),
    ("хабаровск", "08"),
    ("нижневартовск", "71"),
    ("сургут", "71"),
    ("магнитогорск", "75"),
    ("челябинск", "75"),
    ("чебоксары", "97"),
    ("якутск", "98"),
    ("ярославль", "78"),
    ("пенза", "56"),
];

/// The region a classifier serves: its ОКТМО code and the words that name it, and the words that
/// name somewhere else.
#[derive(Debug, Clone)]
pub(crate) struct Home {
    pub code: String,
    /// The region's adjective, names and cities in every form (from the gazetteer).
    pub words: HashSet<String>,
    /// Without a gazetteer: a stem every such word starts with («пенз»).
    pub stem: Option<&'static str>,
    /// Every form of a word that alone names another region: its big cities, its own name
    /// («мордовия», «башкирии»; from the gazetteer), a country abroad («турции»). One set, so that
    /// a post costs one lookup per token.
    elsewhere: HashSet<String>,
}

impl Home {
    /// The region `code`, named by `words`; `other_regions` are other regions' names said alone.
    pub(crate) fn new(code: &str, words: HashSet<String>, other_regions: impl IntoIterator<Item = String>) -> Home {
        let cities = BIG_CITIES.iter().filter(|&&(_, c)| c != code).flat_map(|&(city, _)| case_forms(city));
        let countries = COUNTRIES_IN_IA
            .iter()
            .flat_map(|stem| ["ия", "ии", "ию", "ией"].map(|e| format!("{stem}{e}")))
            .chain(OTHER_COUNTRIES.iter().map(|c| c.to_string()));
        let elsewhere = cities.chain(other_regions).chain(countries).collect();
        Home { code: code.into(), words, stem: None, elsewhere }
    }

    /// Penza oblast as known without a gazetteer.
    pub(crate) fn penza() -> Home {
        Home { stem: Some("пенз"), ..Home::new("56", HashSet::default(), []) }
    }

    fn named_by(&self, w: &str) -> bool {
        self.words.contains(w) || self.stem.is_some_and(|s| w.starts_with(s))
    }
}

/// Another region as a text names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtherRegion {
    /// The words of the first naming.
    pub words: String,
    /// Every naming is aside from where things are: a route's end («трасса до Саратова», «дети
    /// уехали в Москву», «мы из Самары»), which says the author is somewhere else; a comparison
    /// («как в Саратове»); where the writer lived («жили в Москве»); or a place a contrast turns
    /// away from («в Саратове всё сделали, а …»).
    pub aside_only: bool,
}

/// The text's namings of another region, when it never names the home region: the first one's
/// words, and whether all of them are aside (see [`OtherRegion::aside_only`]).
pub(crate) fn other_region(norm: &Normalized, home: &Home) -> Option<OtherRegion> {
    let n = norm.tokens.len();
    let word = |i: usize| norm.token(i);
    let before = |i: usize| if i > 0 { word(i - 1) } else { "" };
    // «жили в Москве», «работал летом в Саранске»: where the writer was, not where things are.
    let former = |first: usize| {
        ["в", "во"].contains(&before(first)) && (2..=3).any(|k| first >= k && FORMER_STAYS.contains(&word(first - k)))
    };
    // The home region named as where the writer once lived says nothing of where things are now:
    // «раньше жила в Пензенской, теперь в Заречном Свердловской области».
    if (0..n).any(|i| home.named_by(word(i)) && !former(i)) {
        // …and another region's adjective right after a place's name qualifies that name, whatever
        // else the text names: «в Каменке Воронежской области …, думала у нас в Пензенской хуже».
        let qualifier = (2..n).find(|&i| {
            REGION_WORDS.contains(&word(i))
                && is_region_adjective(word(i - 1))
                && !home.named_by(word(i - 1))
                && norm.titled[i - 2]
        });
        return qualifier.map(|i| OtherRegion { words: norm.span_text(i - 1, i).to_owned(), aside_only: false });
    }
    // A naming that is a place of its own («в Саратове», «в Самарской области»), not the
    // qualifier of the name before it («Каменка Воронежской области»), is aside when it is
    // compared with («как в Саратове»), where the writer once was, or when a contrast follows it
    // («…, а в Сердобске ямы»).
    let aside = |first: usize, last: usize| {
        let located = ["в", "во"].contains(&before(first));
        // «как в Москве», «как и в Москве»
        let comparing = |j: usize| {
            COMPARISONS.contains(&word(j)) || (word(j) == "и" && j > 0 && COMPARISONS.contains(&word(j - 1)))
        };
        let compared = located && first >= 2 && comparing(first - 2);
        let former = former(first);
        // «дочь учится в Саранске», «сестра в Саранске живёт», «к маме в Москву»: a relative's
        // or a friend's place.
        let someone_elses = located
            && ((1..=3).any(|k| first >= k && is_relative(word(first - k)))
                || (last + 1 < n && OTHERS_STAYS.contains(&word(last + 1))));
        let contrasted = located && (last + 1..n).any(|j| CONTRASTS.contains(&word(j)));
        ROUTE_ENDS.contains(&before(first)) || compared || former || someone_elses || contrasted
    };
    let mut found: Option<OtherRegion> = None;
    let mut note = |words: &str, aside: bool| match &mut found {
        None => found = Some(OtherRegion { words: words.to_owned(), aside_only: aside }),
        Some(f) => f.aside_only &= aside,
    };
    for i in 0..n {
        let w = word(i);
        if i > 0 && REGION_WORDS.contains(&w) && is_region_adjective(word(i - 1)) {
            let adjective = word(i - 1);
            let moving = INTO.contains(&before(i - 1)) && (adjective.ends_with("ую") || adjective.ends_with("ий"));
            note(norm.span_text(i - 1, i), aside(i - 1, i) || moving);
        } else if REPUBLIC_WORDS.contains(&w) && i + 1 < n && word(i + 1).chars().count() > 3 {
            note(norm.span_text(i, i + 1), false);
        } else if home.elsewhere.contains(w) && !REPUBLIC_WORDS.contains(&before(i)) {
            // «в Саратове», «(Мордовия, Атюрьевский район)», «в Турции нет света».
            note(w, aside(i, i) || moving_into(before(i), w));
        }
    }
    found
}

/// Words before «в X» that compare with X: «как в Москве», «чем в Самаре» (also read by the
/// gazetteer's resolver for the home region's places).
pub(crate) const COMPARISONS: &[&str] = &["как", "чем", "словно", "будто", "подобно"];

/// Verbs in the past of having lived, worked or been somewhere.
const FORMER_STAYS: &[&str] = &[
    "жил",
    "жила",
    "жили",
    "прожил",
    "прожила",
    "прожили",
    "работал",
    "работала",
    "работали",
    "учился",
    "училась",
    "учились",
    "был",
    "была",
    "были",
];

/// Verbs of someone else living, studying or working somewhere, said after the place: «сестра в
/// Саранске живёт».
const OTHERS_STAYS: &[&str] = &["живет", "живут", "учится", "учатся", "работает", "работают"];

/// Stems of words for a relative or a friend, in any case: «дочь», «сестре», «родителей» (also
/// read by the gazetteer's resolver).
pub(crate) const RELATIVE_STEMS: &[&str] = &[
    "доч",
    "сын",
    "сестр",
    "брат",
    "мам",
    "пап",
    "мать",
    "матер",
    "отец",
    "отца",
    "отцу",
    "родител",
    "подруг",
    "муж",
    "жена",
    "жене",
    "жену",
    "внук",
    "внуч",
    "бабушк",
    "дедушк",
    "свекров",
    "тещ",
    "родственник",
    "знакомы",
];
/// «друг» in its forms, whole: as a stem it would take «другой».
pub(crate) const FRIENDS: &[&str] = &["друг", "друга", "другу", "друзья", "друзей", "друзьям"];

/// Whether `w` names a relative or a friend, or is said of one: «сестра», «учится».
fn is_relative(w: &str) -> bool {
    RELATIVE_STEMS.iter().any(|s| w.starts_with(s)) || FRIENDS.contains(&w) || OTHERS_STAYS.contains(&w)
}

/// Words before «из», «с» that make the place the writer's own: «я из Иссы», «мы с Тамалы», «пишу
/// из Башмаково» (also read by the gazetteer's resolver).
pub(crate) const WRITER: &[&str] = &["я", "мы", "сам", "сама", "пишу", "пишем"];

/// Conjunctions that turn from one thing to another: from one place to another («в Саратове
/// сделали, а в Сердобске нет»), from what was done to what is still wrong (`cause`).
pub(crate) const CONTRASTS: &[&str] = &["а", "но", "зато", "однако"];

/// Prepositions of a route's end: «до Саратова», «из Самары», «от Москвы».
const ROUTE_ENDS: &[&str] = &["до", "из", "изо", "от", "ото"];

/// «в Москву», «в Саратов», «в Мордовию» go there; «в Москве», «в Казани», «в Челнах» are there.
fn moving_into(preposition: &str, name: &str) -> bool {
    INTO.contains(&preposition) && !["е", "и", "ах", "ях"].iter().any(|locative| name.ends_with(locative))
}

/// Prepositions that say where one goes with the accusative («в Москву») and where one is with the
/// locative («в Москве»).
const INTO: &[&str] = &["в", "во", "на"];

/// Whether the name starting at byte `start` of `text` is said as where something is: «в
/// Каменке», «у Лопатино», «около с. Рамзай», «рядом с Бессоновкой» — not a bare name, which a
/// question («Колышлей? Нет, мы из Саранска») or a list may hold.
pub(crate) fn said_as_location(text: &str, start: usize) -> bool {
    const AT: &[&str] = &["в", "во", "на", "у", "около", "возле", "под", "близ", "вблизи"];
    const TYPE_WORDS: &[&str] = &[
        "г",
        "город",
        "городе",
        "с",
        "село",
        "селе",
        "п",
        "пос",
        "поселок",
        "поселке",
        "посёлок",
        "посёлке",
        "пгт",
        "рп",
        "д",
        "дер",
        "деревня",
        "деревне",
    ];
    let mut words =
        text[..start].split(|c: char| !c.is_alphanumeric()).rev().filter(|w| !w.is_empty()).map(str::to_lowercase);
    let Some(mut last) = words.next() else { return false };
    if last == "с" && words.clone().next().as_deref() == Some("рядом") {
        return true;
    }
    // «я из Иссы», «мы с Тамалы», «пишу из Башмаково»: where the writer lives.
    if ["из", "с", "со"].contains(&last.as_str()) && words.clone().next().is_some_and(|w| WRITER.contains(&w.as_str()))
    {
        return true;
    }
    if TYPE_WORDS.contains(&last.as_str()) {
        let Some(next) = words.next() else { return false };
        last = next;
    }
    AT.contains(&last.as_str())
}

/// «тамбовской», «самарская», «краснодарского»: a place adjective in any case.
fn is_region_adjective(w: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "ский",
        "ской",
        "ская",
        "скую",
        "ского",
        "ском",
        "цкий",
        "цкой",
        "цкая",
        "цкого",
        "ной",
        "ная",
        "ного",
        "вой",
        "вая",
    ];
    ENDINGS.iter().any(|e| w.ends_with(e)) && w.chars().count() > 5
}

/// Countries residents' posts name when they talk of news from abroad or holidays: those in `-ия`
/// («Турция») and the others («Китай», «Египет», «США»), each read in its case forms.
const COUNTRIES_IN_IA: &[&str] =
    &["турц", "герман", "япон", "франц", "итал", "испан", "англ", "сир", "инд", "черногор", "болгар", "грец"];
/// («Европа», «Америка» are left out: shopping centres and squares bear them, «ТЦ Европа».)
const OTHER_COUNTRIES: &[&str] = &[
    "китай",
    "китая",
    "китаю",
    "китаем",
    "китае",
    "египет",
    "египта",
    "египте",
    "сша",
    "израиль",
    "израиля",
    "израиле",
    "таиланд",
    "таиланде",
    "таиланда",
    "казахстан",
    "казахстане",
    "казахстана",
];

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
        other_region(&normalize(text), &Home::penza()).map(|o| o.words)
    }

    fn aside_only(text: &str) -> bool {
        other_region(&normalize(text), &Home::penza()).expect("another region is named").aside_only
    }

    #[test]
    fn the_home_regions_own_big_city_is_no_other_region() {
        let samara = Home::new("36", HashSet::default(), []);
        assert_eq!(other_region(&normalize("в Самаре прорвало трубу"), &samara), None);
        assert_eq!(
            other_region(&normalize("в Пензе прорвало трубу"), &samara).map(|o| o.words).as_deref(),
            Some("пензе")
        );
    }

    #[test]
    fn a_region_named_by_its_adjective_or_a_big_city_is_found() {
        assert_eq!(found("В Сосновке Тамбовской области нет воды").as_deref(), Some("тамбовской области"));
        assert_eq!(found("Никольское (Самарская обл.) без света").as_deref(), Some("самарская обл"));
        assert_eq!(found("Краснодарского края").as_deref(), Some("краснодарского края"));
        assert_eq!(found("Сосновоборск (Красноярский край): тарифы").as_deref(), Some("красноярский край"));
        assert_eq!(found("в Республике Мордовия дороги лучше").as_deref(), Some("республике мордовия"));
        assert_eq!(found("вчера вернулся из Саратова").as_deref(), Some("саратова"));
        assert_eq!(found("под Казанью").as_deref(), Some("казанью"));
        assert_eq!(found("в Турции землетрясение, нет света и воды").as_deref(), Some("турции"));
        assert_eq!(
            found("Мы в Каменке Воронежской области, воды нет. Думала у нас в Пензенской хуже").as_deref(),
            Some("воронежской области"),
            "a qualifier of a place's name counts though the home region is named"
        );
        assert_eq!(found("в Японии поезд опоздал").as_deref(), Some("японии"));
        assert_eq!(found("у ТЦ Европа не горят фонари"), None, "a shopping centre's name");
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

    #[test]
    fn a_routes_end_is_told_from_where_things_are() {
        assert!(aside_only("трасса до Саратова разбита"));
        assert!(aside_only("дети уехали в Москву"));
        assert!(aside_only("мы из Самары"));
        assert!(aside_only("переехали в Самарскую область"));
        assert!(!aside_only("в Москве ямы"));
        assert!(!aside_only("под Казанью прорвало трубу"));
        assert!(!aside_only("в Казани нет воды"));
        assert!(!aside_only("в Самарской области нет воды"));
        assert!(!aside_only("уехали в Москву, а в Саратове ямы"), "one naming is where things are");
    }

    #[test]
    fn a_place_compared_with_or_turned_from_is_aside() {
        assert!(aside_only("в Сердобске как в Саратове, ямы"));
        assert!(aside_only("дороги хуже, чем в Самаре"));
        assert!(aside_only("в Никольске, как и в Ульяновске, воду дают по графику"));
        assert!(aside_only("Жили в Москве, переехали в Каменку — воды нет"));
        assert!(!aside_only("живём в Москве, воды нет"));
        assert!(aside_only("В Саратове всё давно сделали, а в Сердобске ямы"));
        assert!(aside_only("в Самарской области дали, а у нас нет"));
        // A qualifier of the name before it is no place of its own, whatever follows.
        assert!(!aside_only("Каменка Воронежской области, нет газа, а обещали"));
        assert!(!aside_only("В Сосновке под Саратовом нет воды, а в Никольском есть"));
        assert!(!aside_only("в Саратове ямы"));
    }

    #[test]
    fn a_relatives_town_and_the_writers_former_home_are_aside() {
        assert!(aside_only("Пишу из Никольска. Дочь учится в Саранске, а у нас фонари не горят"));
        assert!(aside_only("Сестра в Саранске живет, приезжала к нам"));
        assert!(aside_only("Работал летом в Саранске на стройке, вернулся — дороги нет"));
        assert!(!aside_only("живу в Саранске, воды нет"));
        // The home region named as where the writer once lived does not hide the other one.
        assert_eq!(
            found("я раньше жила в Пензенской, теперь в Заречном Свердловской области").as_deref(),
            Some("свердловской области")
        );
    }

    #[test]
    fn a_region_by_its_own_name_is_another_region() {
        let home = Home {
            stem: Some("пенз"),
            ..Home::new("56", HashSet::default(), ["мордовия", "мордовии", "мордовию"].map(String::from))
        };
        let other = |text: &str| other_region(&normalize(text), &home);
        assert_eq!(
            other("в Каменке (Мордовия, Атюрьевский район) дорогу завалило").map(|o| o.words).as_deref(),
            Some("мордовия")
        );
        assert!(!other("в Мордовии дороги разбиты").expect("named").aside_only);
        assert!(other("переехали в Мордовию").expect("named").aside_only);
        assert_eq!(other("в Республике Мордовия ямы").map(|o| o.words).as_deref(), Some("республике мордовия"));
    }

    #[test]
    fn a_name_said_as_where_something_is() {
        let at = |text: &str, name: &str| said_as_location(text, text.find(name).unwrap());
        assert!(at("а у нас в Каменке нет воды", "Каменке"));
        assert!(at("дорога разбита у Лопатино", "Лопатино"));
        assert!(at("около с. Рамзай мусор", "Рамзай"));
        assert!(at("рядом с Бессоновкой свалка", "Бессоновкой"));
        assert!(at("в пос. Мичуринский нет света", "Мичуринский"));
        assert!(!at("Колышлей? Нет, мы из Саранска", "Колышлей"));
        assert!(!at("из Кузнецка в Сердобск", "Кузнецка"));
        assert!(!at("Колышлей", "Колышлей"));
        assert!(at("Я из Иссы, у нас ямы", "Иссы"), "where the writer lives");
        assert!(!at("посылку из Иссы ждём", "Иссы"));
    }
}
