//! Measurement of municipality resolution on the project's own texts
//! (tests/fixtures/classify/municipality.csv: `text,municipality`, the label an ОКТМО code or empty
//! when the text names no place, or names it ambiguously or several places at once; of «из X в Y»,
//! Y, the place the trip's problem is at).
//!
//! Targets from the classifier issues: of the municipalities assigned, ≥ 99 % correct (an
//! assignment to a row labelled empty counts as wrong); of the rows that name a place, ≥ 95 % found.
//! Also: load time, size and throughput of the shipped gazetteer (`--ignored`, run in release).

use otklik_classify::gazetteer::Gazetteer;
use std::path::PathBuf;
use std::time::Instant;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load() -> Gazetteer {
    Gazetteer::load(&root().join("config/gazetteer/gazetteer.tsv")).expect("shipped gazetteer loads")
}

fn rows() -> Vec<(String, Option<String>)> {
    let path = root().join("tests/fixtures/classify/municipality.csv");
    let mut r = csv::Reader::from_path(&path).expect("fixture opens");
    let headers = r.headers().unwrap().clone();
    assert_eq!(headers.iter().collect::<Vec<_>>(), ["text", "municipality"]);
    r.records()
        .map(|rec| {
            let rec = rec.expect("well-formed CSV row");
            let label = rec[1].trim();
            assert!(
                label.is_empty() || (label.len() == 8 && label.bytes().all(|b| b.is_ascii_digit())),
                "bad label {label:?}"
            );
            (rec[0].to_string(), (!label.is_empty()).then(|| label.to_string()))
        })
        .collect()
}

#[test]
fn precision_and_coverage_on_own_texts() {
    let g = load();
    let rows = rows();
    assert!(rows.len() >= 150, "the set has {} rows", rows.len());
    let (mut assigned, mut correct, mut labelled) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for (text, label) in &rows {
        let got = g.resolve(text).chosen.map(|m| m.oktmo);
        labelled += usize::from(label.is_some());
        if got.is_some() {
            assigned += 1;
            if got == *label {
                correct += 1;
            }
        }
        if got != *label {
            misses.push(format!("  {text:?}: expected {label:?}, got {got:?}"));
        }
    }
    let precision = correct as f64 / assigned.max(1) as f64;
    let coverage = correct as f64 / labelled.max(1) as f64;
    println!(
        "municipality: {} rows, {labelled} name a place; assigned {assigned}, correct {correct}; \
         precision {:.1} %, coverage {:.1} %",
        rows.len(),
        precision * 100.0,
        coverage * 100.0
    );
    for m in &misses {
        println!("{m}");
    }
    assert!(precision >= 0.99, "precision {precision:.3} < 0.99");
    assert!(coverage >= 0.95, "coverage {coverage:.3} < 0.95");
}

#[test]
fn shipped_gazetteer_size() {
    let g = load();
    let s = g.stats();
    assert_eq!(g.municipalities().iter().filter(|m| m.region_code == "56").count(), 30);
    assert!(s.places > 1800 && s.patterns > 10_000, "{s:?}");
    // The automaton is the bulk of the memory; the issue allows 200 MB for the whole classifier.
    assert!(s.automaton_bytes < 50 << 20, "{s:?}");
}

/// `cargo test --release -p otklik-classify --test gazetteer_measure -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release"]
fn load_time_and_throughput() {
    let t = Instant::now();
    let g = load();
    let load = t.elapsed();
    println!("load: {load:?}, {:?}", g.stats());

    // 400-character posts of the kind residents write, most naming no place.
    let base = [
        "Уже третий день во дворе дома на улице Ленина нет горячей воды, управляющая компания не отвечает на звонки, \
         диспетчер говорит что авария, а сроков никто не называет. Дети моются в тазике, пожилые соседи мерзнут.",
        "В Сердобском районе снова не чистят дорогу к селу, школьный автобус застрял, родители возмущены. \
         Обращались в администрацию, обещали прислать технику, но до сих пор никого нет. Сколько можно терпеть?",
        "Спасибо большое коммунальщикам за быстрый ремонт трубы у нашего подъезда! Приехали через час, всё сделали, \
         убрали за собой. Побольше бы таких работников, а то обычно неделями ждём.",
        "Жители Пензы, подскажите, куда жаловаться на шум от ночного кафе во дворе? Музыка до трёх ночи, полиция \
         приезжает и уезжает, а ничего не меняется. Участковый трубку не берёт.",
    ];
    let posts: Vec<String> = (0..1000)
        .map(|i| {
            let mut p = String::new();
            while p.chars().count() < 400 {
                p.push_str(base[(i + p.len()) % base.len()]);
                p.push(' ');
            }
            p.chars().take(400).collect()
        })
        .collect();
    let bytes: usize = posts.iter().map(String::len).sum();
    let mut found = 0usize;
    let t = Instant::now();
    let rounds = 50;
    for _ in 0..rounds {
        for p in &posts {
            found += usize::from(g.resolve(p).chosen.is_some());
        }
    }
    let el = t.elapsed();
    let n = posts.len() * rounds;
    println!(
        "resolve: {n} posts of 400 chars in {el:?}: {:.0} posts/s, {:.0} MB/s ({found} with a municipality)",
        n as f64 / el.as_secs_f64(),
        (bytes * rounds) as f64 / el.as_secs_f64() / 1e6
    );
}
