//! Markup to plain text: what a reader sees, with line breaks kept.
//!
//! Whitespace runs collapse to one space as a browser renders them (t.me writes line breaks as
//! `<br/>`, so source newlines are layout, not content); `<br>` and block elements become line
//! breaks; every other tag is dropped and its text kept (links, hashtags, emoji written as
//! `<i class="emoji"><b>😀</b></i>`); character references are decoded.

use super::scan::{walk_element, Scanner, Tag, TagKind};
use memchr::memchr;

/// Collects text pieces, collapsing whitespace and keeping explicit line breaks.
#[derive(Debug, Default)]
struct TextBuilder {
    out: String,
    /// A space is owed before the next visible character (collapsed whitespace).
    pending_space: bool,
    /// Inside `<pre>`: whitespace is content, as a browser shows it.
    preformatted_depth: usize,
}

impl TextBuilder {
    /// Appends raw (entity-encoded) source text.
    fn push_source(&mut self, raw: &[u8]) {
        if raw.is_empty() {
            return;
        }
        if memchr(b'&', raw).is_none() {
            self.push_decoded(&String::from_utf8_lossy(raw));
        } else {
            self.push_decoded(&decode_entities(raw));
        }
    }

    fn push_decoded(&mut self, text: &str) {
        if self.preformatted_depth > 0 {
            if self.pending_space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.out.push_str(text);
            self.pending_space = false;
            return;
        }
        for piece in text.split(|c: char| c.is_ascii_whitespace()) {
            if piece.is_empty() {
                self.pending_space = true;
                continue;
            }
            if self.pending_space && !self.out.is_empty() && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.pending_space = true;
            self.out.push_str(piece);
        }
        // `split` yields a trailing piece; the last one pushed owes no space unless the text ended in whitespace.
        self.pending_space = text.ends_with(|c: char| c.is_ascii_whitespace());
    }

    fn line_break(&mut self) {
        self.trim_trailing_spaces();
        self.out.push('\n');
        self.pending_space = false;
    }

    /// Starts a new line unless already at the start of one (around block elements).
    fn block_boundary(&mut self) {
        self.trim_trailing_spaces();
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.pending_space = false;
    }

    fn trim_trailing_spaces(&mut self) {
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
    }

    fn finish(self) -> String {
        let text = self.out.trim_matches(|c: char| c == ' ' || c == '\n');
        text.to_owned()
    }
}

/// Text of the element whose open tag the scanner has just passed, consuming through its close.
pub(crate) fn element_text<'a>(scanner: &mut Scanner<'a>, open: &Tag<'a>) -> String {
    let mut text = TextBuilder::default();
    element_text_into(scanner, open, &mut text);
    text.finish()
}

/// Like [`element_text`], appending to a builder shared across elements.
fn element_text_into<'a>(scanner: &mut Scanner<'a>, open: &Tag<'a>, text: &mut TextBuilder) {
    if open.is_void() {
        return;
    }
    let html = scanner.html();
    let mut last = open.end;
    let end = walk_element(scanner, open.name, |_, tag| {
        text.push_source(&html[last.min(tag.start)..tag.start]);
        last = tag.end;
        apply_tag(&tag, text);
        false
    });
    text.push_source(&html[last.min(end)..end]);
}

/// What a tag inside text contributes: a line break, a block boundary, an emoji image's alt.
fn apply_tag(tag: &Tag<'_>, text: &mut TextBuilder) {
    const BLOCKS: [&[u8]; 9] = [b"div", b"p", b"blockquote", b"pre", b"li", b"ul", b"ol", b"h1", b"h2"];
    if tag.is(b"br") {
        if tag.kind == TagKind::Open {
            text.line_break();
        }
    } else if BLOCKS.iter().any(|b| tag.is(b)) {
        text.block_boundary();
        if tag.is(b"pre") {
            text.preformatted_depth = match tag.kind {
                TagKind::Open => text.preformatted_depth + 1,
                TagKind::Close => text.preformatted_depth.saturating_sub(1),
            };
        }
    } else if tag.is_open(b"img") {
        if let Some(alt) = tag.attr(b"alt") {
            text.push_source(alt);
        }
    }
}

