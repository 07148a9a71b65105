//! What the fixture tests share: the repository's root, the shipped classifier and the fixtures
//! of `tests/fixtures/classify`.

#![allow(dead_code)] // each test binary uses its own part

use otklik_classify::{Classifier, SourceContext};
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

/// How a set of posts labelled with their problem's municipality came out (`resident_places.csv`,
/// `blind_places.csv`): of the municipalities assigned, how many right; of the places named, how
/// many found; of the posts about another region, how many flagged; and every miss.
#[derive(Default)]
pub struct PlaceScores {
    pub assigned: usize,
    pub right: usize,
    pub named: usize,
    pub found: usize,
    pub elsewhere: usize,
    pub flagged: usize,
    pub flagged_wrongly: usize,
    pub misses: Vec<String>,
}

impl PlaceScores {
    /// The shipped classifier on a fixture with `text`, `municipality` and `out_of_region` columns;
    /// prints the report, for a failing test's log.
    pub fn of_fixture(name: &str) -> PlaceScores {
        let mut reader = fixture(name);
        let headers = reader.headers().expect("a header row").clone();
        let column = |c: &str| headers.iter().position(|h| h == c).unwrap_or_else(|| panic!("{name}: no {c} column"));
        let (text, label, outside) = (column("text"), column("municipality"), column("out_of_region"));
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("well-formed CSV row")).collect();
        let rows = records.iter().map(|r| (&r[text], &r[label], &r[outside] == "1"));
        let scores = PlaceScores::of(&shipped(true), rows);
        println!("{}", scores.report());
        scores
    }

    /// Classifies each (text, municipality or "", about another region) with the whole classifier.
    pub fn of<'a>(classifier: &Classifier, rows: impl IntoIterator<Item = (&'a str, &'a str, bool)>) -> PlaceScores {
        let mut s = PlaceScores::default();
        for (text, label, outside) in rows {
            let c = classifier.classify_text(text, &SourceContext::default());
            let got = c.municipality.as_ref().map_or("", |m| m.oktmo.as_str());
            s.assigned += usize::from(!got.is_empty());
            s.right += usize::from(!got.is_empty() && got == label);
            s.named += usize::from(!label.is_empty());
            s.found += usize::from(!label.is_empty() && got == label);
            s.elsewhere += usize::from(outside);
            s.flagged += usize::from(outside && c.out_of_region);
            s.flagged_wrongly += usize::from(!outside && c.out_of_region);
            if got != label || c.out_of_region != outside {
                s.misses.push(format!("  {text:?}: expected {label:?} {outside}, got {got:?} {}", c.out_of_region));
            }
        }
        s
    }

    pub fn precision(&self) -> f64 {
        self.right as f64 / self.assigned.max(1) as f64
    }

    pub fn coverage(&self) -> f64 {
        self.found as f64 / self.named.max(1) as f64
    }

    /// One line of figures, then the misses.
    pub fn report(&self) -> String {
        format!(
            "assigned {}, right {} ({:.3}); named {}, found {} ({:.3}); another region {}, flagged {}, flagged wrongly {}\n{}",
            self.assigned,
            self.right,
            self.precision(),
            self.named,
            self.found,
            self.coverage(),
            self.elsewhere,
            self.flagged,
            self.flagged_wrongly,
            self.misses.join("\n")
        )
    }
}
