//! Text normalisation for matching.
//!
//! Residents write fast: capitals for emphasis, «ё» or «е» at will, Latin letters that look
//! Cyrillic (a keyboard layout switched mid-word, or spam filters dodged on purpose), stretched
//! letters («холоднооо»), emoji and links. Rules are written once, in plain lower-case Russian, so
//! every post is brought to the same form before matching:
//!
//! - Unicode NFKC (full-width letters, ligatures, compatibility forms);
//! - lower case, «ё» → «е», «ъ» → «ь» (rules are folded the same way);
//! - Latin look-alikes inside a word that has Cyrillic letters become Cyrillic;
//! - a letter repeated three or more times becomes one (doubled letters are legitimate Russian);
//! - URLs, e-mail addresses, emoji and punctuation are dropped;
//! - tokens are words (hyphenated words stay one token: «из-за», «кое-где») and house numbers
//!   («12», «5а», «12/3», «15к2»).
//!
//! The normalised text is the tokens joined by single spaces, with a space before the first and
//! after the last, so that the matcher can anchor patterns at word boundaries with a plain space.

use serde::Serialize;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// One token of the normalised text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Token {
    /// Byte offset of the token in [`Normalized::text`].
    pub start: u32,
    /// Byte offset one past the token's end in [`Normalized::text`].
    pub end: u32,
}

/// A post's text ready for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// `" tok1 tok2 … tokN "` (just `" "` when there is no token).
    pub text: String,
    pub tokens: Vec<Token>,
    /// Per token: written as a name is, a capital then lower case («Садовая», «Ленина»), and not
    /// the first word of a sentence. Street and stop names are told by it (see `location`).
    pub titled: Vec<bool>,
    /// Per token: a punctuation mark or a line break stands between it and the token before
    /// («трубу заменили, а лифт…»). Clauses are told by it (see `cause`).
    pub paused: Vec<bool>,
}

impl Normalized {
    /// No tokens: the text is just `" "`.
    pub fn clear(&mut self) {
        self.text.clear();
        self.text.push(' ');
        self.tokens.clear();
        self.titled.clear();
        self.paused.clear();
    }

    /// The text of token `i`.
    pub fn token(&self, i: usize) -> &str {
        let t = self.tokens[i];
        &self.text[t.start as usize..t.end as usize]
    }

    /// The index of the token containing byte `pos` of [`Normalized::text`], if any.
    pub fn token_at(&self, pos: usize) -> Option<usize> {
        let pos = pos as u32;
        // Tokens are sorted by start; the one containing `pos` is the last one starting at or before it.
        let i = self.tokens.partition_point(|t| t.start <= pos);
        if i == 0 {
            return None;
        }
        let t = self.tokens[i - 1];
        (pos < t.end).then_some(i - 1)
    }

    /// The tokens between `first` and `last` (inclusive), as they appear in the normalised text.
    pub fn span_text(&self, first: usize, last: usize) -> &str {
        &self.text[self.tokens[first].start as usize..self.tokens[last].end as usize]
    }
}

/// Normalises `text` for matching (see the module docs).
pub fn normalize(text: &str) -> Normalized {
    let mut out = Normalized::default();
    normalize_into(text, &mut out);
    out
}

/// [`normalize`] into a buffer that is reused from post to post, so that a warm classifier does
/// not allocate for it.
pub fn normalize_into(text: &str, out: &mut Normalized) {
    out.clear();
    out.text.reserve(text.len() + 2);
    let mut sentence = Sentence { starts: true, pause: true };
    // NFKC works chunk by chunk between ASCII whitespace: a space neither composes with nor
    // reorders around its neighbours, so the result is the same as for the whole text, and one
    // «№» or full-width letter costs the normalisation of its own chunk only. Most chunks are
    // plain ASCII and basic Cyrillic, which NFKC leaves alone.
    // Split on bytes: an ASCII byte is never part of a longer UTF-8 sequence, so every cut is at
    // a character boundary, and no character needs decoding to find it.
    let bytes = text.as_bytes();
    let mut from = 0;
    while from < bytes.len() {
        let to = bytes[from..].iter().position(u8::is_ascii_whitespace).map_or(bytes.len(), |i| from + i);
        let chunk = &text[from..to];
        from = to + 1;
        if !chunk.is_empty() {
            if is_plain(chunk) || is_nfkc_quick(chunk.chars()) == IsNormalized::Yes {
                tokenize(chunk, out, &mut sentence);
            } else {
                let nfkc: String = chunk.nfkc().collect();
                tokenize(&nfkc, out, &mut sentence);
            }
        }
        // A line break after the chunk ends a sentence, whatever stands before it.
        if bytes.get(to) == Some(&b'\n') {
            sentence.starts = true;
            sentence.pause = true;
        }
    }
}

