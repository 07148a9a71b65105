use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The one wire schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The `"schema": 1` field every wire value carries.
///
/// Deserialising any other version fails with an error that names both versions, so a consumer
/// that meets data from a newer producer stops with a clear message instead of misreading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Schema;

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let version = u32::deserialize(d)?;
        if version == SCHEMA_VERSION {
            Ok(Schema)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported schema version {version}: this build reads schema {SCHEMA_VERSION}"
            )))
        }
    }
}
