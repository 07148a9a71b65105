//! `otklik report responses`: who answered residents' complaints and how fast, per organisation
//! and per municipality, and the complaints unanswered past their deadline. Glue between the
//! stored posts (`History::response_items`, ClickHouse or the local store) and `otklik_respond`.

use crate::config::{Config, ResponsesConfig};
use anyhow::{Context, Result};
use chrono::{DateTime, TimeDelta, Utc};
use otklik_clickhouse::{PostRow, ReplyRow};
use otklik_model::{ItemKind, Platform, PostKind};
use otklik_respond::{first_replies, Complaint, Item, OrgType, Responders};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// A complaint answered within this counts as answered in time, whatever the deadline.
const WITHIN: TimeDelta = TimeDelta::hours(24);

/// `record`: also store each complaint's first reply in ClickHouse's `replies` table.
pub fn run(config: &Config, since: std::time::Duration, record: bool) -> Result<()> {
    let production = config.run.mode == crate::config::Mode::Production;
    anyhow::ensure!(!record || production, "--record writes ClickHouse's replies table: it needs production mode");
    let history = config.history()?;
    let now = Utc::now();
    let from = now - chrono::Duration::from_std(since).context("--since is too long")?;
    let rows =
        crate::clickhouse_cmd::runtime()?.block_on(history.response_items(from)).context("cannot read the posts")?;
    let names: HashMap<String, String> = rows
        .iter()
        .filter(|r| !r.municipality.is_empty())
        .map(|r| (r.municipality.clone(), r.municipality_name.clone()))
        .collect();
    let items: Vec<Item> = rows.iter().filter_map(item_of).collect();
    let complaints = first_replies(&items, &config.responders);
    let view = View { responders: &config.responders, responses: &config.responses, names: &names, now };
    if record {
        let rows: Vec<ReplyRow> = complaints.iter().map(|c| view.row(c)).collect();
        let sink = otklik_clickhouse::ClickHouseSink::<ReplyRow>::new(config.clickhouse_sink()?);
        crate::clickhouse_cmd::runtime()?.block_on(sink.insert(&rows)).context("cannot write the replies table")?;
    }
    crate::commands::print_stdout(view.render(&complaints, from))
}

/// The run summary's response figures: resident complaints and questions stored, how many have a
/// first reply (within 24 h), and each replier's count and median delay.
#[derive(Debug, Default)]
pub struct Answered {
    pub complaints: usize,
    pub answered: usize,
    pub in_24h: usize,
    /// Replier label → (complaints answered, median delay).
    pub by: BTreeMap<String, (usize, TimeDelta)>,
}

impl Answered {
    /// The figures of every complaint in `history` published since `from`.
    pub async fn read(
        responders: &Responders,
        history: &otklik_clickhouse::History,
        from: DateTime<Utc>,
    ) -> Result<Self> {
        let rows = history.response_items(from).await.context("cannot read the posts")?;
        let items: Vec<Item> = rows.iter().filter_map(item_of).collect();
        Ok(Answered::of(&first_replies(&items, responders), responders))
    }

    fn of(complaints: &[Complaint], responders: &Responders) -> Self {
        let mut delays: BTreeMap<String, Vec<TimeDelta>> = BTreeMap::new();
        for reply in complaints.iter().filter_map(|c| c.reply.as_ref()) {
            let label = responders.by_id(&reply.by).map_or_else(|| reply.by.clone(), |o| o.name.clone());
            delays.entry(label).or_default().push(reply.delay);
        }
        let answered = delays.values().map(Vec::len).sum();
        let in_24h = complaints.iter().filter_map(|c| c.reply.as_ref()).filter(|r| r.delay <= WITHIN).count();
        let by = delays.into_iter().map(|(label, d)| (label, (d.len(), median(d)))).collect();
        Answered { complaints: complaints.len(), answered, in_24h, by }
    }

    /// The share of complaints answered, in percent.
    pub fn share(&self) -> f64 {
        100.0 * self.answered as f64 / self.complaints.max(1) as f64
    }
}

impl std::fmt::Display for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, answered, in_24h, share) = (self.complaints, self.answered, self.in_24h, self.share());
        writeln!(
            f,
            "{n} resident complaints and questions · {answered} answered ({share:.0}%) · {in_24h} within 24 h"
        )?;
        for (label, (count, delay)) in &self.by {
            writeln!(f, "  {label}: {count} answered · median delay {}", duration(*delay))?;
        }
        Ok(())
    }
}

/// The `quantileExact(0.5)` of `delays` (not empty).
fn median(delays: Vec<TimeDelta>) -> TimeDelta {
    let figures = Figures { delays, ..Figures::default() };
    figures.delay_at(0.5).unwrap_or_default()
}

