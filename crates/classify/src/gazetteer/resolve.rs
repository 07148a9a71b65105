//! Municipality resolution over the automaton's matches (see the parent module for the rules).
//!
//! One automaton pass yields a short list of tokens (names, type words, district and region
//! nouns, street words). Adjacent tokens combine: a type word before a name types it, a district
//! adjective before «район» is a district, a region adjective before «область» is a region. Every
//! accepted name becomes a [`Mention`] with candidate municipalities; candidates are narrowed by
//! region, then by second clues, then by salience; the text gets a municipality only when all
//! resolved mentions agree and no unresolved one points elsewhere.

use super::normalize::{encode, normalize_into, Normalized};
use super::{Gazetteer, Meaning, PlaceClass, Strength, TypeWord};
use crate::normalize::is_upper;
use crate::region::CONTRASTS;
use aho_corasick::{Anchored, Input};
use otklik_model::{MunicipalityEvidence, MunicipalityMatch};
use serde::Serialize;
use std::cell::{OnceCell, RefCell};
use std::ops::Range;
use std::sync::LazyLock;

/// The most names (places, districts, regions — accepted or not) one text is resolved on. A post
/// names a handful; a text that names hundreds is a list, not a report of one place, and would
/// otherwise cost memory and time in proportion to its length.
pub const MAX_MENTIONS: usize = 64;

/// The outcome of resolving one text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The municipality the text names, with evidence [`MunicipalityEvidence::Text`].
    pub chosen: Option<MunicipalityMatch>,
    /// Accepted place, district and region mentions in text order.
    pub mentions: Vec<Mention>,
    /// Names that matched but were not believed, or lost to ambiguity or conflict.
    pub rejected: Vec<Rejected>,
    /// The text names more than [`MAX_MENTIONS`] places; only the first ones were considered.
    pub capped: bool,
    /// A home-region name with a qualifier of its own («Никольск-Уссурийский», «Каменка-Днепровская»):
    /// a namesake elsewhere. The words that said so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elsewhere: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MentionKind {
    /// A town or urban settlement (г., пгт, рп).
    Town,
    /// A village or other rural locality.
    Settlement,
    /// A micro-district of Penza.
    Microdistrict,
    /// «Сердобский район», «Сердобского р-на».
    District,
    /// One of Penza city's internal districts («Октябрьский район»).
    CityDistrict,
    /// A bare district adjective («сердобская ЦРБ» without «район»): a clue only.
    DistrictAdjective,
    /// A region («Пензенская область», «Мордовия»): a clue only; candidates are region codes.
    Region,
}

/// One recognised mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mention {
    /// Byte range in the original text.
    pub span: Range<usize>,
    /// The original text of the span.
    pub surface: String,
    pub kind: MentionKind,
    /// The dictionary name of the place or district it was read as («Нижний Ломов» for «в Нижнем
    /// Ломове»), when all candidates share one.
    pub name: Option<String>,
    /// Candidate ОКТМО codes (region codes for [`MentionKind::Region`]).
    pub candidates: Vec<String>,
    /// The municipality this mention settled on, if it did.
    pub resolved: Option<String>,
    /// Why it was believed and how it settled: «type word», «capitalised», «second clue» …
    pub evidence: Vec<&'static str>,
}

/// A name that matched but does not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub span: Range<usize>,
    pub surface: String,
    /// Candidate ОКТМО codes it would have meant.
    pub candidates: Vec<String>,
    pub reason: RejectReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Also an everyday word; needs a type word, a capital mid-sentence or «в» + capital.
    CommonWord,
    /// Also a person or surname; needs a locative preposition or a type word.
    NeedsPreposition,
    /// Mostly means something else (a river, a foreign city); needs a type word.
    NeedsTypeWord,
    /// Part of a street or institution name («ул. Белинского», «ЖК Радуга»).
    StreetOrInstitution,
    /// «X район» where X is not a known district.
    NotADistrict,
    /// In several districts, and no second clue or salient candidate decides.
    Ambiguous,
    /// A Penza village that is also another region's town: cannot tell which.
    OtherRegionTown,
    /// Settled on a municipality other mentions contradict.
    Conflict,
    /// A city-internal district name («Октябрьский район») next to a city other than Penza.
    OtherCityDistrict,
    /// A city named as what the place is near («под Пензой», «в пригороде Кузнецка»).
    NearCity,
    /// A name with a qualifier of its own («Никольск-Уссурийский»): another place.
    Qualified,
    /// Where the writer comes from or goes to, or what is compared with, set against the problem's
    /// place («из X в Y», «в Y как в X»).
    NotTheProblemsPlace,
    /// After «мкр.»: a micro-district the gazetteer does not list, not a village of that name.
    UnknownMicrodistrict,
}

/// What a mention's own words say about its part in the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    /// «из X», «от X»: where someone comes from.
    Origin,
    /// «…, а в X», «но в X»: set against what was said before.
    Contrast,
    /// «до X», «на X», «едем в X»: where someone goes (for what the home place lacks).
    Destination,
    /// «как в X», «чем в X»: what the problem's place is compared with.
    Compared,
    /// «работаю в X», «учусь в X», «прописка в X», «раньше жили в X», «сестра в X»: where the
    /// writer works, studies, is registered or used to live, or where a relative lives, beside
    /// where the writer lives now.
    Elsewhere,
    /// «из X в Y»: where a route ends. The problem's place when nothing else is named («из
    /// Кузнецка в Пензу, а тут…»), aside when something is («из X в Y автобус не пришёл, на
    /// остановке в X…»).
    RouteEnd,
    /// «я из X», «мы с X», «пишу из X», «живу в X» in a text that comes back home («у нас»,
    /// «домой», «вернулась»): the writer's home, where the problem is when other places are only
    /// visited («Живу в Колышлее. Ездили к сестре в Сердобск… Вернулись — а у нас…»).
    Home,
}

impl Role {
    /// Not where the problem is: where someone comes from or goes, what is compared with, or
    /// a part of the writer's life spent elsewhere.
    fn aside(self) -> bool {
        matches!(self, Role::Origin | Role::Destination | Role::Compared | Role::Elsewhere | Role::RouteEnd)
    }

    /// Named in passing: a place that is none of the chosen municipality's and still says
    /// nothing against it. The end of a route and a part of the writer's life are not: «из Пензы
    /// в Ртищево» names no Penza problem.
    fn passing(self) -> bool {
        matches!(self, Role::Origin | Role::Destination | Role::Compared)
    }
}

#[derive(Debug, Clone, Copy)]
struct Cand {
    muni: u32,
    salient: bool,
    class: Option<PlaceClass>,
    /// Matched through a flagged form (a surname-like or bookish declension).
    secondary: bool,
}

struct Pending {
    /// Could be one of Penza city's internal districts («Октябрьский район»).
    city_district: bool,
    span: Range<usize>,
    name: Option<String>,
    kind: MentionKind,
    cands: Vec<Cand>,
    evidence: Vec<&'static str>,
    resolved: Option<u32>,
    role: Role,
}

#[derive(Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    pattern: usize,
    /// Read one letter away from what was written (see `typo`).
    typo: bool,
}

thread_local! {
    // The normalised copy of each post is scratch space; reusing it keeps resolution allocation-free
    // for the common post that names no place.
    static SCRATCH: RefCell<Normalized> = RefCell::new(Normalized::default());
}

pub(super) fn resolve(g: &Gazetteer, text: &str) -> Resolution {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut norm) => {
            normalize_into(text, &mut norm);
            resolve_normalized(g, text, &norm)
        }
        Err(_) => {
            let mut norm = Normalized::default();
            normalize_into(text, &mut norm);
            resolve_normalized(g, text, &norm)
        }
    })
}

#[inline]
fn memchr_space(b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x == b' ')
}

fn capitalised(surface: &str) -> bool {
    let mut cs = surface.chars().filter(|c| c.is_alphabetic());
    match (cs.next(), cs.next()) {
        // All-caps words («КАМЕНКА») say nothing about being a proper name.
        (Some(a), Some(b)) => is_upper(a) && !is_upper(b),
        (Some(a), None) => is_upper(a),
        _ => false,
    }
}

