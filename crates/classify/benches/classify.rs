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

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), or `None` elsewhere.
fn on_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn bench(c: &mut Criterion) {
    let classifier = load();
    let posts = posts(1000);
    let bytes: usize = posts.iter().map(String::len).sum();
    let source = SourceContext::default();
    // A regex a single rule might use: the cost floor of one pass over the text.
    let reference = regex::Regex::new(r"(?i)\bотоплени[а-я]*\b").expect("valid");

    // A plain timing first, so the headline numbers are printed whatever criterion's output is.
    // Each round classifies the 1000 posts ROUND_PASSES times (long enough for the scheduler's
    // run-time accounting, which advances in ticks); the median round is reported, as
    // wall-clock and as time on a CPU (the machine may be shared: on-CPU time leaves out the
    // time this thread waited for a core, wall-clock does not).
    const ROUND_PASSES: usize = 20;
    const REGEX_ROUND_PASSES: usize = 400;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 5.0 || wall.len() < 5 {
        let (w0, c0) = (Instant::now(), on_cpu_ns());
        for _ in 0..ROUND_PASSES {
            for p in &posts {
                black_box(classifier.classify_text(p, &source));
            }
        }
        wall.push(w0.elapsed().as_secs_f64() / ROUND_PASSES as f64);
        if let (Some(a), Some(b)) = (c0, on_cpu_ns()) {
            cpu.push((b - a) as f64 / 1e9 / ROUND_PASSES as f64);
        }
    }
    let per_sec = posts.len() as f64 / median(&mut wall);
    let cpu_per_sec = (!cpu.is_empty()).then(|| posts.len() as f64 / median(&mut cpu));
    let mut regex_wall = Vec::new();
    let mut regex_cpu = Vec::new();
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 2.0 || regex_wall.len() < 5 {
        let (w0, c0) = (Instant::now(), on_cpu_ns());
        for _ in 0..REGEX_ROUND_PASSES {
            for p in &posts {
                black_box(reference.find_iter(p).count());
            }
        }
        let n = (REGEX_ROUND_PASSES * posts.len()) as f64;
        regex_wall.push(w0.elapsed().as_secs_f64() / n);
        if let (Some(a), Some(b)) = (c0, on_cpu_ns()) {
            regex_cpu.push((b - a) as f64 / 1e9 / n);
        }
    }
    let regex_per_post = median(&mut regex_wall);
    println!(
        "classify: {per_sec:.0} posts/s on one core, median wall-clock ({:.2} µs/post, {:.1} MB/s); one regex pass: {:.2} µs/post; \
         compiled classifier ≈ {:.1} MB",
        1e6 / per_sec,
        per_sec * bytes as f64 / posts.len() as f64 / 1e6,
        regex_per_post * 1e6,
        classifier.memory_usage() as f64 / 1e6
    );
    if let Some(cpu_per_sec) = cpu_per_sec {
        println!(
            "classify on-CPU: {cpu_per_sec:.0} posts/s ({:.2} µs/post); one regex pass on-CPU: {:.2} µs/post",
            1e6 / cpu_per_sec,
            median(&mut regex_cpu) * 1e6
        );
    }

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