/// A stored row as reply finding sees it; `None` for a row of an unknown platform or kind.
pub fn item_of(row: &PostRow) -> Option<Item> {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Some(Item {
        uid: row.uid.clone(),
        platform: Platform::from_name(&row.platform)?,
        source_id: row.source_id.clone(),
        item_kind: if row.item_kind == "comment" { ItemKind::Comment } else { ItemKind::Post },
        parent_uid: some(&row.parent_uid),
        author_id: some(&row.author_id),
        author_is_source: row.author_is_source != 0,
        published_at: row.published_at,
        kind: PostKind::ALL.iter().copied().find(|k| k.id() == row.kind)?,
        municipality: some(&row.municipality),
        url: some(&row.url),
    })
}

/// Figures of one group of complaints.
#[derive(Default)]
struct Figures {
    complaints: usize,
    in_time: usize,
    delays: Vec<TimeDelta>,
    oldest_unanswered: Option<DateTime<Utc>>,
}

impl Figures {
    fn add(&mut self, c: &Complaint) {
        self.complaints += 1;
        match &c.reply {
            Some(reply) => {
                self.in_time += usize::from(reply.delay <= WITHIN);
                self.delays.push(reply.delay);
            }
            None => {
                self.oldest_unanswered = Some(self.oldest_unanswered.map_or(c.published_at, |t| t.min(c.published_at)))
            }
        }
    }

    /// The `q` quantile of the delays of the answered ones as ClickHouse's `quantileExact`
    /// (the `response_daily` view) takes it: the element at floor(q·n) of the sorted delays.
    fn delay_at(&self, q: f64) -> Option<TimeDelta> {
        let mut delays = self.delays.clone();
        delays.sort();
        let index = (q * delays.len() as f64).floor() as usize;
        delays.get(index.min(delays.len().saturating_sub(1))).copied()
    }
}

struct View<'a> {
    responders: &'a Responders,
    responses: &'a ResponsesConfig,
    names: &'a HashMap<String, String>,
    now: DateTime<Utc>,
}

impl View<'_> {
    /// The organisation a complaint is counted for: the one whose page it is on, else the one
    /// that answered it.
    fn organisation_of<'c>(&self, c: &'c Complaint) -> Option<&'c str> {
        c.addressed_to
            .as_deref()
            .or_else(|| c.reply.as_ref().map(|r| r.by.as_str()).filter(|by| self.responders.by_id(by).is_some()))
    }

    /// The `replies` row of a complaint.
    fn row(&self, c: &Complaint) -> ReplyRow {
        let reply = c.reply.as_ref();
        ReplyRow {
            complaint_uid: c.uid.clone(),
            source_id: c.source_id.clone(),
            municipality: c.municipality.clone().unwrap_or_default(),
            organisation: self.organisation_of(c).unwrap_or_default().to_owned(),
            complaint_at: c.published_at,
            answered: u8::from(reply.is_some()),
            reply_uid: reply.map(|r| r.uid.clone()).unwrap_or_default(),
            replied_by: reply.map(|r| r.by.clone()).unwrap_or_default(),
            first_reply_at: reply.map_or(c.published_at, |r| r.at),
            reply_delay_seconds: reply.map_or(0, |r| u32::try_from(r.delay.num_seconds().max(0)).unwrap_or(u32::MAX)),
            computed_at: self.now,
        }
    }

    fn org_label(&self, id: Option<&str>) -> String {
        match id.and_then(|id| self.responders.by_id(id)) {
            Some(org) => format!("{} ({})", org.name, org.id),
            None => "(no organisation)".into(),
        }
    }

    fn place_label(&self, code: Option<&str>) -> String {
        match code {
            Some(code) => format!("{} ({code})", self.names.get(code).map_or("?", String::as_str)),
            None => "(no municipality)".into(),
        }
    }

    fn deadline(&self, c: &Complaint) -> TimeDelta {
        let org_type =
            c.addressed_to.as_deref().and_then(|id| self.responders.by_id(id)).map_or(OrgType::Other, |o| o.org_type);
        TimeDelta::from_std(self.responses.deadline.of(org_type)).unwrap_or(TimeDelta::MAX)
    }

    fn render(&self, complaints: &[Complaint], from: DateTime<Utc>) -> String {
        let mut by_org: BTreeMap<String, Figures> = BTreeMap::new();
        let mut by_place: BTreeMap<String, Figures> = BTreeMap::new();
        for c in complaints {
            by_org.entry(self.org_label(self.organisation_of(c))).or_default().add(c);
            by_place.entry(self.place_label(c.municipality.as_deref())).or_default().add(c);
        }
        let mut out =
            format!("Complaints and questions by residents published since {}\n", from.format("%Y-%m-%d %H:%M UTC"));
        self.table(&mut out, "organisation", &by_org);
        self.table(&mut out, "municipality", &by_place);
        let overdue: Vec<&Complaint> =
            complaints.iter().filter(|c| c.reply.is_none() && self.now - c.published_at > self.deadline(c)).collect();
        let _ = writeln!(out, "\nUnanswered past the deadline: {}", overdue.len());
        for c in overdue {
            let org = self.org_label(c.addressed_to.as_deref());
            let age = duration(self.now - c.published_at);
            let link = c.url.as_deref().unwrap_or(&c.uid);
            let _ = writeln!(
                out,
                "  {}  {age:>7} (deadline {})  {org}  {link}",
                c.published_at.format("%m-%d %H:%M"),
                duration(self.deadline(c))
            );
        }
        out
    }

    fn table(&self, out: &mut String, what: &str, groups: &BTreeMap<String, Figures>) {
        let _ = writeln!(out, "\nBy {what}:");
        let _ = writeln!(
            out,
            "  {:<48} {:>10} {:>10} {:>6} {:>8} {:>8}  oldest unanswered",
            what, "complaints", "in 24h", "share", "median", "p90"
        );
        for (label, f) in groups {
            let share = if f.complaints == 0 { 0.0 } else { 100.0 * f.in_time as f64 / f.complaints as f64 };
            let delay = |share| f.delay_at(share).map_or("—".to_owned(), duration);
            let oldest = f
                .oldest_unanswered
                .map_or("—".to_owned(), |t| format!("{} ({} ago)", t.format("%m-%d %H:%M"), duration(self.now - t)));
            let _ = writeln!(
                out,
                "  {label:<48} {:>10} {:>10} {share:>5.0}% {:>8} {:>8}  {oldest}",
                f.complaints,
                f.in_time,
                delay(0.5),
                delay(0.9)
            );
        }
    }
}

