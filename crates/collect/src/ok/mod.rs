//! OK (Odnoklassniki): the signed REST client and feed reader, over a pure parser and request
//! signature.
//!
//! - [`OkConfig`] (`[collect.ok]`), [`OkConfig::resolve_credentials`] → [`OkCredentials`]
//!   (secrets from env or files only, [`Secret`] never prints), [`OkClient`] (one credential:
//!   signed calls, rate limit, OK error codes → back off / stop / unavailable / retry),
//!   [`OkReader`] (a [`crate::FeedReader`]: topics through the shared walk, comments by policy).
//!
//! The rest of this module is pure (no I/O):
//!
//! - [`signature`]: the `sig` parameter of every REST call ([`sign`] documents the rule).
//! - [`parse_response`] / [`parse_saved_response`]: `mediatopic.getTopics` (a group's topics,
//!   whose text lives in `media[]` blocks of type `text`, paged by `anchor`/`has_more`) and
//!   `discussions.getComments` (comments under one topic) → [`RawPost`]s; the error body
//!   `{"error_code", "error_msg", "error_data"}` → [`OkApiError`] with its [`OkErrorClass`].
//!
//! Uids: a topic is `ok:<group_id>:<topic_id>`, a comment `ok:<group_id>:<topic_id>:c<id>`.
//! OK comments do not name their topic, so comment responses need [`ParseContext::parent`].
//! Comment dates in `YYYY-MM-DD HH:MM:SS` form are Moscow wall-clock time and are converted
//! to UTC; epochs (`created_ms`, `date_ms`) are used as they are.
//!
//! Every topic and comment passes [`crate::check`]: ids that are not what OK issues (`"abc"`,
//! `"-5"` for a topic or group id) or an impossible date make it an [`OkPage::bad_items`] entry,
//! and the rest of the page is kept. An answer with `has_more`/`anchor` but neither
//! `media_topics` nor `comments` is [`OkPage::empty`]: a list OK meant to send is missing, so
//! nothing can be concluded about the group. An empty list (`"media_topics": []`) is a
//! well-formed empty feed.

pub mod client;
pub mod config;
mod error;
pub mod reader;
pub mod sign;
pub mod types;

pub use client::{OkBody, OkCallError, OkClient, OkGroup};
pub use config::{OkConfig, OkConfigError, OkCredentials, Secret};
pub use error::{OkApiError, OkErrorClass};
pub use reader::{wants_comments, OkReader};
pub use sign::{signature, SigningSecret};

use crate::check::{self, BadItem, Empty, Parsed};
use crate::vk::lenient;
use crate::{ParseContext, ParseError, RawPost};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use otklik_model::{Attachment, Author, Counters, ItemKind, Platform, PostUid, RepostOrigin, Schema};
use std::borrow::Cow;
use std::collections::HashMap;
use types::{Comment, Entities, Media, Photo, Top, Topic};

/// Everything one OK response carries besides errors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OkPage {
    pub posts: Vec<RawPost>,
    /// Paging token for the next call.
    pub anchor: Option<String>,
    pub has_more: bool,
    /// Topics and comments that failed [`crate::check`]: not posts, kept for the DLQ.
    pub bad_items: Vec<BadItem>,
    /// Why an answer without a posts field is suspicious (see the module docs).
    pub empty: Option<Empty>,
}

