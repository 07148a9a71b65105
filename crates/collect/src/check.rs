//! The item check every network's parser applies to what it read: a post or comment must have
//! ids the platform can really issue and a date it can really carry. What fails is not a post:
//! it becomes a [`BadItem`] (kept with its reason for the DLQ and `otklik parse`'s report), and
//! the rest of the page is still used.
//!
//! Ids, by platform:
//! - VK: post and comment ids are positive integers, the owner a non-zero one (negative for
//!   communities). `id: -1` or `0` is a placeholder some clients and proxies send, not a post.
//! - OK: group and topic ids are decimal digits only, at most 20 (the width of a `u64`), not all
//!   zeros. Comment ids are opaque tokens (base64 of the topic and a sequence), so they are only
//!   required to be made of URL-safe base64 characters.
//! - Telegram: message ids are positive integers; the channel is a channel username.
//!
//! Dates: after [`EARLIEST`] (before any of the three networks existed, so an earlier date is a
//! zero or `-1` epoch, not history) and at most [`FUTURE_SLACK`] after `collected_at` (clock skew
//! between the platform and the collector; more is a unit mix-up such as milliseconds read as
//! seconds).

use crate::RawPost;
use chrono::{DateTime, TimeDelta, Utc};
use otklik_model::{Platform, PostUid};

/// 2006-01-01T00:00:00Z: no VK, OK or Telegram item is older.
pub const EARLIEST: DateTime<Utc> = match DateTime::from_timestamp(1_136_073_600, 0) {
    Some(t) => t,
    None => DateTime::UNIX_EPOCH,
};

/// How far after `collected_at` a date may lie.
pub const FUTURE_SLACK: TimeDelta = TimeDelta::days(1);

/// An item of a response that is not a post: an impossible id or date, or (t.me) a message
/// block that could not be read. Never dropped silently: collectors send it to the DLQ,
/// `otklik parse` reports it on stderr.
#[derive(Debug, Clone, PartialEq)]
pub struct BadItem {
    /// The item's position in its list: VK `items`, OK `media_topics` / `comments`, the t.me
    /// page's message blocks (a VK reply in a thread has its top comment's index).
    pub index: usize,
    /// t.me only: byte offset of the message block in the page, to find it in a saved file.
    pub offset: Option<usize>,
    /// The item as read, when it got as far as a post (the DLQ payload).
    pub post: Option<Box<RawPost>>,
    pub reason: String,
}

impl std::fmt::Display for BadItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "item {}", self.index)?;
        if let Some(offset) = self.offset {
            write!(f, " (byte {offset})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A response that parsed but held nothing, in a way a healthy feed does not answer: it says
/// there are posts but lists none, every call of a batch failed, the posts field is missing, or
/// a page has no message markup. A well-formed empty feed (a VK wall with `count: 0, items: []`,
/// an OK answer with an empty list, a t.me channel whose page says it has no messages, or whose
/// only messages are service ones) is not `Empty`: it is simply zero posts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nothing parsed: {reason}")]
pub struct Empty {
    pub reason: String,
}

impl Empty {
    pub fn new(reason: impl Into<String>) -> Self {
        Empty { reason: reason.into() }
    }
}

/// Everything a response yielded: the valid posts, the items that are not posts, and, when there
/// is nothing at all, whether that is suspicious.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub posts: Vec<RawPost>,
    pub bad_items: Vec<BadItem>,
    /// Set only when `posts` and `bad_items` are both empty and the answer is not a
    /// well-formed empty feed.
    pub empty: Option<Empty>,
    /// The source's audience where the page itself shows it (a t.me/s header's subscribers).
    pub audience: Option<u64>,
}

/// Checks one parsed item (see the module docs for the rules).
pub fn check_post(post: &RawPost) -> Result<(), String> {
    check_uid(&post.uid)?;
    check_date(post.published_at, post.collected_at, "date")?;
    match post.edited_at {
        Some(edited) => check_date(edited, post.collected_at, "edit date"),
        None => Ok(()),
    }
}

/// Checks the ids of a uid for its platform.
pub fn check_uid(uid: &PostUid) -> Result<(), String> {
    let (owner, id, comment) = (uid.owner.as_str(), uid.id.as_str(), uid.comment.as_deref());
    match uid.platform {
        Platform::Vk => {
            vk_number(owner, "owner id", |n| n != 0)?;
            vk_number(id, "post id", |n| n > 0)?;
            comment.map_or(Ok(()), |c| vk_number(c, "comment id", |n| n > 0))
        }
        Platform::Ok => {
            ok_number(owner, "group id")?;
            ok_number(id, "topic id")?;
            comment.map_or(Ok(()), ok_token)
        }
        Platform::Telegram => {
            if !crate::telegram::is_channel_username(owner) {
                return Err(format!("channel {:?} is not a channel username", short(owner)));
            }
            match id.parse::<u64>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(format!("message id {:?} is not a positive integer", short(id))),
            }
        }
    }
}

