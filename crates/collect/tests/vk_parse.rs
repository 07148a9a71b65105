//! VK parser: snapshot tests over every fixture in `tests/fixtures/vk/` (each `X.json` has its
//! reviewed output in the insta snapshot `X.snap`; see `common::snapshot`), plus targeted
//! assertions on the behaviour the snapshots encode.

mod common;

use chrono::{TimeZone, Utc};
use otklik_collect::vk::{self, VkErrorClass, VkResponseError};
use otklik_collect::{ParseContext, RawPost};
use otklik_model::{ItemKind, Platform, PostUid};
use serde_json::{json, Value};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/vk")
}

fn ctx() -> ParseContext {
    ParseContext::new(Utc.with_ymd_and_hms(2025, 11, 14, 12, 0, 0).unwrap())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("reading fixture {name}: {e}"))
}

fn posts(name: &str) -> Vec<RawPost> {
    vk::parse_saved_response(&fixture(name), &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What a fixture turns into, as reviewable JSON.
fn render(bytes: &[u8]) -> Value {
    match vk::parse_response(bytes, &ctx()) {
        Ok(page) => json!({
            "posts": page.posts,
            "next_from": page.next_from,
            "count": page.count,
            "execute_errors": page.execute_errors.iter().map(render_api_error).collect::<Vec<_>>(),
            "bad_items": page.bad_items.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
            "empty": page.empty.map(|e| e.reason),
        }),
        Err(VkResponseError::Api(e)) => json!({ "api_error": render_api_error(&e) }),
        Err(VkResponseError::Parse(e)) => json!({ "parse_error": e.to_string() }),
    }
}

fn render_api_error(e: &vk::VkApiError) -> Value {
    json!({
        "code": e.code,
        "message": e.message,
        "method": e.method,
        "class": e.class().name(),
        "retryable": e.class().is_retryable(),
        "request_params": e.request_params,
        "captcha_sid": e.captcha_sid,
    })
}

#[test]
fn fixtures_match_snapshots() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "expected the full fixture set, found {names:?}");
    for name in &names {
        let actual = serde_json::to_string_pretty(&render(&fixture(name))).unwrap();
        common::snapshot::assert_fixture_snapshot(&fixtures(), name.trim_end_matches(".json"), &actual);
    }
}

#[test]
fn wall_get_maps_every_field() {
    let posts = posts("wall_get.json");
    assert_eq!(posts.len(), 4);

    let pinned = &posts[0];
    assert_eq!(pinned.uid.to_string(), "vk:-170000001:31245");
    assert_eq!(pinned.url.as_deref(), Some("https://vk.com/wall-170000001_31245"));
    assert_eq!(pinned.source_id, "vk:-170000001");
    assert!(pinned.pinned && !pinned.ads && !pinned.edited);
    assert_eq!(pinned.author.id.as_deref(), Some("-170000001"));
    assert_eq!(pinned.author.name.as_deref(), Some("Администрация города Пензы"));
    assert!(pinned.author.is_source);
    assert_eq!(pinned.published_at, Utc.timestamp_opt(1763020800, 0).unwrap());
    assert_eq!(pinned.collected_at, ctx().collected_at);
    // Mention markup is gone, the visible words stay.
    assert!(pinned.text.contains("— Центр управления регионом передаст"), "{}", pinned.text);
    assert_eq!(
        (pinned.counters.views, pinned.counters.likes, pinned.counters.reposts, pinned.counters.comments),
        (Some(48210), Some(154), Some(12), Some(23))
    );
    // The largest photo size wins.
    assert_eq!(pinned.attachments[0].kind, "photo");
    assert_eq!(
        pinned.attachments[0].url.as_deref(),
        Some("https://sun9-12.userapi.com/impg/teplo_z.jpg?size=1280x960")
    );
    assert_eq!(pinned.attachments[1].kind, "post_source");
    assert_eq!(pinned.attachments[1].title.as_deref(), Some("vk"));

    let resident = &posts[1];
    assert_eq!(resident.author.id.as_deref(), Some("1001"));
    assert_eq!(resident.author.name.as_deref(), Some("Мария Ковалёва"));
    assert!(!resident.author.is_source);
    assert!(resident.edited);
    assert_eq!(resident.edited_at, Some(Utc.timestamp_opt(1762959000, 0).unwrap()));
    let geo = resident.geo.as_ref().unwrap();
    assert_eq!(
        (geo.lat, geo.lon, geo.place.as_deref()),
        (Some(53.195063), Some(45.018316), Some("Пенза, улица Московская"))
    );
    assert_eq!(resident.attachments[0].kind, "video");
    assert_eq!(resident.attachments[0].url.as_deref(), Some("https://vk.com/video1001_456239112"));
    assert_eq!(resident.attachments[1].description.as_deref(), Some("android"));

    let repost = &posts[2];
    let origin = repost.repost_of.as_ref().unwrap();
    assert_eq!(origin.uid.as_ref().unwrap().to_string(), "vk:-33000000:8812");
    assert_eq!(origin.name.as_deref(), Some("Заречный — наш город"));
    assert!(origin.text.starts_with("Внимание, жители Заречного!"));
    assert!(repost.full_text().contains("Делимся новостью коллег.\n\nВнимание"));

    let ad = &posts[3];
    assert!(ad.ads);
    let kinds: Vec<_> = ad.attachments.iter().map(|a| (a.kind.as_str(), a.title.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            ("poll", Some("Как часто убирают ваш двор?")),
            ("document", Some("Вакансии_дворник.pdf")),
            ("audio", Some("Городской оркестр — Гимн Пензы"))
        ]
    );
}