/// `3d 4h`, `2h 5m`, `12m`.
fn duration(d: TimeDelta) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, _) => format!("{hours}h {mins}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(TimeDelta::minutes(12)), "12m");
        assert_eq!(duration(TimeDelta::minutes(125)), "2h 5m");
        assert_eq!(duration(TimeDelta::hours(76)), "3d 4h");
    }

    #[test]
    fn median_and_p90_are_those_of_quantile_exact() {
        let f = Figures { delays: (1..=10).map(TimeDelta::hours).rev().collect(), ..Figures::default() };
        assert_eq!(f.delay_at(0.5), Some(TimeDelta::hours(6)));
        assert_eq!(f.delay_at(0.9), Some(TimeDelta::hours(10)));
        assert_eq!(Figures::default().delay_at(0.5), None);
    }

    #[test]
    fn the_summary_counts_answered_complaints_per_replier() {
        use otklik_respond::{Organisation, Reply};
        let org = Organisation {
            id: "uk-a".into(),
            name: "УК «А»".into(),
            org_type: OrgType::Uk,
            municipality: None,
            inn: None,
            accounts: vec![(Platform::Vk, "-5".into())],
            sources: vec![],
        };
        let responders = Responders::new(vec![org]);
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let complaint = |n: i64, reply: Option<(&str, i64)>| Complaint {
            uid: format!("vk:-1:{n}"),
            source_id: "s".into(),
            municipality: None,
            published_at: at,
            url: None,
            addressed_to: None,
            reply: reply.map(|(by, hours)| Reply {
                uid: format!("vk:-1:{n}:c1"),
                at: at + TimeDelta::hours(hours),
                by: by.into(),
                delay: TimeDelta::hours(hours),
            }),
        };
        let complaints = [
            complaint(1, Some(("uk-a", 2))),
            complaint(2, Some(("uk-a", 30))),
            complaint(3, Some(("uk-a", 10))),
            complaint(4, Some(("source:s", 1))),
            complaint(5, None),
        ];
        let answered = Answered::of(&complaints, &responders);
        assert_eq!((answered.complaints, answered.answered, answered.in_24h), (5, 4, 3));
        assert_eq!(answered.by["УК «А»"], (3, TimeDelta::hours(10)));
        assert_eq!(answered.by["source:s"], (1, TimeDelta::hours(1)));
        let text = answered.to_string();
        assert!(text.starts_with("5 resident complaints and questions · 4 answered (80%) · 3 within 24 h"), "{text}");
        assert!(text.contains("  УК «А»: 3 answered · median delay 10h"), "{text}");
    }
}
