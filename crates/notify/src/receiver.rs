//! A configured receiver, ready to deliver: its secret loaded, its HTTP client built.

use crate::attempt::Attempt;
use crate::clock::Clock;
use crate::config::ReceiverConfig;
use crate::telegram::{ChatLimiter, TelegramReceiver};
use crate::webhook::WebhookReceiver;
use crate::NotifyError;
use otklik_model::Notification;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub enum Receiver {
    Webhook(WebhookReceiver),
    Telegram(TelegramReceiver),
}

impl Receiver {
    /// Builds every receiver, reading each secret once (relative files from `base_dir`, the
    /// config's directory). Receivers writing to the same Telegram chat share its rate limit.
    /// Every problem of every receiver is reported, not only the first.
    pub fn from_configs(configs: &[ReceiverConfig], base_dir: &Path) -> Result<Vec<Receiver>, NotifyError> {
        let mut limiters: HashMap<String, Arc<Mutex<ChatLimiter>>> = HashMap::new();
        let mut receivers = Vec::new();
        let mut errors = Vec::new();
        for config in configs {
            match Self::from_config(config, base_dir, &mut limiters) {
                Ok(receiver) => receivers.push(receiver),
                Err(e) => errors.push(e),
            }
        }
        match errors.into_iter().reduce(merge) {
            Some(error) => Err(error),
            None => Ok(receivers),
        }
    }

    fn from_config(
        config: &ReceiverConfig,
        base_dir: &Path,
        limiters: &mut HashMap<String, Arc<Mutex<ChatLimiter>>>,
    ) -> Result<Receiver, NotifyError> {
        let problems = config.validate();
        let wrap = |problems| NotifyError::Config { receiver: config.name().to_owned(), problems };
        if !problems.is_empty() {
            return Err(wrap(problems));
        }
        let secret = config.load_secret(base_dir).map_err(|p| wrap(vec![p]))?;
        match config {
            ReceiverConfig::Webhook(c) => {
                WebhookReceiver::new(c, &secret).map(Receiver::Webhook).map_err(|p| wrap(vec![p]))
            }
            ReceiverConfig::Telegram(c) => {
                let per_minute = c.is_group().then_some(c.group_per_minute);
                let limiter = limiters
                    .entry(c.chat_id.clone())
                    .or_insert_with(|| Arc::new(Mutex::new(ChatLimiter::new(c.chat_interval, per_minute))));
                TelegramReceiver::new(c, secret, limiter.clone()).map(Receiver::Telegram).map_err(|p| wrap(vec![p]))
            }
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Receiver::Webhook(r) => r.name(),
            Receiver::Telegram(r) => r.name(),
        }
    }

    /// One attempt; `done` are the Telegram messages earlier attempts already wrote.
    pub async fn deliver(&self, notification: &Notification, done: &[i64], clock: &dyn Clock) -> Attempt {
        match self {
            Receiver::Webhook(r) => r.deliver(notification, clock.now()).await,
            Receiver::Telegram(r) => r.deliver(notification, done, clock).await,
        }
    }

    /// Where it delivers, for a log line: the webhook's scheme, host and port, or the chat.
    pub fn describe(&self) -> String {
        match self {
            Receiver::Webhook(r) => format!("webhook {}", r.shown_url()),
            Receiver::Telegram(r) => format!("telegram receiver {}", r.name()),
        }
    }
}

fn merge(a: NotifyError, b: NotifyError) -> NotifyError {
    match (a, b) {
        (
            NotifyError::Config { receiver: ra, problems: mut pa },
            NotifyError::Config { receiver: rb, problems: pb },
        ) => {
            pa.extend(pb);
            NotifyError::Config { receiver: format!("{ra}, {rb}"), problems: pa }
        }
        (a, _) => a,
    }
}
