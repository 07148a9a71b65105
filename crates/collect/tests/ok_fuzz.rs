//! Property tests: the VK parser never panics, whatever the bytes, and whatever it accepts
//! survives the wire round trip (valid uids, encodable timestamps).
//!
//! Inputs: byte-level mutations of the fixtures, fixtures with one JSON value replaced by a
//! random one (reaching the conversion code, not only the tokenizer), and random JSON built
//! from OK field names.

use chrono::{TimeZone, Utc};
use otklik_collect::{ok, ParseContext, RawPost};
use otklik_model::{Platform, PostUid};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

fn fixtures() -> &'static [Vec<u8>] {
    static CACHE: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ok");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_str().unwrap().ends_with(".json") && !p.to_str().unwrap().ends_with(".expected.json"))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

fn check(bytes: &[u8], with_parent: bool) {
    let mut ctx = ParseContext::new(Utc.with_ymd_and_hms(2025, 11, 14, 12, 0, 0).unwrap());
    if with_parent {
        ctx.parent = Some(PostUid::post(Platform::Ok, "54390000000201", "156000000000104").unwrap());
    }
    if let Ok(page) = ok::parse_response(bytes, &ctx) {
        for post in &page.posts {
            assert_eq!(post.platform, Platform::Ok);
            let back: RawPost = otklik_model::decode("RawPost", &otklik_model::encode(post)).expect("accepted posts are wire-valid");
            assert_eq!(&back.uid, &post.uid);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to JSON, plus arbitrary ones (invalid UTF-8 included).
    let byte = prop_oneof![
        Just(b'"'), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b','), Just(b':'), Just(b'\\'),
        Just(b'-'), Just(b'9'), Just(b'e'), Just(0xD0), Just(0xFF), any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1..256usize, any::<usize>()).prop_map(|(i, n, at)| Mutation::Duplicate(i, n, at)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match *m {
        Mutation::Flip(i, b) if !bytes.is_empty() => bytes[i % len] = b,
        Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::Delete(i, n) if !bytes.is_empty() => {
            let start = i % len;
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Duplicate(i, n, at) if !bytes.is_empty() => {
            let start = i % len;
            let chunk = bytes[start..(start + n).min(bytes.len())].to_vec();
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, chunk);
        }
        Mutation::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
        _ => {}
    }
}

const KEYS: &[&str] = &[
    "media_topics", "comments", "entities", "has_more", "anchor", "error_code", "error_msg", "error_data",
    "groups", "users", "group_photos", "uid", "name", "first_name", "last_name", "pic_max", "pic640x480",
    "id", "created_ms", "media", "author_ref", "owner_ref", "discussion_summary", "like_summary", "reshare_summary",
    "views_count", "is_sticky", "is_promo", "count", "comments_count", "type", "text", "url", "title", "question",
    "photo_refs", "movie_refs", "topic_refs", "author_id", "author_name", "date", "date_ms", "like_count",
    "reply_to_comment_id", "deleted",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        prop_oneof![Just(-170000001i64), Just(0), Just(31245), Just(1763020800), Just(i64::MAX), Just(i64::MIN)].prop_map(Value::from),
        "[-0-9 .e]{0,24}".prop_map(Value::String),
        "\\PC{0,16}".prop_map(Value::String),
        Just(Value::String("user:571200000501".into())),
        Just(Value::String("2025-11-21 08:15:00".into())),
        Just(Value::String("group:54390000000201".into())),
        Just(Value::String("media_topic:156000000000900".into())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// Every path to a value inside `v`, as indices into objects and arrays.
fn paths(v: &Value, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(prefix.clone());
    let children: Vec<&Value> = match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => return,
    };
    for (i, c) in children.into_iter().enumerate() {
        prefix.push(i);
        paths(c, prefix, out);
        prefix.pop();
    }
}

fn at_path<'v>(v: &'v mut Value, path: &[usize]) -> &'v mut Value {
    path.iter().fold(v, |v, &i| match v {
        Value::Object(m) => m.values_mut().nth(i).unwrap(),
        Value::Array(a) => &mut a[i],
        _ => unreachable!(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn byte_mutations_never_panic(file in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..8), parent in any::<bool>()) {
        let mut bytes = fixtures()[file.index(fixtures().len())].clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        check(&bytes, parent);
    }

    #[test]
    fn value_replacements_never_panic(file in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), value in json_value(), parent in any::<bool>()) {
        let Ok(mut doc) = serde_json::from_slice::<Value>(&fixtures()[file.index(fixtures().len())]) else { return Ok(()) };
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        *at_path(&mut doc, &all[at.index(all.len())]) = value;
        check(&serde_json::to_vec(&doc).unwrap(), parent);
    }

    #[test]
    fn random_json_never_panics(value in json_value(), envelope in any::<bool>(), parent in any::<bool>()) {
        let value = if envelope { serde_json::json!({ "media_topics": [value] }) } else { value };
        check(&serde_json::to_vec(&value).unwrap(), parent);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes, false);
    }
}
