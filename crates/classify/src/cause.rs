//! Words that say why, not what: the events named as the cause of a problem.
//!
//! «После прорыва водопровода не восстановили асфальт» is about the asphalt; the burst main is
//! why it was dug up. `mark` marks as a *cause* (`Role::Cause`) the words of an event told in
//! one of four shapes:
//!
//! - works, or a failure that is over, after a preposition of time or cause: «после замены
//!   газовых труб», «при ремонте тротуара», «из-за ремонта дороги» (`WORKS`; a failure —
//!   a burst, a cut-off, `FAILURES` — after a preposition of time only: «вонь из-за прорыва
//!   канализационных труб» names the fault still to be mended);
//! - a clause of works or of a cut-off: «когда меняли водопровод, …», «с тех пор как газовики
//!   прокладывали трубу», or works first in a clause or followed by damage («Ремонтировали дорогу
//!   и закатали лунки»);
//! - what was dealt with, right before a contrast: «дерево уже распилили, а света нет»;
//! - a service's machine or crew before a verb of damage: «мусоровоз … продавил асфальт».
//!
//! A noun of a thing or a state is no event: «из-за ямы пробил колесо», «из-за снега не пройти»
//! name the fault itself, and residents write so far more often than they name a cause. A cause
//! counts only when nothing else names the subject (see `score`). The group after an event stops
//! at a punctuation mark (`Normalized::paused`).
//!
//! Neighbours: [`location`](crate::location) marks places and names and owns the per-token
//! lexicon (`Kinds`) both read; `score` weighs what the marks say.

use crate::location::{is_modifier, Kinds, Role, CONTRAST, GENITIVE_ADJECTIVE, OPENS, PAST};
use crate::normalize::Normalized;
use std::sync::LazyLock;

/// Marks in `out` the words of events named as causes; `kinds` holds each token's lexicon bits.
pub(crate) fn mark(norm: &Normalized, kinds: &[Kinds], out: &mut [Role]) {
    mark_events(norm, kinds, out);
    mark_done(norm, kinds, out);
    mark_doers(norm, kinds, out);
}

/// Prepositions of time and of cause that may name an event behind the problem; each is one or
/// two tokens («из-за» is one after normalisation).
pub(crate) const TIME_PREPOSITIONS: &[&[&str]] = &[&["после"], &["в", "ходе"], &["во", "время"], &["при"]];
pub(crate) const CAUSE_PREPOSITIONS: &[&[&str]] =
    &[&["из-за"], &["вследствие"], &["в", "результате"], &["по", "причине"]];

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
    WORKS_STEMS.start(word) || WORKS_FORMS.contains(&word)
}

fn is_failure(word: &str) -> bool {
    FAILURE_STEMS.start(word)
}

/// Prepositions that join a place or a source to an event («протечки с крыши», «прорыва на
/// теплотрассе», «работ по замене»).
const EVENT_PREPOSITIONS: &[&str] = &["с", "со", "на", "в", "во", "по", "из", "под"];

/// Words that end a noun group read forwards: what follows them is another clause or another
/// subject. Unlike [`CLAUSE_BREAKS`], «уже», «ещё» end it too («после ремонта уже месяц…»).
const GROUP_BREAKS: &[&str] = &["и", "а", "но", "не", "нет", "что", "как", "когда", "уже", "ещё", "еще", "так"];

/// Conjunctions that open a clause of time or cause («когда меняли трубы, …»); each is one to
/// four tokens. All but «из-за того что» say time.
pub(crate) const CLAUSE_OPENERS: &[&[&str]] = &[
    &["когда"],
    &["пока"],
    &["как", "только"],
    &["после", "того", "как"],
    &["с", "тех", "пор", "как"],
    &["из-за", "того", "что"],
];

/// The most words between a clause's opener and its verb («когда в подвале меняли трубы»,
/// «после того как на ул. Лермонтова в Кузнецке перекрыли проезд»). Further, the verb is more
/// often another clause's, where punctuation is missing («когда расселят … плитку положили»).
const MAX_BEFORE_VERB: usize = 5;

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

/// Marks works and failures after a preposition, and clauses of works (see the module docs).
fn mark_events(norm: &Normalized, kinds: &[Kinds], out: &mut [Role]) {
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
    (past_form(word) || word == "снес") && DAMAGE_VERB_STEMS.start(word)
}

/// A word that ends as a verb in the past does («-л», «-ли», «-ла», «-ло»), read from its bytes:
/// the cheap test that most words fail before any list is searched.
pub(crate) fn past_form(word: &str) -> bool {
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
    let modifier = |w: &str| is_modifier(w, GENITIVE_ADJECTIVE) || (accusative && is_modifier(w, ACCUSATIVE_ADJECTIVE));
    while word(at).is_some_and(modifier) {
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
    // What the works were for: «копали траншею под водопровод», «перекрыли проезд под ремонт
    // водопровода».
    if word(at + 1).is_some_and(|w| w == "под" || w == "для") && word(at + 2).is_some_and(is_object) {
        let service = word(at + 3).is_some_and(service);
        return at + 3 + usize::from(service);
    }
    at + 1
}

/// The networks that works are done on, in the genitive («трубы водопровода»).
const NETWORKS: &[&str] = &["водопровода", "газопровода", "теплотрассы", "теплосети", "ливневки", "ливневой"];

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

/// Words that end a clause read backwards from a verb; «уже» does not («ветку уже убрали»).
const CLAUSE_BREAKS: &[&str] = &["и", "а", "но", "однако", "что", "как", "когда", "если", "хотя", "не", "нет"];

fn is_done_verb(word: &str) -> bool {
    DONE_VERB_STEMS.start(word)
}

/// «сломали», «повредила», «стало»: a verb in the past, the next clause's predicate. A noun
/// ends so rarely («кровли», «котла» have a consonant before the ending). Stricter than
/// [`past_form`], the cheap filter, which lets «котла» through.
fn is_past_verb(word: &str) -> bool {
    let mut rev = word.chars().rev();
    let (Some(last), Some(l), Some(vowel)) = (rev.next(), rev.next(), rev.next()) else { return false };
    matches!(last, 'и' | 'а' | 'о') && l == 'л' && "аяеиыуо".contains(vowel)
}

static WORKS_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(WORKS));
static FAILURE_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(FAILURES));
static DAMAGE_VERB_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(DAMAGE_VERBS));
static DONE_VERB_STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(DONE_VERBS));
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

/// Not «-ие», «-ее»: nouns end so too («отопление», «покрытие»).
const ACCUSATIVE_ADJECTIVE: &[&str] = &["ый", "ий", "ую", "юю", "ое", "ые"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::tests::marked;

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
        assert_eq!(causes("после работы прихожу, а света нет"), ["работы"]);
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
        assert_eq!(
            causes("после того как рядом копали траншею под водопровод, запахло газом"),
            ["рядом", "копали", "траншею", "под", "водопровод"]
        );
        assert_eq!(
            causes("после того как на ул. Лермонтова в Кузнецке перекрыли проезд под ремонт водопровода мусоровоз"),
            // «Лермонтова» is a street's name, which the name marks take after.
            ["на", "ул", "в", "кузнецке", "перекрыли", "проезд", "под", "ремонт", "водопровода"]
        );
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
}
