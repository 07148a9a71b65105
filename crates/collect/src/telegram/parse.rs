//! The scanning pass over a preview page: page-level elements (channel info, «more» links) and
//! message blocks, then the mapping of each block onto a [`RawPost`].

use super::scan::{class_tokens, walk_element, Scanner, Tag, TagKind};
use super::text::{attr_text, element_text};
use super::values::{
    is_channel_name, map_link_coordinates, parse_count, query_id, split_post_ref, style_image_url, tme_post_link,
};
use super::{ChannelInfo, Paging, ReplyTo, SkipReason, SkippedBlock, TelegramPage, TelegramPost};
use crate::ParseContext;
use chrono::{DateTime, Utc};
use memchr::{memmem, memrchr};
use otklik_model::{Attachment, Author, Counters, Geo, ItemKind, Platform, PostUid, RawPost, RepostOrigin, Schema};
use std::collections::HashSet;

pub(crate) struct Parsed {
    pub page: TelegramPage,
    /// Any element that only a channel preview has was seen (see `parse_page`).
    pub saw_preview_markup: bool,
    /// The page says the channel has no messages (`tme_no_messages_found`).
    pub saw_no_messages: bool,
    /// Message blocks found, read or skipped.
    pub blocks: usize,
}

/// What a class-bearing element at page level is.
#[derive(Clone, Copy)]
enum PageRole {
    Message,
    Title,
    Username,
    Description,
    Counter,
    MoreLink,
    PreviewContainer,
    NoMessages,
}

fn page_role(classes: &[u8]) -> Option<PageRole> {
    class_tokens(classes).find_map(|token| {
        Some(match token {
            b"tgme_widget_message" | b"js-widget_message" => PageRole::Message,
            b"tgme_channel_info_header_title" => PageRole::Title,
            b"tgme_channel_info_header_username" => PageRole::Username,
            b"tgme_channel_info_description" => PageRole::Description,
            b"tgme_channel_info_counter" => PageRole::Counter,
            b"tme_messages_more" | b"js-messages_more" => PageRole::MoreLink,
            b"tgme_channel_history" | b"js-message_history" | b"tgme_channel_info" => PageRole::PreviewContainer,
            b"tme_no_messages_found" => PageRole::NoMessages,
            _ => return None,
        })
    })
}

