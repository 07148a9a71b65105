//! Measuring the classifier on a labelled CSV.
//!
//! The CSV has a header with at least `id` and `text`, and optionally `topics` (topic ids
//! separated by `;`, possibly empty; a file without the column is an off-topic set, every row
//! labelled with none), `municipality` (an 8-digit ОКТМО code or empty) and `is_source` (`1` or
//! `true` when the source itself wrote the post: a channel's own news). Other columns are
//! ignored. Every row is classified as a post from an unbound, unofficial source, so that the
//! municipality score measures the text alone.
//!
//! Besides topics the report counts kinds, and the rows labelled with no topic that still got a
//! topic and a complaint or question kind: those are what would raise a false spike.
//!
//! Macro averages run over the topics with support (a topic absent from the labels has no recall
//! to speak of); its false positives still count in the micro average.

use crate::Writer;
use crate::{Classifier, SourceContext};
use otklik_model::{Classification, PostKind, Topic};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};

/// The labelled file could not be read. Never retryable: the file is wrong as it is.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("reading the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV has no {0:?} column (needs id and text, optionally topics, municipality, is_source)")]
    MissingColumn(&'static str),
    #[error("row {row} (id {id:?}): {message}")]
    BadRow { row: u64, id: String, message: String },
}

impl EvalError {
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Precision, recall and F1 of one topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicMetrics {
    pub topic: Topic,
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows labelled with the topic.
    pub support: u32,
}

/// An average of precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Averages {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// How well municipalities were found, over rows whose label names one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MunicipalityMetrics {
    /// Rows with a municipality label.
    pub labelled: u32,
    /// Of those, rows the classifier gave a municipality.
    pub assigned: u32,
    pub correct: u32,
    /// Rows with no municipality label that got one anyway.
    pub assigned_unlabelled: u32,
    /// correct / assigned.
    pub accuracy: f64,
    /// assigned / labelled.
    pub coverage: f64,
}

/// A labelled topic predicted as another (or as nothing: `predicted` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub gold: Option<Topic>,
    pub predicted: Option<Topic>,
    pub count: u32,
}

/// A row the classifier got wrong (topics or municipality).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    pub id: String,
    pub text: String,
    pub gold: Vec<Topic>,
    pub predicted: Vec<Topic>,
    /// The strongest rule of each predicted topic.
    pub rules: Vec<String>,
    pub gold_municipality: Option<String>,
    pub predicted_municipality: Option<String>,
    /// Each counted rule that fired, as `rule «span»`, for finding what to fix.
    pub evidence: Vec<String>,
}

/// The result of [`evaluate`]. `Display` prints a readable table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub rows: u32,
    pub classifier_version: String,
    /// Taxonomy order; topics with neither support nor predictions are left out.
    pub per_topic: Vec<TopicMetrics>,
    pub micro: Averages,
    pub macro_avg: Averages,
    /// Rows that got no topic at all.
    pub untagged: u32,
    pub municipality: Option<MunicipalityMetrics>,
    /// Most frequent first.
    pub confusions: Vec<Confusion>,
    pub misses: Vec<Miss>,
    /// Rows per predicted kind.
    pub kinds: BTreeMap<PostKind, u32>,
    /// Rows labelled with no topic.
    pub unlabelled: u32,
    /// Of those, rows that got a topic and a complaint or question kind: a false spike's material.
    pub unlabelled_alerting: u32,
}

fn prf(tp: u32, fp: u32, fn_: u32) -> (f64, f64, f64) {
    let p = if tp + fp == 0 { 0.0 } else { tp as f64 / (tp + fp) as f64 };
    let r = if tp + fn_ == 0 { 0.0 } else { tp as f64 / (tp + fn_) as f64 };
    let f = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
    (p, r, f)
}