#[test]
fn strings_for_numbers_and_missing_fields_are_tolerated() {
    let posts = posts("wall_get_bare_strings.json");
    // The deleted post is skipped.
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].uid.to_string(), "vk:-170000003:7705");
    assert_eq!(posts[0].counters.views, Some(3120));
    assert!(!posts[0].edited && posts[0].edited_at.is_none());
    assert!(posts[0].text.contains('\n'), "line breaks are kept");
    let sparse = &posts[1];
    assert_eq!(sparse.text, "");
    assert_eq!(sparse.counters.likes, None);
    assert_eq!(sparse.counters.views, Some(905), "a bare number counter");
    assert_eq!(sparse.author.id.as_deref(), Some("-170000003"), "no from_id: the owner wrote it");
    assert_eq!(sparse.geo.as_ref().unwrap().place.as_deref(), Some("Кузнецк, микрорайон Северный"));
    assert_eq!(sparse.geo.as_ref().unwrap().lat, None);
}

#[test]
fn comments_threads_and_deleted_comments() {
    let posts = posts("wall_get_comments.json");
    let uids: Vec<String> = posts.iter().map(|p| p.uid.to_string()).collect();
    // The deleted 31255 is skipped; its reply 31258 survives.
    assert_eq!(
        uids,
        [
            "vk:-170000001:31245:c31250",
            "vk:-170000001:31245:c31262",
            "vk:-170000001:31245:c31270",
            "vk:-170000001:31245:c31258",
            "vk:-170000001:31245:c31280"
        ]
    );
    assert!(posts.iter().all(|p| p.item_kind == ItemKind::Comment));
    let parent = |i: usize| posts[i].parent_uid.as_ref().unwrap().to_string();
    assert_eq!(parent(0), "vk:-170000001:31245");
    assert_eq!(parent(1), "vk:-170000001:31245:c31250");
    assert_eq!(parent(2), "vk:-170000001:31245:c31262", "reply_to_comment names the comment answered");
    assert_eq!(parent(3), "vk:-170000001:31245:c31255", "a reply under a deleted comment still points at it");
    assert_eq!(posts[1].url.as_deref(), Some("https://vk.com/wall-170000001_31245?reply=31262&thread=31250"));
    assert_eq!(posts[0].url.as_deref(), Some("https://vk.com/wall-170000001_31245?reply=31250"));
    assert!(posts[1].author.is_source && !posts[0].author.is_source);
    assert_eq!(posts[1].text, "Ольга, обращение передано в управляющую компанию, специалисты придут сегодня до 18:00.");
    assert_eq!(posts[0].author.name.as_deref(), Some("Ольга Сергеева"));
    assert_eq!(posts[3].author.name.as_deref(), Some("Дмитрий"));
    assert_eq!(posts[0].counters.comments, Some(2), "thread size");
    assert_eq!(posts[4].attachments.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(), ["photo", "sticker"]);

    let bare = self::posts("wall_get_comments_bare_strings.json");
    assert_eq!(bare.len(), 3);
    assert_eq!(bare[1].parent_uid.as_ref().unwrap().to_string(), "vk:-170000003:7705:c8801");
    assert_eq!(bare[2].author.id, None, "a comment without from_id has no author id");
}