/// Whether `surface` is the name as listed (its nominative): «Каменку» is not, so a capitalised
/// «Каменку замело» opening a sentence is the town, not a stove.
fn nominative(surface: &str, name: &str) -> bool {
    surface.to_lowercase().replace('ё', "е") == name.to_lowercase().replace('ё', "е")
}

fn at_sentence_start(text: &str, pos: usize) -> bool {
    for c in text[..pos].chars().rev() {
        match c {
            '\n' | '\r' | '.' | '!' | '?' | '…' | ':' => return true,
            ' ' | '\t' | '«' | '»' | '"' | '\'' | '“' | '”' | '„' | '(' | ')' | '-' | '—' | '–' => continue,
            _ => return false,
        }
    }
    true
}

impl Gazetteer {
    pub(super) fn meanings_of(&self, pattern: usize) -> &[Meaning] {
        let (s, e) = self.spans[pattern];
        &self.meanings[s as usize..e as usize]
    }

    pub(super) fn region_of(&self, muni: u32) -> &str {
        &self.municipalities[muni as usize].region_code
    }

    fn oktmo(&self, muni: u32) -> String {
        self.municipalities[muni as usize].oktmo.clone()
    }
}

/// The automaton's matches that pass the right-boundary check, in text order.
fn tokens(g: &Gazetteer, nt: &[u8]) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    // One leftmost-longest pass, done as anchored searches at the spaces where a pattern may
    // start (every pattern starts with a space; the filter rules out most words): after a match
    // the search resumes at its end, as `find_iter` would.
    let mut at = 0;
    while at < nt.len() {
        let Some(off) = memchr_space(&nt[at..]) else { break };
        let s = at + off;
        if !g.starts.may_start(nt, s) {
            at = s + 1;
            continue;
        }
        let input = Input::new(nt).range(s..).anchored(Anchored::Yes);
        let Some(m) = g.automaton.find(input) else {
            at = s + 1;
            continue;
        };
        at = m.end();
        // Patterns start with a space, so the left boundary is built in; check the right one.
        let end = m.end();
        if end < nt.len() && nt[end] != b' ' && nt[end] != b'.' && nt[end - 1] != b'.' {
            continue;
        }
        toks.push(Tok { start: m.start(), end, pattern: m.pattern().as_usize(), typo: false });
    }
    toks
}

/// Prepositions after which a capitalised word one letter from a name is read as that name:
/// «в», «во», «из», «по», «под», «до», and «с», «со» as residents say «из» («кто с Пачелмы»)
/// (encoded bytes).
const TYPO_PREPS: &[&[u8]] =
    &[&[0xC2], &[0xC2, 0xCE], &[0xC8, 0xC7], &[0xCF, 0xCE], &[0xCF, 0xCE, 0xC4], &[0xC4, 0xCE], &[0xD1], &[0xD1, 0xCE]];

/// The words of normalised text as byte ranges (letters only, no leading space).
fn word_at(nt: &[u8], start: usize) -> &[u8] {
    let end = nt[start..].iter().position(|&b| b == b' ' || b == b'.').map_or(nt.len(), |e| start + e);
    &nt[start..end]
}

/// The word before the space at `at` (a token's start), without a trailing dot, and where it starts.
fn word_before(nt: &[u8], at: usize) -> (&[u8], usize) {
    let mut end = at;
    while end > 0 && matches!(nt[end - 1], b'.' | b' ') {
        end -= 1;
    }
    let start = nt[..end].iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
    (&nt[start..end], start)
}

/// Whether the word before the space at `at` (as [`word_before`] reads it) is one of
/// [`TYPO_PREPS`]: only the last four bytes before it are read, since a preposition is three at
/// most.
fn prep_before(nt: &[u8], at: usize) -> bool {
    let mut end = at;
    while end > 0 && matches!(nt[end - 1], b'.' | b' ') {
        end -= 1;
    }
    let from = end.saturating_sub(4);
    let start = match nt[from..end].iter().rposition(|&b| b == b' ') {
        Some(p) => from + p + 1,
        None if from == 0 => 0,
        None => return false, // longer than any preposition
    };
    TYPO_PREPS.contains(&&nt[start..end])
}

/// Words the automaton did not match, read as a home-region name one letter away when the context
/// says a place is meant: «район» after them, or a capitalised one after a locative preposition or
/// a type word («с.», «пос.») or before a comma and a street word (any one, in a text written all
/// in one case: «в пенззе», «В ПЕНЗЗЕ»).
fn add_typos(g: &Gazetteer, text: &str, norm: &Normalized, toks: &mut Vec<Tok>, caseless: bool) {
    let nt = &norm.text[..];
    let mut found: Vec<Tok> = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while let Some(off) = memchr_space(&nt[at..]) {
        let s = at + off;
        // The word after the space, if it is letters only (up to a space, a dot or the end).
        let letters = nt[s + 1..].iter().position(|&b| b < 0xC0).map_or(nt.len(), |e| s + 1 + e);
        // No space among the letters: the next one is at or after their end.
        at = letters.max(s + 1);
        let end = letters;
        let word = &nt[s + 1..end];
        let whole = end == nt.len() || matches!(nt[end], b' ' | b'.');
        if word.len() < super::typo::MIN_WORD_LEN || !whole {
            continue;
        }
        while k < toks.len() && toks[k].end <= s {
            k += 1;
        }
        if toks.get(k).is_some_and(|t| t.start < end) {
            continue; // inside a match
        }
        let next_is = |f: fn(&Meaning) -> bool| {
            toks.get(k).is_some_and(|t| t.start == end && g.meanings_of(t.pattern).iter().any(f))
        };
        let district_next = next_is(|m| matches!(m, Meaning::DistrictNoun));
        // «Шемешейка, ул. Ленина»: a comma and a street word make it an address.
        let address =
            next_is(|m| matches!(m, Meaning::Street)) && comma_between(text, norm, s..end, toks[k].start..toks[k].end);
        // «в Бесоновке», «с. Бесоновка»: a preposition or a type word right before.
        let type_before = k > 0 && toks[k - 1].end == s && {
            g.meanings_of(toks[k - 1].pattern).iter().any(|m| matches!(m, Meaning::Type(_)))
        };
        // «Колышлейй!!! Когда сделаете освещение?», «Бесоновка, кто знает…»: the post addressed to a
        // town's people, its name first and a punctuation mark after it.
        let heading = s == 0 && addressed(text, norm, s..end);
        // The case of the word's first letter is looked up last: it costs a Unicode table search.
        let after_prep = (prep_before(nt, s) || type_before || address || heading)
            && (caseless || text[norm.origin[s + 1] as usize..].chars().next().is_some_and(is_upper));
        if !district_next && !after_prep {
            continue;
        }
        if let Some(pattern) = g.typos.lookup(g, word) {
            found.push(Tok { start: s, end, pattern, typo: true });
        }
    }
    if !found.is_empty() {
        toks.extend(found);
        toks.sort_by_key(|t| t.start);
    }
}

/// Whether the word at normalised range `word` (from its leading space) is followed in the
/// original text by a comma, a dash, a colon or an exclamation mark: a post's addressee.
fn addressed(text: &str, norm: &Normalized, word: Range<usize>) -> bool {
    let after = norm.original_span(text, word.start + 1, word.end).end;
    text.get(after..).is_some_and(|rest| rest.trim_start().starts_with([',', '!', '—', '–', '-', ':']))
}

/// Whether the original text has a comma between the words at normalised ranges `a` and `b`
/// (each from its leading space).
fn comma_between(text: &str, norm: &Normalized, a: Range<usize>, b: Range<usize>) -> bool {
    let gap = norm.original_span(text, a.start + 1, a.end).end..norm.original_span(text, b.start + 1, b.end).start;
    text.get(gap).is_some_and(|gap| gap.contains(','))
}

/// Whether the text speaks of coming back home: «у нас», «у себя», «домой», «вернулась», «в
/// нашей ЦРБ».
fn returns_home(nt: &[u8]) -> bool {
    static WORDS: LazyLock<[Vec<u8>; 6]> = LazyLock::new(|| {
        [" у нас", " у себя", " домой", " вернул", " вернувш", " наш"].map(|w| encode(w).trim_ascii_end().to_vec())
    });
    WORDS.iter().any(|w| nt.windows(w.len()).any(|at| at == w.as_slice()))
}

