use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! topics {
    ($($variant:ident => $id:literal),+ $(,)?) => {
        /// A topic of the otklik taxonomy (DESIGN.md). The ids are a contract shared by config,
        /// Kafka, ClickHouse and alerts: never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Topic { $($variant),+ }

        impl Topic {
            /// Every topic, in taxonomy order.
            pub const ALL: &'static [Topic] = &[$(Topic::$variant),+];

            /// The topic id as it appears on the wire.
            pub fn id(self) -> &'static str {
                match self { $(Topic::$variant => $id),+ }
            }
        }

        impl FromStr for Topic {
            type Err = UnknownTopic;
            fn from_str(s: &str) -> Result<Self, UnknownTopic> {
                match s {
                    $($id => Ok(Topic::$variant),)+
                    _ => Err(UnknownTopic(s.to_owned())),
                }
            }
        }
    };
}

topics! {
    Heating => "heating",
    HotWater => "hot_water",
    ColdWater => "cold_water",
    Sewerage => "sewerage",
    Electricity => "electricity",
    Gas => "gas",
    Lifts => "lifts",
    BuildingMaintenance => "building_maintenance",
    UtilityBilling => "utility_billing",
    ManagementCompany => "management_company",
    CourtyardCleaning => "courtyard_cleaning",
    Garbage => "garbage",
    SnowIce => "snow_ice",
    Roads => "roads",
    StreetLighting => "street_lighting",
    Landscaping => "landscaping",
    Trees => "trees",
    StrayAnimals => "stray_animals",
    PublicTransport => "public_transport",
    Healthcare => "healthcare",
    Education => "education",
    SocialSupport => "social_support",
    Ecology => "ecology",
    Construction => "construction",
    Communications => "communications",
    PublicSafety => "public_safety",
    Trade => "trade",
    CultureSport => "culture_sport",
    PublicServices => "public_services",
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A topic id that is not in the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topic id {0:?} (see the taxonomy in DESIGN.md)")]
pub struct UnknownTopic(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_from_str_and_serde() {
        assert_eq!(Topic::ALL.len(), 29);
        for &t in Topic::ALL {
            assert_eq!(t.id().parse::<Topic>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.id()));
        }
        assert!("heat".parse::<Topic>().is_err());
    }
}
