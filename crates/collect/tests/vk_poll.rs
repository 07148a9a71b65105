//! The VK reader against a fake VK API on 127.0.0.1: per-token limits (the server answers
//! error 6 to a token over its rate in a sliding window and counts violations), offset paging,
//! `execute` batches, comments, name resolution, keyword search, and every error code.

use chrono::Utc;
use otklik_collect::http::{HttpClient, HttpConfig};
use otklik_collect::ratelimit::{Rate, RateLimiter};
use otklik_collect::vk::{TokenState, VkConfig, VkReader, VkToken};
use otklik_collect::{CollectError, FeedReader, PollOutcome};
use otklik_model::{CommentsPolicy, Cursor, ItemKind, Platform, RawPost, Source};
use otklik_pipeline::Backoff;
use otklik_testkit::fake_http::{FakeRequest, FakeResponse, FakeServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: u32 = 20;
/// A client that ignored its limit sends a token's whole second within this; a client that kept
/// it never does, however late a busy machine reads its requests.
const JITTER_PROOF_WINDOW: Duration = Duration::from_millis(500);

struct Wall {
    screen: Option<String>,
    /// Newest first; a pinned post may lead.
    posts: Vec<Value>,
    comments: HashMap<i64, Vec<Value>>,
    /// Every call on this wall fails with this VK error code.
    fail: Option<i64>,
    closed: bool,
    /// `members_count` as `groups.getById` shows it; `None`: not shown (a banned community).
    members: Option<u64>,
}

/// An error to answer instead of data.
#[derive(Clone)]
struct Inject {
    token: Option<String>,
    method: Option<&'static str>,
    code: i64,
    /// How many more times; `usize::MAX` = always.
    times: usize,
    /// Inside an `execute` (as `false` + `execute_errors`) rather than for the whole request.
    in_call: bool,
}

#[derive(Default)]
struct Vk {
    walls: Mutex<BTreeMap<i64, Wall>>,
    valid_tokens: Mutex<HashSet<String>>,
    grants: Mutex<HashMap<String, VecDeque<Instant>>>,
    violations: AtomicUsize,
    injections: Mutex<Vec<Inject>>,
    /// Next requests answered with HTTP 500 / garbage bytes.
    http_500: AtomicUsize,
    garbage: AtomicUsize,
    search: Mutex<Vec<Value>>,
    /// Every method call, inside `execute` too.
    calls: Mutex<Vec<(String, String)>>,
}

fn post(owner: i64, id: i64, age_hours: i64, comments: u64) -> Value {
    json!({
        "id": id, "owner_id": owner, "from_id": owner, "date": Utc::now().timestamp() - age_hours * 3600,
        "text": format!("post {id} on {owner}: нет отопления"), "comments": {"count": comments},
        "likes": {"count": 1}, "reposts": {"count": 0}, "views": {"count": 10}
    })
}

fn comment(owner: i64, post_id: i64, id: i64, replies: &[i64]) -> Value {
    let items: Vec<Value> = replies.iter().map(|&r| json!({"id": r, "from_id": 500 + r, "post_id": post_id, "owner_id": owner, "date": Utc::now().timestamp() - 60, "text": format!("reply {r}")})).collect();
    json!({"id": id, "from_id": 500 + id, "post_id": post_id, "owner_id": owner, "date": Utc::now().timestamp() - 120, "text": format!("comment {id}"),
           "thread": {"count": items.len(), "items": items}})
}

/// A wall of `n` posts, post `n` newest, one hour apart.
fn wall(owner: i64, n: i64) -> Wall {
    let posts = (1..=n).rev().map(|id| post(owner, id, n - id, 0)).collect();
    let members = Some((1000 - owner).unsigned_abs());
    Wall { screen: None, posts, comments: HashMap::new(), fail: None, closed: false, members }
}

fn error_body(code: i64, msg: &str) -> Value {
    json!({"error_code": code, "error_msg": msg, "captcha_sid": if code == 14 { json!("123") } else { Value::Null },
           "request_params": [{"key": "access_token", "value": "would-leak"}]})
}

type Params = serde_json::Map<String, Value>;

fn int(p: &Params, k: &str) -> Option<i64> {
    p.get(k).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

fn text<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.get(k).and_then(Value::as_str)
}

impl Vk {
    fn handle(&self, req: &FakeRequest) -> FakeResponse {
        let token = req.param("access_token").unwrap_or_default().to_owned();
        {
            let mut grants = self.grants.lock().unwrap();
            let log = grants.entry(token.clone()).or_default();
            while log.front().is_some_and(|&t| req.at.duration_since(t) >= Duration::from_secs(1)) {
                log.pop_front();
            }
            if log.len() >= RATE as usize {
                // VK's own window answers error 6; but the times here are when a request was
                // read, and a loaded machine reads late and in bunches. A violation the client
                // is to blame for is a full window within half a second.
                let bunched = log
                    .iter()
                    .rev()
                    .nth(RATE as usize - 1)
                    .is_some_and(|&t| req.at.duration_since(t) < JITTER_PROOF_WINDOW);
                if bunched {
                    self.violations.fetch_add(1, Ordering::SeqCst);
                }
                return reply(json!({"error": error_body(6, "Too many requests per second")}));
            }
            log.push_back(req.at);
        }
        if take(&self.http_500) {
            return FakeResponse::status(500);
        }
        if take(&self.garbage) {
            return FakeResponse::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n{\"resp".to_vec());
        }
        let method = req.path.trim_start_matches("/method/").to_owned();
        if let Some(code) = self.injected(&token, &method, false) {
            return reply(json!({"error": error_body(code, "injected")}));
        }
        if !self.valid_tokens.lock().unwrap().contains(&token) {
            return reply(json!({"error": error_body(5, "User authorization failed: invalid access_token (4).")}));
        }
        if method == "execute" {
            let mut answers = Vec::new();
            let mut errors = Vec::new();
            for (m, params) in parse_vkscript(req.param("code").unwrap_or_default()) {
                match self
                    .injected(&token, &m, true)
                    .map(|c| Err((c, "injected".to_owned())))
                    .unwrap_or_else(|| self.call(&token, &m, &params))
                {
                    Ok(v) => answers.push(v),
                    Err((code, msg)) => {
                        answers.push(json!(false));
                        errors.push(json!({"method": m, "error_code": code, "error_msg": msg}));
                    }
                }
            }
            return reply(json!({"response": answers, "execute_errors": errors}));
        }
        let params: Params = req.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        match self.call(&token, &method, &params) {
            Ok(v) => reply(json!({"response": v})),
            Err((code, msg)) => reply(json!({"error": error_body(code, &msg)})),
        }
    }

    fn injected(&self, token: &str, method: &str, in_call: bool) -> Option<i64> {
        let mut injections = self.injections.lock().unwrap();
        let hit = injections.iter_mut().find(|i| {
            i.in_call == in_call
                && i.times > 0
                && i.token.as_deref().is_none_or(|t| t == token)
                && i.method.is_none_or(|m| m == method)
        })?;
        hit.times = hit.times.saturating_sub(usize::from(hit.times != usize::MAX));
        Some(hit.code)
    }

    fn call(&self, token: &str, method: &str, p: &Params) -> Result<Value, (i64, String)> {
        // The audience read is told apart from name resolution, which tests count.
        let audience = method == "groups.getById" && p.contains_key("group_ids");
        let recorded = if audience { "groups.getById:members" } else { method };
        self.calls.lock().unwrap().push((recorded.to_owned(), token.to_owned()));
        let walls = self.walls.lock().unwrap();
        let find = |p: &Params| -> Result<(i64, &Wall), (i64, String)> {
            let owner = match (int(p, "owner_id"), text(p, "domain")) {
                (Some(o), _) => o,
                (None, Some(d)) => {
                    *walls
                        .iter()
                        .find(|(_, w)| w.screen.as_deref() == Some(d))
                        .ok_or((100, "no such domain".to_owned()))?
                        .0
                }
                _ => return Err((100, "owner_id or domain required".into())),
            };
            let wall = walls.get(&owner).ok_or((100, "no such wall".to_owned()))?;
            match wall.fail {
                Some(code) => Err((code, format!("wall {owner} unavailable"))),
                None => Ok((owner, wall)),
            }
        };
        match method {
            "wall.get" => {
                let (_, wall) = find(p)?;
                let offset = int(p, "offset").unwrap_or(0) as usize;
                let count = int(p, "count").unwrap_or(20).min(100) as usize;
                let items: Vec<Value> = wall.posts.iter().skip(offset).take(count).cloned().collect();
                Ok(json!({"count": wall.posts.len(), "items": items, "profiles": [], "groups": []}))
            }
            "wall.getComments" => {
                let (_, wall) = find(p)?;
                let all = wall.comments.get(&int(p, "post_id").unwrap_or(0)).cloned().unwrap_or_default();
                let offset = int(p, "offset").unwrap_or(0) as usize;
                let count = int(p, "count").unwrap_or(10) as usize;
                let depth = int(p, "thread_items_count").unwrap_or(0) as usize;
                let items: Vec<Value> = all
                    .iter()
                    .skip(offset)
                    .take(count)
                    .map(|c| {
                        let mut c = c.clone();
                        if let Some(items) = c["thread"]["items"].as_array_mut() {
                            items.truncate(depth);
                        }
                        c
                    })
                    .collect();
                Ok(json!({"count": all.len(), "current_level_count": all.len(), "items": items}))
            }
            "groups.getById" if p.contains_key("group_ids") => {
                assert_eq!(text(p, "fields"), Some("members_count"));
                let groups: Vec<Value> = text(p, "group_ids")
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|id| {
                        let id: i64 = id.parse().ok()?;
                        let wall = walls.get(&-id)?;
                        let closed = u8::from(wall.closed);
                        let mut group = json!({"id": id, "name": format!("Community {id}"), "is_closed": closed});
                        if let Some(n) = wall.members {
                            group["members_count"] = json!(n);
                        }
                        Some(group)
                    })
                    .collect();
                Ok(json!({"groups": groups, "profiles": []}))
            }
            "groups.getById" => {
                let name = text(p, "group_id").unwrap_or_default();
                let (owner, wall) = walls
                    .iter()
                    .find(|(_, w)| w.screen.as_deref() == Some(name))
                    .ok_or((100, "Invalid group id".to_owned()))?;
                Ok(
                    json!({"groups": [{"id": -owner, "name": format!("Community {name}"), "screen_name": name, "is_closed": u8::from(wall.closed)}], "profiles": []}),
                )
            }
            "newsfeed.search" => {
                let q = text(p, "q").unwrap_or_default();
                let since = int(p, "start_time").unwrap_or(0);
                let from: usize = text(p, "start_from").and_then(|s| s.parse().ok()).unwrap_or(0);
                let count = int(p, "count").unwrap_or(30) as usize;
                let hits: Vec<Value> = self
                    .search
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|v| {
                        v["text"].as_str().unwrap_or("").contains(q) && v["date"].as_i64().unwrap_or(0) >= since
                    })
                    .cloned()
                    .collect();
                let items: Vec<Value> = hits.iter().skip(from).take(count).cloned().collect();
                let next = (from + items.len() < hits.len()).then(|| (from + items.len()).to_string());
                Ok(json!({"items": items, "total_count": hits.len(), "next_from": next}))
            }
            other => Err((3, format!("Unknown method passed: {other}"))),
        }
    }
}

