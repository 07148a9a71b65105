//! Words that say where or why, not what.
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
//! **Causes.** «После прорыва водопровода не восстановили асфальт» is about the asphalt; the
//! burst main is why it was dug up. A preposition of time or cause — после, при, в ходе, из-за,
//! вследствие, в результате… — before a noun of works (a repair, a replacement: [`WORKS`])
//! marks the works and what they were done to («после замены газовых труб», «из-за ремонта
//! теплотрассы») as a *cause*; so does a preposition of time before a failure (a burst, a
//! cut-off: [`FAILURES`]), which it says is over («после отключения электричества»). A cause says why: its words count like a place
//! word's (see `score`), strengthening a topic named otherwise and deciding only when nothing
//! else names one. Only events are causes: «из-за ямы пробил колесо», «из-за снега не пройти»
//! name the fault itself, and residents write so far more often than they name a cause.
//!
//! **Names.** «ул. Школьная», «на Лиственной улице», «остановка Больничная», «проспект
//! Строителей»: a street's, a square's or a stop's name is an address, whatever its words mean
//! elsewhere. Its words are marked as a *name*, and a topic rule's match that starts or ends on
//! a name (a phrase's first or last term matched by it) does not count at all. A name is the word after an abbreviation that only ever stands before
//! one («ул.», «пр-т», «пер.»), in any case; or a word written as a name is (a capital, then lower
//! case, not first in its sentence) right after the kind of place it names («улица», «остановка»)
//! or right before it («Садовая улица»). A predicate in lower case stays a word: «улица грязная»,
//! «на тёмной улице».

use crate::normalize::{Normalized, NAME_ABBREVIATIONS};
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
const GENITIVE_ADJECTIVE: &[&str] = &["ого", "его", "ой", "ей", "ых", "их"];
const INSTRUMENTAL_ADJECTIVE: &[&str] = &["ым", "им", "ыми", "ими"];
/// Not «-ие», «-ее»: nouns end so too («отопление», «покрытие»).
const ACCUSATIVE_ADJECTIVE: &[&str] = &["ый", "ий", "ую", "юю", "ое", "ые"];

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
const OPENS: Kinds = 1 << 4;
const CONTRAST: Kinds = 1 << 5;

/// Ends as a verb in the past does (see [`past_form`]).
const PAST: Kinds = 1 << 6;

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
    mark_causes(norm, kinds, out);
    mark_done(norm, kinds, out);
    mark_doers(norm, kinds, out);
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
        if before && kind {
            name_before(i, out);
        }
    }
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

/// Prepositions of time and of cause that may name an event behind the problem; each is one or
/// two tokens («из-за» is one after normalisation).
const TIME_PREPOSITIONS: &[&[&str]] = &[&["после"], &["в", "ходе"], &["во", "время"], &["при"]];
const CAUSE_PREPOSITIONS: &[&[&str]] = &[&["из-за"], &["вследствие"], &["в", "результате"], &["по", "причине"]];

/// Stems of nouns of works done to a thing — a repair, a replacement, a dig — in every case. A
/// noun of a state or a thing («ямы», «снега», «отсутствия») is no event: said after «из-за»,
/// it is the fault itself.
const WORKS: &[&str] = &[
    "ремонт",
    "замен",
    "покос",
    "уборк",
    "чистк",
    "очистк",
    "расчистк",
    "покраск",
    "раскопк",
    "раскопок",
    "укладк",
    "установк",
    "вырубк",
    "спил",
    "обрезк",
    "опрессовк",
    "промывк",
    "строительств",
    "прокладк",
    "монтаж",
    "демонтаж",
    "реконструкци",
];

/// Whole forms of works nouns whose stem starts other words too («работ» — «работает»).
const WORKS_FORMS: &[&str] = &["работ", "работы", "работах", "работами", "работе"];

/// Stems of nouns of a failure — a burst, a cut-off, a leak. After a preposition of time it is
/// over and is a cause («после отключения электричества лифт стоит»); after «из-за» it is as
/// often the fault still to be mended («вонь из-за прорыва канализационных труб»), so only time
/// makes it a cause.
const FAILURES: &[&str] =
    &["прорыв", "порыв", "отключени", "авари", "протечк", "протечек", "затоплени", "поломк", "замыкани"];

