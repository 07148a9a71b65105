//! Building the collectors' feed reader from the config: saved responses (`collect.replay_dir`)
//! or the live networks, each network's reader only when some enabled source needs it.

use crate::config::{Config, SourcesFrom};
use anyhow::{Context, Result};
use otklik_collect::http::{HttpClient, HttpConfig};
use otklik_collect::ok::{OkClient, OkReader};
use otklik_collect::ratelimit::RateLimiter;
use otklik_collect::telegram::TelegramReader;
use otklik_collect::vk::VkReader;
use otklik_collect::{FeedReader, PlatformReaders, ReplayReader};
use otklik_model::Platform;
use std::sync::Arc;

/// Whether an enabled source of `platform` exists. A collector of the fleet
/// (`collect.sources = "kafka"`) learns its sources only when running: it builds a reader for
/// every network it can ([`build`] skips one without credentials, with a warning).
pub fn needs(config: &Config, platform: Platform) -> bool {
    config.collect.sources == SourcesFrom::Kafka || in_file(config, platform)
}

fn in_file(config: &Config, platform: Platform) -> bool {
    config.sources.iter().any(|s| s.enabled && s.platform == platform)
}

/// A network's reader, or in the fleet's case a warning when it cannot be built.
fn optional<T>(config: &Config, platform: Platform, built: Result<T>) -> Result<Option<T>> {
    match built {
        Ok(reader) => Ok(Some(reader)),
        Err(e) if config.collect.sources == SourcesFrom::Kafka && !in_file(config, platform) => {
            let error = format!("{e:#}");
            tracing::warn!(%platform, %error, "no reader for this network: its sources in the sources topic will fail");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub fn build(config: &Config, polls: &otklik_collect::PollMetrics) -> Result<Arc<dyn FeedReader>> {
    if let Some(dir) = &config.collect.replay_dir {
        return Ok(Arc::new(ReplayReader::new(config.resolve(dir))));
    }
    // One limiter for the whole process, so per-host and per-token limits hold across readers;
    // a fleet member takes its share of each (`collect.rate_share`).
    let limiter = Arc::new(RateLimiter::with_share(config.collect.rate_share).with_waits(polls.rate_waits()));
    // The instance name tells the collectors of a fleet apart in the networks' and proxies' logs.
    let user_agent = format!("{} (collector {})", HttpConfig::default().user_agent, config.collect.instance());
    let http = || {
        let http = HttpConfig { user_agent: user_agent.clone(), ..HttpConfig::default() };
        HttpClient::new(http, limiter.clone()).context("cannot build the HTTP client")
    };
    let mut readers = PlatformReaders::default();
    if needs(config, Platform::Telegram) {
        let telegram = &config.collect.telegram;
        let http = HttpConfig { user_agent: user_agent.clone(), ..telegram.http_config() };
        let client = HttpClient::new(http, limiter.clone()).context("cannot build the HTTP client")?;
        let reader = TelegramReader::with_client(client, telegram.clone()).context("[collect.telegram]")?;
        readers = readers.with(Platform::Telegram, Arc::new(reader));
    }
    if needs(config, Platform::Vk) {
        let vk = &config.collect.vk;
        let built = vk
            .resolve_tokens(&config.base_dir)
            .context("[collect.vk] tokens")
            .and_then(|tokens| VkReader::new(vk.clone(), tokens, http()?).context("[collect.vk]"));
        if let Some(reader) = optional(config, Platform::Vk, built)? {
            readers = readers.with(Platform::Vk, Arc::new(reader));
        }
    }
    if needs(config, Platform::Ok) {
        let ok = &config.collect.ok;
        let credentials = ok.resolve_credentials_with(&|name| std::env::var(name).ok(), Some(&config.base_dir));
        let built = credentials
            .context("[collect.ok] credentials")
            .and_then(|credentials| OkClient::new(ok, credentials, http()?).context("[collect.ok]"));
        if let Some(client) = optional(config, Platform::Ok, built)? {
            readers = readers.with(Platform::Ok, Arc::new(OkReader::new(ok, Arc::new(client))));
        }
    }
    Ok(Arc::new(readers))
}
