//! [`VkReader`]: polls VK sources through the API — community walls incrementally (the shared
//! [`walk`]), comments under new or changed posts, keyword searches — batching the calls of
//! every source polled together into `execute` requests.
//!
//! Source handles:
//! - `-12345` (a community's owner id), `12345` (a user's wall), `club12345` / `public12345`;
//! - a screen name (`penza_adm`, also as `https://vk.com/penza_adm`): resolved once with
//!   `groups.getById` (id, closed, deactivated); a name that is no community is read with
//!   `wall.get?domain=`;
//! - `search:<query>`: `newsfeed.search` for the query. VK serves only the first 1000 results
//!   of a search, so a later poll asks only for posts since the re-check window (or the last
//!   poll, if older) and a warning says when a window still holds more than 1000.

use super::client::{Batcher, CallError, VkApi, VkCall};
use super::config::VkConfig;
use super::tokens::{TokenStatus, VkToken};
use super::{parse_response, VkErrorClass, VkResponseError};
use crate::code;
use crate::collector::{BadPage, CollectError, Detail, EmptyLog, FeedReader, PollNotes, PollOutcome};
use crate::http::HttpClient;
use crate::walk::{saturating_before, settle, walk, FeedPage, PageError, PagedFeed, WalkLimits};
use crate::{ParseContext, RawPost};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otklik_model::{CommentsPolicy, Cursor, ItemKind, PostUid, Source};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// `newsfeed.search` never serves more than this many results for one query and time range.
pub const SEARCH_RESULT_LIMIT: usize = 1000;

/// Where a source's posts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Owner(i64),
    Domain(String),
    Search(String),
}

/// Reads VK sources through the API; see the module docs for handles.
pub struct VkReader {
    api: VkApi,
    config: VkConfig,
    /// Screen names resolved so far.
    resolved: Mutex<HashMap<String, Target>>,
    /// Comment counts of posts whose comments were fetched, so unchanged threads are not
    /// fetched again.
    comment_counts: Mutex<HashMap<PostUid, u64>>,
    /// Sources whose answers were suspiciously empty, logged once.
    empty_log: EmptyLog,
}

impl VkReader {
    /// A reader over `tokens` (from [`VkConfig::resolve_tokens`]) using `http` (share its rate
    /// limiter with other readers; each token is its own key). Fails without tokens or with an
    /// unusable `api_base`.
    pub fn new(config: VkConfig, tokens: Vec<VkToken>, http: HttpClient) -> Result<Self, CollectError> {
        let api = VkApi::new(&config, tokens, http)?;
        let (resolved, comment_counts) = (Mutex::new(HashMap::new()), Mutex::new(HashMap::new()));
        Ok(VkReader { api, config, resolved, comment_counts, empty_log: EmptyLog::default() })
    }

    /// What each token is doing (active, paused and why, removed).
    pub fn token_status(&self) -> Vec<TokenStatus> {
        self.api.token_status()
    }

