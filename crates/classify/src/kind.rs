//! Post kind: complaint, question, gratitude, suggestion or info.
//!
//! Spikes count complaints and questions only, so the cost of a mistake is asymmetric: an
//! administration's «heating season starts on Monday» counted as a heating complaint raises a
//! false alarm in every district at once. Hence the source comes first — an official source's own
//! post is `info` unless it quotes a resident — and wording decides the rest. Most of a town
//! group's feed is not a complaint even when it names a topic: greetings, event listings, news
//! reports and jokes are `info` unless complaint wording is there too, and so is private
//! business (a sale, a job, a lost pet), whose cue also keeps a single weak topic word from
//! tagging the post (see `Classifier::run`). A request to act («прошу», «почините», «заранее
//! спасибо») is complaint wording.
//!
//! The cues' patterns live in `kinds.toml` in the topics directory (loaded and validated with the
//! topic rules, see [`crate::config`]); they are ordinary patterns (see [`crate::pattern`])
//! compiled into the same automaton as the topic rules, so kind costs no extra pass over the
//! text. This module holds what the cues mean and how they combine.

use otklik_model::PostKind;

/// A group of wording cues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cue {
    /// Something is wrong: negation of service, outrage, a demand to act.
    Complaint,
    /// Rhetorical «how long?» that reads as a question but is a complaint.
    Rhetorical,
    Question,
    Gratitude,
    Suggestion,
    /// Wording of announcements and news.
    Announcement,
    /// An official post relaying a resident's message.
    ResidentQuote,
    /// Private business, not a municipal matter: selling, renting, hiring, giving away, lost and
    /// found pets, advertising, looking for a tradesman or a lost friend.
    Private,
    /// Written laughter («ахаха», «ржу»): a joke or chatter, unless complaint wording is there too.
    Laughter,
    /// A fault or a bad state named («яма», «протечка», «грязно», «не горит»): with a topic and
    /// nothing that says otherwise, the short report residents write. Weaker than complaint
    /// wording: it never outweighs gratitude or an announcement.
    Fault,
}

impl Cue {
    pub const ALL: &'static [Cue] = &[
        Cue::Complaint,
        Cue::Rhetorical,
        Cue::Question,
        Cue::Gratitude,
        Cue::Suggestion,
        Cue::Announcement,
        Cue::ResidentQuote,
        Cue::Private,
        Cue::Laughter,
        Cue::Fault,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Cue::Complaint => "complaint",
            Cue::Rhetorical => "rhetorical",
            Cue::Question => "question",
            Cue::Gratitude => "gratitude",
            Cue::Suggestion => "suggestion",
            Cue::Announcement => "announcement",
            Cue::ResidentQuote => "resident_quote",
            Cue::Private => "private",
            Cue::Laughter => "laughter",
            Cue::Fault => "fault",
        }
    }

    /// The cue with this id in `kinds.toml`.
    pub fn from_id(id: &str) -> Option<Cue> {
        Cue::ALL.iter().copied().find(|c| c.id() == id)
    }
}

/// Counts of cues that fired, by [`Cue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CueCounts([u16; Cue::ALL.len()]);

impl CueCounts {
    pub fn add(&mut self, cue: Cue) {
        let i = Cue::ALL.iter().position(|&c| c == cue).unwrap_or(0);
        self.0[i] = self.0[i].saturating_add(1);
    }

    pub fn get(&self, cue: Cue) -> u16 {
        Cue::ALL.iter().position(|&c| c == cue).map_or(0, |i| self.0[i])
    }
}

/// Who wrote the post and where: what the kind depends on besides the wording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    pub has_topics: bool,
    /// An official source's own post.
    pub official: bool,
    /// The source's own post (`author.is_source`), official or not.
    pub by_source: bool,
    /// At most [`TERSE_MAX_TOKENS`] words: a topic named and nothing else («Гололёд», «мусор во
    /// дворе») is a resident's report; news and greetings take more words.
    pub terse: bool,
}

/// The longest post read as a terse report. Measured: none of the 416 off-topic posts is this
/// short with a topic, while a sixth of the dev complaints are.
pub const TERSE_MAX_TOKENS: usize = 4;

