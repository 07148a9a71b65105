//! Timestamps on the wire are UTC RFC 3339 with whole seconds: `2026-11-29T02:30:00Z`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a timestamp the way every wire value carries it.
pub fn format_rfc3339_secs(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `#[serde(with = "rfc3339_secs")]` for `DateTime<Utc>` fields. Reading accepts any RFC 3339
/// offset and converts to UTC.
pub mod rfc3339_secs {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_rfc3339_secs(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format_args!("invalid RFC 3339 timestamp {text:?}: {e}")))
    }

    /// The same for `Option<DateTime<Utc>>`.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] DateTime<Utc>);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(t)| t))
        }
    }
}