/// Whether the words before a name at `start` say it is the writer's home: «я из», «мы с»,
/// «сама из», «пишу из», «живу в», «живём в», «проживаю в».
fn writers_home(nt: &[u8], start: usize) -> bool {
    static FROM: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(&["из", "с", "со"]));
    static WHO: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(crate::region::WRITER));
    static IN: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(&["в", "во"]));
    static LIVING: LazyLock<Vec<Vec<u8>>> =
        LazyLock::new(|| encoded(&["живу", "живем", "живет", "живут", "проживаю", "проживаем"]));
    let is = |set: &[Vec<u8>], w: &[u8]| set.iter().any(|x| x.as_slice() == w);
    let (prep, from) = word_before(nt, start);
    let who = word_before(nt, from).0;
    (is(&FROM, prep) && is(&WHO, who)) || (is(&IN, prep) && is(&LIVING, who))
}

/// Words in the gazetteer's encoding, to be compared with the normalised text's bytes.
fn encoded(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| encode(w).trim_ascii().to_vec()).collect()
}

/// «из X в Y»: the name right after another that someone comes from, joined to it by «в», is
/// where the route ends.
fn route_end(nt: &[u8], toks: &[Tok], i: usize) -> Option<Role> {
    let prev = toks[..i].last()?;
    let joined = nt.get(prev.end..toks[i].start) == Some(&[b' ', 0xC2][..]);
    (joined && role_of(nt, prev.start) == Role::Origin).then_some(Role::RouteEnd)
}

/// The part a mention starting at `start` plays, from the four words before it.
fn role_of(nt: &[u8], start: usize) -> Role {
    // «из», «от» right before; a word of contrast («а», «но», «зато», «однако») among the four
    // words before (encoded bytes).
    const FROM: &[&[u8]] = &[&[0xC8, 0xC7], &[0xCE, 0xD2]];
    static BUT: LazyLock<Vec<Vec<u8>>> =
        LazyLock::new(|| CONTRASTS.iter().map(|w| encode(w).trim_ascii().to_vec()).collect());
    // «до», «на»; «в» after a verb of going or sending (едем, едут, ездим, ехать, везут, возят,
    // направляют, отправляют, дым) — by their stems.
    const TO: &[&[u8]] = &[&[0xC4, 0xCE], &[0xCD, 0xC0]];
    const GOING: &[&str] =
        &["едем", "едут", "ездим", "ездят", "ехать", "ездить", "везут", "возят", "направля", "отправля", "дым"];
    // «в», «во», «на», «у»
    const AT: &[&[u8]] = &[&[0xC2], &[0xC2, 0xCE], &[0xCD, 0xC0], &[0xD3]];
    let mut at = start;
    // A life spent elsewhere gives way to a contrast further back: «а работаю в Пензе» turns to
    // the place it names.
    let mut elsewhere = false;
    for n in 0..4 {
        let (w, from) = word_before(nt, at);
        if w.is_empty() {
            break;
        }
        if n == 0 && FROM.contains(&w) {
            return Role::Origin;
        }
        if n == 0 && TO.contains(&w) {
            return Role::Destination;
        }
        if n == 0 && w == [0xC2] {
            let verb = super::normalize::decode(word_before(nt, from).0);
            if GOING.iter().any(|g| verb.starts_with(g)) {
                return Role::Destination;
            }
        }
        if n == 0 && AT.contains(&w) && compares(nt, from) {
            return Role::Compared;
        }
        elsewhere |= n == 0 && AT.contains(&w) && spent_elsewhere(nt, from);
        if BUT.iter().any(|but| but.as_slice() == w) {
            return Role::Contrast;
        }
        at = from;
    }
    if elsewhere {
        Role::Elsewhere
    } else {
        Role::Plain
    }
}

/// Whether the words before the preposition at `at` tell a part of the writer's life spent at the
/// place — work, study, registration («работаю в», «учусь в», «прописка в», «прописаны в»), a
/// home left («раньше жили в») — or someone else's («сестра в», «к маме в», «гостили у брата в»;
/// not «у мамы в Наровчате воды нет»).
fn spent_elsewhere(nt: &[u8], at: usize) -> bool {
    // Stems: «прописк» is «прописка», «пропиской»…
    static SPENT: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
        encoded(&[
            "работаю",
            "работает",
            "работаем",
            "работают",
            "учусь",
            "учится",
            "учимся",
            "учатся",
            "учеба",
            "прописк",
            "прописан",
            "зарегистрирован",
        ])
    });
    static LIVED: LazyLock<Vec<Vec<u8>>> =
        LazyLock::new(|| encoded(&["жили", "жил", "жила", "проживали", "проживал", "проживала"]));
    static BEFORE: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(&["раньше", "прежде"]));
    // «сестра в Саранске», «к маме в Евлашево»: a relative's or a friend's town; not «у мамы в
    // Наровчате воды нет», which says where the problem is.
    static RELATIVES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(crate::region::RELATIVE_STEMS));
    static FRIENDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(crate::region::FRIENDS));
    let (verb, from) = word_before(nt, at);
    if SPENT.iter().any(|s| verb.starts_with(s)) {
        return true;
    }
    // «гостили у брата в Заречном», «были у мамы в Лунино»: a visit.
    static VISITING: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| encoded(&["гостил", "был", "ночевал", "жил"]));
    let relative = RELATIVES.iter().any(|s| verb.starts_with(s)) || FRIENDS.iter().any(|f| f == verb);
    if relative {
        let (by, from) = word_before(nt, from);
        return by != [0xD3] /* «у» */ || VISITING.iter().any(|v| word_before(nt, from).0.starts_with(v));
    }
    let is = |set: &[Vec<u8>], w: &[u8]| set.iter().any(|x| x.as_slice() == w);
    is(&LIVED, verb) && is(&BEFORE, word_before(nt, from).0)
}

/// Whether the word before the one at `at` is a person's title or office («депутат», «главы»,
/// «мэру»), after which an adjective is a surname.
fn after_title(nt: &[u8], at: usize) -> bool {
    const TITLES: &[&str] = &[
        "депутат",
        "глав",
        "мэр",
        "губернатор",
        "директор",
        "министр",
        "председател",
        "начальник",
        "прокурор",
        "заместител",
        "замглав",
        "сенатор",
        "господин",
        "гражданин",
        "товарищ",
        "врач",
        "учител",
        "участков",
    ];
    let word = super::normalize::decode(word_before(nt, at).0);
    // «глав…» and «мэр…» as whole case forms only: «главной», «мэрии» are no titles.
    let forms = |stem: &str, endings: &[&str]| endings.iter().any(|e| word.strip_prefix(stem) == Some(*e));
    match TITLES.iter().find(|t| word.starts_with(*t)) {
        Some(&"глав") => forms("глав", &["а", "ы", "е", "у", "ой"]),
        Some(&"мэр") => forms("мэр", &["", "а", "у", "ом", "е"]),
        Some(_) => true,
        None => false,
    }
}

/// Whether an adjective's form (encoded) is one a man's surname takes after a title: «Никольский»,
/// «Спасскому», «Каменским». The genitive and the feminine are left out: after a title they are
/// more often an office's adjective («начальник Пензенского водоканала», «директор Сердобской
/// школы»).
fn surname_form(word: &[u8]) -> bool {
    // -ий, -ому, -ым (encoded)
    const ENDINGS: &[&[u8]] = &[&[0xC8, 0xC9], &[0xCE, 0xCC, 0xD3], &[0xDB, 0xCC]];
    ENDINGS.iter().any(|e| word.ends_with(e))
}

/// Whether the words before `at` compare: «как», «чем», «как и» ([`crate::region::COMPARISONS`]).
fn compares(nt: &[u8], at: usize) -> bool {
    let (w, from) = word_before(nt, at);
    // «и» (encoded)
    let w = if w == [0xC8] { word_before(nt, from).0 } else { w };
    !w.is_empty() && crate::region::COMPARISONS.contains(&super::normalize::decode(w).as_str())
}

