//! `otklik alerts list|silence|silences|backtest|bench`: glue between the command line, the stored alerts and
//! posts (`otklik_clickhouse::History`) and `otklik_alert`.

use crate::alert_stage::{hourly_series, restore};
use crate::config::Config;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use otklik_alert::bench::{self, BenchConfig};
use otklik_alert::detect::{hour_of, HELD_HOURS};
use otklik_model::{Alert, AlertState, Silence};
use std::fmt::Write;
use std::path::Path;

/// One alert event on one line: when, what, where, how much.
pub fn line(a: &Alert) -> String {
    let end = if a.window_end.date_naive() == a.window_start.date_naive() { "%H:%M" } else { "%m-%d %H:%M" };
    let window = format!("{}–{}", a.window_start.format("%Y-%m-%d %H:%M"), a.window_end.format(end));
    let place = match &a.municipality {
        Some(code) => format!("{} ({code})", a.municipality_name),
        None => a.municipality_name.clone(),
    };
    let expected = a.expected_note.as_ref().map(|n| format!(" · expected: {n}")).unwrap_or_default();
    format!(
        "{window}  {:<8} {:<6} {:<20} {place} · observed {} · expected {:.1} · {} incidents · {} · raised {}{expected}",
        a.state.as_str(),
        a.severity.as_str(),
        a.topic.id(),
        a.observed,
        a.expected,
        a.incidents,
        a.method,
        a.raised_at.format("%m-%d %H:%M")
    )
}

/// Alerts raised in the last `since`, the latest event of each; `open`: those not resolved.
pub fn list(config: &Config, since: std::time::Duration, open: bool) -> Result<()> {
    let history = config.history()?;
    let from = Utc::now() - chrono::Duration::from_std(since).context("--since is too long")?;
    let rows =
        crate::clickhouse_cmd::runtime()?.block_on(history.latest_alerts(from)).context("cannot read the alerts")?;
    let (mut out, mut shown) = (String::new(), 0);
    for row in &rows {
        let alert = Alert::try_from(row).map_err(anyhow::Error::msg)?;
        if open && alert.state == AlertState::Resolved {
            continue;
        }
        let _ = writeln!(out, "{}", line(&alert));
        for incident in &alert.top_incidents {
            let excerpt = crate::incidents_cmd::short(&incident.excerpt, 80);
            let _ = writeln!(out, "      {:>3} voices  {}  {excerpt}", incident.voices, incident.url);
        }
        shown += 1;
    }
    let _ = writeln!(out, "{shown} alert{}", if shown == 1 { "" } else { "s" });
    crate::commands::print_stdout(out)
}

/// What `otklik alerts silence` was asked to do.
pub enum SilenceRequest {
    Start { series: String, duration: std::time::Duration, reason: String, by: String },
    End(String),
}

/// Stores a new silence, or a version of an existing one that ends now.
pub fn silence(config: &Config, request: SilenceRequest) -> Result<()> {
    let history = config.history()?;
    let runtime = crate::clickhouse_cmd::runtime()?;
    let now = Utc::now();
    let silence = match request {
        SilenceRequest::Start { series, duration, reason, by } => {
            Silence::check_series(&series).map_err(anyhow::Error::msg)?;
            anyhow::ensure!(!reason.trim().is_empty(), "--reason is required: say why, for the next duty officer");
            let duration = chrono::Duration::from_std(duration).context("--for is too long")?;
            Silence::new(&series, now, duration, reason.trim(), &by)
        }
        SilenceRequest::End(id) => {
            let active = runtime.block_on(history.silences(now)).context("cannot read the silences")?;
            let mut silence = active
                .into_iter()
                .find(|s| s.id == id)
                .with_context(|| format!("no silence {id:?} is in force or to come"))?;
            silence.ends_at = now.max(silence.starts_at);
            silence
        }
    };
    runtime.block_on(history.add_silence(&silence, now)).context("cannot store the silence")?;
    crate::commands::print_stdout(format!("{}\n", silence_line(&silence)))
}

/// The silences in force or to come.
pub fn silences(config: &Config) -> Result<()> {
    let history = config.history()?;
    let active =
        crate::clickhouse_cmd::runtime()?.block_on(history.silences(Utc::now())).context("cannot read the silences")?;
    let mut out: String = active.iter().map(|s| format!("{}\n", silence_line(s))).collect();
    let _ = writeln!(out, "{} silence{}", active.len(), if active.len() == 1 { "" } else { "s" });
    crate::commands::print_stdout(out)
}

fn silence_line(s: &Silence) -> String {
    let format = "%Y-%m-%d %H:%M";
    format!(
        "{}  {}  {} – {}  by {}: {}",
        s.id,
        s.series,
        s.starts_at.format(format),
        s.ends_at.format(format),
        s.created_by,
        s.reason
    )
}

/// A time given as RFC 3339 or as a date (its midnight, UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()),
        Err(_) => Err(format!("{text:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)")),
    }
}

/// Replays the stored voices of `from..to` through the detector of `config` (with the stored
/// history before `from` as its baseline) and prints one line per alert event.
pub fn backtest(config: &Config, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<()> {
    anyhow::ensure!(from < to, "--from must be before --to");
    let history = config.history()?;
    let mut core = config.alert_core(false, None)?;
    let history_from = from - chrono::Duration::hours(HELD_HOURS as i64);
    let (posts, cells) = crate::clickhouse_cmd::runtime()?.block_on(async {
        let posts = history.linked_posts(from - core.link_window()).await.context("cannot read the linked posts")?;
        let cells = history.hourly_voices(history_from).await.context("cannot read the hourly voices")?;
        anyhow::Ok((posts, cells))
    })?;
    let posts: Vec<_> = posts.into_iter().filter(|p| p.published_at < to).collect();
    let cells = cells.into_iter().filter(|c| c.hour < to).map(|c| (c.hour, c.municipality, c.topic, c.voices));
    let loaded = restore(&core, &posts, hourly_series(cells), hour_of(history_from), &[], &[]);
    core.load_history(&loaded);
    core.start_clock(from);
    let alerts = core.advance(to);
    let mut out = String::new();
    for alert in &alerts {
        let _ = writeln!(out, "{}", line(alert));
    }
    let opened = alerts.iter().filter(|a| matches!(a.state, AlertState::Opened | AlertState::Reopened)).count();
    let _ =
        writeln!(out, "{} events, {opened} alerts opened, {} to {}", alerts.len(), from.to_rfc3339(), to.to_rfc3339());
    crate::commands::print_stdout(out)
}

/// Runs the simulation with a year of history and again with 3 days, prints both reports and
/// writes every figure to `csv` when given.
pub fn bench(replicates: usize, seed: u64, series: usize, csv: Option<&Path>) -> Result<()> {
    anyhow::ensure!(replicates > 0, "--replicates must be at least 1");
    let full = BenchConfig { replicates, seed, series, ..BenchConfig::default() };
    let cold = BenchConfig { history_days: 3, ..full.clone() };
    let reports = [bench::run(&full, "one year of history"), bench::run(&cold, "3 days of history")];
    for report in &reports {
        println!("{}", bench::render(report));
    }
    if let Some(path) = csv {
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        bench::write_csv(&reports, &mut out).with_context(|| format!("cannot write {}", path.display()))?;
        std::io::Write::flush(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