/// Decodes character references (`&amp;`, `&#39;`, `&#x1F600;`, common named ones). Unknown or
/// malformed references stay as written, as browsers leave them.
pub(crate) fn decode_entities(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match decode_one(rest) {
            Some((decoded, used)) => {
                match decoded {
                    Decoded::Char(c) => out.push(c),
                    Decoded::Str(s) => out.push_str(s),
                }
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A decoded reference and how many bytes of `s` (starting at `&`) it used.
fn decode_one(s: &str) -> Option<(Decoded, usize)> {
    let bytes = s.as_bytes();
    // The longest reference we decode is `&#x10FFFF;` / `&hellip;`-like names; 32 bounds the look.
    let semi = bytes.iter().take(32).position(|&b| b == b';')?;
    let body = &s[1..semi];
    let ch = if let Some(num) = body.strip_prefix('#') {
        let value = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        // NUL, surrogates and out-of-range values render as U+FFFD in browsers.
        Decoded::Char(char::from_u32(value).filter(|&c| c != '\0').unwrap_or('\u{FFFD}'))
    } else {
        Decoded::Str(named_entity(body)?)
    };
    Some((ch, semi + 1))
}

enum Decoded {
    Char(char),
    Str(&'static str),
}

/// Named references that occur in Telegram-rendered text and channel descriptions. t.me itself
/// escapes only `& < > " '`; the rest come from text that was pasted pre-escaped.
fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" | "AMP" => "&",
        "lt" | "LT" => "<",
        "gt" | "GT" => ">",
        "quot" | "QUOT" => "\"",
        "apos" => "'",
        "nbsp" => "\u{A0}",
        "shy" => "\u{AD}",
        "laquo" => "«",
        "raquo" => "»",
        "lsquo" => "‘",
        "rsquo" => "’",
        "sbquo" => "‚",
        "ldquo" => "“",
        "rdquo" => "”",
        "bdquo" => "„",
        "ndash" => "–",
        "mdash" => "—",
        "hellip" => "…",
        "bull" => "•",
        "middot" => "·",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "deg" => "°",
        "plusmn" => "±",
        "times" => "×",
        "divide" => "÷",
        "sect" => "§",
        "para" => "¶",
        "euro" => "€",
        "rarr" => "→",
        "larr" => "←",
        "zwj" => "\u{200D}",
        "zwnj" => "\u{200C}",
        "thinsp" => "\u{2009}",
        "ensp" => "\u{2002}",
        "emsp" => "\u{2003}",
        "numero" => "№",
        _ => return None,
    })
}

/// Decoded text of a raw attribute value (entities decoded, whitespace kept as is).
pub(crate) fn attr_text(raw: &[u8]) -> String {
    if memchr(b'&', raw).is_none() {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        decode_entities(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(html: &str) -> String {
        let mut scanner = Scanner::new(html.as_bytes());
        let open = scanner.next_tag().unwrap();
        element_text(&mut scanner, &open)
    }

    #[test]
    fn keeps_line_breaks_and_link_text() {
        let html =
            "<div>  Воды нет <b>третий</b> день!<br/><br>Адрес: <a href=\"x\">ул.&nbsp;Ленина, 5</a>\n  #ЖКХ </div>";
        assert_eq!(text_of(html), "Воды нет третий день!\n\nАдрес: ул.\u{A0}Ленина, 5 #ЖКХ");
    }

    #[test]
    fn emoji_markup_becomes_the_character() {
        let html = r#"<div>Тепло <i class="emoji" style="background-image:url('//telegram.org/img/emoji/40/F09F94A5.png')"><b>🔥</b></i> дали</div>"#;
        assert_eq!(text_of(html), "Тепло 🔥 дали");
    }

    #[test]
    fn block_elements_break_lines_once() {
        assert_eq!(text_of("<div>до<blockquote>цитата</blockquote>после</div>"), "до\nцитата\nпосле");
        assert_eq!(text_of("<div>a<br/><blockquote>b</blockquote></div>"), "a\nb");
        assert_eq!(text_of("<div>код:<pre>a  = 1\nb = 2</pre>  дальше</div>"), "код:\na  = 1\nb = 2\nдальше");
    }

    #[test]
    fn decodes_references_and_leaves_unknown_ones() {
        assert_eq!(
            decode_entities(b"&lt;b&gt; &amp; &#39;q&#x27; &#128512; &bogus; & &#xD800; &amp"),
            "<b> & 'q' 😀 &bogus; & \u{FFFD} &amp"
        );
    }

    #[test]
    fn unclosed_element_runs_to_the_end() {
        assert_eq!(text_of("<div>one<div>two"), "one\ntwo");
    }
}