fn take(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn reply(v: Value) -> FakeResponse {
    FakeResponse::json(v.to_string())
}

/// `return [API.a.b({...}),API.c.d({...})];` → the calls (enough for what the client sends).
fn parse_vkscript(code: &str) -> Vec<(String, Params)> {
    let mut calls = Vec::new();
    let mut rest = code.trim().strip_prefix("return [").expect("script starts with return [");
    while let Some(at) = rest.find("API.") {
        rest = &rest[at + 4..];
        let open = rest.find('(').expect("call has (");
        let method = rest[..open].to_owned();
        rest = &rest[open + 1..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let params = stream.next().expect("call has params").expect("params are JSON");
        rest = &rest[stream.byte_offset()..];
        assert!(rest.starts_with(')'), "call closes: {rest}");
        calls.push((method, params.as_object().cloned().unwrap_or_default()));
    }
    calls
}

struct Fixture {
    vk: Arc<Vk>,
    server: FakeServer,
}

impl Fixture {
    async fn new(tokens: &[&str]) -> Fixture {
        let vk = Arc::new(Vk::default());
        vk.valid_tokens.lock().unwrap().extend(tokens.iter().map(|t| t.to_string()));
        let handler = vk.clone();
        let server = FakeServer::start(move |req| handler.handle(req)).await;
        Fixture { vk, server }
    }

    fn config(&self) -> VkConfig {
        VkConfig {
            api_base: format!("{}/method", self.server.url()),
            tokens_env: vec!["UNUSED".into()],
            rate_margin: Duration::from_millis(100),
            batch_linger: Duration::from_millis(5),
            first_poll_max_posts: 100_000,
            first_poll_max_age: Duration::from_secs(30 * 86_400),
            recheck_window: Duration::from_secs(48 * 3600),
            rate_limited_pause: Duration::from_millis(300),
            max_token_wait: Duration::from_secs(2),
            retry_initial: Duration::from_millis(10),
            retry_max: Duration::from_millis(50),
            ..VkConfig::default()
        }
    }

    fn reader(&self, tokens: &[&str], config: VkConfig) -> VkReader {
        let http = HttpClient::new(
            HttpConfig {
                timeout: Duration::from_secs(5),
                max_retries: 3,
                backoff: Backoff { initial: Duration::from_millis(10), max: Duration::from_millis(50) },
                ..HttpConfig::default()
            },
            Arc::new(RateLimiter::new()),
        )
        .unwrap();
        let tokens = (1..)
            .zip(tokens)
            .map(|(i, t)| VkToken::new(*t, format!("test token {i}"), Rate::per_second(RATE)))
            .collect();
        VkReader::new(config, tokens, http).unwrap()
    }

    fn add(&self, owner: i64, wall: Wall) {
        self.vk.walls.lock().unwrap().insert(owner, wall);
    }

    fn tokens_used(&self) -> Vec<String> {
        self.server.requests().iter().map(|r| r.param("access_token").unwrap_or_default().to_owned()).collect()
    }

    fn assert_no_secret_in(&self, text: &str) {
        for t in self.vk.valid_tokens.lock().unwrap().iter().map(String::as_str).chain(["would-leak", "tok-bad"]) {
            assert!(!text.contains(t), "a token leaked into {text}");
        }
    }
}

fn source(id: &str, handle: &str) -> Source {
    serde_json::from_value(json!({"schema": 1, "id": id, "platform": "vk", "handle": handle})).unwrap()
}

fn uids(posts: &[RawPost]) -> Vec<String> {
    posts.iter().map(|p| p.uid.to_string()).collect()
}

async fn poll_all(reader: &VkReader, sources: &[Source], cursors: &[Cursor]) -> Vec<Result<PollOutcome, CollectError>> {
    let batch: Vec<(&Source, &Cursor)> = sources.iter().zip(cursors).collect();
    reader.poll_many(&batch).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_200_communities_with_3_tokens_once_each_within_limits() {
    let tokens = ["tok-a", "tok-b", "tok-c"];
    let fx = Fixture::new(&tokens).await;
    let mut expected: HashSet<String> = HashSet::new();
    let mut sources = Vec::new();
    let unavailable_codes = [15, 18, 19, 30, 203];
    for i in 0..200i64 {
        let owner = -(100_000 + i);
        let mut w = wall(owner, (i % 7) * 40);
        let mut src = source(&format!("vk-{i}"), &owner.to_string());
        if i % 5 == 0 {
            w.screen = Some(format!("club_name_{i}"));
            src.handle = format!("club_name_{i}");
        }
        if let Some(&code) = unavailable_codes.get((i / 40) as usize).filter(|_| i % 40 == 7) {
            w.fail = Some(code);
        }
        if i == 195 {
            w.closed = true;
        }
        if i % 10 == 3 && !w.posts.is_empty() {
            src.comments = CommentsPolicy::All;
            let newest = w.posts[0]["id"].as_i64().unwrap();
            w.posts[0]["comments"] = json!({"count": 3});
            w.comments.insert(newest, vec![comment(owner, newest, 1, &[2, 3]), comment(owner, newest, 4, &[])]);
            for c in [1, 2, 3, 4] {
                expected.insert(format!("vk:{owner}:{newest}:c{c}"));
            }
        }
        if w.fail.is_none() && !w.closed {
            expected.extend(w.posts.iter().map(|p| format!("vk:{owner}:{}", p["id"])));
        }
        fx.add(owner, w);
        sources.push(src);
    }
    let reader = fx.reader(&tokens, fx.config());
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let started = Instant::now();
    let results = poll_all(&reader, &sources, &cursors).await;
    let took = started.elapsed();

    let mut got = Vec::new();
    let mut unavailable = BTreeMap::new();
    let mut next_cursors = Vec::new();
    for (src, result) in sources.iter().zip(results) {
        match result {
            Ok(outcome) => {
                assert!(outcome.bad_pages.is_empty());
                got.extend(uids(&outcome.posts));
                next_cursors.push(outcome.cursor);
            }
            Err(CollectError::Unavailable(reason)) => {
                fx.assert_no_secret_in(&reason);
                unavailable.insert(src.id.clone(), reason);
                next_cursors.push(Cursor::new(&src.id));
            }
            Err(e) => panic!("{}: {e}", src.id),
        }
    }
    let unique: HashSet<String> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "a post arrived twice");
    assert_eq!(unique, expected);
    let expected_unavailable: BTreeMap<String, String> =
        [(7, "15"), (47, "18"), (87, "19"), (127, "30"), (167, "203"), (195, "closed")]
            .into_iter()
            .map(|(i, what)| (format!("vk-{i}"), what.to_owned()))
            .collect();
    assert_eq!(unavailable.keys().collect::<Vec<_>>(), expected_unavailable.keys().collect::<Vec<_>>());
    for (id, what) in &expected_unavailable {
        assert!(unavailable[id].contains(what.as_str()), "{id}: {}", unavailable[id]);
    }
    assert_eq!(fx.vk.violations.load(Ordering::SeqCst), 0, "a request broke a token's limit");
    let requests = fx.server.requests().len();
    let calls = fx.vk.calls.lock().unwrap().len();
    assert!(requests * 5 < calls, "execute batches calls: {requests} requests for {calls} calls");
    let used: HashSet<String> = fx.tokens_used().into_iter().collect();
    assert_eq!(used.len(), 3, "all tokens share the work");
    eprintln!("first poll: {requests} requests, {calls} calls, {took:?}");

    // Second poll: new posts on some walls, a new comment on one; nothing else comes again.
    let mut fresh = HashSet::new();
    {
        let mut walls = fx.vk.walls.lock().unwrap();
        for i in [1i64, 2, 3, 50, 199] {
            let owner = -(100_000 + i);
            let w = walls.get_mut(&owner).unwrap();
            let top = w.posts.first().map_or(0, |p| p["id"].as_i64().unwrap());
            for id in top + 1..=top + 3 {
                w.posts.insert(0, post(owner, id, 0, 0));
                fresh.insert(format!("vk:{owner}:{id}"));
            }
        }
        let owner = -(100_000 + 13);
        let w = walls.get_mut(&owner).unwrap();
        let newest = w.posts[0]["id"].as_i64().unwrap();
        w.posts[0]["comments"] = json!({"count": 4});
        w.comments.get_mut(&newest).unwrap().insert(0, comment(owner, newest, 9, &[]));
        fresh.insert(format!("vk:{owner}:{newest}"));
        fresh.insert(format!("vk:{owner}:{newest}:c9"));
    }
    let before = fx.server.requests().len();
    let available: Vec<(Source, Cursor)> =
        sources.iter().cloned().zip(next_cursors).filter(|(s, _)| !unavailable.contains_key(&s.id)).collect();
    let (srcs, curs): (Vec<Source>, Vec<Cursor>) = available.into_iter().unzip();
    let second: Vec<String> =
        poll_all(&reader, &srcs, &curs).await.into_iter().flat_map(|r| uids(&r.unwrap().posts)).collect();
    assert_eq!(
        second.iter().cloned().collect::<HashSet<_>>(),
        fresh,
        "second poll publishes only what is new or changed"
    );
    assert_eq!(second.len(), fresh.len());
    let getbyid = fx.vk.calls.lock().unwrap().iter().filter(|(m, _)| m == "groups.getById").count();
    assert_eq!(getbyid, 40, "screen names are resolved once (39 open + 1 closed, asked once each)");
    assert_eq!(fx.vk.violations.load(Ordering::SeqCst), 0);
    eprintln!("second poll: {} requests", fx.server.requests().len() - before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbatched_concurrent_requests_never_break_a_token_limit() {
    let tokens = ["tok-a", "tok-b", "tok-c"];
    let fx = Fixture::new(&tokens).await;
    let sources: Vec<Source> = (0..75i64).map(|i| source(&format!("vk-{i}"), &(-(1000 + i)).to_string())).collect();
    for i in 0..75 {
        fx.add(-(1000 + i), wall(-(1000 + i), 3));
    }
    let reader = fx.reader(&tokens, VkConfig { execute_batch: 1, ..fx.config() });
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let started = Instant::now();
    let results = poll_all(&reader, &sources, &cursors).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|o| o.posts.len() == 3)));
    assert_eq!(fx.vk.violations.load(Ordering::SeqCst), 0);
    let per_token = fx.tokens_used().into_iter().fold(HashMap::<String, usize>::new(), |mut m, t| {
        *m.entry(t).or_default() += 1;
        m
    });
    // 75 walls and one member-count read for all of them.
    assert_eq!(per_token.values().sum::<usize>(), 76);
    assert!(
        per_token.len() == 3 && per_token.values().all(|&n| (15..=35).contains(&n)),
        "spread over the pool: {per_token:?}"
    );
    // 25 per token at 20 per 1.1 s: the limit had to hold requests back.
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_client_faster_than_the_server_recovers_from_error_6() {
    let fx = Fixture::new(&["tok-a"]).await;
    for i in 0..30 {
        fx.add(-(1000 + i), wall(-(1000 + i), 1));
    }
    let sources: Vec<Source> = (0..30i64).map(|i| source(&format!("vk-{i}"), &(-(1000 + i)).to_string())).collect();
    let http = HttpClient::new(HttpConfig::default(), Arc::new(RateLimiter::new())).unwrap();
    let config = VkConfig { execute_batch: 1, rate_margin: Duration::ZERO, max_attempts: 20, ..fx.config() };
    let reader = VkReader::new(config, vec![VkToken::new("tok-a", "test", Rate::per_second(2 * RATE))], http).unwrap();
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let results = poll_all(&reader, &sources, &cursors).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|o| o.posts.len() == 1)));
    assert!(fx.vk.violations.load(Ordering::SeqCst) > 0, "the server did push back");
}

