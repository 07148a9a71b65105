//! `[[alerts.receiver]]`: where notifications go. The binary embeds a `Vec<ReceiverConfig>`;
//! secrets are named (a variable or a file), never written in the config.
//!
//! ```toml
//! [[alerts.receiver]]
//! name = "duty-webhook"
//! kind = "webhook"
//! url = "https://hooks.example.org/otklik"
//! secret_env = "OTKLIK_WEBHOOK_SECRET"   # or secret_file; "whsec_<base64>" or a raw secret
//! timeout = "15s"                        # default 15s, 1s ..= 2m
//!
//! [[alerts.receiver]]
//! name = "duty-telegram"
//! kind = "telegram"
//! chat_id = "-1001234567890"             # or "@channel"; a number works too
//! token_env = "OTKLIK_TELEGRAM_TOKEN"    # or token_file
//! api_url = "https://api.telegram.org"   # default
//! chat_interval = "1s"                   # at most one message per chat per interval (0s ..= 1m)
//! group_per_minute = 20                  # and this many per minute in a group or channel (1 ..= 60)
//! utc_offset_hours = 3                   # times in messages are local (default 3, Moscow)
//! ```
//!
//! A webhook secret written `whsec_<base64>` (the Standard Webhooks form) signs with the decoded
//! bytes; any other value signs with its UTF-8 bytes as they are.

use crate::secret::{self, Secret};
use otklik_pipeline::units::{check_count, check_duration, deserialize_duration, ConfigProblem};
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One receiver; `kind` selects the variant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiverConfig {
    Webhook(WebhookConfig),
    Telegram(TelegramConfig),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    #[serde(default = "default_timeout", deserialize_with = "deserialize_duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub name: String,
    #[serde(deserialize_with = "string_or_number")]
    pub chat_id: String,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default = "default_api_url")]
    pub api_url: String,
    #[serde(default = "default_timeout", deserialize_with = "deserialize_duration")]
    pub timeout: Duration,
    #[serde(default = "default_chat_interval", deserialize_with = "deserialize_duration")]
    pub chat_interval: Duration,
    #[serde(default = "default_group_per_minute")]
    pub group_per_minute: u32,
    #[serde(default = "default_utc_offset")]
    pub utc_offset_hours: i32,
}

fn default_timeout() -> Duration {
    Duration::from_secs(15)
}

fn default_api_url() -> String {
    "https://api.telegram.org".into()
}

fn default_chat_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_group_per_minute() -> u32 {
    20
}

fn default_utc_offset() -> i32 {
    3
}

/// Telegram chat ids are numbers (`-1001234567890`) or `@channel` names; TOML may write either.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(i64),
        Text(String),
    }
    Ok(match Id::deserialize(d)? {
        Id::Number(n) => n.to_string(),
        Id::Text(text) => text,
    })
}

impl ReceiverConfig {
    pub fn name(&self) -> &str {
        match self {
            ReceiverConfig::Webhook(c) => &c.name,
            ReceiverConfig::Telegram(c) => &c.name,
        }
    }

    /// Every problem of this receiver's table; `field` is the key inside it.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        check_name(&mut problems, self.name());
        match self {
            ReceiverConfig::Webhook(c) => c.validate(&mut problems),
            ReceiverConfig::Telegram(c) => c.validate(&mut problems),
        }
        problems
    }

    /// Reads the receiver's secret (once): the error names the variable or file, never a value.
    pub fn load_secret(&self, base_dir: &Path) -> Result<Secret, ConfigProblem> {
        let (env, file, field) = match self {
            ReceiverConfig::Webhook(c) => (c.secret_env.as_deref(), c.secret_file.as_deref(), "secret_env"),
            ReceiverConfig::Telegram(c) => (c.token_env.as_deref(), c.token_file.as_deref(), "token_env"),
        };
        let field = if env.is_none() && file.is_some() { field.replace("_env", "_file") } else { field.to_owned() };
        secret::load(env, file, base_dir).map_err(|message| ConfigProblem::new(field, message))
    }
}

