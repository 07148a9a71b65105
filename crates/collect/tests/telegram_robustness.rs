//! Malformed and hostile input for the t.me/s parser: it must never panic, must keep the posts it
//! can still read, and must say why it skipped the rest.
//!
//! A proptest (the fuzz pass of `cargo test`: fixed cases, fixed seed) mutates the real fixtures
//! (byte flips, truncations, inserted `<`, quotes and invalid UTF-8, deleted and duplicated
//! ranges) and sets message ids and dates to impossible values; every post that comes out must
//! pass the item check (`otklik_collect::check`). Explicit tests pin down the cases that matter
//! most.

use chrono::{DateTime, Utc};
use otklik_collect::telegram::{self, SkipReason, TelegramPage};
use otklik_collect::ParseContext;
use proptest::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;

mod common;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/telegram").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ctx() -> ParseContext {
    ParseContext::new("2024-01-16T13:00:00Z".parse::<DateTime<Utc>>().unwrap())
}

/// What must hold for any page the parser returns, however broken its input was.
fn assert_page_invariants(page: &TelegramPage) {
    let mut ids = HashSet::new();
    for post in &page.posts {
        assert!(ids.insert(post.id), "duplicate post id {}", post.id);
        assert_eq!(post.post.uid.id, post.id.to_string());
        assert_eq!(post.post.uid.owner, post.post.uid.owner.to_ascii_lowercase());
        common::assert_post(&post.post);
        // Every post must survive the wire round trip the pipeline puts it through.
        let wire = otklik_model::encode(&post.post);
        let back: otklik_model::RawPost = otklik_model::decode("RawPost", &wire).unwrap();
        assert_eq!(back.uid, post.post.uid);
    }
}

