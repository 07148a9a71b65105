//! VK (VKontakte): the API reader ([`VkReader`], configured by [`VkConfig`], tokens from
//! [`VkConfig::resolve_tokens`]) and the parser: saved or live API v5.199 responses →
//! [`RawPost`]s. The parser is pure: no I/O.
//!
//! Reads `wall.get`, `wall.getComments` (with `thread.items` replies), `newsfeed.search` and
//! `execute` (a list of per-call answers plus `execute_errors`), each with or without the
//! `{"response": …}` envelope, and the error envelope `{"error": {…}}` (→ [`VkApiError`], with
//! [`VkErrorClass`] telling the client what to do). The kind of response is not declared in it,
//! so it is detected: an item with `post_id` is a comment, anything else in `items` a post.
//!
//! Mapping (uids per DESIGN.md): post `vk:<owner_id>:<id>`, comment
//! `vk:<owner_id>:<post_id>:c<id>` with `parent_uid` = the comment answered (`reply_to_comment`,
//! else the thread it sits in) or the post; `copy_history` → [`RepostOrigin`] (uid of the post
//! reposted, texts of the whole chain); `post_source` becomes an attachment of kind
//! `post_source` since [`RawPost`] has no field of its own for it. Deleted comments are skipped,
//! their surviving replies kept.
//!
//! Every post and comment passes [`crate::check`]: one with an impossible id or date (`id: -1`,
//! `owner_id: 0`, `date: -1`) goes to [`VkPage::bad_items`], the rest of the page is kept. A
//! response with no `items` list anywhere is [`VkPage::empty`]: `{"response": {"count": 5}}`
//! claims posts it does not list, and an `execute` whose every call answered `false` read
//! nothing. `{"count": 0, "items": []}` (an empty wall, or a page past the end) is a well-formed
//! empty feed, not `Empty`; so is a page whose items were all deleted.

mod client;
mod config;
mod error;
pub(crate) mod lenient;
mod reader;
mod tokens;
pub mod types;

pub use config::VkConfig;
pub use error::{VkApiError, VkErrorClass};
pub use reader::{VkReader, SEARCH_RESULT_LIMIT};
pub use tokens::{SecretProblem, TokenState, TokenStatus, VkSecretsError, VkToken};

use crate::check::{self, BadItem, Empty, Parsed};
use crate::{ParseContext, ParseError, RawPost};
use chrono::{DateTime, Utc};
use otklik_model::{Attachment, Author, Counters, Geo, ItemKind, Platform, PostUid, RepostOrigin, Schema};
use std::borrow::Cow;
use std::collections::HashMap;
use types::{Item, Node, Object};

/// Everything one VK response carries besides errors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VkPage {
    pub posts: Vec<RawPost>,
    /// `newsfeed.search` paging token for the next page.
    pub next_from: Option<String>,
    /// The total VK reports (`count`, or `total_count` for search), first page seen.
    pub count: Option<u64>,
    /// Calls that failed inside an `execute` batch; the others' posts are in `posts`.
    pub execute_errors: Vec<VkApiError>,
    /// Items that failed [`crate::check`]: not posts, kept for the DLQ.
    pub bad_items: Vec<BadItem>,
    /// Why a response without any `items` list is suspicious (see the module docs).
    pub empty: Option<Empty>,
}