async fn one_wall(fx: &Fixture, posts: i64) -> (Source, Cursor) {
    fx.add(-1, wall(-1, posts));
    (source("vk-1", "-1"), Cursor::new("vk-1"))
}

/// A token-level error on the first request with `tok-a`: the request goes again with `tok-b`.
async fn token_error_moves_to_the_other_token(code: i64) -> (Fixture, VkReader) {
    let fx = Fixture::new(&["tok-a", "tok-b"]).await;
    let (src, cur) = one_wall(&fx, 5).await;
    fx.vk.injections.lock().unwrap().push(Inject {
        token: Some("tok-a".into()),
        method: None,
        code,
        times: usize::MAX,
        in_call: false,
    });
    let reader = fx.reader(&["tok-a", "tok-b"], fx.config());
    for _ in 0..3 {
        let outcome = reader.poll(&src, &cur).await.unwrap();
        assert_eq!(outcome.posts.len(), 5);
    }
    let used = fx.tokens_used();
    assert_eq!(used.iter().filter(|t| *t == "tok-a").count(), 1, "tok-a is asked once, then left alone: {used:?}");
    assert_eq!(used.iter().filter(|t| *t == "tok-b").count(), 3);
    (fx, reader)
}

#[tokio::test]
async fn error_5_removes_the_token_and_no_tokens_left_is_a_config_error() {
    let fx = Fixture::new(&["tok-b"]).await;
    let (src, cur) = one_wall(&fx, 4).await;
    let reader = fx.reader(&["tok-bad", "tok-b"], fx.config());
    for _ in 0..3 {
        assert_eq!(reader.poll(&src, &cur).await.unwrap().posts.len(), 4);
    }
    assert_eq!(fx.tokens_used().iter().filter(|t| *t == "tok-bad").count(), 1);
    assert_eq!(reader.token_status()[0].state, TokenState::Removed);
    assert_eq!(reader.token_status()[1].state, TokenState::Active);

    let only_bad = fx.reader(&["tok-bad"], fx.config());
    match only_bad.poll(&src, &cur).await {
        Err(CollectError::Config(msg)) => {
            assert!(msg.contains("no usable VK tokens"), "{msg}");
            fx.assert_no_secret_in(&msg);
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{:?}", only_bad.token_status()).contains("tok-bad"));
}

#[tokio::test]
async fn error_6_backs_the_token_off_briefly() {
    let (fx, reader) = token_error_moves_to_the_other_token(6).await;
    assert!(
        matches!(&reader.token_status()[0].state, TokenState::Paused { remaining, .. } if *remaining <= Duration::from_millis(300))
    );
    // After the pause the token is used again.
    fx.vk.injections.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (src, cur) = (source("vk-1", "-1"), Cursor::new("vk-1"));
    reader.poll(&src, &cur).await.unwrap();
    assert_eq!(fx.tokens_used().last().map(String::as_str), Some("tok-a"));
}

#[tokio::test]
async fn error_9_backs_the_token_off_briefly() {
    let (_fx, reader) = token_error_moves_to_the_other_token(9).await;
    assert!(matches!(&reader.token_status()[0].state, TokenState::Paused { reason, .. } if reason.contains("error 9")));
}

#[tokio::test]
async fn error_14_pauses_the_token_for_the_captcha_pause() {
    let (_fx, reader) = token_error_moves_to_the_other_token(14).await;
    assert!(
        matches!(&reader.token_status()[0].state, TokenState::Paused { reason, remaining } if reason.contains("captcha") && *remaining > Duration::from_secs(590))
    );
}

#[tokio::test]
async fn error_29_takes_the_token_out_for_its_window_and_fails_fast_when_none_is_left() {
    let (fx, reader) = token_error_moves_to_the_other_token(29).await;
    assert!(
        matches!(&reader.token_status()[0].state, TokenState::Paused { remaining, .. } if *remaining > Duration::from_secs(3590))
    );

    let single = fx.reader(&["tok-a"], fx.config());
    let (src, cur) = (source("vk-1", "-1"), Cursor::new("vk-1"));
    let started = Instant::now();
    let err = single.poll(&src, &cur).await.unwrap_err();
    assert!(err.is_retryable() && err.to_string().contains("paused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    fx.assert_no_secret_in(&err.to_string());
}

#[tokio::test]
async fn error_10_is_retried_with_backoff() {
    let fx = Fixture::new(&["tok-a"]).await;
    let (src, cur) = one_wall(&fx, 3).await;
    fx.vk.injections.lock().unwrap().push(Inject { token: None, method: None, code: 10, times: 2, in_call: false });
    let reader = fx.reader(&["tok-a"], fx.config());
    assert_eq!(reader.poll(&src, &cur).await.unwrap().posts.len(), 3);
    assert_eq!(fx.server.requests().len(), 3);

    // Always 10: gives up after max_attempts as a transient failure.
    fx.vk.injections.lock().unwrap().push(Inject {
        token: None,
        method: None,
        code: 10,
        times: usize::MAX,
        in_call: false,
    });
    let err = fx.reader(&["tok-a"], VkConfig { max_attempts: 3, ..fx.config() }).poll(&src, &cur).await.unwrap_err();
    assert!(err.is_retryable() && err.to_string().contains("error 10"), "{err}");
}

#[tokio::test]
async fn error_10_inside_execute_retries_only_that_call() {
    let fx = Fixture::new(&["tok-a"]).await;
    for i in 0..3 {
        fx.add(-(10 + i), wall(-(10 + i), 2));
    }
    let sources: Vec<Source> = (0..3i64).map(|i| source(&format!("vk-{i}"), &(-(10 + i)).to_string())).collect();
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    fx.vk.injections.lock().unwrap().push(Inject {
        token: None,
        method: Some("wall.get"),
        code: 10,
        times: 1,
        in_call: true,
    });
    let reader = fx.reader(&["tok-a"], fx.config());
    let results = poll_all(&reader, &sources, &cursors).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|o| o.posts.len() == 2)));
    let requests = fx.server.requests();
    assert_eq!(requests.len(), 2, "one execute, then the one failed call alone");
    assert_eq!(requests[1].path, "/method/wall.get");
}

async fn unavailable_source(code: i64) {
    let fx = Fixture::new(&["tok-a"]).await;
    for i in 0..3 {
        fx.add(-(10 + i), wall(-(10 + i), 2));
    }
    fx.vk.walls.lock().unwrap().get_mut(&-11).unwrap().fail = Some(code);
    let sources: Vec<Source> = (0..3i64).map(|i| source(&format!("vk-{i}"), &(-(10 + i)).to_string())).collect();
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let reader = fx.reader(&["tok-a"], fx.config());
    // Inside an execute batch…
    let results = poll_all(&reader, &sources, &cursors).await;
    assert_eq!(fx.server.requests().len(), 1);
    assert_eq!(results[0].as_ref().unwrap().posts.len(), 2);
    assert_eq!(results[2].as_ref().unwrap().posts.len(), 2);
    match &results[1] {
        Err(CollectError::Unavailable(reason)) => assert!(reason.contains(&format!("error {code}")), "{reason}"),
        other => panic!("{other:?}"),
    }
    // …and alone.
    match reader.poll(&sources[1], &cursors[1]).await {
        Err(CollectError::Unavailable(reason)) => {
            assert!(reason.contains(&format!("error {code}")), "{reason}");
            fx.assert_no_secret_in(&reason);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reader.token_status()[0].state, TokenState::Active, "a source's error does not touch the token");
}

#[tokio::test]
async fn error_15_marks_the_source_unavailable() {
    unavailable_source(15).await;
}

#[tokio::test]
async fn error_18_marks_the_source_unavailable() {
    unavailable_source(18).await;
}

#[tokio::test]
async fn error_19_marks_the_source_unavailable() {
    unavailable_source(19).await;
}

#[tokio::test]
async fn error_30_marks_the_source_unavailable() {
    unavailable_source(30).await;
}

#[tokio::test]
async fn error_203_marks_the_source_unavailable() {
    unavailable_source(203).await;
}

#[tokio::test]
async fn http_500_and_broken_responses_are_retried() {
    let fx = Fixture::new(&["tok-a"]).await;
    let (src, cur) = one_wall(&fx, 3).await;
    fx.vk.http_500.store(2, Ordering::SeqCst);
    let reader = fx.reader(&["tok-a"], fx.config());
    assert_eq!(reader.poll(&src, &cur).await.unwrap().posts.len(), 3);
    assert_eq!(fx.server.requests().len(), 3);

    fx.vk.garbage.store(1, Ordering::SeqCst);
    assert_eq!(reader.poll(&src, &cur).await.unwrap().posts.len(), 3);
    assert_eq!(fx.server.requests().len(), 5);

    // Always 500: a transient failure naming the method, never the token.
    fx.vk.http_500.store(usize::MAX, Ordering::SeqCst);
    let err = fx.reader(&["tok-a"], VkConfig { max_attempts: 2, ..fx.config() }).poll(&src, &cur).await.unwrap_err();
    assert!(err.is_retryable() && err.to_string().contains("HTTP 500"), "{err}");
    fx.assert_no_secret_in(&err.to_string());
}

#[tokio::test]
async fn incremental_polls_page_by_offset_mind_pinned_posts_and_fetch_changed_comments() {
    let fx = Fixture::new(&["tok-a"]).await;
    let owner = -77;
    let mut w = wall(owner, 250);
    // An old post pinned on top.
    let mut pinned = post(owner, 3, 300, 2);
    pinned["is_pinned"] = json!(1);
    w.posts.insert(0, pinned);
    w.posts.retain(|p| !(p["id"] == 3 && p["is_pinned"].is_null()));
    w.posts[1]["comments"] = json!({"count": 2});
    w.comments.insert(250, vec![comment(owner, 250, 1, &[2])]);
    w.comments.insert(3, vec![comment(owner, 3, 5, &[])]);
    fx.add(owner, w);
    let mut src = source("vk-77", "-77");
    src.official = true;
    src.comments = CommentsPolicy::OfficialPosts;
    let reader = fx.reader(&["tok-a"], VkConfig { execute_batch: 1, comments_depth: 5, ..fx.config() });

    let first = reader.poll(&src, &Cursor::new("vk-77")).await.unwrap();
    let got = uids(&first.posts);
    assert_eq!(got.iter().filter(|u| !u.contains(":c")).count(), 250);
    for c in ["vk:-77:250:c1", "vk:-77:250:c2", "vk:-77:3:c5"] {
        assert!(got.contains(&c.to_owned()), "{c}");
    }
    let reply = first.posts.iter().find(|p| p.uid.to_string() == "vk:-77:250:c2").unwrap();
    assert_eq!(reply.item_kind, ItemKind::Comment);
    assert_eq!(reply.parent_uid.as_ref().unwrap().to_string(), "vk:-77:250:c1");
    let offsets: Vec<String> = fx
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("wall.get"))
        .map(|r| r.param("offset").unwrap().to_owned())
        .collect();
    assert_eq!(offsets, ["0", "100", "200"]);
    assert_eq!(first.cursor.newest_id, Some(250));

    // Two new posts; the pinned post's old id does not stop or extend the walk.
    {
        let mut walls = fx.vk.walls.lock().unwrap();
        let w = walls.get_mut(&owner).unwrap();
        w.posts.insert(1, post(owner, 251, 0, 0));
        w.posts.insert(1, post(owner, 252, 0, 0));
    }
    let before = fx.server.requests().len();
    let second = reader.poll(&src, &first.cursor).await.unwrap();
    assert_eq!(uids(&second.posts), ["vk:-77:252", "vk:-77:251"]);
    let requests = &fx.server.requests()[before..];
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    // Unbatched (execute_batch 1 here), the member count is a request of its own.
    assert_eq!(
        paths,
        ["/method/wall.get", "/method/groups.getById"],
        "one page reaches past the cursor and the re-check window; comments unchanged are not fetched"
    );

    // Not official: no comments at all.
    let fx2 = Fixture::new(&["tok-a"]).await;
    let mut w = wall(-5, 2);
    w.posts[0]["comments"] = json!({"count": 1});
    w.comments.insert(2, vec![comment(-5, 2, 1, &[])]);
    fx2.add(-5, w);
    let mut src2 = source("vk-5", "-5");
    src2.comments = CommentsPolicy::OfficialPosts;
    let outcome = fx2.reader(&["tok-a"], fx2.config()).poll(&src2, &Cursor::new("vk-5")).await.unwrap();
    assert_eq!(uids(&outcome.posts), ["vk:-5:2", "vk:-5:1"]);
    assert!(fx2.vk.calls.lock().unwrap().iter().all(|(m, _)| m == "wall.get" || m == "groups.getById:members"));
}

#[tokio::test]
async fn screen_names_resolve_once_and_closed_communities_are_unavailable() {
    let fx = Fixture::new(&["tok-a"]).await;
    let mut open = wall(-42, 2);
    open.screen = Some("penza_live".into());
    fx.add(-42, open);
    let mut closed = wall(-43, 2);
    closed.screen = Some("secret_club".into());
    closed.closed = true;
    fx.add(-43, closed);
    let reader = fx.reader(&["tok-a"], fx.config());
    let sources = [source("a", "https://vk.com/penza_live"), source("b", "secret_club"), source("c", "club42")];
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let results = poll_all(&reader, &sources, &cursors).await;
    assert_eq!(uids(&results[0].as_ref().unwrap().posts), ["vk:-42:2", "vk:-42:1"]);
    assert!(matches!(&results[1], Err(CollectError::Unavailable(r)) if r.contains("closed")), "{:?}", results[1]);
    assert_eq!(uids(&results[2].as_ref().unwrap().posts), ["vk:-42:2", "vk:-42:1"]);
    reader.poll(&sources[0], &cursors[0]).await.unwrap();
    let calls = fx.vk.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|(m, _)| m == "groups.getById").count(), 2, "{calls:?}");
    assert!(fx
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("wall.get"))
        .all(|r| r.param("owner_id") == Some("-42")));
}

