//! A forward-only HTML tag scanner over bytes.
//!
//! It knows just enough HTML to walk t.me markup safely without building a tree: tags with
//! quoted or bare attributes, comments, doctype / processing instructions, and raw-text elements
//! (`script`, `style`, `textarea`, `title`) whose content may contain `<` that is not a tag. Text
//! between tags is implicit: the gap between one tag's `end` and the next tag's `start`.
//!
//! Everything here is total: any byte sequence scans to a finite list of tags without panics,
//! and every step moves forward, so hostile input cannot loop.

use memchr::{memchr, memchr2, memmem};

/// Whether a tag opens or closes an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    Open,
    Close,
}

/// One tag as found in the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag<'a> {
    pub kind: TagKind,
    /// As written (compare with [`Tag::is`], which ignores ASCII case).
    pub name: &'a [u8],
    /// The raw attribute source between the name and `>`.
    pub attrs: &'a [u8],
    /// Offset of `<`.
    pub start: usize,
    /// Offset just past `>` (or the end of input for an unterminated tag).
    pub end: usize,
}

impl<'a> Tag<'a> {
    pub fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    pub fn is_open(&self, name: &[u8]) -> bool {
        self.kind == TagKind::Open && self.is(name)
    }

    /// Void elements never have content or a closing tag, whatever the markup claims.
    pub fn is_void(&self) -> bool {
        const VOID: [&[u8]; 14] = [
            b"br", b"img", b"meta", b"link", b"input", b"hr", b"source", b"wbr", b"area", b"base", b"col", b"embed",
            b"param", b"track",
        ];
        VOID.iter().any(|v| self.is(v))
    }

    /// The raw (still entity-encoded) value of attribute `name`; `Some(b"")` for a bare attribute.
    pub fn attr(&self, name: &[u8]) -> Option<&'a [u8]> {
        Attributes { src: self.attrs, pos: 0 }.find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The class attribute's value, or empty.
    pub fn classes(&self) -> &'a [u8] {
        self.attr(b"class").unwrap_or(b"")
    }

    pub fn has_class(&self, class: &[u8]) -> bool {
        class_tokens(self.classes()).any(|token| token == class)
    }
}

/// The whitespace-separated tokens of a class attribute value.
pub(crate) fn class_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| b.is_ascii_whitespace()).filter(|token| !token.is_empty())
}

/// Attribute `(name, raw value)` pairs in source order.
struct Attributes<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let src = self.src;
        loop {
            while self.pos < src.len() && (src[self.pos].is_ascii_whitespace() || src[self.pos] == b'/') {
                self.pos += 1;
            }
            if self.pos >= src.len() {
                return None;
            }
            let name_start = self.pos;
            // A stray quote or `=` where a name should be: HTML makes it part of a name; we step
            // over it so the scan always advances.
            while self.pos < src.len() && !matches!(src[self.pos], b'=' | b'/') && !src[self.pos].is_ascii_whitespace()
            {
                self.pos += 1;
            }
            let name = &src[name_start..self.pos];
            let mut probe = self.pos;
            while probe < src.len() && src[probe].is_ascii_whitespace() {
                probe += 1;
            }
            if probe >= src.len() || src[probe] != b'=' {
                if name.is_empty() {
                    self.pos += 1;
                    continue;
                }
                return Some((name, b""));
            }
            self.pos = probe + 1;
            while self.pos < src.len() && src[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            let value = match src.get(self.pos) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let value_start = self.pos + 1;
                    let value_end = memchr(quote, &src[value_start..]).map_or(src.len(), |i| value_start + i);
                    self.pos = (value_end + 1).min(src.len());
                    &src[value_start..value_end]
                }
                _ => {
                    let value_start = self.pos;
                    while self.pos < src.len() && !src[self.pos].is_ascii_whitespace() {
                        self.pos += 1;
                    }
                    &src[value_start..self.pos]
                }
            };
            if name.is_empty() {
                continue;
            }
            return Some((name, value));
        }
    }
}

