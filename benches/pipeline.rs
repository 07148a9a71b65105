//! End-to-end throughput of the embedded wiring: RawPosts published to the memory bus, the
//! classifier map stage, and the local store sink writing JSONEachRow with fsync per batch.
//! The posts are the demo's, parsed by the real parsers and repeated with fresh uids.
//!
//!   cargo bench --bench pipeline

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otklik_classify::{Classifier, SourceContext};
use otklik_clickhouse::{LocalStore, PostRow};
use otklik_collect::{parse_saved_response, ParseContext};
use otklik_model::{ClassifiedPost, Platform, RawPost};
use otklik_pipeline::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const POSTS: usize = 20_000;

fn demo_posts() -> Vec<RawPost> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/feeds");
    let mut posts = Vec::new();
    for platform in Platform::ALL {
        let dir = root.join(platform.name());
        for source in std::fs::read_dir(&dir).unwrap() {
            for page in std::fs::read_dir(source.unwrap().path()).unwrap() {
                let page = page.unwrap().path();
                let ctx = ParseContext {
                    source_id: None,
                    collected_at: chrono::Utc::now(),
                    parent: Some(format!("{}:1:1", platform.uid_prefix()).parse().unwrap()),
                    owner: None,
                };
                posts.extend(parse_saved_response(*platform, &std::fs::read(&page).unwrap(), &ctx).unwrap_or_default());
            }
        }
    }
    assert!(!posts.is_empty());
    posts
}

struct Classify(Arc<Classifier>);

impl Transform for Classify {
    fn apply(&self, message: &Message) -> Result<Vec<Output>, Unprocessable> {
        let post: RawPost =
            otklik_model::decode("RawPost", &message.payload).map_err(|e| Unprocessable(e.to_string()))?;
        let classification = self.0.classify(&post, &SourceContext::default());
        let key = message.key.clone().unwrap_or_default();
        Ok(vec![Output {
            topic: "classified".into(),
            key,
            payload: otklik_model::encode(&ClassifiedPost::new(post, classification)),
        }])
    }
}

async fn run_once(classifier: Arc<Classifier>, payloads: &[(Vec<u8>, Vec<u8>)], dir: &Path) {
    let bus = MemoryBus::new(4);
    let shutdown = CancellationToken::new();
    let backoff = Backoff::default();
    let dead = DeadLetters { publisher: bus.publisher(), topic: "dlq".into(), stage: "bench".into(), backoff };
    let map = tokio::spawn(run_map_stage(
        bus.subscribe("classify", &["raw"]).await.unwrap(),
        bus.publisher(),
        Arc::new(Classify(classifier)),
        dead.clone(),
        MapStageConfig {
            name: "classify".into(),
            max_batch: 512,
            in_flight: 4,
            commit_interval: Duration::from_secs(1),
            backoff,
        },
        Arc::new(StageMetrics::default()),
        shutdown.clone(),
    ));
    let store_metrics = Arc::new(StageMetrics::default());
    let sink = tokio::spawn(run_sink_stage(
        bus.subscribe("store", &["classified"]).await.unwrap(),
        Arc::new(LocalStore::<PostRow>::open(dir).unwrap()),
        dead,
        SinkStageConfig {
            name: "store".into(),
            limits: BatchLimits { max_rows: 5_000, max_bytes: 32 << 20, max_wait: Duration::from_millis(50) },
            backoff,
        },
        store_metrics.clone(),
        shutdown.clone(),
    ));
    let publisher = bus.publisher();
    for (key, payload) in payloads {
        publisher.publish("raw", key, payload).await.unwrap();
    }
    while StageMetrics::get(&store_metrics.emitted) < payloads.len() as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    shutdown.cancel();
    map.await.unwrap().unwrap();
    sink.await.unwrap().unwrap();
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let classifier =
        Arc::new(Classifier::load(&root.join("topics"), Some(&root.join("gazetteer/gazetteer.tsv"))).unwrap());
    let demo = demo_posts();
    let payloads: Vec<(Vec<u8>, Vec<u8>)> = (0..POSTS)
        .map(|i| {
            let mut post = demo[i % demo.len()].clone();
            post.uid.id = format!("{}{i}", post.uid.id);
            (post.uid.to_string().into_bytes(), otklik_model::encode(&post))
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("embedded_pipeline");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(POSTS as u64));
    group.bench_function("raw_to_store_20k_posts", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().unwrap();
            runtime.block_on(run_once(classifier.clone(), &payloads, dir.path()));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