fn is_works(word: &str) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(WORKS));
    STEMS.start(word) || WORKS_FORMS.contains(&word)
}

fn is_failure(word: &str) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(FAILURES));
    STEMS.start(word)
}

/// Prepositions that join a place or a source to an event («протечки с крыши», «прорыва на
/// теплотрассе», «работ по замене»).
const EVENT_PREPOSITIONS: &[&str] = &["с", "со", "на", "в", "во", "по", "из", "под"];

/// Words that end a noun group: what follows them is another clause or another subject.
const GROUP_BREAKS: &[&str] = &["и", "а", "но", "не", "нет", "что", "как", "когда", "уже", "ещё", "еще", "так"];

/// Conjunctions that open a clause of time or cause («когда меняли трубы, …»); each is one to
/// four tokens. All but «из-за того что» say time.
const CLAUSE_OPENERS: &[&[&str]] = &[
    &["когда"],
    &["пока"],
    &["как", "только"],
    &["после", "того", "как"],
    &["с", "тех", "пор", "как"],
    &["из-за", "того", "что"],
];

/// The most words between a clause's opener and its verb («когда в подвале меняли трубы»).
const MAX_BEFORE_VERB: usize = 3;

/// Stems of verbs of works («меняли», «ремонтировали», «чистили»); only their past forms open a
/// cause, so that «когда отремонтируют дорогу?» stays the question it is.
const WORKS_VERBS: &[&str] = &[
    "меня",
    "поменя",
    "замени",
    "заменя",
    "ремонтир",
    "отремонтир",
    "чистил",
    "почистил",
    "расчища",
    "расчистил",
    "очища",
    "очистил",
    "убира",
    "копа",
    "раскопа",
    "перекопа",
    "раскапыва",
    "уклады",
    "клал",
    "положил",
    "уложил",
    "асфальтир",
    "ставил",
    "устанавлива",
    "установил",
    "спилива",
    "спилил",
    "пилил",
    "обреза",
    "подреза",
    "красил",
    "покрасил",
    "строил",
    "прокладыва",
    "проложил",
    "промыва",
    "промыл",
    "монтир",
    "демонтир",
];

/// Stems of verbs of a failure, a cause in a clause of time («когда отключили свет, …»).
const FAILURE_VERBS: &[&str] = &["отключ", "перекрыва", "перекрыл", "прорвал", "порвал"];

/// Marks the events named as causes (see the module docs).
fn mark_causes(norm: &Normalized, kinds: &[Kinds], out: &mut [Role]) {
    let n = norm.tokens.len();
    let word = |i: usize| (i < n).then(|| norm.token(i));
    // A group does not reach past a punctuation mark («после ремонта, дорогу…»).
    let unpaused = |i: usize| (i < n && !norm.paused[i]).then(|| norm.token(i));
    let starts = |i: usize, p: &[&str]| p.iter().enumerate().all(|(k, w)| word(i + k) == Some(*w));
    let mut i = 0;
    while i < n {
        // Most words neither open a clause or a group nor are a verb of works.
        let w = norm.token(i);
        if kinds[i] & (OPENS | PAST) == 0 {
            i += 1;
            continue;
        }
        if let Some(opener) = CLAUSE_OPENERS.iter().find(|p| starts(i, p)) {
            let of_time = opener[0] != "из-за";
            let after = i + opener.len();
            let verb = (after..n)
                .take(MAX_BEFORE_VERB + 1)
                .take_while(|&t| t == after || unpaused(t).is_some_and(|w| !GROUP_BREAKS.contains(&w)))
                .find(|&t| is_works_verb(norm.token(t), of_time));
            if let Some(verb) = verb {
                // Who did the works is part of the story too («когда газовики прокладывали трубу»).
                let end = event_object(verb + 1, true, unpaused);
                out[after..end].fill(Role::Cause);
                i = end;
                continue;
            }
        }
        // Works told without a conjunction: first in a clause («Ремонтировали дорогу и
        // закатали лунки»), or anywhere when «и» and a verb of damage follow («дорожники ставили
        // светофор и задели кабель»). The word before the verb, its doer, goes with it.
        if is_works_verb(w, false) {
            let end = event_object(i + 1, true, unpaused);
            let damage_follows = word(end) == Some("и") && word(end + 1).is_some_and(is_damage_verb);
            if norm.paused[i] || damage_follows {
                let doer = if i > 0 && unpaused(i).is_some() && !GROUP_BREAKS.contains(&norm.token(i - 1)) {
                    i - 1
                } else {
                    i
                };
                out[doer..end].fill(Role::Cause);
                i = end;
                continue;
            }
        }
        let (len, of_time) = match TIME_PREPOSITIONS.iter().find(|p| starts(i, p)) {
            Some(p) => (p.len(), true),
            None => match CAUSE_PREPOSITIONS.iter().find(|p| starts(i, p)) {
                Some(p) => (p.len(), false),
                None => {
                    i += 1;
                    continue;
                }
            },
        };
        let mut at = i + len;
        while word(at).is_some_and(|w| is_modifier(w, GENITIVE_ADJECTIVE)) {
            at += 1;
        }
        if !word(at).is_some_and(|w| is_works(w) || (of_time && is_failure(w))) {
            i += len;
            continue;
        }
        let end = event_object(at + 1, false, unpaused);
        out[i + len..end].fill(Role::Cause);
        i = end;
    }
}