/// Walks the tags of `html[pos..limit]` in order.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    html: &'a [u8],
    pub pos: usize,
    limit: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(html: &'a [u8]) -> Self {
        Scanner { html, pos: 0, limit: html.len() }
    }

    /// A scanner over `html[from..limit]`.
    pub fn range(html: &'a [u8], from: usize, limit: usize) -> Self {
        let limit = limit.min(html.len());
        Scanner { html, pos: from.min(limit), limit }
    }

    pub fn html(&self) -> &'a [u8] {
        self.html
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn next_tag(&mut self) -> Option<Tag<'a>> {
        let html = &self.html[..self.limit];
        loop {
            let lt = self.pos + memchr(b'<', &html[self.pos..])?;
            let after = lt + 1;
            match html.get(after) {
                Some(b'!') => {
                    self.pos = if html[after..].starts_with(b"!--") {
                        let body = after + 3;
                        memmem::find(&html[body..], b"-->").map_or(html.len(), |i| body + i + 3)
                    } else {
                        memchr(b'>', &html[after..]).map_or(html.len(), |i| after + i + 1)
                    };
                }
                Some(b'?') => {
                    self.pos = memchr(b'>', &html[after..]).map_or(html.len(), |i| after + i + 1);
                }
                Some(b'/') if html.get(after + 1).is_some_and(u8::is_ascii_alphabetic) => {
                    return Some(self.finish_tag(lt, after + 1, TagKind::Close));
                }
                Some(b) if b.is_ascii_alphabetic() => {
                    let tag = self.finish_tag(lt, after, TagKind::Open);
                    self.skip_raw_text(&tag);
                    return Some(tag);
                }
                // A `<` that starts no tag is text.
                _ => self.pos = after,
            }
        }
    }

    fn finish_tag(&mut self, start: usize, name_start: usize, kind: TagKind) -> Tag<'a> {
        let html = &self.html[..self.limit];
        let mut name_end = name_start;
        while name_end < html.len() && !html[name_end].is_ascii_whitespace() && !matches!(html[name_end], b'>' | b'/') {
            name_end += 1;
        }
        let end = tag_end(html, name_end);
        let attrs_end = if end > name_end && html.get(end - 1) == Some(&b'>') { end - 1 } else { end };
        self.pos = end;
        Tag { kind, name: &html[name_start..name_end], attrs: &html[name_end..attrs_end], start, end }
    }

    /// Script and style bodies may hold `<div class=...>` in strings; they are never markup.
    fn skip_raw_text(&mut self, tag: &Tag<'a>) {
        const RAW: [&[u8]; 4] = [b"script", b"style", b"textarea", b"title"];
        if !RAW.iter().any(|name| tag.is(name)) {
            return;
        }
        let html = &self.html[..self.limit];
        let mut from = self.pos;
        while let Some(i) = memmem::find(&html[from..], b"</") {
            let at = from + i;
            let name = &html[at + 2..];
            if name.len() >= tag.name.len() && name[..tag.name.len()].eq_ignore_ascii_case(tag.name) {
                self.pos = at;
                return;
            }
            from = at + 2;
        }
        self.pos = html.len();
    }
}

/// The offset just past the `>` ending a tag whose attributes start at `from`, honouring quotes.
fn tag_end(html: &[u8], from: usize) -> usize {
    let mut pos = from;
    loop {
        let Some(i) = memchr2(b'>', b'"', &html[pos..]).map(|i| pos + i) else {
            return html.len();
        };
        // Single quotes matter only inside attribute values; t.me uses them in `style` url('…'),
        // always inside double quotes, so only a `'` right after `=` opens a quoted value.
        let single = memchr(b'\'', &html[pos..i]).map(|j| pos + j).filter(|&j| is_value_start(html, from, j));
        match (single, html[i]) {
            (Some(j), _) => match memchr(b'\'', &html[j + 1..]) {
                Some(k) => pos = j + 1 + k + 1,
                None => return html.len(),
            },
            (None, b'>') => return i + 1,
            (None, _) if is_value_start(html, from, i) => match memchr(b'"', &html[i + 1..]) {
                Some(k) => pos = i + 1 + k + 1,
                None => return html.len(),
            },
            // A stray quote outside a value (`<a b"c>`): HTML treats it as a name character.
            (None, _) => pos = i + 1,
        }
    }
}

