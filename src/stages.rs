//! What both wirings share: the classifier as a pipeline map stage, and joining stage tasks.
//! (The alert stage is `alert_stage.rs`.)

use otklik_classify::{Classifier, SourceContext};
use otklik_model::{ClassifiedPost, ItemKind, RawPost, Source};
use otklik_pipeline::{Message, Output, Transform, Unprocessable};
use std::collections::HashMap;
use std::sync::Arc;

/// RawPost JSON in, ClassifiedPost JSON out (keyed by uid); undecodable input goes to the DLQ.
/// Posts the alert stage links (those with a topic, and comments, which may be a «+1» under a
/// complaint) also go to the series topic, keyed by municipality (else source), so that one
/// alert instance sees every post of a municipality.
pub struct ClassifyStage {
    pub classifier: Arc<Classifier>,
    /// Source id → what the classifier should know about the source.
    pub sources: HashMap<String, SourceContext>,
    pub classified_topic: String,
    pub series_topic: String,
}

impl ClassifyStage {
    pub fn new(classifier: Arc<Classifier>, sources: &[Source], classified_topic: String, series_topic: String) -> Self {
        let sources = sources.iter().map(|s| (s.id.clone(), SourceContext { official: s.official, municipality: s.municipality.clone() })).collect();
        ClassifyStage { classifier, sources, classified_topic, series_topic }
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
        let post: RawPost = otklik_model::decode("RawPost", &message.payload).map_err(|e| Unprocessable(e.to_string()))?;
        let source = self.sources.get(&post.source_id);
        // A resident's comment under an administration's post is not the administration speaking.
        let context = SourceContext {
            official: source.is_some_and(|s| s.official) && (post.item_kind == ItemKind::Post || post.author.is_source),
            municipality: source.and_then(|s| s.municipality.clone()),
        };
        let classification = self.classifier.classify(&post, &context);
        let classified = ClassifiedPost::new(post, classification);
        let key = classified.post.uid.to_string().into_bytes();
        let payload = otklik_model::encode(&classified);
        let mut outputs = Vec::with_capacity(2);
        if !classified.classification.topics.is_empty() || classified.post.parent_uid.is_some() {
            outputs.push(Output { topic: self.series_topic.clone(), key: series_key(&classified), payload: payload.clone() });
        }
        outputs.push(Output { topic: self.classified_topic.clone(), key, payload });
        Ok(outputs)
    }
}

/// Waits for a stage task and names the stage in any failure.
pub async fn join_stage(name: &str, task: tokio::task::JoinHandle<Result<(), otklik_pipeline::StageError>>) -> anyhow::Result<()> {
    use anyhow::Context;
    task.await.with_context(|| format!("stage {name} panicked"))?.with_context(|| format!("stage {name} failed"))
}

/// Spawns a stage task inside its `stage` span (the embedded wiring; the supervisor does the
/// same for the Kafka wirings).
pub fn spawn_stage(name: &'static str, task: crate::graph::StageTask) -> tokio::task::JoinHandle<Result<(), otklik_pipeline::StageError>> {
    use tracing::Instrument;
    tokio::spawn(task.instrument(tracing::info_span!("stage", stage = name)))
}