/// Stems of verbs of damage done in passing («задели кабель», «повредили трубу»).
const DAMAGE_VERBS: &[&str] = &[
    "задел",
    "повредил",
    "порвал",
    "перерубил",
    "разбил",
    "сломал",
    "снес",
    "засыпал",
    "закатал",
    "разобрал",
    "оборвал",
    "залил",
    "перебил",
    "пробил",
    "раздавил",
    "продавил",
    "сорвал",
    "сбил",
    "перелома",
    "раздолба",
    "погнул",
    "помял",
    "выбил",
];

/// Stems of the machines and crews of a service that do damage in passing («мусоровоз продавил
/// асфальт», «грейдер сорвал бордюр»): named before a verb of damage, they are its doer, a cause.
const DOERS: &[&str] = &[
    "мусоровоз",
    "грейдер",
    "снегоуборщ",
    "трактор",
    "экскаватор",
    "погрузчик",
    "газовик",
    "дорожник",
    "энергетик",
    "электрик",
    "провайдер",
    "сантехник",
    "водоканал",
    "строител",
    "коммунальщик",
];

/// The most words between a doer and its verb of damage («мусоровоз каждый раз заезжает и
/// продавил»).
const MAX_DOER_TO_DAMAGE: usize = 6;

/// Marks a service's machine or crew named as the doer of damage, and the words between it and
/// the verb («мусоровоз разворачивается по газону и разбил бордюр»).
fn mark_doers(norm: &Normalized, kinds: &[Kinds], out: &mut [Role]) {
    // Verbs of damage are few and cheap to tell (a past form first): look back from them.
    for verb in 1..norm.tokens.len() {
        // The past-form bit spares most words the look at the stems.
        let w = norm.token(verb);
        if (kinds[verb] & PAST == 0 && w != "снес") || !is_damage_verb(w) {
            continue;
        }
        let doer = (verb.saturating_sub(MAX_DOER_TO_DAMAGE)..verb)
            .rev()
            // «и» joins the doer's verbs («ездят и раздолбали»).
            .take_while(|&t| t + 1 == verb || norm.token(t + 1) == "и" || !CLAUSE_BREAKS.contains(&norm.token(t + 1)))
            .find(|&t| DOER_STEMS.start(norm.token(t)));
        if let Some(doer) = doer {
            out[doer..verb].fill(Role::Cause);
        }
    }
}

fn is_damage_verb(word: &str) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(DAMAGE_VERBS));
    (past_form(word) || word == "снес") && STEMS.start(word)
}