/// Why an OK response yielded no page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OkResponseError {
    #[error(transparent)]
    Api(#[from] OkApiError),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Parses a `mediatopic.getTopics` or `discussions.getComments` response (or an error body).
pub fn parse_response(bytes: &[u8], ctx: &ParseContext) -> Result<OkPage, OkResponseError> {
    let text = lenient::utf8_text(bytes).map_err(bad)?;
    // serde would also read a struct from a JSON array (positionally); an OK answer is always
    // an object, so anything else is refused before it can be misread.
    if !text.trim_start().starts_with('{') {
        return Err(bad("not an OK API response: expected a JSON object at the top level").into());
    }
    let top: Top<'_> = lenient::from_json(text).map_err(bad)?;
    if let Some(code) = top.error_code.0 {
        return Err(OkApiError {
            code,
            message: top.error_msg.as_deref().unwrap_or("(no message)").to_owned(),
            data: top.error_data.0.clone(),
        }
        .into());
    }
    let names = Names::new(&top.entities);
    let has_more = top.has_more.unwrap_or_default().0;
    let mut page = OkPage { has_more, ..OkPage::default() };
    match (&top.media_topics, &top.comments) {
        (Some(topics), _) => topics_to_posts(topics, &top.entities, &names, ctx, &mut page),
        (None, Some(comments)) => comments_to_posts(comments, &names, ctx, &mut page),
        (None, None) if top.has_more.is_some() || top.anchor.0.is_some() => {
            let reason = format!("the answer has neither \"media_topics\" nor \"comments\" (has_more: {has_more})");
            page.empty = Some(Empty::new(reason));
            Ok(())
        }
        (None, None) => {
            return Err(
                bad("not a recognised OK response: expected \"media_topics\", \"comments\" or \"error_code\"").into()
            )
        }
    }
    .map_err(bad)?;
    page.anchor = top.anchor.0.map(Cow::into_owned);
    Ok(page)
}

/// Parses a saved OK response into its valid posts, bad items and emptiness; an error body
/// becomes a [`ParseError`] naming it.
pub fn parse_saved(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    match parse_response(bytes, ctx) {
        Ok(page) => Ok(Parsed { posts: page.posts, bad_items: page.bad_items, empty: page.empty, audience: None }),
        Err(OkResponseError::Parse(e)) => Err(e),
        Err(OkResponseError::Api(e)) => Err(bad(format!("the response is an error, not data: {e} ({})", e.class()))),
    }
}

/// Parses a saved OK response into its valid posts (bad items left out, see [`parse_saved`]);
/// an error body becomes a [`ParseError`] naming it.
pub fn parse_saved_response(bytes: &[u8], ctx: &ParseContext) -> Result<Vec<RawPost>, ParseError> {
    parse_saved(bytes, ctx).map(|parsed| parsed.posts)
}

fn bad(reason: impl Into<String>) -> ParseError {
    ParseError::new(Platform::Ok, reason)
}

/// Display names of the groups and users in `entities`, by ref (`group:123`, `user:456`).
struct Names<'e> {
    by_ref: HashMap<String, Cow<'e, str>>,
}

impl<'e> Names<'e> {
    fn new(entities: &'e Entities<'_>) -> Self {
        let mut by_ref = HashMap::new();
        for (prefix, list) in [("group", &entities.groups), ("user", &entities.users)] {
            for e in list {
                let Some(uid) = e.uid.0.as_deref() else { continue };
                let name = match (e.name.as_deref(), e.first_name.as_deref(), e.last_name.as_deref()) {
                    (Some(n), _, _) => Cow::Borrowed(n),
                    (None, Some(f), Some(l)) => Cow::Owned(format!("{f} {l}")),
                    (None, Some(n), None) | (None, None, Some(n)) => Cow::Borrowed(n),
                    (None, None, None) => continue,
                };
                by_ref.insert(format!("{prefix}:{uid}"), name);
            }
        }
        Names { by_ref }
    }

    fn get(&self, kind: &str, id: &str) -> Option<String> {
        self.by_ref.get(&format!("{kind}:{id}")).map(|n| n.to_string())
    }
}

/// Splits `group:54390000000001` into (`group`, `54390000000001`).
fn split_ref(r: &str) -> Option<(&str, &str)> {
    let (kind, id) = r.split_once(':')?;
    (!kind.is_empty() && !id.is_empty()).then_some((kind, id))
}

