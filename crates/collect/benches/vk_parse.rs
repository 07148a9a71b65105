//! `wall.get` parse throughput: a realistic 100-post community wall (texts in Russian,
//! photos with their full size ladders, links, reposts, counters and the fields otklik skips),
//! parsed from bytes to `RawPost`s. Target: ≥ 200 MB/s on one core.

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otklik_collect::{vk, ParseContext};
use serde_json::{json, Value};
use std::hint::black_box;

const TEXTS: &[&str] = &[
    "Жители дома № 14 по улице Ленина в Кузнецке вторую неделю без отопления. Управляющая компания на звонки не отвечает, батареи ледяные, дети болеют. Просим администрацию города вмешаться!",
    "На перекрёстке Московской и Куйбышева в Пензе снова яма, в которой вчера пробили колесо уже три машины. Дорожники обещали заделать ещё в сентябре.",
    "Уважаемые жители Заречного! В связи с плановыми работами на тепловых сетях 12 ноября с 9:00 до 17:00 будет отключена горячая вода в домах по улице Комсомольской.",
    "Во дворе дома 7 на Стасова не вывозят мусор с понедельника, контейнеры переполнены, вокруг бродят собаки. Кто отвечает за вывоз ТКО в Октябрьском районе?",
    "Спасибо коммунальщикам Каменки за быстрый ремонт водопровода на улице Чапаева! Вода появилась уже через четыре часа после порыва.",
];

fn photo(owner: i64, id: i64) -> Value {
    let sizes: Vec<Value> = [("s", 75, 56), ("m", 130, 97), ("x", 604, 453), ("y", 807, 605), ("z", 1280, 960), ("w", 2560, 1920)]
        .iter()
        .map(|(t, w, h)| {
            json!({"height": h, "type": t, "width": w,
                   "url": format!("https://sun9-{}.userapi.com/impg/c{id}/v{id}/{t}/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789.jpg?size={w}x{h}&quality=95&sign=0123456789abcdef0123456789abcdef&type=album", id % 90)})
        })
        .collect();
    json!({"type": "photo", "photo": {"album_id": -7, "date": 1731400000, "id": id, "owner_id": owner,
        "access_key": "a1b2c3d4e5f6a7b8c9", "sizes": sizes, "text": "", "has_tags": false}})
}

fn wall_get(posts: usize) -> Vec<u8> {
    let owner = -170_000_001i64;
    let items: Vec<Value> = (0..posts)
        .map(|i| {
            let id = 90_000 - i as i64;
            let text = TEXTS[i % TEXTS.len()];
            let mut post = json!({
                "inner_type": "wall_wallpost", "donut": {"is_donut": false}, "comments": {"can_post": 1, "count": i % 17, "groups_can_post": true},
                "marked_as_ads": 0, "short_text_rate": 0.8, "hash": "qW3rTy8uIoP1aSdFgHjKl", "type": "post",
                "carousel_offset": 0, "attachments": [photo(owner, 457_000_000 + i as i64)],
                "date": 1731400000 - (i as i64) * 3600, "edited": if i % 7 == 0 { json!(1731401000) } else { Value::Null },
                "from_id": if i % 3 == 0 { owner } else { 1000 + i as i64 }, "id": id, "is_favorite": false,
                "likes": {"can_like": 1, "count": i * 3, "user_likes": 0, "can_publish": 1, "repost_disabled": false},
                "reaction_set_id": "reactions", "reactions": {"count": i * 3, "items": [{"id": 0, "count": i * 2}, {"id": 1, "count": i}]},
                "owner_id": owner, "post_source": {"type": "vk"}, "post_type": "post",
                "reposts": {"count": i % 5, "user_reposted": 0}, "text": text, "views": {"count": 1000 + i * 37},
            });
            if i % 4 == 0 {
                post["attachments"].as_array_mut().unwrap().push(json!({"type": "link", "link": {
                    "url": "https://penza-gorod.ru/news/2024/11/12/otoplenie", "title": "Отопительный сезон в Пензе: график подключения домов",
                    "caption": "penza-gorod.ru", "description": "Администрация города сообщает о ходе подключения жилых домов к теплу", "is_favorite": false}}));
            }
            if i % 10 == 5 {
                post["copy_history"] = json!([{"type": "post", "attachments": [photo(-33_000_000, 456_000_000 + i as i64)],
                    "date": 1731300000, "from_id": -33_000_000, "id": 5000 + i, "owner_id": -33_000_000,
                    "post_source": {"type": "api"}, "post_type": "post", "text": TEXTS[(i + 1) % TEXTS.len()]}]);
            }
            if i % 20 == 0 {
                post["is_pinned"] = json!(1);
                post["geo"] = json!({"type": "point", "coordinates": "53.195063 45.018316", "place": {"title": "Пенза, улица Московская"}});
            }
            post
        })
        .collect();
    serde_json::to_vec(&json!({"response": {"count": 12_345, "items": items}})).unwrap()
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), or `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Criterion reports wall-clock time, which on a shared, loaded machine measures the load as
/// much as the parser; time on the CPU does not. Printed next to criterion's figures.
fn report_cpu_throughput(body: &[u8], ctx: &ParseContext) {
    const ITERATIONS: u32 = 400;
    let (Some(cpu_start), wall_start) = (thread_cpu_ns(), std::time::Instant::now()) else { return };
    for _ in 0..ITERATIONS {
        black_box(vk::parse_saved_response(black_box(body), ctx).unwrap());
    }
    let (Some(cpu_end), wall) = (thread_cpu_ns(), wall_start.elapsed()) else { return };
    let bytes = body.len() as f64 * f64::from(ITERATIONS);
    let cpu_secs = (cpu_end - cpu_start) as f64 / 1e9;
    println!(
        "vk/wall.get → RawPost, on-CPU throughput: {:.0} MB/s ({:.0} MiB/s); wall-clock {:.0} MB/s over {ITERATIONS} parses",
        bytes / cpu_secs / 1e6,
        bytes / cpu_secs / (1024.0 * 1024.0),
        bytes / wall.as_secs_f64() / 1e6,
    );
}

fn bench(c: &mut Criterion) {
    let body = wall_get(100);
    let ctx = ParseContext::new(Utc.with_ymd_and_hms(2024, 11, 12, 12, 0, 0).unwrap());
    assert_eq!(vk::parse_saved_response(&body, &ctx).unwrap().len(), 100);
    report_cpu_throughput(&body, &ctx);
    let mut group = c.benchmark_group("vk");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(format!("wall.get 100 posts ({} KiB) → RawPost", body.len() / 1024), |b| {
        b.iter(|| vk::parse_saved_response(black_box(&body), &ctx).unwrap())
    });
    // Reference points on the same bytes, to tell the tokenizer's cost from ours.
    group.bench_function("serde_json skip only (IgnoredAny, floor)", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body)).unwrap())
    });
    group.bench_function("serde types only (vk::types::Node, no RawPost)", |b| {
        b.iter(|| {
            let text = std::str::from_utf8(black_box(&body)).unwrap();
            serde_json::from_str::<vk::types::Node>(text).map(|_| ()).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