/// Whether NFKC certainly leaves `s` as it is: ASCII and basic Cyrillic letters only (no
/// combining marks).
fn is_plain(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let x = b[i];
        if x < 0x80 {
            i += 1;
        } else if (x == 0xD0 || x == 0xD1) && i + 1 < b.len() {
            // U+0400..U+047F; U+0483..U+0489 (D2 83..D2 89) are outside this range anyway.
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// Abbreviations of a street's, a square's or a stop's kind («ул. Школьная», «пр-т Победы»),
/// which stand before its name or, in Saint Petersburg's habit, after it («Плесецкой ул.»).
pub(crate) const NAME_ABBREVIATIONS: &[&str] =
    &["ул", "пр", "пр-т", "просп", "пер", "б-р", "наб", "пл", "мкр", "пр-д", "ост"];

/// Other abbreviations a name or a number follows («г. Пенза», «д. 5», «им. Ленина»). The period
/// after any of these ends no sentence.
const OTHER_ABBREVIATIONS: &[&str] = &["г", "д", "с", "п", "пос", "дер", "им", "ст", "р", "корп", "обл"];

/// Where the tokenizer stands in the text's sentences.
struct Sentence {
    /// The next word is the first of a sentence: the text's first, or one after «.», «!», «?»,
    /// «…» or a line break.
    starts: bool,
    /// A punctuation mark or a line break has come since the last word.
    pause: bool,
}

/// The word being read: written straight into `out.text` from byte `start` on, with what
/// [`flush`] needs to know about it gathered on the way (so that it need not read it again).
#[derive(Clone, Copy)]
struct Word {
    start: usize,
    /// Has a letter of U+0400..U+04FF.
    cyrillic: bool,
    /// Has an ASCII letter or a digit zero (a look-alike candidate).
    latin: bool,
    /// Some letter appears three times in a row.
    triple: bool,
    prev: char,
    run: u8,
    /// A character was lower-cased into several: look at the word again in `flush`.
    recheck: bool,
    /// Written with a capital first letter and lower case after it, not first in a sentence.
    titled: bool,
    /// A punctuation mark or a line break stands before it.
    paused: bool,
}

impl Word {
    /// The word being read, or a new one at byte `start` of the output when there is none;
    /// `upper` is the case of the character about to be appended to it.
    #[inline]
    fn extend<'w>(word: &'w mut Option<Word>, start: usize, upper: bool, sentence: &mut Sentence) -> &'w mut Word {
        match word {
            Some(w) => {
                w.titled &= !upper;
                w
            }
            None => {
                let first_in_sentence = std::mem::take(&mut sentence.starts);
                let paused = std::mem::take(&mut sentence.pause);
                word.insert(Word {
                    start,
                    cyrillic: false,
                    latin: false,
                    triple: false,
                    prev: '\0',
                    run: 0,
                    recheck: false,
                    titled: upper && !first_in_sentence,
                    paused,
                })
            }
        }
    }

    /// Records one character appended to the word.
    #[inline]
    fn saw(&mut self, c: char) {
        if c == self.prev {
            self.run = self.run.saturating_add(1);
            if self.run == 2 && c.is_alphabetic() {
                self.triple = true;
            }
        } else {
            self.prev = c;
            self.run = 0;
        }
    }
}

