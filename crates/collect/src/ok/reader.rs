//! [`OkReader`]: polls OK groups through the signed client — `mediatopic.getTopics` walked
//! newest-first by the shared [`walk`] (cursor, first-poll depth, re-check window), then
//! `discussions.getComments` under the topics that are new or changed in this poll when the
//! source's comments policy asks for them, and the shared [`settle`] decides what is published.

use super::client::{OkCallError, OkClient};
use super::config::{OkConfig, OkConfigError};
use super::{parse_response, OkErrorClass, OkResponseError};
use crate::code;
use crate::collector::{BadPage, CollectError, Detail, EmptyLog, FeedReader, PollNotes, PollOutcome};
use crate::walk::{settle, walk, FeedPage, PageError, PagedFeed, WalkLimits};
use crate::{ParseContext, RawPost};
use async_trait::async_trait;
use chrono::Utc;
use otklik_model::{CommentsPolicy, Cursor, ItemKind, Platform, PostUid, Source};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tracing::Instrument;

/// Fields asked of `mediatopic.getTopics`: the topics and the entities their refs name.
const TOPIC_FIELDS: &str = "media_topic.*,group.uid,group.name,user.uid,user.first_name,user.last_name,group_photo.*";

/// Reads OK groups (a source's `handle` is the numeric group id) with one credential.
pub struct OkReader {
    client: Arc<OkClient>,
    limits: WalkLimits,
    page_size: u32,
    comments_page_size: u32,
    comments_max_per_topic: usize,
    /// Groups whose answers were suspiciously empty, logged once.
    empty_log: EmptyLog,
}

impl OkReader {
    /// A reader over `client` with the walk and comment limits of `config`.
    pub fn new(config: &OkConfig, client: Arc<OkClient>) -> Self {
        OkReader {
            client,
            limits: config.walk_limits(),
            page_size: config.page_size,
            comments_page_size: config.comments_page_size,
            comments_max_per_topic: config.comments_max_per_topic,
            empty_log: EmptyLog::default(),
        }
    }

    /// Resolves the secrets from the environment / files and builds the client and reader.
    pub fn from_config(config: &OkConfig) -> Result<Self, OkConfigError> {
        let credentials = config.resolve_credentials()?;
        Ok(Self::new(config, Arc::new(OkClient::from_config(config, credentials)?)))
    }

    pub fn client(&self) -> &Arc<OkClient> {
        &self.client
    }

    /// Comments under `topic`, oldest first, at most `comments_max_per_topic`.
    async fn comments(
        &self,
        topic: &RawPost,
        ctx: &ParseContext,
        notes: &PollNotes,
    ) -> Result<Vec<RawPost>, CommentsFailure> {
        let ctx = ParseContext { parent: Some(topic.uid.root()), ..ctx.clone() };
        let count = self.comments_page_size.to_string();
        let mut comments = Vec::new();
        let mut anchor: Option<String> = None;
        loop {
            let mut params = vec![
                ("discussionId", topic.uid.id.as_str()),
                ("discussionType", "GROUP_TOPIC"),
                ("count", count.as_str()),
            ];
            if let Some(a) = &anchor {
                params.push(("anchor", a.as_str()));
                params.push(("direction", "FORWARD"));
            }
            let body = match self.client.call("discussions.getComments", &params).await {
                Ok(body) => body,
                Err(e) => {
                    return Err(match e.class() {
                        // The topic is gone or closed: its comments are skipped, the poll goes on.
                        Some(OkErrorClass::SourceUnavailable | OkErrorClass::Permanent) => {
                            CommentsFailure::Skip(e.to_string())
                        }
                        _ => CommentsFailure::Stop(call_error(&self.client, &topic.uid.owner, e)),
                    });
                }
            };
            let mut page = match parse_response(&body.bytes, &ctx) {
                Ok(page) => page,
                Err(OkResponseError::Api(e)) => return Err(CommentsFailure::Skip(e.to_string())),
                Err(OkResponseError::Parse(error)) => {
                    let origin = format!("{} discussionId={}", body.origin, topic.uid.id);
                    return Err(CommentsFailure::Bad(BadPage { origin, bytes: body.bytes, error }, comments));
                }
            };
            let origin = format!("{} discussionId={}", body.origin, topic.uid.id);
            let bad_items = std::mem::take(&mut page.bad_items);
            notes.note(Platform::Ok, &origin, &body.bytes, bad_items, page.empty.take());
            let empty = page.posts.is_empty();
            comments.extend(page.posts);
            if comments.len() >= self.comments_max_per_topic {
                comments.truncate(self.comments_max_per_topic);
                break;
            }
            match page.anchor {
                Some(next) if page.has_more && !empty && anchor.as_ref() != Some(&next) => anchor = Some(next),
                _ => break,
            }
        }
        Ok(comments)
    }
}

enum CommentsFailure {
    /// Only this topic's comments are unreadable.
    Skip(String),
    /// A comments page did not parse: keep it for the DLQ, with the comments read before it.
    Bad(BadPage, Vec<RawPost>),
    /// The credential cannot go on (backed off, stopped, network): stop reading comments.
    Stop(CollectError),
}

