//! The OK reader against a fake OK REST API on 127.0.0.1 that checks every request's signature
//! (recomputed server-side with the shared secret; a wrong one gets error 104 the way OK sends
//! it), pages topics and comments by anchor, and injects each documented error code.

use chrono::{Duration as TimeDelta, Utc};
use otklik_collect::ok::{sign, OkClient, OkConfig, OkCredentials, OkReader, Secret, SigningSecret};
use otklik_collect::ratelimit::Rate;
use otklik_collect::{CollectError, FeedReader};
use otklik_model::{CommentsPolicy, Cursor, ItemKind, Platform, Schema, Source, SourceStatus};
use otklik_testkit::fake_http::{FakeRequest, FakeResponse, FakeServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APP_KEY: &str = "CBAOTKLIKTESTAPPK";
const APP_SECRET: &str = "0A1B2C3D4E5F60718293A4B5";
const TOKEN: &str = "-tkn-Otklik.Test-Access-Token-0123456789";
const GID: &str = "54390000000201";
const OTHER_GID: &str = "54390000000777";

/// What the fake API serves and injects.
#[derive(Default)]
struct Api {
    /// gid → topics, newest first.
    topics: HashMap<String, Vec<Value>>,
    /// topic id → comments, oldest first.
    comments: HashMap<String, Vec<Value>>,
    /// (method, error code, how many more times).
    inject: Vec<(String, i64, usize)>,
    /// Requests refused for a bad signature.
    bad_signatures: usize,
    /// gid → `members_count` as group.getInfo shows it (absent: not shown).
    members: HashMap<String, u64>,
}

struct FakeOk {
    server: FakeServer,
    api: Arc<Mutex<Api>>,
}

impl FakeOk {
    async fn start() -> FakeOk {
        let api = Arc::new(Mutex::new(Api::default()));
        let server = FakeServer::start({
            let api = api.clone();
            move |req| handle(&mut api.lock().unwrap(), req)
        })
        .await;
        FakeOk { server, api }
    }

    fn base(&self) -> String {
        format!("{}/fb.do", self.server.url())
    }

    fn set_topics(&self, gid: &str, topics: Vec<Value>) {
        self.api.lock().unwrap().topics.insert(gid.into(), topics);
    }

    fn set_comments(&self, topic: u64, comments: Vec<Value>) {
        self.api.lock().unwrap().comments.insert(topic.to_string(), comments);
    }

    fn set_members(&self, gid: &str, members: u64) {
        self.api.lock().unwrap().members.insert(gid.into(), members);
    }

    fn inject(&self, method: &str, code: i64, times: usize) {
        self.api.lock().unwrap().inject.push((method.into(), code, times));
    }

    fn requests(&self) -> Vec<FakeRequest> {
        self.server.requests()
    }

    fn calls(&self, method: &str) -> Vec<FakeRequest> {
        self.requests().into_iter().filter(|r| r.param("method") == Some(method)).collect()
    }

    /// Every request so far carried the credential and a signature the server accepted.
    fn assert_all_signed(&self) {
        let requests = self.requests();
        assert!(!requests.is_empty());
        for r in &requests {
            assert_eq!(r.method, "GET");
            assert_eq!(r.param("application_key"), Some(APP_KEY));
            assert_eq!(r.param("format"), Some("json"));
            assert_eq!(r.param("access_token"), Some(TOKEN));
            assert_eq!(r.param("sig"), Some(expected_sig(r).as_str()), "{:?}", r.query);
        }
        assert_eq!(self.api.lock().unwrap().bad_signatures, 0);
    }
}

fn expected_sig(r: &FakeRequest) -> String {
    let params: Vec<(&str, &str)> =
        r.query.iter().filter(|(k, _)| k.as_str() != "sig").map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let token = r.param("access_token").unwrap_or("");
    sign::signature(&params, SigningSecret::AccessToken { access_token: token, application_secret_key: APP_SECRET })
}

fn ok_error(code: i64, msg: &str) -> FakeResponse {
    FakeResponse::json(json!({"error_code": code, "error_msg": msg, "error_data": null}).to_string())
        .with_header("Invocation-Error", &code.to_string())
}

fn error_name(code: i64) -> &'static str {
    match code {
        1 => "UNKNOWN : Unknown error",
        2 => "SERVICE : Service is temporary unavailable",
        8 => "FLOOD_BLOCKED : Flood blocked",
        10 => "PERMISSION_DENIED : Permission denied",
        11 => "LIMIT_REACHED : Limit reached",
        100 => "PARAM : Missing required parameter",
        101 => "PARAM_API_KEY : Application key is invalid",
        102 => "PARAM_SESSION_EXPIRED : Session expired",
        103 => "PARAM_SESSION_KEY : Invalid session key",
        104 => "PARAM_SIGNATURE : Invalid signature",
        300 => "NOT_FOUND : Requested object not found",
        9999 => "SYSTEM : Critical system error",
        _ => "UNKNOWN",
    }
}

/// Opaque anchors: `a` + the index of the next item.
fn page<'v>(items: &'v [Value], req: &FakeRequest) -> Result<(&'v [Value], Option<String>, bool), FakeResponse> {
    let count: usize = req.param("count").and_then(|c| c.parse().ok()).unwrap_or(20);
    let start = match req.param("anchor") {
        None => 0,
        Some(a) => {
            if req.param("direction") != Some("FORWARD") {
                return Err(ok_error(100, "PARAM : direction must be FORWARD when paging on"));
            }
            a.strip_prefix('a').and_then(|n| n.parse().ok()).ok_or_else(|| ok_error(100, "PARAM : bad anchor"))?
        }
    };
    let start = start.min(items.len());
    let end = (start + count).min(items.len());
    Ok((&items[start..end], Some(format!("a{end}")), end < items.len()))
}