    async fn poll_one(
        &self,
        source: &Source,
        cursor: &Cursor,
        batcher: &Batcher<'_>,
    ) -> Result<PollOutcome, CollectError> {
        let now = Utc::now();
        let ctx = ParseContext { source_id: Some(source.id.clone()), collected_at: now, parent: None, owner: None };
        let target = self.target(&source.handle, batcher).await?;
        let notes = PollNotes::default();
        let (mut seen, mut bad_pages, limits) = match &target {
            Target::Search(query) => self.search(query, cursor, &ctx, batcher, now, &notes).await?,
            wall => {
                let param = match wall {
                    Target::Owner(id) => ("owner_id", json!(id)),
                    Target::Domain(name) => ("domain", json!(name)),
                    Target::Search(_) => unreachable!("handled above"),
                };
                let page_size = self.config.page_size.clamp(1, 100);
                let feed = WallFeed { batcher, param, ctx: &ctx, page_size, notes: &notes };
                let limits = self.config.walk_limits();
                let walked = walk(&feed, cursor, &limits, now).await?;
                (walked.seen, walked.bad_pages, limits)
            }
        };

        // Comments under posts new or changed in this poll whose comment count moved.
        let (candidates, _) = settle(&seen, cursor, &limits, now);
        let remembered: HashSet<&PostUid> = cursor.recent.iter().map(|s| &s.uid).collect();
        let wanted: Vec<&RawPost> = {
            let counts = self.comment_counts.lock().unwrap_or_else(|p| p.into_inner());
            candidates
                .iter()
                .filter(|p| p.item_kind == ItemKind::Post && wants_comments(source))
                .filter(|p| {
                    let n = p.counters.comments.unwrap_or(0);
                    n > 0 && (!remembered.contains(&p.uid) || counts.get(&p.uid) != Some(&n))
                })
                .collect()
        };
        let comments = wanted.iter().map(|post| self.comments(post, &ctx, batcher, &notes));
        let fetched = futures_util::future::join_all(comments).await;
        let mut fetched_counts = Vec::new();
        for (post, result) in wanted.iter().zip(fetched) {
            match result {
                Ok((comments, bad)) => {
                    seen.extend(comments);
                    if bad.is_empty() {
                        fetched_counts.push((post.uid.clone(), post.counters.comments.unwrap_or(0)));
                    }
                    bad_pages.extend(bad);
                }
                Err(e) => {
                    tracing::warn!(post = %post.uid, error = %e, "VK comments not fetched; the next poll tries again")
                }
            }
        }
        let (posts, new_cursor) = settle(&seen, cursor, &limits, now);
        self.comment_counts.lock().unwrap_or_else(|p| p.into_inner()).extend(fetched_counts);
        let (bad_items, empty) = notes.into_parts();
        bad_pages.extend(bad_items);
        self.empty_log.record(&source.id, empty.as_ref());
        Ok(PollOutcome { posts, bad_pages, cursor: new_cursor, audience: None })
    }