#[tokio::test]
async fn keyword_search_pages_by_next_from_and_publishes_each_result_once() {
    let fx = Fixture::new(&["tok-a"]).await;
    {
        let mut search = fx.vk.search.lock().unwrap();
        for i in 0..450i64 {
            let owner = -(i % 9 + 1);
            let word = if i % 3 == 0 { "прорыв трубы" } else { "прочее" };
            let mut p = post(owner, 1000 - i, i / 20, 0);
            p["text"] = json!(format!("{word} {i}"));
            search.push(p);
        }
    }
    let src = source("vk-search-pipes", "search:прорыв трубы");
    let reader = fx.reader(&["tok-a"], VkConfig { search_page_size: 40, ..fx.config() });
    let first = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    assert_eq!(first.posts.len(), 150);
    assert!(first.posts.iter().all(|p| p.source_id == "vk-search-pipes" && p.platform == Platform::Vk));
    let pages: Vec<Option<String>> =
        fx.server.requests().iter().map(|r| r.param("start_from").map(str::to_owned)).collect();
    assert_eq!(pages.len(), 4);
    assert_eq!(pages[0], None);
    assert_eq!(pages[1].as_deref(), Some("40"));

    // A new hit from a wall with a low post id: still new; old hits are not published again.
    fx.vk.search.lock().unwrap().insert(0, {
        let mut p = post(-500, 7, 0, 0);
        p["text"] = json!("снова прорыв трубы");
        p
    });
    let second = reader.poll(&src, &first.cursor).await.unwrap();
    assert_eq!(uids(&second.posts), ["vk:-500:7"]);
    let last = fx.server.requests().last().unwrap().clone();
    let since: i64 = last.param("start_time").unwrap().parse().unwrap();
    assert!(Utc::now().timestamp() - since <= 49 * 3600, "a later poll searches only the re-check window");
}