/// «Никольск-Уссурийский»: a hyphen, then a capitalised adjective the gazetteer does not know.
fn qualifier(text: &str, norm: &Normalized, toks: &[Tok], i: usize) -> Option<std::ops::Range<usize>> {
    let nt = &norm.text[..];
    let end = toks[i].end;
    let rest = nt.get(end..)?;
    if !rest.starts_with(b" - ") {
        return None;
    }
    let word = word_at(nt, end + 3);
    // An adjective's endings in every case: -ий, -ый, -ой, -ая, -ое, -ие; -ого, -его, -ому, -ему,
    // -им, -ым, -ом, -ем («в Спасске-Дальнем»), -ую, -ей (encoded bytes).
    const ENDINGS: &[&[u8]] = &[
        &[0xC8, 0xC9],
        &[0xDB, 0xC9],
        &[0xCE, 0xC9],
        &[0xC0, 0xDF],
        &[0xCE, 0xC5],
        &[0xC8, 0xC5],
        &[0xCE, 0xC3, 0xCE],
        &[0xC5, 0xC3, 0xCE],
        &[0xCE, 0xCC, 0xD3],
        &[0xC5, 0xCC, 0xD3],
        &[0xC8, 0xCC],
        &[0xDB, 0xCC],
        &[0xCE, 0xCC],
        &[0xC5, 0xCC],
        &[0xD3, 0xDE],
        &[0xC5, 0xC9],
    ];
    let adjective = word.len() >= 4 && word.iter().all(|&b| b >= 0xC0) && ENDINGS.iter().any(|e| word.ends_with(e));
    let known = toks.get(i + 1).is_some_and(|t| t.start == end + 2);
    if !adjective || known {
        return None;
    }
    let capital = text[norm.origin[end + 3] as usize..].chars().next().is_some_and(is_upper);
    capital.then(|| norm.original_span(text, toks[i].start + 1, end + 3 + word.len()))
}

fn resolve_normalized(g: &Gazetteer, text: &str, norm: &Normalized) -> Resolution {
    let mut toks = tokens(g, &norm.text);
    // No capital, or nothing but capitals («В ЗАРЕЧНОМ НЕ ЧИСТЯТ»): either way capitals say nothing.
    let caseless = !text.chars().any(is_upper) || !text.chars().any(char::is_lowercase);
    add_typos(g, text, norm, &mut toks, caseless);
    let mut resolver = Resolver::new(g, text, norm, toks, caseless);
    let mut i = 0;
    while i < resolver.toks.len() {
        match resolver.step(i) {
            Some(consumed) => i += consumed,
            None => {
                resolver.res.capped = true;
                break;
            }
        }
    }
    resolver.finish()
}

/// Type words, nouns and street words only matter to their neighbours.
fn is_grammar(m: &Meaning) -> bool {
    matches!(
        m,
        Meaning::Type(_)
            | Meaning::DistrictNoun
            | Meaning::RegionNoun
            | Meaning::Street
            | Meaning::Institution
            | Meaning::CityBody
            | Meaning::Near
    )
}

/// One pass over a text's tokens: each step reads a name with its neighbours into a pending
/// mention, a clue or a rejection; [`Resolver::finish`] settles the pending mentions.
struct Resolver<'a> {
    g: &'a Gazetteer,
    text: &'a str,
    norm: &'a Normalized,
    toks: Vec<Tok>,
    /// The whole text is in one case: capitals say nothing.
    caseless: bool,
    res: Resolution,
    /// The text comes back to the writer's home (see [`Role::Home`]); read only when a name is
    /// said as the writer's home, which few posts do.
    returns_home: Option<bool>,
    pending: Vec<Pending>,
    /// The token each pending mention was read from.
    pending_token: Vec<usize>,
    region_clues: Vec<u16>,
    /// District adjectives seen bare, with the token that carried them (a token is never its own clue).
    adj_clues: Vec<(u32, usize)>,
    /// Adjectives alone («пензенские дорожники», «нижнеломовская ук»): the place when nothing else is.
    weak: Vec<u32>,
}

/// A name token with what its own meanings and its neighbours say.
struct Here<'a> {
    i: usize,
    t: Tok,
    ms: &'a [Meaning],
    /// The adjacent tokens, when nothing stands between.
    next: Option<Tok>,
    prev: Option<Tok>,
    district_adj: Vec<u32>,
    city_district_adj: Vec<u32>,
    city_adj: Vec<u32>,
    region_adj: Vec<u16>,
    region_name: Vec<u16>,
    has_place: bool,
    after_street: bool,
    after_institution: bool,
    role: Role,
}