    /// What `handle` names as far as it tells without asking VK: a target (parsed, or a screen
    /// name resolved before), or else the screen name to resolve.
    fn known_target<'h>(&self, handle: &'h str) -> Result<Result<Target, &'h str>, CollectError> {
        let handle = handle.trim();
        if let Some(query) = handle.strip_prefix("search:") {
            let query = query.trim();
            if query.is_empty() {
                return Err(CollectError::Config("VK source handle \"search:\" has an empty query".into()));
            }
            return Ok(Ok(Target::Search(query.to_owned())));
        }
        let name = ["https://", "http://"].iter().fold(handle, |h, p| h.strip_prefix(p).unwrap_or(h));
        let name =
            ["m.vk.com/", "vk.com/"].iter().fold(name, |h, p| h.strip_prefix(p).unwrap_or(h)).trim_end_matches('/');
        if name.is_empty() {
            return Err(CollectError::Config(format!("VK source handle {handle:?} names no wall").into()));
        }
        if let Ok(id) = name.parse::<i64>() {
            return Ok(Ok(Target::Owner(id)));
        }
        for prefix in ["club", "public", "event"] {
            if let Some(id) = name.strip_prefix(prefix).and_then(|d| d.parse::<i64>().ok()).filter(|&d| d > 0) {
                return Ok(Ok(Target::Owner(-id)));
            }
        }
        match self.resolved.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            Some(known) => Ok(Ok(known.clone())),
            None => Ok(Err(name)),
        }
    }

    /// The community a handle names, when that is known without asking VK.
    fn known_community(&self, handle: &str) -> Option<u64> {
        match self.known_target(handle) {
            Ok(Ok(Target::Owner(id))) if id < 0 => Some(id.unsigned_abs()),
            _ => None,
        }
    }

    /// Turns a handle into what to request, resolving screen names (cached).
    async fn target(&self, handle: &str, batcher: &Batcher<'_>) -> Result<Target, CollectError> {
        let name = match self.known_target(handle)? {
            Ok(target) => return Ok(target),
            Err(name) => name,
        };
        let call = VkCall::new("groups.getById", [("group_id", json!(name))]);
        let target = match batcher.call(call).await {
            Ok(value) => {
                let group = value
                    .get("groups")
                    .unwrap_or(&value)
                    .as_array()
                    .and_then(|g| g.first())
                    .cloned()
                    .unwrap_or(Value::Null);
                match as_i64(&group["id"]) {
                    None => Target::Domain(name.to_owned()),
                    Some(id) => {
                        let title = group["name"].as_str().unwrap_or(name);
                        if let Some(state) = group["deactivated"].as_str() {
                            return Err(CollectError::Unavailable(
                                format!("VK community {title} ({name}) is {state}").into(),
                            ));
                        }
                        match as_i64(&group["is_closed"]).unwrap_or(0) {
                            0 => Target::Owner(-id.abs()),
                            1 => {
                                return Err(CollectError::Unavailable(
                                    format!("VK community {title} ({name}) is closed").into(),
                                ))
                            }
                            _ => {
                                return Err(CollectError::Unavailable(
                                    format!("VK community {title} ({name}) is private").into(),
                                ))
                            }
                        }
                    }
                }
            }
            // 100: no such community — maybe a person's or a renamed page: read it by domain.
            Err(CallError::Api(e)) if e.code == 100 => Target::Domain(name.to_owned()),
            Err(e) => return Err(call_error(e, "groups.getById")),
        };
        self.resolved.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned(), target.clone());
        Ok(target)
    }

    /// A keyword search since the re-check window (or the last poll, if that is older).
    async fn search(
        &self,
        query: &str,
        cursor: &Cursor,
        ctx: &ParseContext,
        batcher: &Batcher<'_>,
        now: DateTime<Utc>,
        notes: &PollNotes,
    ) -> Result<(Vec<RawPost>, Vec<BadPage>, WalkLimits), CollectError> {
        let mut limits = self.config.walk_limits();
        let since = match (cursor.newest_id, cursor.polled_at) {
            (None, _) | (_, None) => saturating_before(now, limits.first_poll_max_age),
            (Some(_), Some(polled)) => {
                // Every result is inside the window, so `settle` judges them by fingerprint.
                let since_poll = (now - polled).to_std().unwrap_or_default();
                let gap = since_poll.saturating_add(std::time::Duration::from_secs(3600));
                limits.recheck_window =
                    limits.recheck_window.max(gap).min(limits.first_poll_max_age.max(limits.recheck_window));
                saturating_before(now, limits.recheck_window)
            }
        };
        let mut seen = Vec::new();
        let mut bad_pages = Vec::new();
        let mut results = 0usize;
        let mut next_from: Option<String> = None;
        for page in 0..limits.max_pages.max(1) {
            let mut params = vec![
                ("q", json!(query)),
                ("count", json!(self.config.search_page_size.clamp(1, 200))),
                ("start_time", json!(since.timestamp())),
                ("extended", json!(1)),
            ];
            if let Some(from) = &next_from {
                params.push(("start_from", json!(from)));
            }
            let call = VkCall::new("newsfeed.search", params);
            let origin = call.describe();
            let value = match batcher.call(call).await {
                Ok(value) => value,
                Err(CallError::Bad(bad)) => {
                    bad_pages.push(bad);
                    break;
                }
                Err(e) if page == 0 => return Err(call_error(e, "newsfeed.search")),
                Err(e) => {
                    tracing::warn!(error = %call_error(e, "newsfeed.search"), "VK search stopped early");
                    break;
                }
            };
            let items = value["items"].as_array().map_or(0, Vec::len);
            let parsed = match read_page(&value, ctx, &origin, notes) {
                Ok(page) => page,
                Err(bad) => {
                    bad_pages.push(bad);
                    break;
                }
            };
            results += items;
            seen.extend(parsed.posts);
            next_from = parsed.next_from;
            if results >= SEARCH_RESULT_LIMIT {
                if next_from.is_some() {
                    tracing::warn!(query, results, "VK search holds more than its 1000 reachable results for this window; poll it more often or narrow the query");
                }
                break;
            }
            if items == 0 || next_from.is_none() {
                break;
            }
        }
        Ok((seen, bad_pages, limits))
    }

    /// The comments under `post` (newest first, threads to `comments_depth`), page by page.
    async fn comments(
        &self,
        post: &RawPost,
        ctx: &ParseContext,
        batcher: &Batcher<'_>,
        notes: &PollNotes,
    ) -> Result<(Vec<RawPost>, Vec<BadPage>), CollectError> {
        let (Ok(owner), Ok(id)) = (post.uid.owner.parse::<i64>(), post.uid.id.parse::<i64>()) else {
            return Err(CollectError::Transient(format!("post {} has no numeric VK ids", post.uid).into()));
        };
        let ctx = ParseContext { parent: Some(post.uid.root()), ..ctx.clone() };
        let page_size = 100usize;
        let mut out = Vec::new();
        let mut offset = 0usize;
        while offset < self.config.max_comments_per_post {
            let call = VkCall::new(
                "wall.getComments",
                [
                    ("owner_id", json!(owner)),
                    ("post_id", json!(id)),
                    ("offset", json!(offset)),
                    ("count", json!(page_size)),
                    ("sort", json!("desc")),
                    ("extended", json!(1)),
                    ("need_likes", json!(1)),
                    ("thread_items_count", json!(self.config.comments_depth.min(10))),
                ],
            );
            let origin = call.describe();
            let value = match batcher.call(call).await {
                Ok(value) => value,
                Err(CallError::Bad(bad)) => return Ok((out, vec![bad])),
                Err(e) if out.is_empty() => return Err(call_error(e, "wall.getComments")),
                Err(e) => {
                    tracing::warn!(post = %post.uid, error = %call_error(e, "wall.getComments"), "VK comments stopped early");
                    break;
                }
            };
            let items = value["items"].as_array().map_or(0, Vec::len);
            let total =
                as_i64(&value["current_level_count"]).or_else(|| as_i64(&value["count"])).unwrap_or(0).max(0) as usize;
            match read_page(&value, &ctx, &origin, notes) {
                Ok(page) => out.extend(page.posts),
                Err(bad) => return Ok((out, vec![bad])),
            }
            offset += items;
            if items == 0 || offset >= total {
                break;
            }
        }
        Ok((out, Vec::new()))
    }
}