/// Whether `source`'s policy wants the comments under its posts.
pub fn wants_comments(source: &Source) -> bool {
    match source.comments {
        CommentsPolicy::None => false,
        CommentsPolicy::OfficialPosts => source.official,
        CommentsPolicy::All => true,
    }
}

/// What a failed call means for the group being polled.
fn call_error(client: &OkClient, gid: &str, e: OkCallError) -> CollectError {
    let coded = |message: String| Detail::coded(call_code(&e), message);
    match &e {
        OkCallError::Stopped(reason) => CollectError::Config(coded(reason.clone())),
        OkCallError::Api { error, .. } => match error.class() {
            OkErrorClass::SourceUnavailable => CollectError::Unavailable(coded(format!("OK group {gid}: {e}"))),
            OkErrorClass::Credential => CollectError::Config(coded(client.stopped().unwrap_or_else(|| e.to_string()))),
            OkErrorClass::BackOff | OkErrorClass::Retry => {
                CollectError::Transient(coded(format!("OK group {gid}: {e}")))
            }
            OkErrorClass::Permanent => {
                CollectError::Config(coded(format!("OK group {gid}: OK rejected the request: {e}")))
            }
        },
        OkCallError::Http { error, .. } if error.is_retryable() => {
            CollectError::Transient(coded(format!("OK group {gid}: {e}")))
        }
        OkCallError::Http { .. } => CollectError::Config(coded(format!("OK group {gid}: {e}"))),
        OkCallError::Status { .. } => CollectError::Transient(coded(format!("OK group {gid}: {e}"))),
    }
}

/// The failure's code: OK's `error_code`, or the transport's.
fn call_code(e: &OkCallError) -> Cow<'static, str> {
    match e {
        OkCallError::Api { error, .. } => code::ok(error.code),
        OkCallError::Http { error, .. } => code::http(error),
        OkCallError::Status { status, .. } => code::http_status(*status),
        OkCallError::Stopped(_) => Cow::Borrowed(code::OTHER),
    }
}

/// A group's topics as a [`PagedFeed`]: `mediatopic.getTopics`, newest first, older pages by
/// `anchor` with `direction=FORWARD`.
struct TopicsFeed<'a> {
    client: &'a OkClient,
    gid: &'a str,
    page_size: String,
    ctx: &'a ParseContext,
    notes: &'a PollNotes,
}

#[async_trait]
impl PagedFeed for TopicsFeed<'_> {
    type Token = String;

    async fn page(&self, older_than: Option<&String>) -> Result<FeedPage<String>, PageError> {
        let mut params = vec![("gid", self.gid), ("count", self.page_size.as_str()), ("fields", TOPIC_FIELDS)];
        if let Some(anchor) = older_than {
            params.push(("anchor", anchor.as_str()));
            params.push(("direction", "FORWARD"));
        }
        let body = self
            .client
            .call("mediatopic.getTopics", &params)
            .await
            .map_err(|e| PageError::Collect(call_error(self.client, self.gid, e)))?;
        match parse_response(&body.bytes, self.ctx) {
            Ok(mut page) => {
                let origin = format!("{} gid={}", body.origin, self.gid);
                let bad_items = std::mem::take(&mut page.bad_items);
                self.notes.note(Platform::Ok, &origin, &body.bytes, bad_items, page.empty.take());
                let older = page.anchor.filter(|a| page.has_more && !page.posts.is_empty() && Some(a) != older_than);
                Ok(FeedPage { posts: page.posts, older })
            }
            // An error body the client did not recognise as one (no header) still is one.
            Err(OkResponseError::Api(error)) => Err(PageError::Collect(call_error(
                self.client,
                self.gid,
                OkCallError::Api { method: "mediatopic.getTopics".into(), error },
            ))),
            Err(OkResponseError::Parse(error)) => Err(PageError::Bad(BadPage {
                origin: format!("{} gid={}", body.origin, self.gid),
                bytes: body.bytes,
                error,
            })),
        }
    }
}

