//! Serde types for the VK API v5.199 responses otklik reads: `wall.get`, `wall.getComments`,
//! `newsfeed.search`, `execute`, and the error envelope.
//!
//! Strings borrow from the input where JSON escapes allow (`Cow<'a, str>`), so a page of posts
//! is read without copying its texts twice. Unknown fields are skipped; every field is optional
//! because VK omits what a token may not see, and numbers go through the lenient types of
//! [`super::lenient`].

use super::lenient::{LFlag, LFloat, LInt, LUint};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Any VK response value: an object (a page, an envelope or an error), a list of values (what
/// `execute` returns), or a scalar (`false` for a failed call inside `execute`).
#[derive(Debug)]
pub enum Node<'a> {
    Object(Box<Object<'a>>),
    List(Vec<Node<'a>>),
    Scalar,
}

impl<'de: 'a, 'a> Deserialize<'de> for Node<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a VK response value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Object::deserialize(de::value::MapAccessDeserializer::new(map)).map(|o| Node::Object(Box::new(o)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut nodes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(node) = seq.next_element()? {
                    nodes.push(node);
                }
                Ok(Node::List(nodes))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object in a VK response. One type covers the envelope (`response`, `error`,
/// `execute_errors`) and the page inside it (`items`, `profiles`, `groups`, `next_from`),
/// because saved files come both with and without the envelope.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Object<'a> {
    #[serde(borrow)]
    pub response: Option<Node<'a>>,
    #[serde(borrow)]
    pub error: Option<ErrorBody<'a>>,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub execute_errors: Option<Vec<ErrorBody<'a>>>,
    #[serde(borrow)]
    pub items: Option<Vec<Item<'a>>>,
    pub count: LUint,
    pub total_count: LUint,
    #[serde(borrow)]
    pub next_from: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub profiles: Vec<Profile<'a>>,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub groups: Vec<Group<'a>>,
}

/// `{"error_code", "error_msg", "request_params"}`, in `error` or in `execute_errors` (which
/// adds `method`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ErrorBody<'a> {
    pub error_code: LInt,
    #[serde(borrow)]
    pub error_msg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub request_params: Vec<RequestParam<'a>>,
    #[serde(borrow)]
    pub captcha_sid: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RequestParam<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    #[serde(borrow)]
    pub value: Option<Cow<'a, str>>,
}

/// `profiles[]` of an `extended=1` response.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Profile<'a> {
    pub id: LInt,
    #[serde(borrow)]
    pub first_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub last_name: Option<Cow<'a, str>>,
}

/// `groups[]` of an `extended=1` response; ids are positive here, negative as owners.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Group<'a> {
    pub id: LInt,
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
}

/// A wall post, a search result, a reposted post in `copy_history`, or a comment: one type,
/// because they share most fields and a comment is told apart by `post_id`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Item<'a> {
    pub id: LInt,
    pub owner_id: LInt,
    pub from_id: LInt,
    /// Set on comments only: the post they are under.
    pub post_id: LInt,
    pub date: LInt,
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub post_type: Option<Cow<'a, str>>,
    pub is_pinned: LFlag,
    pub marked_as_ads: LFlag,
    /// Unix time of the last edit.
    pub edited: LInt,
    pub deleted: LFlag,
    pub is_deleted: LFlag,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub copy_history: Vec<Item<'a>>,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub attachments: Vec<Attachment<'a>>,
    pub comments: Count,
    pub likes: Count,
    pub reposts: Count,
    pub views: Count,
    #[serde(borrow)]
    pub post_source: Option<PostSource<'a>>,
    #[serde(borrow)]
    pub geo: Option<Geo<'a>>,
    pub signer_id: LInt,
    // Comment-only fields.
    pub reply_to_comment: LInt,
    #[serde(deserialize_with = "super::lenient::or_default")]
    pub parents_stack: Vec<LInt>,
    #[serde(borrow)]
    pub thread: Option<Thread<'a>>,
}