/// Tokenises one whitespace-free chunk into `out`.
fn tokenize(text: &str, out: &mut Normalized, sentence: &mut Sentence) {
    let bytes = text.as_bytes();
    let mut word: Option<Word> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Basic Cyrillic (U+0400..U+045F), nearly every letter of our text, is decoded and
        // lower-cased by arithmetic; all of it is letters.
        if (b == 0xD0 || b == 0xD1) && i + 1 < bytes.len() {
            let cp = ((b as u32 & 0x1F) << 6) | (bytes[i + 1] as u32 & 0x3F);
            let lower = match cp {
                0x401 | 0x451 => Some(0x435),
                0x42A | 0x44A => Some(0x44C),
                0x410..=0x42F => Some(cp + 0x20),
                0x400..=0x40F => Some(cp + 0x50),
                0x430..=0x45F => Some(cp),
                _ => None,
            };
            if let Some(c) = lower.and_then(char::from_u32) {
                let w = Word::extend(&mut word, out.text.len(), cp < 0x430, sentence);
                w.cyrillic = true;
                w.saw(c);
                out.text.push(c);
                i += 2;
                continue;
            }
        }
        let (c, len) = if b < 0x80 {
            (b as char, 1)
        } else {
            let c = text[i..].chars().next().unwrap_or('\0');
            (c, c.len_utf8())
        };
        let next_is_word = || text[i + len..].chars().next().is_some_and(is_word_char);
        if is_word_char(c) {
            if word.is_none() {
                // URLs and e-mail addresses carry no topic words of the post's own and would
                // only produce noise tokens («vk», «com», «wall»), so a word that turns out to
                // be one is skipped whole.
                if matches!(b, b'h' | b'H' | b'w' | b'W' | b't' | b'T' | b'v' | b'V' | b'o' | b'O') {
                    if let Some(url) = url_len(&text[i..]) {
                        i += url;
                        continue;
                    }
                }
            }
            let w = Word::extend(&mut word, out.text.len(), is_upper(c), sentence);
            if c.is_ascii() {
                let l = c.to_ascii_lowercase();
                w.latin |= l.is_ascii_alphabetic() || l == '0';
                w.saw(l);
                out.text.push(l);
            } else {
                push_lower(c, &mut out.text);
                w.recheck = true;
            }
        } else if (c == '-' || c == '/') && word.is_some() && next_is_word() {
            // Hyphens join words («из-за», «5-й»), slashes join house numbers («12/3»);
            // elsewhere both are separators. A hyphen from a word to a number is a dash
            // («отливы-2шт», «лампы-3»): joined, the word would match no rule.
            let w = word.as_mut().expect("checked above");
            let word_then_number = out.text.ends_with(|p: char| p.is_alphabetic())
                && text[i + len..].starts_with(|n: char| n.is_ascii_digit());
            let keep = if c == '-' { !word_then_number } else { out.text.as_bytes()[w.start].is_ascii_digit() };
            if keep {
                w.saw(c);
                out.text.push(c);
            } else {
                flush(&mut word, out);
            }
        } else if c == '@' && word.is_some() {
            // name@host: drop the local part and the host alike.
            out.text.truncate(word.take().map_or(out.text.len(), |w| w.start));
            i += len;
            while let Some(n) = text[i..].chars().next() {
                if !(is_word_char(n) || n == '.' || n == '-') {
                    break;
                }
                i += n.len_utf8();
            }
            continue;
        } else {
            let word_ends_here = word.is_some();
            flush(&mut word, out);
            // «ул. Садовая», «г. Пенза»: the period of an abbreviation ends no sentence.
            let abbreviation = || {
                let last = out.tokens.len().checked_sub(1).map(|t| out.token(t));
                word_ends_here
                    && last.is_some_and(|w| NAME_ABBREVIATIONS.contains(&w) || OTHER_ABBREVIATIONS.contains(&w))
            };
            let ends_sentence = matches!(c, '!' | '?' | '…') || (c == '.' && !abbreviation());
            sentence.starts |= ends_sentence;
            sentence.pause |= ends_sentence || matches!(c, ',' | ';' | ':' | '(' | ')' | '-' | '—' | '–');
        }
        i += len;
    }
    // The whitespace after the chunk ends any word.
    flush(&mut word, out);
}

fn is_word_char(c: char) -> bool {
    // ASCII and the basic Cyrillic block are nearly all of our text; the Unicode tables are
    // for the rest.
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if ('\u{0400}'..='\u{04FF}').contains(&c) {
        // U+0482..U+0489 are a sign and combining marks, not letters.
        !('\u{0482}'..='\u{0489}').contains(&c)
    } else {
        c.is_alphanumeric()
    }
}

/// The byte length of a URL starting at `s`, if one does.
fn url_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let starts = |p: &str| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    let is_url = starts("http://")
        || starts("https://")
        || starts("www.")
        || starts("t.me/")
        || starts("vk.com/")
        || starts("vk.cc/")
        || starts("ok.ru/");
    if !is_url {
        return None;
    }
    Some(s.find(|c: char| c.is_whitespace()).unwrap_or(s.len()))
}