#[tokio::test]
async fn keyword_search_stops_at_the_1000_reachable_results() {
    let fx = Fixture::new(&["tok-a"]).await;
    {
        let mut search = fx.vk.search.lock().unwrap();
        for i in 0..1300i64 {
            let mut p = post(-1, 5000 - i, 0, 0);
            p["text"] = json!(format!("лифт {i}"));
            search.push(p);
        }
    }
    let src = source("vk-lifts", "search:лифт");
    let outcome = fx.reader(&["tok-a"], fx.config()).poll(&src, &Cursor::new(&src.id)).await.unwrap();
    assert_eq!(outcome.posts.len(), otklik_collect::vk::SEARCH_RESULT_LIMIT);
    assert_eq!(fx.server.requests().len(), 5, "5 pages of 200");
}

/// A wall item with `id: 0` or `date: -1` is not published: it goes to the DLQ on its own (the
/// item as read as payload), and the wall's real posts are published.
#[tokio::test]
async fn invalid_wall_items_go_to_the_dlq_and_the_rest_is_published() {
    let fx = Fixture::new(&["tok-a"]).await;
    let (source, cursor) = one_wall(&fx, 3).await;
    {
        let mut walls = fx.vk.walls.lock().unwrap();
        let wall = walls.get_mut(&-1).unwrap();
        wall.posts[1]["id"] = json!(0);
        wall.posts[2]["date"] = json!(-1);
    }
    let reader = fx.reader(&["tok-a"], fx.config());
    let outcome = reader.poll(&source, &cursor).await.unwrap();
    assert_eq!(uids(&outcome.posts), ["vk:-1:3"]);
    let errors: Vec<String> = outcome.bad_pages.iter().map(|b| b.error.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("item 1: vk:-1:0: post id 0 is not positive"), "{errors:?}");
    assert!(errors[1].contains("item 2: vk:-1:1: date 1969-12-31T23:59:59Z is before 2006"), "{errors:?}");
    let origin = &outcome.bad_pages[0].origin;
    assert!(origin.starts_with("wall.get") && origin.ends_with("item 1"), "{origin}");
    let payload: RawPost = otklik_model::decode("RawPost", &outcome.bad_pages[0].bytes).unwrap();
    assert_eq!(payload.uid.to_string(), "vk:-1:0");
}

