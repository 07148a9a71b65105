//! `[collect.ok]`: where the OK API is, the application's public key, where its secrets live
//! (environment variables or files only — never the config file itself), the per-credential rate
//! limit, how deep a walk goes and which comments are read.
//!
//! ```toml
//! [collect.ok]
//! application_key = "CBAFJIICABABABABA"
//! application_secret_key_env = "OTKLIK_OK_APPLICATION_SECRET_KEY"   # or application_secret_key_file
//! access_token_file = "/run/secrets/ok_access_token"                # or access_token_env
//! rate = "5/s"
//! recheck_window = "48h"
//! ```

use crate::ratelimit::Rate;
use crate::walk::{check_rate, WalkLimits};
use otklik_pipeline::units::{check_count, check_duration, read_capped, ConfigProblem, SECRET_FILE_MAX_BYTES};
use otklik_pipeline::Backoff;
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variables read when neither `*_env` nor `*_file` is configured.
pub const DEFAULT_APPLICATION_SECRET_KEY_ENV: &str = "OTKLIK_OK_APPLICATION_SECRET_KEY";
pub const DEFAULT_ACCESS_TOKEN_ENV: &str = "OTKLIK_OK_ACCESS_TOKEN";

/// The `[collect.ok]` table. Every field has a default; only `application_key` and the two
/// secrets must be supplied before OK sources can be polled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OkConfig {
    /// The REST endpoint (`https://api.ok.ru/fb.do`).
    pub api_base: String,
    /// The application's public key (`application_key`); not a secret.
    pub application_key: String,
    /// Environment variable holding the application's secret key (default
    /// `OTKLIK_OK_APPLICATION_SECRET_KEY` when no file is given either).
    pub application_secret_key_env: Option<String>,
    /// File holding the application's secret key (surrounding whitespace is trimmed).
    pub application_secret_key_file: Option<PathBuf>,
    /// Environment variable holding the OAuth access token (default `OTKLIK_OK_ACCESS_TOKEN`).
    pub access_token_env: Option<String>,
    pub access_token_file: Option<PathBuf>,
    /// Optional `session_secret_key` (client–server flow); when present it signs requests
    /// instead of `md5(access_token + application_secret_key)`.
    pub session_secret_key_env: Option<String>,
    pub session_secret_key_file: Option<PathBuf>,
    /// Requests per period for this credential (`"5/s"`, `"100/m"`); period 1ms..=1d.
    #[serde(deserialize_with = "crate::ratelimit::deserialize_rate")]
    pub rate: Rate,
    /// Topics per `mediatopic.getTopics` call (1..=100).
    pub page_size: u32,
    /// A first poll takes at most this many topics (1..=100000),
    pub first_poll_max_posts: usize,
    /// and none older than this (`"7d"`; 1m..=36500d).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub first_poll_max_age: Duration,
    /// Topics (and comments) younger than this are re-checked on every poll (`"48h"`; 0s..=90d).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub recheck_window: Duration,
    /// Hard stop for the `mediatopic.getTopics` pages of one poll (1..=10000).
    pub max_pages: usize,
    /// Comments per `discussions.getComments` call (1..=100).
    pub comments_page_size: u32,
    /// At most this many comments are read under one topic per poll (0..=100000).
    pub comments_max_per_topic: usize,
    /// How long the credential rests after error 8 (FLOOD_BLOCKED); 1ms..=1d.
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub flood_backoff: Duration,
    /// How long the credential rests after error 11 (LIMIT_REACHED, a quota); 1ms..=1d.
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub limit_backoff: Duration,
    /// Retries of one call after errors 1, 2 and 9999 (server-side failures); 0..=20.
    pub retries: u32,
    /// First wait between those retries (1ms..=1m); doubles up to `retry_max` (1ms..=1h).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub retry_max: Duration,
    /// Whole-request timeout (1s..=10m).
    #[serde(deserialize_with = "otklik_pipeline::units::deserialize_duration")]
    pub timeout: Duration,
}

