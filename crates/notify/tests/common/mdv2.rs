//! MarkdownV2 as the Bot API parses it ("Formatting options"), for the fake Telegram server and
//! the escaping properties: an unescaped reserved character outside an entity is the error
//! Telegram gives («can't parse entities»), entities must close and nest properly, and the
//! result is the plain text a message shows (whose length the 4096 limit counts).

const RESERVED: &[char] = &['_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!'];

/// The plain text of `text`, or why Telegram refuses it.
pub fn parse(text: &str) -> Result<String, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut plain = String::new();
    let mut open: Vec<&'static str> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' => {
                let escaped = next.ok_or("can't parse entities: a '\\' ends the text")?;
                if !(1..=126).contains(&(escaped as u32)) {
                    return Err(format!("can't parse entities: '\\' before {escaped:?}, which cannot be escaped"));
                }
                plain.push(escaped);
                i += 2;
            }
            '*' => {
                toggle(&mut open, "*")?;
                i += 1;
            }
            '~' => {
                toggle(&mut open, "~")?;
                i += 1;
            }
            '_' if next == Some('_') => {
                toggle(&mut open, "__")?;
                i += 2;
            }
            '_' => {
                toggle(&mut open, "_")?;
                i += 1;
            }
            '|' if next == Some('|') => {
                toggle(&mut open, "||")?;
                i += 2;
            }
            '`' => i = code(&chars, i, &mut plain)?,
            '[' => {
                if open.contains(&"[") {
                    return Err("can't parse entities: a link inside a link".into());
                }
                open.push("[");
                i += 1;
            }
            ']' => {
                if open.last() != Some(&"[") {
                    return Err("can't parse entities: character ']' is reserved and must be escaped".into());
                }
                open.pop();
                i = url(&chars, i + 1)?;
            }
            '>' if i == 0 || chars[i - 1] == '\n' => i += 1,
            c if RESERVED.contains(&c) => {
                return Err(format!(
                    "can't parse entities: character '{c}' is reserved and must be escaped with the preceding '\\'"
                ));
            }
            c => {
                plain.push(c);
                i += 1;
            }
        }
    }
    match open.last() {
        Some(mark) => Err(format!("can't parse entities: can't find end of the entity starting with {mark:?}")),
        None => Ok(plain),
    }
}

fn toggle(open: &mut Vec<&'static str>, mark: &'static str) -> Result<(), String> {
    if open.last() == Some(&mark) {
        open.pop();
    } else if open.contains(&mark) {
        return Err(format!("can't parse entities: {mark:?} entities are not properly nested"));
    } else {
        open.push(mark);
    }
    Ok(())
}

/// `` `code` `` or ```` ```pre``` ```` from `start`; returns the index after it.
fn code(chars: &[char], start: usize, plain: &mut String) -> Result<usize, String> {
    let pre = chars.get(start + 1) == Some(&'`') && chars.get(start + 2) == Some(&'`');
    let mut i = start + if pre { 3 } else { 1 };
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let escaped = chars.get(i + 1).ok_or("can't parse entities: a '\\' ends the text")?;
                plain.push(*escaped);
                i += 2;
            }
            '`' if !pre => return Ok(i + 1),
            '`' if chars.get(i + 1) == Some(&'`') && chars.get(i + 2) == Some(&'`') => return Ok(i + 3),
            c => {
                plain.push(c);
                i += 1;
            }
        }
    }
    Err("can't parse entities: can't find end of the code entity".into())
}

/// The `(url)` after a link's `]`: only `)` and `\` are escaped inside; returns the index after it.
fn url(chars: &[char], start: usize) -> Result<usize, String> {
    if chars.get(start) != Some(&'(') {
        return Err("can't parse entities: a link's ']' must be followed by '(url)'".into());
    }
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            ')' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err("can't parse entities: can't find the end of a link's URL".into())
}

/// Telegram's count: UTF-16 code units.
pub fn plain_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

#[test]
fn the_parser_refuses_what_telegram_refuses() {
    assert_eq!(parse(r"*bold* _it_ [a\.b](https://x.org/\)) 1\.5").unwrap(), "bold it a.b 1.5");
    for bad in ["1.5", "a-b", "*open", "[x]", "(x)", "a\\", "*a _b* c_", "!"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}