/// Every problem of the whole list, each with the index of its `[[alerts.receiver]]` table:
/// each table's own, and names used twice.
pub fn validate_receivers(receivers: &[ReceiverConfig]) -> Vec<(usize, ConfigProblem)> {
    let mut out = Vec::new();
    for (index, receiver) in receivers.iter().enumerate() {
        out.extend(receiver.validate().into_iter().map(|p| (index, p)));
        if receivers[..index].iter().any(|r| r.name() == receiver.name()) {
            let problem = ConfigProblem::new("name", format!("receiver name {:?} is used twice", receiver.name()));
            out.push((index, problem.with_hint("routes name receivers: each needs a name of its own")));
        }
    }
    out
}

/// Reads every receiver's secret as `run` would (and checks a `whsec_` secret decodes), so that
/// `check-config` reports a missing variable or unreadable file; each problem with the index of
/// its table. Nothing read is kept or shown.
pub fn check_secrets(receivers: &[ReceiverConfig], base_dir: &Path) -> Vec<(usize, ConfigProblem)> {
    let mut out = Vec::new();
    for (index, receiver) in receivers.iter().enumerate() {
        match (receiver.load_secret(base_dir), receiver) {
            (Err(problem), _) => out.push((index, problem)),
            (Ok(secret), ReceiverConfig::Webhook(c)) => {
                if let Err(message) = crate::webhook::SigningKey::from_secret(&secret) {
                    let field = if c.secret_env.is_some() { "secret_env" } else { "secret_file" };
                    out.push((index, ConfigProblem::new(field, message)));
                }
            }
            (Ok(_), ReceiverConfig::Telegram(_)) => {}
        }
    }
    out
}

/// Names become part of `webhook-id`, which the signature scheme wants free of `.`.
fn check_name(problems: &mut Vec<ConfigProblem>, name: &str) {
    let valid =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        let problem = ConfigProblem::new("name", format!("invalid receiver name {name:?}"));
        problems.push(problem.with_hint("1 to 64 of A-Z, a-z, 0-9, '-' and '_'"));
    }
}

fn check_url(problems: &mut Vec<ConfigProblem>, field: &str, url: &str) {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() => {}
        // Never echo the URL: a webhook URL may carry a token of its own.
        _ => problems.push(
            ConfigProblem::new(field, "not an http(s) URL").with_hint("e.g. \"https://hooks.example.org/otklik\""),
        ),
    }
}

fn check_secret(problems: &mut Vec<ConfigProblem>, env: &Option<String>, file: &Option<PathBuf>, prefix: &str) {
    if env.is_some() == file.is_some() {
        let problem =
            ConfigProblem::new(format!("{prefix}_env"), format!("name exactly one of {prefix}_env and {prefix}_file"));
        problems.push(problem.with_hint("secrets come from the environment or files, never from otklik.toml"));
    }
}

const TIMEOUTS: std::ops::RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(120);

impl WebhookConfig {
    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        check_url(problems, "url", &self.url);
        check_secret(problems, &self.secret_env, &self.secret_file, "secret");
        check_duration(problems, "timeout", self.timeout, TIMEOUTS);
    }
}

