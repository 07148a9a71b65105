//! How many texts each pattern of the rules matches, pattern by pattern.
//!
//! A pattern that matches nothing in a large set of texts is dead weight, or a pattern that does
//! not say what its author meant: in the pattern language «a|b|=как ~1 =лед» is one phrase of two
//! slots, not a list of «a», «b» and the phrase «как лёд», and such a pattern was only ever found
//! because it never fired. `otklik rules-coverage` reports them from [`pattern_coverage`].
//!
//! Every pattern is compiled as a rule of its own into one [`Engine`], so the texts are read once
//! whatever the number of patterns, exactly as the classifier reads them (the same normaliser and
//! matcher); only the scoring is left out, since the question is whether a pattern matches at all.

use crate::config::{self, PatternOrigin};
use crate::engine::{Engine, InflectionMode, RuleSpecs, ScanScratch};
use crate::normalize::{normalize_into, Normalized};
use crate::LoadError;
use std::path::Path;

/// One pattern and the number of texts it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternUse {
    /// `topic.rule`, `topic.exclude` or `kind.<cue>`.
    pub rule: String,
    pub origin: PatternOrigin,
    pub texts: usize,
}

/// Every pattern (and regex) of the rules in `topics_dir`, in file order within each rule, with
/// how many of `texts` it matches.
pub fn pattern_coverage<'a>(
    topics_dir: &Path,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<PatternUse>, LoadError> {
    let config = config::load_dir(topics_dir)?;
    let mut uses = Vec::new();
    let mut specs = Vec::new();
    for rule in config.rules {
        let (phrases, regexes) = (rule.phrases.into_iter(), rule.regexes.into_iter());
        let one_each = phrases
            .map(|p| RuleSpecs { phrases: vec![p], regexes: vec![] })
            .chain(regexes.map(|r| RuleSpecs { phrases: vec![], regexes: vec![r] }));
        for (spec, origin) in one_each.zip(rule.origins) {
            specs.push(spec);
            uses.push(PatternUse { rule: rule.id.clone(), origin, texts: 0 });
        }
    }
    for cue in config.cues {
        for (phrase, origin) in cue.phrases.into_iter().zip(cue.origins) {
            specs.push(RuleSpecs { phrases: vec![phrase], regexes: vec![] });
            uses.push(PatternUse { rule: format!("kind.{}", cue.cue.id()), origin, texts: 0 });
        }
    }
    let engine = Engine::build(&specs, InflectionMode::default()).map_err(|message| LoadError {
        problems: vec![crate::Problem { file: topics_dir.to_path_buf(), line: None, message, hint: None }],
    })?;
    let (mut norm, mut scan) = (Normalized::default(), ScanScratch::default());
    for text in texts {
        normalize_into(text, &mut norm);
        engine.scan_into(&norm, &mut scan);
        for fired in scan.fired() {
            uses[fired.rule as usize].texts += 1;
        }
    }
    Ok(uses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_counted_once_per_text_it_matches_and_a_dead_one_stays_at_zero() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/topics");
        for entry in std::fs::read_dir(&shipped).expect("shipped rules") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.path().join(path.file_name().expect("file name"))).expect("copy");
        }
        // A rule of the file's last topic, whatever it is.
        let file = dir.path().join("streets.toml");
        let shipped_lines = std::fs::read_to_string(&file).expect("read").lines().count();
        let probe = r#"
[[topic.rule]]
id = "coverage_probe"
patterns = [
    "=ухаб|=ухабы",
    "=колдобина",
    "=ухаб|=ухабы|=колдобина ~1 =зимой",
]
"#;
        let mut text = std::fs::read_to_string(&file).expect("read");
        text.push_str(probe);
        std::fs::write(&file, text).expect("write");
        let texts = ["ухаб на дороге", "ухабы, ухабы и ещё раз ухабы", "на въезде колдобина"];
        let uses = pattern_coverage(dir.path(), texts).expect("rules load");
        let of = |pattern: &str| {
            let u = uses.iter().find(|u| u.origin.text == pattern).expect("pattern reported");
            assert!(u.rule.ends_with(".coverage_probe"), "{}", u.rule);
            (u.origin.line - shipped_lines, u.texts)
        };
        assert_eq!(of("=ухаб|=ухабы"), (5, 2));
        assert_eq!(of("=колдобина"), (6, 1));
        // Meant as a list ending in a phrase, read as a phrase of two slots: it never fires.
        assert_eq!(of("=ухаб|=ухабы|=колдобина ~1 =зимой"), (7, 0));
        assert!(uses.iter().any(|u| u.rule.starts_with("kind.") && u.texts > 0), "the cues are counted too");
    }
}