fn handle(api: &mut Api, req: &FakeRequest) -> FakeResponse {
    if req.path != "/fb.do" {
        return FakeResponse::status(404);
    }
    if req.param("application_key") != Some(APP_KEY) {
        return ok_error(101, error_name(101));
    }
    if req.param("access_token") != Some(TOKEN) {
        return ok_error(102, error_name(102));
    }
    if req.param("sig") != Some(expected_sig(req).as_str()) {
        api.bad_signatures += 1;
        return ok_error(104, error_name(104));
    }
    let method = req.param("method").unwrap_or_default().to_owned();
    if let Some(slot) = api.inject.iter_mut().find(|(m, _, left)| *m == method && *left > 0) {
        slot.2 -= 1;
        return ok_error(slot.1, error_name(slot.1));
    }
    match method.as_str() {
        "group.getInfo" => {
            let uids = req.param("uids").unwrap_or_default();
            let asked = req.param("fields").is_some_and(|f| f.contains("members_count"));
            let group = |u: &str| match api.members.get(u) {
                Some(n) if asked => json!({"uid": u, "name": format!("Группа {u}"), "members_count": n}),
                _ => json!({"uid": u, "name": format!("Группа {u}")}),
            };
            let groups: Vec<Value> = uids.split(',').filter(|u| api.topics.contains_key(*u)).map(group).collect();
            FakeResponse::json(Value::Array(groups).to_string())
        }
        "mediatopic.getTopics" => {
            let Some(topics) = req.param("gid").and_then(|g| api.topics.get(g)) else {
                return ok_error(300, error_name(300));
            };
            let (items, anchor, has_more) = match page(topics, req) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let gid = req.param("gid").unwrap();
            let body = json!({"media_topics": items, "entities": {"groups": [{"uid": gid, "name": "Администрация"}]}, "anchor": anchor, "has_more": has_more});
            FakeResponse::json(body.to_string())
        }
        "discussions.getComments" => {
            if req.param("discussionType") != Some("GROUP_TOPIC") {
                return ok_error(100, error_name(100));
            }
            let Some(comments) = req.param("discussionId").and_then(|d| api.comments.get(d)) else {
                return ok_error(300, error_name(300));
            };
            let (items, anchor, has_more) = match page(comments, req) {
                Ok(p) => p,
                Err(e) => return e,
            };
            FakeResponse::json(json!({"comments": items, "anchor": anchor, "has_more": has_more}).to_string())
        }
        _ => ok_error(3, "METHOD : Method does not exist"),
    }
}

fn topic(gid: &str, id: u64, minutes_ago: i64, text: &str, comments: u64) -> Value {
    let created = Utc::now() - TimeDelta::minutes(minutes_ago);
    json!({
        "id": id.to_string(),
        "media": [{"type": "text", "text": text}],
        "created_ms": created.timestamp_millis(),
        "discussion_summary": {"comments_count": comments},
        "like_summary": {"count": 1},
        "author_ref": format!("group:{gid}"),
        "owner_ref": format!("group:{gid}"),
    })
}

fn comment(id: &str, minutes_ago: i64, text: &str) -> Value {
    // OK writes comment dates as Moscow wall-clock time.
    let moscow = Utc::now() - TimeDelta::minutes(minutes_ago) + TimeDelta::hours(3);
    json!({"id": id, "author_id": "571200000502", "author_name": "Людмила Карпова", "text": text, "date": moscow.format("%Y-%m-%d %H:%M:%S").to_string()})
}

fn config(base: &str) -> OkConfig {
    OkConfig {
        api_base: base.into(),
        application_key: APP_KEY.into(),
        rate: Rate::parse("200/s").unwrap(),
        page_size: 3,
        comments_page_size: 2,
        recheck_window: Duration::from_secs(3600),
        retry_initial: Duration::from_millis(40),
        retry_max: Duration::from_millis(100),
        flood_backoff: Duration::from_millis(400),
        limit_backoff: Duration::from_millis(600),
        timeout: Duration::from_secs(5),
        ..OkConfig::default()
    }
}

fn credentials(secret: &str) -> OkCredentials {
    OkCredentials {
        application_key: APP_KEY.into(),
        application_secret_key: Secret::new(secret),
        access_token: Secret::new(TOKEN),
        session_secret_key: None,
    }
}

fn reader_with(config: &OkConfig, secret: &str) -> OkReader {
    OkReader::new(config, Arc::new(OkClient::from_config(config, credentials(secret)).unwrap()))
}

fn reader(fake: &FakeOk) -> OkReader {
    reader_with(&config(&fake.base()), APP_SECRET)
}

fn source(id: &str, gid: &str, official: bool, comments: CommentsPolicy) -> Source {
    Source {
        schema: Schema,
        id: id.into(),
        platform: Platform::Ok,
        handle: gid.into(),
        name: String::new(),
        municipality: None,
        official,
        comments,
        enabled: true,
    }
}

/// A group with 7 topics 10 minutes apart (ids 107 newest … 101), comments under two of them.
async fn group_fake() -> FakeOk {
    let fake = FakeOk::start().await;
    let topics = (0..7u64)
        .map(|i| {
            topic(
                GID,
                107 - i,
                5 + 10 * i as i64,
                &format!("Тема {}: нет отопления", 107 - i),
                if i == 0 || i == 4 { 3 } else { 0 },
            )
        })
        .collect();
    fake.set_topics(GID, topics);
    fake.set_comments(
        107,
        vec![comment("cmA1", 4, "Холодно"), comment("cmA2", 3, "И у нас"), comment("cmA3", 2, "Спасибо")],
    );
    fake.set_comments(
        103,
        vec![comment("cmB1", 40, "Где отопление?"), comment("cmB2", 39, "Звонили?"), comment("cmB3", 38, "Да")],
    );
    fake
}

fn uids(posts: &[otklik_model::RawPost]) -> Vec<String> {
    let mut u: Vec<String> = posts.iter().map(|p| p.uid.to_string()).collect();
    u.sort();
    u
}

