//! The Telegram bot receiver: a notification rendered as MarkdownV2 ([`render`]), split into
//! messages of at most 4096 characters after entity parsing ([`markdown::split`]), sent with
//! `sendMessage`; an update of a thread already delivered edits the thread's first message(s)
//! with `editMessageText` instead (reminders and resolutions are new messages). Writes to a
//! chat are spaced by its [`ChatLimiter`]; a 429 waits `parameters.retry_after`.
//!
//! The token is part of every request path (`/bot<token>/…`): it is registered as a secret and
//! no error carries a URL.

pub mod markdown;
pub mod ratelimit;
pub mod render;

use crate::attempt::{Attempt, Verdict};
use crate::clock::Clock;
use crate::config::TelegramConfig;
use crate::secret::Secret;
use otklik_model::{Notification, NotificationKind};
use otklik_pipeline::secrets;
use otklik_pipeline::units::ConfigProblem;
pub use ratelimit::ChatLimiter;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an edit leaves in a thread's surplus messages when the update needs fewer.
const SURPLUS_TEXT: &str = "(продолжение не требуется: сообщение выше обновлено)";

#[derive(Debug)]
pub struct TelegramReceiver {
    name: String,
    chat_id: String,
    api_url: String,
    token: Secret,
    utc_offset_hours: i32,
    client: reqwest::Client,
    limiter: Arc<Mutex<ChatLimiter>>,
    /// Thread → the messages that show it (the ones an update edits).
    threads: Mutex<HashMap<String, Vec<i64>>>,
}