impl<'a> Here<'a> {
    fn at(g: &'a Gazetteer, nt: &[u8], toks: &[Tok], i: usize) -> Here<'a> {
        let t = toks[i];
        let ms = g.meanings_of(t.pattern);
        let next = toks.get(i + 1).copied().filter(|n| n.start == t.end);
        let prev = if i > 0 && toks[i - 1].end == t.start { Some(toks[i - 1]) } else { None };
        let munis = |f: fn(&Meaning) -> Option<u32>| ms.iter().filter_map(f).collect::<Vec<u32>>();
        let regions = |f: fn(&Meaning) -> Option<u16>| ms.iter().filter_map(f).collect::<Vec<u16>>();
        let mut here = Here {
            i,
            t,
            ms,
            next,
            prev,
            district_adj: munis(|m| if let Meaning::DistrictAdj { muni } = m { Some(*muni) } else { None }),
            city_district_adj: munis(|m| if let Meaning::CityDistrictAdj { muni } = m { Some(*muni) } else { None }),
            city_adj: munis(|m| if let Meaning::CityAdj { muni } = m { Some(*muni) } else { None }),
            region_adj: regions(|m| if let Meaning::RegionAdj { region } = m { Some(*region) } else { None }),
            region_name: regions(|m| if let Meaning::RegionName { region } = m { Some(*region) } else { None }),
            has_place: ms.iter().any(|m| matches!(m, Meaning::Place { .. })),
            after_street: false,
            after_institution: false,
            role: route_end(nt, toks, i).unwrap_or_else(|| role_of(nt, t.start)),
        };
        here.after_street = here.prev_has(g, |m| matches!(m, Meaning::Street));
        here.after_institution = here.prev_has(g, |m| matches!(m, Meaning::Institution));
        here
    }

    fn next_has(&self, g: &Gazetteer, f: fn(&Meaning) -> bool) -> bool {
        self.next.is_some_and(|n| g.meanings_of(n.pattern).iter().any(f))
    }

    fn prev_has(&self, g: &Gazetteer, f: fn(&Meaning) -> bool) -> bool {
        self.prev.is_some_and(|p| g.meanings_of(p.pattern).iter().any(f))
    }
}

impl<'a> Resolver<'a> {
    fn new(g: &'a Gazetteer, text: &'a str, norm: &'a Normalized, toks: Vec<Tok>, caseless: bool) -> Resolver<'a> {
        Resolver {
            g,
            text,
            norm,
            toks,
            caseless,
            res: Resolution::default(),
            returns_home: None,
            pending: Vec::new(),
            pending_token: Vec::new(),
            region_clues: Vec::new(),
            adj_clues: Vec::new(),
            weak: Vec::new(),
        }
    }

    /// The original text's byte range of normalised `start..end`.
    fn span(&self, start: usize, end: usize) -> Range<usize> {
        self.norm.original_span(self.text, start + 1, end)
    }

    /// Whether the original text has a comma between adjacent tokens `a` and `b`.
    fn comma_between(&self, a: Tok, b: Tok) -> bool {
        comma_between(self.text, self.norm, a.start..a.end, b.start..b.end)
    }

    /// Reads token `i`; returns how many tokens it used, or `None` once [`MAX_MENTIONS`] is reached.
    fn step(&mut self, i: usize) -> Option<usize> {
        if self.g.meanings_of(self.toks[i].pattern).iter().all(is_grammar) {
            return Some(1);
        }
        if self.pending.len() + self.res.mentions.len() + self.res.rejected.len() >= MAX_MENTIONS {
            return None;
        }
        let mut h = Here::at(self.g, &self.norm.text, &self.toks, i);
        if h.role != Role::Contrast
            && writers_home(&self.norm.text, h.t.start)
            && *self.returns_home.get_or_insert_with(|| returns_home(&self.norm.text))
        {
            h.role = Role::Home;
        }
        // «Окружная улица, Пенза»: a comma ends the street's or the institution's name.
        if h.prev.is_some_and(|prev| self.comma_between(prev, h.t)) {
            (h.after_street, h.after_institution) = (false, false);
        }
        let consumed = self
            .city_body(&h)
            .or_else(|| self.qualified(&h))
            .or_else(|| self.before_noun(&h))
            .or_else(|| self.region_name(&h));
        if consumed.is_some() {
            return consumed;
        }
        if h.has_place {
            self.place(&h);
        }
        self.adjective_clues(&h);
        Some(1)
    }

    fn pend(&mut self, token: usize, pending: Pending) {
        self.pending.push(pending);
        self.pending_token.push(token);
    }

    fn reject(&mut self, span: Range<usize>, candidates: Vec<String>, reason: RejectReason) {
        let surface = self.text[span.clone()].to_string();
        self.res.rejected.push(Rejected { surface, span, candidates, reason });
    }

    fn only_name(&self, cands: &[Cand]) -> Option<String> {
        (cands.len() == 1).then(|| self.g.municipalities[cands[0].muni as usize].name.clone())
    }

    /// «пензенская мэрия», «кузнецкая гордума»: a body only a city has makes the adjective the city.
    fn city_body(&mut self, h: &Here) -> Option<usize> {
        let n = h.next.filter(|_| h.next_has(self.g, |m| matches!(m, Meaning::CityBody)) && !h.after_street)?;
        if h.city_adj.is_empty() {
            return None;
        }
        let town = |&muni: &u32| Cand { muni, salient: true, class: Some(PlaceClass::Town), secondary: false };
        let cands: Vec<Cand> = h.city_adj.iter().map(town).collect();
        let pending = Pending {
            city_district: false,
            span: self.span(h.t.start, n.end),
            name: self.only_name(&cands),
            kind: MentionKind::Town,
            cands,
            evidence: vec!["a body only a city has"],
            resolved: None,
            role: h.role,
        };
        self.pend(h.i, pending);
        Some(2)
    }

    /// «Никольск-Уссурийский»: a home-region name with a qualifier of its own is a namesake elsewhere.
    fn qualified(&mut self, h: &Here) -> Option<usize> {
        if !h.has_place {
            return None;
        }
        let span = qualifier(self.text, self.norm, &self.toks, h.i)?;
        self.res.elsewhere.get_or_insert_with(|| self.text[span.clone()].to_string());
        self.reject(span, place_candidates(self.g, h.ms), RejectReason::Qualified);
        Some(1)
    }

    /// An adjective before «район» (a district) or «область» (a region).
    fn before_noun(&mut self, h: &Here) -> Option<usize> {
        let n = h.next?;
        let g = self.g;
        // «Кузнецк, район вокзала»: a comma between parts the name from the noun.
        let comma = self.comma_between(h.t, n);
        if h.next_has(g, |m| matches!(m, Meaning::DistrictNoun)) && !h.after_street && !comma {
            let span = self.span(h.t.start, n.end);
            if !h.district_adj.is_empty() || !h.city_district_adj.is_empty() {
                self.district(h, span);
                self.district_listed_before(h, n);
                return Some(2);
            }
            if h.has_place {
                self.reject(span, place_candidates(g, h.ms), RejectReason::NotADistrict);
                return Some(2);
            }
        }
        if h.next_has(g, |m| matches!(m, Meaning::RegionNoun)) && !h.region_adj.is_empty() {
            let span = self.span(h.t.start, n.end);
            self.region_clues.extend(&h.region_adj);
            self.res.mentions.push(region_mention(g, self.text, span, &h.region_adj));
            return Some(2);
        }
        None
    }

    /// «в Земетчинском и Башмаковском районах»: a district adjective joined by «и» to the one
    /// before a plural «районах» names a district too, so the post names two.
    fn district_listed_before(&mut self, h: &Here, noun: Tok) {
        static PLURAL: LazyLock<Vec<Vec<u8>>> =
            LazyLock::new(|| encoded(&["районах", "районов", "районы", "районам", "районами"]));
        let nt = &self.norm.text;
        if h.i == 0 || !PLURAL.iter().any(|p| p.as_slice() == word_at(nt, noun.start + 1)) {
            return;
        }
        let prev = Here::at(self.g, nt, &self.toks, h.i - 1);
        let joined = nt.get(prev.t.end..h.t.start) == Some(&[b' ', 0xC8][..]); // « и»
        if joined && !prev.district_adj.is_empty() {
            let span = self.span(prev.t.start, prev.t.end);
            self.district(&prev, span);
        }
    }

    /// «Сердобский район», or one of Penza city's own («Октябрьский район»).
    fn district(&mut self, h: &Here, span: Range<usize>) {
        let mut cands: Vec<Cand> = Vec::new();
        for &muni in h.district_adj.iter().chain(&h.city_district_adj) {
            if !cands.iter().any(|c| c.muni == muni) {
                cands.push(Cand { muni, salient: true, class: None, secondary: false });
            }
        }
        let kind = if h.district_adj.is_empty() { MentionKind::CityDistrict } else { MentionKind::District };
        let mut evidence = vec!["district noun"];
        if h.t.typo {
            evidence.push("one letter off");
        }
        let city_district = !h.city_district_adj.is_empty();
        let name = self.only_name(&cands);
        self.pend(h.i, Pending { city_district, span, name, kind, cands, evidence, resolved: None, role: h.role });
    }

    /// «Мордовия»: a region named alone.
    fn region_name(&mut self, h: &Here) -> Option<usize> {
        if h.region_name.is_empty() {
            return None;
        }
        let span = self.span(h.t.start, h.t.end);
        self.region_clues.extend(&h.region_name);
        self.res.mentions.push(region_mention(self.g, self.text, span, &h.region_name));
        Some(1)
    }

    /// A place name: believed or rejected by what surrounds it (see `accept_place`).
    fn place(&mut self, h: &Here) {
        let g = self.g;
        let span = self.span(h.t.start, h.t.end);
        if h.after_street {
            self.reject(span, place_candidates(g, h.ms), RejectReason::StreetOrInstitution);
            return;
        }
        let typed = h.prev.and_then(|p| {
            g.meanings_of(p.pattern).iter().find_map(|m| if let Meaning::Type(tw) = m { Some(*tw) } else { None })
        });
        // «Заречный, ул. Ленина 5» is an address: the street word vouches for the name like a type
        // word would (without restricting the kind of place). Without the comma the name is the
        // street's own: «Ленинский проспект», «Заречная улица».
        let address =
            h.next_has(g, |m| matches!(m, Meaning::Street)) && h.next.is_some_and(|n| self.comma_between(h.t, n));
        let near = h.prev_has(g, |m| matches!(m, Meaning::Near));
        let ctx =
            Context { typed, address, after_institution: h.after_institution, caseless: self.caseless, role: h.role };
        let accepted = accept_place(g, self.text, self.norm, &h.t, span.clone(), h.ms, ctx);
        if near {
            // «под Пензой в Засечном»: the district around the city is a second clue for a
            // village named there.
            if let Ok(p) = &accepted {
                let around = p.cands.iter().filter(|c| is_city(g, c)).filter_map(|c| g.surrounding_district(c.muni));
                self.adj_clues.extend(around.map(|d| (d, h.i)));
            }
        }
        match accepted {
            Ok(p) if near && p.cands.iter().all(|c| is_city(g, c)) => {
                self.reject(span, place_candidates(g, h.ms), RejectReason::NearCity)
            }
            Ok(mut p) => {
                // Near a city that shares its name with villages: one of the villages, if any.
                if near {
                    p.cands.retain(|c| !is_city(g, c));
                }
                if h.t.typo {
                    p.evidence.push("one letter off");
                }
                self.pend(h.i, p);
            }
            Err((reason, candidates)) => self.reject(span, candidates, reason),
        }
    }

    /// Adjectives that name no place of their own: weak evidence, and second clues.
    fn adjective_clues(&mut self, h: &Here) {
        // The byte test first: the title test decodes a word, and most adjectives are no surname form.
        if surname_form(&self.norm.text[h.t.start + 1..h.t.end]) && after_title(&self.norm.text, h.t.start) {
            return; // «депутат Никольский», «к депутату Спасскому»: a surname
        }
        if !h.has_place && !h.after_street && !h.after_institution {
            // A city's adjective is the city («пензенские дорожники»), even when it is the region's too.
            match (h.city_adj.is_empty(), h.region_adj.is_empty()) {
                (false, _) => self.weak.extend(&h.city_adj),
                (true, true) => self.weak.extend(&h.district_adj),
                _ => {}
            }
        }
        // A bare district adjective («сердобская ЦРБ») is a second clue, unless it is also the region's
        // adjective («пензенский») or names a street («ул. Сердобская»).
        if h.district_adj.is_empty() || !h.region_adj.is_empty() || h.after_street || h.after_institution {
            return;
        }
        self.adj_clues.extend(h.district_adj.iter().map(|&muni| (muni, h.i)));
        if !h.has_place {
            let span = self.span(h.t.start, h.t.end);
            let mention = Mention {
                surface: self.text[span.clone()].to_string(),
                span,
                kind: MentionKind::DistrictAdjective,
                name: (h.district_adj.len() == 1)
                    .then(|| self.g.municipalities[h.district_adj[0] as usize].name.clone()),
                candidates: h.district_adj.iter().map(|&m| self.g.oktmo(m)).collect(),
                resolved: None,
                evidence: vec!["clue only"],
            };
            self.res.mentions.push(mention);
        }
    }

    /// Settles the pending mentions; with none settled, a lone home-region adjective names the place.
    fn finish(self) -> Resolution {
        let Resolver { g, text, mut res, pending, pending_token, region_clues, adj_clues, mut weak, .. } = self;
        let any_pending = !pending.is_empty();
        // «в Сердобской больнице нет узи, направляют в Пензу»: where people are sent is not the place.
        let only_going = any_pending && pending.iter().all(|p| p.role == Role::Destination);
        settle(g, &mut res, pending, &pending_token, &region_clues, &adj_clues);
        weak.sort_unstable();
        weak.dedup();
        if (res.chosen.is_none() && !any_pending || only_going) && region_clues.is_empty() && weak.len() == 1 {
            let muni = &g.municipalities[weak[0] as usize];
            if muni.region_code == g.home {
                let evidence = MunicipalityEvidence::Text;
                res.chosen = Some(MunicipalityMatch { oktmo: muni.oktmo.clone(), name: muni.name.clone(), evidence });
            }
        }
        for m in res.mentions.iter_mut().filter(|m| m.surface.is_empty()) {
            m.surface = text[m.span.clone()].to_string();
        }
        for r in res.rejected.iter_mut().filter(|r| r.surface.is_empty()) {
            r.surface = text[r.span.clone()].to_string();
        }
        res.mentions.sort_by_key(|m| m.span.start);
        res.rejected.sort_by_key(|r| r.span.start);
        res
    }
}

fn region_mention(g: &Gazetteer, text: &str, span: Range<usize>, regions: &[u16]) -> Mention {
    Mention {
        surface: text[span.clone()].to_string(),
        span,
        kind: MentionKind::Region,
        name: (regions.len() == 1).then(|| g.regions[regions[0] as usize].name.clone()),
        candidates: regions.iter().map(|&r| g.regions[r as usize].code.clone()).collect(),
        resolved: None,
        evidence: vec!["region named"],
    }
}

fn place_candidates(g: &Gazetteer, ms: &[Meaning]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in ms {
        if let Meaning::Place { place, .. } = m {
            let o = g.oktmo(g.places[*place as usize].muni);
            if !out.contains(&o) {
                out.push(o);
            }
        }
    }
    out
}

/// An urban okrug's own town: the municipality is the city itself.
fn is_city(g: &Gazetteer, c: &Cand) -> bool {
    c.class == Some(PlaceClass::Town) && g.municipalities[c.muni as usize].kind == super::MunicipalityKind::UrbanOkrug
}

/// What the words around a name say (see `accept_place`).
#[derive(Clone, Copy)]
struct Context {
    typed: Option<TypeWord>,
    /// Followed by a comma and a street: an address.
    address: bool,
    after_institution: bool,
    /// The whole text is in one case: capitals say nothing.
    caseless: bool,
    role: Role,
}

fn accept_place(
    g: &Gazetteer,
    text: &str,
    norm: &Normalized,
    t: &Tok,
    span: Range<usize>,
    ms: &[Meaning],
    ctx: Context,
) -> Result<Pending, (RejectReason, Vec<String>)> {
    let around = Around::new(g, text, norm, t, span.clone(), ctx);
    let mut accepted: Vec<Cand> = Vec::new();
    let mut evidence: Vec<&'static str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut worst: Option<RejectReason> = None;
    for m in ms {
        let Meaning::Place { place, needs_prep } = *m else { continue };
        let p = &g.places[place as usize];
        match around.believe(p, needs_prep) {
            Ok(why) => {
                if !names.contains(&p.name.as_str()) {
                    names.push(&p.name);
                }
                let cand = Cand { muni: p.muni, salient: p.salient, class: Some(p.class), secondary: needs_prep };
                if !accepted.iter().any(|c| c.muni == cand.muni && c.class == cand.class && c.secondary == needs_prep) {
                    accepted.push(cand);
                }
                if !evidence.contains(&why) {
                    evidence.push(why);
                }
            }
            Err(RejectReason::StreetOrInstitution) => worst = Some(RejectReason::StreetOrInstitution),
            Err(_) if worst == Some(RejectReason::StreetOrInstitution) => {}
            // Report the mildest requirement that failed: it is the one a writer would fix.
            Err(r) => worst = Some(worst.filter(|w| (*w as u8) < (r as u8)).unwrap_or(r)),
        }
    }
    if accepted.is_empty() {
        return Err((worst.unwrap_or(RejectReason::CommonWord), place_candidates(g, ms)));
    }
    // «Кирове» is Киров's own locative and only a bookish one of the village Кирово: when a surface
    // is some place's primary form, readings through flagged secondary forms step aside.
    if accepted.iter().any(|c| !c.secondary) {
        accepted.retain(|c| !c.secondary);
    }
    if let Some(tw) = ctx.typed {
        // Writers mix up «с.» and «д.», «п.» and «рп»: a type word that fits nothing is ignored; but
        // «мкр. Маяк» is a part of a town, not a village called Маяк.
        if accepted.iter().any(|c| type_fits(tw, c)) {
            accepted.retain(|c| type_fits(tw, c));
        } else if tw == TypeWord::Microdistrict {
            return Err((RejectReason::UnknownMicrodistrict, place_candidates(g, ms)));
        }
    }
    let kind = mention_kind(&accepted);
    let name = (names.len() == 1).then(|| names[0].to_string());
    Ok(Pending { city_district: false, span, name, kind, cands: accepted, evidence, resolved: None, role: ctx.role })
}

fn type_fits(tw: TypeWord, c: &Cand) -> bool {
    matches!(
        (tw, c.class),
        (TypeWord::Town, Some(PlaceClass::Town))
            | (TypeWord::Urban, Some(PlaceClass::Urban))
            | (TypeWord::Rural, Some(PlaceClass::Rural))
            | (TypeWord::Settlement, Some(PlaceClass::Urban | PlaceClass::Rural))
            | (TypeWord::Microdistrict, Some(PlaceClass::Microdistrict))
    )
}

fn mention_kind(accepted: &[Cand]) -> MentionKind {
    if accepted.iter().any(|c| c.class == Some(PlaceClass::Microdistrict)) {
        MentionKind::Microdistrict
    } else if accepted.iter().all(|c| matches!(c.class, Some(PlaceClass::Town | PlaceClass::Urban))) {
        MentionKind::Town
    } else {
        MentionKind::Settlement
    }
}

/// What the words around one name say about believing it. The preposition and the sentence start
/// are computed lazily: most names are strong and need neither.
struct Around<'a> {
    g: &'a Gazetteer,
    text: &'a str,
    norm: &'a Normalized,
    t: Tok,
    span: Range<usize>,
    ctx: Context,
    cap: bool,
    /// «Заречный, Комсомольская 4 — …», «Белинский: …»: a name opening a sentence as its heading.
    heading: bool,
    /// «Луначарского 37»: a name followed by a house number is a street.
    house: bool,
    prep: OnceCell<bool>,
    opens_sentence: OnceCell<bool>,
}

impl<'a> Around<'a> {
    fn new(g: &'a Gazetteer, text: &'a str, norm: &'a Normalized, t: &Tok, span: Range<usize>, ctx: Context) -> Self {
        let after = text[span.end..].trim_start();
        Around {
            g,
            text,
            norm,
            t: *t,
            cap: capitalised(&text[span.clone()]),
            heading: at_sentence_start(text, span.start) && after.starts_with([',', ':', '—', '–', '-', '.']),
            house: after.starts_with(|c: char| c.is_ascii_digit()),
            span,
            ctx,
            prep: OnceCell::new(),
            opens_sentence: OnceCell::new(),
        }
    }