fn parse_any(bytes: &[u8]) -> Option<TelegramPage> {
    let page = telegram::parse_saved_page(bytes, &ctx()).ok()?;
    assert_page_invariants(&page);
    Some(page)
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let hostile = prop::sample::select(vec![
        b"<".to_vec(),
        b"\"".to_vec(),
        b"'".to_vec(),
        b">".to_vec(),
        b"</div>".to_vec(),
        b"<div class=\"tgme_widget_message\" data-post=\"x/1\">".to_vec(),
        b"<!--".to_vec(),
        b"<script>".to_vec(),
        b"&#x".to_vec(),
        vec![0xff],
        vec![0xc3],
        vec![0xed, 0xa0, 0x80],
        vec![0xf0, 0x9f, 0x98],
        vec![0],
    ]);
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::FlipByte { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), hostile).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..4096).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 1usize..2048).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *mutation {
        Mutation::FlipByte { at, mask } => bytes[at % len] ^= mask,
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Insert { at, bytes: ref inserted } => {
            let at = at % (len + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Delete { at, len: count } => {
            let at = at % len;
            bytes.drain(at..(at + count).min(len));
        }
        Mutation::Duplicate { at, len: count } => {
            let at = at % len;
            let copy = bytes[at..(at + count).min(len)].to_vec();
            bytes.splice(at..at, copy);
        }
    }
}

const FIXTURES: [&str; 3] = ["channel_page.html", "channel_start.html", "fragment_before_1181.json"];

/// The `n`-th `data-post` id or `<time datetime>` of a page set to `value`.
#[derive(Debug, Clone)]
struct FieldMutation {
    datetime: bool,
    n: prop::sample::Index,
    value: &'static str,
}

fn field_mutation() -> impl Strategy<Value = FieldMutation> {
    let ids =
        prop::sample::select(vec!["0", "00", "-1", "abc", "", "99999999999999999999", "18446744073709551616", "1e3"]);
    let dates = prop::sample::select(vec![
        "1970-01-01T00:00:00+00:00",
        "2005-12-31T23:59:59+00:00",
        "2006-01-01T00:00:00+00:00",
        "2024-01-17T12:59:59Z",
        "2024-01-17T13:00:01Z",
        "2999-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "-001-01-01T00:00:00Z",
        "garbage",
        "",
    ]);
    prop_oneof![
        (any::<prop::sample::Index>(), ids).prop_map(|(n, value)| FieldMutation { datetime: false, n, value }),
        (any::<prop::sample::Index>(), dates).prop_map(|(n, value)| FieldMutation { datetime: true, n, value }),
    ]
}

/// Applies `m` to an HTML page: finds every `data-post="chan/ID"` id or `datetime="…"` value.
fn apply_field(html: &str, m: &FieldMutation) -> String {
    let (marker, stop) = if m.datetime { ("datetime=\"", '"') } else { ("data-post=\"", '"') };
    let starts: Vec<usize> = html.match_indices(marker).map(|(i, _)| i + marker.len()).collect();
    if starts.is_empty() {
        return html.to_owned();
    }
    let start = starts[m.n.index(starts.len())];
    let end = start + html[start..].find(stop).unwrap_or(0);
    let start = if m.datetime { start } else { html[start..end].rfind('/').map_or(start, |slash| start + slash + 1) };
    format!("{}{}{}", &html[..start], m.value, &html[end..])
}

proptest! {
    #![proptest_config(common::fuzz_config(128))]

    #[test]
    fn impossible_ids_and_dates_never_become_posts(
        fixture_name in prop::sample::select(FIXTURES.to_vec()),
        mutations in prop::collection::vec(field_mutation(), 1..4),
    ) {
        let bytes = fixture(fixture_name);
        let fragment = fixture_name.ends_with(".json");
        let mut html: String =
            if fragment { serde_json::from_slice(&bytes).unwrap() } else { String::from_utf8(bytes).unwrap() };
        for m in &mutations {
            html = apply_field(&html, m);
        }
        let bytes = if fragment { serde_json::to_vec(&html).unwrap() } else { html.into_bytes() };
        let parsed = otklik_collect::parse_saved(otklik_model::Platform::Telegram, &bytes, &ctx()).unwrap();
        common::assert_outcome(&parsed);
        prop_assert!(!parsed.posts.is_empty() || !parsed.bad_items.is_empty() || parsed.empty.is_none());
    }
}

proptest! {
    #![proptest_config(common::fuzz_config(384))]

    #[test]
    fn mutated_fixtures_never_panic(
        fixture_name in prop::sample::select(vec!["channel_page.html", "channel_start.html", "fragment_before_1181.json"]),
        mutations in prop::collection::vec(mutation(), 1..12),
    ) {
        let mut bytes = fixture(fixture_name);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(parsed) = otklik_collect::parse_saved(otklik_model::Platform::Telegram, &bytes, &ctx()) {
            common::assert_outcome(&parsed);
        }
        // A fragment's JSON breaks under most mutations; its HTML is fuzzed through the decoded form too.
        if fixture_name.ends_with(".json") {
            let html: String = serde_json::from_slice(&fixture(fixture_name)).unwrap();
            let mut html = html.into_bytes();
            for m in &mutations {
                apply(&mut html, m);
            }
            let _ = telegram::parse_page(&html, &ctx()).map(|page| assert_page_invariants(&page));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        parse_any(&bytes);
    }

    #[test]
    fn tag_soup_never_panics(pieces in prop::collection::vec(prop::sample::select(vec![
        "<div class=\"tgme_widget_message js-widget_message\" data-post=\"chan/", "7\">", "<div", " class=",
        "\"tgme_widget_message_text js-message_text\"", ">", "</div>", "<a class='tgme_widget_message_reply' href=",
        "<time datetime=\"2024-01-01T00:00:00+00:00\">", "</a>", "<br/>", "&amp;", "&#", "<script>", "</script>",
        "<!--", "-->", "\"", "'", "<", "текст", "<pre>", "</pre>", "<span class=\"tgme_widget_message_views\">",
        "1.2K", "</span>", "<a class=\"tme_messages_more\" data-before=\"", "<i class=\"emoji\"><b>😀</b></i>",
    ]), 0..200)) {
        let html: String = pieces.concat();
        let _ = telegram::parse_page(html.as_bytes(), &ctx()).map(|page| assert_page_invariants(&page));
    }
}

/// A minimal but real-shaped message block.
fn message(post: &str, inner: &str) -> String {
    format!(
        r#"<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{post}"><div class="tgme_widget_message_bubble">{inner}</div></div></div>"#
    )
}

fn footer(post: &str, datetime: &str) -> String {
    format!(
        r#"<div class="tgme_widget_message_footer"><span class="tgme_widget_message_views">10</span><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{post}"><time datetime="{datetime}" class="time">00:00</time></a></span></div>"#
    )
}

fn history(blocks: &[String]) -> Vec<u8> {
    format!(r#"<section class="tgme_channel_history js-message_history">{}</section>"#, blocks.concat()).into_bytes()
}

fn text(inner: &str) -> String {
    format!(r#"<div class="tgme_widget_message_text js-message_text" dir="auto">{inner}</div>"#)
}

#[test]
fn an_unclosed_block_does_not_swallow_the_next_post() {
    // The first message's text div, bubble and message never close, nor does a reply link.
    let broken = r#"<div class="tgme_widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="chan/1"><a class="tgme_widget_message_reply" href="https://t.me/chan/0"><div class="tgme_widget_message_text js-message_text">oops"#;
    let good = message("chan/2", &(text("второй пост") + &footer("chan/2", "2024-01-02T00:00:00+00:00")));
    let page = telegram::parse_page(&history(&[broken.to_owned(), good]), &ctx()).unwrap();
    assert_page_invariants(&page);
    assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [2]);
    assert_eq!(page.posts[0].post.text, "второй пост");
    assert!(matches!(&page.skipped[..], [s] if s.post.as_deref() == Some("chan/1")
        && matches!(&s.reason, SkipReason::Malformed { reason } if reason.contains("no <time datetime>"))));
}

#[test]
fn unclosed_text_keeps_the_words_up_to_the_next_block() {
    let first = message(
        "chan/1",
        &(footer("chan/1", "2024-01-01T00:00:00+00:00")
            + r#"<div class="tgme_widget_message_text js-message_text">жалоба без конца"#),
    );
    let second = message("chan/2", &(text("следующий") + &footer("chan/2", "2024-01-02T00:00:00+00:00")));
    let page = telegram::parse_page(&history(&[first, second]), &ctx()).unwrap();
    assert_eq!(page.posts.len(), 2);
    assert_eq!(page.posts[0].post.text, "жалоба без конца");
    assert_eq!(page.posts[1].post.text, "следующий");
}

#[test]
fn missing_attributes_skip_the_block_with_a_reason() {
    let cases = [
        (message("chan/1", &text("нет времени")), "no <time datetime>"),
        (
            r#"<div class="tgme_widget_message js-widget_message"><time datetime="2024-01-01T00:00:00Z"></time></div>"#
                .to_owned(),
            "without data-post",
        ),
        (message("chan/", &footer("chan/", "2024-01-01T00:00:00Z")), "unreadable data-post"),
        (message("chan/12x", &footer("chan/12x", "2024-01-01T00:00:00Z")), "unreadable data-post"),
        (message("ch:an/1", &footer("ch:an/1", "2024-01-01T00:00:00Z")), "unreadable data-post"),
        (message("chan/99999999999999999999", &footer("chan/1", "2024-01-01T00:00:00Z")), "unreadable data-post"),
        (message("chan/3", &footer("chan/3", "yesterday")), "unreadable time"),
        (message("chan/4", &footer("chan/4", "")), "unreadable time"),
    ];
    for (block, expected) in cases {
        let page = telegram::parse_page(&history(std::slice::from_ref(&block)), &ctx()).unwrap();
        assert!(page.posts.is_empty(), "{block}");
        let reasons: Vec<String> = page.skipped.iter().map(|s| format!("{:?}", s.reason)).collect();
        assert!(reasons.len() == 1 && reasons[0].contains(expected), "{block}: {reasons:?}");
    }
    // Missing optional attributes (href, style, src, class values) cost only those fields.
    let bare = message(
        "chan/5",
        &(r#"<div class="tgme_widget_message_forwarded_from">Forwarded from <a class="tgme_widget_message_forwarded_from_name">Кто-то</a></div><a class="tgme_widget_message_photo_wrap"></a><a class="tgme_widget_message_link_preview"></a><span class="tgme_widget_message_views"></span>"#.to_owned()
            + &text("текст")
            + &footer("chan/5", "2024-01-01T00:00:00Z")),
    );
    let page = telegram::parse_page(&history(&[bare]), &ctx()).unwrap();
    let post = &page.posts[0].post;
    assert_eq!(
        post.repost_of.as_ref().map(|r| (r.uid.clone(), r.name.clone(), r.text.clone())),
        Some((None, Some("Кто-то".to_owned()), "текст".to_owned()))
    );
    assert_eq!(
        post.attachments.iter().map(|a| (a.kind.as_str(), a.url.clone())).collect::<Vec<_>>(),
        [("photo", None), ("link", None)]
    );
}

#[test]
fn duplicate_posts_are_kept_once() {
    let block = message("chan/7", &(text("раз") + &footer("chan/7", "2024-01-01T00:00:00Z")));
    let page = telegram::parse_page(&history(&[block.clone(), block]), &ctx()).unwrap();
    assert_eq!(page.posts.len(), 1);
    assert!(matches!(page.skipped[0].reason, SkipReason::Duplicate));
}

/// Invalid UTF-8 is refused with its byte offset, as the VK and OK parsers refuse it; it used to
/// become U+FFFD in the post text unnoticed.
#[test]
fn invalid_utf8_is_refused_with_its_offset() {
    let mut html = history(&[message("chan/1", &(text("вода@@") + &footer("chan/1", "2024-01-01T00:00:00Z")))]);
    let at = html.windows(2).position(|w| w == b"@@").unwrap();
    html[at] = 0xff;
    html[at + 1] = 0xd0;
    let err = telegram::parse_page(&html, &ctx()).unwrap_err();
    assert_eq!(err.reason, format!("page is not valid UTF-8 at byte {at}"));
    let err = otklik_collect::parse_saved(otklik_model::Platform::Telegram, &html, &ctx()).unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    // Cut inside a two-byte letter: said so, not read as a shorter page.
    let cut = html.windows(2).position(|w| w == "д".as_bytes()).unwrap() + 1;
    let err = telegram::parse_page(&html[..cut], &ctx()).unwrap_err();
    assert!(err.reason.contains("ends inside a UTF-8 sequence"), "{}", err.reason);
}

#[test]
fn garbage_around_a_message_does_not_hide_it() {
    // ASCII garbage: bytes that are not UTF-8 refuse the whole page (see the test above).
    let mut html: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x7f).collect();
    html.extend(history(&[message("chan/1", &(text("настоящий") + &footer("chan/1", "2024-01-01T00:00:00Z")))]));
    html.extend((0..5_000u32).map(|i| (i.wrapping_mul(40_503) >> 3) as u8 & 0x7f));
    let page = parse_any(&html).expect("the history section is still there");
    assert!(page.posts.iter().any(|p| p.post.text == "настоящий"), "{:?}", page.posts);
    for garbage in [
        &b"\x00\x01\x02<<<>>>\"\"''&&&"[..],
        b"<div class=",
        b"<<<<<<<<",
        b"</div></div></section>",
        b"<!-- unterminated",
    ] {
        let result = telegram::parse_saved_response(garbage, &ctx());
        assert!(result.is_err(), "{:?} is no preview page", String::from_utf8_lossy(garbage));
    }
}

#[test]
fn markup_in_scripts_and_comments_is_not_a_message() {
    let real = message("chan/2", &(text("настоящий") + &footer("chan/2", "2024-01-02T00:00:00Z")));
    let fake = message("chan/1", &(text("поддельный") + &footer("chan/1", "2024-01-01T00:00:00Z")));
    let html =
        format!("<script>var t = '{fake}';</script><!-- {fake} -->{}", String::from_utf8(history(&[real])).unwrap());
    let page = telegram::parse_page(html.as_bytes(), &ctx()).unwrap();
    assert_eq!(page.posts.iter().map(|p| p.post.text.as_str()).collect::<Vec<_>>(), ["настоящий"]);
}

#[test]
fn deep_nesting_and_huge_tags_finish_quickly() {
    let started = std::time::Instant::now();
    let deep = "<div>".repeat(200_000) + "дно" + &"</div>".repeat(10);
    let page = telegram::parse_page(
        &history(&[message("chan/1", &(text(&deep) + &footer("chan/1", "2024-01-01T00:00:00Z")))]),
        &ctx(),
    )
    .unwrap();
    assert!(page.posts.is_empty() || page.posts[0].post.text.contains("дно"));
    let huge_attribute =
        format!(r#"<div class="tgme_widget_message" data-post="chan/1" title="{}"#, "x".repeat(2_000_000));
    let _ = telegram::parse_page(huge_attribute.as_bytes(), &ctx());
    let many_blocks = r#"<div class="tgme_widget_message" data-post="chan/1">"#.repeat(50_000);
    let page = telegram::parse_page(many_blocks.as_bytes(), &ctx()).unwrap();
    assert_eq!(page.skipped.len(), 50_000);
    assert!(started.elapsed().as_secs() < 20, "hostile input took {:?}", started.elapsed());
}

#[test]
fn every_truncation_keeps_the_complete_posts_before_it() {
    let html = fixture("channel_page.html");
    let full = telegram::parse_page(&html, &ctx()).unwrap();
    // Where each post's block ends: the next block's start (or the end of the history).
    let block_ends: Vec<(u64, usize)> = full
        .posts
        .iter()
        .map(|p| {
            let own = memchr_find(&html, format!("data-post=\"penza_gorod/{}\"", p.id).as_bytes()).unwrap();
            (p.id, memchr_find(&html[own..], b"tgme_widget_message_wrap").map_or(html.len(), |i| own + i))
        })
        .collect();
    for cut in (0..html.len()).step_by(211) {
        let Ok(page) = telegram::parse_page(&html[..cut], &ctx()) else { continue };
        assert_page_invariants(&page);
        let complete = |id: u64| block_ends.iter().any(|&(i, end)| i == id && end <= cut);
        for post in full.posts.iter().filter(|p| complete(p.id)) {
            let kept = page.posts.iter().find(|p| p.id == post.id);
            assert_eq!(kept, Some(post), "post {} with the page cut at {cut}", post.id);
        }
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Message id 0 and dates before 2006 or days after collection are not posts: the block is
/// skipped with a reason and reported as a bad item (index and byte offset); the others stay.
#[test]
fn impossible_ids_and_dates_are_bad_items() {
    let blocks = [
        message("chan/0", &(text("id 0") + &footer("chan/0", "2024-01-01T00:00:00Z"))),
        message("chan/2", &(text("1970") + &footer("chan/2", "1970-01-01T00:00:00Z"))),
        message("chan/3", &(text("future") + &footer("chan/3", "2024-01-18T00:00:00Z"))),
        message("chan/4", &(text("настоящий") + &footer("chan/4", "2024-01-16T12:00:00Z"))),
    ];
    let html = history(&blocks);
    let parsed = otklik_collect::parse_saved(otklik_model::Platform::Telegram, &html, &ctx()).unwrap();
    assert_eq!(parsed.posts.iter().map(|p| p.uid.to_string()).collect::<Vec<_>>(), ["tg:chan:4"]);
    let bad: Vec<(usize, &str)> = parsed.bad_items.iter().map(|b| (b.index, b.reason.as_str())).collect();
    assert_eq!(bad[0], (0, "chan/0: message id \"0\" is not a positive integer"));
    assert_eq!(bad[1], (1, "chan/2: date 1970-01-01T00:00:00Z is before 2006, older than the network"));
    let future = bad[2].1;
    assert!(future.starts_with("chan/3: date 2024-01-18T00:00:00Z is more than a day after collection"), "{future}");
    let second = std::str::from_utf8(&html).unwrap().find("data-post=\"chan/2\"").unwrap();
    let offset = parsed.bad_items[1].offset.unwrap();
    assert!(offset < second && second - offset < 200, "the offset points at the block");
    assert!(parsed.empty.is_none());
}

/// A preview page without a single message block, or a non-empty fragment without one, is
/// `Empty`; a channel that says it has no messages, a new channel with only its service message,
/// and t.me's empty fragment past the start are empty feeds.
#[test]
fn pages_without_messages_are_empty_only_when_suspicious() {
    let parse = |bytes: &[u8]| otklik_collect::parse_saved(otklik_model::Platform::Telegram, bytes, &ctx()).unwrap();
    let bare = history(&[]);
    assert!(parse(&bare).empty.unwrap().reason.contains("t.me/s page has no message blocks"));
    let fragment = serde_json::to_vec(r#"<div class="tme_messages_more" data-before="5"></div>"#).unwrap();
    assert!(parse(&fragment).empty.unwrap().reason.contains("XHR fragment has no message blocks"));
    let said =
        r#"<section class="tgme_channel_history"><div class="tme_no_messages_found">No messages</div></section>"#;
    assert_eq!(parse(said.as_bytes()).empty, None);
    let created = message("chan/1", r#"<div class="tgme_widget_message_service_date">Channel created</div>"#)
        .replace("tgme_widget_message text_not_supported_wrap", "tgme_widget_message service_message");
    let page = parse(&history(&[created]));
    assert!(page.posts.is_empty() && page.bad_items.is_empty() && page.empty.is_none(), "{page:?}");
    assert_eq!(parse(b"\"\"").empty, None);
}
