//! The process-wide registry of secret values (access tokens, passwords, signing keys) and the
//! one redaction every outlet uses: DLQ records, log lines, error chains, collectors' errors.
//!
//! A secret is registered where it is resolved (read from the environment or a file), so that
//! text a server echoes back — an error message quoting the request, a body, a header — is
//! scrubbed even though no code path put the secret there on purpose. Besides the value itself
//! the registry knows the spellings it takes on the way out: percent-encoded (query strings) and
//! escaped (JSON and `Debug` output).

use std::borrow::Cow;
use std::sync::RwLock;

/// A secret value (a token, a signing key): shown as `[redacted]` by `Debug` and `Display`,
/// readable only through [`Secret::expose`], and masked wherever else it turns up (it joins the
/// registry when created).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Shorter values are not registered: masking a password `a` would blank every `a` in the logs,
/// and a value that short protects nothing anyway.
pub const MIN_LEN: usize = 6;

/// Every spelling of every registered secret, longest first (so a secret that contains another
/// is masked whole).
static SPELLINGS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds `value` (and its encoded spellings) to the registry; values shorter than [`MIN_LEN`]
/// characters are ignored. Registering a value twice is harmless.
pub fn register(value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut spellings = SPELLINGS.write().unwrap_or_else(|p| p.into_inner());
    for spelling in spellings_of(value) {
        if !spellings.contains(&spelling) {
            spellings.push(spelling);
        }
    }
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret replaced by [`MASK`]; borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let spellings = SPELLINGS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for spelling in spellings.iter() {
        if out.contains(spelling.as_str()) {
            out = Cow::Owned(out.replace(spelling.as_str(), MASK));
        }
    }
    out
}

/// [`redact`] for bytes that need not be UTF-8 (payloads, formatted log output): each secret's
/// bytes are replaced wherever they occur.
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return match redact(text) {
            Cow::Borrowed(_) => Cow::Borrowed(bytes),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        };
    }
    let spellings = SPELLINGS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(bytes);
    for spelling in spellings.iter() {
        if let Some(replaced) = replace_bytes(&out, spelling.as_bytes()) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// `haystack` with every `needle` masked, or `None` when there is none.
fn replace_bytes(haystack: &[u8], needle: &[u8]) -> Option<Vec<u8>> {
    let finder = memchr::memmem::Finder::new(needle);
    let mut hits = finder.find_iter(haystack).peekable();
    hits.peek()?;
    let mut out = Vec::with_capacity(haystack.len());
    let mut from = 0;
    for at in hits {
        // find_iter does not overlap, so `at >= from` always holds.
        out.extend_from_slice(&haystack[from..at]);
        out.extend_from_slice(MASK.as_bytes());
        from = at + needle.len();
    }
    out.extend_from_slice(&haystack[from..]);
    Some(out)
}

/// The value as written, as a query string carries it (form and percent encoding, either hex
/// case), and as JSON or `Debug` escape it.
fn spellings_of(value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    let encoded = [form_encoded(value), percent_encoded(value, false), percent_encoded(value, true), escaped(value)];
    for spelling in encoded {
        if !out.contains(&spelling) {
            out.push(spelling);
        }
    }
    out
}

/// `application/x-www-form-urlencoded`, as `url`'s query builder writes values.
fn form_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// RFC 3986 percent encoding of everything but the unreserved characters.
fn percent_encoded(value: &str, lower: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b if lower => out.push_str(&format!("%{b:02x}")),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Quotes, backslashes and control characters escaped, as a JSON string or `{:?}` shows them.
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is process-wide and tests run in parallel: each test uses values of its own.

    #[test]
    fn registered_values_are_masked_in_every_spelling() {
        let secret = "vk1.a.Tok en/+=\"x";
        register(secret);
        let (form, percent) = ("vk1.a.Tok+en%2F%2B%3D%22x", "vk1.a.Tok%20en%2F%2B%3D%22x");
        let text = format!("raw {secret} form {form} pct {percent} json {secret:?}");
        let out = redact(&text);
        assert_eq!(out, "raw *** form *** pct *** json \"***\"");
        let lower = "vk1.a.Tok%20en%2f%2b%3d%22x";
        assert_eq!(redact(lower), "***");
    }

    #[test]
    fn short_and_empty_values_are_ignored() {
        register("");
        register("ab");
        register("pässw");
        assert_eq!(redact("ab pässw cab"), "ab pässw cab");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        register("inner-777");
        register("outer-inner-777-tail");
        assert_eq!(redact("a outer-inner-777-tail b inner-777"), "a *** b ***");
    }

    #[test]
    fn bytes_are_masked_whether_utf8_or_not() {
        register("bytes-secret-9");
        assert_eq!(redact_bytes(b"x bytes-secret-9 y").as_ref(), b"x *** y");
        let mut binary = vec![0xff, 0xfe];
        binary.extend_from_slice(b"bytes-secret-9");
        binary.push(0x80);
        binary.extend_from_slice(b"bytes-secret-9");
        assert_eq!(redact_bytes(&binary).as_ref(), b"\xff\xfe***\x80***");
        assert!(matches!(redact_bytes(b"\xffclean"), Cow::Borrowed(_)));
    }
}
