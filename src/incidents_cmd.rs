//! `otklik incidents [--since 24h]`: the duty officer's morning list — open incidents with their
//! voices, first and last post, municipality, place, topic and an excerpt — read back from
//! ClickHouse or the local store and summarised by the alert stage's own code.

use crate::alert_stage::restored_post;
use crate::config::Config;
use anyhow::{Context, Result};
use chrono::Utc;
use std::collections::HashMap;
use std::fmt::Write;

/// At most this many characters of `text`, cut at a character boundary.
pub fn short(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

pub fn run(config: &Config, since: std::time::Duration) -> Result<()> {
    let history = config.history()?;
    let mut core = config.alert_core(false)?;
    let from = Utc::now() - chrono::Duration::from_std(since).context("--since is too long")?;
    // An incident open within `since` may have started up to a linking window earlier.
    let rows = crate::clickhouse_cmd::runtime()?
        .block_on(history.linked_posts(from - core.link_window()))
        .context("cannot read the linked posts")?;
    let names: HashMap<String, String> = rows.iter().map(|r| (r.municipality.clone(), r.municipality_name.clone())).collect();
    let restored: Vec<_> = rows.iter().filter_map(|row| restored_post(&core, row)).collect();
    let places: HashMap<String, String> = restored.iter().map(|r| (r.post.uid.clone(), place(&r.post.features.place))).collect();
    core.load_history(&otklik_alert::stage::Restore { posts: restored, ..Default::default() });
    let mut open: Vec<_> = core.incidents().filter(|i| i.last_seen >= from).collect();
    open.sort_by(|a, b| b.voices.cmp(&a.voices).then(b.last_seen.cmp(&a.last_seen)));
    let mut out = String::from("voices posts first seen        last seen         topic                municipality · place · excerpt\n");
    for i in &open {
        let municipality = i.municipality.as_ref().map_or("—".to_owned(), |m| names.get(m).cloned().unwrap_or_else(|| m.clone()));
        let place = places.get(&i.id).filter(|p| !p.is_empty()).map_or(String::new(), |p| format!(" · {p}"));
        let _ = writeln!(
            out,
            "{:>6} {:>5} {}  {}  {:<20} {municipality}{place} · {}",
            i.voices,
            i.posts,
            i.first_seen.format("%Y-%m-%d %H:%M"),
            i.last_seen.format("%Y-%m-%d %H:%M"),
            i.topic.map_or("—", |t| t.id()),
            short(&i.excerpt, 80)
        );
    }
    let plural = if open.len() == 1 { "" } else { "s" };
    let _ = writeln!(out, "{} open incident{plural} since {}", open.len(), from.format("%Y-%m-%d %H:%M UTC"));
    crate::commands::print_stdout(out)
}

/// «Терновка, мир… 5» from the detail the first post gave (streets and landmarks are known by
/// their stems).
fn place(detail: &otklik_classify::gazetteer::PlaceDetail) -> String {
    let street = detail.street.as_ref().map(|s| format!("{s}…{}", detail.house.as_ref().map(|h| format!(" {h}")).unwrap_or_default()));
    [detail.settlement.clone(), street, detail.landmark.clone()].into_iter().flatten().collect::<Vec<_>>().join(", ")
}