/// Decides the kind and says why.
pub fn decide(cues: &CueCounts, marks: Marks, origin: Origin) -> (PostKind, &'static str) {
    let Marks { question_mark, laughing_emoji, quotation, .. } = marks;
    let laughing = laughing_emoji || cues.get(Cue::Laughter) > 0;
    let complaint = cues.get(Cue::Complaint);
    let quoted = cues.get(Cue::ResidentQuote) > 0;
    if origin.official && !quoted {
        return (PostKind::Info, "official source's own post");
    }
    // A channel writes news about problems in its own voice; it complains only by relaying a
    // resident, named as such or quoted with complaint wording.
    let relayed = quoted || (quotation && complaint > 0);
    if origin.by_source && !relayed {
        return (PostKind::Info, "the source's own post, with no resident's voice");
    }
    if cues.get(Cue::Private) > 0 && (complaint == 0 || !origin.has_topics) {
        return (PostKind::Info, "private business: a sale, a job, a lost pet, an advert");
    }
    // «…яма на проезжей части. Спасибо.»: thanks that only close a report of a fault are
    // politeness, not gratitude.
    let closing = marks.closing_thanks && (complaint > 0 || cues.get(Cue::Fault) > 0);
    if cues.get(Cue::Gratitude).saturating_sub(u16::from(closing)) > complaint {
        return (PostKind::Gratitude, "gratitude wording outweighs complaint wording");
    }
    if cues.get(Cue::Rhetorical) > 0 {
        return (PostKind::Complaint, "rhetorical question");
    }
    if question_mark || cues.get(Cue::Question) > 0 {
        return (PostKind::Question, if question_mark { "question mark" } else { "question wording" });
    }
    // A proposal that names a fault is a complaint with a remedy attached.
    if cues.get(Cue::Suggestion) > 0 && complaint == 0 && cues.get(Cue::Fault) == 0 {
        return (PostKind::Suggestion, "suggestion wording");
    }
    // An official post relaying a resident keeps its announcement framing out of the decision.
    if !quoted && cues.get(Cue::Announcement) > 0 && complaint == 0 {
        return (PostKind::Info, "announcement wording");
    }
    if laughing && complaint == 0 {
        return (PostKind::Info, "a joke: laughter and no complaint wording");
    }
    if complaint > 0 || relayed {
        return (PostKind::Complaint, if complaint > 0 { "complaint wording" } else { "a resident's message relayed" });
    }
    if origin.has_topics && cues.get(Cue::Fault) > 0 {
        return (PostKind::Complaint, "a fault named");
    }
    if origin.has_topics && origin.terse {
        return (PostKind::Complaint, "a terse report: a topic named in a few words");
    }
    // A topic alone is no complaint: news, greetings and reports name topics all the time.
    if origin.has_topics {
        return (PostKind::Info, "a topic without complaint or question wording");
    }
    (PostKind::Info, "no topic and no complaint wording")
}

/// What the normaliser drops but the kind needs: question marks and laughing emoji.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// A `?` (the full-width one too).
    pub question_mark: bool,
    /// 😂 and its kin: a joke or chatter, unless complaint wording says otherwise.
    pub laughing_emoji: bool,
    /// Quotation marks («», “”, „, "): a channel quoting someone.
    pub quotation: bool,
    /// The last sentence is only a thanks formula («Спасибо.», «Заранее благодарю!») after
    /// sentences of its own.
    pub closing_thanks: bool,
}

/// Last sentences that only thank, lower-case.
const CLOSING_THANKS: &[&str] = &[
    "спасибо",
    "заранее спасибо",
    "спасибо заранее",
    "спасибо большое",
    "большое спасибо",
    "спасибо за внимание",
    "благодарю",
    "заранее благодарю",
    "заранее благодарим",
    "благодарю за внимание",
];

impl Marks {
    pub fn of(original: &str) -> Marks {
        // Laughing faces are U+1F601..U+1F606 (😁…😆), U+1F61C 😜, U+1F639 😹 (F0 9F 98 xx) and U+1F923 🤣
        // (F0 9F A4 A3). One memchr over the text finds every four-byte character.
        let bytes = original.as_bytes();
        let laughing_emoji = memchr::memchr_iter(0xF0, bytes).any(|i| {
            matches!(bytes.get(i + 1..i + 4), Some([0x9F, 0x98, 0x81..=0x86 | 0x9C | 0xB9]) | Some([0x9F, 0xA4, 0xA3]))
        });
        // Byte searches: a `char` pattern decodes every character of the text.
        let has = |s: &str| memchr::memmem::find(bytes, s.as_bytes()).is_some();
        let question_mark = memchr::memchr(b'?', bytes).is_some() || has("？");
        let quotation = memchr::memchr(b'"', bytes).is_some() || ["«", "“", "„"].into_iter().any(has);
        Marks { question_mark, laughing_emoji, quotation, closing_thanks: closing_thanks(original) }
    }
}

