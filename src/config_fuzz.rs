//! A fuzz pass over [`Config::load`] with a fixed budget: mutated copies of the shipped
//! `otklik.toml`, `sources.example.toml` and `responders.toml` (lines removed or duplicated, values replaced by
//! random strings, durations, sizes and numbers, random bytes) never panic, and every refusal
//! names the line of each problem.

use super::Config;
use proptest::prelude::*;
use std::path::Path;

const CONFIG: &str = include_str!("../config/otklik.toml");
const SOURCES: &str = include_str!("../config/sources.example.toml");
const RESPONDERS: &str = include_str!("../config/responders.toml");

#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Duplicate(usize),
    /// The value of a `key = value` line (or the whole line) becomes this.
    Replace(usize, String),
    Bytes(usize, Vec<u8>),
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\"[0-9]{1,16}(ms|s|m|h|d)\"",
        "\"[0-9]{1,14}(KiB|MiB|GiB|B|)\"",
        "-?[0-9]{1,21}",
        "\"[ -~а-я]{0,12}\"",
        "[ -~]{0,12}",
        Just("\"/dev/zero\"".to_owned()),
        Just("\"0s\"".to_owned()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Duplicate),
        3 => (any::<usize>(), value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..6)).prop_map(|(i, b)| Mutation::Bytes(i, b)),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.split_inclusive('\n').map(|l| l.as_bytes().to_vec()).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match m {
            Mutation::Remove(i) => drop(lines.remove(i % n)),
            Mutation::Duplicate(i) => lines.insert(i % n, lines[i % n].clone()),
            Mutation::Replace(i, value) => {
                let line = String::from_utf8_lossy(&lines[i % n]).into_owned();
                let key = line.split_once('=').map(|(k, _)| format!("{}= ", k)).unwrap_or_default();
                lines[i % n] = format!("{key}{value}\n").into_bytes();
            }
            Mutation::Bytes(i, bytes) => lines[i % n].splice(0..0, bytes.iter().copied()).for_each(drop),
        }
    }
    lines.concat()
}

fn check(dir: &Path, config: &[u8], sources: &[u8], responders: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join("otklik.toml");
    std::fs::write(&path, config).map_err(|e| TestCaseError::fail(e.to_string()))?;
    std::fs::write(dir.join("sources.example.toml"), sources).map_err(|e| TestCaseError::fail(e.to_string()))?;
    std::fs::write(dir.join("responders.toml"), responders).map_err(|e| TestCaseError::fail(e.to_string()))?;
    match Config::load(&path) {
        Ok(config) => prop_assert!(config.collect.poll_interval.0 >= std::time::Duration::from_secs(1)),
        Err(problems) => {
            prop_assert!(!problems.0.is_empty());
            let text = String::from_utf8_lossy(config);
            for p in &problems.0 {
                // Only a file that cannot be read, or a default of a table the file lacks, has
                // no line to point at.
                let table = p.message.split(['.', ':']).next().unwrap_or_default();
                let absent = !text.lines().any(|l| l.trim_start().starts_with(&format!("[{table}")));
                prop_assert!(p.line.is_some() || p.message.contains("cannot read") || absent, "no line: {p}");
            }
        }
    }
    Ok(())
}

proptest! {
    // A fixed budget: about 3.5 s in a debug build.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_load_or_name_each_problems_line(
        config_mutations in proptest::collection::vec(mutation(), 0..4),
        sources_mutations in proptest::collection::vec(mutation(), 0..4),
        responders_mutations in proptest::collection::vec(mutation(), 0..4),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        // The topic rules are found; the gazetteer is off (loading it per case costs ~0.3 s).
        let base = CONFIG
            .replace("topics_dir = \"topics\"", &format!("topics_dir = {:?}", repo.join("topics")))
            .replace("gazetteer = \"gazetteer/gazetteer.tsv\"", "gazetteer = \"\"");
        let responders = mutate(RESPONDERS, &responders_mutations);
        check(dir.path(), &mutate(&base, &config_mutations), &mutate(SOURCES, &sources_mutations), &responders)?;
    }
}

#[test]
fn the_unmutated_files_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let base = CONFIG.replace("topics_dir = \"topics\"", &format!("topics_dir = {:?}", repo.join("topics")));
    let base = base.replace("gazetteer = \"gazetteer/gazetteer.tsv\"", "gazetteer = \"\"");
    std::fs::write(dir.path().join("otklik.toml"), base).expect("write");
    std::fs::write(dir.path().join("sources.example.toml"), SOURCES).expect("write");
    std::fs::write(dir.path().join("responders.toml"), RESPONDERS).expect("write");
    let loaded = Config::load(&dir.path().join("otklik.toml"));
    assert!(loaded.is_ok(), "{}", loaded.err().map(|p| p.to_string()).unwrap_or_default());
}
