//! How well incident linking agrees with labelled incidents: pairwise precision, recall and F1
//! (a pair of posts is right when both sides put them in one incident), the adjusted Rand index,
//! and the worst merges (predicted incidents mixing labels) and splits (labelled incidents cut
//! apart). Plus the labelled CSV behind `otklik dedup eval` and the run of the linker over it.

use crate::incident::{Link, LinkConfig, LinkPost, Linker, PostFeatures};
use chrono::{DateTime, Utc};
use otklik_classify::{Classifier, SourceContext};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("the CSV has no `{0}` column (required: id, author, published_at, text, incident)")]
    MissingColumn(&'static str),
    #[error("row {row}: {message}")]
    Row { row: usize, message: String },
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
}

impl EvalError {
    /// A bad file stays bad: nothing here is worth retrying.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// One labelled post. Only the first five fields are required in the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub id: String,
    pub author: String,
    pub published_at: DateTime<Utc>,
    pub text: String,
    pub incident: String,
    /// The group it was posted in.
    pub source: Option<String>,
    /// The ОКТМО code the group is bound to.
    pub source_oktmo: Option<String>,
    /// The id of the post a comment answers.
    pub reply_to: Option<String>,
    /// The id of the post this one reposts (its text is the reposted text).
    pub repost_of: Option<String>,
    pub is_source: bool,
    pub official: bool,
}

/// Reads `id,author,published_at,text,incident[,source,source_oktmo,reply_to,repost_of,is_source,official]`
/// (any order, other columns ignored; `published_at` RFC 3339).
pub fn read_rows(reader: impl std::io::Read) -> Result<Vec<Row>, EvalError> {
    let mut csv = csv::Reader::from_reader(reader);
    let headers = csv.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let required = |name: &'static str| col(name).ok_or(EvalError::MissingColumn(name));
    let (id, author, at, text, incident) =
        (required("id")?, required("author")?, required("published_at")?, required("text")?, required("incident")?);
    let optional = ["source", "source_oktmo", "reply_to", "repost_of", "is_source", "official"].map(col);
    let mut rows = Vec::new();
    for (n, record) in csv.records().enumerate() {
        let record = record?;
        let get = |i: usize| record.get(i).unwrap_or("").trim().to_owned();
        let opt = |i: Option<usize>| i.map(get).filter(|v| !v.is_empty());
        let flag = |i: Option<usize>| opt(i).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        let published_at = DateTime::parse_from_rfc3339(&get(at))
            .map_err(|e| EvalError::Row { row: n + 2, message: format!("published_at {:?}: {e}", get(at)) })?
            .with_timezone(&Utc);
        rows.push(Row {
            id: get(id),
            author: get(author),
            published_at,
            text: get(text),
            incident: get(incident),
            source: opt(optional[0]),
            source_oktmo: opt(optional[1]),
            reply_to: opt(optional[2]),
            repost_of: opt(optional[3]),
            is_source: flag(optional[4]),
            official: flag(optional[5]),
        });
    }
    Ok(rows)
}

/// Classifies each row with `classifier` and links the rows in time order; links in row order.
pub fn link_rows(rows: &[Row], classifier: &Classifier, config: LinkConfig) -> Vec<Link> {
    let posts: Vec<LinkPost> = rows.iter().map(|r| link_post(r, classifier)).collect();
    Linker::new(config).link_batch(&posts)
}

fn link_post(row: &Row, classifier: &Classifier) -> LinkPost {
    let context = SourceContext { official: row.official, municipality: row.source_oktmo.clone() };
    let c = classifier.classify_text(&row.text, &context);
    LinkPost {
        uid: row.id.clone(),
        author: (!row.author.is_empty()).then(|| row.author.clone()),
        source: row.source.clone().unwrap_or_default(),
        published_at: row.published_at,
        is_source: row.is_source,
        official: row.official,
        quotes_resident: row.official && row.repost_of.is_some(),
        kind: c.kind,
        topics: c.topics.iter().map(|t| t.topic).collect(),
        municipality: c.municipality.map(|m| m.oktmo),
        reply_to: row.reply_to.clone(),
        repost_of: row.repost_of.clone(),
        own_words: row.repost_of.is_none(),
        features: PostFeatures::of(&row.text, classifier.gazetteer()),
    }
}

