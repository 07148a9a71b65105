//! Classifier throughput: the full taxonomy (and the gazetteer when one is shipped) on
//! 400-character posts, one core, on two sets of posts: the old one, cut from 15 fragments (the
//! matcher meets the same few words over and over, so its caches stay warm), and a diverse one
//! drawn from the repository's labelled and off-topic fixtures (thousands of distinct texts, cut
//! and joined to 400 characters), which is what a real feed looks like. Beside each, the
//! physical reference of one automaton pass over the same bytes (an Aho–Corasick DFA over a few
//! hundred words): what «reading the text once» costs at minimum.
//!
//! `cargo bench -p otklik-classify --bench classify` prints posts/second and the rough memory of
//! the compiled classifier before criterion's own report.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use otklik_classify::normalize::{normalize_into, Normalized};
use otklik_classify::{Classifier, SourceContext};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The length of every bench post, in characters.
const POST_CHARS: usize = 400;

/// Builds `n` posts of about 400 characters from resident-style fragments of our own, mixing
/// topic words, addresses, emoji and filler so that the matcher sees realistic hit rates.
fn fragment_posts(n: usize) -> Vec<String> {
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
            while s.chars().count() < POST_CHARS {
                s.push_str(PARTS[j % PARTS.len()]);
                s.push(' ');
                j = j.wrapping_mul(7).wrapping_add(3);
            }
            s.chars().take(POST_CHARS).collect()
        })
        .collect()
}

/// The `text` column of the labelled and off-topic fixtures, each distinct text once.
fn fixture_texts(root: &Path) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut texts = Vec::new();
    for file in ["tests/fixtures/classify/labeled.csv", "tests/fixtures/classify/offtopic.csv"] {
        let mut reader = csv::Reader::from_path(root.join(file)).expect("the classifier fixtures are readable");
        let column = reader.headers().expect("a header").iter().position(|h| h == "text").expect("a text column");
        for record in reader.records() {
            let text = record.expect("a valid record").get(column).unwrap_or_default().trim().to_owned();
            if !text.is_empty() && seen.insert(text.clone()) {
                texts.push(text);
            }
        }
    }
    texts
}

/// One post per fixture text: the text, then texts picked at random (a fixed seed), joined by
/// spaces and cut to [`POST_CHARS`]. Every post starts with a different text, so all are
/// distinct. The picks are random, as in `scripts/classify-bench.py`: posts made of each text
/// and the ones after it overlap their neighbours almost wholly, which keeps the caches warm,
/// and measured a third faster than these.
fn diverse_posts(texts: &[String]) -> Vec<String> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut pick = || {
        // xorshift64: repeatable, and no dependency for a bench's shuffle.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        &texts[(state % texts.len() as u64) as usize]
    };
    (0..texts.len())
        .map(|i| {
            let mut s = texts[i].clone();
            while s.chars().count() < POST_CHARS {
                s.push(' ');
                s.push_str(pick());
            }
            s.chars().take(POST_CHARS).collect()
        })
        .collect()
}

