use otklik_model::Platform;
use serde::Deserialize;
use std::collections::HashMap;

/// What kind of organisation answers: deadlines are set per type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgType {
    /// A management company (УК, ТСЖ).
    Uk,
    Administration,
    Ministry,
    Utility,
    Other,
}

impl OrgType {
    pub const ALL: &'static [OrgType] =
        &[OrgType::Uk, OrgType::Administration, OrgType::Ministry, OrgType::Utility, OrgType::Other];

    pub fn id(self) -> &'static str {
        match self {
            OrgType::Uk => "uk",
            OrgType::Administration => "administration",
            OrgType::Ministry => "ministry",
            OrgType::Utility => "utility",
            OrgType::Other => "other",
        }
    }
}

/// An organisation and the accounts that answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub org_type: OrgType,
    /// ОКТМО code of the municipality it serves, when it serves one.
    pub municipality: Option<String>,
    pub inn: Option<String>,
    /// Platform account ids: VK user ids and negative community ids, OK ids, Telegram channels.
    pub accounts: Vec<(Platform, String)>,
    /// Ids of sources (from the sources file) that are the organisation's own pages: complaints
    /// posted there are the organisation's to answer.
    pub sources: Vec<String>,
}

/// Every organisation, looked up by account and by source.
#[derive(Debug, Clone, Default)]
pub struct Responders {
    organisations: Vec<Organisation>,
    by_account: HashMap<(Platform, String), usize>,
    by_source: HashMap<String, usize>,
}

impl Responders {
    /// The first organisation listing an account or source keeps it (check-config reports
    /// duplicates).
    pub fn new(organisations: Vec<Organisation>) -> Self {
        let mut by_account = HashMap::new();
        let mut by_source = HashMap::new();
        for (i, org) in organisations.iter().enumerate() {
            for (platform, id) in &org.accounts {
                by_account.entry((*platform, normalise(*platform, id))).or_insert(i);
            }
            for source in &org.sources {
                by_source.entry(source.clone()).or_insert(i);
            }
        }
        Responders { organisations, by_account, by_source }
    }

    pub fn organisations(&self) -> &[Organisation] {
        &self.organisations
    }

    pub fn by_id(&self, id: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.id == id)
    }

    /// The organisation an account answers for.
    pub fn account(&self, platform: Platform, id: &str) -> Option<&Organisation> {
        self.by_account.get(&(platform, normalise(platform, id))).map(|&i| &self.organisations[i])
    }

    /// The organisation whose own page a source is.
    pub fn source(&self, source_id: &str) -> Option<&Organisation> {
        self.by_source.get(source_id).map(|&i| &self.organisations[i])
    }
}

/// Telegram usernames are case-insensitive and often written with `@`.
fn normalise(platform: Platform, id: &str) -> String {
    match platform {
        Platform::Telegram => id.trim_start_matches('@').to_lowercase(),
        _ => id.to_owned(),
    }
}

/// Why `id` is not an account id of `platform`: VK ids are non-zero integers (communities
/// negative), OK ids positive integers, Telegram channels usernames of 5–32 letters, digits, `_`.
pub fn account_problem(platform: Platform, id: &str) -> Option<String> {
    let ok = match platform {
        Platform::Vk => id.parse::<i64>().is_ok_and(|n| n != 0),
        Platform::Ok => id.parse::<u64>().is_ok_and(|n| n != 0),
        Platform::Telegram => {
            let name = id.trim_start_matches('@');
            (5..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
    };
    let expected = match platform {
        Platform::Vk => "a VK user id or a negative community id (\"-12345\")",
        Platform::Ok => "a numeric OK id",
        Platform::Telegram => "a channel username (5–32 letters, digits or _)",
    };
    (!ok).then(|| format!("{id:?} is not {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_per_platform() {
        assert_eq!(account_problem(Platform::Vk, "-12345"), None);
        assert_eq!(account_problem(Platform::Vk, "777"), None);
        assert!(account_problem(Platform::Vk, "club123").is_some());
        assert!(account_problem(Platform::Vk, "0").is_some());
        assert!(account_problem(Platform::Ok, "-5").is_some());
        assert_eq!(account_problem(Platform::Telegram, "@Penza_UK"), None);
        assert!(account_problem(Platform::Telegram, "uk").is_some());
    }

    #[test]
    fn telegram_accounts_match_whatever_the_case() {
        let org = Organisation {
            id: "uk".into(),
            name: "УК".into(),
            org_type: OrgType::Uk,
            municipality: None,
            inn: None,
            accounts: vec![(Platform::Telegram, "@Penza_UK".into())],
            sources: vec![],
        };
        let responders = Responders::new(vec![org]);
        assert!(responders.account(Platform::Telegram, "penza_uk").is_some());
        assert!(responders.account(Platform::Vk, "penza_uk").is_none());
    }
}