/// A word that ends as a verb in the past does («-л», «-ли», «-ла», «-ло»), read from its bytes:
/// the cheap test that most words fail before any list is searched.
fn past_form(word: &str) -> bool {
    const L: &[u8] = "л".as_bytes();
    let b = word.as_bytes();
    b.ends_with(L)
        || (b.len() >= 4 && &b[b.len() - 4..b.len() - 2] == L && matches!(b[b.len() - 2..], [0xD0, 0xB8 | 0xB0 | 0xBE]))
}

/// A verb of works in the past, or of a failure when `of_time`.
fn is_works_verb(word: &str, of_time: bool) -> bool {
    past_form(word) && (WORKS_VERB_STEMS.start(word) || (of_time && FAILURE_VERB_STEMS.start(word)))
}

/// One past the last token of what the event at `head - 1` was done to, starting at `head`: its
/// noun (in the genitive after a noun of works, in the accusative too after a verb), with the
/// adjectives before it («газовых труб»), or a preposition and its noun («с крыши»); and what it
/// belongs to («системы отопления», «стояки холодной воды»). A word that ends a group, or
/// nothing, leaves the event alone.
fn event_object<'a>(head: usize, accusative: bool, word: impl Fn(usize) -> Option<&'a str>) -> usize {
    let mut at = head;
    if word(at).is_some_and(|w| EVENT_PREPOSITIONS.contains(&w)) {
        at += 1;
    }
    // After a verb the object is in the accusative too («положили новый асфальт»).
    let adjective = if accusative { ACCUSATIVE_ADJECTIVE } else { GENITIVE_ADJECTIVE };
    while word(at).is_some_and(|w| is_modifier(w, GENITIVE_ADJECTIVE) || is_modifier(w, adjective)) {
        at += 1;
    }
    let is_object = |w: &str| {
        !GROUP_BREAKS.contains(&w)
            && w.chars().count() > 2
            && (accusative || !(w.ends_with('у') || w.ends_with('ю')))
            && !is_past_verb(w)
    };
    if !word(at).is_some_and(is_object) {
        return head;
    }
    // «системы отопления», «сетей водоснабжения»: a noun in «-ния», «-ства» after the object is
    // the genitive of a service (a subject that ends so is rare); so is an adjective in the
    // genitive and its noun («стояки холодной воды»).
    let service = |w: &str| w.ends_with("ния") || w.ends_with("ства") || w.ends_with("ции") || NETWORKS.contains(&w);
    if word(at + 1).is_some_and(service) {
        return at + 2;
    }
    let mut of = at + 1;
    while word(of).is_some_and(|w| is_modifier(w, GENITIVE_ADJECTIVE)) {
        of += 1;
    }
    if of > at + 1 && word(of).is_some_and(is_object) {
        return of + 1;
    }
    at + 1
}

/// The networks that works are done on, in the genitive («трубы водопровода»).
const NETWORKS: &[&str] = &["водопровода", "газопровода", "теплотрассы", "теплосети", "ливневки", "ливневой"];

/// Words that turn from what was done to what is still wrong («дерево убрали, а света нет»).
const CONTRASTS: &[&str] = &["а", "но", "однако", "зато"];

/// Stems of verbs that say a problem was dealt with: removed, mended, restored, given back.
const DONE_VERBS: &[&str] = &[
    "устранил",
    "устранен",
    "убрал",
    "убран",
    "починил",
    "почищен",
    "заменил",
    "заменен",
    "поменял",
    "восстановил",
    "восстановлен",
    "залатал",
    "заварил",
    "распилил",
    "спилил",
    "увезл",
    "увез",
    "отремонтировал",
    "отремонтирован",
    "дали",
    "включил",
    "подключил",
    "заделал",
    "сделал",
];

/// The most words of a clause before its verb of done («порыв на трассе гвс уже устранили») and
/// between the verb and the contrast («убрали ещё вчера, а…»).
const MAX_DONE_OBJECT: usize = 5;
const MAX_DONE_TAIL: usize = 2;

