//! Telegram public channels through the `https://t.me/s/<channel>` web preview: a pure parser,
//! and [`TelegramReader`], the poller that fetches and walks the preview pages over HTTP
//! (configured by [`TelegramConfig`]; `telegram/reader.rs` tables how each t.me answer is handled).
//!
//! Input is either the whole preview page or the fragment t.me returns for a paging request sent
//! with `X-Requested-With: XMLHttpRequest` (the same message markup, JSON-encoded as one string);
//! [`parse_saved_response`] tells them apart by the leading quote.
//!
//! The parser is a forward scanner over bytes (module `scan`), not a DOM: t.me pages are large and
//! mostly boilerplate, and a tree would cost an order of magnitude in throughput. It finds each
//! message block by its class names (`tgme_widget_message` with `data-post`), bounds the block at
//! the next message so that broken markup in one post cannot swallow the next, and reads what it
//! needs from the classes inside. Attribute order, quoting and whitespace do not matter.
//!
//! Bad input never panics. A block that cannot be read (no id, no time) or that fails
//! [`crate::check`] (message id 0, a date before 2006 or after collection) is skipped with a
//! reason in [`TelegramPage::skipped`]; service messages («Channel created», «pinned a message»)
//! are skipped the same way and never counted as posts. A response that is not a channel preview
//! at all is an error.
//!
//! A page that is not valid UTF-8 is refused with the byte offset of the first bad sequence, as
//! the VK and OK parsers refuse such a response: t.me always serves UTF-8, so a bad byte means a
//! broken transfer or file, and decoding it lossily would put U+FFFD into posts unnoticed.
//!
//! [`parse_saved`] also says when a page with nothing on it is suspicious ([`crate::Empty`]): a
//! preview page with no message blocks at all, or a non-empty fragment without any. A page that
//! says the channel has no messages (`tme_no_messages_found`), a new channel whose only blocks
//! are service messages, and an empty fragment (t.me's answer past the channel's start) are
//! well-formed empty feeds.
//!
//! Mapping onto [`RawPost`]: uid `tg:<channel lower-case>:<id>`, url `https://t.me/<channel>/<id>`,
//! author = the post signature or else the channel title (`is_source`: the channel wrote it). A
//! forward's text is not the channel's own words, so it goes to `repost_of.text` and `text` stays
//! empty; a reply to another post sets `parent_uid` (the post stays `item_kind: post`).

mod parse;
mod reader;
mod scan;
mod text;
mod values;

use crate::check::{BadItem, Empty, Parsed};
use crate::{ParseContext, ParseError, RawPost};
use otklik_model::{Platform, PostUid};
use serde::Serialize;

pub use reader::*;

/// The channel a page belongs to, as far as the page tells.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ChannelInfo {
    /// The username as the page writes it (`PenzaNews`); posts' uids use it lower-cased.
    pub username: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub subscribers: Option<u64>,
}

/// Where the neighbouring pages start: the ids t.me's «more» links carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Paging {
    /// Older posts: request `?before=<id>` (posts with smaller ids). `None` at the channel start.
    pub before: Option<u64>,
    /// Newer posts: request `?after=<id>`. Only pages opened with `before`/`after` have one.
    pub after: Option<u64>,
}

/// The post a reply answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyTo {
    /// `None` when the quoted post is not a public t.me post link.
    pub uid: Option<PostUid>,
    pub author: Option<String>,
    /// The quoted snippet t.me shows (shortened by t.me, not the full original).
    pub text: String,
}

/// One post of the page: the wire [`RawPost`] plus what only Telegram has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelegramPost {
    /// The message id within the channel (the number paging and cursors compare).
    pub id: u64,
    pub reply_to: Option<ReplyTo>,
    /// The preview could not show the media («Please open Telegram to view this post»); the
    /// text, if any, is still the post.
    pub media_unavailable: bool,
    pub post: RawPost,
}

/// Why a message block did not become a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// «Channel created», «Channel photo updated», «pinned …»: channel events, not posts.
    ServiceMessage { text: String },
    /// The same `data-post` appeared earlier on the page.
    Duplicate,
    /// The block could not be read; `reason` says what was missing or wrong.
    Malformed { reason: String },
}

/// A message block that was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedBlock {
    /// The block's `data-post` (`channel/123`) when it had a readable one.
    pub post: Option<String>,
    /// Byte offset of the block in the parsed HTML, to find it in a saved page.
    pub offset: usize,
    /// The block's position among the page's message blocks.
    #[serde(skip)]
    pub index: usize,
    pub reason: SkipReason,
}

/// Everything one preview page (or fragment) holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelegramPage {
    pub channel: ChannelInfo,
    /// In page order (t.me lists oldest first).
    pub posts: Vec<TelegramPost>,
    pub skipped: Vec<SkippedBlock>,
    pub paging: Paging,
}

impl TelegramPage {
    /// Service messages seen on the page (skipped, never counted as posts).
    pub fn service_messages(&self) -> usize {
        self.skipped.iter().filter(|s| matches!(s.reason, SkipReason::ServiceMessage { .. })).count()
    }

