//! Parse throughput of the t.me/s parser on a realistic 20-message page
//! (`tests/fixtures/telegram/channel_page.html`), against the simplest alternative: a DOM parse
//! with the `scraper` crate extracting the same fields (ids, times, views, signatures, text with
//! line breaks). Run: `cargo bench -p otklik-collect --bench telegram_parse`; criterion reports
//! the throughput in bytes per second for both.

use chrono::{DateTime, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use otklik_collect::telegram;
use otklik_collect::ParseContext;
use scraper::{ElementRef, Html, Node, Selector};

fn page() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/telegram/channel_page.html");
    std::fs::read(path).expect("the channel page fixture")
}

/// What the DOM reference extracts per message: the fields a collector needs.
#[derive(Debug)]
struct DomPost {
    post_ref: String,
    datetime: Option<String>,
    views: Option<String>,
    signature: Option<String>,
    text: String,
}

struct DomSelectors {
    message: Selector,
    text: Selector,
    time: Selector,
    views: Selector,
    signature: Selector,
}

impl DomSelectors {
    fn new() -> Self {
        let s = |css| Selector::parse(css).expect("valid selector");
        DomSelectors {
            message: s(".tgme_widget_message[data-post]"),
            text: s(".tgme_widget_message_text.js-message_text"),
            time: s(".tgme_widget_message_date time[datetime]"),
            views: s(".tgme_widget_message_views"),
            signature: s(".tgme_widget_message_from_author"),
        }
    }
}

/// Text with `<br>` and block elements as line breaks, like the scanner produces.
fn dom_text(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        if let Node::Text(text) = child.value() {
            out.push_str(text);
        } else if let Some(child) = ElementRef::wrap(child) {
            match child.value().name() {
                "br" => out.push('\n'),
                "div" | "p" | "blockquote" | "pre" => {
                    out.push('\n');
                    dom_text(child, out);
                    out.push('\n');
                }
                _ => dom_text(child, out),
            }
        }
    }
}

fn parse_with_scraper(html: &[u8], selectors: &DomSelectors) -> Vec<DomPost> {
    let document = Html::parse_document(&String::from_utf8_lossy(html));
    document
        .select(&selectors.message)
        .map(|message| {
            let mut text = String::new();
            if let Some(element) = message.select(&selectors.text).next() {
                dom_text(element, &mut text);
            }
            DomPost {
                post_ref: message.value().attr("data-post").unwrap_or_default().to_owned(),
                datetime: message
                    .select(&selectors.time)
                    .next()
                    .and_then(|t| t.value().attr("datetime"))
                    .map(str::to_owned),
                views: message.select(&selectors.views).next().map(|v| v.text().collect()),
                signature: message.select(&selectors.signature).next().map(|v| v.text().collect()),
                text: text.trim().to_owned(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let html = page();
    let ctx = ParseContext::new("2024-01-16T13:00:00Z".parse::<DateTime<Utc>>().unwrap());
    let selectors = DomSelectors::new();

    // Both sides must see the same messages, or the comparison means nothing.
    let ours = telegram::parse_page(&html, &ctx).expect("fixture parses");
    let dom = parse_with_scraper(&html, &selectors);
    assert_eq!(dom.len(), ours.posts.len() + ours.skipped.len());
    for post in &ours.posts {
        let twin =
            dom.iter().find(|d| d.post_ref.ends_with(&format!("/{}", post.id))).expect("same message in the DOM");
        let published =
            twin.datetime.as_deref().and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map(|d| d.with_timezone(&Utc));
        assert_eq!(published, Some(post.post.published_at));
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let our_text = post.post.repost_of.as_ref().map_or(post.post.text.as_str(), |r| r.text.as_str());
        assert_eq!(words(&twin.text), words(our_text), "post {}", post.id);
        let _ = (&twin.views, &twin.signature);
    }

    let mut group = c.benchmark_group("telegram_parse_20_posts");
    group.throughput(Throughput::Bytes(html.len() as u64));
    group.bench_function("otklik_scanner", |b| b.iter(|| telegram::parse_page(black_box(&html), &ctx).unwrap()));
    group.bench_function("scraper_dom", |b| b.iter(|| parse_with_scraper(black_box(&html), &selectors)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
