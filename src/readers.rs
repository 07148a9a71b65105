//! Building the collectors' feed reader from the config: saved responses (`collect.replay_dir`)
//! or the live networks, each network's reader only when some enabled source needs it.

use crate::config::Config;
use anyhow::{Context, Result};
use otklik_collect::http::{HttpClient, HttpConfig};
use otklik_collect::ok::{OkClient, OkReader};
use otklik_collect::ratelimit::RateLimiter;
use otklik_collect::telegram::TelegramReader;
use otklik_collect::vk::VkReader;
use otklik_collect::{FeedReader, PlatformReaders, ReplayReader};
use otklik_model::Platform;
use std::sync::Arc;

/// Whether an enabled source of `platform` exists.
pub fn needs(config: &Config, platform: Platform) -> bool {
    config.sources.iter().any(|s| s.enabled && s.platform == platform)
}

pub fn build(config: &Config) -> Result<Arc<dyn FeedReader>> {
    if let Some(dir) = &config.collect.replay_dir {
        return Ok(Arc::new(ReplayReader::new(config.resolve(dir))));
    }
    // One limiter for the whole process, so per-host and per-token limits hold across readers.
    let limiter = Arc::new(RateLimiter::new());
    let http = || HttpClient::new(HttpConfig::default(), limiter.clone()).context("cannot build the HTTP client");
    let mut readers = PlatformReaders::default();
    if needs(config, Platform::Telegram) {
        let reader = TelegramReader::new(config.collect.telegram.clone(), limiter.clone()).context("[collect.telegram]")?;
        readers = readers.with(Platform::Telegram, Arc::new(reader));
    }
    if needs(config, Platform::Vk) {
        let vk = &config.collect.vk;
        let tokens = vk.resolve_tokens(&config.base_dir).context("[collect.vk] tokens")?;
        readers = readers.with(Platform::Vk, Arc::new(VkReader::new(vk.clone(), tokens, http()?).context("[collect.vk]")?));
    }
    if needs(config, Platform::Ok) {
        let ok = &config.collect.ok;
        let credentials = ok.resolve_credentials_with(&|name| std::env::var(name).ok(), Some(&config.base_dir)).context("[collect.ok] credentials")?;
        let client = OkClient::new(ok, credentials, http()?).context("[collect.ok]")?;
        readers = readers.with(Platform::Ok, Arc::new(OkReader::new(ok, Arc::new(client))));
    }
    Ok(Arc::new(readers))
}
