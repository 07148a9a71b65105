//! Classifier throughput: the full taxonomy (and the gazetteer when one is shipped) on
//! 400-character posts, one core. Alongside it, one plain `regex` pass over the same bytes as a
//! reference for what «scanning the text once» costs at minimum.
//!
//! `cargo bench -p otklik-classify --bench classify` prints posts/second and the rough memory of
//! the compiled classifier before criterion's own report.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use otklik_classify::{Classifier, SourceContext};
use std::path::PathBuf;
use std::time::Instant;

/// Builds `n` posts of about 400 characters from resident-style fragments of our own, mixing
/// topic words, addresses, emoji and filler so that the matcher sees realistic hit rates.
fn posts(n: usize) -> Vec<String> {
    const PARTS: &[&str] = &[
        "Третий день нет горячей воды в доме на Московской 12,",
        "батареи еле теплые, дети мерзнут 🥶",
        "во дворе не убирают мусор, контейнеры переполнены",
        "на дороге огромные ямы, машины бьют колеса",
        "когда уже починят фонари на улице Ленина?",
        "спасибо управляющей компании за ремонт подъезда!",
        "автобус №5 не ходит по расписанию, ждем по 40 минут",
        "сосульки висят над входом в магазин, опасно",
        "в поликлинике невозможно записаться к терапевту",
        "подскажите, куда обращаться по поводу перерасчета за отопление",
        "https://vk.com/wall-123_456 смотрите сами",
        "Уважаемые жители! В связи с плановыми работами будет отключено электроснабжение.",
        "бродячие собаки кидаются на детей у школы",
        "лифт опять застрял между этажами, диспетчер не отвечает",
        "просто хотел сказать что погода сегодня отличная и настроение тоже",
    ];
    (0..n)
        .map(|i| {
            let mut s = String::new();
            let mut j = i;
            while s.chars().count() < 400 {
                s.push_str(PARTS[j % PARTS.len()]);
                s.push(' ');
                j = j.wrapping_mul(7).wrapping_add(3);
            }
            s.chars().take(400).collect()
        })
        .collect()
}

fn load() -> Classifier {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let gazetteer = root.join("config/gazetteer/gazetteer.tsv");
    let gazetteer = gazetteer.exists().then_some(gazetteer);
    Classifier::load(&root.join("config/topics"), gazetteer.as_deref()).expect("the shipped rules load")
}

fn bench(c: &mut Criterion) {
    let classifier = load();
    let posts = posts(1000);
    let bytes: usize = posts.iter().map(String::len).sum();
    let source = SourceContext::default();
    // A regex a single rule might use: the cost floor of one pass over the text.
    let reference = regex::Regex::new(r"(?i)\bотоплени[а-я]*\b").expect("valid");

    // A plain timing first, so the headline numbers are printed whatever criterion's output is.
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed().as_secs_f64() < 2.0 {
        for p in &posts {
            black_box(classifier.classify_text(p, &source));
        }
        rounds += 1;
    }
    let per_sec = (rounds * posts.len()) as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut regex_rounds = 0;
    while started.elapsed().as_secs_f64() < 1.0 {
        for p in &posts {
            black_box(reference.find_iter(p).count());
        }
        regex_rounds += 1;
    }
    let regex_per_post = started.elapsed().as_secs_f64() / (regex_rounds * posts.len()) as f64;
    println!(
        "classify: {per_sec:.0} posts/s on one core ({:.2} µs/post, {:.1} MB/s); one regex pass: {:.2} µs/post; \
         compiled classifier ≈ {:.1} MB",
        1e6 / per_sec,
        per_sec * bytes as f64 / posts.len() as f64 / 1e6,
        regex_per_post * 1e6,
        classifier.memory_usage() as f64 / 1e6
    );

    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(posts.len() as u64));
    group.bench_function("full_taxonomy_400_chars_x1000", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(classifier.classify_text(p, &source));
            }
        })
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("one_regex_pass_same_bytes", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(reference.find_iter(p).count());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
