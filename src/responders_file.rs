//! `[responses]` and the responders file (`[[organisation]]` tables), checked as the sources file
//! is: every problem at once, with its line.

use super::{HumanDuration, Placer, Problem};
use otklik_classify::gazetteer::Gazetteer;
use otklik_model::Platform;
use otklik_pipeline::units::{check_duration, read_capped, ConfigProblem};
use otklik_respond::{account_problem, OrgType, Organisation, Responders};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A responders file is a few hundred organisations: a few KiB.
const RESPONDERS_MAX_BYTES: usize = 16 << 20;
const HOUR: Duration = Duration::from_secs(3600);

/// `[responses]`: who answers for which organisation, and how soon each type should.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponsesConfig {
    /// `[[organisation]]` tables; empty: no responders (a source's own comments still count).
    pub responders_file: PathBuf,
    pub deadline: Deadlines,
    /// How long the alert stage watches a complaint for a reply (README «Overdue alerts»): an
    /// overdue alert resolves once its complaints are answered or older than this. At least the
    /// longest deadline (72h by default), at most 30d; "0s" turns overdue alerts off.
    pub overdue_window: HumanDuration,
}

impl Default for ResponsesConfig {
    fn default() -> Self {
        ResponsesConfig {
            responders_file: PathBuf::new(),
            deadline: Deadlines::default(),
            overdue_window: HumanDuration(HOUR * 72),
        }
    }
}

/// How long a complaint may stay unanswered, per organisation type (1h..=30d); complaints on
/// pages of no listed organisation use `other`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deadlines {
    pub uk: HumanDuration,
    pub administration: HumanDuration,
    pub ministry: HumanDuration,
    pub utility: HumanDuration,
    pub other: HumanDuration,
}

impl Default for Deadlines {
    fn default() -> Self {
        let hours = |n| HumanDuration(HOUR * n);
        Deadlines {
            uk: hours(24),
            administration: hours(24),
            ministry: hours(72),
            utility: hours(24),
            other: hours(48),
        }
    }
}

impl Deadlines {
    pub fn of(&self, org_type: OrgType) -> Duration {
        match org_type {
            OrgType::Uk => self.uk.0,
            OrgType::Administration => self.administration.0,
            OrgType::Ministry => self.ministry.0,
            OrgType::Utility => self.utility.0,
            OrgType::Other => self.other.0,
        }
    }
}

impl ResponsesConfig {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        for &org_type in OrgType::ALL {
            check_duration(
                &mut problems,
                &format!("deadline.{}", org_type.id()),
                self.deadline.of(org_type),
                HOUR..=HOUR * 24 * 30,
            );
        }
        let window = self.overdue_window.0;
        let longest = OrgType::ALL.iter().map(|&t| self.deadline.of(t)).max().unwrap_or(HOUR);
        if window != Duration::ZERO {
            check_duration(&mut problems, "overdue_window", window, longest..=HOUR * 24 * 30);
        }
        problems
    }

    /// The overdue tracker's settings; `None` when overdue alerts are off.
    pub fn overdue(&self) -> Option<otklik_respond::OverdueConfig> {
        let delta = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
        let window = self.overdue_window.0;
        let deadlines = OrgType::ALL.iter().map(|&t| (t, delta(self.deadline.of(t)))).collect();
        (window != Duration::ZERO).then(|| otklik_respond::OverdueConfig { deadlines, window: delta(window) })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RespondersFile {
    #[serde(default)]
    organisation: Vec<OrgEntry>,
}

/// Every field optional, so an entry deserialises once its wrong keys are cut.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct OrgEntry {
    id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    org_type: Option<OrgType>,
    municipality: Option<String>,
    inn: Option<String>,
    vk: Vec<String>,
    ok: Vec<String>,
    telegram: Vec<String>,
    sources: Vec<String>,
}

