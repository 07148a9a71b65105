//! The parsers' fixture snapshots, kept by `insta` beside their fixtures: `tests/fixtures/<net>/
//! <stem>.snap` holds the reviewed output of `<stem>.json` / `<stem>.html`. A change shows as a
//! diff; `cargo insta review` (or `INSTA_UPDATE=always cargo test`) accepts it. Under CI (`CI`
//! set, as `.ci/run` runs) insta never writes a file and a difference fails the test.

use std::path::Path;

/// Asserts that `actual` is the snapshot `<dir>/<stem>.snap`.
pub fn assert_fixture_snapshot(dir: &Path, stem: &str, actual: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(stem, actual));
}

/// The body of a snapshot file (what follows its `---` header), for tests that read the
/// reviewed output as data.
pub fn snapshot_body(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header_end = text.match_indices("---\n").nth(1).map(|(i, _)| i + 4);
    let body = header_end.map_or(text.as_str(), |i| &text[i..]);
    body.to_owned()
}
