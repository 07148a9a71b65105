//! Property tests (the fuzz pass of `cargo test`: fixed cases, fixed seed): the OK parser
//! never panics, whatever the bytes, and whatever it accepts
//! survives the wire round trip (valid uids, encodable timestamps) and the item check
//! (`otklik_collect::check`); what fails the check is a bad item, never a post.
//!
//! Inputs: byte-level mutations of the fixtures, fixtures with one JSON value replaced by a
//! random one (reaching the conversion code, not only the tokenizer), fixtures with one id or
//! date field set to a value a broken client would send (`-1`, `0`, `"abc"`, milliseconds for
//! seconds), and random JSON built
//! from OK field names.

use chrono::{TimeZone, Utc};
use otklik_collect::{ok, ParseContext, Parsed};
use otklik_model::{Platform, PostUid};
use proptest::prelude::*;

mod common;
use common::json_fuzz;
use serde_json::Value;
use std::sync::OnceLock;

fn fixtures() -> &'static [Vec<u8>] {
    static CACHE: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CACHE.get_or_init(|| json_fuzz::fixtures("ok"))
}

fn check(bytes: &[u8], with_parent: bool) {
    let mut ctx = ParseContext::new(Utc.with_ymd_and_hms(2025, 11, 14, 12, 0, 0).unwrap());
    if with_parent {
        ctx.parent = Some(PostUid::post(Platform::Ok, "54390000000201", "156000000000104").unwrap());
    }
    if let Ok(page) = ok::parse_response(bytes, &ctx) {
        assert!(page.posts.iter().all(|p| p.platform == Platform::Ok));
        common::assert_outcome(&Parsed {
            posts: page.posts,
            bad_items: page.bad_items,
            empty: page.empty,
            audience: None,
        });
    }
}

/// Cases per property: five properties × this stay within a few seconds in a debug build.
const CASES: u32 = 512;

/// The fields that carry ids and dates.
const ID_AND_DATE_FIELDS: &[&str] =
    &["id", "owner_ref", "author_ref", "created_ms", "date", "date_ms", "reply_to_comment_id", "uid"];

const KEYS: &[&str] = &[
    "media_topics",
    "comments",
    "entities",
    "has_more",
    "anchor",
    "error_code",
    "error_msg",
    "error_data",
    "groups",
    "users",
    "group_photos",
    "uid",
    "name",
    "first_name",
    "last_name",
    "pic_max",
    "pic640x480",
    "id",
    "created_ms",
    "media",
    "author_ref",
    "owner_ref",
    "discussion_summary",
    "like_summary",
    "reshare_summary",
    "views_count",
    "is_sticky",
    "is_promo",
    "count",
    "comments_count",
    "type",
    "text",
    "url",
    "title",
    "question",
    "photo_refs",
    "movie_refs",
    "topic_refs",
    "author_id",
    "author_name",
    "date",
    "date_ms",
    "like_count",
    "reply_to_comment_id",
    "deleted",
];

const SPECIALS: &[&str] =
    &["user:571200000501", "2025-11-21 08:15:00", "group:54390000000201", "media_topic:156000000000900"];

proptest! {
    #![proptest_config(common::fuzz_config(CASES))]

    #[test]
    fn byte_mutations_never_panic(file in any::<prop::sample::Index>(), muts in prop::collection::vec(json_fuzz::mutation(), 1..8), parent in any::<bool>()) {
        let mut bytes = fixtures()[file.index(fixtures().len())].clone();
        for m in &muts {
            json_fuzz::apply(&mut bytes, m);
        }
        check(&bytes, parent);
    }

    #[test]
    fn value_replacements_never_panic(file in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), value in json_fuzz::json_value(KEYS, SPECIALS), parent in any::<bool>()) {
        let Ok(doc) = serde_json::from_slice::<Value>(&fixtures()[file.index(fixtures().len())]) else { return Ok(()) };
        let doc = json_fuzz::replace_value(doc, at, value);
        check(&serde_json::to_vec(&doc).unwrap(), parent);
    }

    #[test]
    fn hostile_ids_and_dates_never_become_posts(
        file in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        value in json_fuzz::hostile_scalar(),
        parent in any::<bool>(),
    ) {
        let Ok(doc) = serde_json::from_slice::<Value>(&fixtures()[file.index(fixtures().len())]) else { return Ok(()) };
        let doc = json_fuzz::replace_field(doc, ID_AND_DATE_FIELDS, at, value);
        check(&serde_json::to_vec(&doc).unwrap(), parent);
    }

    #[test]
    fn random_json_never_panics(value in json_fuzz::json_value(KEYS, SPECIALS), envelope in any::<bool>(), parent in any::<bool>()) {
        let value = if envelope { serde_json::json!({ "media_topics": [value] }) } else { value };
        check(&serde_json::to_vec(&value).unwrap(), parent);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes, false);
    }
}