/// At least the longest of [`CLOSING_THANKS`] in bytes, with room for doubled spaces.
const MAX_FORMULA_BYTES: usize = 48;

/// Whether `text` ends in a sentence of thanks alone, with a sentence before it.
fn closing_thanks(text: &str) -> bool {
    // Punctuation, smileys and emoji after the formula are still its end.
    let body = text.trim_end_matches(|c: char| !c.is_alphanumeric());
    // The last sentence must start within the longest formula's bytes, so only the text's tail
    // is searched (by bytes: the marks are ASCII).
    let from = body.len().saturating_sub(MAX_FORMULA_BYTES + 1);
    let ends_sentence = |b: &u8| matches!(b, b'.' | b'!' | b'?' | b'\n');
    let Some(at) = body.as_bytes()[from..].iter().rposition(ends_sentence) else { return false };
    let (before, last) = (&body[..from + at], body[from + at + 1..].trim());
    if before.trim().is_empty() {
        return false;
    }
    CLOSING_THANKS.iter().any(|formula| same_words(last, formula))
}

/// Whether `text` is `formula` (lower-case words, one space apart), whatever its case and spacing.
fn same_words(text: &str, formula: &str) -> bool {
    let (mut words, mut wanted) = (text.split_whitespace(), formula.split(' '));
    loop {
        match (words.next(), wanted.next()) {
            (None, None) => return true,
            (Some(w), Some(f)) if w.chars().flat_map(char::to_lowercase).eq(f.chars()) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(cues: &[Cue]) -> CueCounts {
        let mut c = CueCounts::default();
        for &cue in cues {
            c.add(cue);
        }
        c
    }

    const RESIDENT: Origin = Origin { has_topics: true, official: false, by_source: false, terse: false };
    const NO_TOPIC: Origin = Origin { has_topics: false, official: false, by_source: false, terse: false };
    const CHANNEL: Origin = Origin { has_topics: true, official: false, by_source: true, terse: false };
    const OFFICIAL: Origin = Origin { has_topics: true, official: true, by_source: true, terse: false };
    const QUESTION: Marks =
        Marks { question_mark: true, laughing_emoji: false, quotation: false, closing_thanks: false };
    const QUOTE: Marks = Marks { question_mark: false, laughing_emoji: false, quotation: true, closing_thanks: false };

    fn kind(cues: &[Cue], marks: Marks, origin: Origin) -> PostKind {
        decide(&counts(cues), marks, origin).0
    }

    #[test]
    fn official_posts_are_info_unless_quoting_a_resident() {
        assert_eq!(kind(&[Cue::Complaint], Marks::default(), OFFICIAL), PostKind::Info);
        let relayed = [Cue::ResidentQuote, Cue::Complaint, Cue::Announcement];
        assert_eq!(kind(&relayed, Marks::default(), OFFICIAL), PostKind::Complaint);
    }

    #[test]
    fn a_channels_own_post_needs_a_residents_voice() {
        // «На трассе столкнулись две машины, опасно»: the channel's report, not a complaint.
        assert_eq!(kind(&[Cue::Complaint], Marks::default(), CHANNEL), PostKind::Info);
        assert_eq!(kind(&[], QUESTION, CHANNEL), PostKind::Info);
        assert_eq!(kind(&[Cue::ResidentQuote], Marks::default(), CHANNEL), PostKind::Complaint);
        assert_eq!(kind(&[Cue::Complaint], QUOTE, CHANNEL), PostKind::Complaint);
        assert_eq!(kind(&[], QUOTE, CHANNEL), PostKind::Info);
    }

    #[test]
    fn wording_decides_for_residents() {
        assert_eq!(kind(&[Cue::Gratitude], Marks::default(), RESIDENT), PostKind::Gratitude);
        let outweighed = [Cue::Gratitude, Cue::Complaint, Cue::Complaint];
        assert_eq!(kind(&outweighed, Marks::default(), RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[], QUESTION, RESIDENT), PostKind::Question);
        assert_eq!(kind(&[Cue::Rhetorical], QUESTION, RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[Cue::Suggestion], Marks::default(), RESIDENT), PostKind::Suggestion);
        // «Контейнеры открыты, бегают крысы. Предложение: огородить площадку»: a fault proposed away.
        assert_eq!(kind(&[Cue::Suggestion, Cue::Fault], Marks::default(), RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[Cue::Announcement], Marks::default(), RESIDENT), PostKind::Info);
        assert_eq!(kind(&[Cue::Complaint], Marks::default(), RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[], Marks::default(), NO_TOPIC), PostKind::Info);
    }

    #[test]
    fn a_topic_alone_is_no_complaint() {
        let (decided, reason) = decide(&counts(&[]), Marks::default(), RESIDENT);
        assert_eq!(decided, PostKind::Info);
        assert_eq!(reason, "a topic without complaint or question wording");
        let terse = Origin { terse: true, ..RESIDENT };
        assert_eq!(kind(&[], Marks::default(), terse), PostKind::Complaint);
        assert_eq!(kind(&[], Marks::default(), Origin { has_topics: false, ..terse }), PostKind::Info);
        assert_eq!(kind(&[], Marks::default(), Origin { by_source: true, ..terse }), PostKind::Info);
    }

    #[test]
    fn private_business_is_info_unless_it_names_a_municipal_problem() {
        // «Потерялся кот, помогите найти!»: a plea, but not a complaint about the town; «продам
        // радиатор отопления» names a topic and is still an advert.
        assert_eq!(kind(&[Cue::Private], Marks::default(), RESIDENT), PostKind::Info);
        assert_eq!(kind(&[Cue::Private, Cue::Complaint], Marks::default(), NO_TOPIC), PostKind::Info);
        assert_eq!(kind(&[Cue::Private, Cue::Complaint], Marks::default(), RESIDENT), PostKind::Complaint);
    }

    #[test]
    fn quotation_marks_are_seen() {
        for quoted in ["пишут: «нет воды»", "\"нет воды\"", "„нет воды“"] {
            assert!(Marks::of(quoted).quotation, "{quoted}");
        }
        assert!(!Marks::of("нет воды").quotation);
    }

    #[test]
    fn thanks_that_close_a_fault_report_are_politeness() {
        for closed in [
            "Повреждение покрытия проезжей части. Спасибо.",
            "Яма у дома 5!\nЗаранее благодарю!",
            "Нет света. Спасибо большое :)",
        ] {
            assert!(Marks::of(closed).closing_thanks, "{closed}");
        }
        for other in [
            "Спасибо!",
            "Спасибо за ремонт дороги",
            "Починили. Спасибо дворникам за уборку!",
            "Ямы нет. спасибо вам огромное что починили",
        ] {
            assert!(!Marks::of(other).closing_thanks, "{other}");
        }
        assert!(CLOSING_THANKS.iter().all(|f| f.len() + 4 <= MAX_FORMULA_BYTES));
        let closing = Marks { closing_thanks: true, ..Marks::default() };
        assert_eq!(kind(&[Cue::Gratitude, Cue::Fault], closing, RESIDENT), PostKind::Complaint);
        // With no fault or complaint named, the closing thanks are the post's own.
        assert_eq!(kind(&[Cue::Gratitude], closing, RESIDENT), PostKind::Gratitude);
        assert_eq!(kind(&[Cue::Gratitude, Cue::Gratitude, Cue::Fault], closing, RESIDENT), PostKind::Gratitude);
    }

    #[test]
    fn a_joke_is_info_unless_it_complains() {
        let joke = Marks::of("Коты, как всегда, правят миром 😂");
        assert!(joke.laughing_emoji && !joke.question_mark);
        for face in ["😁", "😂", "😃", "😄", "😅", "😆", "😜", "😹", "🤣"] {
            assert!(Marks::of(face).laughing_emoji, "{face}");
        }
        for other in ["🙂", "😡", "🥶", "❄️", "🔥"] {
            assert!(!Marks::of(other).laughing_emoji, "{other}");
        }
        assert_eq!(kind(&[Cue::Laughter], Marks::default(), RESIDENT), PostKind::Info);
        assert_eq!(kind(&[], joke, RESIDENT), PostKind::Info);
        assert_eq!(kind(&[Cue::Complaint], Marks::of("опять нет воды 😂"), RESIDENT), PostKind::Complaint);
    }
}
