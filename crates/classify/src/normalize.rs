//! Text normalisation for matching.
//!
//! Residents write fast: capitals for emphasis, «ё» or «е» at will, Latin letters that look
//! Cyrillic (a keyboard layout switched mid-word, or spam filters dodged on purpose), stretched
//! letters («холоднооо»), emoji and links. Rules are written once, in plain lower-case Russian, so
//! every post is brought to the same form before matching:
//!
//! - Unicode NFKC (full-width letters, ligatures, compatibility forms);
//! - lower case, «ё» → «е»;
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
}

impl Normalized {
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
    let mut out = Normalized { text: String::with_capacity(text.len() + 2), tokens: Vec::with_capacity(text.len() / 6) };
    out.text.push(' ');
    let mut word = String::new();
    // NFKC works chunk by chunk between ASCII whitespace: a space neither composes with nor
    // reorders around its neighbours, so the result is the same as for the whole text, and one
    // «№» or full-width letter costs the normalisation of its own chunk only. Most chunks are
    // plain ASCII and basic Cyrillic, which NFKC leaves alone.
    for chunk in text.split(|c: char| c.is_ascii_whitespace()) {
        if chunk.is_empty() {
            continue;
        }
        if is_plain(chunk) || is_nfkc_quick(chunk.chars()) == IsNormalized::Yes {
            tokenize(chunk, &mut word, &mut out);
        } else {
            let nfkc: String = chunk.nfkc().collect();
            tokenize(&nfkc, &mut word, &mut out);
        }
        // The whitespace after the chunk ends any word.
        flush(&mut word, &mut out);
    }
    out
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

/// Tokenises one whitespace-free chunk into `out`, carrying the current word in `word`.
fn tokenize(text: &str, word: &mut String, out: &mut Normalized) {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_word_char(c) {
            // URLs and e-mail addresses carry no topic words of the post's own and would only
            // produce noise tokens («vk», «com», «wall»), so a word that turns out to be one is
            // skipped whole.
            if word.is_empty() {
                if let Some(len) = url_len(&text[i..]) {
                    while chars.peek().is_some_and(|&(j, _)| j < i + len) {
                        chars.next();
                    }
                    continue;
                }
            }
            push_lower(c, word);
        } else if (c == '-' || c == '/') && !word.is_empty() && chars.peek().is_some_and(|&(_, n)| is_word_char(n)) {
            // Hyphens join words («из-за»), slashes join house numbers («12/3»); elsewhere both
            // are separators.
            let keep = c == '-' || word.chars().next().is_some_and(|f| f.is_ascii_digit());
            if keep {
                word.push(c);
            } else {
                flush(word, out);
            }
        } else if c == '@' && !word.is_empty() {
            // name@host: drop the local part and the host alike.
            word.clear();
            while chars.peek().is_some_and(|&(_, n)| is_word_char(n) || n == '.' || n == '-') {
                chars.next();
            }
        } else {
            flush(word, out);
        }
    }
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
    let is_url = starts("http://") || starts("https://") || starts("www.") || starts("t.me/") || starts("vk.com/")
        || starts("vk.cc/") || starts("ok.ru/");
    if !is_url {
        return None;
    }
    Some(s.find(|c: char| c.is_whitespace()).unwrap_or(s.len()))
}

fn push_lower(c: char, word: &mut String) {
    if c.is_ascii() {
        word.push(c.to_ascii_lowercase());
        return;
    }
    // Basic Cyrillic by arithmetic: А..Я → а..я, Ѐ..Џ → ѐ..џ; ё and Ё fold to е.
    let lower = match c {
        'Ё' | 'ё' => Some('е'),
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

/// Finishes the current word: look-alikes, stretched letters, then appends it as a token.
fn flush(word: &mut String, out: &mut Normalized) {
    if word.is_empty() {
        return;
    }
    // Lead bytes D0..D3 are exactly the characters U+0400..U+04FF.
    let bytes = word.as_bytes();
    let has_cyrillic = bytes.iter().any(|&b| (0xD0..=0xD3).contains(&b));
    // A word with both scripts is Cyrillic typed with a few Latin keys; a word starting with a
    // digit is a house number («5а») and keeps its letter as is.
    let fix_lookalikes = has_cyrillic && bytes.iter().any(|&b| b.is_ascii_alphabetic() || b == b'0')
        && !word.starts_with(|c: char| c.is_ascii_digit());
    let start = out.text.len() as u32;
    // Nearly every word has neither look-alikes nor a letter written three times: copy it whole.
    if !fix_lookalikes && !has_triple(word) {
        out.text.push_str(word);
        let end = out.text.len() as u32;
        out.tokens.push(Token { start, end });
        out.text.push(' ');
        word.clear();
        return;
    }
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
    let end = out.text.len() as u32;
    out.tokens.push(Token { start, end });
    out.text.push(' ');
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        let n = normalize(text);
        (0..n.tokens.len()).map(|i| n.token(i).to_owned()).collect()
    }

    #[test]
    fn lowercases_and_folds_yo() {
        assert_eq!(toks("ЁЛКА Всё Ещё"), ["елка", "все", "еще"]);
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
        assert_eq!(toks("из-за аварии, д.12/3, кв 5а; корп. 15к2 -- тире"), [
            "из-за", "аварии", "д", "12/3", "кв", "5а", "корп", "15к2", "тире"
        ]);
        // A slash between words separates them.
        assert_eq!(toks("ГВС/ХВС"), ["гвс", "хвс"]);
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