/// Reads and checks `path`; `sources`: the configured source ids, for `sources = [...]`.
pub(super) fn read(
    path: &Path,
    gazetteer: Option<&Gazetteer>,
    sources: &[String],
    problems: &mut Vec<Problem>,
) -> Responders {
    let text = match read_capped(path, RESPONDERS_MAX_BYTES) {
        Ok(text) => text,
        Err(e) => {
            let message = format!("cannot read: {e}");
            problems.push(Problem { file: path.to_owned(), line: None, message, hint: None });
            return Responders::default();
        }
    };
    let Some(file) = crate::tomlcheck::deserialize_all::<RespondersFile>(path, &text, problems) else {
        return Responders::default();
    };
    let place = Placer { file: path, text: &text };
    let mut seen = Seen::default();
    let mut organisations = Vec::new();
    for (index, entry) in file.organisation.into_iter().enumerate() {
        let section = format!("organisation[{index}]");
        let mut found = Vec::new();
        let org = check(&place, &section, entry, gazetteer, sources, &mut found);
        if let Some(org) = org {
            seen.check(&org, &mut found);
            organisations.push(org);
        }
        place.all(&section, found, problems);
    }
    Responders::new(organisations)
}

/// Ids and accounts already listed, to report duplicates.
#[derive(Default)]
struct Seen {
    ids: HashMap<String, ()>,
    accounts: HashMap<(Platform, String), String>,
}

impl Seen {
    fn check(&mut self, org: &Organisation, found: &mut Vec<ConfigProblem>) {
        if self.ids.insert(org.id.clone(), ()).is_some() {
            found.push(ConfigProblem::new("id", format!("duplicate organisation id {:?}", org.id)));
        }
        for (platform, account) in &org.accounts {
            let key = (*platform, account.trim_start_matches('@').to_lowercase());
            if let Some(owner) = self.accounts.insert(key, org.id.clone()) {
                let message = format!("{} account {account:?} is listed for {owner:?} already", platform.name());
                let problem = ConfigProblem::new(platform.name(), message);
                found.push(problem.with_hint("an account answers for one organisation"));
            }
        }
    }
}

fn check(
    place: &Placer<'_>,
    section: &str,
    e: OrgEntry,
    gazetteer: Option<&Gazetteer>,
    sources: &[String],
    found: &mut Vec<ConfigProblem>,
) -> Option<Organisation> {
    for (key, present) in [("id", e.id.is_some()), ("name", e.name.is_some()), ("type", e.org_type.is_some())] {
        if !present && !crate::tomlcheck::has_key(place.text, &format!("{section}.{key}")) {
            found.push(
                ConfigProblem::new(key, "is missing").with_hint("every [[organisation]] needs id, name and type"),
            );
        }
    }
    if let Some(code) = &e.municipality {
        found.extend(super::municipality_problem(code, gazetteer));
    }
    if let Some(inn) = &e.inn {
        if !matches!(inn.len(), 10 | 12) || !inn.bytes().all(|b| b.is_ascii_digit()) {
            found.push(ConfigProblem::new("inn", format!("{inn:?} is not a 10- or 12-digit ИНН")));
        }
    }
    let mut accounts = Vec::new();
    for (platform, ids) in [(Platform::Vk, &e.vk), (Platform::Ok, &e.ok), (Platform::Telegram, &e.telegram)] {
        for id in ids {
            match account_problem(platform, id) {
                Some(problem) => found.push(ConfigProblem::new(platform.name(), problem)),
                None => accounts.push((platform, id.clone())),
            }
        }
    }
    for source in e.sources.iter().filter(|s| !sources.contains(s)) {
        let problem = ConfigProblem::new("sources", format!("no source has the id {source:?}"));
        found.push(problem.with_hint("list ids of [[source]] tables of collect.sources_file"));
    }
    Some(Organisation {
        id: e.id?,
        name: e.name?,
        org_type: e.org_type?,
        municipality: e.municipality,
        inn: e.inn,
        accounts,
        sources: e.sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_window(window: &str) -> ResponsesConfig {
        let text = format!("overdue_window = {window:?}\n[deadline]\nministry = \"96h\"\n");
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn the_overdue_window_covers_every_deadline_or_is_off() {
        let fields = |c: &ResponsesConfig| c.validate().iter().map(|p| p.field.clone()).collect::<Vec<_>>();
        assert_eq!(fields(&with_window("72h")), ["overdue_window"], "shorter than the ministry's 96 h");
        assert!(fields(&with_window("96h")).is_empty());
        assert!(with_window("0s").validate().is_empty() && with_window("0s").overdue().is_none());
        let on = ResponsesConfig::default().overdue().map(|o| (o.window, o.deadlines[&OrgType::Ministry]));
        assert_eq!(on, Some((chrono::TimeDelta::hours(72), chrono::TimeDelta::hours(72))));
    }
}