#[test]
fn comments_without_post_id_use_the_context_parent() {
    let body =
        r#"{"response":{"count":1,"items":[{"id":77,"from_id":5,"date":1763000000,"text":"Когда починят лифт?"}]}}"#
            .as_bytes();
    let mut ctx = ctx();
    ctx.parent = Some(PostUid::post(Platform::Vk, "-170000001", "31245").unwrap());
    ctx.source_id = Some("vk-penza-adm".into());
    let posts = vk::parse_saved_response(body, &ctx).unwrap();
    assert_eq!(posts[0].uid.to_string(), "vk:-170000001:31245:c77");
    assert_eq!(posts[0].parent_uid.as_ref().unwrap().to_string(), "vk:-170000001:31245");
    assert_eq!(posts[0].source_id, "vk-penza-adm");
    // Without a parent such an item is a post and needs an owner: a clear error, not a guess.
    let err = vk::parse_saved_response(body, &self::ctx()).unwrap_err();
    assert!(err.reason.contains("owner_id"), "{err}");
}

#[test]
fn newsfeed_search_pages_by_next_from() {
    let page = vk::parse_response(&fixture("newsfeed_search.json"), &ctx()).unwrap();
    assert_eq!(page.next_from.as_deref(), Some("2/-61000001_99120"));
    assert_eq!(page.count, Some(1874), "total_count wins over the page count");
    assert_eq!(page.posts[0].source_id, "vk:6051");
    assert_eq!(page.posts[1].author.name.as_deref(), Some("Подслушано Пенза"));
    assert_eq!(
        page.posts[1].attachments[0].url.as_deref(),
        Some("https://vk.com/photo-61000001_1"),
        "a photo without sizes links to its VK page"
    );
}

#[test]
fn execute_keeps_successes_and_reports_failed_calls() {
    let page = vk::parse_response(&fixture("execute.json"), &ctx()).unwrap();
    assert_eq!(
        page.posts.iter().map(|p| p.uid.to_string()).collect::<Vec<_>>(),
        ["vk:-170000011:2210", "vk:-170000012:560"]
    );
    let classes: Vec<_> = page.execute_errors.iter().map(|e| (e.code, e.method.as_deref(), e.class())).collect();
    assert_eq!(
        classes,
        [
            (15, Some("wall.get"), VkErrorClass::SourceUnavailable),
            (18, Some("wall.get"), VkErrorClass::SourceUnavailable)
        ]
    );
    assert_eq!(page.posts[1].author.id.as_deref(), Some("7781"));

    let nested = posts("execute_bare_nested.json");
    assert_eq!(nested.len(), 2);
    let failed = vk::parse_response(&fixture("execute_all_failed.json"), &ctx()).unwrap();
    assert!(failed.posts.is_empty());
    assert_eq!(
        failed.execute_errors.iter().map(|e| e.class()).collect::<Vec<_>>(),
        [VkErrorClass::SourceUnavailable, VkErrorClass::RateLimited]
    );
}

#[test]
fn every_error_code_is_typed_and_classified() {
    let cases = [
        (5, VkErrorClass::AuthFailed),
        (6, VkErrorClass::RateLimited),
        (9, VkErrorClass::RateLimited),
        (10, VkErrorClass::Retry),
        (14, VkErrorClass::Captcha),
        (15, VkErrorClass::SourceUnavailable),
        (18, VkErrorClass::SourceUnavailable),
        (19, VkErrorClass::SourceUnavailable),
        (29, VkErrorClass::QuotaExhausted),
        (30, VkErrorClass::SourceUnavailable),
        (100, VkErrorClass::Permanent),
        (203, VkErrorClass::SourceUnavailable),
    ];
    for (code, class) in cases {
        let name = format!("error_{code}.json");
        let Err(VkResponseError::Api(e)) = vk::parse_response(&fixture(&name), &ctx()) else {
            panic!("{name} is not an API error")
        };
        assert_eq!((e.code, e.class()), (code, class), "{name}");
        assert!(!e.message.is_empty());
        assert!(e.method.is_some(), "{name}: the method comes from request_params");
        // The plain entry point reports it as a parse failure that names the API error.
        let err = vk::parse_saved_response(&fixture(&name), &ctx()).unwrap_err();
        assert!(err.reason.contains(&format!("VK API error {code}")), "{err}");
    }
    let Err(VkResponseError::Api(captcha)) = vk::parse_response(&fixture("error_14.json"), &ctx()) else {
        unreachable!()
    };
    assert_eq!(captcha.captcha_sid.as_deref(), Some("718236471823"));
    let Err(VkResponseError::Api(auth)) = vk::parse_response(&fixture("error_5.json"), &ctx()) else { unreachable!() };
    let rendered = format!("{auth:?} {auth}");
    assert!(!rendered.contains("SHOULD-NEVER-SHOW-UP"), "tokens echoed by VK are redacted: {rendered}");
}