impl Default for OkConfig {
    fn default() -> Self {
        let walk = WalkLimits::default();
        OkConfig {
            api_base: "https://api.ok.ru/fb.do".into(),
            application_key: String::new(),
            application_secret_key_env: None,
            application_secret_key_file: None,
            access_token_env: None,
            access_token_file: None,
            session_secret_key_env: None,
            session_secret_key_file: None,
            rate: Rate::per_second(5),
            page_size: 50,
            first_poll_max_posts: walk.first_poll_max_posts,
            first_poll_max_age: walk.first_poll_max_age,
            recheck_window: walk.recheck_window,
            max_pages: walk.max_pages,
            comments_page_size: 100,
            comments_max_per_topic: 500,
            flood_backoff: Duration::from_secs(60),
            limit_backoff: Duration::from_secs(15 * 60),
            retries: 3,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

impl OkConfig {
    /// The walk limits of `mediatopic.getTopics` polling.
    pub fn walk_limits(&self) -> WalkLimits {
        WalkLimits {
            first_poll_max_posts: self.first_poll_max_posts,
            first_poll_max_age: self.first_poll_max_age,
            recheck_window: self.recheck_window,
            max_pages: self.max_pages,
        }
    }

    /// Backoff between retries of errors 1, 2 and 9999.
    pub fn retry_backoff(&self) -> Backoff {
        Backoff { initial: self.retry_initial, max: self.retry_max.max(self.retry_initial) }
    }

    /// Problems that need no environment: every one at once, each naming its field; the
    /// ranges are on the fields' docs and in `config/otklik.toml`.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match reqwest::Url::parse(&self.api_base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {}
            Ok(_) => {
                let message = format!("{:?} must be an http(s) URL without a query", self.api_base);
                problems.push(ConfigProblem::new("api_base", message));
            }
            Err(e) => problems.push(ConfigProblem::new("api_base", format!("{:?} is not a URL: {e}", self.api_base))),
        }
        if self.application_key.trim().is_empty() {
            problems.push(ConfigProblem::new("application_key", "is empty: set the OK application's public key"));
        }
        for (field, value) in [("page_size", self.page_size), ("comments_page_size", self.comments_page_size)] {
            if !(1..=100).contains(&value) {
                let message = format!("{value} is outside 1..=100 (the OK API's maximum count)");
                problems.push(ConfigProblem::new(field, message));
            }
        }
        check_rate(&mut problems, "rate", self.rate);
        self.walk_limits().validate(&mut problems);
        self.check_ranges(&mut problems);
        for (name, env, file) in self.secret_sources() {
            if env.is_some() && file.is_some() {
                let message = format!("both {name}_env and {name}_file are set: keep one");
                problems.push(ConfigProblem::new(format!("{name}_env"), message));
            }
        }
        problems
    }

    fn check_ranges(&self, problems: &mut Vec<ConfigProblem>) {
        check_count(problems, "comments_max_per_topic", self.comments_max_per_topic as u64, 0..=100_000);
        check_count(problems, "retries", self.retries.into(), 0..=20);
        let (ms, s) = (Duration::from_millis(1), Duration::from_secs(1));
        let durations: [(&str, Duration, RangeInclusive<Duration>); 5] = [
            ("flood_backoff", self.flood_backoff, ms..=s * 86_400),
            ("limit_backoff", self.limit_backoff, ms..=s * 86_400),
            ("retry_initial", self.retry_initial, ms..=s * 60),
            ("retry_max", self.retry_max, ms..=s * 3600),
            ("timeout", self.timeout, s..=s * 600),
        ];
        for (field, value, range) in durations {
            check_duration(problems, field, value, range);
        }
    }

    /// Why `handle` is not an OK group id (digits only), or `None` when it is one.
    pub fn handle_problem(handle: &str) -> Option<String> {
        let gid = handle.trim();
        (gid.is_empty() || gid.len() > 20 || !gid.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("{handle:?} is not an OK group id (digits only, e.g. \"54390000000101\")"))
    }

    fn secret_sources(&self) -> [(&'static str, Option<&str>, Option<&Path>); 3] {
        [
            (
                "application_secret_key",
                self.application_secret_key_env.as_deref(),
                self.application_secret_key_file.as_deref(),
            ),
            ("access_token", self.access_token_env.as_deref(), self.access_token_file.as_deref()),
            ("session_secret_key", self.session_secret_key_env.as_deref(), self.session_secret_key_file.as_deref()),
        ]
    }

    /// Reads the secrets from the process environment and the filesystem (relative files from
    /// the working directory). See [`OkConfig::resolve_credentials_with`].
    pub fn resolve_credentials(&self) -> Result<OkCredentials, OkConfigError> {
        self.resolve_credentials_with(&|name| std::env::var(name).ok(), None)
    }

    /// Reads the secrets through `env` (a variable lookup) and the filesystem, relative file
    /// paths from `base_dir` (the config file's directory) when given. Reports every missing or
    /// unreadable secret at once, naming the variable or file — never a value.
    pub fn resolve_credentials_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        base_dir: Option<&Path>,
    ) -> Result<OkCredentials, OkConfigError> {
        let mut problems = self.validate();
        let mut read = |name: &'static str,
                        env_name: Option<&str>,
                        file: Option<&Path>,
                        default_env: Option<&str>|
         -> Option<Secret> {
            let field = |suffix: &str| format!("{name}_{suffix}");
            let from_env = |var: &str, field: String, problems: &mut Vec<ConfigProblem>| match env(var) {
                Some(value) if !value.trim().is_empty() => Some(Secret::new(value.trim())),
                Some(_) => {
                    problems.push(ConfigProblem::new(field, format!("environment variable {var} is empty")));
                    None
                }
                None => {
                    problems.push(ConfigProblem::new(field, format!("environment variable {var} is not set")));
                    None
                }
            };
            match (env_name, file) {
                (Some(_), Some(_)) => None, // reported by validate()
                (Some(var), None) => from_env(var, field("env"), &mut problems),
                (None, Some(path)) => {
                    let path = match base_dir {
                        Some(base) if path.is_relative() => base.join(path),
                        _ => path.to_owned(),
                    };
                    match read_capped(&path, SECRET_FILE_MAX_BYTES) {
                        Ok(text) if !text.trim().is_empty() => Some(Secret::new(text.trim())),
                        Ok(_) => {
                            problems.push(ConfigProblem::new(field("file"), format!("{} is empty", path.display())));
                            None
                        }
                        Err(e) => {
                            // The io::Error names the failure kind only, never the contents.
                            let message = format!("cannot read {}: {e}", path.display());
                            problems.push(ConfigProblem::new(field("file"), message));
                            None
                        }
                    }
                }
                (None, None) => match default_env {
                    Some(var) => match env(var) {
                        Some(value) if !value.trim().is_empty() => Some(Secret::new(value.trim())),
                        _ => {
                            let message = format!(
                                "no {name}: set environment variable {var}, or {name}_env / {name}_file in [collect.ok]"
                            );
                            problems.push(ConfigProblem::new(field("env"), message));
                            None
                        }
                    },
                    None => None,
                },
            }
        };
        let [app, token, session] = self.secret_sources();
        let application_secret_key = read(app.0, app.1, app.2, Some(DEFAULT_APPLICATION_SECRET_KEY_ENV));
        let access_token = read(token.0, token.1, token.2, Some(DEFAULT_ACCESS_TOKEN_ENV));
        let session_secret_key = read(session.0, session.1, session.2, None);
        match (application_secret_key, access_token) {
            (Some(application_secret_key), Some(access_token)) if problems.is_empty() => Ok(OkCredentials {
                application_key: self.application_key.trim().to_owned(),
                application_secret_key,
                access_token,
                session_secret_key,
            }),
            _ => Err(OkConfigError { problems }),
        }
    }
}

/// Everything wrong with `[collect.ok]` and its secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OK collector is misconfigured: {}", joined(.problems))]
pub struct OkConfigError {
    pub problems: Vec<ConfigProblem>,
}

fn joined(problems: &[ConfigProblem]) -> String {
    problems.iter().map(|p| format!("collect.ok.{p}")).collect::<Vec<_>>().join("; ")
}

pub use otklik_pipeline::secrets::Secret;

/// One OK credential: an application and a user's access token.
#[derive(Clone, Debug)]
pub struct OkCredentials {
    pub application_key: String,
    pub application_secret_key: Secret,
    pub access_token: Secret,
    pub session_secret_key: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_shows() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }
}
