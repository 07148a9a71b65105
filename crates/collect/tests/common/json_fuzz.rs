//! Shared machinery of the JSON parsers' property tests (`vk_fuzz.rs`, `ok_fuzz.rs`): fixture
//! loading, byte-level mutations, random JSON from a network's field names, and replacing one
//! value deep inside a fixture.

use proptest::prelude::*;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The request/response fixtures under `tests/fixtures/<network>/` (snapshots excluded).
pub fn fixtures(network: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(network);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".json"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
    Truncate(usize),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to JSON, plus arbitrary ones (invalid UTF-8 included).
    let byte = prop_oneof![
        Just(b'"'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b']'),
        Just(b','),
        Just(b':'),
        Just(b'\\'),
        Just(b'-'),
        Just(b'9'),
        Just(b'e'),
        Just(0xD0),
        Just(0xFF),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1..256usize, any::<usize>()).prop_map(|(i, n, at)| Mutation::Duplicate(i, n, at)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

pub fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
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

/// Random JSON: objects keyed by `keys` (a network's field names), scalars of every kind plus
/// `specials` (values shaped like the network's own: refs, dates, markup).
pub fn json_value(keys: &'static [&'static str], specials: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        prop_oneof![Just(-170000001i64), Just(0), Just(31245), Just(1763020800), Just(i64::MAX), Just(i64::MIN)]
            .prop_map(Value::from),
        "[-0-9 .e]{0,24}".prop_map(Value::String),
        "\\PC{0,16}".prop_map(Value::String),
        prop::sample::select(specials).prop_map(|s| Value::String(s.to_owned())),
    ];
    scalar.prop_recursive(6, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(keys), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// `doc` with the value at a random position (`at`) replaced by `value`.
pub fn replace_value(mut doc: Value, at: prop::sample::Index, value: Value) -> Value {
    let mut all = Vec::new();
    paths(&doc, &mut Vec::new(), &mut all);
    *at_path(&mut doc, &all[at.index(all.len())]) = value;
    doc
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

/// What ids and dates get when a client, proxy or server goes wrong: placeholders, wrong signs,
/// milliseconds for seconds, words, overflow, fractions.
pub fn hostile_scalar() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        Value::from(-1),
        Value::from(0),
        Value::from("0"),
        Value::from("-5"),
        Value::from("abc"),
        Value::from(""),
        Value::Null,
        Value::from(1_763_000_000_000i64),
        Value::from(-62_135_596_800i64),
        Value::from(253_402_300_800i64),
        Value::from("99999999999999999999"),
        Value::from("123456789012345678901"),
        Value::from(1.5),
        Value::from(i64::MAX),
        Value::from("000"),
        Value::from(" 7 "),
        Value::from("1:2"),
        Value::from("group:abc"),
        Value::from("1970-01-01 03:00:00"),
        Value::from(1_136_073_599),
        Value::from(1_136_073_600),
    ])
}

/// `doc` with the value of one field named in `names` (the `at`-th such field, anywhere in the
/// document) replaced by `value`; `doc` unchanged when it has no such field.
pub fn replace_field(mut doc: Value, names: &[&str], at: prop::sample::Index, value: Value) -> Value {
    let mut all = Vec::new();
    field_paths(&doc, names, &mut Vec::new(), &mut all);
    if !all.is_empty() {
        *at_path(&mut doc, &all[at.index(all.len())]) = value;
    }
    doc
}

fn field_paths(v: &Value, names: &[&str], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    let children: Vec<(Option<&str>, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        Value::Array(a) => a.iter().map(|v| (None, v)).collect(),
        _ => return,
    };
    for (i, (key, child)) in children.into_iter().enumerate() {
        prefix.push(i);
        if key.is_some_and(|k| names.contains(&k)) {
            out.push(prefix.clone());
        }
        field_paths(child, names, prefix, out);
        prefix.pop();
    }
}