#[test]
fn malformed_input_gets_a_clear_error() {
    let cases = [
        ("malformed_truncated.json", "truncated JSON"),
        ("malformed_not_vk.json", "not a VK API response"),
        ("malformed_bad_id.json", "not an integer"),
        ("malformed_huge_float.json", "number out of range"),
        ("malformed_u64_overflow.json", "not an integer within the 64-bit range"),
        ("malformed_missing_date.json", "item 0 (id 5): no date"),
        ("malformed_top_scalar.json", "neither an object nor a list"),
    ];
    for (name, expected) in cases {
        let err = vk::parse_saved_response(&fixture(name), &ctx()).unwrap_err();
        assert_eq!(err.platform, Platform::Vk);
        assert!(err.reason.contains(expected), "{name}: {err}");
    }
}

#[test]
fn invalid_utf8_deep_nesting_and_bom() {
    let mut bytes = fixture("wall_get_empty.json");
    let err = vk::parse_saved_response(b"{\"response\":{\"items\":[{\"text\":\"\xd0\"}]}}", &ctx()).unwrap_err();
    assert!(err.reason.contains("not valid UTF-8"), "{err}");

    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let err = vk::parse_saved_response(deep.as_bytes(), &ctx()).unwrap_err();
    assert!(err.reason.contains("recursion limit"), "{err}");
    let deep_objects = r#"{"response":"#.repeat(5_000) + "1" + &"}".repeat(5_000);
    assert!(vk::parse_saved_response(deep_objects.as_bytes(), &ctx()).unwrap_err().reason.contains("recursion limit"));

    bytes.splice(0..0, *b"\xEF\xBB\xBF");
    assert!(vk::parse_saved_response(&bytes, &ctx()).unwrap().is_empty(), "a saved file's BOM is not an error");
    assert!(vk::parse_saved_response(b"", &ctx()).unwrap_err().reason.contains("truncated JSON"));
}

#[test]
fn dispatch_through_the_crate_entry_point() {
    let posts = otklik_collect::parse_saved_response(Platform::Vk, &fixture("wall_get.json"), &ctx()).unwrap();
    assert_eq!(posts.len(), 4);
    // Every post survives the wire round trip (the model's schema checks included).
    for post in &posts {
        let back: RawPost = otklik_model::decode("RawPost", &otklik_model::encode(post)).unwrap();
        assert_eq!(&back, post);
    }
}

/// Every VK file of the demo dataset (`config/demo/feeds/vk`) parses, and the counts match its
/// README: 131 wall posts + 8 search results, 156 comments.
#[test]
fn demo_dataset_parses() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/demo/feeds/vk");
    let (mut posts, mut comments) = (0, 0);
    for feed in std::fs::read_dir(&root).unwrap() {
        for file in std::fs::read_dir(feed.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            // The demo feeds are dated near the time they were generated; collect them "now".
            let parsed = vk::parse_saved_response(&std::fs::read(&path).unwrap(), &ParseContext::new(Utc::now()))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for p in &parsed {
                match p.item_kind {
                    ItemKind::Post => posts += 1,
                    ItemKind::Comment => {
                        comments += 1;
                        assert!(p.parent_uid.is_some());
                    }
                }
            }
        }
    }
    assert_eq!((posts, comments), (139, 163));
}