/// Whether the quote at `at` opens an attribute value (`=` before it, spaces allowed).
fn is_value_start(html: &[u8], from: usize, at: usize) -> bool {
    let mut j = at;
    while j > from {
        j -= 1;
        match html[j] {
            b'=' => return true,
            b if b.is_ascii_whitespace() => continue,
            _ => return false,
        }
    }
    false
}

/// Consumes tags up to and including the close of an element whose open tag (named `name`) the
/// scanner has just passed, calling `visit` for every tag inside. `visit` returns `true` when it
/// consumed the element it was shown (through its closing tag), so that element's open tag does
/// not count towards the nesting depth. Returns the offset where the element's content ends (the
/// start of its closing tag, or the scanner limit when it is unclosed).
pub(crate) fn walk_element<'a>(
    scanner: &mut Scanner<'a>,
    name: &[u8],
    mut visit: impl FnMut(&mut Scanner<'a>, Tag<'a>) -> bool,
) -> usize {
    let mut depth = 1usize;
    while let Some(tag) = scanner.next_tag() {
        let same_name = tag.is(name);
        if same_name && tag.kind == TagKind::Close {
            depth -= 1;
            if depth == 0 {
                return tag.start;
            }
            continue;
        }
        let consumed = visit(scanner, tag);
        if same_name && !consumed {
            depth += 1;
        }
    }
    scanner.limit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(html: &[u8]) -> Vec<String> {
        let mut scanner = Scanner::new(html);
        std::iter::from_fn(|| scanner.next_tag())
            .map(|t| format!("{}{}", if t.kind == TagKind::Close { "/" } else { "" }, String::from_utf8_lossy(t.name)))
            .collect()
    }

    #[test]
    fn scans_tags_comments_and_raw_text() {
        let html = b"<!DOCTYPE html><!-- <b> --><div class='x'>a < b<script>if (a<b) '<div>'</script><br/></DIV>";
        assert_eq!(names(html), ["div", "script", "/script", "br", "/DIV"]);
    }

    #[test]
    fn reads_attributes_in_any_order_and_quoting() {
        let html = br#"<a data-x = 'one two' href=/s/x?before=5 class="k  tgme_widget_message_date" hidden>"#;
        let tag = Scanner::new(html).next_tag().unwrap();
        assert_eq!(tag.attr(b"DATA-X"), Some(&b"one two"[..]));
        assert_eq!(tag.attr(b"href"), Some(&b"/s/x?before=5"[..]));
        assert_eq!(tag.attr(b"hidden"), Some(&b""[..]));
        assert!(tag.has_class(b"tgme_widget_message_date"));
        assert!(!tag.has_class(b"tgme_widget_message"));
    }

    #[test]
    fn quoted_gt_does_not_end_a_tag() {
        let html = br#"<i style="background-image:url('a>b')" title='x>y'>t</i>"#;
        let tag = Scanner::new(html).next_tag().unwrap();
        assert_eq!(tag.attr(b"title"), Some(&b"x>y"[..]));
        assert_eq!(&html[tag.end..tag.end + 1], b"t");
    }

    #[test]
    fn unterminated_input_ends_cleanly() {
        for html in [&b"<div class=\"a"[..], b"<div", b"<!-- x", b"<script>x", b"<", b"</", b"<a b\"c>", b"<a ='x'>"] {
            let mut scanner = Scanner::new(html);
            while scanner.next_tag().is_some() {}
        }
    }

    #[test]
    fn walk_element_balances_same_name_tags() {
        let html = b"<div><div>in</div><span></span></div>after";
        let mut scanner = Scanner::new(html);
        scanner.next_tag();
        let mut seen = 0;
        let end = walk_element(&mut scanner, b"div", |_, _| {
            seen += 1;
            false
        });
        assert_eq!(&html[end..end + 6], b"</div>");
        assert_eq!(seen, 3);
    }
}