#[tokio::test]
async fn member_counts_come_in_one_call_inside_the_polls_execute() {
    let fx = Fixture::new(&["tok-a"]).await;
    fx.add(-501, Wall { members: Some(1520), ..wall(-501, 2) });
    fx.add(-502, Wall { members: None, ..wall(-502, 2) });
    fx.add(503, wall(503, 2));
    let sources = [source("a", "-501"), source("b", "club502"), source("c", "503")];
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let reader = fx.reader(&["tok-a"], fx.config());
    let results = poll_all(&reader, &sources, &cursors).await;
    let audiences: Vec<Option<u64>> = results.iter().map(|r| r.as_ref().unwrap().audience).collect();
    assert_eq!(audiences, [Some(1520), None, None], "a community without the field, a user's wall: none");
    let calls = fx.vk.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|(m, _)| m == "groups.getById:members").count(), 1, "{calls:?}");
    assert_eq!(fx.server.requests().len(), 1, "the read joins the walls' execute");
    let code = fx.server.requests()[0].param("code").unwrap_or_default().to_owned();
    assert!(code.contains(r#""group_ids":"501,502""#), "{code}");
}

#[tokio::test]
async fn a_failed_member_count_read_never_fails_the_poll() {
    let fx = Fixture::new(&["tok-a"]).await;
    fx.add(-501, Wall { members: Some(1520), ..wall(-501, 2) });
    let inject = Inject { token: None, method: Some("groups.getById"), code: 15, times: usize::MAX, in_call: true };
    fx.vk.injections.lock().unwrap().push(inject);
    let reader = fx.reader(&["tok-a"], fx.config());
    let outcome = reader.poll(&source("a", "-501"), &Cursor::new("a")).await.unwrap();
    assert_eq!((outcome.posts.len(), outcome.audience), (2, None));

    // Alone in its request (no batching), a whole-request failure of the read is the same.
    fx.vk.injections.lock().unwrap()[0].in_call = false;
    let reader = fx.reader(&["tok-a"], VkConfig { execute_batch: 1, ..fx.config() });
    let outcome = reader.poll(&source("a", "-501"), &Cursor::new("a")).await.unwrap();
    assert_eq!((outcome.posts.len(), outcome.audience), (2, None));
    assert_eq!(reader.token_status()[0].state, TokenState::Active);
}

/// Response tracking end to end on VK: what two polls of a residents' group collect, run
/// through first-reply finding, gives each complaint its own first reply.
mod replies {
    use super::*;
    use otklik_model::PostKind;
    use otklik_respond::{first_replies, Complaint, Item, OrgType, Organisation, Responders};

    const GROUP: i64 = -300;
    const UK_COMMUNITY: i64 = -555;
    const UK_STAFF: i64 = 4242;

    /// One «now» for the whole scenario, so delays come out exact whenever the clock ticks.
    fn at_minutes_ago(minutes: i64) -> i64 {
        static NOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
        NOW.get_or_init(|| Utc::now().timestamp()) - minutes * 60
    }

    fn resident_post(id: i64, from: i64, minutes_ago: i64, text: &str, comments: u64) -> Value {
        json!({"id": id, "owner_id": GROUP, "from_id": from, "date": at_minutes_ago(minutes_ago), "text": text,
               "comments": {"count": comments}, "likes": {"count": 0}, "reposts": {"count": 0}, "views": {"count": 40}})
    }

    /// A comment; `answers` is VK's `reply_to_comment`, `thread` its replies.
    fn vk_comment(
        post: i64,
        id: i64,
        from: i64,
        minutes_ago: i64,
        answers: Option<i64>,
        text: &str,
        thread: Vec<Value>,
    ) -> Value {
        let mut c = json!({"id": id, "from_id": from, "post_id": post, "owner_id": GROUP, "date": at_minutes_ago(minutes_ago),
                           "text": text, "thread": {"count": thread.len(), "items": thread}});
        if let Some(answered) = answers {
            c["reply_to_comment"] = json!(answered);
        }
        c
    }

    fn responders() -> Responders {
        Responders::new(vec![Organisation {
            id: "uk-zhilservis".into(),
            name: "УК «Жилсервис»".into(),
            org_type: OrgType::Uk,
            municipality: Some("56701000".into()),
            inn: None,
            accounts: vec![(Platform::Vk, UK_COMMUNITY.to_string()), (Platform::Vk, UK_STAFF.to_string())],
            sources: vec![],
        }])
    }

    /// What reply finding needs; the kind stands in for the classifier's (a question mark makes
    /// a question, «нет»/«холодно» a complaint, anything else is information).
    fn item(post: &RawPost) -> Item {
        let text = post.text.to_lowercase();
        let kind = if text.ends_with('?') {
            PostKind::Question
        } else if text.contains("нет ") || text.contains("холодно") {
            PostKind::Complaint
        } else {
            PostKind::Info
        };
        Item {
            uid: post.uid.to_string(),
            platform: post.platform,
            source_id: post.source_id.clone(),
            item_kind: post.item_kind,
            parent_uid: post.parent_uid.as_ref().map(ToString::to_string),
            author_id: post.author.id.clone(),
            author_is_source: post.author.is_source,
            published_at: post.published_at,
            kind,
            municipality: Some("56701000".into()),
            url: post.url.clone(),
        }
    }

    fn first_reply(complaints: &[Complaint], uid: &str) -> Option<(String, String, i64)> {
        let complaint = complaints.iter().find(|c| c.uid == uid).unwrap_or_else(|| panic!("{uid} is no complaint"));
        complaint.reply.as_ref().map(|r| (r.uid.clone(), r.by.clone(), r.delay.num_minutes()))
    }

    #[tokio::test]
    async fn later_polls_find_each_complaints_first_reply_inside_the_recheck_window() {
        let fx = Fixture::new(&["tok-a"]).await;
        // Post 2: a resident's complaint 3 h ago with a neighbour's complaint comment under it.
        // Post 1: a complaint 60 h ago, older than the 48 h re-check window.
        let complaint = "Третий день нет отопления в доме на Ладожской, 101";
        let mut w =
            Wall { screen: None, comments: HashMap::new(), fail: None, closed: false, posts: vec![], members: None };
        w.posts =
            vec![resident_post(2, 11, 180, complaint, 1), resident_post(1, 13, 3600, "Нет горячей воды неделю", 0)];
        w.comments.insert(2, vec![vk_comment(2, 10, 12, 170, None, "У нас тоже холодно, батареи ледяные", vec![])]);
        fx.add(GROUP, w);
        let reader = fx.reader(&["tok-a"], fx.config());
        let mut src = source("vk-podslushano", &GROUP.to_string());
        src.comments = CommentsPolicy::All;
        let first = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
        let mut collected: Vec<RawPost> = first.posts.clone();
        assert_eq!(uids(&first.posts).len(), 3, "{:?}", uids(&first.posts));

        // Later: a non-responder answers the neighbour (2 h 40 min ago); the УК's community answers
        // the post two hours after it was written; the neighbour asks the УК back (a reply to a
        // reply), the УК's staff member answers that question and, in the neighbour's thread, the
        // neighbour's complaint. The old post gets its answer only now, 60 h late.
        {
            let mut walls = fx.vk.walls.lock().unwrap();
            let w = walls.get_mut(&GROUP).unwrap();
            let neighbour_thread = vec![
                vk_comment(2, 11, 14, 160, Some(10), "Звоните в аварийку, там ответят", vec![]),
                vk_comment(2, 15, UK_STAFF, 20, Some(10), "Стояк на вашем подъезде запустили", vec![]),
            ];
            let uk_thread = vec![
                vk_comment(2, 13, 12, 45, Some(12), "А когда дадут тепло?", vec![]),
                vk_comment(2, 14, UK_STAFF, 15, Some(13), "Сегодня до 18:00 запустим.", vec![]),
            ];
            w.comments.insert(
                2,
                vec![
                    vk_comment(
                        2,
                        12,
                        UK_COMMUNITY,
                        60,
                        None,
                        "Здравствуйте! Заявка принята, бригада выехала.",
                        uk_thread,
                    ),
                    vk_comment(2, 10, 12, 170, None, "У нас тоже холодно, батареи ледяные", neighbour_thread),
                ],
            );
            w.posts[0]["comments"] = json!({"count": 6});
            w.posts[1]["comments"] = json!({"count": 1});
            w.comments.insert(1, vec![vk_comment(1, 20, UK_COMMUNITY, 10, None, "Здравствуйте, разберёмся.", vec![])]);
        }
        let second = reader.poll(&src, &first.cursor).await.unwrap();
        let got = uids(&second.posts);
        assert!(got.contains(&format!("vk:{GROUP}:2:c14")), "the reply to a reply was collected: {got:?}");
        assert!(!got.iter().any(|u| u.starts_with(&format!("vk:{GROUP}:1:"))), "post 1 is past the window: {got:?}");
        collected.extend(second.posts.iter().cloned());
        // Collected twice (redelivery) changes nothing.
        collected.extend(second.posts);

        let items: Vec<Item> = collected.iter().map(item).collect();
        let complaints = first_replies(&items, &responders());
        let uk = "uk-zhilservis".to_owned();
        let reply = |c: i64, delay: i64| Some((format!("vk:{GROUP}:2:c{c}"), uk.clone(), delay));
        assert_eq!(first_reply(&complaints, &format!("vk:{GROUP}:2")), reply(12, 120), "the УК's comment 2 h later");
        assert_eq!(first_reply(&complaints, &format!("vk:{GROUP}:2:c10")), reply(15, 150), "not the non-responder's");
        assert_eq!(first_reply(&complaints, &format!("vk:{GROUP}:2:c13")), reply(14, 30), "the reply to a reply");
        assert_eq!(first_reply(&complaints, &format!("vk:{GROUP}:1")), None, "answered after the re-check window");
        assert_eq!(complaints.len(), 4, "{complaints:?}");
    }
}

/// The collector counts each failed poll under the code VK (or the transport) gave: error 15 on
/// one wall, error 6 on every call to another, HTTP 500 on every request of a third reader.
#[tokio::test]
async fn failed_polls_are_counted_by_the_vk_error_code() {
    use otklik_collect::{Collector, CollectorTopics, PollMetrics};
    use otklik_pipeline::{Bus, DeadLetters, MemoryBus, StageMetrics};
    // A token per case: the server's own flood control (error 6 past 20 requests a second per
    // token) must not answer a case meant for another code.
    let fx = Fixture::new(&["tok-a", "tok-b", "tok-c"]).await;
    fx.add(-1, wall(-1, 2));
    fx.add(-2, Wall { fail: Some(15), ..wall(-2, 2) });
    let polls = PollMetrics::default();
    let bus = MemoryBus::new(1);
    let collector = |reader: VkReader| {
        let backoff = Backoff::default();
        Collector {
            reader: Arc::new(reader),
            publisher: bus.publisher(),
            topics: CollectorTopics { raw: "raw".into(), cursors: "cursors".into(), stats: "stats".into() },
            dead_letters: DeadLetters {
                publisher: bus.publisher(),
                topic: "dlq".into(),
                stage: "collect".into(),
                backoff,
            },
            backoff,
            metrics: Arc::new(StageMetrics::default()),
            polls: polls.clone(),
        }
    };
    let config = VkConfig { execute_batch: 1, max_attempts: 2, ..fx.config() };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let denied = [source("vk-ok", "-1"), source("vk-denied", "-2")];
    let mut cursors = HashMap::new();
    collector(fx.reader(&["tok-a"], config.clone())).poll_all(&denied, &mut cursors, &shutdown).await.unwrap();
    fx.vk.injections.lock().unwrap().push(Inject {
        token: None,
        method: Some("wall.get"),
        code: 6,
        times: usize::MAX,
        in_call: false,
    });
    let limited = [source("vk-limited", "-1")];
    collector(fx.reader(&["tok-b"], config.clone())).poll_all(&limited, &mut cursors, &shutdown).await.unwrap();
    fx.vk.injections.lock().unwrap().clear();
    fx.vk.http_500.store(usize::MAX, Ordering::SeqCst);
    let broken = [source("vk-500", "-1")];
    let once = VkConfig { max_attempts: 1, ..config };
    collector(fx.reader(&["tok-c"], once)).poll_all(&broken, &mut cursors, &shutdown).await.unwrap();

    let counted = polls.snapshot();
    let failures = |id: &str| counted[id].failures.clone();
    assert!(failures("vk-ok").is_empty());
    assert_eq!(failures("vk-denied"), BTreeMap::from([(("unavailable", "15".to_owned()), 1)]));
    assert_eq!(failures("vk-limited"), BTreeMap::from([(("transient", "6".to_owned()), 1)]));
    assert_eq!(failures("vk-500"), BTreeMap::from([(("transient", "http_500".to_owned()), 1)]));
}
