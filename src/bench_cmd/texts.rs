//! The bench's post texts: the repository's own fixtures (the labelled classifier and incident
//! sets, the demo feeds parsed by the real parsers), plus texts cut from them and joined again,
//! so the classifier meets thousands of distinct real-shaped texts rather than a handful of
//! repeats. Read at bench time; nothing is copied into the repository.

use crate::commands::csv_texts;
use anyhow::{Context, Result};
use otklik_collect::{parse_saved_response, ParseContext};
use otklik_model::Platform;
use std::collections::HashSet;
use std::path::Path;

/// The fixture CSVs with a `text` column, relative to the repository root.
const CSV_FIXTURES: &[&str] = &[
    "tests/fixtures/classify/labeled.csv",
    "tests/fixtures/classify/offtopic.csv",
    "tests/fixtures/classify/municipality.csv",
    "tests/fixtures/incidents/incidents.csv",
];
const DEMO_FEEDS: &str = "config/demo/feeds";
/// The longest post text made by joining pieces.
const MAX_JOINED_CHARS: usize = 1_200;

pub struct Pool {
    /// Each text as a JSON string literal, ready to go into a payload.
    pub escaped: Vec<String>,
    /// How many came unchanged from the fixtures (and `--texts`).
    pub base: usize,
    pub mean_chars: usize,
}

/// Texts from the fixtures under `root` and `extra`, completed to `super::POOL_TEXTS` distinct
/// texts by joining sentences of different ones (a seeded, repeatable choice).
pub fn pool(root: &Path, extra: Option<&Path>) -> Result<Pool> {
    let mut base = Vec::new();
    for file in CSV_FIXTURES {
        base.extend(csv_texts(&root.join(file))?);
    }
    base.extend(demo_texts(&root.join(DEMO_FEEDS))?);
    if let Some(file) = extra {
        base.extend(csv_texts(file)?);
    }
    let mut seen = HashSet::new();
    base.retain(|t| !t.trim().is_empty() && seen.insert(t.clone()));
    anyhow::ensure!(!base.is_empty(), "no texts found under {}", root.display());
    let texts = joined(base.clone(), &mut seen, super::POOL_TEXTS);
    let mean_chars = texts.iter().map(|t| t.chars().count()).sum::<usize>() / texts.len();
    let escaped = texts.iter().map(|t| serde_json::Value::String(t.clone()).to_string()).collect();
    Ok(Pool { escaped, base: base.len(), mean_chars })
}

/// The texts of every saved response under `dir/<platform>/<source>/`.
fn demo_texts(dir: &Path) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    let collected_at = chrono::Utc::now();
    for &platform in Platform::ALL {
        let Ok(sources) = std::fs::read_dir(dir.join(platform.name())) else { continue };
        for page in sources.flatten().filter_map(|s| std::fs::read_dir(s.path()).ok()).flatten().flatten() {
            let bytes = std::fs::read(page.path()).with_context(|| format!("cannot read {}", page.path().display()))?;
            // OK comment pages do not name their post; any parent will do for the text.
            let parent = format!("{}:1:1", platform.uid_prefix()).parse().ok();
            let ctx = ParseContext { source_id: None, collected_at, parent, owner: None };
            texts.extend(parse_saved_response(platform, &bytes, &ctx).unwrap_or_default().into_iter().map(|p| p.text));
        }
    }
    Ok(texts)
}

/// `base` followed by new texts, each one text's sentences followed by a sentence of another,
/// until there are `target` distinct texts.
fn joined(base: Vec<String>, seen: &mut HashSet<String>, target: usize) -> Vec<String> {
    let sentences: Vec<&str> = base
        .iter()
        .flat_map(|t| t.split_inclusive(['.', '!', '?', '\n']))
        .map(str::trim)
        .filter(|s| s.len() > 3)
        .collect();
    let mut texts = base.clone();
    let mut rng = SplitMix(0x6f74_6b6c_696b);
    // Bounded: duplicates are skipped, and the attempts stop even if few new texts come out.
    for _ in 0..target.saturating_mul(4) {
        if texts.len() >= target || sentences.is_empty() {
            break;
        }
        let mut text = base[rng.below(base.len())].clone();
        for _ in 0..=rng.below(2) {
            text.push(' ');
            text.push_str(sentences[rng.below(sentences.len())]);
        }
        let text: String = text.chars().take(MAX_JOINED_CHARS).collect();
        if seen.insert(text.clone()) {
            texts.push(text);
        }
    }
    texts
}

/// A small seeded generator (SplitMix64): the same texts on every run, without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fixtures_give_thousands_of_distinct_texts() {
        let pool = super::pool(Path::new(env!("CARGO_MANIFEST_DIR")), None).unwrap();
        assert!(pool.base > 3_000, "{} texts from the fixtures", pool.base);
        assert_eq!(pool.escaped.len(), super::super::POOL_TEXTS);
        let distinct: std::collections::HashSet<_> = pool.escaped.iter().collect();
        assert_eq!(distinct.len(), pool.escaped.len());
        assert!(pool.escaped.iter().all(|t| serde_json::from_str::<String>(t).is_ok()));
        assert!((50..1_200).contains(&pool.mean_chars), "{}", pool.mean_chars);
    }

    use std::path::Path;
}