/// Communities one `groups.getById` asks about at most (VK's limit is 500 ids).
const AUDIENCE_IDS_PER_CALL: usize = 500;

impl VkReader {
    /// `members_count` of the communities among `sources` (those whose id the handle gives, or a
    /// poll resolved before): one `groups.getById` per [`AUDIENCE_IDS_PER_CALL`] of them, sent
    /// through the batcher with the polls' first calls, so in the same `execute` and within
    /// the token limits. A failed call only leaves those audiences out.
    async fn members_counts(&self, sources: &[(&Source, &Cursor)], batcher: &Batcher<'_>) -> HashMap<u64, u64> {
        let mut ids: Vec<u64> = sources.iter().filter_map(|(source, _)| self.known_community(&source.handle)).collect();
        ids.sort_unstable();
        ids.dedup();
        let calls = ids.chunks(AUDIENCE_IDS_PER_CALL).map(|chunk| {
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            let params = [("group_ids", json!(list.join(","))), ("fields", json!("members_count"))];
            batcher.call(VkCall::new("groups.getById", params))
        });
        let mut counts = HashMap::new();
        for answer in futures_util::future::join_all(calls).await {
            match answer {
                Ok(value) => counts.extend(members_counts(&value)),
                Err(e) => {
                    tracing::warn!(error = %call_error(e, "groups.getById"), "VK member counts not read this poll")
                }
            }
        }
        counts
    }
}

/// Community id → `members_count` of a `groups.getById` answer (the `{"groups": [...]}` form of
/// API 5.139+ or the bare array of older versions). Communities without the field (banned,
/// deactivated) are left out.
fn members_counts(value: &Value) -> HashMap<u64, u64> {
    let groups = value.get("groups").unwrap_or(value).as_array().map(Vec::as_slice).unwrap_or_default();
    groups
        .iter()
        .filter_map(|g| Some((as_i64(&g["id"])?.unsigned_abs(), u64::try_from(as_i64(&g["members_count"])?).ok()?)))
        .collect()
}