fn topics_to_posts(
    topics: &[Topic<'_>],
    entities: &Entities<'_>,
    names: &Names<'_>,
    ctx: &ParseContext,
    page: &mut OkPage,
) -> Result<(), String> {
    let refs = Refs {
        topics: entities.media_topics.iter().filter_map(|t| Some((t.id.0.as_deref()?, t))).collect(),
        photos: entities.group_photos.iter().filter_map(|p| Some((p.id.0.as_deref()?, p))).collect(),
    };
    page.posts.reserve(topics.len());
    for (index, topic) in topics.iter().enumerate() {
        let post = topic_to_post(topic, &refs, names, ctx)
            .map_err(|e| format!("topic {index} (id {}): {e}", topic.id.0.as_deref().unwrap_or("?")))?;
        let from = page.posts.len();
        page.posts.push(post);
        check::sift(&mut page.posts, from, index, &mut page.bad_items);
    }
    Ok(())
}

/// The `entities` that media blocks point at, by id.
struct Refs<'e, 'a> {
    topics: HashMap<&'e str, &'e Topic<'a>>,
    photos: HashMap<&'e str, &'e Photo<'a>>,
}

fn topic_to_post(
    topic: &Topic<'_>,
    refs: &Refs<'_, '_>,
    names: &Names<'_>,
    ctx: &ParseContext,
) -> Result<RawPost, String> {
    let id = topic.id.0.as_deref().ok_or("topic has no id")?;
    let owner_ref = topic.owner_ref.as_deref().ok_or("topic has no owner_ref")?;
    let (_, owner) = split_ref(owner_ref).ok_or_else(|| format!("owner_ref {owner_ref:?} is not kind:id"))?;
    let uid = PostUid::post(Platform::Ok, owner, id).map_err(|e| e.to_string())?;
    let author = match topic.author_ref.as_deref().and_then(split_ref) {
        Some((kind, aid)) => Author {
            id: Some(aid.to_owned()),
            name: names.get(kind, aid),
            is_source: topic.author_ref.as_deref() == Some(owner_ref),
        },
        None => Author::default(),
    };
    let mut repost_of = None;
    let mut attachments = Vec::new();
    for media in &topic.media {
        match media.kind.as_deref() {
            Some("text") | None => {}
            Some("topic" | "reshare") => {
                if repost_of.is_none() {
                    repost_of = reshare_origin(media, &refs.topics, names)?;
                }
            }
            Some("photo") if !media.photo_refs.is_empty() => {
                attachments.extend(media.photo_refs.iter().map(|r| photo_attachment(r, &refs.photos)))
            }
            Some(kind) => attachments.push(media_attachment(kind, media)),
        }
    }
    Ok(RawPost {
        schema: Schema,
        platform: Platform::Ok,
        source_id: ctx.source_id_for(Platform::Ok, owner),
        item_kind: ItemKind::Post,
        parent_uid: None,
        url: Some(topic_url(owner_ref, id)),
        author,
        published_at: from_millis(topic.created_ms.0, "created_ms")?,
        edited_at: None,
        edited: false,
        collected_at: ctx.collected_at,
        text: media_text(&topic.media),
        repost_of,
        attachments,
        counters: Counters {
            views: topic.views_count.0,
            likes: topic.like_summary.value(),
            reposts: topic.reshare_summary.value(),
            comments: topic.discussion_summary.value(),
        },
        pinned: topic.is_sticky.0,
        ads: topic.is_promo.0,
        geo: None,
        uid,
    })
}

fn topic_url(owner_ref: &str, id: &str) -> String {
    match split_ref(owner_ref) {
        Some(("user", uid)) => format!("https://ok.ru/profile/{uid}/statuses/{id}"),
        Some((_, gid)) => format!("https://ok.ru/group/{gid}/topic/{id}"),
        None => format!("https://ok.ru/topic/{id}"),
    }
}

/// The text blocks of a topic, one paragraph each.
fn media_text(media: &[Media<'_>]) -> String {
    let texts: Vec<&str> = media
        .iter()
        .filter(|m| m.kind.as_deref().is_none_or(|k| k == "text"))
        .filter_map(|m| m.text.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    texts.join("\n")
}

fn media_attachment(kind: &str, m: &Media<'_>) -> Attachment {
    let text = |s: Option<&Cow<'_, str>>| s.map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    let (kind, title) = match kind {
        "movie" => ("video", text(m.title.as_ref())),
        "music" => ("audio", text(m.title.as_ref())),
        "poll" => ("poll", text(m.question.as_ref()).or_else(|| text(m.title.as_ref()))),
        other => (other, text(m.title.as_ref())),
    };
    Attachment { kind: kind.to_owned(), title, description: text(m.description.as_ref()), url: text(m.url.as_ref()) }
}

/// One photo of a `photo` block, its URL resolved through `entities.group_photos`.
fn photo_attachment(reference: &str, photos: &HashMap<&str, &Photo<'_>>) -> Attachment {
    let id = split_ref(reference).map_or(reference, |(_, id)| id);
    let photo = photos.get(id);
    let text = |s: Option<&Cow<'_, str>>| s.map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    Attachment {
        kind: "photo".to_owned(),
        title: None,
        description: photo.and_then(|p| text(p.text.as_ref())),
        url: photo.and_then(|p| text(p.pic_max.as_ref()).or_else(|| text(p.pic640.as_ref()))),
    }
}

fn reshare_origin(
    media: &Media<'_>,
    reshared: &HashMap<&str, &Topic<'_>>,
    names: &Names<'_>,
) -> Result<Option<RepostOrigin>, String> {
    let Some(reference) = media.topic_refs.first() else { return Ok(None) };
    let id = split_ref(reference).map_or(&**reference, |(_, id)| id);
    let Some(origin) = reshared.get(id) else {
        // The reshared topic is not in `entities` (deleted or hidden): keep what the ref says.
        return Ok(Some(RepostOrigin { uid: None, name: None, text: media_text(std::slice::from_ref(media)) }));
    };
    let owner = origin.owner_ref.as_deref().and_then(split_ref);
    let uid = match owner {
        Some((_, owner)) => Some(PostUid::post(Platform::Ok, owner, id).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(Some(RepostOrigin {
        uid,
        name: owner.and_then(|(kind, oid)| names.get(kind, oid)),
        text: media_text(&origin.media),
    }))
}

fn comments_to_posts(
    comments: &[Comment<'_>],
    names: &Names<'_>,
    ctx: &ParseContext,
    page: &mut OkPage,
) -> Result<(), String> {
    let parent = ctx.parent.as_ref().ok_or(
        "discussions.getComments responses do not name their topic: pass the topic uid as ParseContext::parent",
    )?;
    if parent.platform != Platform::Ok {
        return Err(format!("ParseContext::parent {parent} is not an OK topic uid"));
    }
    let topic = parent.root();
    let url = format!("https://ok.ru/group/{}/topic/{}", topic.owner, topic.id);
    let out = &mut page.posts;
    out.reserve(comments.len());
    for (index, c) in comments.iter().enumerate() {
        if c.deleted.0 {
            continue;
        }
        let wrap = |e: String| format!("comment {index} (id {}): {e}", c.id.0.as_deref().unwrap_or("?"));
        let id = c.id.0.as_deref().ok_or_else(|| wrap("comment has no id".into()))?;
        let uid = topic.comment(id).map_err(|e| wrap(e.to_string()))?;
        let parent_uid = match c.reply_to_comment_id.0.as_deref() {
            Some(r) if r != id => topic.comment(r).map_err(|e| wrap(e.to_string()))?,
            _ => topic.clone(),
        };
        let author_id = c.author_id.0.as_deref();
        let from = out.len();
        out.push(RawPost {
            schema: Schema,
            platform: Platform::Ok,
            source_id: ctx.source_id_for(Platform::Ok, &topic.owner),
            item_kind: ItemKind::Comment,
            parent_uid: Some(parent_uid),
            url: Some(url.clone()),
            author: Author {
                id: author_id.map(str::to_owned),
                name: c.author_name.as_deref().map(str::to_owned).or_else(|| {
                    // A group answers in its own topics as `author_type: GROUP`, same id space.
                    author_id.and_then(|a| names.get("user", a).or_else(|| names.get("group", a)))
                }),
                is_source: author_id == Some(topic.owner.as_str()),
            },
            published_at: comment_date(c).map_err(wrap)?,
            edited_at: None,
            edited: false,
            collected_at: ctx.collected_at,
            text: c.text.as_deref().unwrap_or("").to_owned(),
            repost_of: None,
            attachments: Vec::new(),
            counters: Counters { likes: c.like_count.0, ..Counters::default() },
            pinned: false,
            ads: false,
            geo: None,
            uid,
        });
        check::sift(out, from, index, &mut page.bad_items);
    }
    Ok(())
}

fn from_millis(ms: Option<i64>, field: &str) -> Result<DateTime<Utc>, String> {
    let ms = ms.ok_or_else(|| format!("no {field}"))?;
    DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("{field} {ms} is out of range"))
}

fn comment_date(c: &Comment<'_>) -> Result<DateTime<Utc>, String> {
    if c.date_ms.0.is_some() {
        return from_millis(c.date_ms.0, "date_ms");
    }
    let date = c.date.0.as_deref().ok_or("comment has neither date nor date_ms")?;
    if date.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = date.parse().map_err(|_| format!("date {:?} is out of range", lenient::truncate(date)))?;
        // Ten-digit numbers are seconds; millisecond epochs have thirteen.
        return if n >= 100_000_000_000 {
            from_millis(Some(n), "date")
        } else {
            DateTime::from_timestamp(n, 0).ok_or_else(|| format!("date {n} is out of range"))
        };
    }
    moscow_to_utc(date)
}

/// Converts `YYYY-MM-DD HH:MM:SS` Moscow wall-clock time to UTC.
///
/// Moscow is UTC+3 all year since 2014-10-26; from 2011-03-27 until then it was UTC+4. Earlier
/// summer time (UTC+4 in summers before 2011) is not modelled: monitoring never reaches back
/// that far, and a one-hour error on a decade-old comment changes no alert.
pub fn moscow_to_utc(text: &str) -> Result<DateTime<Utc>, String> {
    let local = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .map_err(|e| format!("date {:?} is not YYYY-MM-DD HH:MM:SS: {e}", lenient::truncate(text)))?;
    let plus4_from = NaiveDate::from_ymd_opt(2011, 3, 27).and_then(|d| d.and_hms_opt(3, 0, 0));
    let plus4_until = NaiveDate::from_ymd_opt(2014, 10, 26).and_then(|d| d.and_hms_opt(2, 0, 0));
    let hours = match (plus4_from, plus4_until) {
        (Some(from), Some(until)) if local >= from && local < until => 4,
        _ => 3,
    };
    local
        .checked_sub_signed(TimeDelta::hours(hours))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("date {text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moscow_dates_become_utc() {
        assert_eq!(moscow_to_utc("2025-11-14 09:30:00").unwrap().to_rfc3339(), "2025-11-14T06:30:00+00:00");
        // Just after midnight in Moscow is still the previous day in UTC.
        assert_eq!(moscow_to_utc("2026-01-01 01:15:00").unwrap().to_rfc3339(), "2025-12-31T22:15:00+00:00");
        assert_eq!(moscow_to_utc("2013-07-01 12:00:00").unwrap().to_rfc3339(), "2013-07-01T08:00:00+00:00");
        assert!(moscow_to_utc("14.11.2025 09:30").is_err());
        assert!(moscow_to_utc("2025-02-30 10:00:00").is_err());
    }

    #[test]
    fn refs_split_into_kind_and_id() {
        assert_eq!(split_ref("group:5439"), Some(("group", "5439")));
        assert_eq!(split_ref("5439"), None);
        assert_eq!(split_ref("group:"), None);
    }
}