/// [`char::is_uppercase`], with ASCII and basic Cyrillic answered without its Unicode table
/// search (callers ask it of every letter of a post).
#[inline]
pub(crate) fn is_upper(c: char) -> bool {
    match c {
        'A'..='Z' | 'А'..='Я' | 'Ѐ'..='Џ' => true,
        '\0'..='\x7f' | 'а'..='я' | 'ѐ'..='џ' => false,
        _ => c.is_uppercase(),
    }
}

fn push_lower(c: char, word: &mut String) {
    if c.is_ascii() {
        word.push(c.to_ascii_lowercase());
        return;
    }
    // Basic Cyrillic by arithmetic: А..Я → а..я, Ѐ..Џ → ѐ..џ; ё and Ё fold to е, and the hard
    // sign to the soft one (see `fold_letters`).
    let lower = match c {
        'Ё' | 'ё' => Some('е'),
        'Ъ' | 'ъ' => Some('ь'),
        'А'..='Я' => char::from_u32(c as u32 + 0x20),
        'Ѐ'..='Џ' => char::from_u32(c as u32 + 0x50),
        'а'..='я' | 'ѐ'..='џ' => Some(c),
        _ => None,
    };
    if let Some(l) = lower {
        word.push(l);
        return;
    }
    for l in c.to_lowercase() {
        word.push(if l == 'ё' { 'е' } else { l });
    }
}

/// Folds a rule's term or regex the way the normaliser folds a post's letters: «ё» to «е», and
/// «ъ» to «ь», which residents swap freely («подьезд», «обьявление») and which never tell two
/// Russian words apart.
pub(crate) fn fold_letters(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['ё', 'ъ']) {
        s.replace('ё', "е").replace('ъ', "ь").into()
    } else {
        s.into()
    }
}

/// Whether some letter appears three times in a row (the case `flush` collapses).
fn has_triple(word: &str) -> bool {
    let mut prev = '\0';
    let mut run = 0;
    for c in word.chars() {
        if c == prev {
            run += 1;
            if run == 2 && c.is_alphabetic() {
                return true;
            }
        } else {
            prev = c;
            run = 0;
        }
    }
    false
}

/// The Cyrillic letter a lower-case Latin letter (or digit zero) is mistaken for, if any.
fn cyrillic_lookalike(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'b' => 'в',
        'c' => 'с',
        'e' => 'е',
        'h' => 'н',
        'k' => 'к',
        'm' => 'м',
        'o' | '0' => 'о',
        'p' => 'р',
        't' => 'т',
        'x' => 'х',
        'y' => 'у',
        _ => return None,
    })
}