pub(crate) fn parse_html(html: &[u8], ctx: &ParseContext) -> Parsed {
    let boundaries = MessageBoundaries::new(html);
    let mut scanner = Scanner::new(html);
    let mut channel = ChannelInfo::default();
    let mut og_title = None;
    let mut paging = Paging::default();
    let mut saw_preview_markup = false;
    let mut saw_no_messages = false;
    let mut blocks = Vec::new();

    while let Some(tag) = scanner.next_tag() {
        if tag.kind != TagKind::Open {
            continue;
        }
        if tag.is(b"meta") {
            if tag.attr(b"property") == Some(b"og:title") {
                og_title = tag.attr(b"content").map(attr_text).and_then(non_empty);
            }
            continue;
        }
        let Some(role) = page_role(tag.classes()) else { continue };
        // Page-level reads stop at the next message, so an unclosed element cannot swallow posts.
        let bound = boundaries.next_after(tag.end);
        let mut element = Scanner::range(html, tag.end, bound);
        match role {
            PageRole::Message => {
                saw_preview_markup = true;
                blocks.push(read_message(&mut element, &tag));
            }
            PageRole::Title => channel.title = non_empty(element_text(&mut element, &tag)),
            PageRole::Username => {
                let text = element_text(&mut element, &tag);
                channel.username = Some(text.trim_start_matches('@').to_owned()).filter(|u| is_channel_name(u));
            }
            PageRole::Description => channel.description = non_empty(element_text(&mut element, &tag)),
            PageRole::Counter => {
                if let Some(subscribers) = read_subscriber_counter(&mut element, &tag) {
                    channel.subscribers = Some(subscribers);
                }
            }
            PageRole::MoreLink => {
                saw_preview_markup = true;
                read_more_link(&tag, &mut paging);
                continue;
            }
            PageRole::PreviewContainer => {
                saw_preview_markup = true;
                continue;
            }
            PageRole::NoMessages => {
                saw_preview_markup = true;
                saw_no_messages = true;
                continue;
            }
        }
        scanner.pos = element.pos;
    }

    if channel.title.is_none() {
        channel.title = og_title;
    }
    if channel.title.is_none() {
        channel.title = blocks.iter().find_map(|b| b.parts.owner_name.clone());
    }
    if channel.username.is_none() {
        channel.username =
            blocks.iter().find_map(|b| b.post_ref.as_deref().and_then(split_post_ref)).map(|(c, _)| c.to_owned());
    }

    let block_count = blocks.len();
    let mut posts = Vec::with_capacity(blocks.len());
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    for (index, block) in blocks.into_iter().enumerate() {
        let offset = block.offset;
        let post_ref = block.post_ref.clone();
        match build_post(block, &channel, ctx) {
            Ok(post) if !seen.insert(post.id) => {
                skipped.push(SkippedBlock { post: post_ref, offset, index, reason: SkipReason::Duplicate });
            }
            Ok(post) => posts.push(post),
            Err(reason) => skipped.push(SkippedBlock { post: post_ref, offset, index, reason }),
        }
    }
    let page = TelegramPage { channel, posts, skipped, paging };
    Parsed { page, saw_preview_markup, saw_no_messages, blocks: block_count }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Finds where the next message block starts, so one block's reads never run into the next.
struct MessageBoundaries<'a> {
    html: &'a [u8],
    finder: memmem::Finder<'static>,
}

impl<'a> MessageBoundaries<'a> {
    fn new(html: &'a [u8]) -> Self {
        MessageBoundaries { html, finder: memmem::Finder::new(b"data-post") }
    }

    /// The offset of the first message open tag (one carrying `data-post`) starting after
    /// `from`, or the end of input.
    fn next_after(&self, from: usize) -> usize {
        let html = self.html;
        let mut search = from.min(html.len());
        while let Some(i) = self.finder.find(&html[search..]) {
            let at = search + i;
            if let Some(lt) = memrchr(b'<', &html[from..at]).map(|j| from + j) {
                let mut probe = Scanner::range(html, lt, html.len());
                if let Some(tag) = probe.next_tag() {
                    let is_message = tag.start == lt
                        && tag.kind == TagKind::Open
                        && at < tag.end
                        && matches!(page_role(tag.classes()), Some(PageRole::Message));
                    if is_message {
                        return lt;
                    }
                }
            }
            search = at + 1;
        }
        html.len()
    }
}

fn read_more_link(tag: &Tag<'_>, paging: &mut Paging) {
    let number = |raw: Option<&[u8]>| raw.and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    let href = tag.attr(b"href").map(attr_text).unwrap_or_default();
    if let Some(before) = number(tag.attr(b"data-before")).or_else(|| query_id(&href, "before")) {
        paging.before = Some(before);
    }
    if let Some(after) = number(tag.attr(b"data-after")).or_else(|| query_id(&href, "after")) {
        paging.after = Some(after);
    }
}

/// A `tgme_channel_info_counter` holds a value and a type; only the subscriber count matters here.
fn read_subscriber_counter<'a>(scanner: &mut Scanner<'a>, open: &Tag<'a>) -> Option<u64> {
    let region = read_region(scanner, open, &[(b"counter_value", 0), (b"counter_type", 1)], &[]);
    let kind = region.first(1)?;
    // Channels count «subscribers», public groups «members»; photos, videos, links are not audience.
    if kind.starts_with("subscriber") || kind.starts_with("member") {
        parse_count(&region.first(0)?)
    } else {
        None
    }
}

