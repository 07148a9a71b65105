//! What the fixture tests share: the repository's root, the shipped classifier and the fixtures
//! of `tests/fixtures/classify`.

#![allow(dead_code)] // each test binary uses its own part

use otklik_classify::Classifier;
use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped rules, with the shipped gazetteer when `places` (and it is there).
pub fn shipped(places: bool) -> Classifier {
    let g = root().join("config/gazetteer/gazetteer.tsv");
    let g = (places && g.exists()).then_some(g);
    Classifier::load(&root().join("config/topics"), g.as_deref()).expect("shipped rules load")
}

/// A fixture of `tests/fixtures/classify`.
pub fn fixture(name: &str) -> csv::Reader<std::fs::File> {
    csv::Reader::from_path(root().join("tests/fixtures/classify").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
