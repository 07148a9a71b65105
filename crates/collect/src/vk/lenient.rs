//! Lenient scalar types for platform JSON: both VK and OK send numbers as strings now and then,
//! flags as `0`/`1`, `true`/`false` or `"1"`, and `null` where a field is simply absent.
//!
//! Each type accepts every such spelling, but rejects values that cannot be what they claim
//! (a fractional id, an id beyond `i64`, a word where a number belongs) with an error naming the
//! value, so a response that really is malformed fails loudly instead of yielding wrong data.
//! Shared with the OK parser (`crate::ok`), hence `pub(crate)` items.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// An integer id or timestamp: number, numeric string, or `null`/`""` (= absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LInt(pub Option<i64>);

/// A non-negative count: number, numeric string, or `null`/`""` (= absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LUint(pub Option<u64>);

/// A flag: `true`/`false`, `0`/`1` (any non-zero is true), their string forms, or `null` (false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LFlag(pub bool);

/// A coordinate or other real number: number, numeric string, or `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LFloat(pub Option<f64>);

/// An opaque id kept as text (OK ids, which exceed what JavaScript clients can hold and so
/// arrive as strings): string or integer, `null`/`""` = absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LId<'a>(pub Option<Cow<'a, str>>);

fn int_from_f64<E: de::Error>(v: f64) -> Result<i64, E> {
    // 2^63 is exactly representable as f64; anything at or beyond it does not fit in i64.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if v.is_finite() && v.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&v) {
        Ok(v as i64)
    } else {
        Err(E::custom(format_args!("number {v} is not an integer within the 64-bit range")))
    }
}

fn int_from_str<E: de::Error>(s: &str) -> Result<Option<i64>, E> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<i64>()
        .map(Some)
        .map_err(|_| E::custom(format_args!("{:?} is not an integer within the 64-bit range", truncate(s))))
}

/// Keeps error messages readable when a fuzzer (or a broken server) sends a megabyte of digits.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.len() <= MAX {
        s.to_owned()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, a numeric string or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v).map(Some).map_err(|_| E::custom(format_args!("integer {v} exceeds the 64-bit signed range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        int_from_f64(v).map(Some)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        int_from_str(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for LInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor).map(LInt)
    }
}

impl<'de> Deserialize<'de> for LUint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer, a numeric string or null")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v).map(Some).map_err(|_| E::custom(format_args!("count {v} is negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.is_finite() && v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                    Ok(Some(v as u64))
                } else {
                    Err(E::custom(format_args!("count {v} is not a non-negative 64-bit integer")))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                t.parse::<u64>()
                    .map(Some)
                    .map_err(|_| E::custom(format_args!("{:?} is not a non-negative 64-bit integer", truncate(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V).map(LUint)
    }
}

impl<'de> Deserialize<'de> for LFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean, 0/1, or their string forms")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
                Ok(v != 0)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
                Ok(v != 0)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
                Ok(v != 0.0)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                match v.trim() {
                    "" | "0" | "false" | "False" | "FALSE" => Ok(false),
                    "1" | "true" | "True" | "TRUE" => Ok(true),
                    other => Err(E::custom(format_args!("{:?} is not a flag", truncate(other)))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_none<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V).map(LFlag)
    }
}

impl<'de> Deserialize<'de> for LFloat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a numeric string or null")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                match t.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(Some(x)),
                    _ => Err(E::custom(format_args!("{:?} is not a finite number", truncate(v)))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V).map(LFloat)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LId<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<Cow<'de, str>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id (string or integer) or null")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                int_from_f64(v).map(|i| Some(Cow::Owned(i.to_string())))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                let t = v.trim();
                Ok((!t.is_empty()).then_some(Cow::Borrowed(t)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                Ok((!t.is_empty()).then(|| Cow::Owned(t.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V).map(LId)
    }
}

/// Any JSON value kept as text when it is a string or number (OK `error_data`, whose type varies);
/// objects and arrays are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LText(pub Option<String>);

impl<'de> Deserialize<'de> for LText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(v.to_owned()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        d.deserialize_any(V).map(LText)
    }
}

/// `#[serde(deserialize_with = "…::or_default")]`: `null` reads as the field's default, for
/// lists and nested objects that VK and OK sometimes send as `null` instead of leaving out.
pub(crate) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Checks the bytes are UTF-8 (dropping a leading byte-order mark that editors add to saved
/// files), so that serde_json can then read them as `&str` without validating twice.
pub(crate) fn utf8_text(bytes: &[u8]) -> Result<&str, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| format!("response is not valid UTF-8: {e}"))
}

/// Reads JSON text into `T`, describing failures with serde_json's line and column.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "unexpected JSON shape",
            serde_json::error::Category::Io => "I/O error",
        };
        format!("{kind}: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<LInt>(s).map(|v| v.0).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_in_every_spelling() {
        assert_eq!(int("42").unwrap(), Some(42));
        assert_eq!(int("-42").unwrap(), Some(-42));
        assert_eq!(int("\"-170000001\"").unwrap(), Some(-170000001));
        assert_eq!(int("\" 7 \"").unwrap(), Some(7));
        assert_eq!(int("\"\"").unwrap(), None);
        assert_eq!(int("null").unwrap(), None);
        assert_eq!(int("3.0").unwrap(), Some(3));
        assert!(int("3.5").unwrap_err().contains("not an integer"));
        assert!(int("18446744073709551615").unwrap_err().contains("exceeds"));
        assert!(int("\"99999999999999999999\"").is_err());
        assert!(int("\"abc\"").is_err());
        assert!(int("true").is_err());
        // serde_json itself refuses 1e400: out of f64 range.
        assert!(int("1e400").is_err());
    }

    #[test]
    fn counts_flags_floats_ids() {
        assert_eq!(serde_json::from_str::<LUint>("\"15\"").unwrap().0, Some(15));
        assert!(serde_json::from_str::<LUint>("-1").is_err());
        assert_eq!(serde_json::from_str::<LUint>("18446744073709551615").unwrap().0, Some(u64::MAX));
        for (s, v) in
            [("1", true), ("0", false), ("true", true), ("\"1\"", true), ("null", false), ("\"false\"", false)]
        {
            assert_eq!(serde_json::from_str::<LFlag>(s).unwrap().0, v, "{s}");
        }
        assert!(serde_json::from_str::<LFlag>("\"maybe\"").is_err());
        assert_eq!(serde_json::from_str::<LFloat>("\"53.19\"").unwrap().0, Some(53.19));
        assert!(serde_json::from_str::<LFloat>("\"inf\"").is_err());
        assert_eq!(serde_json::from_str::<LId>("\"5439\"").unwrap().0.as_deref(), Some("5439"));
        assert_eq!(serde_json::from_str::<LId>("5439").unwrap().0.as_deref(), Some("5439"));
        assert_eq!(serde_json::from_str::<LId>("\"\"").unwrap().0, None);
    }

    #[test]
    fn utf8_and_bom() {
        assert_eq!(utf8_text(b"\xEF\xBB\xBF{}").unwrap(), "{}");
        assert!(utf8_text(b"{\"a\":\"\xff\"}").unwrap_err().contains("UTF-8"));
    }
}