/// What a region read found: texts of elements with the asked classes, the first media `src`, the
/// first CSS background image, and which asked flag classes occurred.
#[derive(Default)]
struct Region {
    fields: Vec<(usize, String, Option<String>)>,
    media_src: Option<String>,
    image_url: Option<String>,
    flags: u32,
}

impl Region {
    fn first(&self, field: usize) -> Option<String> {
        self.fields.iter().find(|(i, text, _)| *i == field && !text.is_empty()).map(|(_, text, _)| text.clone())
    }

    fn first_with_href(&self, field: usize) -> Option<(String, Option<String>)> {
        self.fields.iter().find(|(i, _, _)| *i == field).map(|(_, text, href)| (text.clone(), href.clone()))
    }

    fn all(&self, field: usize) -> Vec<String> {
        self.fields.iter().filter(|(i, text, _)| *i == field && !text.is_empty()).map(|(_, t, _)| t.clone()).collect()
    }

    fn has_flag(&self, flag: usize) -> bool {
        self.flags & (1 << flag) != 0
    }
}

/// Reads the element just opened by `open` through its close. `fields` maps classes to field
/// numbers (several classes may share one); `flags` are classes whose mere presence matters.
fn read_region<'a>(scanner: &mut Scanner<'a>, open: &Tag<'a>, fields: &[(&[u8], usize)], flags: &[&[u8]]) -> Region {
    let mut region = Region {
        image_url: open.attr(b"style").map(attr_text).as_deref().and_then(style_image_url),
        ..Region::default()
    };
    for token in class_tokens(open.classes()) {
        if let Some(flag) = flags.iter().position(|f| *f == token) {
            region.flags |= 1 << flag;
        }
    }
    if open.is_void() {
        return region;
    }
    walk_element(scanner, open.name, |scanner, tag| {
        if tag.kind != TagKind::Open {
            return false;
        }
        if region.media_src.is_none() && (tag.is(b"video") || tag.is(b"audio")) {
            region.media_src = tag.attr(b"src").map(attr_text).and_then(non_empty);
        }
        if region.image_url.is_none() {
            region.image_url = tag.attr(b"style").map(attr_text).as_deref().and_then(style_image_url);
        }
        let mut field = None;
        for token in class_tokens(tag.classes()) {
            if let Some(flag) = flags.iter().position(|f| *f == token) {
                region.flags |= 1 << flag;
            }
            if field.is_none() {
                field = fields.iter().find(|(class, _)| *class == token).map(|(_, i)| *i);
            }
        }
        match field {
            Some(i) => {
                let href = tag.attr(b"href").map(attr_text);
                let text = element_text(scanner, &tag);
                region.fields.push((i, text, href));
                !tag.is_void()
            }
            None => false,
        }
    });
    region
}

/// What one message block yielded, before it is checked and mapped.
struct Block {
    offset: usize,
    post_ref: Option<String>,
    service: bool,
    parts: MessageParts,
}

#[derive(Default)]
struct MessageParts {
    texts: Vec<String>,
    owner_name: Option<String>,
    signature: Option<String>,
    views: Option<u64>,
    /// The words of the meta line (signature, «edited», time).
    meta_text: String,
    /// The `<time datetime>` inside the date link, which is the publication time.
    date_link_time: Option<String>,
    /// Any other `<time datetime>`, used only if the date link has none.
    other_time: Option<String>,
    inside_date_link: bool,
    forward: Option<(String, Option<String>)>,
    reply: Option<ReplyParts>,
    attachments: Vec<Attachment>,
    media_unavailable: bool,
    geo: Option<Geo>,
}

struct ReplyParts {
    href: Option<String>,
    author: Option<String>,
    text: String,
}

/// What a class-bearing element inside a message is.
#[derive(Clone, Copy)]
enum Part {
    Text,
    ReplyQuote,
    Reply,
    Forwarded,
    ForwardedName,
    LinkPreview,
    Poll,
    Document,
    Photo,
    Video,
    RoundVideo,
    VoicePlayer,
    VoiceAudio,
    Sticker,
    Location,
    Contact,
    NotSupported,
    OwnerName,
    Signature,
    Views,
    Meta,
    DateLink,
}