#[tokio::test]
async fn first_poll_walks_pages_and_reads_comments_with_signed_requests() {
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, true, CommentsPolicy::OfficialPosts);
    let outcome = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();

    let topics: Vec<_> = outcome.posts.iter().filter(|p| p.item_kind == ItemKind::Post).collect();
    assert_eq!(topics.len(), 7);
    assert!(topics.iter().all(|p| p.source_id == "ok-kamenka" && p.platform == Platform::Ok));
    let comments: Vec<_> = outcome.posts.iter().filter(|p| p.item_kind == ItemKind::Comment).collect();
    assert_eq!(comments.len(), 6);
    assert!(uids(&outcome.posts).contains(&format!("ok:{GID}:107:ccmA3")));
    assert!(uids(&outcome.posts).contains(&format!("ok:{GID}:103:ccmB1")));
    // Moscow comment times became UTC: within a minute of when they were written.
    let a3 = comments.iter().find(|c| c.uid.to_string().ends_with("ccmA3")).unwrap();
    assert!((a3.published_at - (Utc::now() - TimeDelta::minutes(2))).num_seconds().abs() < 60, "{}", a3.published_at);
    assert_eq!(a3.parent_uid.as_ref().map(|u| u.to_string()), Some(format!("ok:{GID}:107")));
    assert_eq!(outcome.cursor.newest_id, Some(107));
    assert!(outcome.bad_pages.is_empty());

    // group.getInfo once, topics in 3 pages by anchor, comments in 2 pages for each of 2 topics.
    assert_eq!(fake.calls("group.getInfo").len(), 1);
    let pages = fake.calls("mediatopic.getTopics");
    assert_eq!(
        pages.iter().map(|r| r.param("anchor").unwrap_or("-").to_owned()).collect::<Vec<_>>(),
        ["-", "a3", "a6"]
    );
    assert!(pages.iter().all(|r| r.param("gid") == Some(GID) && r.param("count") == Some("3")));
    let comment_calls = fake.calls("discussions.getComments");
    assert_eq!(comment_calls.len(), 4);
    assert!(comment_calls.iter().all(|r| r.param("discussionType") == Some("GROUP_TOPIC")));
    fake.assert_all_signed();
}

#[tokio::test]
async fn later_polls_are_incremental_and_republish_only_what_changed() {
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::All);
    let first = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    let before = fake.requests().len();

    // Nothing changed: the walk stops at the cursor and the re-check window (1 h here: every
    // topic is younger, so all 3 pages are looked at again), nothing is published, no comments read.
    let second = reader.poll(&src, &first.cursor).await.unwrap();
    assert!(second.posts.is_empty(), "{:?}", uids(&second.posts));
    assert_eq!(fake.calls("group.getInfo").len(), 1, "group.getInfo only on first contact");
    assert_eq!(fake.requests().len() - before, 3);

    // A new topic, and a new comment under topic 103 (its count goes 3 → 4).
    let mut topics = vec![topic(GID, 108, 1, "Новая тема: прорыв трубы", 0)];
    topics.extend((0..7u64).map(|i| {
        topic(
            GID,
            107 - i,
            5 + 10 * i as i64,
            &format!("Тема {}: нет отопления", 107 - i),
            match i {
                0 => 3,
                4 => 4,
                _ => 0,
            },
        )
    }));
    fake.set_topics(GID, topics);
    fake.api.lock().unwrap().comments.get_mut("103").unwrap().push(comment("cmB4", 1, "Дали тепло"));
    let third = reader.poll(&src, &second.cursor).await.unwrap();
    assert_eq!(uids(&third.posts), [format!("ok:{GID}:103"), format!("ok:{GID}:103:ccmB4"), format!("ok:{GID}:108")]);
    // Comments were read only under the changed topic (2 pages of 2 for its 4 comments).
    let comment_calls = fake.calls("discussions.getComments");
    assert_eq!(comment_calls.iter().filter(|r| r.param("discussionId") == Some("103")).count(), 4);
    assert_eq!(third.cursor.newest_id, Some(108));

    // With a short re-check window the walk stops after the first page once past the cursor.
    let mut short = config(&fake.base());
    short.recheck_window = Duration::from_secs(60);
    let quick = reader_with(&short, APP_SECRET);
    let before = fake.calls("mediatopic.getTopics").len();
    let fourth = quick.poll(&src, &third.cursor).await.unwrap();
    assert!(fourth.posts.is_empty());
    assert_eq!(fake.calls("mediatopic.getTopics").len() - before, 1);
    fake.assert_all_signed();
}

#[tokio::test]
async fn comments_follow_the_source_policy() {
    let fake = group_fake().await;
    let reader = reader(&fake);
    for (official, policy, wanted) in [
        (false, CommentsPolicy::None, false),
        (true, CommentsPolicy::None, false),
        (false, CommentsPolicy::OfficialPosts, false),
        (true, CommentsPolicy::OfficialPosts, true),
        (false, CommentsPolicy::All, true),
    ] {
        let before = fake.calls("discussions.getComments").len();
        let src = source("ok-kamenka", GID, official, policy);
        let outcome = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
        let comments = outcome.posts.iter().filter(|p| p.item_kind == ItemKind::Comment).count();
        assert_eq!(comments > 0, wanted, "{official} {policy:?}");
        assert_eq!(fake.calls("discussions.getComments").len() > before, wanted, "{official} {policy:?}");
    }
    fake.assert_all_signed();
}

/// Injects `code` twice on `mediatopic.getTopics`: the client retries with backoff and the poll
/// succeeds; injected more often than the client retries, the poll fails as transient.
async fn retried_with_backoff(code: i64) {
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    fake.inject("mediatopic.getTopics", code, 2);
    let outcome = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    assert_eq!(outcome.posts.len(), 7);
    let calls = fake.calls("mediatopic.getTopics");
    assert_eq!(calls.len(), 2 + 3, "two failed attempts, then 3 pages");
    // Backoff: at least half the initial 40 ms, then at least half of 80 ms.
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(20));
    assert!(calls[2].at - calls[1].at >= Duration::from_millis(40));

    fake.inject("mediatopic.getTopics", code, 100);
    let before = fake.calls("mediatopic.getTopics").len();
    let err = reader.poll(&src, &outcome.cursor).await.unwrap_err();
    assert!(matches!(&err, CollectError::Transient(m) if m.contains(&format!("error {code}"))), "{err:?}");
    assert_eq!(err.code(), code.to_string(), "OK's own error code");
    assert_eq!(fake.calls("mediatopic.getTopics").len() - before, 4, "1 attempt + 3 retries");
    assert!(reader.client().stopped().is_none());
    fake.assert_all_signed();
}