    /// A locative preposition right before the name (dots of an abbreviation skipped).
    fn has_prep(&self) -> bool {
        *self.prep.get_or_init(|| {
            let nt = &self.norm.text;
            let mut end = self.t.start;
            while end > 0 && nt[end - 1] == b'.' {
                end -= 1;
            }
            let start = nt[..end].iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
            self.g.prepositions.iter().any(|p| p[..] == nt[start..end])
        })
    }

    /// «на Луначарского», «по Кирова»: «на» and «по» never take a place in the genitive, a street
    /// named after someone always is (the village Луначарское is «в Луначарском»).
    fn street_genitive(&self) -> bool {
        // «на», «по» (encoded bytes)
        const STREET_PREPS: &[&[u8]] = &[&[0xCD, 0xC0], &[0xCF, 0xCE]];
        const GENITIVE: &[&str] = &["ого", "его", "ова", "ева", "ина", "ына"];
        let surface = self.text[self.span.clone()].to_lowercase();
        GENITIVE.iter().any(|e| surface.ends_with(e))
            && STREET_PREPS.contains(&word_before(&self.norm.text, self.t.start).0)
    }

    fn opens_sentence(&self) -> bool {
        *self.opens_sentence.get_or_init(|| at_sentence_start(self.text, self.span.start))
    }