impl TelegramConfig {
    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        let id = self.chat_id.trim();
        let numeric = id.strip_prefix('-').unwrap_or(id);
        let valid = (!numeric.is_empty() && numeric.chars().all(|c| c.is_ascii_digit()))
            || (id.len() > 1 && id.starts_with('@') && id[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid {
            let problem = ConfigProblem::new("chat_id", format!("invalid chat id {id:?}"));
            problems.push(problem.with_hint("a number such as -1001234567890, or \"@channel\""));
        }
        check_secret(problems, &self.token_env, &self.token_file, "token");
        check_url(problems, "api_url", &self.api_url);
        check_duration(problems, "timeout", self.timeout, TIMEOUTS);
        check_duration(problems, "chat_interval", self.chat_interval, Duration::ZERO..=Duration::from_secs(60));
        check_count(problems, "group_per_minute", self.group_per_minute.into(), 1..=60);
        if !(-12..=14).contains(&self.utc_offset_hours) {
            let problem = ConfigProblem::new(
                "utc_offset_hours",
                format!("{} is outside the allowed range", self.utc_offset_hours),
            );
            problems.push(problem.with_hint("allowed: -12 ..= 14"));
        }
    }

    /// Groups, supergroups and channels have negative ids or `@names`: Telegram limits them to
    /// about 20 messages a minute besides the per-chat rate.
    pub fn is_group(&self) -> bool {
        self.chat_id.starts_with('-') || self.chat_id.starts_with('@')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        receiver: Vec<ReceiverConfig>,
    }

    fn parse(text: &str) -> Vec<ReceiverConfig> {
        toml::from_str::<File>(text).unwrap().receiver
    }

    #[test]
    fn parses_both_kinds_with_defaults() {
        let receivers = parse(
            r#"
            [[receiver]]
            name = "hook"
            kind = "webhook"
            url = "https://hooks.example.org/x"
            secret_env = "HOOK_SECRET"

            [[receiver]]
            name = "tg"
            kind = "telegram"
            chat_id = -1001234
            token_file = "tg.token"
            "#,
        );
        let ReceiverConfig::Webhook(hook) = &receivers[0] else { panic!("webhook expected") };
        assert_eq!(hook.timeout, Duration::from_secs(15));
        let ReceiverConfig::Telegram(tg) = &receivers[1] else { panic!("telegram expected") };
        assert_eq!((tg.chat_id.as_str(), tg.api_url.as_str()), ("-1001234", "https://api.telegram.org"));
        assert!(tg.is_group());
        assert_eq!((tg.chat_interval, tg.group_per_minute), (Duration::from_secs(1), 20));
        assert!(validate_receivers(&receivers).is_empty());
    }

    #[test]
    fn secrets_are_checked_without_being_shown() {
        let dir = std::env::temp_dir().join(format!("otklik-notify-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bad.secret"), "whsec_%%%not-base64-secret").unwrap();
        let receivers = parse(
            r#"
            [[receiver]]
            name = "bad"
            kind = "webhook"
            url = "https://a.example/"
            secret_file = "bad.secret"

            [[receiver]]
            name = "tg"
            kind = "telegram"
            chat_id = 1
            token_env = "OTKLIK_NOTIFY_TEST_TOKEN_SURELY_UNSET"
            "#,
        );
        let found: Vec<String> = check_secrets(&receivers, &dir).iter().map(|(i, p)| format!("{i}.{p}")).collect();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            found,
            [
                "0.secret_file: a whsec_ secret must be base64 after the prefix",
                "1.token_env: environment variable OTKLIK_NOTIFY_TEST_TOKEN_SURELY_UNSET is not set"
            ]
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = "[[receiver]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"https://a.b/\"\nsecret = \"inline\"\n";
        assert!(toml::from_str::<File>(text).is_err());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let receivers = parse(
            r#"
            [[receiver]]
            name = "a.b"
            kind = "webhook"
            url = "ftp://x"
            secret_env = "A"
            secret_file = "b"
            timeout = "0s"

            [[receiver]]
            name = "a.b"
            kind = "telegram"
            chat_id = "chat"
            group_per_minute = 0
            utc_offset_hours = 20
            "#,
        );
        let found: Vec<String> =
            validate_receivers(&receivers).iter().map(|(i, p)| format!("{i}.{}", p.field)).collect();
        assert_eq!(
            found,
            [
                "0.name",
                "0.url",
                "0.secret_env",
                "0.timeout",
                "1.name",
                "1.chat_id",
                "1.token_env",
                "1.group_per_minute",
                "1.utc_offset_hours",
                "1.name"
            ]
        );
    }
}
