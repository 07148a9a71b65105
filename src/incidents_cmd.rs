//! `otklik incidents [--since 24h]`: the duty officer's morning list — open incidents with their
//! voices, first and last post, municipality, place, topic and an excerpt — read back from
//! ClickHouse or the local store and summarised by the alert stage's own code.

use crate::alert_stage::restored_post;
use crate::config::Config;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use otklik_alert::stage::IncidentSummary;
use otklik_clickhouse::{History, PostRow};
use std::collections::HashMap;
use std::fmt::Write;

/// At most this many characters of `text`, cut at a character boundary.
pub fn short(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Incidents as the alert stage summarised them, with their municipality names and places.
pub struct Listed {
    pub incidents: Vec<IncidentSummary>,
    names: HashMap<String, String>,
    places: HashMap<String, String>,
}

/// Every incident with a post published at or after `since` in `history`, most voices first.
pub async fn read(config: &Config, history: &History, since: DateTime<Utc>) -> Result<Listed> {
    let core = config.alert_core(false, None)?;
    // An incident open since `since` may have started up to a linking window earlier.
    let rows = history.linked_posts(since - core.link_window()).await.context("cannot read the linked posts")?;
    Ok(summarise(core, &rows, since))
}

/// The incidents of linked post `rows` (read from a linking window before `since`) with a post
/// at or after `since`, as a fresh alert stage `core` links them; most voices first.
pub fn summarise(mut core: otklik_alert::stage::AlertCore, rows: &[PostRow], since: DateTime<Utc>) -> Listed {
    let names: HashMap<String, String> =
        rows.iter().map(|r| (r.municipality.clone(), r.municipality_name.clone())).collect();
    let restored: Vec<_> = rows.iter().filter_map(|row| restored_post(&core, row)).collect();
    let places = restored.iter().map(|r| (r.post.uid.clone(), place(&r.post.features.place))).collect();
    core.load_history(&otklik_alert::stage::Restore { posts: restored, ..Default::default() });
    let mut incidents: Vec<_> = core.incidents().filter(|i| i.last_seen >= since).cloned().collect();
    incidents.sort_by(|a, b| b.voices.cmp(&a.voices).then(b.posts.cmp(&a.posts)).then(a.first_seen.cmp(&b.first_seen)));
    Listed { incidents, names, places }
}

impl Listed {
    /// Where the incident's first post said it happened; empty when it did not say.
    pub fn place(&self, incident_id: &str) -> &str {
        self.places.get(incident_id).map_or("", String::as_str)
    }

    /// One line per incident (at most `limit`), under a header.
    pub fn render(&self, limit: usize) -> String {
        let mut out = String::from(
            "voices posts first seen        last seen         topic                municipality · place · excerpt\n",
        );
        for i in self.incidents.iter().take(limit) {
            let municipality = i
                .municipality
                .as_ref()
                .map_or("—".to_owned(), |m| self.names.get(m).cloned().unwrap_or_else(|| m.clone()));
            let place = self.places.get(&i.id).filter(|p| !p.is_empty()).map_or(String::new(), |p| format!(" · {p}"));
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
        out
    }
}

pub fn run(config: &Config, since: std::time::Duration) -> Result<()> {
    let history = config.history()?;
    let from = Utc::now() - chrono::Duration::from_std(since).context("--since is too long")?;
    let listed = crate::clickhouse_cmd::runtime()?.block_on(read(config, &history, from))?;
    let mut out = listed.render(usize::MAX);
    let n = listed.incidents.len();
    let _ =
        writeln!(out, "{n} open incident{} since {}", if n == 1 { "" } else { "s" }, from.format("%Y-%m-%d %H:%M UTC"));
    crate::commands::print_stdout(out)
}

/// «Терновка, мир… 5» from the detail the first post gave (streets and landmarks are known by
/// their stems).
fn place(detail: &otklik_classify::gazetteer::PlaceDetail) -> String {
    let street = detail
        .street
        .as_ref()
        .map(|s| format!("{s}…{}", detail.house.as_ref().map(|h| format!(" {h}")).unwrap_or_default()));
    [detail.settlement.clone(), street, detail.landmark.clone()].into_iter().flatten().collect::<Vec<_>>().join(", ")
}