/// Classifies every row of `reader` and compares with its labels.
pub fn evaluate<R: Read>(classifier: &Classifier, reader: R) -> Result<EvalReport, EvalError> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let columns = Columns::find(csv.headers()?)?;
    let mut tally = Tally::default();
    let source = SourceContext::default();
    for (i, record) in csv.records().enumerate() {
        let row = columns.read(&record?, i as u64 + 2)?;
        let c = classifier.classify_text_as(&row.text, &source, row.writer);
        let predicted: BTreeSet<Topic> = c.topics.iter().map(|h| h.topic).collect();
        let got_muni = c.municipality.as_ref().map(|m| m.oktmo.clone());
        let topics_wrong = tally.topics(&row.gold, &predicted, c.kind);
        let muni_wrong = columns.municipality.is_some() && tally.municipality(&row.gold_muni, &got_muni);
        if topics_wrong || muni_wrong {
            tally.misses.push(miss(classifier, &source, row, &c, got_muni));
        }
    }
    Ok(tally.report(classifier.version(), columns.municipality.is_some()))
}

/// Where the columns of the labelled CSV are.
struct Columns {
    id: usize,
    text: usize,
    topics: Option<usize>,
    municipality: Option<usize>,
    is_source: Option<usize>,
}

/// One labelled row, as read.
struct Row {
    id: String,
    text: String,
    gold: BTreeSet<Topic>,
    gold_muni: Option<String>,
    writer: Writer,
}

impl Columns {
    fn find(headers: &csv::StringRecord) -> Result<Columns, EvalError> {
        let col = |name: &'static str| headers.iter().position(|h| h.trim() == name);
        Ok(Columns {
            id: col("id").ok_or(EvalError::MissingColumn("id"))?,
            text: col("text").ok_or(EvalError::MissingColumn("text"))?,
            topics: col("topics"),
            municipality: col("municipality"),
            is_source: col("is_source"),
        })
    }

    /// Row `row` (its line in the file, for messages) with its labels checked.
    fn read(&self, record: &csv::StringRecord, row: u64) -> Result<Row, EvalError> {
        let id = record.get(self.id).unwrap_or("").to_owned();
        let bad = |message: String| EvalError::BadRow { row, id: id.clone(), message };
        let cell = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim);
        let mut gold = BTreeSet::new();
        for t in cell(self.topics).unwrap_or("").split(';').map(str::trim).filter(|t| !t.is_empty()) {
            gold.insert(t.parse::<Topic>().map_err(|e| bad(e.to_string()))?);
        }
        let gold_muni = match cell(self.municipality).filter(|m| !m.is_empty()) {
            Some(m) if m.len() == 8 && m.bytes().all(|b| b.is_ascii_digit()) => Some(m.to_owned()),
            Some(m) => return Err(bad(format!("municipality {m:?} is not an 8-digit ОКТМО code"))),
            None => None,
        };
        let writer = match cell(self.is_source) {
            Some("1" | "true") => Writer::Source,
            Some("" | "0" | "false") | None => Writer::Resident,
            Some(v) => return Err(bad(format!("is_source {v:?} is not 1, 0, true or false"))),
        };
        let text = record.get(self.text).unwrap_or("").to_owned();
        Ok(Row { id, text, gold, gold_muni, writer })
    }
}

/// What the rows add up to, before the averages.
#[derive(Default)]
struct Tally {
    rows: u32,
    untagged: u32,
    unlabelled: u32,
    unlabelled_alerting: u32,
    /// Per topic: true positives, false positives, false negatives.
    counts: BTreeMap<Topic, (u32, u32, u32)>,
    confusions: BTreeMap<(Option<Topic>, Option<Topic>), u32>,
    kinds: BTreeMap<PostKind, u32>,
    muni: MunicipalityMetrics,
    misses: Vec<Miss>,
}