/// `id: -1`, `id: 0`, `owner_id: 0`, `date: -1` and the like are not posts: each becomes a bad
/// item with its index and reason, and the page's real post is still read.
#[test]
fn items_that_are_not_posts_become_bad_items() {
    let page = vk::parse_response(&fixture("invalid_items.json"), &ctx()).unwrap();
    assert_eq!(page.posts.iter().map(|p| p.uid.to_string()).collect::<Vec<_>>(), ["vk:-170000001:31254"]);
    let bad: Vec<(usize, &str)> = page.bad_items.iter().map(|b| (b.index, b.reason.as_str())).collect();
    assert_eq!(bad[0], (0, "vk:-170000001:-1: post id -1 is not positive"));
    assert_eq!(bad[1], (1, "vk:-170000001:0: post id 0 is not positive"));
    assert_eq!(bad[2], (2, "vk:-170000001:31250: date 1969-12-31T23:59:59Z is before 2006, older than the network"));
    assert_eq!(bad[3].0, 3);
    assert!(bad[4].1.contains("more than a day after collection"), "{}", bad[4].1);
    assert_eq!(bad.len(), 6);
    assert!(page.bad_items.iter().all(|b| b.post.is_some()), "the item as read is kept for the DLQ");
    assert!(page.empty.is_none());
    let comments = vk::parse_response(&fixture("comments_invalid_reply.json"), &ctx()).unwrap();
    assert_eq!(comments.posts.len(), 2, "the thread's valid comments stay");
    assert_eq!(comments.bad_items[0].index, 0);
}

/// An answer with nothing in it is `Empty` only when a healthy VK would not send it.
#[test]
fn suspicious_empty_answers_say_why() {
    let empty = |body: &str| vk::parse_response(body.as_bytes(), &ctx()).unwrap().empty.map(|e| e.reason);
    assert_eq!(empty(r#"{"response": {"count": 5}}"#).unwrap(), "the response reports count 5 but has no items list");
    assert_eq!(
        vk::parse_response(&fixture("execute_all_failed.json"), &ctx()).unwrap().empty.unwrap().reason,
        "every call of the execute batch failed (2 calls, 2 execute_errors)"
    );
    assert_eq!(empty(r#"{"response": {}}"#).unwrap(), "the response has no items list");
    // Well-formed empty feeds: an empty wall, a page past the end, only deleted posts, one call
    // of a batch failing while another answers an empty wall.
    assert_eq!(empty(r#"{"response": {"count": 0, "items": []}}"#), None);
    assert_eq!(empty(r#"{"response": {"count": 5, "items": []}}"#), None);
    assert_eq!(empty(r#"{"response": {"count": 1, "items": [{"id": 3, "owner_id": -1, "deleted": 1}]}}"#), None);
    let one_failed = r#"{"response": [false, {"count": 0, "items": []}], "execute_errors": [{"error_code": 6}]}"#;
    assert_eq!(empty(one_failed), None);
    let parsed = otklik_collect::parse_saved(Platform::Vk, br#"{"response": {"count": 5}}"#, &ctx()).unwrap();
    assert!(parsed.posts.is_empty() && parsed.empty.is_some());
}

/// A saved `execute` result: items without `owner_id`, a member's post and a comment.
fn ownerless() -> Vec<u8> {
    let items = json!([
        { "id": 7, "from_id": 5001, "date": 1763100000, "text": "Во дворе нет света" },
        { "id": 8, "post_id": 7, "from_id": 5002, "date": 1763100300, "text": "У нас тоже" }
    ]);
    serde_json::to_vec(&json!({ "response": { "count": 2, "items": items } })).unwrap()
}

#[test]
fn items_without_owner_id_are_refused_unless_the_owner_is_given() {
    let error = vk::parse_saved_response(&ownerless(), &ctx()).unwrap_err().to_string();
    assert!(error.contains("no owner_id") && error.contains("--owner"), "{error}");
    let ctx = ParseContext { owner: Some(-1234), ..ctx() };
    let posts = vk::parse_saved_response(&ownerless(), &ctx).unwrap();
    let uids: Vec<String> = posts.iter().map(|p| p.uid.to_string()).collect();
    assert_eq!(uids, ["vk:-1234:7", "vk:-1234:7:c8"]);
    assert_eq!(posts[1].parent_uid.as_ref().map(ToString::to_string).as_deref(), Some("vk:-1234:7"));
}

#[test]
fn a_communitys_own_post_without_owner_id_belongs_to_the_community() {
    let items = json!([{ "id": 3, "from_id": -777, "date": 1763100000, "text": "Отключение воды" }]);
    let bytes = serde_json::to_vec(&json!({ "response": { "count": 1, "items": items } })).unwrap();
    let posts = vk::parse_saved_response(&bytes, &ctx()).unwrap();
    assert_eq!(posts[0].uid.to_string(), "vk:-777:3");
    assert!(posts[0].author.is_source);
}
