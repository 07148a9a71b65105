//! Telegram MarkdownV2, built from spans so that escaping is never forgotten and a message can be
//! split at line ends without cutting an entity or an escape.
//!
//! The Bot API's rules ("Formatting options", MarkdownV2 style): outside entities every one of
//! `_*[]()~`>#+-=|{}.!` and `\` is escaped with a `\`; inside the `(...)` of an inline link only
//! `)` and `\` are. A message may hold 4096 characters *after entity parsing*, i.e. of the plain
//! text; Telegram counts them in UTF-16 code units.

/// Characters MarkdownV2 reserves outside entities.
pub const RESERVED: &[char] =
    &['_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!'];

/// The most text one message may carry, after entity parsing.
pub const MESSAGE_LIMIT: usize = 4096;

/// `text` as MarkdownV2 plain text: every reserved character and `\` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for c in text.chars() {
        if c == '\\' || RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL inside `[…](…)`: only `)` and `\` are escaped there.
pub fn escape_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c == ')' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A piece of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Bold(String),
    Italic(String),
    /// An inline link; the URL must be http(s) (the renderer checks).
    Link {
        text: String,
        url: String,
    },
}

impl Span {
    fn text(&self) -> &str {
        match self {
            Span::Text(t) | Span::Bold(t) | Span::Italic(t) | Span::Link { text: t, .. } => t,
        }
    }

    /// Its length after entity parsing, in UTF-16 code units.
    pub fn plain_len(&self) -> usize {
        utf16_len(self.text())
    }

    pub fn markup(&self) -> String {
        match self {
            // Empty entities are an error for Telegram; an empty span renders as nothing.
            s if s.text().is_empty() => String::new(),
            Span::Text(t) => escape(t),
            Span::Bold(t) => format!("*{}*", escape(t)),
            Span::Italic(t) => format!("_{}_", escape(t)),
            Span::Link { text, url } => format!("[{}]({})", escape(text), escape_url(url)),
        }
    }

    fn with_text(&self, text: String) -> Span {
        match self {
            Span::Text(_) => Span::Text(text),
            Span::Bold(_) => Span::Bold(text),
            Span::Italic(_) => Span::Italic(text),
            Span::Link { url, .. } => Span::Link { text, url: url.clone() },
        }
    }
}

pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// One line of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line(pub Vec<Span>);

impl Line {
    pub fn plain_len(&self) -> usize {
        self.0.iter().map(Span::plain_len).sum()
    }

    pub fn markup(&self) -> String {
        // Two italic spans in a row would write `_a__b_`, and Telegram reads `__` as underline:
        // they are written as one.
        let mut spans: Vec<Span> = Vec::with_capacity(self.0.len());
        for span in self.0.iter().filter(|s| !s.text().is_empty()) {
            match (spans.last_mut(), span) {
                (Some(Span::Italic(before)), Span::Italic(text)) => before.push_str(text),
                _ => spans.push(span.clone()),
            }
        }
        spans.iter().map(Span::markup).collect()
    }

    pub fn plain(&self) -> String {
        self.0.iter().map(Span::text).collect()
    }

    /// The line cut into pieces of at most `limit` plain characters: plain text is cut between
    /// characters, an entity is never cut (one longer than `limit` alone is shortened).
    fn pieces(&self, limit: usize) -> Vec<Line> {
        if self.plain_len() <= limit {
            return vec![self.clone()];
        }
        let mut pieces = vec![Line::default()];
        let mut used = 0;
        for span in &self.0 {
            let parts = match span {
                Span::Text(text) => cut(text, limit).into_iter().map(Span::Text).collect(),
                entity => vec![entity.with_text(shorten(entity.text(), limit))],
            };
            for part in parts {
                let len = part.plain_len();
                if used + len > limit {
                    pieces.push(Line::default());
                    used = 0;
                }
                used += len;
                if let Some(last) = pieces.last_mut() {
                    last.0.push(part);
                }
            }
        }
        pieces
    }
}

/// `text` cut into runs of at most `limit` UTF-16 units, between characters.
fn cut(text: &str, limit: usize) -> Vec<String> {
    let mut runs = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() > limit {
            runs.push(String::new());
            used = 0;
        }
        used += c.len_utf16();
        if let Some(run) = runs.last_mut() {
            run.push(c);
        }
    }
    runs
}

/// `text` shortened to at most `limit` UTF-16 units, with `…` when cut.
pub fn shorten(text: &str, limit: usize) -> String {
    if utf16_len(text) <= limit {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() + 1 > limit {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// The lines as messages of at most `limit` characters after entity parsing, split at line ends
/// (a line longer than `limit` is cut between its spans' characters). No message is blank.
pub fn split(lines: &[Line], limit: usize) -> Vec<String> {
    let mut messages = Vec::new();
    let (mut current, mut used, mut blank) = (String::new(), 0usize, true);
    for line in lines.iter().flat_map(|l| l.pieces(limit.max(2))) {
        let len = line.plain_len();
        if blank && line.plain().trim().is_empty() {
            continue;
        }
        if !blank && used + 1 + len > limit {
            messages.push(std::mem::take(&mut current));
            (used, blank) = (0, true);
            if line.plain().trim().is_empty() {
                continue;
            }
        }
        if !blank {
            current.push('\n');
            used += 1;
        }
        current.push_str(&line.markup());
        used += len;
        blank = false;
    }
    if !blank {
        messages.push(current);
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_reserved_character() {
        assert_eq!(
            escape("a_b*c[d]e(f)g~h`i>j#k+l-m=n|o{p}q.r!s\\t"),
            r"a\_b\*c\[d\]e\(f\)g\~h\`i\>j\#k\+l\-m\=n\|o\{p\}q\.r\!s\\t"
        );
        assert_eq!(escape_url("https://x.org/a_(b)\\"), r"https://x.org/a_(b\)\\");
        let link = Span::Link { text: "1. ул. Мира (д. 5)".into(), url: "https://vk.com/wall-1_2".into() };
        assert_eq!(link.markup(), r"[1\. ул\. Мира \(д\. 5\)](https://vk.com/wall-1_2)");
        assert_eq!(Span::Bold(String::new()).markup(), "");
    }

    #[test]
    fn splits_at_line_ends_by_plain_length() {
        let line = |n: usize| Line(vec![Span::Bold("a.".repeat(n))]);
        // Each line is 10 characters of plain text but 30 of markup: the plain length counts.
        let lines: Vec<Line> = (0..5).map(|_| line(5)).collect();
        let messages = split(&lines, 21);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0], format!("{}\n{}", line(5).markup(), line(5).markup()));
        let long = Line(vec![Span::Text("я".repeat(25))]);
        let messages = split(&[long], 10);
        assert_eq!(messages, ["я".repeat(10), "я".repeat(10), "я".repeat(5)]);
    }

    #[test]
    fn adjacent_italics_are_one_entity() {
        // `_a__b_` would open an underline.
        let line = Line(vec![Span::Italic("a".into()), Span::Italic("b".into()), Span::Bold("c".into())]);
        assert_eq!(line.markup(), "_ab_*c*");
    }

    #[test]
    fn emoji_count_twice() {
        assert_eq!(utf16_len("🚨a"), 3);
        assert_eq!(shorten("абвгд", 4), "абв…");
    }
}
