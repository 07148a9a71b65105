//! Bounds on what one post may cost: text length, place mentions, and the size of `--explain`.

use otklik_classify::gazetteer::{Gazetteer, MAX_MENTIONS};
use otklik_classify::{Classifier, SourceContext, MAX_EXPLAIN_ITEMS, MAX_TEXT_CHARS};
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| {
        let g = root().join("config/gazetteer/gazetteer.tsv");
        Classifier::load(&root().join("config/topics"), Some(&g)).expect("shipped rules load")
    })
}

/// About `bytes` of text naming the gazetteer's places one after another, with a complaint in
/// between so that rules fire again and again too.
fn place_dense(bytes: usize) -> String {
    let tsv = std::fs::read_to_string(root().join("config/gazetteer/gazetteer.tsv")).expect("shipped gazetteer");
    let names: Vec<&str> =
        tsv.lines().filter_map(|l| l.strip_prefix("P\t")).filter_map(|l| l.split('\t').nth(6)).collect();
    assert!(names.len() > 1000, "the places are read");
    let mut text = String::new();
    for (i, name) in names.iter().cycle().enumerate() {
        if text.len() >= bytes {
            break;
        }
        text.push_str(if i % 2 == 0 { "в " } else { "г. " });
        text.push_str(name);
        text.push_str(if i % 5 == 0 {
            ", нет отопления и не вывозят мусор, "
        } else {
            ", "
        });
    }
    text
}

#[test]
fn resolution_considers_at_most_max_mentions() {
    let g = Gazetteer::load(&root().join("config/gazetteer/gazetteer.tsv")).expect("shipped gazetteer");
    let r = g.resolve(&place_dense(200_000));
    assert!(r.capped, "a list of thousands of places is capped");
    assert!(r.mentions.len() <= MAX_MENTIONS, "{} mentions", r.mentions.len());
    assert!(r.mentions.len() + r.rejected.len() <= 3 * MAX_MENTIONS, "{} rejected", r.rejected.len());
    let short = g.resolve("В Пензе на ул. Ладожской нет воды");
    assert!(!short.capped);
    assert_eq!(short.chosen.map(|m| m.oktmo).as_deref(), Some("56701000"));
}

#[test]
fn the_explanation_of_a_place_dense_text_stays_small() {
    let text = place_dense(1_000_000);
    let e = classifier().explain_text(&text, &SourceContext::default());
    let size = serde_json::to_vec(&e).expect("serialises").len();
    assert!(size < 400_000, "explanation of 1 MB is {size} bytes");
    assert_eq!(e.cut_at_chars, Some(MAX_TEXT_CHARS));
    assert!(e.rules.len() <= MAX_EXPLAIN_ITEMS);
    assert!(e.rules.iter().all(|r| r.spans.len() <= MAX_EXPLAIN_ITEMS));
    assert!(e.rules.iter().any(|r| r.more_spans > 0), "a rule firing on every line says how many spans it left out");
    // Mentions, rejected names, their two «… and N more», the cap and the other-region verdict.
    assert!(e.municipality_evidence.len() <= 2 * MAX_EXPLAIN_ITEMS + 4);
    assert!(e.municipality_evidence.iter().any(|m| m.starts_with("… and ")), "{:?}", e.municipality_evidence);
}

#[test]
fn a_long_text_is_classified_on_its_first_characters() {
    let text = place_dense(200_000);
    let head: String = text.chars().take(MAX_TEXT_CHARS).collect();
    let source = SourceContext::default();
    assert_eq!(classifier().classify_text(&text, &source), classifier().classify_text(&head, &source));
    assert_eq!(classifier().explain_text(&head, &source).cut_at_chars, None, "exactly the cap is not cut");
}

#[test]
fn an_ordinary_post_is_explained_in_full() {
    let text = "В доме на ул. Ладожской в Пензе третий день нет отопления";
    let e = classifier().explain_text(text, &SourceContext::default());
    assert_eq!((e.more_rules, e.cut_at_chars), (0, None));
    assert!(e.rules.iter().all(|r| r.more_spans == 0));
    assert!(!e.municipality_evidence.iter().any(|m| m.starts_with("… and ")));
}