/// Why a VK response yielded no page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VkResponseError {
    /// VK answered with an error envelope.
    #[error(transparent)]
    Api(#[from] VkApiError),
    /// The bytes are not a VK response we can read.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Parses any supported VK response into its posts, paging token and `execute` errors.
pub fn parse_response(bytes: &[u8], ctx: &ParseContext) -> Result<VkPage, VkResponseError> {
    let text = lenient::utf8_text(bytes).map_err(bad)?;
    let root: Node<'_> = lenient::from_json(text).map_err(bad)?;
    let mut page = VkPage::default();
    match &root {
        Node::Object(obj) => {
            if let Some(err) = &obj.error {
                return Err(VkApiError::from_body(err).into());
            }
            if obj.response.is_none() && obj.items.is_none() {
                return Err(bad(
                    "not a VK API response: expected \"response\", \"error\" or \"items\" at the top level",
                )
                .into());
            }
        }
        Node::List(_) => {}
        Node::Scalar => return Err(bad("not a VK API response: the top level is neither an object nor a list").into()),
    }
    let items_seen = walk(&root, ctx, &mut page).map_err(bad)?;
    if !items_seen {
        page.empty = Some(empty_reason(&root, &page));
    }
    Ok(page)
}

/// Why a response that walked cleanly has no `items` list anywhere.
fn empty_reason(root: &Node<'_>, page: &VkPage) -> Empty {
    let response = match root {
        Node::Object(obj) => obj.response.as_ref(),
        list => Some(list),
    };
    match (response, page.count) {
        (Some(Node::List(calls)), _) if !calls.is_empty() && calls.iter().all(|c| matches!(c, Node::Scalar)) => {
            let (calls, errors) = (calls.len(), page.execute_errors.len());
            Empty::new(format!("every call of the execute batch failed ({calls} calls, {errors} execute_errors)"))
        }
        (_, Some(count)) => Empty::new(format!("the response reports count {count} but has no items list")),
        _ => Empty::new("the response has no items list"),
    }
}

/// Parses a saved VK response into its valid posts, bad items and emptiness; an error envelope
/// becomes a [`ParseError`] naming it.
pub fn parse_saved(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    match parse_response(bytes, ctx) {
        Ok(page) => Ok(Parsed { posts: page.posts, bad_items: page.bad_items, empty: page.empty, audience: None }),
        Err(VkResponseError::Parse(e)) => Err(e),
        Err(VkResponseError::Api(e)) => Err(bad(format!("the response is an error, not data: {e} ({})", e.class()))),
    }
}

/// Parses a saved VK response into its valid posts (bad items left out, see [`parse_saved`]);
/// an error envelope becomes a [`ParseError`] naming it.
pub fn parse_saved_response(bytes: &[u8], ctx: &ParseContext) -> Result<Vec<RawPost>, ParseError> {
    parse_saved(bytes, ctx).map(|parsed| parsed.posts)
}

fn bad(reason: impl Into<String>) -> ParseError {
    ParseError::new(Platform::Vk, reason)
}

/// Reads every page in `node` into `page`; tells whether any object had an `items` list.
fn walk(node: &Node<'_>, ctx: &ParseContext, page: &mut VkPage) -> Result<bool, String> {
    match node {
        Node::Scalar => Ok(false),
        Node::List(nodes) => nodes.iter().try_fold(false, |seen, n| Ok(walk(n, ctx, page)? || seen)),
        Node::Object(obj) => {
            // Below the top level an error object is one failed call of a batch, not the answer.
            if let Some(err) = &obj.error {
                page.execute_errors.push(VkApiError::from_body(err));
            }
            for err in obj.execute_errors.iter().flatten() {
                page.execute_errors.push(VkApiError::from_body(err));
            }
            let inner_seen = match &obj.response {
                Some(inner) => walk(inner, ctx, page)?,
                None => false,
            };
            read_page(obj, ctx, page)?;
            Ok(inner_seen || obj.items.is_some())
        }
    }
}

fn read_page(obj: &Object<'_>, ctx: &ParseContext, page: &mut VkPage) -> Result<(), String> {
    if page.next_from.is_none() {
        page.next_from = obj.next_from.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    }
    if page.count.is_none() {
        page.count = obj.total_count.0.or(obj.count.0);
    }
    let Some(items) = &obj.items else { return Ok(()) };
    let conv = Converter::new(obj, ctx);
    page.posts.reserve(items.len());
    for (index, item) in items.iter().enumerate() {
        let is_comment = item.post_id.0.is_some() || ctx.parent.is_some();
        let from = page.posts.len();
        let result =
            if is_comment { conv.comment_tree(item, None, &mut page.posts) } else { conv.post(item, &mut page.posts) };
        result
            .map_err(|e| format!("item {index} (id {}): {e}", item.id.0.map_or("?".to_owned(), |i| i.to_string())))?;
        check::sift(&mut page.posts, from, index, &mut page.bad_items);
    }
    Ok(())
}

/// Turns items of one page into posts, resolving author names from the page's
/// `profiles`/`groups` (present with `extended=1`).
struct Converter<'p, 'a> {
    ctx: &'p ParseContext,
    names: HashMap<i64, Cow<'p, str>>,
    _page: std::marker::PhantomData<&'a ()>,
}

/// Where a comment sits: its post, and the thread comment whose `thread.items` hold it.
struct CommentPlace {
    owner: i64,
    post: i64,
    thread_top: Option<i64>,
}

impl<'p, 'a> Converter<'p, 'a> {
    fn new(obj: &'p Object<'a>, ctx: &'p ParseContext) -> Self {
        let mut names = HashMap::with_capacity(obj.profiles.len() + obj.groups.len());
        for p in &obj.profiles {
            if let Some(id) = p.id.0 {
                let name = match (p.first_name.as_deref(), p.last_name.as_deref()) {
                    (Some(f), Some(l)) if !l.is_empty() => Cow::Owned(format!("{f} {l}")),
                    (Some(f), _) => Cow::Borrowed(f),
                    (None, Some(l)) => Cow::Borrowed(l),
                    (None, None) => continue,
                };
                names.insert(id, name);
            }
        }
        for g in &obj.groups {
            if let (Some(id), Some(name)) = (g.id.0, g.name.as_deref()) {
                // Communities are negative as owners and authors, positive in `groups`.
                names.insert(-id.abs(), Cow::Borrowed(name));
            }
        }
        Converter { ctx, names, _page: std::marker::PhantomData }
    }

    fn name(&self, id: i64) -> Option<String> {
        self.names.get(&id).map(|n| n.to_string())
    }

    fn post(&self, item: &Item<'_>, out: &mut Vec<RawPost>) -> Result<(), String> {
        if item.deleted.0 || item.is_deleted.0 {
            return Ok(());
        }
        let id = item.id.0.ok_or("post has no id")?;
        // A community's own post names the community as `from_id`; else `--owner` must say.
        let own_post = item.from_id.0.filter(|&from| from < 0);
        let owner = item.owner_id.0.or(own_post).or(self.ctx.owner);
        let owner = owner.ok_or("post has no owner_id (give the wall's owner id: otklik parse vk --owner ID)")?;
        let uid = PostUid::post(Platform::Vk, owner.to_string(), id.to_string()).map_err(|e| e.to_string())?;
        let mut attachments = attachments(item);
        if let Some(source) = &item.post_source {
            attachments.push(Attachment {
                kind: "post_source".to_owned(),
                title: source.kind.as_deref().map(str::to_owned),
                description: source.platform.as_deref().or(source.data.as_deref()).map(str::to_owned),
                url: source.url.as_deref().map(str::to_owned),
            });
        }
        let repost_of = match item.copy_history.first() {
            None => None,
            Some(first) => Some(self.repost_origin(first, &item.copy_history)?),
        };
        out.push(RawPost {
            schema: Schema,
            platform: Platform::Vk,
            source_id: self.ctx.source_id_for(Platform::Vk, &owner.to_string()),
            item_kind: ItemKind::Post,
            parent_uid: None,
            url: Some(format!("https://vk.com/wall{owner}_{id}")),
            author: self.author(item, owner),
            published_at: timestamp(item.date.0, "date")?,
            edited_at: edited_at(item)?,
            edited: item.edited.0.is_some_and(|t| t > 0),
            collected_at: self.ctx.collected_at,
            text: clean_text(item.text.as_deref()),
            repost_of,
            attachments,
            counters: Counters {
                views: item.views.0,
                likes: item.likes.0,
                reposts: item.reposts.0,
                comments: item.comments.0,
            },
            pinned: item.is_pinned.0,
            ads: item.marked_as_ads.0,
            geo: geo(item),
            uid,
        });
        Ok(())
    }

    fn repost_origin(&self, first: &Item<'_>, chain: &[Item<'_>]) -> Result<RepostOrigin, String> {
        let owner = first.owner_id.0.or(first.from_id.0);
        let uid = match (owner, first.id.0) {
            (Some(owner), Some(id)) => {
                Some(PostUid::post(Platform::Vk, owner.to_string(), id.to_string()).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        // A repost of a repost: the words that matter are usually at the end of the chain (the
        // original), but intermediate reposters may add their own, so keep them all in order.
        let text = chain
            .iter()
            .filter_map(|i| i.text.as_deref())
            .map(|t| clean_text(Some(t)))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        Ok(RepostOrigin { uid, name: owner.and_then(|o| self.name(o)), text })
    }

    fn author(&self, item: &Item<'_>, owner: i64) -> Author {
        // `signer_id` names the member who wrote a community post; `from_id` is then the community.
        let from = item.from_id.0.or(item.owner_id.0);
        let (id, is_source) = match (item.signer_id.0.filter(|&s| s != 0), from) {
            (Some(signer), _) => (Some(signer), false),
            (None, Some(from)) => (Some(from), from == owner),
            (None, None) => (None, false),
        };
        Author { id: id.map(|i| i.to_string()), name: id.and_then(|i| self.name(i)), is_source }
    }

    /// A comment and, recursively, the replies in its `thread.items`.
    fn comment_tree(
        &self,
        item: &Item<'_>,
        place: Option<&CommentPlace>,
        out: &mut Vec<RawPost>,
    ) -> Result<(), String> {
        let id = item.id.0.ok_or("comment has no id")?;
        let ctx_parent = self.ctx.parent.as_ref().filter(|p| p.platform == Platform::Vk);
        let owner = match (item.owner_id.0, place, ctx_parent) {
            (Some(o), _, _) => o,
            (None, Some(p), _) => p.owner,
            (None, None, Some(parent)) => {
                parent.owner.parse().map_err(|_| format!("context parent {parent} has a non-numeric owner"))?
            }
            (None, None, None) => self
                .ctx
                .owner
                .ok_or("comment has no owner_id and no parent post is known (otklik parse vk --owner ID)")?,
        };
        let post = match (item.post_id.0, place, ctx_parent) {
            (Some(p), _, _) => p,
            (None, Some(p), _) => p.post,
            (None, None, Some(parent)) => {
                parent.id.parse().map_err(|_| format!("context parent {parent} has a non-numeric post id"))?
            }
            _ => return Err("comment has no post_id and no parent post is known".to_owned()),
        };
        let post_uid = PostUid::post(Platform::Vk, owner.to_string(), post.to_string()).map_err(|e| e.to_string())?;
        let thread_top = place.and_then(|p| p.thread_top).or_else(|| item.parents_stack.first().and_then(|p| p.0));

        if !(item.deleted.0 || item.is_deleted.0) {
            let uid = post_uid.comment(id.to_string()).map_err(|e| e.to_string())?;
            let answered = item
                .reply_to_comment
                .0
                .filter(|&c| c != 0 && c != id)
                .or_else(|| item.parents_stack.last().and_then(|p| p.0))
                .or(thread_top)
                .filter(|&c| c != id);
            let parent_uid = match answered {
                Some(c) => post_uid.comment(c.to_string()).map_err(|e| e.to_string())?,
                None => post_uid.clone(),
            };
            let url = match thread_top {
                Some(top) => format!("https://vk.com/wall{owner}_{post}?reply={id}&thread={top}"),
                None => format!("https://vk.com/wall{owner}_{post}?reply={id}"),
            };
            let comments = item.thread.as_ref().and_then(|t| t.count.0);
            let from = item.from_id.0;
            out.push(RawPost {
                schema: Schema,
                platform: Platform::Vk,
                source_id: self.ctx.source_id_for(Platform::Vk, &owner.to_string()),
                item_kind: ItemKind::Comment,
                parent_uid: Some(parent_uid),
                url: Some(url),
                author: Author {
                    id: from.map(|f| f.to_string()),
                    name: from.and_then(|f| self.name(f)),
                    is_source: from == Some(owner),
                },
                published_at: timestamp(item.date.0, "date")?,
                edited_at: edited_at(item)?,
                edited: item.edited.0.is_some_and(|t| t > 0),
                collected_at: self.ctx.collected_at,
                text: clean_text(item.text.as_deref()),
                repost_of: None,
                attachments: attachments(item),
                counters: Counters { views: None, likes: item.likes.0, reposts: None, comments },
                pinned: false,
                ads: false,
                geo: None,
                uid,
            });
        }
        if let Some(thread) = &item.thread {
            // Replies in a thread belong to the top comment's thread even when it was deleted.
            let inner = CommentPlace { owner, post, thread_top: Some(thread_top.unwrap_or(id)) };
            for reply in &thread.items {
                self.comment_tree(reply, Some(&inner), out).map_err(|e| {
                    format!("reply {} in thread: {e}", reply.id.0.map_or("?".to_owned(), |i| i.to_string()))
                })?;
            }
        }
        Ok(())
    }
}

fn timestamp(secs: Option<i64>, field: &str) -> Result<DateTime<Utc>, String> {
    let secs = secs.ok_or_else(|| format!("no {field}"))?;
    DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("{field} {secs} is out of range"))
}

fn edited_at(item: &Item<'_>) -> Result<Option<DateTime<Utc>>, String> {
    match item.edited.0 {
        Some(t) if t > 0 => timestamp(Some(t), "edited").map(Some),
        _ => Ok(None),
    }
}

fn geo(item: &Item<'_>) -> Option<Geo> {
    let g = item.geo.as_ref()?;
    let place = g.place.as_ref();
    let (lat, lon) = match g.coordinates.0 {
        Some((lat, lon)) => (Some(lat), Some(lon)),
        None => (place.and_then(|p| p.latitude.0), place.and_then(|p| p.longitude.0)),
    };
    let name = place.and_then(|p| p.title.as_deref().or(p.address.as_deref())).map(str::to_owned);
    (lat.is_some() || lon.is_some() || name.is_some()).then_some(Geo { lat, lon, place: name })
}

fn attachments(item: &Item<'_>) -> Vec<Attachment> {
    item.attachments
        .iter()
        .filter_map(|a| {
            let kind = a.kind.as_deref()?;
            let body = a.body();
            let text = |s: Option<&Cow<'_, str>>| s.map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
            let mut att = Attachment {
                kind: match kind {
                    "doc" => "document",
                    "audio_message" => "voice",
                    other => other,
                }
                .to_owned(),
                title: text(body.and_then(|b| b.title.as_ref())),
                description: text(body.and_then(|b| b.description.as_ref())),
                url: text(body.and_then(|b| b.url.as_ref())),
            };
            if let Some(b) = body {
                let vk_path = |prefix: &str| match (b.owner_id.0, b.id.0) {
                    (Some(o), Some(i)) => Some(format!("https://vk.com/{prefix}{o}_{i}")),
                    _ => None,
                };
                match kind {
                    "photo" => {
                        att.description = att.description.or_else(|| text(b.text.as_ref()));
                        // The largest rendition: analysts open it, nobody wants the 75px thumb.
                        att.url = b
                            .sizes
                            .iter()
                            .filter(|s| s.url.is_some())
                            .max_by_key(|s| s.width.0.unwrap_or(0).saturating_mul(s.height.0.unwrap_or(0)))
                            .and_then(|s| text(s.url.as_ref()))
                            .or(att.url)
                            .or_else(|| vk_path("photo"));
                    }
                    "video" => att.url = att.url.or_else(|| vk_path("video")),
                    "poll" => att.title = att.title.or_else(|| text(b.question.as_ref())),
                    "audio" => {
                        att.title = match (text(b.artist.as_ref()), att.title) {
                            (Some(artist), Some(title)) => Some(format!("{artist} — {title}")),
                            (artist, title) => title.or(artist),
                        }
                    }
                    "market" | "album" | "event" | "page" => att.title = att.title.or_else(|| text(b.name.as_ref())),
                    _ => {}
                }
            }
            Some(att)
        })
        .collect()
}

/// Removes VK inline markup: `[id123|Иван]`, `[club45|Администрация]` and
/// `[https://…|текст]` become their visible text, so the classifier reads what people read.
pub fn clean_text(text: Option<&str>) -> String {
    let Some(text) = text else { return String::new() };
    if !text.contains('[') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let replaced = after.find(']').and_then(|close| {
            let inner = &after[..close];
            let (target, shown) = inner.split_once('|')?;
            let target_ok = !target.is_empty() && !target.contains(|c: char| c.is_whitespace() || c == '[');
            (target_ok && !shown.contains('[')).then_some((shown, close))
        });
        match replaced {
            Some((shown, close)) => {
                out.push_str(shown);
                rest = &after[close + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_visible_text() {
        assert_eq!(clean_text(Some("[id1|Иван], спасибо [club2|администрации]!")), "Иван, спасибо администрации!");
        assert_eq!(clean_text(Some("[https://vk.com/page|ссылка] и [не ссылка]")), "ссылка и [не ссылка]");
        assert_eq!(clean_text(Some("[ |x] [a|b")), "[ |x] [a|b");
        assert_eq!(clean_text(Some("[[id1|А]")), "[А");
        assert_eq!(clean_text(None), "");
    }
}