/// Marks as a cause a clause that says a problem was dealt with, right before a contrast
/// («ветку уже убрали, а на аллее темно», «свет дали, но насос стоит»): what was done is the
/// story, the post is about what is still wrong after the contrast.
fn mark_done(norm: &Normalized, kinds: &[Kinds], out: &mut [Role]) {
    let n = norm.tokens.len();
    for k in 1..n {
        if kinds[k] & CONTRAST == 0 {
            continue;
        }
        // «не сделали покрытие, но…» says what was not done: no story, the problem itself.
        let done = |t: usize| is_done_verb(norm.token(t)) && (t == 0 || norm.token(t - 1) != "не");
        let Some(verb) = (k.saturating_sub(MAX_DONE_TAIL + 1)..k).rev().find(|&t| done(t)) else {
            continue;
        };
        // The clause's words before its verb, back to a word that ends another clause; «и»
        // joins two verbs of done («распилили и увезли»).
        let mut start = verb;
        while start > 0 && !norm.paused[start] && verb - start < MAX_DONE_OBJECT {
            let w = norm.token(start - 1);
            let joins = (w == "и" && start >= 2 && done(start - 2)) || done(start - 1);
            if !joins && (CLAUSE_BREAKS.contains(&w) || is_past_verb(w)) {
                break;
            }
            start -= 1;
        }
        out[start..k].fill(Role::Cause);
    }
}

/// Words that end a clause when read backwards from a verb.
const CLAUSE_BREAKS: &[&str] = &["и", "а", "но", "однако", "что", "как", "когда", "если", "хотя", "не", "нет"];

fn is_done_verb(word: &str) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(DONE_VERBS));
    STEMS.start(word)
}

/// «сломали», «повредила», «стало»: a verb in the past, the next clause's predicate. A noun
/// ends so rarely («кровли», «котла» have a consonant before the ending).
fn is_past_verb(word: &str) -> bool {
    let mut rev = word.chars().rev();
    let (Some(last), Some(l), Some(vowel)) = (rev.next(), rev.next(), rev.next()) else { return false };
    matches!(last, 'и' | 'а' | 'о') && l == 'л' && "аяеиыуо".contains(vowel)
}

static DOER_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(DOERS));
static WORKS_VERB_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(WORKS_VERBS));
static FAILURE_VERB_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(FAILURE_VERBS));

/// A list of stems, each of two letters or more, with their first four bytes (two Cyrillic
/// letters) as a number: a word is compared only with the stems that begin as it does, and most
/// words begin as none does.
struct Stems {
    heads: Vec<u32>,
    stems: Vec<&'static str>,
}