    /// Blocks that looked like messages but could not be read.
    pub fn malformed(&self) -> impl Iterator<Item = &SkippedBlock> {
        self.skipped.iter().filter(|s| matches!(s.reason, SkipReason::Malformed { .. }))
    }

    pub fn into_raw_posts(self) -> Vec<RawPost> {
        self.posts.into_iter().map(|p| p.post).collect()
    }

    /// The message blocks that are not posts (unreadable, or failing [`crate::check`]), as bad
    /// items for the DLQ.
    pub fn bad_items(&self) -> Vec<BadItem> {
        self.malformed()
            .map(|s| BadItem { index: s.index, offset: Some(s.offset), post: None, reason: skip_reason(s) })
            .collect()
    }
}

/// Parses a whole `t.me/s/<channel>` page (or an already-decoded XHR fragment).
///
/// Fails when the bytes hold no channel-preview markup at all (a redirect target, an error page,
/// the non-preview `t.me/<channel>` page): the caller should report that the channel has no
/// public preview rather than conclude it is empty.
pub fn parse_page(html: &[u8], ctx: &ParseContext) -> Result<TelegramPage, ParseError> {
    read_page(html, ctx).map(|parsed| parsed.page)
}

fn read_page(html: &[u8], ctx: &ParseContext) -> Result<parse::Parsed, ParseError> {
    if let Err(e) = std::str::from_utf8(html) {
        let at = e.valid_up_to();
        let what = if e.error_len().is_none() { "ends inside a UTF-8 sequence" } else { "is not valid UTF-8" };
        return Err(ParseError::new(Platform::Telegram, format!("page {what} at byte {at}")));
    }
    let page = parse::parse_html(html, ctx);
    if !page.saw_preview_markup {
        return Err(ParseError::new(
            Platform::Telegram,
            "no t.me/s channel preview markup (no channel info, message history or messages)",
        ));
    }
    Ok(page)
}

/// Whether `name` is a channel username as t.me allows it.
pub(crate) fn is_channel_username(name: &str) -> bool {
    values::is_channel_name(name)
}

/// Parses the response of an XHR paging request: a JSON string holding message markup. An empty
/// fragment is a valid empty page (t.me answers so past the end of a channel).
pub fn parse_fragment(json: &[u8], ctx: &ParseContext) -> Result<TelegramPage, ParseError> {
    read_fragment(json, ctx).map(|(parsed, _)| parsed.page)
}

/// The fragment's page, and whether its markup was blank.
fn read_fragment(json: &[u8], ctx: &ParseContext) -> Result<(parse::Parsed, bool), ParseError> {
    let html: String = serde_json::from_slice(json)
        .map_err(|e| ParseError::new(Platform::Telegram, format!("XHR fragment is not a JSON string: {e}")))?;
    Ok((parse::parse_html(html.as_bytes(), ctx), html.trim().is_empty()))
}

/// Parses a saved page or XHR fragment, telling them apart by the first non-blank byte (a JSON
/// string starts with `"`, a page with `<`).
pub fn parse_saved_page(bytes: &[u8], ctx: &ParseContext) -> Result<TelegramPage, ParseError> {
    read_saved(bytes, ctx).map(|(page, _)| page)
}

/// A saved page or fragment, and why it is suspiciously empty.
fn read_saved(bytes: &[u8], ctx: &ParseContext) -> Result<(TelegramPage, Option<Empty>), ParseError> {
    let body = bytes.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(bytes);
    let (parsed, blank, what) = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'"') => read_fragment(body, ctx).map(|(parsed, blank)| (parsed, blank, "XHR fragment"))?,
        Some(_) => (read_page(body, ctx)?, false, "t.me/s page"),
        None => return Err(ParseError::new(Platform::Telegram, "empty response")),
    };
    let empty = (parsed.blocks == 0 && !parsed.saw_no_messages && !blank)
        .then(|| Empty::new(format!("the {what} has no message blocks and does not say the channel has no messages")));
    Ok((parsed.page, empty))
}

/// Parses a saved page or fragment into its posts, the message blocks that are not posts
/// (unreadable, or failing [`crate::check`]) as bad items, and emptiness (see the module docs).
pub fn parse_saved(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let (page, empty) = read_saved(bytes, ctx)?;
    let audience = page.channel.subscribers;
    Ok(Parsed { bad_items: page.bad_items(), posts: page.into_raw_posts(), empty, audience })
}

fn skip_reason(skipped: &SkippedBlock) -> String {
    match &skipped.reason {
        SkipReason::Malformed { reason } => reason.clone(),
        other => format!("{other:?}"),
    }
}

/// Saved response bytes (page or fragment) → valid posts. Skipped blocks are logged; use
/// [`parse_saved`] or [`parse_saved_page`] to see them.
pub fn parse_saved_response(bytes: &[u8], ctx: &ParseContext) -> Result<Vec<RawPost>, ParseError> {
    let page = parse_saved_page(bytes, ctx)?;
    for skipped in page.malformed() {
        tracing::warn!(post = ?skipped.post, offset = skipped.offset, reason = ?skipped.reason, "skipped a telegram message block");
    }
    Ok(page.into_raw_posts())
}