/// Checks that a date is after [`EARLIEST`] and at most [`FUTURE_SLACK`] after `collected_at`.
pub fn check_date(date: DateTime<Utc>, collected_at: DateTime<Utc>, what: &str) -> Result<(), String> {
    if date < EARLIEST {
        return Err(format!("{what} {} is before 2006, older than the network", rfc3339(date)));
    }
    if date > collected_at + FUTURE_SLACK {
        return Err(format!(
            "{what} {} is more than a day after collection ({})",
            rfc3339(date),
            rfc3339(collected_at)
        ));
    }
    Ok(())
}

/// Moves the posts from `from` on that fail [`check_post`] into `bad`, as item `index`.
pub(crate) fn sift(posts: &mut Vec<RawPost>, from: usize, index: usize, bad: &mut Vec<BadItem>) {
    if posts[from..].iter().all(|p| check_post(p).is_ok()) {
        return;
    }
    let tail: Vec<RawPost> = posts.drain(from..).collect();
    for post in tail {
        match check_post(&post) {
            Ok(()) => posts.push(post),
            Err(reason) => {
                let reason = format!("{}: {reason}", post.uid);
                bad.push(BadItem { index, offset: None, post: Some(Box::new(post)), reason });
            }
        }
    }
}

fn vk_number(text: &str, what: &str, ok: impl Fn(i64) -> bool) -> Result<(), String> {
    match text.parse::<i64>() {
        Ok(n) if ok(n) => Ok(()),
        Ok(n) if what == "owner id" => Err(format!("{what} {n} is zero")),
        Ok(n) => Err(format!("{what} {n} is not positive")),
        Err(_) => Err(format!("{what} {:?} is not an integer", short(text))),
    }
}

fn ok_number(text: &str, what: &str) -> Result<(), String> {
    let digits = !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    if !digits {
        return Err(format!("{what} {:?} is not a number of 1 to 20 decimal digits", short(text)));
    }
    if text.bytes().all(|b| b == b'0') {
        return Err(format!("{what} {text} is zero"));
    }
    Ok(())
}

fn ok_token(text: &str) -> Result<(), String> {
    let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_');
    if text.is_empty() || text.len() > 256 || !text.bytes().all(base64) {
        return Err(format!("comment id {:?} is neither a number nor an OK comment token", short(text)));
    }
    Ok(())
}

fn short(text: &str) -> String {
    crate::vk::lenient::truncate(text)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(platform: Platform, owner: &str, id: &str) -> PostUid {
        PostUid::post(platform, owner, id).unwrap()
    }

    #[test]
    fn ids_per_platform() {
        assert!(check_uid(&uid(Platform::Vk, "-5", "7")).is_ok());
        assert!(check_uid(&uid(Platform::Vk, "-5", "-1")).unwrap_err().contains("post id -1 is not positive"));
        assert!(check_uid(&uid(Platform::Vk, "-5", "0")).is_err());
        assert!(check_uid(&uid(Platform::Vk, "0", "7")).unwrap_err().contains("owner id 0 is zero"));
        assert!(check_uid(&uid(Platform::Vk, "-5", "7").comment("0").unwrap()).is_err());
        assert!(check_uid(&uid(Platform::Ok, "54390000000201", "156000000000104")).is_ok());
        assert!(check_uid(&uid(Platform::Ok, "5439", "abc")).unwrap_err().contains("topic id \"abc\""));
        assert!(check_uid(&uid(Platform::Ok, "5439", "-5")).is_err());
        assert!(check_uid(&uid(Platform::Ok, "5439", "000")).is_err());
        assert!(check_uid(&uid(Platform::Ok, "5439", "123456789012345678901")).is_err());
        assert!(check_uid(&uid(Platform::Ok, "5439", "1").comment("MTU2OjE=").unwrap()).is_ok());
        assert!(check_uid(&uid(Platform::Ok, "5439", "1").comment("a;b").unwrap()).is_err());
        assert!(check_uid(&uid(Platform::Telegram, "penzanews", "12")).is_ok());
        assert!(check_uid(&uid(Platform::Telegram, "penzanews", "0")).is_err());
        assert!(check_uid(&uid(Platform::Telegram, "bad-name", "12")).is_err());
    }

    #[test]
    fn dates_between_2006_and_a_day_after_collection() {
        let now = DateTime::from_timestamp(1_763_121_600, 0).unwrap();
        assert!(check_date(now, now, "date").is_ok());
        assert!(check_date(EARLIEST, now, "date").is_ok());
        assert!(check_date(now + TimeDelta::hours(23), now, "date").is_ok());
        let epoch = DateTime::from_timestamp(-1, 0).unwrap();
        assert!(check_date(epoch, now, "date").unwrap_err().contains("1969-12-31T23:59:59Z is before 2006"));
        assert!(check_date(now + TimeDelta::hours(25), now, "date").unwrap_err().contains("more than a day after"));
    }
}
