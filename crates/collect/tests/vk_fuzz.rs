//! Property tests (the fuzz pass of `cargo test`: fixed cases, fixed seed): the VK parser
//! never panics, whatever the bytes, and whatever it accepts
//! survives the wire round trip (valid uids, encodable timestamps) and the item check
//! (`otklik_collect::check`); what fails the check is a bad item, never a post.
//!
//! Inputs: byte-level mutations of the fixtures, fixtures with one JSON value replaced by a
//! random one (reaching the conversion code, not only the tokenizer), fixtures with one id or
//! date field set to a value a broken client would send (`-1`, `0`, `"abc"`, milliseconds for
//! seconds), and random JSON built
//! from VK field names.

use chrono::{TimeZone, Utc};
use otklik_collect::{vk, ParseContext, Parsed};
use otklik_model::{Platform, PostUid};
use proptest::prelude::*;

mod common;
use common::json_fuzz;
use serde_json::Value;
use std::sync::OnceLock;

fn fixtures() -> &'static [Vec<u8>] {
    static CACHE: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CACHE.get_or_init(|| json_fuzz::fixtures("vk"))
}

fn check(bytes: &[u8], with_parent: bool) {
    let mut ctx = ParseContext::new(Utc.with_ymd_and_hms(2025, 11, 14, 12, 0, 0).unwrap());
    if with_parent {
        ctx.parent = Some(PostUid::post(Platform::Vk, "-170000001", "31245").unwrap());
    }
    if let Ok(page) = vk::parse_response(bytes, &ctx) {
        assert!(page.posts.iter().all(|p| p.platform == Platform::Vk));
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
    &["id", "owner_id", "from_id", "post_id", "date", "edited", "reply_to_comment", "parents_stack"];

const KEYS: &[&str] = &[
    "response",
    "error",
    "execute_errors",
    "items",
    "count",
    "total_count",
    "next_from",
    "profiles",
    "groups",
    "id",
    "owner_id",
    "from_id",
    "post_id",
    "date",
    "text",
    "is_pinned",
    "marked_as_ads",
    "edited",
    "deleted",
    "copy_history",
    "attachments",
    "comments",
    "likes",
    "reposts",
    "views",
    "post_source",
    "geo",
    "signer_id",
    "reply_to_comment",
    "parents_stack",
    "thread",
    "type",
    "photo",
    "sizes",
    "url",
    "width",
    "height",
    "title",
    "coordinates",
    "place",
    "latitude",
    "error_code",
    "error_msg",
    "request_params",
    "key",
    "value",
    "first_name",
    "name",
];

const SPECIALS: &[&str] = &["[id1|Иван] [club2|x", "53.19 45.01"];

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
        let value = if envelope { serde_json::json!({ "response": value }) } else { value };
        check(&serde_json::to_vec(&value).unwrap(), parent);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes, false);
    }
}