fn part_of(classes: &[u8]) -> Option<Part> {
    let mut found = None;
    for token in class_tokens(classes) {
        let part = match token {
            // A reply's quote shares `tgme_widget_message_text`; its own class wins.
            b"js-message_reply_text" => return Some(Part::ReplyQuote),
            b"tgme_widget_message_text" | b"js-message_text" => Part::Text,
            b"tgme_widget_message_reply" => Part::Reply,
            b"tgme_widget_message_forwarded_from" => Part::Forwarded,
            b"tgme_widget_message_forwarded_from_name" => Part::ForwardedName,
            b"tgme_widget_message_link_preview" => Part::LinkPreview,
            b"tgme_widget_message_poll" => Part::Poll,
            b"tgme_widget_message_document_wrap" | b"tgme_widget_message_document" => Part::Document,
            b"tgme_widget_message_photo_wrap" => Part::Photo,
            b"tgme_widget_message_video_player" => Part::Video,
            b"tgme_widget_message_roundvideo_player" => Part::RoundVideo,
            b"tgme_widget_message_voice_player" => Part::VoicePlayer,
            b"tgme_widget_message_voice" => Part::VoiceAudio,
            b"tgme_widget_message_sticker_wrap"
            | b"tgme_widget_message_sticker"
            | b"tgme_widget_message_tgsticker"
            | b"tgme_widget_message_videosticker" => Part::Sticker,
            b"tgme_widget_message_location_wrap" | b"tgme_widget_message_location" => Part::Location,
            b"tgme_widget_message_contact_wrap" | b"tgme_widget_message_contact" => Part::Contact,
            b"message_media_not_supported_wrap" | b"message_media_not_supported" => Part::NotSupported,
            b"tgme_widget_message_owner_name" => Part::OwnerName,
            b"tgme_widget_message_from_author" => Part::Signature,
            b"tgme_widget_message_views" => Part::Views,
            b"tgme_widget_message_meta" => Part::Meta,
            b"tgme_widget_message_date" => Part::DateLink,
            _ => continue,
        };
        found.get_or_insert(part);
    }
    found
}

fn read_message<'a>(scanner: &mut Scanner<'a>, open: &Tag<'a>) -> Block {
    let service = open.has_class(b"service_message");
    let post_ref = open.attr(b"data-post").map(attr_text);
    let mut parts = MessageParts::default();
    walk_element(scanner, open.name, |scanner, tag| parts.visit(scanner, tag));
    Block { offset: open.start, post_ref, service, parts }
}

fn attachment(kind: &str, title: Option<String>, description: Option<String>, url: Option<String>) -> Attachment {
    Attachment { kind: kind.to_owned(), title, description, url }
}

