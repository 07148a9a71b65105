//! The gazetteer's own text normalisation, applied identically to patterns and to post text.
//!
//! It is separate from the classifier's general normaliser because the automaton relies on a few
//! layout guarantees that make word boundaries free:
//!
//! - the text starts with a space and every word is preceded by exactly one space, so every
//!   pattern starts with a space and can only match at a word start;
//! - letters and digits are kept (lower-cased, ё → е, Latin look-alikes inside Cyrillic words
//!   mapped to Cyrillic); a `.` is kept and followed by a space («г.Пенза» → « г. пенза»); a hyphen
//!   or dash becomes « - » so «Пенза-Заречный» exposes both names while «р-н» and «Йошкар-Ола»
//!   still match as « р - н», « йошкар - ола»; everything else collapses into one space;
//! - each output byte remembers the byte offset of the original character it came from, so a
//!   match maps back to a span of the original text.

/// Normalised text plus, for every byte of it, the byte offset of the source character.
#[derive(Debug, Default, Clone)]
pub(crate) struct Normalized {
    pub text: String,
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

/// Latin letters that are drawn like Cyrillic ones; spammers and phone keyboards mix them in.
fn cyrillic_lookalike(c: char) -> Option<char> {
    Some(match c {
        'a' | 'A' => 'а',
        'b' | 'B' => 'в',
        'c' | 'C' => 'с',
        'e' | 'E' => 'е',
        'h' | 'H' => 'н',
        'k' | 'K' => 'к',
        'm' | 'M' => 'м',
        'o' | 'O' => 'о',
        'p' | 'P' => 'р',
        't' | 'T' => 'т',
        'x' | 'X' => 'х',
        'y' | 'Y' => 'у',
        _ => return None,
    })
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}')
}

/// Characters that sit inside words without separating them.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{0300}'..='\u{036F}')
}

pub(crate) fn normalize(text: &str) -> Normalized {
    let mut out = Normalized { text: String::with_capacity(text.len() + 8), origin: Vec::with_capacity(text.len() + 8) };
    normalize_into(text, &mut out);
    out
}

pub(crate) fn normalize_into(text: &str, out: &mut Normalized) {
    out.text.clear();
    out.origin.clear();
    let push = |out: &mut Normalized, c: char, at: usize| {
        let before = out.text.len();
        out.text.push(c);
        for _ in before..out.text.len() {
            out.origin.push(at as u32);
        }
    };
    push(out, ' ', 0);
    let mut space = true;
    let mut prev: char = ' ';
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map_or(' ', |&(_, n)| n);
        if is_invisible(c) {
            // A combining breve turns и into й; other marks (stress accents) just vanish.
            if c == '\u{0306}' && out.text.ends_with('и') {
                out.text.pop();
                out.text.push('й');
            }
            continue;
        }
        if c.is_alphanumeric() {
            let c = if c.is_ascii() && (is_cyrillic(prev) || is_cyrillic(next)) {
                cyrillic_lookalike(c).unwrap_or(c)
            } else {
                c
            };
            for l in c.to_lowercase() {
                push(out, if l == 'ё' { 'е' } else { l }, at);
            }
            space = false;
        } else if c == '.' {
            if !space {
                push(out, '.', at);
                push(out, ' ', at);
                space = true;
            }
        } else if is_dash(c) {
            if !space {
                push(out, ' ', at);
            }
            push(out, '-', at);
            push(out, ' ', at);
            space = true;
        } else if !space {
            push(out, ' ', at);
            space = true;
        }
        prev = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(normalize("г.Пенза, Сердобский р-н").text, " г. пенза сердобский р - н");
        assert_eq!(normalize("ЁЛКИ  Йошкар–Ола!!").text, " елки йошкар - ола ");
        assert_eq!(normalize("").text, " ");
    }

    #[test]
    fn latin_lookalikes_only_next_to_cyrillic() {
        // «Пензa» with a Latin a, «Kузнецк» with a Latin K.
        assert_eq!(normalize("Пензa Kузнецк").text, " пенза кузнецк");
        assert_eq!(normalize("Moscow").text, " moscow");
    }

    #[test]
    fn combining_marks() {
        assert_eq!(normalize("Каме\u{301}нка Заи\u{306}ка").text, " каменка зайка");
    }

    #[test]
    fn spans_map_back() {
        let t = "В Пензе";
        let n = normalize(t);
        let s = n.text.find("пензе").unwrap();
        assert_eq!(&t[n.original_span(t, s, s + "пензе".len())], "Пензе");
    }
}
