//! Incident linking throughput and window size: 1 M posts over 72 h, one core.
//!
//! Texts: every text of `tests/fixtures/classify/labeled.csv` and `offtopic.csv`, whole, cut in
//! half and joined in pairs, some with an address — about 15 000 distinct texts, drawn with a
//! skew (a few are reposted and pasted thousands of times, most a handful). Authors (300 000),
//! groups (600, a third bound to a municipality), replies (10 %) and reposts (5 %) vary. Every
//! distinct text is classified and its features (normalisation, shingles, place detail) computed
//! before the timed loop; the loop builds each post and links it (MinHash, LSH, incident and
//! voice decisions, expiry).
//!
//! `cargo bench -p otklik-alert --bench incidents` prints posts per second of on-CPU time for the
//! 1 M pass, the window's size (counted bytes and the process's resident-set growth), then
//! criterion's steady-state figure for linking into the full window. `OTKLIK_BENCH_POSTS` sets
//! the number of posts (default 1 000 000).
//!
//! Measured 2026-12-03 on the shared 2-core build machine (release, default [`LinkConfig`]: 128
//! permutations, 32 bands × 4 rows, Jaccard ≥ 0.5, 72 h window, 36 h quiet gap): 105 000–114 000
//! posts/s of on-CPU time for the 1 M pass, 102 000 posts/s in steady state past 72 h, criterion
//! 11.1 µs per post (≈ 90 000/s); the window held 1 M posts, 127 503 copy clusters and 43 923
//! incidents in ~135 MB counted, and the process's RSS grew by 196 MB.

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use otklik_alert::incident::{LinkConfig, LinkPost, Linker, PostFeatures};
use otklik_classify::{Classifier, SourceContext};
use otklik_model::PostKind;
use std::path::PathBuf;
use std::time::Instant;

const GROUPS: u64 = 600;
const AUTHORS: u64 = 300_000;
const MUNICIPALITIES: &[&str] = &["56701000", "56705000", "56734000", "56656000", "56651000", "56629000", "56613000"];