#[tokio::test]
async fn error_1_unknown_is_retried_with_backoff() {
    retried_with_backoff(1).await;
}

#[tokio::test]
async fn error_2_service_is_retried_with_backoff() {
    retried_with_backoff(2).await;
}

#[tokio::test]
async fn error_9999_system_is_retried_with_backoff() {
    retried_with_backoff(9999).await;
}

/// `code` once: the poll fails as transient and the whole credential rests for `rest` — the next
/// request of any source waits until then — and then works again.
async fn backs_off_the_credential(code: i64, rest: Duration) {
    let fake = group_fake().await;
    fake.set_topics(OTHER_GID, vec![topic(OTHER_GID, 201, 3, "Другая группа", 0)]);
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    fake.inject("mediatopic.getTopics", code, 1);
    let err = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap_err();
    assert!(matches!(&err, CollectError::Transient(m) if m.contains(&format!("error {code}"))), "{err:?}");
    let blocked_at = fake.calls("mediatopic.getTopics")[0].at;
    assert_eq!(fake.requests().len(), 2, "no retry while backed off");

    // Another source on the same credential waits for the block to lift, then succeeds.
    let other = source("ok-other", OTHER_GID, false, CommentsPolicy::None);
    let outcome = reader.poll(&other, &Cursor::new(&other.id)).await.unwrap();
    assert_eq!(outcome.posts.len(), 1);
    let next = &fake.requests()[2];
    assert!(next.at - blocked_at >= rest - Duration::from_millis(15), "waited only {:?}", next.at - blocked_at);
    assert!(reader.poll(&src, &Cursor::new(&src.id)).await.is_ok());
    assert!(reader.client().stopped().is_none());
    fake.assert_all_signed();
}

#[tokio::test]
async fn error_8_flood_blocked_backs_off_the_credential() {
    backs_off_the_credential(8, Duration::from_millis(400)).await;
}

#[tokio::test]
async fn error_11_limit_reached_backs_off_the_credential() {
    backs_off_the_credential(11, Duration::from_millis(600)).await;
}

