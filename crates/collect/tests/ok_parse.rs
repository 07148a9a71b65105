//! OK parser: snapshot tests over every fixture in `tests/fixtures/ok/` (`X.json` → the insta
//! snapshot `X.snap`, see `common::snapshot`; `discussions_*` fixtures are parsed
//! with the topic `ok:54390000000201:156000000000104` as context parent), targeted assertions,
//! and a cross-check against the demo dataset in `config/demo/feeds/ok`.

use chrono::{TimeZone, Utc};
use otklik_collect::ok::{self, OkErrorClass, OkResponseError};
use otklik_collect::{ParseContext, RawPost};
use otklik_model::{ItemKind, Platform, PostUid};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

mod common;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/ok")
}

fn topic() -> PostUid {
    PostUid::post(Platform::Ok, "54390000000201", "156000000000104").unwrap()
}

fn ctx_for(name: &str) -> ParseContext {
    let mut ctx = ParseContext::new(Utc.with_ymd_and_hms(2025, 11, 22, 12, 0, 0).unwrap());
    if name.starts_with("discussions") {
        ctx.parent = Some(topic());
    }
    ctx
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("reading fixture {name}: {e}"))
}

fn posts(name: &str) -> Vec<RawPost> {
    ok::parse_saved_response(&fixture(name), &ctx_for(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn render(name: &str, bytes: &[u8]) -> Value {
    match ok::parse_response(bytes, &ctx_for(name)) {
        Ok(page) => json!({
            "posts": page.posts, "anchor": page.anchor, "has_more": page.has_more,
            "bad_items": page.bad_items.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
            "empty": page.empty.map(|e| e.reason),
        }),
        Err(OkResponseError::Api(e)) => json!({ "api_error": {
            "code": e.code, "message": e.message, "data": e.data,
            "class": e.class().name(), "retryable": e.class().is_retryable(),
        }}),
        Err(OkResponseError::Parse(e)) => json!({ "parse_error": e.to_string() }),
    }
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
        let actual = serde_json::to_string_pretty(&render(name, &fixture(name))).unwrap();
        common::snapshot::assert_fixture_snapshot(&fixtures(), name.trim_end_matches(".json"), &actual);
    }
}

#[test]
fn topics_map_text_media_authors_and_counters() {
    let page = ok::parse_response(&fixture("mediatopic_getTopics.json"), &ctx_for("topics")).unwrap();
    assert!(page.has_more);
    assert_eq!(page.anchor.as_deref(), Some("NTQzOTAwMDAwMDAyMDE6MTU2MDAwMDAwMDAwMTAx"));
    let posts = page.posts;
    assert_eq!(posts.len(), 4);

    let official = &posts[0];
    assert_eq!(official.uid.to_string(), "ok:54390000000201:156000000000104");
    assert_eq!(official.url.as_deref(), Some("https://ok.ru/group/54390000000201/topic/156000000000104"));
    assert_eq!(official.source_id, "ok:54390000000201");
    assert_eq!(official.published_at, Utc.timestamp_millis_opt(1763028000123).unwrap());
    assert!(official.text.starts_with("Администрация Каменского района"));
    assert!(official.text.contains("Чкалова.\nЕсли батареи"), "text blocks are joined line by line: {}", official.text);
    assert!(official.author.is_source && official.pinned && !official.ads);
    assert_eq!(official.author.name.as_deref(), Some("Каменка и Каменский район | Новости"));
    assert_eq!(
        (official.counters.views, official.counters.likes, official.counters.reposts, official.counters.comments),
        (Some(5400), Some(48), Some(9), Some(17))
    );
    let atts: Vec<_> = official.attachments.iter().map(|a| (a.kind.as_str(), a.url.as_deref())).collect();
    assert_eq!(
        atts,
        [
            ("photo", Some("https://i.mycdn.example/photo11_max.jpg")),
            ("photo", Some("https://i.mycdn.example/photo12_640.jpg")),
            ("link", Some("https://kamenka.example.org/news/otoplenie")),
        ]
    );

    let resident = &posts[1];
    assert_eq!(resident.author.id.as_deref(), Some("571200000501"));
    assert_eq!(resident.author.name.as_deref(), Some("Галина Петровна Сомова"));
    assert!(!resident.author.is_source);
    assert_eq!(resident.counters.likes, Some(12), "counters sent as strings");

    let reshare = posts[2].repost_of.as_ref().unwrap();
    assert_eq!(reshare.uid.as_ref().unwrap().to_string(), "ok:54390000000202:156000000000900");
    assert_eq!(reshare.name.as_deref(), Some("Белинский район — официально"));
    assert!(reshare.text.contains("не будет электричества"));

    let promo = &posts[3];
    assert!(promo.ads);
    assert_eq!(
        promo.attachments.iter().map(|a| (a.kind.as_str(), a.title.as_deref())).collect::<Vec<_>>(),
        [("video", Some("Обзор котлов")), ("poll", Some("Какой у вас тип отопления?"))]
    );
}

#[test]
fn sparse_topics_are_tolerated() {
    let page = ok::parse_response(&fixture("mediatopic_getTopics_sparse.json"), &ctx_for("topics")).unwrap();
    assert!(!page.has_more, "\"false\" as a string");
    assert_eq!(page.anchor, None);
    let posts = page.posts;
    assert_eq!(posts[0].uid.to_string(), "ok:54390000000203:156000000000201", "numeric id");
    assert_eq!(posts[0].text, "Снег на тротуарах по улице Мира в Никольске не убирают с понедельника.");
    assert_eq!(posts[0].author, otklik_model::Author::default());
    assert_eq!(posts[1].text, "");
    assert_eq!(posts[1].counters, otklik_model::Counters::default());
    // A reshare whose origin is missing from `entities` is still marked as a reshare.
    assert_eq!(posts[2].repost_of, Some(otklik_model::RepostOrigin::default()));
}

#[test]
fn comments_convert_moscow_time_and_thread_replies() {
    let posts = posts("discussions_getComments.json");
    assert_eq!(posts.len(), 3, "the deleted comment is skipped");
    assert!(posts.iter().all(|p| p.item_kind == ItemKind::Comment));
    assert_eq!(posts[0].uid.to_string(), "ok:54390000000201:156000000000104:cMTU2MDAwMDAwMDAwMTA0OjE6YTFiMmMz");
    // 08:15 in Moscow is 05:15 UTC.
    assert_eq!(posts[0].published_at, Utc.with_ymd_and_hms(2025, 11, 21, 5, 15, 0).unwrap());
    assert_eq!(posts[2].published_at, Utc.with_ymd_and_hms(2025, 11, 21, 20, 40, 0).unwrap());
    assert_eq!(posts[0].parent_uid, Some(topic()));
    assert_eq!(posts[1].parent_uid.as_ref().unwrap(), &posts[0].uid);
    assert!(posts[1].author.is_source, "the group answering in its own topic");
    assert_eq!(posts[1].author.name.as_deref(), Some("Каменка и Каменский район | Новости"));
    assert_eq!(posts[0].author.name.as_deref(), Some("Людмила Карпова"));
    assert_eq!(posts[2].author.name.as_deref(), Some("Виктор Лаптев"));
    assert_eq!(posts[1].counters.likes, Some(2));
    assert_eq!(posts[0].url.as_deref(), Some("https://ok.ru/group/54390000000201/topic/156000000000104"));

    let epochs = self::posts("discussions_getComments_epochs.json");
    assert_eq!(epochs[0].published_at, Utc.timestamp_millis_opt(1763800000000).unwrap(), "date_ms wins");
    assert_eq!(epochs[1].published_at, Utc.timestamp_millis_opt(1763800500000).unwrap(), "a millisecond date");
    assert_eq!(epochs[2].published_at, Utc.timestamp_opt(1763801000, 0).unwrap(), "a seconds date");
    assert_eq!(epochs[0].author.id.as_deref(), Some("571200000505"), "numeric author id");
}

#[test]
fn comments_need_the_topic_as_parent() {
    let bytes = fixture("discussions_getComments.json");
    let mut ctx = ctx_for("topics");
    let err = ok::parse_saved_response(&bytes, &ctx).unwrap_err();
    assert!(err.reason.contains("ParseContext::parent"), "{err}");
    ctx.parent = Some(PostUid::post(Platform::Vk, "-1", "2").unwrap());
    assert!(ok::parse_saved_response(&bytes, &ctx).unwrap_err().reason.contains("not an OK topic uid"));
    // A comment uid as parent means its topic.
    ctx.parent = Some(topic().comment("X").unwrap());
    assert_eq!(ok::parse_saved_response(&bytes, &ctx).unwrap()[0].parent_uid, Some(topic()));
}

#[test]
fn every_error_code_is_typed_and_classified() {
    let cases = [
        (1, OkErrorClass::Retry),
        (2, OkErrorClass::Retry),
        (8, OkErrorClass::BackOff),
        (10, OkErrorClass::SourceUnavailable),
        (11, OkErrorClass::BackOff),
        (100, OkErrorClass::Permanent),
        (101, OkErrorClass::Credential),
        (102, OkErrorClass::Credential),
        (103, OkErrorClass::Credential),
        (104, OkErrorClass::Credential),
        (300, OkErrorClass::SourceUnavailable),
        (9999, OkErrorClass::Retry),
    ];
    for (code, class) in cases {
        let name = format!("error_{code}.json");
        let Err(OkResponseError::Api(e)) = ok::parse_response(&fixture(&name), &ctx_for(&name)) else {
            panic!("{name}")
        };
        assert_eq!((e.code, e.class()), (code, class), "{name}");
        let err = ok::parse_saved_response(&fixture(&name), &ctx_for(&name)).unwrap_err();
        assert!(err.reason.contains(&format!("OK API error {code}")), "{err}");
    }
    let Err(OkResponseError::Api(e)) = ok::parse_response(&fixture("error_300.json"), &ctx_for("x")) else {
        unreachable!()
    };
    assert_eq!(e.data.as_deref(), Some("54390000000298"), "numeric error_data kept as text");
}

#[test]
fn malformed_input_gets_a_clear_error() {
    let cases = [
        ("malformed_truncated.json", "truncated JSON"),
        ("malformed_not_ok.json", "not a recognised OK response"),
        ("malformed_top_array.json", "expected a JSON object"),
        ("malformed_no_owner.json", "topic 0 (id 156000000000300): topic has no owner_ref"),
        ("malformed_huge_created.json", "not an integer within the 64-bit range"),
        ("malformed_created_out_of_range.json", "created_ms 9223372036854775807 is out of range"),
        ("discussions_malformed_date.json", "is not YYYY-MM-DD HH:MM:SS"),
        ("discussions_malformed_colon_id.json", "invalid post uid"),
    ];
    for (name, expected) in cases {
        let err = ok::parse_saved_response(&fixture(name), &ctx_for(name)).unwrap_err();
        assert_eq!(err.platform, Platform::Ok);
        assert!(err.reason.contains(expected), "{name}: {err}");
    }
    let err = ok::parse_saved_response(b"{\"media_topics\":[{\"id\":\"\xff\"}]}", &ctx_for("x")).unwrap_err();
    assert!(err.reason.contains("not valid UTF-8"), "{err}");
    // Deep nesting where the parser reads it is refused; where it only skips it, serde_json
    // skips iteratively, so neither case can overflow the stack.
    let nest = |n: usize| "[".repeat(n) + &"]".repeat(n);
    let deep = format!(
        r#"{{"media_topics":[{{"id":"1","owner_ref":"group:2","created_ms":1,"media":[{{"type":"text","text":{}}}]}}]}}"#,
        nest(10_000)
    );
    assert!(ok::parse_saved_response(deep.as_bytes(), &ctx_for("x"))
        .unwrap_err()
        .reason
        .contains("invalid type: sequence"));
    let skipped = format!(r#"{{"media_topics":[],"unknown":{}}}"#, nest(100_000));
    assert_eq!(ok::parse_saved_response(skipped.as_bytes(), &ctx_for("x")).unwrap(), []);
    let deep_data = format!(r#"{{"error_code":2,"error_msg":"SERVICE","error_data":{}}}"#, nest(100_000));
    let Err(OkResponseError::Api(e)) = ok::parse_response(deep_data.as_bytes(), &ctx_for("x")) else {
        panic!("deep error_data")
    };
    assert_eq!((e.code, e.data), (2, None));
}

/// Every OK file of the demo dataset parses; counts match its README, and every comment's
/// Moscow `date` agrees with its `date_ms` once converted.
#[test]
fn demo_dataset_parses() {
    let root = repo().join("config/demo/feeds/ok");
    let (mut topics, mut comments) = (0, 0);
    for group in std::fs::read_dir(&root).unwrap() {
        let group = group.unwrap().path();
        let gid = group.file_name().unwrap().to_str().unwrap().to_owned();
        for file in std::fs::read_dir(&group).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            // The demo feeds are dated near the time they were generated; collect them "now".
            let mut ctx = ParseContext { collected_at: Utc::now(), ..ctx_for("topics") };
            if let Some(tid) = name.strip_prefix("01-comments-").and_then(|n| n.strip_suffix(".json")) {
                ctx.parent = Some(PostUid::post(Platform::Ok, gid.as_str(), tid).unwrap());
                comments += check_comment_dates(&path, &ctx);
            } else {
                let posts = ok::parse_saved_response(&std::fs::read(&path).unwrap(), &ctx)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(posts.iter().all(|p| p.uid.owner == gid && !p.text.is_empty()), "{name}");
                topics += posts.len();
            }
        }
    }
    assert_eq!((topics, comments), (29, 37));
}

fn check_comment_dates(path: &Path, ctx: &ParseContext) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let posts = ok::parse_saved_response(&bytes, ctx).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    for (post, comment) in posts.iter().zip(raw["comments"].as_array().unwrap()) {
        let moscow = ok::moscow_to_utc(comment["date"].as_str().unwrap()).unwrap();
        assert_eq!(moscow.timestamp() * 1000, comment["date_ms"].as_i64().unwrap() / 1000 * 1000, "{}", path.display());
        assert_eq!(post.published_at.timestamp_millis(), comment["date_ms"].as_i64().unwrap());
    }
    posts.len()
}

/// OK ids arrive as strings and used to be taken as they came: `"abc"` and `"-5"` are not topic
/// ids, `group:abc` is not a group.
#[test]
fn topics_with_impossible_ids_become_bad_items() {
    let page = ok::parse_response(&fixture("invalid_ids.json"), &ctx_for("topics")).unwrap();
    assert_eq!(page.posts.iter().map(|p| p.uid.to_string()).collect::<Vec<_>>(), ["ok:54390000000201:156000000000403"]);
    let bad: Vec<(usize, &str)> = page.bad_items.iter().map(|b| (b.index, b.reason.as_str())).collect();
    assert_eq!(bad[0], (0, "ok:54390000000201:abc: topic id \"abc\" is not a number of 1 to 20 decimal digits"));
    assert_eq!(bad[1], (1, "ok:54390000000201:-5: topic id \"-5\" is not a number of 1 to 20 decimal digits"));
    assert!(bad[2].1.contains("group id \"abc\""));
    assert_eq!(bad.len(), 5);
    // Comment ids are opaque tokens: the demo's base64 ids pass, a stray character does not.
    let body = r#"{"comments": [{"id": "MTU2OjE", "date_ms": 1763000000000, "text": "да"},
                                 {"id": "a;b", "date_ms": 1763000000000, "text": "нет"}]}"#;
    let page = ok::parse_response(body.as_bytes(), &ctx_for("discussions")).unwrap();
    assert_eq!((page.posts.len(), page.bad_items.len(), page.bad_items[0].index), (1, 1, 1));
}

/// No posts field at all is `Empty`; an empty list is an empty feed.
#[test]
fn an_answer_without_a_posts_field_is_empty_with_a_reason() {
    let page = ok::parse_response(&fixture("no_posts_field.json"), &ctx_for("topics")).unwrap();
    assert_eq!(page.empty.unwrap().reason, "the answer has neither \"media_topics\" nor \"comments\" (has_more: true)");
    let page = ok::parse_response(br#"{"has_more": false}"#, &ctx_for("topics")).unwrap();
    assert!(page.empty.is_some());
    let page = ok::parse_response(&fixture("mediatopic_getTopics_empty.json"), &ctx_for("topics")).unwrap();
    assert!(page.posts.is_empty() && page.empty.is_none());
    // Neither posts nor paging fields: not an OK answer at all, as before.
    assert!(ok::parse_response(b"{}", &ctx_for("topics")).is_err());
}
