//! `otklik report audience`: how the audience of each source (VK and OK members, Telegram
//! subscribers) changed over a period, and per type of the organisation a source belongs to
//! (`sources` in responders.toml; a source of none counts as `other`). Reads the observations
//! the collectors recorded (`History::source_stats`, ClickHouse or the local store).

use crate::config::Config;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use otklik_clickhouse::SourceStatRow;
use otklik_respond::{OrgType, Responders};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub fn run(config: &Config, since: std::time::Duration) -> Result<()> {
    let history = config.history()?;
    let from = Utc::now() - chrono::Duration::from_std(since).context("--since is too long")?;
    let rows = crate::clickhouse_cmd::runtime()?
        .block_on(history.source_stats(from))
        .context("cannot read the sources' audiences")?;
    let names: HashMap<&str, &str> = config.sources.iter().map(|s| (s.id.as_str(), s.name.as_str())).collect();
    crate::commands::print_stdout(render(&growth(&rows), &config.responders, &names, from))
}

/// One source's first and last audience of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceGrowth {
    pub source_id: String,
    pub platform: String,
    pub first: (DateTime<Utc>, u64),
    pub last: (DateTime<Utc>, u64),
}

impl SourceGrowth {
    pub fn change(&self) -> i64 {
        signed(self.last.1) - signed(self.first.1)
    }
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The change in per cent of `first`; `None` from nothing.
pub fn percent(first: u64, change: i64) -> Option<f64> {
    (first > 0).then(|| 100.0 * change as f64 / first as f64)
}

/// The first and last observation of every source in `rows`, by source id.
pub fn growth(rows: &[SourceStatRow]) -> Vec<SourceGrowth> {
    let mut by_source: BTreeMap<&str, SourceGrowth> = BTreeMap::new();
    for row in rows {
        let point = (row.observed_at, row.audience);
        let entry = by_source.entry(&row.source_id).or_insert_with(|| SourceGrowth {
            source_id: row.source_id.clone(),
            platform: row.platform.clone(),
            first: point,
            last: point,
        });
        if point.0 < entry.first.0 {
            entry.first = point;
        }
        if point.0 >= entry.last.0 {
            entry.last = point;
        }
    }
    by_source.into_values().collect()
}

/// The sum of the first and of the last audiences of several sources.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub sources: usize,
    pub first: u64,
    pub last: u64,
}

impl Totals {
    pub fn change(&self) -> i64 {
        signed(self.last) - signed(self.first)
    }
}

/// Totals per organisation type (`uk`, `administration`, …, `other`), by type id.
pub fn by_type(growth: &[SourceGrowth], responders: &Responders) -> BTreeMap<&'static str, Totals> {
    let mut totals: BTreeMap<&'static str, Totals> = BTreeMap::new();
    for g in growth {
        let org_type = responders.source(&g.source_id).map_or(OrgType::Other, |o| o.org_type);
        let t = totals.entry(org_type.id()).or_default();
        t.sources += 1;
        t.first = t.first.saturating_add(g.first.1);
        t.last = t.last.saturating_add(g.last.1);
    }
    totals
}

fn percent_label(first: u64, change: i64) -> String {
    percent(first, change).map_or("—".to_owned(), |p| format!("{p:+.1}%"))
}