    /// Whether `p` (read through a flagged form when `needs_prep`) is believed here: the evidence
    /// that says so, or the requirement it fails.
    fn believe(&self, p: &super::Place, needs_prep: bool) -> Result<&'static str, RejectReason> {
        let Context { typed, address, after_institution, caseless, .. } = self.ctx;
        let strength = if needs_prep { p.strength.max(Strength::Person) } else { p.strength };
        let street = after_institution || typed.is_none() && (self.house || self.street_genitive());
        if street && strength > Strength::Strong {
            return Err(RejectReason::StreetOrInstitution);
        }
        let (cap, heading) = (self.cap, self.heading);
        let ok = match strength {
            Strength::Strong => true,
            Strength::Common => {
                typed.is_some()
                    || address
                    || cap && (!self.opens_sentence() || self.has_prep())
                    || caseless && p.salient && self.has_prep()
                    || cap && p.salient && (heading || !nominative(&self.text[self.span.clone()], &p.name))
            }
            Strength::Person => {
                typed.is_some()
                    || address && cap
                    || cap && self.has_prep()
                    || caseless && p.salient && self.has_prep()
                    || cap && p.salient && heading
            }
            Strength::TypedOnly => typed.is_some(),
        };
        if !ok {
            return Err(match strength {
                Strength::Common => RejectReason::CommonWord,
                Strength::Person => RejectReason::NeedsPreposition,
                _ => RejectReason::NeedsTypeWord,
            });
        }
        Ok(match strength {
            Strength::Strong => "name",
            _ if cap && self.opens_sentence() && typed.is_none() && !address && !self.has_prep() => {
                "opens the sentence"
            }
            _ if typed.is_some() => "type word",
            _ if address => "followed by a street",
            Strength::Common if !self.has_prep() => "capitalised mid-sentence",
            _ => "preposition and capital",
        })
    }
}

/// Region narrowing: a named region wins; otherwise Penza oblast is preferred, except that a Penza
/// village does not beat another region's town of the same name.
fn narrow(
    g: &Gazetteer,
    cands: &[Cand],
    region_clues: &[u16],
) -> Result<(Vec<Cand>, Option<&'static str>), RejectReason> {
    if !region_clues.is_empty() {
        let named: Vec<Cand> = cands
            .iter()
            .copied()
            .filter(|c| region_clues.iter().any(|&r| g.regions[r as usize].code == g.region_of(c.muni)))
            .collect();
        if !named.is_empty() {
            return Ok((named, Some("region named")));
        }
    }
    let (penza, other): (Vec<Cand>, Vec<Cand>) = cands.iter().partition(|c| g.region_of(c.muni) == g.home);
    if penza.is_empty() || other.is_empty() {
        return Ok((cands.to_vec(), None));
    }
    if penza.iter().any(|c| c.salient) || !other.iter().any(|c| c.salient) {
        return Ok((penza, Some("home region preferred")));
    }
    // Contested: only a second clue (a district named elsewhere in the text) can decide.
    Err(RejectReason::OtherRegionTown)
}

/// The municipality the resolved mentions that pass `keep` agree on, and whether they disagree.
fn agree(pending: &[Pending], keep: impl Fn(&Pending) -> bool) -> (Option<u32>, bool) {
    let mut chosen: Option<u32> = None;
    let mut conflict = false;
    for m in pending.iter().filter(|p| keep(p)).filter_map(|p| p.resolved) {
        match chosen {
            None => chosen = Some(m),
            Some(c) if c != m => conflict = true,
            _ => {}
        }
    }
    (chosen, conflict)
}

/// Of mentions that disagree, the problem's place: the one left when the places the writer comes
/// from, goes to for help, works or studies at step aside («в X нет врача, едем в Y»: X; «работаю в
/// X, живу в Y»: Y); the end of a route when nothing else is left («из X в Y»: Y); else the last
/// one set against the others («в X дали, а в Y нет»); else the writer's home when the text comes
/// back to it («Живу в X. Ездили в Y… А у нас…»: X).
fn problems_place(pending: &[Pending]) -> Option<u32> {
    let aside = |p: &Pending| p.role.aside();
    let (m, conflict) = agree(pending, |p| !aside(p));
    if m.is_some() && !conflict {
        return m;
    }
    if m.is_none() {
        let (m, conflict) = agree(pending, |p| !aside(p) || p.role == Role::RouteEnd);
        if m.is_some() && !conflict {
            return m;
        }
    }
    // The place set against the others («…, а в Y»), when what follows names only it again
    // («а работаю в Пензе. В Пензе на Окружной пробка»).
    let mut named: Vec<&Pending> = pending.iter().filter(|p| p.resolved.is_some() && !aside(p)).collect();
    named.sort_by_key(|p| p.span.start);
    if let Some(turn) = named.iter().rposition(|p| p.role == Role::Contrast) {
        let m = named[turn].resolved;
        if named[turn..].iter().all(|p| p.resolved == m) {
            return m;
        }
    }
    // The writer's home, when the text comes back to it and the other places were visited.
    let (m, conflict) = agree(pending, |p| p.role == Role::Home);
    m.filter(|_| !conflict)
}

fn unique_muni(cands: &[Cand]) -> Option<u32> {
    let first = cands.first()?.muni;
    cands.iter().all(|c| c.muni == first).then_some(first)
}

/// Settles every pending mention on a municipality, or rejects it, and chooses the text's.
fn settle(
    g: &Gazetteer,
    res: &mut Resolution,
    pending: Vec<Pending>,
    pending_token: &[usize],
    region_clues: &[u16],
    adj_clues: &[(u32, usize)],
) {
    let mut s = Settling::narrowed(g, pending, pending_token, region_clues);
    s.step_aside_for_other_cities(res);
    s.apply_second_clues(res, adj_clues);
    let (chosen, conflict) = s.choose(region_clues);
    s.record(res, conflict);
    if !conflict {
        res.chosen = chosen.map(|m| {
            let muni = &g.municipalities[m as usize];
            let evidence = MunicipalityEvidence::Text;
            MunicipalityMatch { oktmo: muni.oktmo.clone(), name: muni.name.clone(), evidence }
        });
    }
}

/// The pending mentions while they settle, with what each step found (indexed alike).
struct Settling<'a> {
    g: &'a Gazetteer,
    pending: Vec<Pending>,
    /// The token each mention was read from: a mention is never its own second clue.
    tokens: &'a [usize],
    /// Candidates left after region narrowing; `None` once the mention stepped aside.
    narrowed: Vec<Option<Vec<Cand>>>,
    /// Both a home-region village and another region's town: only a second clue decides.
    contested: Vec<bool>,
    /// Already recorded as rejected.
    gave_up: Vec<bool>,
}