#[async_trait]
impl FeedReader for OkReader {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        let gid = source.handle.trim();
        if gid.is_empty() || !gid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CollectError::Unavailable(
                format!("OK source handle {gid:?} is not a numeric group id").into(),
            ));
        }
        if let Some(reason) = self.client.stopped() {
            return Err(CollectError::Config(reason.into()));
        }
        let mut audience = None;
        if cursor.polled_at.is_none() {
            // First contact: make sure the group exists before walking it (and note its members).
            let groups = self.client.group_info(&[gid]).await.map_err(|e| call_error(&self.client, gid, e))?;
            match groups.iter().find(|g| g.uid == gid) {
                Some(group) => {
                    tracing::info!(gid, name = group.name.as_deref().unwrap_or(""), "OK group found");
                    audience = group.members_count;
                }
                None => {
                    return Err(CollectError::Unavailable(
                        format!("OK group {gid} not found (group.getInfo knows no such group)").into(),
                    ))
                }
            }
        }
        let now = Utc::now();
        let ctx = ParseContext { source_id: Some(source.id.clone()), collected_at: now, parent: None, owner: None };
        let notes = PollNotes::default();
        let page_size = self.page_size.to_string();
        let feed = TopicsFeed { client: &self.client, gid, page_size, ctx: &ctx, notes: &notes };
        let walked = walk(&feed, cursor, &self.limits, now).await?;
        let mut bad_pages = walked.bad_pages;
        if !wants_comments(source) {
            bad_pages.extend(self.settle_notes(source, notes));
            return Ok(PollOutcome { posts: walked.publish, bad_pages, cursor: walked.cursor, audience });
        }

        // Comments only under the topics this poll publishes (new or changed: a new comment
        // changes the topic's comments count and so its fingerprint).
        let targets: Vec<&RawPost> =
            walked.publish.iter().filter(|p| p.item_kind == ItemKind::Post && p.counters.comments != Some(0)).collect();
        let mut comments = Vec::new();
        let mut unfinished: HashSet<PostUid> = HashSet::new();
        let mut stopped: Option<CollectError> = None;
        for topic in targets {
            if stopped.is_some() {
                unfinished.insert(topic.uid.clone());
                continue;
            }
            match self.comments(topic, &ctx, &notes).await {
                Ok(found) => comments.extend(found),
                Err(CommentsFailure::Skip(reason)) => {
                    tracing::warn!(topic = %topic.uid, %reason, "comments of this topic skipped")
                }
                Err(CommentsFailure::Bad(page, found)) => {
                    bad_pages.push(page);
                    comments.extend(found);
                }
                Err(CommentsFailure::Stop(e)) => {
                    tracing::warn!(topic = %topic.uid, error = %e, "reading comments stopped; the remaining topics are re-checked next poll");
                    unfinished.insert(topic.uid.clone());
                    stopped = Some(e);
                }
            }
        }
        let mut seen = walked.seen;
        seen.extend(comments);
        let (posts, mut cursor) = settle(&seen, cursor, &self.limits, now);
        // Topics whose comments were not read are published but not remembered, so the next
        // poll sees them as unseen and reads their comments then.
        cursor.recent.retain(|s| !unfinished.contains(&s.uid));
        bad_pages.extend(self.settle_notes(source, notes));
        Ok(PollOutcome { posts, bad_pages, cursor, audience })
    }

    /// Polls every source concurrently (the client's rate limit paces them), then reads the
    /// member counts of the groups polled before in one `group.getInfo` per
    /// [`AUDIENCE_IDS_PER_CALL`] groups.
    async fn poll_many(&self, sources: &[(&Source, &Cursor)]) -> Vec<Result<PollOutcome, CollectError>> {
        let polls = sources.iter().map(|(source, cursor)| {
            let span = tracing::info_span!("fetch", source = %source.id, platform = %source.platform);
            self.poll(source, cursor).instrument(span)
        });
        let mut results = futures_util::future::join_all(polls).await;
        self.add_audiences(sources, &mut results).await;
        results
    }
}

/// Groups one `group.getInfo` asks about at most.
const AUDIENCE_IDS_PER_CALL: usize = 100;

impl OkReader {
    /// Fills in the audience of the polls that succeeded, but for first contacts: their
    /// existence check has asked already (one `group.getInfo` per group and pass at most). A
    /// failed call is logged and leaves those audiences out: the poll itself stands.
    async fn add_audiences(&self, sources: &[(&Source, &Cursor)], results: &mut [Result<PollOutcome, CollectError>]) {
        let wanted: Vec<(usize, &str)> = sources
            .iter()
            .zip(results.iter())
            .enumerate()
            .filter(|(_, ((_, cursor), result))| cursor.polled_at.is_some() && result.is_ok())
            .map(|(i, ((source, _), _))| (i, source.handle.trim()))
            .collect();
        let mut gids: Vec<&str> = wanted.iter().map(|&(_, gid)| gid).collect();
        gids.sort_unstable();
        gids.dedup();
        let mut counts = HashMap::new();
        for chunk in gids.chunks(AUDIENCE_IDS_PER_CALL) {
            match self.client.group_info(chunk).await {
                Ok(groups) => counts.extend(groups.into_iter().filter_map(|g| Some((g.uid, g.members_count?)))),
                Err(e) => tracing::warn!(error = %e, "OK member counts not read this poll"),
            }
        }
        for (i, gid) in wanted {
            if let (Some(Ok(outcome)), Some(&count)) = (results.get_mut(i), counts.get(gid)) {
                outcome.audience = Some(count);
            }
        }
    }

    /// Logs the poll's emptiness (once per source) and hands back its bad items for the DLQ.
    fn settle_notes(&self, source: &Source, notes: PollNotes) -> Vec<BadPage> {
        let (bad_items, empty) = notes.into_parts();
        self.empty_log.record(&source.id, empty.as_ref());
        bad_items
    }
}