impl Tally {
    /// Counts one row's topics and kind; true when the topics differ from the labels.
    fn topics(&mut self, gold: &BTreeSet<Topic>, predicted: &BTreeSet<Topic>, kind: PostKind) -> bool {
        self.rows += 1;
        self.untagged += u32::from(predicted.is_empty());
        *self.kinds.entry(kind).or_default() += 1;
        if gold.is_empty() {
            self.unlabelled += 1;
            let alerting = matches!(kind, PostKind::Complaint | PostKind::Question);
            self.unlabelled_alerting += u32::from(alerting && !predicted.is_empty());
        }
        for &t in gold.union(predicted) {
            let e = self.counts.entry(t).or_default();
            match (gold.contains(&t), predicted.contains(&t)) {
                (true, true) => e.0 += 1,
                (false, true) => e.1 += 1,
                (true, false) => e.2 += 1,
                (false, false) => {}
            }
        }
        let missed: Vec<Topic> = gold.difference(predicted).copied().collect();
        let extra: Vec<Topic> = predicted.difference(gold).copied().collect();
        // A missed topic is confused with each extra one, or with nothing; an extra topic with no
        // missed one beside it is confused with nothing.
        let pairs: Vec<(Option<Topic>, Option<Topic>)> = match (missed.is_empty(), extra.is_empty()) {
            (false, true) => missed.iter().map(|&g| (Some(g), None)).collect(),
            (true, false) => extra.iter().map(|&p| (None, Some(p))).collect(),
            _ => missed.iter().flat_map(|&g| extra.iter().map(move |&p| (Some(g), Some(p)))).collect(),
        };
        for pair in pairs {
            *self.confusions.entry(pair).or_default() += 1;
        }
        !missed.is_empty() || !extra.is_empty()
    }

    /// Counts one row's municipality; true when it differs from the label.
    fn municipality(&mut self, gold: &Option<String>, got: &Option<String>) -> bool {
        let muni = &mut self.muni;
        match (gold, got) {
            (Some(g), Some(p)) => {
                muni.labelled += 1;
                muni.assigned += 1;
                muni.correct += u32::from(g == p);
                g != p
            }
            (Some(_), None) => {
                muni.labelled += 1;
                true
            }
            (None, Some(_)) => {
                muni.assigned_unlabelled += 1;
                true
            }
            (None, None) => false,
        }
    }