/// `{"count": n, …}` of likes, reposts, views and comments. Some answers send a bare number.
#[derive(Debug, Default, Clone, Copy)]
pub struct Count(pub Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a counter object {\"count\": n} or a number")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                let mut count = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "count" {
                        count = map.next_value::<LUint>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Count(count))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v).map(|v| Count(Some(v))).map_err(|_| E::custom(format_args!("count {v} is negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(Count(None));
                }
                t.parse::<u64>().map(|v| Count(Some(v))).map_err(|_| {
                    E::custom(format_args!("count {:?} is not a non-negative integer", super::lenient::truncate(v)))
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Count, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V)
    }
}

/// `thread` of a top-level comment: the first replies, `count` in all.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Thread<'a> {
    pub count: LUint,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub items: Vec<Item<'a>>,
}

/// How the post was made: `{"type": "vk"|"api"|"widget"|"rss"|"sms", "platform", "data", "url"}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PostSource<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub platform: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub url: Option<Cow<'a, str>>,
}

/// `geo`: `{"type": "point", "coordinates": "lat lon", "place": {…}}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Geo<'a> {
    pub coordinates: Coordinates,
    #[serde(borrow)]
    pub place: Option<Place<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Place<'a> {
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub address: Option<Cow<'a, str>>,
    pub latitude: LFloat,
    pub longitude: LFloat,
}

/// `"53.195 45.018"` (the documented form) or `{"latitude", "longitude"}` (seen in older answers).
#[derive(Debug, Default, Clone, Copy)]
pub struct Coordinates(pub Option<(f64, f64)>);

impl<'de> Deserialize<'de> for Coordinates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Coordinates;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"lat lon\" or {\"latitude\", \"longitude\"}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Coordinates, E> {
                let mut parts = v.split_whitespace().map(str::parse::<f64>);
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(Ok(lat)), Some(Ok(lon)), None) if lat.is_finite() && lon.is_finite() => {
                        Ok(Coordinates(Some((lat, lon))))
                    }
                    _ if v.trim().is_empty() => Ok(Coordinates(None)),
                    _ => Err(E::custom(format_args!(
                        "geo coordinates {:?} are not \"lat lon\"",
                        super::lenient::truncate(v)
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Coordinates, A::Error> {
                let (mut lat, mut lon) = (None, None);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "latitude" | "lat" => lat = map.next_value::<LFloat>()?.0,
                        "longitude" | "long" | "lon" => lon = map.next_value::<LFloat>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Coordinates(lat.zip(lon)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Coordinates, E> {
                Ok(Coordinates(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Coordinates, E> {
                Ok(Coordinates(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Coordinates, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V)
    }
}

/// `{"type": "photo", "photo": {…}}`: the body sits under the key named by `type`, so the
/// bodies are collected by key and matched once the whole object has been read (VK puts `type`
/// first, but nothing promises it).
#[derive(Debug, Default)]
pub struct Attachment<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub bodies: Vec<(Cow<'a, str>, AttachmentBody<'a>)>,
}

impl<'a> Attachment<'a> {
    /// The body named by `type`.
    pub fn body(&self) -> Option<&AttachmentBody<'a>> {
        let kind = self.kind.as_deref()?;
        self.bodies.iter().find(|(k, _)| k == kind).map(|(_, b)| b)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Attachment<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attachment<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attachment object {\"type\": …}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Attachment::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "type" {
                        out.kind = map.next_value()?;
                    } else {
                        // Bodies are objects; anything else (`"style": "…"`) is not one.
                        if let MaybeBody(Some(body)) = map.next_value::<MaybeBody<'de>>()? {
                            out.bodies.push((key, body));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

struct MaybeBody<'a>(Option<AttachmentBody<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeBody<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeBody<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attachment body")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                AttachmentBody::deserialize(de::value::MapAccessDeserializer::new(map)).map(|b| MaybeBody(Some(b)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeBody(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeBody(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeBody(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeBody(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeBody(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeBody(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeBody(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of any attachment body otklik summarises (photo, video, link, doc, audio, poll, …).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AttachmentBody<'a> {
    pub id: LInt,
    pub owner_id: LInt,
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub description: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub question: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub artist: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "super::lenient::or_default")]
    pub sizes: Vec<PhotoSize<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PhotoSize<'a> {
    #[serde(borrow)]
    pub url: Option<Cow<'a, str>>,
    pub width: LUint,
    pub height: LUint,
}
