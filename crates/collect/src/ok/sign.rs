//! The OK REST API request signature (`sig`).
//!
//! Per apiok.ru: drop `access_token`/`session_key` (and `sig` itself) from the parameters, sort
//! the rest by key, concatenate them as `key=value` with no separator, append the secret, and
//! take the lower-case hex MD5. The secret is `session_secret_key` when the session has one,
//! else `md5(access_token + application_secret_key)` in lower case; calls without a session
//! use `application_secret_key` itself. Values are signed as sent, before URL encoding.

use md5::{Digest, Md5};

/// The secret that ends the signed string.
#[derive(Clone, Copy)]
pub enum SigningSecret<'a> {
    /// A session's own `session_secret_key` (client–server flow).
    SessionSecret(&'a str),
    /// An OAuth `access_token` and the application's secret key (server–server flow): the
    /// secret is `lower(md5(access_token + application_secret_key))`.
    AccessToken { access_token: &'a str, application_secret_key: &'a str },
    /// No session: `application_secret_key` itself.
    Application(&'a str),
}

// Secrets never reach logs, not even through `{:?}` of a request being built.
impl std::fmt::Debug for SigningSecret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningSecret::SessionSecret(_) => "SessionSecret([redacted])",
            SigningSecret::AccessToken { .. } => "AccessToken([redacted])",
            SigningSecret::Application(_) => "Application([redacted])",
        })
    }
}

impl SigningSecret<'_> {
    /// The string appended to the sorted parameters.
    pub fn key(&self) -> String {
        match *self {
            SigningSecret::SessionSecret(s) | SigningSecret::Application(s) => s.to_owned(),
            SigningSecret::AccessToken { access_token, application_secret_key } => {
                let mut h = Md5::new();
                h.update(access_token.as_bytes());
                h.update(application_secret_key.as_bytes());
                hex(&h.finalize())
            }
        }
    }
}

/// Parameters that never take part in the signature.
const UNSIGNED: &[&str] = &["access_token", "session_key", "sig"];

/// The `sig` for a request with `params` (every query/body parameter, including `method`,
/// `application_key` and `format`; `access_token`, `session_key` and `sig` are skipped here).
pub fn signature<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], secret: SigningSecret<'_>) -> String {
    let mut signed: Vec<(&str, &str)> =
        params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).filter(|(k, _)| !UNSIGNED.contains(k)).collect();
    // Byte-wise order (what OK's servers use); stable, so a repeated key keeps its given order.
    signed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Md5::new();
    for (k, v) in signed {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
    }
    h.update(secret.key().as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published example (aiookru documentation, «Server-Server signature generation circuit»):
    // application_key ABCDEFGHIGKLMNOPK, application_secret_key ABC123DEF456GHI789JKL123,
    // access_token -s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7, method events.get, format json
    // → secret b1a2b89707a94624c43afae67d59274c, sig 232c8eb921951c4dba9b72606f9ddb4c.
    const APP_KEY: &str = "ABCDEFGHIGKLMNOPK";
    const TOKEN: &str = "-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7";

    #[test]
    fn published_server_server_vector() {
        let secret =
            SigningSecret::AccessToken { access_token: TOKEN, application_secret_key: "ABC123DEF456GHI789JKL123" };
        assert_eq!(secret.key(), "b1a2b89707a94624c43afae67d59274c");
        // Given unsorted and with the token among them, as a client builds its query.
        let params =
            [("method", "events.get"), ("access_token", TOKEN), ("format", "json"), ("application_key", APP_KEY)];
        assert_eq!(signature(&params, secret), "232c8eb921951c4dba9b72606f9ddb4c");
    }

    // Same source, «Client-Server signature generation circuit»: session_secret_key
    // ae5362b5b588cc7294c2414d71b74d5d → sig 03a41413523ea8092507949d6e711963.
    #[test]
    fn published_client_server_vector() {
        let params =
            [("application_key", APP_KEY), ("format", "json"), ("method", "events.get"), ("session_key", "whatever")];
        let sig = signature(&params, SigningSecret::SessionSecret("ae5362b5b588cc7294c2414d71b74d5d"));
        assert_eq!(sig, "03a41413523ea8092507949d6e711963");
    }

    // Own vector, computed independently with coreutils (the signed string is the sorted
    // parameters, `sig` dropped, then the secret):
    //   printf '%s' 'anchor=LTE2NjE…application_key=CKLMNPQGDIHBABABAcount=20format=jsongid=54390000000001method=mediatopic.getTopics0123456789abcdef0123456789abcdef' | md5sum
    #[test]
    fn own_vector_with_cyrillic_and_sorting() {
        let params = [
            ("method", "mediatopic.getTopics"),
            ("gid", "54390000000001"),
            ("count", "20"),
            ("format", "json"),
            ("application_key", "CKLMNPQGDIHBABABA"),
            ("anchor", "LTE2NjE…"),
            ("sig", "stale-signature-is-ignored"),
        ];
        let sig = signature(&params, SigningSecret::SessionSecret("0123456789abcdef0123456789abcdef"));
        assert_eq!(sig, "424a7c531947a3453acdd76af1a1fd94");
        // Sorting is by key only: the same parameters in another order sign the same.
        let mut reversed = params;
        reversed.reverse();
        assert_eq!(signature(&reversed, SigningSecret::SessionSecret("0123456789abcdef0123456789abcdef")), sig);
    }

    #[test]
    fn application_secret_and_edge_cases() {
        // md5("application_key=Aformat=jsonSECRET"), checked with md5sum.
        let sig = signature(&[("format", "json"), ("application_key", "A")], SigningSecret::Application("SECRET"));
        assert_eq!(sig, "e76cc7dc3e5cdd22d2739b72f385b7ed");
        // No parameters at all: md5 of the secret alone.
        let empty: [(&str, &str); 0] = [];
        assert_eq!(signature(&empty, SigningSecret::Application("")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(format!("{:?}", SigningSecret::SessionSecret("s3cr3t")), "SessionSecret([redacted])");
        // Upper-case sorts before lower-case, byte-wise, as the server does.
        let a = signature(&[("b", "1"), ("B", "2")], SigningSecret::Application("x"));
        let b = signature(&[("B", "2"), ("b", "1")], SigningSecret::Application("x"));
        assert_eq!(a, b);
        // md5("B=2b=1x"), checked with md5sum.
        assert_eq!(a, "dcdd0446d7731c9d7a88b9b929161137");
    }
}