/// Finishes the current word: look-alikes, stretched letters, then records it as a token.
fn flush(word: &mut Option<Word>, out: &mut Normalized) {
    let Some(w) = word.take() else { return };
    let start = w.start;
    let (cyrillic, latin, triple) = if w.recheck {
        // Lead bytes D0..D3 are exactly the characters U+0400..U+04FF.
        let bytes = &out.text.as_bytes()[start..];
        (
            bytes.iter().any(|&b| (0xD0..=0xD3).contains(&b)),
            bytes.iter().any(|&b| b.is_ascii_alphabetic() || b == b'0'),
            has_triple(&out.text[start..]),
        )
    } else {
        (w.cyrillic, w.latin, w.triple)
    };
    // A word with both scripts is Cyrillic typed with a few Latin keys; a word starting with a
    // digit is a house number («5а») and keeps its letter as is.
    let fix_lookalikes = cyrillic && latin && !out.text.as_bytes()[start].is_ascii_digit();
    // Nearly every word has neither look-alikes nor a letter written three times: it stays as
    // written.
    if fix_lookalikes || triple {
        let word = out.text.split_off(start);
        let mut prev: Option<char> = None;
        let mut run = 0usize;
        for c in word.chars() {
            let c = if fix_lookalikes { cyrillic_lookalike(c).unwrap_or(c) } else { c };
            if Some(c) == prev && c.is_alphabetic() {
                run += 1;
                // A letter written three or more times in a row is emphasis; keep one.
                if run == 2 {
                    // Remove the second copy already written.
                    out.text.pop();
                }
                if run >= 2 {
                    continue;
                }
            } else {
                run = 0;
            }
            out.text.push(c);
            prev = Some(c);
        }
    }
    let end = out.text.len() as u32;
    out.tokens.push(Token { start: start as u32, end });
    out.titled.push(w.titled);
    out.paused.push(w.paused);
    out.text.push(' ');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        let n = normalize(text);
        (0..n.tokens.len()).map(|i| n.token(i).to_owned()).collect()
    }

    #[test]
    fn a_token_after_a_punctuation_mark_or_a_line_break_is_paused() {
        let n = normalize("Трубу заменили, а лифт стоит.\nГде ул. Мира — там яма");
        let paused: Vec<&str> = (0..n.tokens.len()).filter(|&t| n.paused[t]).map(|t| n.token(t)).collect();
        assert_eq!(paused, ["трубу", "а", "где", "там"]);
    }

    #[test]
    fn is_upper_agrees_with_the_unicode_tables() {
        for c in (0..0x3000).filter_map(char::from_u32).chain(['Ω', 'ω', 'Ӑ', 'ӑ', '𝐀']) {
            assert_eq!(is_upper(c), c.is_uppercase(), "{c:?}");
        }
    }

    #[test]
    fn lowercases_and_folds_yo() {
        assert_eq!(toks("ЁЛКА Всё Ещё"), ["елка", "все", "еще"]);
    }

    #[test]
    fn hard_and_soft_signs_read_the_same() {
        assert_eq!(toks("ПОДЪЕЗД подьезд Объявление"), ["подьезд", "подьезд", "обьявление"]);
        assert_eq!(fold_letters("подъезд*"), "подьезд*");
    }

    #[test]
    fn replaces_latin_lookalikes_inside_cyrillic_words() {
        // Latin o, p, e and c typed among Cyrillic letters.
        assert_eq!(toks("нет oтoплeния"), ["нет", "отопления"]);
        assert_eq!(toks("Tpyбa"), ["труба"]);
        // Pure Latin words stay Latin.
        assert_eq!(toks("Wi-Fi route"), ["wi-fi", "route"]);
    }

    #[test]
    fn collapses_stretched_letters_but_keeps_doubles() {
        assert_eq!(toks("холоднооо ооочень"), ["холодно", "очень"]);
        assert_eq!(toks("ванна касса"), ["ванна", "касса"]);
    }

    #[test]
    fn nfkc_folds_compatibility_forms() {
        // Full-width Latin letters and a superscript digit.
        assert_eq!(toks("ＷＩＦＩ ²"), ["wifi", "2"]);
    }

    #[test]
    fn drops_urls_emoji_and_punctuation() {
        assert_eq!(toks("Смотрите https://vk.com/wall-1_2 🔥🔥 холодно!!!"), ["смотрите", "холодно"]);
        assert_eq!(toks("пишите на ivanov@mail.ru, www.example.org/x?y=1 ответят"), ["пишите", "на", "ответят"]);
    }

    #[test]
    fn keeps_hyphenated_words_and_house_numbers() {
        assert_eq!(
            toks("из-за аварии, д.12/3, кв 5а; корп. 15к2 -- тире"),
            ["из-за", "аварии", "д", "12/3", "кв", "5а", "корп", "15к2", "тире"]
        );
        // A slash between words separates them.
        assert_eq!(toks("ГВС/ХВС"), ["гвс", "хвс"]);
        // A hyphen from a word to a number is a dash; from a number to a word, an ending.
        assert_eq!(
            toks("сорваны отливы-2шт, 5-й этаж, ту-154"),
            ["сорваны", "отливы", "2шт", "5-й", "этаж", "ту", "154"]
        );
    }

    #[test]
    fn every_ascii_whitespace_separates_words() {
        assert_eq!(toks("нет\tсвета\r\nи\x0cводы  \n"), ["нет", "света", "и", "воды"]);
        // Non-ASCII spaces separate words too, inside a chunk.
        assert_eq!(toks("нет\u{a0}света"), ["нет", "света"]);
    }

    #[test]
    fn text_is_space_framed_and_spans_point_into_it() {
        let n = normalize("  Нет  света ");
        assert_eq!(n.text, " нет света ");
        // Cyrillic letters take two bytes: «нет» is bytes 1..7, «света» 8..18.
        assert_eq!(n.token_at(5), Some(0));
        assert_eq!(n.token_at(8), Some(1));
        assert_eq!(n.token_at(7), None);
        assert_eq!(n.token_at(0), None);
        assert_eq!(n.span_text(0, 1), "нет света");
        assert_eq!(normalize("").text, " ");
    }
}
