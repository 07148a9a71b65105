//! The gazetteer's own text normalisation, applied identically to patterns and to post text.
//!
//! It is separate from the classifier's general normaliser because the automaton relies on a few
//! layout guarantees that make word boundaries free, and on a compact encoding that halves the
//! bytes it scans:
//!
//! - the text starts with a space and every word is preceded by exactly one space, so every
//!   pattern starts with a space and can only match at a word start;
//! - letters and digits are kept (lower-cased, ё → е, Latin look-alikes inside Cyrillic words
//!   mapped to Cyrillic); a `.` is kept and followed by a space («г.Пенза» → « г. пенза»); a hyphen
//!   or dash becomes « - » so «Пенза-Заречный» exposes both names while «р-н» and «Йошкар-Ола»
//!   still match as « р - н», « йошкар - ола»; everything else collapses into one space;
//! - one byte per character: ASCII stays ASCII, the 32 Russian lower-case letters become
//!   `0xC0..=0xDF`, other Cyrillic letters (і, ї, ў …) `0x80..=0xBF`, any other letter `0x80`.
//!   Russian text is two bytes per letter in UTF-8, so the scan is half as long;
//! - each byte remembers the byte offset of the original character it came from, so a match maps
//!   back to a span of the original text.

/// Normalised, encoded text plus, for every byte of it, the byte offset of the source character.
#[derive(Debug, Default, Clone)]
pub(crate) struct Normalized {
    pub text: Vec<u8>,
    pub origin: Vec<u32>,
}

impl Normalized {
    /// Byte range in the original text covered by the normalised byte range `start..end`.
    pub fn original_span(&self, original: &str, start: usize, end: usize) -> std::ops::Range<usize> {
        let s = self.origin[start] as usize;
        let last = self.origin[end - 1] as usize;
        let e = last + original[last..].chars().next().map_or(0, char::len_utf8);
        s..e.max(s)
    }
}

const CYR_A: u32 = 0x430; // а
const OTHER_LETTER: u8 = 0x80;

/// Encoded byte of a Russian lower-case letter.
const fn ru(c: char) -> u8 {
    0xC0 + (c as u32 - CYR_A) as u8
}

/// Latin letters that are drawn like Cyrillic ones; spammers and phone keyboards mix them in.
fn cyrillic_lookalike(lower: u8) -> Option<u8> {
    Some(match lower {
        b'a' => ru('а'),
        b'b' => ru('в'),
        b'c' => ru('с'),
        b'e' => ru('е'),
        b'h' => ru('н'),
        b'k' => ru('к'),
        b'm' => ru('м'),
        b'o' => ru('о'),
        b'p' => ru('р'),
        b't' => ru('т'),
        b'x' => ru('х'),
        b'y' => ru('у'),
        _ => return None,
    })
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}')
}

/// Characters that sit inside words without separating them.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{0300}'..='\u{036F}')
}

/// [`cyrillic`] of U+0400..U+045F by (lead byte & 1, continuation & 0x3F).
static CYRILLIC: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut k = 0;
    while k < 0x60 {
        t[k] = cyrillic(0x400 + k as u32);
        k += 1;
    }
    t
};

/// Encoded byte of a Cyrillic code point (U+0400..=U+045F), lower-cased, ё → е.
const fn cyrillic(cp: u32) -> u8 {
    match cp {
        0x430..=0x44F => (0xC0 + (cp - 0x430)) as u8,
        0x410..=0x42F => (0xC0 + (cp - 0x410)) as u8,
        0x401 | 0x451 => ru('е'),
        _ => 0x80 | (cp & 0x0F) as u8 | 0x10,
    }
}

pub(crate) fn normalize(text: &str) -> Normalized {
    let mut out = Normalized { text: Vec::with_capacity(text.len() + 8), origin: Vec::with_capacity(text.len() + 8) };
    normalize_into(text, &mut out);
    out
}