/// The physical reference: a DFA over the first few hundred distinct words of the posts, run
/// once over each post.
fn reference_automaton(posts: &[String]) -> AhoCorasick {
    let mut seen = HashSet::new();
    let words: Vec<String> = posts
        .iter()
        .flat_map(|p| p.split_whitespace())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 4 && seen.insert(w.clone()))
        .take(500)
        .collect();
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::LeftmostFirst)
        .build(&words)
        .expect("a small automaton builds")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load() -> Classifier {
    let root = root();
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

/// Seconds per post of `per_post` over `posts`, the median round as wall-clock and as time on a
/// CPU (the machine may be shared: on-CPU time leaves out the time this thread waited for a
/// core, wall-clock does not). Each round goes over the posts until ~100 ms have passed, long
/// enough for the scheduler's run-time accounting, which advances in ticks.
fn per_post_seconds(posts: &[String], seconds: f64, mut per_post: impl FnMut(&str)) -> (f64, Option<f64>) {
    let mut passes = 1usize;
    let w0 = Instant::now();
    posts.iter().for_each(|p| per_post(p));
    let once = w0.elapsed().as_secs_f64().max(1e-6);
    passes = passes.max((0.1 / once) as usize);
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds || wall.len() < 5 {
        let (w0, c0) = (Instant::now(), on_cpu_ns());
        for _ in 0..passes {
            posts.iter().for_each(|p| per_post(p));
        }
        let n = (passes * posts.len()) as f64;
        wall.push(w0.elapsed().as_secs_f64() / n);
        if let (Some(a), Some(b)) = (c0, on_cpu_ns()) {
            cpu.push((b - a) as f64 / 1e9 / n);
        }
    }
    let cpu = (!cpu.is_empty()).then(|| median(&mut cpu));
    (median(&mut wall), cpu)
}

/// Prints the headline figures of one set of posts: the classifier, the automaton reference and
/// a single regex, each per post.
fn report(name: &str, classifier: &Classifier, posts: &[String]) {
    let source = SourceContext::default();
    let bytes = posts.iter().map(String::len).sum::<usize>() as f64 / posts.len() as f64;
    let automaton = reference_automaton(posts);
    // A regex a single rule might use.
    let regex = regex::Regex::new(r"(?i)\bотоплени[а-я]*\b").expect("valid");
    let (wall, cpu) = per_post_seconds(posts, 5.0, |p| {
        black_box(classifier.classify_text(p, &source));
    });
    let (ac_wall, ac_cpu) = per_post_seconds(posts, 1.0, |p| {
        black_box(automaton.find_iter(p).count());
    });
    let (re_wall, _) = per_post_seconds(posts, 1.0, |p| {
        black_box(regex.find_iter(p).count());
    });
    println!(
        "{name} ({} posts, {} distinct, {bytes:.0} bytes each): classify {:.0} posts/s on one core, median \
         wall-clock ({:.2} µs/post, {:.1} MB/s); one automaton pass {:.2} µs/post ({:.0} posts/s); one regex \
         pass {:.2} µs/post",
        posts.len(),
        posts.iter().collect::<HashSet<_>>().len(),
        1.0 / wall,
        wall * 1e6,
        bytes / wall / 1e6,
        ac_wall * 1e6,
        1.0 / ac_wall,
        re_wall * 1e6,
    );
    if let (Some(cpu), Some(ac_cpu)) = (cpu, ac_cpu) {
        println!(
            "{name} on-CPU: classify {:.0} posts/s ({:.2} µs/post); one automaton pass {:.2} µs/post",
            1.0 / cpu,
            cpu * 1e6,
            ac_cpu * 1e6
        );
    }
}

/// Where a post's time goes: each step of the classifier timed alone on the same posts, beside
/// the whole (per post, median wall clock). What the steps do not cover is the scoring, the kind,
/// the location and name marks and the other-region check.
fn breakdown(name: &str, classifier: &Classifier, posts: &[String]) {
    let source = SourceContext::default();
    let language = otklik_classify::lang::LanguageDetector::default();
    let gazetteer = classifier.gazetteer().expect("the shipped config has a gazetteer");
    let mut norm = Normalized::default();
    let (whole, _) = per_post_seconds(posts, 3.0, |p| {
        black_box(classifier.classify_text(p, &source));
    });
    let (normalise, _) = per_post_seconds(posts, 1.0, |p| {
        normalize_into(p, &mut norm);
        black_box(norm.tokens.len());
    });
    let (matched, _) = per_post_seconds(posts, 2.0, |p| {
        normalize_into(p, &mut norm);
        black_box(classifier.match_rules(&norm));
    });
    let (places, _) = per_post_seconds(posts, 2.0, |p| {
        black_box(gazetteer.resolve(p));
    });
    let (lang, _) = per_post_seconds(posts, 1.0, |p| {
        black_box(language.detect(p));
    });
    let keys: Vec<String> = classifier.rule_terms().into_iter().map(|k| format!(" {k}")).collect();
    let kinds = [AhoCorasickKind::DFA, AhoCorasickKind::ContiguousNFA, AhoCorasickKind::NoncontiguousNFA];
    let floors: Vec<(AhoCorasickKind, f64)> = kinds
        .into_iter()
        .map(|kind| {
            let terms = rule_terms_automaton(&keys, kind);
            let (floor, _) = per_post_seconds(posts, 2.0, |p| {
                normalize_into(p, &mut norm);
                black_box(terms.find_iter(&norm.text).count());
            });
            (kind, floor)
        })
        .collect();
    let us = |s: f64| s * 1e6;
    println!(
        "{name} breakdown, µs/post: whole {:.2}; normalise {:.2}; normalise + match the rules {:.2}; gazetteer \
         (its own normalisation included) {:.2}; language {:.2}; the rest {:.2}",
        us(whole),
        us(normalise),
        us(matched),
        us(places),
        us(lang),
        us(whole - matched - places - lang),
    );
    let terms = keys.len();
    let floors: Vec<String> = floors.iter().map(|(kind, s)| format!("{kind:?} {:.2}", us(*s))).collect();
    println!(
        "{name} floor of the rule matcher, µs/post: normalise, then one automaton pass over the normalised text \
         for the rules' {terms} words and stems, one match a word (less than the matcher must find): {}",
        floors.join(", "),
    );
}

/// An automaton over `keys`, every word and stem of the rules each after a space: a
/// leftmost-longest pass over a normalised text (words between single spaces) finds at most the
/// longest term a word starts with, where the matcher needs every one, so it costs no more than
/// the least any matcher of these rules must do.
fn rule_terms_automaton(keys: &[String], kind: AhoCorasickKind) -> AhoCorasick {
    AhoCorasick::builder()
        .kind(Some(kind))
        .match_kind(MatchKind::LeftmostLongest)
        .build(keys)
        .expect("the rules' terms build an automaton")
}

fn bench(c: &mut Criterion) {
    let classifier = load();
    let fragments = fragment_posts(1000);
    let texts = fixture_texts(&root());
    let diverse = diverse_posts(&texts);
    assert!(diverse.len() >= 2000, "the fixtures hold {} distinct texts, fewer than 2000", diverse.len());
    println!("compiled classifier ≈ {:.1} MB", classifier.memory_usage() as f64 / 1e6);
    report("fragments", &classifier, &fragments);
    report("diverse", &classifier, &diverse);
    breakdown("diverse", &classifier, &diverse);

    let source = SourceContext::default();
    let automaton = reference_automaton(&diverse);
    let mut group = c.benchmark_group("classify");
    for (name, posts) in [("fragments_400_chars_x1000", &fragments), ("diverse_400_chars", &diverse)] {
        group.throughput(Throughput::Elements(posts.len() as u64));
        group.bench_function(format!("full_taxonomy_{name}"), |b| {
            b.iter(|| {
                for p in posts.iter() {
                    black_box(classifier.classify_text(p, &source));
                }
            })
        });
    }
    let bytes: usize = diverse.iter().map(String::len).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("one_automaton_pass_diverse_bytes", |b| {
        b.iter(|| {
            for p in &diverse {
                black_box(automaton.find_iter(p).count());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