fn wants_comments(source: &Source) -> bool {
    match source.comments {
        CommentsPolicy::None => false,
        CommentsPolicy::OfficialPosts => source.official,
        CommentsPolicy::All => true,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A call's failure as a poll error: sources VK says are gone become `Unavailable`.
fn call_error(e: CallError, method: &str) -> CollectError {
    match e {
        CallError::Api(e) if e.class() == VkErrorClass::SourceUnavailable => {
            CollectError::Unavailable(Detail::coded(code::vk(e.code), e.to_string()))
        }
        CallError::Api(e) => {
            CollectError::Transient(Detail::coded(code::vk(e.code), format!("VK rejected {method}: {e}")))
        }
        CallError::Collect(e) => e,
        CallError::Bad(bad) => {
            CollectError::Transient(Detail::coded(code::PARSE.into(), format!("{}: {}", bad.origin, bad.error)))
        }
    }
}

/// Parses one call's answer; its bad items and emptiness go to `notes`.
fn read_page(value: &Value, ctx: &ParseContext, origin: &str, notes: &PollNotes) -> Result<super::VkPage, BadPage> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    match parse_response(&bytes, ctx) {
        Ok(mut page) => {
            let bad_items = std::mem::take(&mut page.bad_items);
            notes.note(otklik_model::Platform::Vk, origin, &bytes, bad_items, page.empty.take());
            Ok(page)
        }
        Err(VkResponseError::Parse(error)) => Err(BadPage { origin: origin.to_owned(), bytes, error }),
        Err(VkResponseError::Api(e)) => Err(BadPage {
            origin: origin.to_owned(),
            bytes,
            error: crate::ParseError::new(otklik_model::Platform::Vk, format!("an error inside data: {e}")),
        }),
    }
}

/// One wall, paged by offset.
struct WallFeed<'a, 'b> {
    batcher: &'a Batcher<'b>,
    param: (&'static str, Value),
    ctx: &'a ParseContext,
    page_size: u32,
    notes: &'a PollNotes,
}

#[async_trait]
impl PagedFeed for WallFeed<'_, '_> {
    type Token = usize;

    async fn page(&self, older_than: Option<&usize>) -> Result<FeedPage<usize>, PageError> {
        let offset = older_than.copied().unwrap_or(0);
        let call = VkCall::new(
            "wall.get",
            [self.param.clone(), ("offset", json!(offset)), ("count", json!(self.page_size)), ("extended", json!(1))],
        );
        let origin = call.describe();
        let value = match self.batcher.call(call).await {
            Ok(value) => value,
            Err(CallError::Bad(bad)) => return Err(PageError::Bad(bad)),
            Err(e) => return Err(PageError::Collect(call_error(e, "wall.get"))),
        };
        let items = value["items"].as_array().map_or(0, Vec::len);
        let total = as_i64(&value["count"]).unwrap_or(0).max(0) as usize;
        let page = read_page(&value, self.ctx, &origin, self.notes).map_err(PageError::Bad)?;
        let older = (items > 0 && offset + items < total).then_some(offset + items);
        Ok(FeedPage { posts: page.posts, older })
    }
}

#[async_trait]
impl FeedReader for VkReader {
    async fn poll(&self, source: &Source, cursor: &Cursor) -> Result<PollOutcome, CollectError> {
        self.poll_many(&[(source, cursor)])
            .await
            .pop()
            .unwrap_or_else(|| Err(CollectError::Transient("no poll result".into())))
    }

    /// Polls every source concurrently; their calls (wall pages, name lookups, comments) meet
    /// in one [`Batcher`], so 25 walls cost one `execute` request instead of 25.
    async fn poll_many(&self, sources: &[(&Source, &Cursor)]) -> Vec<Result<PollOutcome, CollectError>> {
        let batcher = Batcher::new(&self.api, self.config.execute_batch, self.config.batch_linger);
        let work = async {
            let polls = sources.iter().map(|(source, cursor)| self.poll_one(source, cursor, &batcher));
            let polls = futures_util::future::join_all(polls);
            let (mut results, counts) = futures_util::future::join(polls, self.members_counts(sources, &batcher)).await;
            for ((source, _), result) in sources.iter().zip(results.iter_mut()) {
                if let (Ok(outcome), Some(id)) = (result, self.known_community(&source.handle)) {
                    outcome.audience = counts.get(&id).copied();
                }
            }
            results
        };
        tokio::select! {
            results = work => results,
            _ = batcher.drive() => unreachable!("the batcher runs until dropped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_counts_of_both_answer_forms() {
        let groups = json!([{"id": 42, "members_count": 1520}, {"id": 43, "deactivated": "banned"}]);
        let new = json!({"groups": groups, "profiles": []});
        assert_eq!(members_counts(&new), HashMap::from([(42, 1520)]));
        let old = json!([{"id": "7", "members_count": "12"}, {"id": 8, "members_count": -1}]);
        assert_eq!(members_counts(&old), HashMap::from([(7, 12)]));
        assert!(members_counts(&json!({"groups": "x"})).is_empty());
    }

    #[test]
    fn comment_policy() {
        let mut source: Source =
            serde_json::from_value(json!({"schema": 1, "id": "s", "platform": "vk", "handle": "-1"})).unwrap();
        assert!(!wants_comments(&source));
        source.comments = CommentsPolicy::OfficialPosts;
        assert!(!wants_comments(&source));
        source.official = true;
        assert!(wants_comments(&source));
        source.comments = CommentsPolicy::All;
        source.official = false;
        assert!(wants_comments(&source));
    }
}
