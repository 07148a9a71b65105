//! What both wirings share: the classifier as a pipeline map stage, and joining stage tasks.

use otklik_classify::{Classifier, SourceContext};
use otklik_model::{ClassifiedPost, ItemKind, RawPost, Source};
use otklik_pipeline::{Message, Output, Transform, Unprocessable};
use std::collections::HashMap;
use std::sync::Arc;

/// RawPost JSON in, ClassifiedPost JSON out (keyed by uid); undecodable input goes to the DLQ.
pub struct ClassifyStage {
    pub classifier: Arc<Classifier>,
    /// Source id → what the classifier should know about the source.
    pub sources: HashMap<String, SourceContext>,
    pub output_topic: String,
}

impl ClassifyStage {
    pub fn new(classifier: Arc<Classifier>, sources: &[Source], output_topic: String) -> Self {
        let sources = sources.iter().map(|s| (s.id.clone(), SourceContext { official: s.official, municipality: s.municipality.clone() })).collect();
        ClassifyStage { classifier, sources, output_topic }
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
        let key = post.uid.to_string().into_bytes();
        let payload = otklik_model::encode(&ClassifiedPost::new(post, classification));
        Ok(vec![Output { topic: self.output_topic.clone(), key, payload }])
    }
}

/// Waits for a stage task and names the stage in any failure.
pub async fn join_stage(name: &str, task: tokio::task::JoinHandle<Result<(), otklik_pipeline::StageError>>) -> anyhow::Result<()> {
    use anyhow::Context;
    task.await.with_context(|| format!("stage {name} panicked"))?.with_context(|| format!("stage {name} failed"))
}
