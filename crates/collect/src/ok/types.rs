//! Serde types for the OK REST responses otklik reads: `mediatopic.getTopics`,
//! `discussions.getComments` and the error body. Ids arrive as strings and stay strings
//! ([`LId`]); strings borrow from the input where JSON escapes allow.

use crate::vk::lenient::{LFlag, LId, LInt, LText, LUint};
use serde::Deserialize;
use std::borrow::Cow;

/// Any top-level OK answer: the fields of all three shapes, told apart afterwards.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Top<'a> {
    pub error_code: LInt,
    #[serde(borrow)]
    pub error_msg: Option<Cow<'a, str>>,
    pub error_data: LText,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub media_topics: Option<Vec<Topic<'a>>>,
    #[serde(borrow)]
    pub comments: Option<Vec<Comment<'a>>>,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub entities: Entities<'a>,
    /// `None` when absent: with no posts field, its presence tells an OK paging answer from
    /// some other JSON.
    pub has_more: Option<LFlag>,
    #[serde(borrow)]
    pub anchor: LId<'a>,
}

/// `entities`: the objects that `*_ref` fields (`group:123`, `user:456`, `media_topic:789`) name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Entities<'a> {
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub groups: Vec<Named<'a>>,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub users: Vec<Named<'a>>,
    #[serde(borrow)]
    pub media_topics: Vec<Topic<'a>>,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub group_photos: Vec<Photo<'a>>,
}

/// A photo that `photo_refs` (`group_photo:123`) name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Photo<'a> {
    #[serde(borrow)]
    pub id: LId<'a>,
    #[serde(borrow)]
    pub pic_max: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "pic640x480")]
    pub pic640: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
}

/// A group or user entity: `uid` plus `name` (groups, users) or `first_name`/`last_name` (users).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Named<'a> {
    #[serde(borrow)]
    pub uid: LId<'a>,
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub first_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub last_name: Option<Cow<'a, str>>,
}

/// A mediatopic (a group's post).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Topic<'a> {
    #[serde(borrow)]
    pub id: LId<'a>,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: LInt,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub media: Vec<Media<'a>>,
    #[serde(borrow)]
    pub author_ref: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub owner_ref: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "crate::vk::lenient::or_default")]
    pub discussion_summary: Summary,
    #[serde(deserialize_with = "crate::vk::lenient::or_default")]
    pub like_summary: Summary,
    #[serde(deserialize_with = "crate::vk::lenient::or_default")]
    pub reshare_summary: Summary,
    pub views_count: LUint,
    pub is_sticky: LFlag,
    pub is_promo: LFlag,
}

/// `like_summary` / `reshare_summary` (`count`) and `discussion_summary` (`comments_count`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub count: LUint,
    pub comments_count: LUint,
}

impl Summary {
    pub fn value(&self) -> Option<u64> {
        self.count.0.or(self.comments_count.0)
    }
}

/// One block of a mediatopic: `text`, `link`, `photo`, `movie`, `poll`, `music`, or a reshared
/// topic (`topic`/`reshare`, naming it in `topic_refs`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Media<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub description: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub question: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub photo_refs: Vec<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub movie_refs: Vec<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "crate::vk::lenient::or_default")]
    pub topic_refs: Vec<Cow<'a, str>>,
}

/// A comment of `discussions.getComments`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Comment<'a> {
    #[serde(borrow)]
    pub id: LId<'a>,
    #[serde(borrow)]
    pub author_id: LId<'a>,
    #[serde(borrow)]
    pub author_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    /// `YYYY-MM-DD HH:MM:SS` Moscow time, or an epoch number.
    #[serde(borrow)]
    pub date: LId<'a>,
    pub date_ms: LInt,
    pub like_count: LUint,
    #[serde(borrow)]
    pub reply_to_comment_id: LId<'a>,
    pub deleted: LFlag,
}