pub(crate) fn normalize_into(text: &str, reused: &mut Normalized) {
    // Built in a local owned by this function, so that the compiler keeps the buffers' lengths
    // in registers: pushing bytes through `&mut` made it reload them from memory after every
    // byte written (a byte store may alias anything), a seventh of this function's time.
    let mut out = std::mem::take(reused);
    out.text.clear();
    out.origin.clear();
    out.text.reserve(text.len() + 8);
    out.origin.reserve(text.len() + 8);
    let b = text.as_bytes();
    let push = |out: &mut Normalized, byte: u8, at: usize| {
        out.text.push(byte);
        out.origin.push(at as u32);
    };
    push(&mut out, b' ', 0);
    let mut space = true;
    let mut prev_cyr = false;
    let mut i = 0;
    while i < b.len() {
        let x = b[i];
        let at = i;
        if x < 0x80 {
            i += 1;
            let lower = x.to_ascii_lowercase();
            if lower.is_ascii_alphanumeric() {
                // A Latin look-alike counts as Cyrillic when a neighbour is Cyrillic.
                let next_cyr = matches!(b.get(i), Some(0xD0 | 0xD1));
                let byte = if prev_cyr || next_cyr { cyrillic_lookalike(lower).unwrap_or(lower) } else { lower };
                push(&mut out, byte, at);
                space = false;
                prev_cyr = false;
            } else {
                prev_cyr = false;
                match x {
                    b'.' => {
                        if !space {
                            push(&mut out, b'.', at);
                            push(&mut out, b' ', at);
                            space = true;
                        }
                    }
                    b'-' => {
                        if !space {
                            push(&mut out, b' ', at);
                        }
                        push(&mut out, b'-', at);
                        push(&mut out, b' ', at);
                        space = true;
                    }
                    _ => {
                        if !space {
                            push(&mut out, b' ', at);
                            space = true;
                        }
                    }
                }
            }
            continue;
        }
        if (x == 0xD0 || x == 0xD1) && i + 1 < b.len() {
            // U+0400..U+045F: D0 80..BF and D1 80..9F, by table; U+0460..U+047F (historic
            // letters) fall through to the generic path below.
            let n = b[i + 1];
            if x == 0xD0 || n < 0xA0 {
                push(&mut out, CYRILLIC[((x & 1) as usize) << 6 | (n & 0x3F) as usize], at);
                i += 2;
                space = false;
                prev_cyr = true;
                continue;
            }
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        i += c.len_utf8();
        prev_cyr = false;
        if is_invisible(c) {
            // A combining breve turns и into й; other marks (stress accents) just vanish.
            if c == '\u{0306}' && out.text.last() == Some(&ru('и')) {
                *out.text.last_mut().unwrap() = ru('й');
            }
            prev_cyr = matches!(out.text.last(), Some(0xC0..=0xDF));
            continue;
        }
        if c.is_alphanumeric() {
            push(&mut out, OTHER_LETTER, at);
            space = false;
        } else if is_dash(c) {
            if !space {
                push(&mut out, b' ', at);
            }
            push(&mut out, b'-', at);
            push(&mut out, b' ', at);
            space = true;
        } else if !space {
            push(&mut out, b' ', at);
            space = true;
        }
    }
    *reused = out;
}

/// Encodes a dictionary entry (a form, type word, preposition) exactly like post text.
pub(crate) fn encode(word: &str) -> Vec<u8> {
    normalize(word).text
}

/// Readable form of encoded text (letters of other alphabets as «·»).
pub(crate) fn decode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0xC0..=0xDF => char::from_u32(CYR_A + (b - 0xC0) as u32).unwrap_or('?'),
            0x80..=0xBF => '·',
            _ => b as char,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        decode(&normalize(s).text)
    }

    #[test]
    fn layout() {
        assert_eq!(n("г.Пенза, Сердобский р-н"), " г. пенза сердобский р - н");
        assert_eq!(n("ЁЛКИ  Йошкар–Ола!!"), " елки йошкар - ола ");
        assert_eq!(n(""), " ");
        assert_eq!(n("Ўзбек"), " ·збек");
    }

    #[test]
    fn latin_lookalikes_only_next_to_cyrillic() {
        // «Пензa» with a Latin a, «Kузнецк» with a Latin K.
        assert_eq!(n("Пензa Kузнецк"), " пенза кузнецк");
        assert_eq!(n("Moscow"), " moscow");
    }

    #[test]
    fn combining_marks() {
        assert_eq!(n("Каме\u{301}нка Заи\u{306}ка"), " каменка зайка");
    }

    #[test]
    fn spans_map_back() {
        let t = "В Пензе";
        let norm = normalize(t);
        let needle = encode("пензе");
        let s = norm.text.windows(needle.len() - 1).position(|w| w == &needle[1..]).unwrap();
        assert_eq!(&t[norm.original_span(t, s, s + needle.len() - 1)], "Пензе");
    }
}
