//! `otklik sources import FILE` and `otklik sources list`: the collector fleet's work list in
//! the compacted sources topic (keyed by source id), and each source's progress from the cursors
//! topic.

use crate::config::Config;
use anyhow::{Context, Result};
use otklik_collect::fleet::import_plan;
use otklik_kafka::{KafkaBus, KafkaConfig};
use otklik_model::{Cursor, Source, SourceStatus};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// Makes the sources topic hold exactly the sources of `file`: writes new and changed ones,
/// a tombstone for each one no longer in the file. A file with problems writes nothing.
pub fn import(config: &Config, file: &Path) -> Result<()> {
    let sources = config
        .load_sources(file)
        .map_err(|problems| anyhow::anyhow!("{problems}"))
        .with_context(|| format!("invalid sources file {}", file.display()))?;
    let kafka = kafka(config)?;
    let topic = kafka.topics.sources.clone();
    let summary = runtime()?.block_on(async {
        let bus = KafkaBus::new(kafka).context("cannot create the Kafka client")?;
        bus.ensure_default_topics().await.context("cannot create the Kafka topics")?;
        let (existing, unreadable) = read_sources(&bus, &topic).await?;
        let mut plan = import_plan(&existing, &sources);
        // A record that does not decode is replaced when the file has its id, deleted otherwise.
        plan.delete.extend(unreadable.into_iter().filter(|id| !sources.iter().any(|s| &s.id == id)));
        let publisher = bus.kafka_publisher();
        for source in &plan.write {
            publisher
                .send(&topic, source.id.as_bytes(), &otklik_model::encode(source))
                .await
                .context("cannot write a source")?;
        }
        for id in &plan.delete {
            publisher.delete(&topic, id.as_bytes()).await.context("cannot delete a source")?;
        }
        anyhow::Ok(format!(
            "{}: {} added, {} changed, {} unchanged, {} removed in {topic}\n",
            file.display(),
            plan.added,
            plan.changed,
            plan.unchanged,
            plan.delete.len()
        ))
    })?;
    crate::commands::print_stdout(summary)
}

/// Prints every source of the topic with its cursor: newest post id, last poll, state.
pub fn list(config: &Config) -> Result<()> {
    let kafka = kafka(config)?;
    let (sources, cursors) = runtime()?.block_on(async {
        let bus = KafkaBus::new(kafka.clone()).context("cannot create the Kafka client")?;
        let (sources, _) = read_sources(&bus, &kafka.topics.sources).await?;
        let cursors = bus.table(&kafka.topics.cursors).await.context("cannot read the cursors topic")?;
        anyhow::Ok((sources, otklik_collect::cursors_from_table(cursors)))
    })?;
    let mut sources: Vec<Source> = sources.into_values().collect();
    sources.sort_by(|a, b| a.id.cmp(&b.id));
    crate::commands::print_stdout(table(&sources, &cursors))
}

fn kafka(config: &Config) -> Result<KafkaConfig> {
    config.kafka.clone().context("no [kafka] table with brokers (or OTKLIK_KAFKA_BROKERS)")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

/// The topic's sources by id, and the ids whose record does not decode.
async fn read_sources(bus: &KafkaBus, topic: &str) -> Result<(HashMap<String, Source>, Vec<String>)> {
    let table = bus.table(topic).await.with_context(|| format!("cannot read the sources topic {topic}"))?;
    let (mut sources, mut unreadable) = (HashMap::new(), Vec::new());
    for (key, value) in table {
        let id = String::from_utf8_lossy(&key).into_owned();
        match otklik_model::decode::<Source>("Source", &value) {
            Ok(source) if source.id == id => {
                sources.insert(id, source);
            }
            _ => unreadable.push(id),
        }
    }
    Ok((sources, unreadable))
}

/// One line per source: id, platform, handle, enabled, newest post id, last poll, the posts the
/// cursor remembers inside the re-check window, state.
fn table(sources: &[Source], cursors: &HashMap<String, Cursor>) -> String {
    let rows: Vec<[String; 7]> = sources.iter().map(|s| row(s, cursors.get(&s.id))).collect();
    let header = ["id", "platform", "handle", "newest id", "last poll", "in window", "state"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let polled = sources.iter().filter(|s| cursors.get(&s.id).is_some_and(|c| c.polled_at.is_some())).count();
    let _ = writeln!(out, "{} source(s), {polled} polled at least once", sources.len());
    out
}

fn row(source: &Source, cursor: Option<&Cursor>) -> [String; 7] {
    let dash = || "—".to_owned();
    let state = match (source.enabled, cursor) {
        (false, _) => "disabled".to_owned(),
        (true, None) => "never polled".to_owned(),
        (true, Some(c)) if c.polled_at.is_none() => "never polled".to_owned(),
        (true, Some(c)) => match &c.status {
            SourceStatus::Ok => "ok".to_owned(),
            SourceStatus::Failing { reason } => format!("failing: {reason}"),
            SourceStatus::Unavailable { reason } => format!("unavailable: {reason}"),
        },
    };
    [
        source.id.clone(),
        source.platform.to_string(),
        source.handle.clone(),
        cursor.and_then(|c| c.newest_id).map_or_else(dash, |id| id.to_string()),
        cursor.and_then(|c| c.polled_at).map_or_else(dash, |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()),
        cursor.map_or_else(dash, |c| c.recent.len().to_string()),
        state,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use otklik_model::{CommentsPolicy, Platform, Schema};

    fn source(id: &str, enabled: bool) -> Source {
        let (platform, handle) = (Platform::Telegram, format!("{id}_channel"));
        Source {
            schema: Schema,
            id: id.into(),
            platform,
            handle,
            name: String::new(),
            municipality: None,
            official: false,
            comments: CommentsPolicy::None,
            enabled,
        }
    }

    #[test]
    fn the_list_shows_each_source_with_its_cursor() {
        let polled = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().to_utc();
        let failing = SourceStatus::Failing { reason: "HTTP 503".into() };
        let cursors = HashMap::from([
            ("alpha".to_owned(), Cursor { newest_id: Some(1042), polled_at: Some(polled), ..Cursor::new("alpha") }),
            ("beta".to_owned(), Cursor { polled_at: Some(polled), status: failing, ..Cursor::new("beta") }),
        ]);
        let text = table(
            &[source("alpha", true), source("beta", true), source("gamma", true), source("off", false)],
            &cursors,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("id     platform  handle"), "{text}");
        assert!(
            lines[1].contains("1042") && lines[1].contains("2026-12-03 10:00:00Z") && lines[1].ends_with("ok"),
            "{text}"
        );
        assert!(lines[2].ends_with("failing: HTTP 503"), "{text}");
        assert!(lines[3].ends_with("never polled") && lines[4].ends_with("disabled"), "{text}");
        assert_eq!(lines[5], "4 source(s), 2 polled at least once");
    }
}