impl Stems {
    fn new(stems: &[&'static str]) -> Stems {
        let heads = stems.iter().map(|s| head(s).expect("a stem of four bytes or more")).collect();
        Stems { heads, stems: stems.to_vec() }
    }

    /// Whether `word` starts with one of the stems.
    fn start(&self, word: &str) -> bool {
        let Some(h) = head(word) else { return false };
        self.heads.iter().zip(&self.stems).any(|(&x, stem)| x == h && word.starts_with(stem))
    }
}

fn head(word: &str) -> Option<u32> {
    word.as_bytes().first_chunk::<4>().map(|b| u32::from_le_bytes(*b))
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
fn is_modifier(word: &str, endings: &[&str]) -> bool {
    word.bytes().all(|b| b.is_ascii_digit())
        || endings.iter().any(|e| word.ends_with(e) && word.chars().count() > e.chars().count() + 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn marked(text: &str, role: Role) -> Vec<String> {
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

    fn causes(text: &str) -> Vec<String> {
        marked(text, Role::Cause)
    }

    #[test]
    fn works_after_a_preposition_of_time_or_cause_are_a_cause() {
        assert_eq!(causes("после ремонта теплотрассы не восстановили асфальт"), ["ремонта", "теплотрассы"]);
        assert_eq!(causes("после замены газовых труб дыры в стенах"), ["замены", "газовых", "труб"]);
        assert_eq!(causes("из-за ремонта дороги автобус пустили в объезд"), ["ремонта", "дороги"]);
        assert_eq!(causes("при замене асфальта повредили корни"), ["замене", "асфальта"]);
        assert_eq!(causes("после промывки системы отопления вода ржавая"), ["промывки", "системы", "отопления"]);
        assert_eq!(causes("во время ремонтных работ сломали скамейку"), ["ремонтных", "работ"]);
        assert_eq!(causes("после ремонта, дорогу не убрали"), ["ремонта"]);
        assert_eq!(causes("после ремонта кровли течёт"), ["ремонта", "кровли"]);
    }

    #[test]
    fn a_failure_is_a_cause_once_it_is_over() {
        assert_eq!(causes("после отключения электричества лифт стоит"), ["отключения", "электричества"]);
        assert_eq!(causes("после прорыва на теплотрассе яма"), ["прорыва", "на", "теплотрассе"]);
        // After «из-за» a failure is as often the fault still to be mended.
        assert!(causes("вонь из-за прорыва канализационных труб").is_empty());
    }

    #[test]
    fn a_thing_or_a_state_after_a_preposition_of_cause_is_the_fault_itself() {
        assert!(causes("из-за ямы на дороге пробил колесо").is_empty());
        assert!(causes("из-за снега не пройти").is_empty());
        assert!(causes("из-за отсутствия освещения страшно").is_empty());
        assert!(causes("после дождя яма").is_empty());
        assert!(causes("после работы прихожу, а света нет") == ["работы"]);
    }

    #[test]
    fn a_clause_of_works_or_of_a_failure_is_a_cause() {
        assert_eq!(causes("Когда меняли водопровод, задели кабель"), ["меняли", "водопровод"]);
        assert_eq!(causes("когда чистили снег у дома, снесли скамейку"), ["чистили", "снег"]);
        assert_eq!(causes("когда ремонтировали дорогу засыпали колодец"), ["ремонтировали", "дорогу"]);
        assert_eq!(
            causes("из-за того что в подвале меняли стояки холодной воды, перекрыли горячую"),
            ["в", "подвале", "меняли", "стояки", "холодной", "воды"]
        );
        assert_eq!(
            causes("после того как газовики прокладывали трубу, фонари не горят"),
            ["газовики", "прокладывали", "трубу"]
        );
        assert_eq!(causes("Ремонтировали отопление и разобрали кровлю"), ["ремонтировали", "отопление"]);
        assert_eq!(causes("дорожники ставили светофор и задели кабель"), ["дорожники", "ставили", "светофор", "и"]);
        assert_eq!(causes("как только положили новый асфальт, вода стоит"), ["положили", "новый", "асфальт"]);
        // In the middle of a clause and with no damage after it, works are the subject.
        assert!(causes("во дворе ремонтировали дорогу плохо").is_empty());
        assert_eq!(causes("когда отключили свет, троллейбусы встали"), ["отключили", "свет"]);
        // Not in the past: a question, not a cause.
        assert!(causes("когда отремонтируют дорогу?").is_empty());
        // A failure is a cause in a clause of time only.
        assert!(causes("из-за того что отключили свет, сидим").is_empty());
    }

    #[test]
    fn what_was_dealt_with_before_a_contrast_is_a_cause() {
        assert_eq!(causes("Ветку уже убрали, а на аллее темно"), ["ветку", "уже", "убрали"]);
        assert_eq!(causes("дерево распилили и увезли, а света нет"), ["дерево", "распилили", "и", "увезли"]);
        assert_eq!(
            causes("Порыв на трассе ГВС уже устранили, но вода замёрзла"),
            ["порыв", "на", "трассе", "гвс", "уже", "устранили"]
        );
        // Only back to the clause's start.
        assert_eq!(causes("Пахнет серой. Мусоропровод заварили, а баки полные"), ["мусоропровод", "заварили"]);
        // What was not done is the problem itself.
        assert!(causes("не сделали покрытие, но площадку открыли").is_empty());
    }

    #[test]
    fn a_services_machine_doing_damage_is_a_cause() {
        assert_eq!(
            causes("мусоровоз каждый раз заезжает и продавил асфальт"),
            ["мусоровоз", "каждый", "раз", "заезжает", "и"]
        );
        assert!(causes("мусоровоз не приезжает неделю").is_empty());
    }

    #[test]
    fn a_group_stops_at_a_punctuation_mark() {
        assert_eq!(causes("после ремонта, трубы текут"), ["ремонта"]);
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