    fn report(self, classifier_version: &str, with_municipality: bool) -> EvalReport {
        let mut per_topic = Vec::new();
        let (mut tp_all, mut fp_all, mut fn_all) = (0, 0, 0);
        let (mut mp, mut mr, mut mf, mut n) = (0.0, 0.0, 0.0, 0u32);
        for (&topic, &(tp, fp, fn_)) in &self.counts {
            let (precision, recall, f1) = prf(tp, fp, fn_);
            let support = tp + fn_;
            tp_all += tp;
            fp_all += fp;
            fn_all += fn_;
            if support > 0 {
                mp += precision;
                mr += recall;
                mf += f1;
                n += 1;
            }
            per_topic.push(TopicMetrics { topic, tp, fp, fn_, precision, recall, f1, support });
        }
        let (p, r, f) = prf(tp_all, fp_all, fn_all);
        let n = n.max(1) as f64;
        let mut muni = self.muni;
        muni.accuracy = ratio(muni.correct, muni.assigned);
        muni.coverage = ratio(muni.assigned, muni.labelled);
        let mut confusions: Vec<Confusion> = self
            .confusions
            .into_iter()
            .map(|((gold, predicted), count)| Confusion { gold, predicted, count })
            .collect();
        confusions.sort_by_key(|c| std::cmp::Reverse(c.count));
        EvalReport {
            rows: self.rows,
            classifier_version: classifier_version.to_owned(),
            per_topic,
            micro: Averages { precision: p, recall: r, f1: f },
            macro_avg: Averages { precision: mp / n, recall: mr / n, f1: mf / n },
            untagged: self.untagged,
            municipality: with_municipality.then_some(muni),
            confusions,
            misses: self.misses,
            kinds: self.kinds,
            unlabelled: self.unlabelled,
            unlabelled_alerting: self.unlabelled_alerting,
        }
    }
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A row got wrong, with the rules that fired: explaining costs a second pass, so only the misses
/// pay it.
fn miss(
    classifier: &Classifier,
    source: &SourceContext,
    row: Row,
    c: &Classification,
    got_muni: Option<String>,
) -> Miss {
    let explanation = classifier.explain_text_as(&row.text, source, row.writer);
    let evidence = explanation
        .rules
        .iter()
        .filter(|h| !h.excluded && !h.target.starts_with("kind:"))
        .map(|h| format!("{} «{}»", h.rule, h.spans.first().map_or("", |s| s.text.as_str())))
        .collect();
    Miss {
        evidence,
        id: row.id,
        text: row.text,
        gold: row.gold.into_iter().collect(),
        predicted: c.topics.iter().map(|h| h.topic).collect(),
        rules: c.topics.iter().map(|h| h.rule.clone()).collect(),
        gold_municipality: row.gold_muni,
        predicted_municipality: got_muni,
    }
}

impl EvalReport {
    /// Writes the misclassified rows as CSV: `id,text,gold,predicted,rules,gold_municipality,predicted_municipality,evidence`.
    pub fn write_misses<W: Write>(&self, writer: W) -> Result<(), csv::Error> {
        let join = |ts: &[Topic]| ts.iter().map(|t| t.id()).collect::<Vec<_>>().join(";");
        let mut w = csv::Writer::from_writer(writer);
        w.write_record([
            "id",
            "text",
            "gold",
            "predicted",
            "rules",
            "gold_municipality",
            "predicted_municipality",
            "evidence",
        ])?;
        for m in &self.misses {
            w.write_record([
                m.id.as_str(),
                m.text.as_str(),
                &join(&m.gold),
                &join(&m.predicted),
                &m.rules.join(";"),
                m.gold_municipality.as_deref().unwrap_or(""),
                m.predicted_municipality.as_deref().unwrap_or(""),
                &m.evidence.join("; "),
            ])?;
        }
        w.flush()?;
        Ok(())
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "classifier {} on {} rows ({} with no topic)", self.classifier_version, self.rows, self.untagged)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<22} {:>9} {:>9} {:>9} {:>8} {:>6} {:>6} {:>6}",
            "topic", "precision", "recall", "F1", "support", "tp", "fp", "fn"
        )?;
        for m in &self.per_topic {
            writeln!(
                f,
                "{:<22} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>6} {:>6} {:>6}",
                m.topic.id(),
                m.precision,
                m.recall,
                m.f1,
                m.support,
                m.tp,
                m.fp,
                m.fn_
            )?;
        }
        writeln!(
            f,
            "{:<22} {:>9.3} {:>9.3} {:>9.3}",
            "micro avg", self.micro.precision, self.micro.recall, self.micro.f1
        )?;
        writeln!(
            f,
            "{:<22} {:>9.3} {:>9.3} {:>9.3}",
            "macro avg", self.macro_avg.precision, self.macro_avg.recall, self.macro_avg.f1
        )?;
        if let Some(m) = &self.municipality {
            writeln!(f)?;
            writeln!(
                f,
                "municipality: accuracy {:.3} ({} of {} assigned), coverage {:.3} ({} of {} labelled), {} assigned where the label has none",
                m.accuracy, m.correct, m.assigned, m.coverage, m.assigned, m.labelled, m.assigned_unlabelled
            )?;
        }
        writeln!(f)?;
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{} {n}", k.id())).collect();
        writeln!(f, "kinds: {}", kinds.join(", "))?;
        if self.unlabelled > 0 {
            let share = self.unlabelled_alerting as f64 / self.unlabelled as f64;
            writeln!(
                f,
                "rows labelled with no topic: {}; {} ({:.1} %) got a topic and a complaint or question kind",
                self.unlabelled,
                self.unlabelled_alerting,
                share * 100.0
            )?;
        }
        if !self.confusions.is_empty() {
            writeln!(f)?;
            writeln!(f, "worst confusions (labelled → predicted):")?;
            let name = |t: Option<Topic>| t.map_or("(none)", |t| t.id());
            for c in self.confusions.iter().take(15) {
                writeln!(f, "  {:>5}  {} → {}", c.count, name(c.gold), name(c.predicted))?;
            }
        }
        Ok(())
    }
}