/// Pairwise agreement and the adjusted Rand index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub items: usize,
    pub gold_clusters: usize,
    pub predicted_clusters: usize,
    /// Pairs in one labelled incident.
    pub gold_pairs: u64,
    /// Pairs in one predicted incident.
    pub predicted_pairs: u64,
    /// Pairs in one incident on both sides.
    pub both_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub ari: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Scores `predicted` against `gold` (one label each per item, same order).
pub fn score(gold: &[&str], predicted: &[&str]) -> Scores {
    let mut cells: HashMap<(&str, &str), u64> = HashMap::new();
    let mut g: HashMap<&str, u64> = HashMap::new();
    let mut p: HashMap<&str, u64> = HashMap::new();
    for (a, b) in gold.iter().zip(predicted) {
        *cells.entry((a, b)).or_default() += 1;
        *g.entry(a).or_default() += 1;
        *p.entry(b).or_default() += 1;
    }
    let both: u64 = cells.values().map(|&n| pairs(n)).sum();
    let gold_pairs: u64 = g.values().map(|&n| pairs(n)).sum();
    let predicted_pairs: u64 = p.values().map(|&n| pairs(n)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(both, predicted_pairs);
    let recall = ratio(both, gold_pairs);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    let total = pairs(gold.len().min(predicted.len()) as u64) as f64;
    let expected = if total == 0.0 { 0.0 } else { gold_pairs as f64 * predicted_pairs as f64 / total };
    let max = (gold_pairs + predicted_pairs) as f64 / 2.0;
    // Identical partitions with no pair to tell apart (all singletons) agree perfectly.
    let ari = if max == expected { 1.0 } else { (both as f64 - expected) / (max - expected) };
    Scores {
        items: gold.len().min(predicted.len()),
        gold_clusters: g.len(),
        predicted_clusters: p.len(),
        gold_pairs,
        predicted_pairs,
        both_pairs: both,
        precision,
        recall,
        f1,
        ari,
    }
}

/// A predicted incident that mixes labelled ones, or a labelled one cut apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// The predicted incident (merge) or the labelled one (split).
    pub cluster: String,
    /// The other side's clusters inside it, largest first, with their sizes.
    pub parts: Vec<(String, u64)>,
    /// Pairs wrongly joined (merge) or wrongly kept apart (split).
    pub wrong_pairs: u64,
}

/// Predicted incidents mixing labelled ones, worst (most wrong pairs) first, at most `n`.
pub fn worst_merges(gold: &[&str], predicted: &[&str], n: usize) -> Vec<Mistake> {
    worst(predicted, gold, n)
}

/// Labelled incidents cut into several predicted ones, worst first, at most `n`.
pub fn worst_splits(gold: &[&str], predicted: &[&str], n: usize) -> Vec<Mistake> {
    worst(gold, predicted, n)
}

fn worst(outer: &[&str], inner: &[&str], n: usize) -> Vec<Mistake> {
    let mut groups: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    for (o, i) in outer.iter().zip(inner) {
        *groups.entry(o).or_default().entry(i).or_default() += 1;
    }
    let mut out: Vec<Mistake> = groups
        .into_iter()
        .filter(|(_, parts)| parts.len() > 1)
        .map(|(cluster, parts)| {
            let size: u64 = parts.values().sum();
            let wrong_pairs = pairs(size) - parts.values().map(|&k| pairs(k)).sum::<u64>();
            let mut parts: Vec<(String, u64)> = parts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Mistake { cluster: cluster.to_owned(), parts, wrong_pairs }
        })
        .collect();
    out.sort_by(|a, b| b.wrong_pairs.cmp(&a.wrong_pairs).then_with(|| a.cluster.cmp(&b.cluster)));
    out.truncate(n);
    out
}

/// The figures `otklik dedup eval` prints for one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub scores: Scores,
    pub merges: Vec<Mistake>,
    pub splits: Vec<Mistake>,
}

