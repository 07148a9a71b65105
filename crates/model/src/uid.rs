use crate::Platform;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The identity of a post or comment across versions: `{platform}:{owner}:{id}` for a post,
/// `{platform}:{owner}:{id}:c{comment_id}` for a comment under it.
///
/// `vk:-12345:678`, `tg:tsurofficial:1042`, `ok:54390000000001:156600000000001:c42`.
/// It is the Kafka key of every post message and the ClickHouse dedup key, so a post seen again
/// (edited, new counters) gets the same uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostUid {
    pub platform: Platform,
    /// The wall, channel or group: VK owner id (negative for communities), Telegram channel
    /// username (lower-case), OK group id.
    pub owner: String,
    /// The post id within the owner.
    pub id: String,
    /// Set for comments: the comment id under post `id`.
    pub comment: Option<String>,
}

impl PostUid {
    pub fn post(platform: Platform, owner: impl Into<String>, id: impl Into<String>) -> Result<Self, UidError> {
        let uid = PostUid { platform, owner: owner.into(), id: id.into(), comment: None };
        uid.validate()?;
        Ok(uid)
    }

    /// The uid of comment `comment` under this post.
    pub fn comment(&self, comment: impl Into<String>) -> Result<Self, UidError> {
        let uid = PostUid { comment: Some(comment.into()), ..self.clone() };
        uid.validate()?;
        Ok(uid)
    }

    /// The post a comment belongs to; a post is its own root.
    pub fn root(&self) -> PostUid {
        PostUid { comment: None, ..self.clone() }
    }

    fn validate(&self) -> Result<(), UidError> {
        let parts = [Some(&self.owner), Some(&self.id), self.comment.as_ref()];
        for part in parts.into_iter().flatten() {
            if part.is_empty() || part.contains(':') || part.chars().any(char::is_whitespace) {
                return Err(UidError::new(&self.to_string(), "parts must be non-empty, without ':' or spaces"));
            }
        }
        Ok(())
    }
}

impl fmt::Display for PostUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.platform.uid_prefix(), self.owner, self.id)?;
        if let Some(c) = &self.comment {
            write!(f, ":c{c}")?;
        }
        Ok(())
    }
}

impl FromStr for PostUid {
    type Err = UidError;

    fn from_str(s: &str) -> Result<Self, UidError> {
        let mut parts = s.split(':');
        let (Some(prefix), Some(owner), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(UidError::new(s, "expected {platform}:{owner}:{id}"));
        };
        let platform = Platform::from_uid_prefix(prefix)
            .ok_or_else(|| UidError::new(s, "platform prefix must be vk, tg or ok"))?;
        let comment = match parts.next() {
            None => None,
            Some(c) => match c.strip_prefix('c') {
                Some(c) => Some(c.to_owned()),
                None => return Err(UidError::new(s, "a fourth part must be c{comment_id}")),
            },
        };
        if parts.next().is_some() {
            return Err(UidError::new(s, "too many ':'-separated parts"));
        }
        let uid = PostUid { platform, owner: owner.to_owned(), id: id.to_owned(), comment };
        uid.validate()?;
        Ok(uid)
    }
}

impl Serialize for PostUid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PostUid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A string that is not a valid post uid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid post uid {uid:?}: {reason}")]
pub struct UidError {
    pub uid: String,
    pub reason: &'static str,
}

impl UidError {
    fn new(uid: &str, reason: &'static str) -> Self {
        UidError { uid: uid.to_owned(), reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_every_shape() {
        for text in ["vk:-12345:678", "tg:tsurofficial:1042", "ok:5439:1566", "vk:-1:2:c3"] {
            let uid: PostUid = text.parse().unwrap();
            assert_eq!(uid.to_string(), text);
        }
        let post = PostUid::post(Platform::Vk, "-1", "2").unwrap();
        assert_eq!(post.comment("3").unwrap().to_string(), "vk:-1:2:c3");
        assert_eq!(post.comment("3").unwrap().root(), post);
    }

    #[test]
    fn rejects_malformed_uids() {
        for bad in ["", "vk", "vk:1", "fb:1:2", "vk:1:2:3", "vk:1:2:c3:4", "vk::2", "vk:1 2:3", "vk:1:2:c"] {
            assert!(bad.parse::<PostUid>().is_err(), "{bad} should be rejected");
        }
    }
}