impl<'a> Settling<'a> {
    /// Pass 1: region narrowing, and mentions that name one municipality outright.
    fn narrowed(g: &'a Gazetteer, mut pending: Vec<Pending>, tokens: &'a [usize], region_clues: &[u16]) -> Self {
        let mut narrowed = Vec::with_capacity(pending.len());
        let mut contested = Vec::with_capacity(pending.len());
        for p in &mut pending {
            match narrow(g, &p.cands, region_clues) {
                Ok((c, why)) => {
                    p.evidence.extend(why);
                    p.resolved = unique_muni(&c);
                    narrowed.push(Some(c));
                    contested.push(false);
                }
                Err(_) => {
                    narrowed.push(Some(p.cands.clone()));
                    contested.push(true);
                }
            }
        }
        let gave_up = vec![false; pending.len()];
        Settling { g, pending, tokens, narrowed, contested, gave_up }
    }

    fn give_up(&mut self, res: &mut Resolution, k: usize, reason: RejectReason) {
        let p = &self.pending[k];
        let candidates = p.cands.iter().map(|c| self.g.oktmo(c.muni)).collect();
        res.rejected.push(Rejected { surface: String::new(), span: p.span.clone(), candidates, reason });
        self.gave_up[k] = true;
    }

    /// «Октябрьский район» next to another city is that city's internal district, which the
    /// gazetteer does not list: the district phrase steps aside and the city decides.
    fn step_aside_for_other_cities(&mut self, res: &mut Resolution) {
        let g = self.g;
        let cities: Vec<u32> = (self.pending.iter().filter_map(|p| p.resolved))
            .filter(|&m| g.municipalities[m as usize].kind == super::MunicipalityKind::UrbanOkrug)
            .collect();
        for k in 0..self.pending.len() {
            let p = &self.pending[k];
            if p.city_district && cities.iter().any(|m| !p.cands.iter().any(|c| c.muni == *m)) {
                self.give_up(res, k, RejectReason::OtherCityDistrict);
                self.pending[k].resolved = None;
                self.narrowed[k] = None;
            }
        }
    }

    /// Pass 2: second clues from other mentions and bare district adjectives, then salience.
    fn apply_second_clues(&mut self, res: &mut Resolution, adj_clues: &[(u32, usize)]) {
        let firm: Vec<(u32, usize)> = (self.pending.iter().zip(self.tokens))
            .filter_map(|(p, &tok)| p.resolved.map(|m| (m, tok)))
            .chain(adj_clues.iter().copied())
            .collect();
        for k in 0..self.pending.len() {
            let Some(cands) = &self.narrowed[k] else { continue };
            if self.pending[k].resolved.is_some() {
                continue;
            }
            let me = self.tokens[k];
            let clued: Vec<Cand> =
                cands.iter().copied().filter(|c| firm.iter().any(|&(m, tok)| tok != me && m == c.muni)).collect();
            let salient: Vec<Cand> = cands.iter().copied().filter(|c| c.salient).collect();
            if let Some(m) = unique_muni(&clued) {
                self.pending[k].resolved = Some(m);
                self.pending[k].evidence.push("second clue");
            } else if self.contested[k] {
                self.give_up(res, k, RejectReason::OtherRegionTown);
            } else if let Some(m) = unique_muni(&salient) {
                self.pending[k].resolved = Some(m);
                self.pending[k].evidence.push("town or district centre preferred");
            }
        }
    }

    /// The municipality the mentions agree on, and whether something contradicts it.
    fn choose(&mut self, region_clues: &[u16]) -> (Option<u32>, bool) {
        let (mut chosen, conflict) = agree(&self.pending, |_| true);
        if conflict {
            let Some(m) = problems_place(&self.pending) else { return (chosen, true) };
            for p in self.pending.iter_mut().filter(|p| p.resolved.is_some_and(|r| r != m)) {
                p.resolved = None;
                p.role = Role::Origin;
            }
            chosen = Some(m);
        }
        let Some(c) = chosen else { return (None, false) };
        // An unresolved place that cannot be the chosen municipality is a second, different place
        // (unless it is only where the writer comes from).
        let elsewhere = self.pending.iter().zip(&self.narrowed).any(|(p, narrowed)| {
            p.resolved.is_none()
                && !p.role.passing()
                && narrowed.as_ref().is_some_and(|cands| !cands.iter().any(|x| x.muni == c))
        });
        let g = self.g;
        let other_region =
            !region_clues.is_empty() && !region_clues.iter().any(|&r| g.regions[r as usize].code == g.region_of(c));
        (chosen, elsewhere || other_region)
    }

    /// Every pending mention becomes a [`Mention`]; the unsettled and the contradicted are also
    /// recorded as rejected, with why.
    fn record(self, res: &mut Resolution, conflict: bool) {
        let g = self.g;
        for ((p, narrowed), gave_up) in self.pending.into_iter().zip(&self.narrowed).zip(&self.gave_up) {
            let mut candidates: Vec<String> = Vec::new();
            for c in &p.cands {
                let o = g.oktmo(c.muni);
                if !candidates.contains(&o) {
                    candidates.push(o);
                }
            }
            let unsettled = p.resolved.is_none() && narrowed.is_some() && !gave_up;
            let reason = match (unsettled, p.role.aside()) {
                (true, true) => Some(RejectReason::NotTheProblemsPlace),
                (true, false) => Some(RejectReason::Ambiguous),
                (false, _) if conflict && p.resolved.is_some() => Some(RejectReason::Conflict),
                (false, _) => None,
            };
            if let Some(reason) = reason {
                let (span, candidates) = (p.span.clone(), candidates.clone());
                res.rejected.push(Rejected { span, surface: String::new(), candidates, reason });
            }
            res.mentions.push(Mention {
                span: p.span,
                surface: String::new(),
                kind: p.kind,
                name: p.name,
                candidates,
                resolved: p.resolved.map(|m| g.oktmo(m)),
                evidence: p.evidence,
            });
        }
    }
}

#[cfg(test)]
mod start_filter {
    use super::*;

    /// The filtered anchored searches find exactly what one `find_iter` pass finds (after the
    /// right-boundary check), on the shipped gazetteer.
    #[test]
    fn same_tokens_as_a_full_pass() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/gazetteer/gazetteer.tsv");
        let Ok(g) = Gazetteer::load(&path) else { return };
        let texts = [
            "Третий день нет горячей воды в доме на Московской 12, г.Пенза, Сердобский р-н",
            "в с. Каменка Белинского района и в Нижнем Ломове, Кузнецк-12, пгт Золотаревка, р-н",
            "Йошкар-Ола, Мордовия, Пензенская обл. ул.Белинского д.5 Заречный Сосновка п.Лунино",
            "",
            "с",
            "г. п. д. ст. рп мкр. Арбеково Терновка Спутник",
        ];
        // The labelled set, and any CSV named by OTKLIK_FILTER_CSV (a `text` column).
        let mut csvs =
            vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/classify/labeled.csv")];
        csvs.extend(std::env::var_os("OTKLIK_FILTER_CSV").map(std::path::PathBuf::from));
        let mut owned: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        for path in csvs {
            let Ok(mut r) = csv::Reader::from_path(&path) else { continue };
            let col = r.headers().ok().and_then(|h| h.iter().position(|c| c == "text"));
            for rec in r.records().flatten() {
                if let Some(t) = col.and_then(|c| rec.get(c)) {
                    owned.push(t.to_string());
                }
            }
        }
        assert!(owned.len() > 100, "the labelled set is read");
        for t in &owned {
            let mut norm = Normalized::default();
            normalize_into(t, &mut norm);
            let nt = &norm.text[..];
            let full: Vec<(usize, usize, usize)> = g
                .automaton
                .find_iter(nt)
                .filter(|m| {
                    m.end() >= nt.len() || nt[m.end()] == b' ' || nt[m.end()] == b'.' || nt[m.end() - 1] == b'.'
                })
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            let fast: Vec<(usize, usize, usize)> = tokens(&g, nt).iter().map(|t| (t.start, t.end, t.pattern)).collect();
            assert_eq!(full, fast, "{t}");
        }
    }
}