pub fn render(
    growth: &[SourceGrowth],
    responders: &Responders,
    names: &HashMap<&str, &str>,
    from: DateTime<Utc>,
) -> String {
    let mut out = format!("Audience of sources observed since {}\n", from.format("%Y-%m-%d %H:%M UTC"));
    if growth.is_empty() {
        out.push_str("\nNo audience recorded in the period (VK and OK groups and Telegram channels show one).\n");
        return out;
    }
    let _ = writeln!(out, "\nBy source:");
    let _ = writeln!(
        out,
        "  {:<40} {:<9} {:>10} {:>10} {:>9} {:>8}  observed",
        "source", "platform", "first", "last", "change", "%"
    );
    for g in growth {
        let label = match names.get(g.source_id.as_str()).filter(|n| !n.is_empty()) {
            Some(name) => format!("{name} ({})", g.source_id),
            None => g.source_id.clone(),
        };
        let (first, last) = (g.first.0.format("%m-%d"), g.last.0.format("%m-%d"));
        let _ = writeln!(
            out,
            "  {label:<40} {:<9} {:>10} {:>10} {:>+9} {:>8}  {first} → {last}",
            g.platform,
            g.first.1,
            g.last.1,
            g.change(),
            percent_label(g.first.1, g.change())
        );
    }
    let _ = writeln!(out, "\nBy organisation type:");
    let _ =
        writeln!(out, "  {:<16} {:>7} {:>10} {:>10} {:>9} {:>8}", "type", "sources", "first", "last", "change", "%");
    for (org_type, t) in by_type(growth, responders) {
        let _ = writeln!(
            out,
            "  {org_type:<16} {:>7} {:>10} {:>10} {:>+9} {:>8}",
            t.sources,
            t.first,
            t.last,
            t.change(),
            percent_label(t.first, t.change())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use otklik_respond::Organisation;

    fn stat(source: &str, day: u32, audience: u64) -> SourceStatRow {
        let at = Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap();
        SourceStatRow { source_id: source.into(), platform: "vk".into(), observed_at: at, audience }
    }

    fn org(id: &str, org_type: OrgType, sources: &[&str]) -> Organisation {
        Organisation {
            id: id.into(),
            name: id.into(),
            org_type,
            municipality: None,
            inn: None,
            accounts: vec![],
            sources: sources.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Two weeks of daily observations: the administration's page grows by 10 a day, the УК's
    /// loses 3 a day, an unlisted page is seen only in the second week, and one
    /// observation arrives twice and out of order.
    #[test]
    fn growth_over_two_synthetic_weeks() {
        let mut rows = Vec::new();
        for day in 1..=14u32 {
            rows.push(stat("vk-adm", day, 1000 + 10 * u64::from(day - 1)));
            rows.push(stat("vk-uk", day, 300 - 3 * u64::from(day - 1)));
        }
        rows.push(stat("vk-uk", 5, 288));
        rows.extend([stat("tg-news", 14, 520), stat("tg-news", 8, 500)]);
        let growth = growth(&rows);
        let summary: Vec<(&str, u64, u64, i64)> =
            growth.iter().map(|g| (g.source_id.as_str(), g.first.1, g.last.1, g.change())).collect();
        assert_eq!(summary, [("tg-news", 500, 520, 20), ("vk-adm", 1000, 1130, 130), ("vk-uk", 300, 261, -39)]);
        assert_eq!(growth[1].first.0, Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap());
        assert_eq!(percent(1000, 130), Some(13.0));
        assert_eq!(percent(300, -39), Some(-13.0));
        assert_eq!(percent(0, 5), None);

        let responders =
            Responders::new(vec![org("adm", OrgType::Administration, &["vk-adm"]), org("uk", OrgType::Uk, &["vk-uk"])]);
        let totals = by_type(&growth, &responders);
        assert_eq!(totals["administration"], Totals { sources: 1, first: 1000, last: 1130 });
        assert_eq!(totals["uk"], Totals { sources: 1, first: 300, last: 261 });
        assert_eq!(totals["other"], Totals { sources: 1, first: 500, last: 520 });

        let names = HashMap::from([("vk-adm", "Администрация")]);
        let text = render(&growth, &responders, &names, Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        assert!(text.contains("Администрация (vk-adm)"), "{text}");
        let adm = text.lines().find(|l| l.contains("(vk-adm)")).unwrap();
        assert!(
            adm.contains("1000") && adm.contains("1130") && adm.contains("+130") && adm.contains("+13.0%"),
            "{adm}"
        );
        assert!(adm.ends_with("11-01 → 11-14"), "{adm}");
        let uk = text.lines().find(|l| l.trim_start().starts_with("uk ")).unwrap();
        assert!(uk.contains("-39") && uk.contains("-13.0%"), "{uk}");
    }
}