impl MessageParts {
    /// Handles one tag inside the message; `true` when it consumed the tag's element.
    fn visit<'a>(&mut self, scanner: &mut Scanner<'a>, tag: Tag<'a>) -> bool {
        if tag.kind == TagKind::Close {
            if tag.is(b"a") {
                self.inside_date_link = false;
            }
            return false;
        }
        if tag.is(b"time") {
            if let Some(datetime) = tag.attr(b"datetime").map(attr_text) {
                let slot = if self.inside_date_link { &mut self.date_link_time } else { &mut self.other_time };
                slot.get_or_insert(datetime);
            }
            return false;
        }
        let Some(part) = part_of(tag.classes()) else { return false };
        match part {
            Part::Text => {
                let text = element_text(scanner, &tag);
                if !text.is_empty() {
                    self.texts.push(text);
                }
            }
            // A quote outside a reply block: not this post's words.
            Part::ReplyQuote => {
                element_text(scanner, &tag);
            }
            Part::Reply => {
                let href = tag.attr(b"href").map(attr_text);
                let region = read_region(
                    scanner,
                    &tag,
                    &[
                        (b"tgme_widget_message_author_name", 0),
                        (b"js-message_reply_text", 1),
                        (b"tgme_widget_message_metatext", 1),
                        (b"tgme_widget_message_text", 1),
                    ],
                    &[],
                );
                self.reply =
                    Some(ReplyParts { href, author: region.first(0), text: region.first(1).unwrap_or_default() });
            }
            Part::Forwarded => {
                let region = read_region(scanner, &tag, &[(b"tgme_widget_message_forwarded_from_name", 0)], &[]);
                self.forward = region.first_with_href(0).filter(|(name, _)| !name.is_empty());
            }
            Part::ForwardedName => {
                let href = tag.attr(b"href").map(attr_text);
                let name = element_text(scanner, &tag);
                if !name.is_empty() {
                    self.forward = Some((name, href));
                }
            }
            Part::LinkPreview => {
                let href = tag.attr(b"href").map(attr_text);
                let region = read_region(
                    scanner,
                    &tag,
                    &[(b"link_preview_site_name", 0), (b"link_preview_title", 1), (b"link_preview_description", 2)],
                    &[],
                );
                let title = region.first(1).or_else(|| region.first(0));
                self.attachments.push(attachment("link", title, region.first(2), href));
            }
            Part::Poll => {
                let region = read_region(
                    scanner,
                    &tag,
                    &[(b"tgme_widget_message_poll_question", 0), (b"tgme_widget_message_poll_option_text", 1)],
                    &[],
                );
                let options = region.all(1);
                let options = (!options.is_empty()).then(|| options.join("\n"));
                self.attachments.push(attachment("poll", region.first(0), options, None));
            }
            Part::Document => {
                let region = read_region(
                    scanner,
                    &tag,
                    &[(b"tgme_widget_message_document_title", 0), (b"tgme_widget_message_document_extra", 1)],
                    &[b"audio"],
                );
                let kind = if region.has_flag(0) { "audio" } else { "document" };
                self.attachments.push(attachment(kind, region.first(0), region.first(1), None));
            }
            Part::Photo => {
                let url = tag.attr(b"style").map(attr_text).as_deref().and_then(style_image_url);
                self.attachments.push(attachment("photo", None, None, url));
                return false;
            }
            Part::Video | Part::RoundVideo | Part::VoicePlayer | Part::Sticker => {
                let kind = match part {
                    Part::Video => "video",
                    Part::RoundVideo => "round_video",
                    Part::VoicePlayer => "voice",
                    _ => "sticker",
                };
                let region = read_region(scanner, &tag, &[], &[]);
                let url = match part {
                    Part::Sticker => region.image_url.or(tag.attr(b"data-webp").map(attr_text)),
                    _ => region.media_src,
                };
                self.attachments.push(attachment(kind, None, None, url));
            }
            Part::VoiceAudio => {
                let url = tag.attr(b"src").map(attr_text).and_then(non_empty);
                self.attachments.push(attachment("voice", None, None, url));
                return false;
            }
            Part::Location => {
                let href = tag.attr(b"href").map(attr_text);
                read_region(scanner, &tag, &[], &[]);
                if let Some((lat, lon)) = href.as_deref().and_then(map_link_coordinates) {
                    self.geo = Some(Geo { lat: Some(lat), lon: Some(lon), place: None });
                }
                self.attachments.push(attachment("location", None, None, href));
            }
            Part::Contact => {
                // The phone number is personal data the pipeline has no use for: only the name is kept.
                let region = read_region(scanner, &tag, &[(b"tgme_widget_message_contact_name", 0)], &[]);
                self.attachments.push(attachment("contact", region.first(0), None, None));
            }
            Part::NotSupported => {
                let region = read_region(scanner, &tag, &[(b"message_media_not_supported_label", 0)], &[]);
                self.media_unavailable = true;
                self.attachments.push(attachment("unsupported", None, region.first(0), None));
            }
            Part::OwnerName => self.owner_name = non_empty(element_text(scanner, &tag)),
            Part::Signature => self.signature = non_empty(element_text(scanner, &tag)),
            Part::Views => self.views = parse_count(&element_text(scanner, &tag)),
            Part::Meta => {
                // «edited» is bare text in the meta line, next to the signature and the date link,
                // so the meta is read twice: once for its words here, once for its tags below.
                let mut probe = scanner.clone();
                self.meta_text = element_text(&mut probe, &tag);
                return false;
            }
            Part::DateLink => {
                self.inside_date_link = tag.is(b"a");
                return false;
            }
        }
        true
    }
}