impl Report {
    pub fn new(title: &str, gold: &[&str], predicted: &[&str], worst: usize) -> Report {
        Report {
            title: title.to_owned(),
            scores: score(gold, predicted),
            merges: worst_merges(gold, predicted, worst),
            splits: worst_splits(gold, predicted, worst),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.scores;
        writeln!(f, "== {} ==", self.title)?;
        writeln!(f, "posts {}, labelled incidents {}, predicted {}", s.items, s.gold_clusters, s.predicted_clusters)?;
        writeln!(f, "pairwise precision {:.3}  recall {:.3}  F1 {:.3}", s.precision, s.recall, s.f1)?;
        writeln!(f, "adjusted Rand index {:.3}", s.ari)?;
        let part = |m: &Mistake| m.parts.iter().map(|(k, v)| format!("{k}×{v}")).collect::<Vec<_>>().join(", ");
        for m in &self.merges {
            writeln!(f, "  merge: predicted {} holds labelled {} ({} wrong pairs)", m.cluster, part(m), m.wrong_pairs)?;
        }
        for m in &self.splits {
            writeln!(
                f,
                "  split: labelled {} cut into predicted {} ({} missed pairs)",
                m.cluster,
                part(m),
                m.wrong_pairs
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_partitions_score_one() {
        let s = score(&["a", "a", "b", "c"], &["x", "x", "y", "z"]);
        assert_eq!((s.precision, s.recall, s.f1, s.ari), (1.0, 1.0, 1.0, 1.0));
    }

    #[test]
    fn a_merge_costs_precision_only() {
        // gold {1,2} {3,4}; predicted {1,2,3,4}: 6 predicted pairs, 2 right.
        let s = score(&["a", "a", "b", "b"], &["x", "x", "x", "x"]);
        assert_eq!((s.gold_pairs, s.predicted_pairs, s.both_pairs), (2, 6, 2));
        assert!((s.precision - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.recall, 1.0);
        // ARI: index 2, expected 2·6/6 = 2, max 4 → 0.
        assert!(s.ari.abs() < 1e-12, "{}", s.ari);
    }

    #[test]
    fn a_split_costs_recall_and_is_reported() {
        // gold {1,2,3}; predicted {1,2} {3}: 3 gold pairs, 1 kept.
        let gold = ["a", "a", "a", "b"];
        let predicted = ["x", "x", "y", "z"];
        let s = score(&gold, &predicted);
        assert_eq!(s.precision, 1.0);
        assert!((s.recall - 1.0 / 3.0).abs() < 1e-12);
        // index 1, a=3, b=1, total 6: expected 0.5, max 2 → (1-0.5)/(2-0.5) = 1/3.
        assert!((s.ari - 1.0 / 3.0).abs() < 1e-12, "{}", s.ari);
        let splits = worst_splits(&gold, &predicted, 5);
        assert_eq!(
            splits,
            vec![Mistake { cluster: "a".into(), parts: vec![("x".into(), 2), ("y".into(), 1)], wrong_pairs: 2 }]
        );
        assert!(worst_merges(&gold, &predicted, 5).is_empty());
    }

    #[test]
    fn reads_the_five_required_columns_and_optional_ones() {
        let csv = "id,author,published_at,text,incident,extra\n1,u1,2026-11-01T06:00:00Z,\"нет воды, ул. Мира\",i1,z\n";
        let rows = read_rows(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].text, "нет воды, ул. Мира");
        assert_eq!(rows[0].source, None);
        let csv = "id,text,published_at,author,incident,reply_to,official\n2,+1,2026-11-01T07:00:00+03:00,u2,i1,1,1\n";
        let rows = read_rows(csv.as_bytes()).unwrap();
        assert_eq!((rows[0].reply_to.as_deref(), rows[0].official), (Some("1"), true));
        assert_eq!(rows[0].published_at.to_rfc3339(), "2026-11-01T04:00:00+00:00");
        assert!(matches!(read_rows("id,text\n".as_bytes()), Err(EvalError::MissingColumn("author"))));
    }
}