struct Text {
    kind: PostKind,
    topics: Vec<otklik_model::Topic>,
    municipality: Option<String>,
    features: PostFeatures,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn column(file: &str, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(root().join(file)).expect("fixture readable");
    let at = reader.headers().expect("header").iter().position(|h| h == name).expect("column");
    reader.records().filter_map(Result::ok).filter_map(|r| r.get(at).map(str::to_owned)).collect()
}

/// Whole texts, halves and pairs, some with an address.
fn variants() -> Vec<String> {
    let mut base = column("tests/fixtures/classify/labeled.csv", "text");
    base.extend(column("tests/fixtures/classify/offtopic.csv", "text"));
    let mut out = Vec::new();
    for (i, t) in base.iter().enumerate() {
        out.push(t.clone());
        let words: Vec<&str> = t.split_whitespace().collect();
        if words.len() >= 8 {
            out.push(words[..words.len() / 2].join(" "));
        }
        let other = &base[(i * 7919 + 13) % base.len()];
        out.push(format!("{t} {other}"));
        if i % 2 == 0 {
            out.push(format!(
                "{t}, ул. {} {}",
                ["Мира", "Ленина", "Кирова", "Ладожская", "Суворова"][i % 5],
                i % 97 + 1
            ));
        }
        out.push(format!("{} {}", ["Жители жалуются:", "Пишут:", "Подписчик:", "Анонимно:"][i % 4], t));
    }
    out
}

fn prepare(classifier: &Classifier) -> Vec<Text> {
    variants()
        .iter()
        .map(|text| {
            let c = classifier.classify_text(text, &SourceContext::default());
            Text {
                kind: c.kind,
                topics: c.topics.iter().map(|t| t.topic).collect(),
                municipality: c.municipality.map(|m| m.oktmo),
                features: PostFeatures::of(text, classifier.gazetteer()),
            }
        })
        .collect()
}

/// A fixed xorshift stream: the same posts on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The `i`-th post of the stream (`n` posts spread over 72 h from `start`).
fn post(i: u64, n: u64, start: DateTime<Utc>, texts: &[Text], rng: &mut Rng) -> LinkPost {
    let r = rng.next();
    // Skewed draw: the square of a uniform number favours the first texts.
    let u = (r % 1_000_003) as f64 / 1_000_003.0;
    let text = &texts[((u * u) * texts.len() as f64) as usize % texts.len()];
    let group = (r >> 20) % GROUPS;
    let author = (r >> 32) % AUTHORS;
    let relation = (r >> 50) % 100;
    let earlier = i.saturating_sub(1 + (r >> 40) % 500);
    let municipality = text
        .municipality
        .clone()
        .or_else(|| matches!(group % 3, 0).then(|| MUNICIPALITIES[(group as usize) % 7].to_owned()));
    LinkPost {
        uid: format!("vk:-{group}:{i}"),
        author: Some(author.to_string()),
        source: format!("vk:-{group}"),
        published_at: start + Duration::milliseconds((i as i128 * 72 * 3_600_000 / n as i128) as i64),
        is_source: relation == 99,
        official: matches!(group % 50, 0),
        quotes_resident: false,
        kind: text.kind,
        topics: text.topics.clone(),
        municipality,
        reply_to: (relation < 10).then(|| format!("vk:-{}:{earlier}", (r >> 8) % GROUPS)),
        repost_of: (10..15).contains(&relation).then(|| format!("vk:-{}:{earlier}", (r >> 8) % GROUPS)),
        own_words: !(10..13).contains(&relation),
        features: text.features.clone(),
    }
}

fn on_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

fn incidents(c: &mut Criterion) {
    let classifier =
        Classifier::load(&root().join("config/topics"), Some(&root().join("config/gazetteer/gazetteer.tsv")))
            .expect("the shipped classifier loads");
    let texts = prepare(&classifier);
    let n: u64 = std::env::var("OTKLIK_BENCH_POSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().expect("valid date");
    let mut rng = Rng(0x6f74_6b6c_696b);
    let mut linker = Linker::new(LinkConfig::default());
    let rss_before = rss_bytes();
    let (cpu0, wall0) = (on_cpu_ns(), Instant::now());
    let (mut copies, mut voices) = (0u64, 0u64);
    for i in 0..n {
        let link = linker.link(&post(i, n, start, &texts, &mut rng));
        copies += u64::from(link.copy_of.is_some());
        voices += u64::from(link.is_voice);
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = on_cpu_ns().zip(cpu0).map(|(a, b)| (a - b) as f64 / 1e9).unwrap_or(wall);
    let stats = linker.stats();
    let rss_growth = rss_bytes().zip(rss_before).map(|(a, b)| a.saturating_sub(b));
    println!("incident linking, {n} posts over 72 h from {} distinct texts:", texts.len());
    println!("  {:.0} posts/s on one core ({cpu:.2} s on CPU, {wall:.2} s wall)", n as f64 / cpu);
    println!("  copies {copies}, voices {voices}, incidents in the window {}", stats.incidents);
    println!(
        "  window: {} posts, {} copy clusters, {} LSH band entries, {} voices; ~{:.0} MB counted, RSS grew {} MB",
        stats.posts,
        stats.clusters,
        stats.indexed_bands,
        stats.voices,
        stats.approx_bytes as f64 / 1e6,
        rss_growth.map_or("?".into(), |b| format!("{:.0}", b as f64 / 1e6)),
    );
    // Past 72 h the window is full and every post also expires older ones.
    let more = n / 5;
    let (cpu0, wall0) = (on_cpu_ns(), Instant::now());
    for i in n..n + more {
        linker.link(&post(i, n, start, &texts, &mut rng));
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = on_cpu_ns().zip(cpu0).map(|(a, b)| (a - b) as f64 / 1e9).unwrap_or(wall);
    let stats = linker.stats();
    println!("  steady state, {more} more posts into the full window: {:.0} posts/s on one core", more as f64 / cpu);
    println!("  window then: {} posts, ~{:.0} MB counted", stats.posts, stats.approx_bytes as f64 / 1e6);
    let mut i = n + more;
    // On-CPU time: the machine may be shared, and a post's cost is what one core spends on it.
    c.bench_function("link one post into the full 72 h window (on-CPU time)", |b| {
        b.iter_custom(|iters| {
            let (cpu0, t) = (on_cpu_ns(), Instant::now());
            for _ in 0..iters {
                linker.link(&post(i, n, start, &texts, &mut rng));
                i += 1;
            }
            on_cpu_ns().zip(cpu0).map_or(t.elapsed(), |(a, b)| std::time::Duration::from_nanos(a - b))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = incidents
}
criterion_main!(benches);