/// `code` on the group: the source is unavailable, the credential keeps working for others; on
/// one topic's comments: only those comments are skipped.
async fn source_unavailable(code: i64) {
    let fake = group_fake().await;
    fake.set_topics(OTHER_GID, vec![topic(OTHER_GID, 201, 3, "Другая группа", 0)]);
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, true, CommentsPolicy::OfficialPosts);
    fake.inject("mediatopic.getTopics", code, 1);
    let err = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap_err();
    match &err {
        CollectError::Unavailable(reason) => {
            assert!(reason.contains(GID) && reason.contains(&format!("error {code}")), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let other = source("ok-other", OTHER_GID, false, CommentsPolicy::None);
    assert_eq!(reader.poll(&other, &Cursor::new(&other.id)).await.unwrap().posts.len(), 1);

    // The same code under one topic's comments: that topic is published without them.
    fake.inject("discussions.getComments", code, 1);
    let outcome = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    let comments: Vec<_> =
        outcome.posts.iter().filter(|p| p.item_kind == ItemKind::Comment).map(|p| p.uid.id.clone()).collect();
    assert_eq!(comments, ["103", "103", "103"], "topic 107's comments skipped, 103's read");
    assert_eq!(outcome.posts.iter().filter(|p| p.item_kind == ItemKind::Post).count(), 7);
    assert!(reader.client().stopped().is_none());
    fake.assert_all_signed();
}

#[tokio::test]
async fn error_10_permission_denied_marks_the_source_unavailable() {
    source_unavailable(10).await;
}

#[tokio::test]
async fn error_300_not_found_marks_the_source_unavailable() {
    source_unavailable(300).await;
}

#[tokio::test]
async fn unknown_group_is_unavailable() {
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-gone", "54390000000999", false, CommentsPolicy::None);
    let err = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap_err();
    assert!(matches!(&err, CollectError::Unavailable(m) if m.contains("not found")), "{err:?}");
    assert!(fake.calls("mediatopic.getTopics").is_empty());
    let bad = source("ok-bad", "kamenka_adm", false, CommentsPolicy::None);
    assert!(matches!(reader.poll(&bad, &Cursor::new(&bad.id)).await, Err(CollectError::Unavailable(_))));
}

/// `code` stops the credential: a loud config error, and no further request from it.
async fn stops_the_credential(code: i64, hint: &str) {
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    fake.inject("mediatopic.getTopics", code, 1);
    let err = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap_err();
    match &err {
        CollectError::Config(reason) => {
            assert!(
                reason.contains(&format!("error {code}")) && reason.contains(hint) && reason.contains(APP_KEY),
                "{reason}"
            );
            assert!(!reason.contains(APP_SECRET) && !reason.contains(TOKEN));
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(reader.client().stopped().is_some());
    let sent = fake.requests().len();
    let again = reader
        .poll(&source("ok-other", OTHER_GID, false, CommentsPolicy::None), &Cursor::new("ok-other"))
        .await
        .unwrap_err();
    assert!(matches!(again, CollectError::Config(_)));
    assert_eq!(fake.requests().len(), sent, "a stopped credential sends nothing");
    fake.assert_all_signed();
}

#[tokio::test]
async fn error_101_bad_application_key_stops_the_credential() {
    stops_the_credential(101, "application_key").await;
}

#[tokio::test]
async fn error_102_session_expired_stops_the_credential() {
    stops_the_credential(102, "expired").await;
}

#[tokio::test]
async fn error_103_invalid_session_stops_the_credential() {
    stops_the_credential(103, "access token").await;
}

#[tokio::test]
async fn error_104_bad_signature_stops_the_credential() {
    stops_the_credential(104, "signature").await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_104_and_stops_the_credential() {
    let fake = group_fake().await;
    let wrong = "0A1B2C3D4E5F60718293AXXX";
    let reader = reader_with(&config(&fake.base()), wrong);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    let err = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap_err();
    let CollectError::Config(reason) = &err else { panic!("{err:?}") };
    assert!(
        reason.contains("104") && reason.contains("PARAM_SIGNATURE") && reason.contains("application_secret_key"),
        "{reason}"
    );
    assert!(!reason.contains(wrong) && !reason.contains(TOKEN), "{reason}");
    assert_eq!(fake.api.lock().unwrap().bad_signatures, 1);
    assert!(reader.poll(&src, &Cursor::new(&src.id)).await.is_err());
    assert_eq!(fake.requests().len(), 1, "stopped after the first refusal");
    // The same server accepts the right secret.
    assert!(reader_with(&config(&fake.base()), APP_SECRET).poll(&src, &Cursor::new(&src.id)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credential_rate_limit_holds_across_concurrent_sources() {
    let fake = FakeOk::start().await;
    let gids: Vec<String> = (0..4).map(|i| format!("5439000000100{i}")).collect();
    for (n, gid) in gids.iter().enumerate() {
        let base = 300 + 10 * n as u64;
        // 3 topics (one page), comments under 2 of them (one call each).
        fake.set_topics(
            gid,
            (0..3u64).map(|i| topic(gid, base + 3 - i, 3 + i as i64, "текст", u64::from(i < 2) * 2)).collect(),
        );
        for i in 0..2u64 {
            fake.set_comments(
                base + 3 - i,
                vec![comment(&format!("k{n}x{i}a"), 2, "a"), comment(&format!("k{n}x{i}b"), 1, "b")],
            );
        }
    }
    let mut cfg = config(&fake.base());
    let rate = Rate::parse("4/400ms").unwrap();
    cfg.rate = rate;
    let reader = reader_with(&cfg, APP_SECRET);
    let sources: Vec<Source> = gids.iter().map(|g| source(&format!("ok-{g}"), g, false, CommentsPolicy::All)).collect();
    let cursors: Vec<Cursor> = sources.iter().map(|s| Cursor::new(&s.id)).collect();
    let batch: Vec<(&Source, &Cursor)> = sources.iter().zip(&cursors).collect();
    let started = Instant::now();
    let outcomes = reader.poll_many(&batch).await;
    for outcome in &outcomes {
        assert_eq!(outcome.as_ref().unwrap().posts.len(), 3 + 4);
    }
    let mut times: Vec<Instant> = fake.requests().iter().map(|r| r.at).collect();
    times.sort();
    // 4 sources × (getInfo + 1 page + 2 topics' comments) = 16 requests at 4 per 400 ms: the
    // 13th cannot be granted before 1.2 s.
    assert_eq!(times.len(), 16);
    assert!(started.elapsed() >= Duration::from_millis(1200), "{:?}", started.elapsed());
    // Count violations in every sliding window. The limiter grants at send time; arrival at the
    // server is later by connect and scheduling jitter (a burst's last request more than its
    // first), so the window is shortened by that slack. Limiting per source instead of per
    // credential, or not at all, puts 8–16 requests in one window.
    let window = rate.period - Duration::from_millis(60);
    let violations: Vec<usize> =
        (0..times.len()).filter(|&i| times[i..].iter().take_while(|&&t| t - times[i] < window).count() > 4).collect();
    assert!(violations.is_empty(), "{violations:?}: {:?}", times.iter().map(|t| *t - times[0]).collect::<Vec<_>>());
    fake.assert_all_signed();
}

#[tokio::test]
async fn a_bad_topics_page_goes_to_the_dlq_without_credentials_in_its_origin() {
    let fake = FakeOk::start().await;
    let server = FakeServer::start({
        let api = fake.api.clone();
        move |req| {
            if req.param("method") == Some("mediatopic.getTopics") && req.param("anchor").is_some() {
                FakeResponse::json(r#"{"media_topics": [{"id": "1", "created_ms": 1}"#)
            } else {
                handle(&mut api.lock().unwrap(), req)
            }
        }
    })
    .await;
    fake.set_topics(GID, (0..7u64).map(|i| topic(GID, 107 - i, 5 + i as i64, "тема", 0)).collect());
    let reader = reader_with(&config(&format!("{}/fb.do", server.url())), APP_SECRET);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    let outcome = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    assert_eq!(outcome.posts.len(), 3, "the first page is kept");
    assert_eq!(outcome.bad_pages.len(), 1);
    let origin = &outcome.bad_pages[0].origin;
    assert!(origin.contains("mediatopic.getTopics") && origin.contains(GID), "{origin}");
    assert!(!origin.contains(TOKEN) && !origin.contains("sig=") && !origin.contains('?'), "{origin}");
}

#[tokio::test]
async fn unread_comments_are_retried_next_poll() {
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::All);
    // The first comments call hits a flood block: comments stop for this poll.
    fake.inject("discussions.getComments", 8, 1);
    let first = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    assert_eq!(first.posts.iter().filter(|p| p.item_kind == ItemKind::Comment).count(), 0);
    assert_eq!(first.posts.len(), 7, "topics are published anyway");
    // The next poll reads the comments of the two topics it could not read before.
    let second = reader.poll(&src, &first.cursor).await.unwrap();
    let comments = second.posts.iter().filter(|p| p.item_kind == ItemKind::Comment).count();
    assert_eq!(comments, 6, "{:?}", uids(&second.posts));
    let third = reader.poll(&src, &second.cursor).await.unwrap();
    assert!(third.posts.is_empty(), "{:?}", uids(&third.posts));
    assert_eq!(third.cursor.status, SourceStatus::Ok);
    fake.assert_all_signed();
}

#[test]
fn secrets_resolve_from_env_or_files_and_never_print() {
    let dir = std::env::temp_dir().join(format!("otklik-ok-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let env = |name: &str| (name == "MY_OK_SECRET").then(|| APP_SECRET.to_owned());
    let cfg = OkConfig {
        application_key: APP_KEY.into(),
        application_secret_key_env: Some("MY_OK_SECRET".into()),
        access_token_file: Some("token".into()),
        ..OkConfig::default()
    };
    let creds = cfg.resolve_credentials_with(&env, Some(&dir)).unwrap();
    assert_eq!(creds.access_token.expose(), TOKEN, "file trimmed");
    assert_eq!(creds.application_secret_key.expose(), APP_SECRET);
    let shown = format!("{creds:?}");
    assert!(!shown.contains(TOKEN) && !shown.contains(APP_SECRET), "{shown}");

    // Every problem at once, each naming where the secret should have come from.
    let none = |_: &str| None;
    let missing = OkConfig {
        application_key: APP_KEY.into(),
        access_token_file: Some("nope".into()),
        session_secret_key_env: Some("OK_SESSION".into()),
        ..OkConfig::default()
    };
    let err = missing.resolve_credentials_with(&none, Some(&dir)).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems.len(), 3, "{text}");
    assert!(
        text.contains("OTKLIK_OK_APPLICATION_SECRET_KEY") && text.contains("nope") && text.contains("OK_SESSION"),
        "{text}"
    );
    let both = OkConfig { access_token_env: Some("A".into()), access_token_file: Some("token".into()), ..cfg.clone() };
    assert!(both.resolve_credentials_with(&env, Some(&dir)).unwrap_err().to_string().contains("keep one"));
    // A secret that was found never shows in errors about the others.
    let partly = OkConfig { access_token_file: Some("nope".into()), ..cfg };
    let text = partly.resolve_credentials_with(&env, Some(&dir)).unwrap_err().to_string();
    assert!(!text.contains(APP_SECRET), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_has_defaults_parses_strings_and_refuses_unknown_fields() {
    let cfg: OkConfig = serde_json::from_value(
        json!({"application_key": APP_KEY, "rate": "3/s", "recheck_window": "24h", "flood_backoff": "2m"}),
    )
    .unwrap();
    assert_eq!(cfg.api_base, "https://api.ok.ru/fb.do");
    assert_eq!(cfg.rate, Rate::per_second(3));
    assert_eq!(cfg.walk_limits().recheck_window, Duration::from_secs(24 * 3600));
    assert_eq!(cfg.flood_backoff, Duration::from_secs(120));
    assert!(cfg.validate().is_empty());
    assert_eq!(OkConfig::default().rate, Rate::per_second(5));
    let err = serde_json::from_value::<OkConfig>(json!({"access_token": "x"})).unwrap_err().to_string();
    assert!(err.contains("unknown field"), "{err}");
    assert!(serde_json::from_value::<OkConfig>(json!({"rate": "fast"}))
        .unwrap_err()
        .to_string()
        .contains("invalid rate"));
    assert!(serde_json::from_value::<OkConfig>(json!({"recheck_window": "2 days"})).is_err());
    let problems = OkConfig { page_size: 500, api_base: "api.ok.ru".into(), ..OkConfig::default() }.validate();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["api_base", "application_key", "page_size"]);
}

#[tokio::test]
async fn the_shared_collector_publishes_ok_posts_and_cursors() {
    use otklik_collect::{Collector, CollectorTopics};
    use otklik_pipeline::{Backoff, Bus, DeadLetters, MemoryBus, StageMetrics};

    let fake = group_fake().await;
    let bus = MemoryBus::new(2);
    let collector = Collector {
        reader: Arc::new(reader(&fake)),
        publisher: bus.publisher(),
        topics: CollectorTopics { raw: "raw".into(), cursors: "cursors".into(), stats: "stats".into() },
        dead_letters: DeadLetters {
            publisher: bus.publisher(),
            topic: "dlq".into(),
            stage: "collect".into(),
            backoff: Backoff::default(),
        },
        backoff: Backoff::default(),
        metrics: Arc::new(StageMetrics::default()),
        polls: Default::default(),
    };
    let sources = [
        source("ok-kamenka", GID, true, CommentsPolicy::OfficialPosts),
        source("ok-gone", "54390000000999", false, CommentsPolicy::None),
    ];
    let mut cursors = HashMap::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let summary = collector.poll_all(&sources, &mut cursors, &shutdown).await.unwrap();
    assert_eq!(summary.posts, 7 + 6);
    assert_eq!(summary.unavailable.len(), 1);
    assert_eq!(cursors["ok-kamenka"].newest_id, Some(107));
    assert!(matches!(cursors["ok-gone"].status, SourceStatus::Unavailable { .. }));

    let mut sub = bus.subscribe("reader", &["raw"]).await.unwrap();
    let mut keys = Vec::new();
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {
        keys.push(m.key_str().unwrap_or_default());
    }
    assert_eq!(keys.len(), 13);
    assert!(keys.contains(&format!("ok:{GID}:107:ccmA1")));

    // The next pass skips the unavailable group and finds nothing new in the other.
    let again = collector.poll_all(&sources, &mut cursors, &shutdown).await.unwrap();
    assert_eq!((again.polled, again.posts), (1, 0));
    fake.assert_all_signed();
}

#[test]
fn a_session_secret_signs_instead_of_the_token_digest() {
    let cfg = config("http://127.0.0.1:9/fb.do");
    let session = "ae5362b5b588cc7294c2414d71b74d5d";
    let creds = OkCredentials { session_secret_key: Some(Secret::new(session)), ..credentials(APP_SECRET) };
    let client = OkClient::from_config(&cfg, creds).unwrap();
    let url = client.signed_url("mediatopic.getTopics", &[("gid", GID), ("count", "3")]);
    let query: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let sig = query.iter().find(|(k, _)| k == "sig").map(|(_, v)| v.clone()).unwrap();
    let unsigned: Vec<(&str, &str)> =
        query.iter().filter(|(k, _)| k != "sig").map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(sig, sign::signature(&unsigned, SigningSecret::SessionSecret(session)));
    assert_ne!(
        sig,
        sign::signature(
            &unsigned,
            SigningSecret::AccessToken { access_token: TOKEN, application_secret_key: APP_SECRET }
        )
    );
    assert!(query.iter().any(|(k, v)| k == "access_token" && v == TOKEN));
    assert!(!format!("{client:?}").contains(TOKEN) && !format!("{client:?}").contains(APP_SECRET));
    assert!(!client.limit_key().contains(TOKEN));
}

/// Every tracing event as `LEVEL field=value …`, for checking what the client logs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Line(String);
        impl tracing::field::Visit for Line {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn a_stopped_credential_is_logged_loudly_without_secrets() {
    let logs = Logs::default();
    // tracing caches each callsite's interest when it is first hit. With a single registered
    // dispatcher it asks only the hitting thread's default, so a parallel test thread (no
    // subscriber) could switch the client's error! off for everyone; a second live dispatcher
    // makes tracing ask every registered one.
    let _second = tracing::Dispatch::new(Logs::default());
    let _guard = tracing::subscriber::set_default(logs.clone());
    let fake = group_fake().await;
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    fake.inject("mediatopic.getTopics", 8, 1);
    assert!(reader.poll(&src, &Cursor::new(&src.id)).await.is_err());
    fake.inject("mediatopic.getTopics", 102, 1);
    assert!(reader.poll(&src, &Cursor::new(&src.id)).await.is_err());
    let lines = logs.0.lock().unwrap().clone();
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{lines:#?}");
    assert!(
        errors[0].contains("code=102") && errors[0].contains("stopped") && errors[0].contains(APP_KEY),
        "{}",
        errors[0]
    );
    assert!(lines.iter().any(|l| l.starts_with("WARN") && l.contains("code=8")), "{lines:#?}");
    for line in &lines {
        assert!(!line.contains(TOKEN) && !line.contains(APP_SECRET) && !line.contains("sig="), "{line}");
    }
}

/// Topics with ids OK does not issue (`"abc"`, `"-5"`) are not published: each goes to the DLQ on
/// its own, without credentials in its origin, and the group's real topics are published.
#[tokio::test]
async fn topics_with_impossible_ids_go_to_the_dlq_one_by_one() {
    let fake = FakeOk::start().await;
    let mut topics: Vec<Value> = (0..3u64).map(|i| topic(GID, 103 - i, 5 + i as i64, "тема", 0)).collect();
    topics[0]["id"] = json!("abc");
    topics[2]["id"] = json!("-5");
    fake.set_topics(GID, topics);
    let reader = reader(&fake);
    let src = source("ok-kamenka", GID, false, CommentsPolicy::None);
    let outcome = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
    assert_eq!(uids(&outcome.posts), [format!("ok:{GID}:102")]);
    let errors: Vec<String> = outcome.bad_pages.iter().map(|b| b.error.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains(&format!("item 0: ok:{GID}:abc: topic id \"abc\"")), "{errors:?}");
    assert!(errors[1].contains(&format!("item 2: ok:{GID}:-5: topic id \"-5\"")), "{errors:?}");
    for bad in &outcome.bad_pages {
        let origin = &bad.origin;
        assert!(origin.contains(GID) && !origin.contains(TOKEN) && !origin.contains("sig="), "{origin}");
    }
}

#[tokio::test]
async fn member_counts_from_first_contact_then_one_group_info_per_pass() {
    let fake = FakeOk::start().await;
    fake.set_topics(GID, vec![topic(GID, 101, 5, "Тема 101", 0)]);
    fake.set_topics(OTHER_GID, vec![topic(OTHER_GID, 201, 5, "Тема 201", 0)]);
    fake.set_members(GID, 4200);
    let reader = reader(&fake);
    let sources =
        [source("ok-a", GID, false, CommentsPolicy::None), source("ok-b", OTHER_GID, false, CommentsPolicy::None)];
    let audiences = |results: &[Result<otklik_collect::PollOutcome, CollectError>]| -> Vec<Option<u64>> {
        results.iter().map(|r| r.as_ref().unwrap().audience).collect()
    };

    // First contact: each group's existence check shows its members (or not), and is the only
    // group.getInfo of the pass.
    let (new_a, new_b) = (Cursor::new("ok-a"), Cursor::new("ok-b"));
    let first = reader.poll_many(&[(&sources[0], &new_a), (&sources[1], &new_b)]).await;
    assert_eq!(audiences(&first), [Some(4200), None]);
    assert_eq!(fake.calls("group.getInfo").len(), 2);
    assert!(fake.calls("group.getInfo").iter().all(|r| r.param("fields").is_some_and(|f| f.contains("members_count"))));

    // A later pass: one group.getInfo for every group.
    fake.set_members(GID, 4300);
    fake.set_members(OTHER_GID, 17);
    let (a, b) = (first[0].as_ref().unwrap().cursor.clone(), first[1].as_ref().unwrap().cursor.clone());
    let second = reader.poll_many(&[(&sources[0], &a), (&sources[1], &b)]).await;
    assert_eq!(audiences(&second), [Some(4300), Some(17)]);
    let calls = fake.calls("group.getInfo");
    assert_eq!(calls.len(), 3);
    let mut asked: Vec<&str> = calls[2].param("uids").unwrap_or_default().split(',').collect();
    asked.sort_unstable();
    assert_eq!(asked, [GID, OTHER_GID]);

    // OK refusing the read costs the pass its audiences, nothing else.
    fake.inject("group.getInfo", 10, usize::MAX);
    let third = reader.poll_many(&[(&sources[0], &a), (&sources[1], &b)]).await;
    assert_eq!(audiences(&third), [None, None]);
    fake.assert_all_signed();
}

/// Response tracking end to end on OK: what two polls of a group collect, run through
/// first-reply finding, gives each complaint its own first reply.
mod replies {
    use super::*;
    use otklik_model::{PostKind, RawPost};
    use otklik_respond::{first_replies, Complaint, Item, OrgType, Organisation, Responders};

    const UK: &str = "577700000001";
    const RESIDENT: &str = "571200000502";
    const NEIGHBOUR: &str = "571200000503";
    const PASSER_BY: &str = "571200000504";

    /// One «now» for the whole scenario, so delays come out exact whenever the clock ticks.
    fn minutes_ago(minutes: i64) -> chrono::DateTime<Utc> {
        static NOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
        let now = *NOW.get_or_init(|| Utc::now().timestamp());
        chrono::DateTime::from_timestamp(now - minutes * 60, 0).unwrap()
    }

    fn resident_topic(id: u64, minutes: i64, text: &str, comments: u64) -> Value {
        json!({
            "id": id.to_string(), "media": [{"type": "text", "text": text}],
            "created_ms": minutes_ago(minutes).timestamp_millis(),
            "discussion_summary": {"comments_count": comments}, "like_summary": {"count": 0},
            "author_ref": format!("user:{RESIDENT}"), "owner_ref": format!("group:{GID}"),
        })
    }

    /// A comment by `author`; `answers` is OK's `reply_to_comment_id`.
    fn ok_comment(id: &str, author: &str, minutes: i64, answers: Option<&str>, text: &str) -> Value {
        let moscow = minutes_ago(minutes) + TimeDelta::hours(3);
        let mut c = json!({"id": id, "author_id": author, "author_name": "Житель", "text": text,
                           "date": moscow.format("%Y-%m-%d %H:%M:%S").to_string()});
        if let Some(answered) = answers {
            c["reply_to_comment_id"] = json!(answered);
        }
        c
    }

    fn responders() -> Responders {
        Responders::new(vec![Organisation {
            id: "uk-dom".into(),
            name: "УК «Дом»".into(),
            org_type: OrgType::Uk,
            municipality: Some("56701000".into()),
            inn: None,
            accounts: vec![(Platform::Ok, UK.into())],
            sources: vec![],
        }])
    }

    /// What reply finding needs; the kind stands in for the classifier's.
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
            municipality: None,
            url: post.url.clone(),
        }
    }

    fn first_reply(complaints: &[Complaint], uid: &str) -> Option<(String, i64)> {
        let complaint = complaints.iter().find(|c| c.uid == uid).unwrap_or_else(|| panic!("{uid} is no complaint"));
        complaint.reply.as_ref().map(|r| (r.uid.clone(), r.delay.num_minutes()))
    }

    #[tokio::test]
    async fn later_polls_find_each_complaints_first_reply_inside_the_recheck_window() {
        let fake = FakeOk::start().await;
        // Topic 202: a resident's complaint 3 h ago, a neighbour's complaint under it. Topic 201:
        // a complaint 60 h ago, older than the 48 h re-check window.
        let complaint = "Нет отопления третий день, Ладожская 101";
        fake.set_topics(
            GID,
            vec![resident_topic(202, 180, complaint, 1), resident_topic(201, 3600, "Нет воды неделю", 0)],
        );
        fake.set_comments(202, vec![ok_comment("cR1", NEIGHBOUR, 170, None, "У нас тоже холодно")]);
        let mut cfg = config(&fake.base());
        cfg.recheck_window = Duration::from_secs(48 * 3600);
        let reader = reader_with(&cfg, APP_SECRET);
        let src = source("ok-kvartal", GID, false, CommentsPolicy::All);
        let first = reader.poll(&src, &Cursor::new(&src.id)).await.unwrap();
        assert_eq!(uids(&first.posts).len(), 3, "{:?}", uids(&first.posts));

        // Later: a passer-by answers the neighbour; the УК answers the topic two hours after it
        // was written; the neighbour asks the УК back (a reply to a reply) and is answered; the
        // УК answers the neighbour's complaint too. The old topic gets its answer only now.
        fake.set_topics(
            GID,
            vec![resident_topic(202, 180, complaint, 6), resident_topic(201, 3600, "Нет воды неделю", 1)],
        );
        fake.set_comments(
            202,
            vec![
                ok_comment("cR1", NEIGHBOUR, 170, None, "У нас тоже холодно"),
                ok_comment("cN1", PASSER_BY, 160, Some("cR1"), "Звоните в аварийку"),
                ok_comment("cU1", UK, 60, None, "Здравствуйте! Заявка принята, бригада выехала."),
                ok_comment("cR2", NEIGHBOUR, 45, Some("cU1"), "А когда дадут тепло?"),
                ok_comment("cU3", UK, 20, Some("cR1"), "Стояк на вашем подъезде запустили"),
                ok_comment("cU2", UK, 15, Some("cR2"), "Сегодня до 18:00 запустим."),
            ],
        );
        fake.set_comments(201, vec![ok_comment("cU4", UK, 10, None, "Здравствуйте, разберёмся.")]);
        let second = reader.poll(&src, &first.cursor).await.unwrap();
        let got = uids(&second.posts);
        assert!(got.contains(&format!("ok:{GID}:202:ccU2")), "the reply to a reply was collected: {got:?}");
        assert!(!got.iter().any(|u| u.starts_with(&format!("ok:{GID}:201"))), "topic 201 is past the window: {got:?}");
        fake.assert_all_signed();

        // Delivered twice: the second poll's posts again change nothing.
        let collected: Vec<Item> =
            [first.posts, second.posts.clone(), second.posts].concat().iter().map(item).collect();
        let complaints = first_replies(&collected, &responders());
        let reply = |c: &str, delay: i64| Some((format!("ok:{GID}:202:c{c}"), delay));
        assert_eq!(first_reply(&complaints, &format!("ok:{GID}:202")), reply("cU1", 120), "the УК's comment 2 h later");
        assert_eq!(first_reply(&complaints, &format!("ok:{GID}:202:ccR1")), reply("cU3", 150), "not the passer-by's");
        assert_eq!(first_reply(&complaints, &format!("ok:{GID}:202:ccR2")), reply("cU2", 30), "the reply to a reply");
        assert_eq!(first_reply(&complaints, &format!("ok:{GID}:201")), None, "answered after the re-check window");
        assert!(complaints.iter().all(|c| c.reply.as_ref().is_none_or(|r| r.by == "uk-dom")));
        assert_eq!(complaints.len(), 4, "{complaints:?}");
    }
}