fn build_post(block: Block, channel: &ChannelInfo, ctx: &ParseContext) -> Result<TelegramPost, SkipReason> {
    let malformed = |reason: String| SkipReason::Malformed { reason };
    let Some(post_ref) = block.post_ref else {
        return Err(malformed("message block without data-post".to_owned()));
    };
    let (channel_name, id) =
        split_post_ref(&post_ref).ok_or_else(|| malformed(format!("unreadable data-post {post_ref:?}")))?;
    let parts = block.parts;
    if block.service {
        return Err(SkipReason::ServiceMessage { text: parts.texts.join("\n") });
    }
    let datetime = parts
        .date_link_time
        .or(parts.other_time)
        .ok_or_else(|| malformed(format!("{post_ref}: no <time datetime> in the message")))?;
    let published_at = DateTime::parse_from_rfc3339(datetime.trim())
        .map_err(|e| malformed(format!("{post_ref}: unreadable time {datetime:?}: {e}")))?
        .with_timezone(&Utc);
    let numeric_id: u64 = id.parse().map_err(|_| malformed(format!("{post_ref}: id out of range")))?;
    let owner = channel_name.to_ascii_lowercase();
    let uid = PostUid::post(Platform::Telegram, owner.as_str(), id).map_err(|e| malformed(e.to_string()))?;

    // The meta line holds the signature too; a signature like «edited by Anna» must not count.
    let meta_words = match parts.signature.as_deref() {
        Some(signature) => parts.meta_text.replacen(signature, " ", 1),
        None => parts.meta_text.clone(),
    };
    let edited = meta_words.split(|c: char| !c.is_alphanumeric()).any(|word| word == "edited");
    let text = parts.texts.join("\n\n");
    let (text, repost_of) = match parts.forward {
        Some((name, href)) => {
            let uid = href
                .as_deref()
                .and_then(tme_post_link)
                .and_then(|(channel, id)| PostUid::post(Platform::Telegram, channel.to_ascii_lowercase(), id).ok());
            (String::new(), Some(RepostOrigin { uid, name: Some(name), text }))
        }
        None => (text, None),
    };
    let reply_to = parts.reply.map(|reply| ReplyTo {
        uid: reply
            .href
            .as_deref()
            .and_then(tme_post_link)
            .and_then(|(channel, id)| PostUid::post(Platform::Telegram, channel.to_ascii_lowercase(), id).ok()),
        author: reply.author,
        text: reply.text,
    });
    let author_name = parts.signature.or(parts.owner_name).or_else(|| channel.title.clone());

    let post = RawPost {
        schema: Schema,
        uid,
        platform: Platform::Telegram,
        source_id: ctx.source_id_for(Platform::Telegram, &owner),
        item_kind: ItemKind::Post,
        parent_uid: reply_to.as_ref().and_then(|r| r.uid.clone()),
        url: Some(format!("https://t.me/{channel_name}/{id}")),
        author: Author { id: None, name: author_name, is_source: true },
        published_at,
        edited_at: None,
        edited,
        collected_at: ctx.collected_at,
        text,
        repost_of,
        attachments: parts.attachments,
        counters: Counters { views: parts.views, ..Counters::default() },
        pinned: false,
        ads: false,
        geo: parts.geo,
    };
    crate::check::check_post(&post).map_err(|e| malformed(format!("{post_ref}: {e}")))?;
    Ok(TelegramPost { id: numeric_id, reply_to, media_unavailable: parts.media_unavailable, post })
}
