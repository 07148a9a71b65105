//! What both wirings share: the classifier as a pipeline map stage, and joining stage tasks.
//! (The alert stage is `alert_stage.rs`.)

use crate::reload::Rules;
use otklik_classify::SourceContext;
use otklik_model::{ClassifiedPost, ItemKind, RawPost};
use otklik_pipeline::{Message, Output, Transform, Unprocessable};
use std::sync::Arc;
use tokio::sync::watch;

/// RawPost JSON in, ClassifiedPost JSON out (keyed by uid); undecodable input goes to the DLQ.
/// Posts the alert stage links (those with a topic, and comments, which may be a «+1» under a
/// complaint) also go to the series topic, keyed by municipality (else source), so that one
/// alert instance sees every post of a municipality. The rules are taken once per batch: a
/// reload (SIGHUP) applies from the next batch on.
pub struct ClassifyStage {
    pub rules: watch::Receiver<Arc<Rules>>,
    pub counts: Arc<ClassifyCounts>,
    pub classified_topic: String,
    pub series_topic: String,
}

impl ClassifyStage {
    pub fn new(rules: watch::Receiver<Arc<Rules>>, classified_topic: String, series_topic: String) -> Self {
        ClassifyStage { rules, counts: Arc::default(), classified_topic, series_topic }
    }

    fn classify(&self, rules: &Rules, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let post: RawPost =
            otklik_model::decode("RawPost", &message.payload).map_err(|e| Unprocessable(e.to_string()))?;
        let source = rules.sources.get(&post.source_id);
        // A resident's comment under an administration's post is not the administration speaking.
        let context = SourceContext {
            official: source.is_some_and(|s| s.official) && (post.item_kind == ItemKind::Post || post.author.is_source),
            municipality: source.and_then(|s| s.municipality.clone()),
        };
        let classification = rules.classifier.classify(&post, &context);
        let classified = ClassifiedPost::new(post, classification);
        self.counts.count(&classified);
        let key = classified.post.uid.to_string().into_bytes();
        let payload = otklik_model::encode(&classified);
        let mut outputs = Vec::with_capacity(2);
        if !classified.classification.topics.is_empty() || classified.post.parent_uid.is_some() {
            outputs.push(Output {
                topic: self.series_topic.clone(),
                key: series_key(&classified),
                payload: payload.clone(),
            });
        }
        outputs.push(Output { topic: self.classified_topic.clone(), key, payload });
        Ok(outputs)
    }
}

/// A label (a kind, a topic) and its count.
pub type Tally = (&'static str, u64);

/// Posts the classifier tagged, by kind and by topic (a redelivered post counts again).
#[derive(Debug, Default)]
pub struct ClassifyCounts {
    by_kind: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    by_topic: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl ClassifyCounts {
    fn count(&self, post: &ClassifiedPost) {
        let classification = &post.classification;
        self.add(classification.kind.id(), classification.topics.iter().map(|hit| hit.topic.id()));
    }

    /// Counts one post of `kind` with `topics`.
    pub fn add(&self, kind: &'static str, topics: impl Iterator<Item = &'static str>) {
        *self.by_kind.lock().unwrap_or_else(|p| p.into_inner()).entry(kind).or_default() += 1;
        let mut by_topic = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        for topic in topics {
            *by_topic.entry(topic).or_default() += 1;
        }
    }

    /// (posts by kind, posts by topic).
    pub fn snapshot(&self) -> (Vec<Tally>, Vec<Tally>) {
        let kinds = self.by_kind.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, n)| (*k, *n)).collect();
        let topics = self.by_topic.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, n)| (*k, *n)).collect();
        (kinds, topics)
    }
}

/// The series topic's key: the municipality, else the source.
pub fn series_key(post: &ClassifiedPost) -> Vec<u8> {
    match &post.classification.municipality {
        Some(m) => m.oktmo.clone().into_bytes(),
        None => format!("source:{}", post.post.source_id).into_bytes(),
    }
}

impl Transform for ClassifyStage {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let rules = self.rules.borrow().clone();
        self.classify(&rules, message)
    }

    fn apply_batch(&self, batch: &[Message]) -> Vec<Result<Vec<Output>, Unprocessable>> {
        let rules = self.rules.borrow().clone();
        batch.iter().map(|message| self.classify(&rules, message)).collect()
    }
}