/// One API answer (`{"ok": …, "result": …}` or an error with `parameters`).
#[derive(Debug, Deserialize)]
struct ApiAnswer {
    ok: bool,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// What one API call came to.
enum Call {
    /// The message id written (sent or edited).
    Done(i64),
    /// An edit whose message is gone or can no longer be edited: send a new one.
    EditGone,
    Error(Attempt),
}

impl TelegramReceiver {
    pub fn new(
        config: &TelegramConfig,
        token: Secret,
        limiter: Arc<Mutex<ChatLimiter>>,
    ) -> Result<Self, ConfigProblem> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| ConfigProblem::new("api_url", format!("cannot build an HTTP client: {}", e.without_url())))?;
        Ok(TelegramReceiver {
            name: config.name.clone(),
            chat_id: config.chat_id.clone(),
            api_url: config.api_url.trim_end_matches('/').to_owned(),
            token,
            utc_offset_hours: config.utc_offset_hours,
            client,
            limiter,
            threads: Mutex::new(HashMap::new()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The messages known to show `thread` (seeded from the delivery log on start).
    pub fn set_thread(&self, thread: &str, message_ids: Vec<i64>) {
        self.lock_threads().insert(thread.to_owned(), message_ids);
    }

    pub fn thread(&self, thread: &str) -> Option<Vec<i64>> {
        self.lock_threads().get(thread).cloned()
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<i64>>> {
        self.threads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The notification's messages, in MarkdownV2.
    pub fn messages(&self, notification: &Notification) -> Vec<String> {
        markdown::split(&render::render(notification, self.utc_offset_hours), markdown::MESSAGE_LIMIT)
    }

    /// Sends (or edits) the notification's messages. `done` are the messages an earlier attempt
    /// of the same notification already wrote: they are skipped, so a retry never repeats one.
    pub async fn deliver(&self, notification: &Notification, done: &[i64], clock: &dyn Clock) -> Attempt {
        let messages = self.messages(notification);
        let edits = match notification.kind {
            NotificationKind::Updated => self.thread(&notification.thread).unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut written = done.to_vec();
        let needed = messages.len();
        let mut targets: Vec<(Option<i64>, String)> =
            messages.into_iter().enumerate().map(|(i, m)| (edits.get(i).copied(), m)).collect();
        let surplus = edits.iter().skip(targets.len()).map(|id| (Some(*id), markdown::escape(SURPLUS_TEXT)));
        targets.extend(surplus.collect::<Vec<_>>());
        for (i, (edit, text)) in targets.into_iter().enumerate().skip(done.len()) {
            let mut call = self.call(edit, &text, clock).await;
            match (&call, edit) {
                // A surplus message that is gone needs no cleaning; its id keeps the count of
                // messages written, by which a retry resumes.
                (Call::EditGone, Some(id)) if i >= needed => call = Call::Done(id),
                (Call::EditGone, _) => call = self.call(None, &text, clock).await,
                _ => {}
            }
            match call {
                Call::Done(id) => written.push(id),
                Call::EditGone => return Attempt::new(Verdict::Failed, 400, "a new message was refused as an edit"),
                Call::Error(attempt) => return Attempt { message_ids: written, ..attempt },
            }
        }
        match notification.kind {
            NotificationKind::Opened | NotificationKind::Updated => {
                self.set_thread(&notification.thread, written.clone())
            }
            NotificationKind::Resolved => {
                self.lock_threads().remove(&notification.thread);
            }
            NotificationKind::Reminder => {}
        }
        Attempt { message_ids: written, ..Attempt::delivered(200) }
    }

    /// One `sendMessage` (or `editMessageText` of `edit`), after the chat's rate limit.
    async fn call(&self, edit: Option<i64>, text: &str, clock: &dyn Clock) -> Call {
        let slot = self.limiter.lock().unwrap_or_else(|p| p.into_inner()).reserve(clock.now());
        clock.sleep_until(slot).await;
        let (method, mut body) = match edit {
            Some(message_id) => ("editMessageText", json!({"chat_id": self.chat_id, "message_id": message_id})),
            None => ("sendMessage", json!({"chat_id": self.chat_id})),
        };
        body["text"] = text.into();
        body["parse_mode"] = "MarkdownV2".into();
        body["link_preview_options"] = json!({"is_disabled": true});
        let url = format!("{}/bot{}/{method}", self.api_url, self.token.expose());
        let request = self.client.post(url).header("content-type", "application/json").body(body.to_string());
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let what = if e.is_timeout() { "timed out".to_owned() } else { e.without_url().to_string() };
                let detail = secrets::redact(&format!("Telegram {method}: {what}")).into_owned();
                return Call::Error(Attempt::new(Verdict::Retry, 0, detail));
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        classify(method, edit, status, &text)
    }
}

/// The Bot API's answer as data: 429 waits `retry_after`, 5xx and unreadable answers are
/// retried, «message is not modified» is a success, a lost message to edit becomes a new one,
/// anything else (a bad token, a chat the bot left, a refused text) fails.
fn classify(method: &str, edit: Option<i64>, status: u16, text: &str) -> Call {
    let answer: ApiAnswer = match serde_json::from_str(text) {
        Ok(answer) => answer,
        Err(_) => {
            let verdict = if status >= 500 || status == 429 { Verdict::Retry } else { Verdict::Failed };
            return Call::Error(Attempt::new(
                verdict,
                status,
                format!("Telegram {method}: HTTP {status}, not a Bot API answer"),
            ));
        }
    };
    if answer.ok {
        let id = answer.result.as_ref().and_then(|r| r.get("message_id")).and_then(|v| v.as_i64());
        return match (id, edit) {
            (Some(id), _) | (None, Some(id)) => Call::Done(id),
            (None, None) => {
                Call::Error(Attempt::new(Verdict::Retry, status, "Telegram sendMessage: no message_id in the answer"))
            }
        };
    }
    let code = answer.error_code.unwrap_or(status);
    let description = secrets::redact(answer.description.as_deref().unwrap_or("")).into_owned();
    let lower = description.to_lowercase();
    if let Some(id) = edit {
        if lower.contains("message is not modified") {
            return Call::Done(id);
        }
        if lower.contains("message to edit not found") || lower.contains("message can't be edited") {
            return Call::EditGone;
        }
    }
    let detail = format!("Telegram {method}: {code} {description}");
    if code == 429 {
        let wait = answer.parameters.and_then(|p| p.retry_after).map(Duration::from_secs);
        return Call::Error(Attempt { retry_after: wait, ..Attempt::new(Verdict::Retry, code, detail) });
    }
    let verdict = if code >= 500 { Verdict::Retry } else { Verdict::Failed };
    Call::Error(Attempt::new(verdict, code, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(call: Call) -> (Verdict, Option<Duration>) {
        match call {
            Call::Error(a) => (a.verdict, a.retry_after),
            Call::Done(_) => (Verdict::Delivered, None),
            Call::EditGone => (Verdict::Failed, None),
        }
    }

    #[test]
    fn classifies_bot_api_answers() {
        let sent = classify("sendMessage", None, 200, r#"{"ok":true,"result":{"message_id":7}}"#);
        assert!(matches!(sent, Call::Done(7)));
        let flood = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5",
            "parameters":{"retry_after":5}}"#;
        assert_eq!(verdict(classify("sendMessage", None, 429, flood)), (Verdict::Retry, Some(Duration::from_secs(5))));
        let same = r#"{"ok":false,"error_code":400,
            "description":"Bad Request: message is not modified: specified new message content …"}"#;
        assert!(matches!(classify("editMessageText", Some(3), 400, same), Call::Done(3)));
        let gone = r#"{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}"#;
        assert!(matches!(classify("editMessageText", Some(3), 400, gone), Call::EditGone));
        let kicked = r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the group chat"}"#;
        assert_eq!(verdict(classify("sendMessage", None, 403, kicked)).0, Verdict::Failed);
        assert_eq!(verdict(classify("sendMessage", None, 502, "<html>bad gateway</html>")).0, Verdict::Retry);
    }
}
