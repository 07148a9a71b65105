//! The Telegram receiver against a fake Bot API on 127.0.0.1 that parses MarkdownV2 as Telegram
//! does: escaping, splitting at 4096 characters after entity parsing, 429 with `retry_after`,
//! edits instead of new messages, rate limits, and the token kept out of every record.

mod common;

use common::mdv2;
use common::*;
use otklik_model::{AlertIncident, NotificationKind, Topic};
use otklik_notify::telegram::markdown::{self, Line, Span};
use otklik_notify::{MemoryDeliveryLog, Receiver};
use otklik_testkit::fake_http::{FakeRequest, FakeResponse, FakeServer};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One call the fake Bot API accepted or refused.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    message_id: Option<i64>,
    text: String,
}

#[derive(Default)]
struct Chat {
    messages: BTreeMap<i64, String>,
    /// Ids are never reused, as in Telegram.
    last_id: i64,
    calls: Vec<Call>,
    /// Answers to give instead, by the number of the call (0-based).
    scripted: BTreeMap<usize, FakeResponse>,
}

struct FakeBot {
    server: FakeServer,
    chat: Arc<Mutex<Chat>>,
}

impl FakeBot {
    async fn start() -> FakeBot {
        let chat = Arc::new(Mutex::new(Chat::default()));
        let state = chat.clone();
        let server = FakeServer::start(move |request| answer(&mut state.lock().unwrap(), request)).await;
        FakeBot { server, chat }
    }

    fn calls(&self) -> Vec<Call> {
        self.chat.lock().unwrap().calls.clone()
    }

    fn script(&self, call: usize, response: FakeResponse) {
        self.chat.lock().unwrap().scripted.insert(call, response);
    }
}

fn error(code: u16, description: &str) -> FakeResponse {
    let body = serde_json::json!({"ok": false, "error_code": code, "description": description});
    FakeResponse::Reply { status: code, headers: vec![], body: body.to_string().into_bytes() }
}

fn answer(chat: &mut Chat, request: &FakeRequest) -> FakeResponse {
    let Some(method) = request.path.strip_prefix(&format!("/bot{TOKEN}/")) else { return error(401, "Unauthorized") };
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let message_id = body["message_id"].as_i64();
    let number = chat.calls.len();
    chat.calls.push(Call { method: method.to_owned(), message_id, text: text.clone() });
    if let Some(response) = chat.scripted.remove(&number) {
        return response;
    }
    if body["parse_mode"] != "MarkdownV2" {
        return error(400, "Bad Request: parse_mode expected");
    }
    let plain = match mdv2::parse(&text) {
        Ok(plain) => plain,
        Err(e) => return error(400, &format!("Bad Request: {e}")),
    };
    if plain.trim().is_empty() {
        return error(400, "Bad Request: message text is empty");
    }
    if mdv2::plain_len(&plain) > 4096 {
        return error(400, "Bad Request: message is too long");
    }
    let id = match (method, message_id) {
        ("sendMessage", None) => {
            chat.last_id += 1;
            chat.last_id
        }
        ("editMessageText", Some(id)) => match chat.messages.get(&id) {
            None => return error(400, "Bad Request: message to edit not found"),
            Some(old) if *old == text => {
                let description = "Bad Request: message is not modified: specified new message content and reply \
                                   markup are exactly the same as a current content and reply markup of the message";
                return error(400, description);
            }
            Some(_) => id,
        },
        _ => return error(404, "Not Found"),
    };
    chat.messages.insert(id, text);
    FakeResponse::json(serde_json::json!({"ok": true, "result": {"message_id": id, "chat": {"id": 1}}}).to_string())
}

fn sends(calls: &[Call]) -> usize {
    calls.iter().filter(|c| c.method == "sendMessage").count()
}

/// A notification too long for one message: many alerts, each with long incident excerpts.
fn long_notification(seq: u32) -> otklik_model::Notification {
    let mut n = notification("tg", seq, NotificationKind::Opened, "long");
    let topics = [Topic::Heating, Topic::HotWater, Topic::ColdWater, Topic::Electricity, Topic::Roads];
    n.alerts = (0..12)
        .map(|i| {
            let mut a = alert("56701000", topics[i % topics.len()]);
            a.top_incidents = (0..5)
                .map(|j| AlertIncident {
                    uid: format!("vk:-1:{}", i * 10 + j + 1).parse().unwrap(),
                    url: format!("https://vk.com/wall-1_{}", i * 10 + j + 1),
                    excerpt: format!("{i}.{j} ул. Мира д. 5 (кв. 1-2): «нет воды!» #ЖКХ {}", "и снова ".repeat(12)),
                    voices: 3,
                })
                .collect();
            a
        })
        .collect();
    n
}

#[tokio::test]
async fn a_long_notification_is_split_at_4096_characters_after_parsing() {
    let bot = FakeBot::start().await;
    let dir = secret_dir("tg-split");
    let running = start(&[telegram("tg", &bot.server.url(), "4242")], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = long_notification(1);
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    assert_eq!(outcomes(&records, &n.id), ["queued", "delivered"], "{records:#?}");
    let calls = bot.calls();
    assert!(calls.len() >= 2, "{} messages", calls.len());
    let markup: usize = calls.iter().map(|c| c.text.chars().count()).sum();
    assert!(markup > calls.len() * 4096, "the markup is longer than the limit; only the plain text must fit");
    for call in &calls {
        let plain = mdv2::parse(&call.text).unwrap();
        assert!(mdv2::plain_len(&plain) <= 4096);
        assert!(!call.text.starts_with('\n') && !call.text.ends_with('\\'));
    }
    assert_eq!(records.last().unwrap().message_ids, (1..=calls.len() as i64).collect::<Vec<_>>());
    running.stop().await;
}

#[tokio::test]
async fn too_many_requests_waits_retry_after_and_resumes_a_half_sent_message() {
    let bot = FakeBot::start().await;
    let flood = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7",
        "parameters":{"retry_after":7}}"#;
    bot.script(1, FakeResponse::Reply { status: 429, headers: vec![], body: flood.as_bytes().to_vec() });
    let dir = secret_dir("tg-429");
    let running = start(&[telegram("tg", &bot.server.url(), "4242")], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = long_notification(1);
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    assert_eq!(outcomes(&records, &n.id), ["queued", "retry", "delivered"]);
    let retry = &records[1];
    assert_eq!((retry.status_code, retry.message_ids.as_slice()), (429, &[1][..]));
    assert_eq!(retry.next_attempt_at, Some(retry.at + chrono::Duration::seconds(7)));
    assert!(records[2].at >= retry.at + chrono::Duration::seconds(7));
    assert!(running.clock.waits().contains(&Duration::from_secs(7)), "{:?}", running.clock.waits());
    let calls = bot.calls();
    let parts = records[2].message_ids.len();
    assert_eq!(sends(&calls), parts + 1, "the part refused with 429 is sent again, the first part is not");
    assert_eq!(calls[1].text, calls[2].text);
    running.stop().await;
}

#[tokio::test]
async fn updates_edit_the_thread_first_message_reminders_and_resolutions_are_new() {
    let bot = FakeBot::start().await;
    let dir = secret_dir("tg-edit");
    let running = start(&[telegram("tg", &bot.server.url(), "4242")], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let thread = "56701000:20261119T1500";
    let opened = notification("tg", 1, NotificationKind::Opened, thread);
    let mut updated = notification("tg", 2, NotificationKind::Updated, thread);
    updated.alerts[0].observed = 60;
    let mut same_again = notification("tg", 3, NotificationKind::Updated, thread);
    same_again.alerts[0].observed = 60;
    let reminder = notification("tg", 4, NotificationKind::Reminder, thread);
    let resolved = notification("tg", 5, NotificationKind::Resolved, thread);
    let all = [&opened, &updated, &same_again, &reminder, &resolved];
    running.outbox.enqueue(all.iter().map(|n| (*n).clone()).collect()).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| all.iter().all(|n| finished(r, &n.id))).await;
    let calls = bot.calls();
    let shown: Vec<(&str, Option<i64>)> = calls.iter().map(|c| (c.method.as_str(), c.message_id)).collect();
    assert_eq!(
        shown,
        [
            ("sendMessage", None),
            ("editMessageText", Some(1)),
            ("editMessageText", Some(1)),
            ("sendMessage", None),
            ("sendMessage", None)
        ],
        "in thread order"
    );
    for n in all {
        assert_eq!(outcomes(&records, &n.id), ["queued", "delivered"], "{}", n.id);
    }
    let delivered =
        |id: &str| records.iter().find(|r| r.notification_id == id && r.outcome.as_str() == "delivered").unwrap();
    assert_eq!(delivered(&same_again.id).message_ids, [1], "«message is not modified» is delivered");
    assert_eq!(delivered(&reminder.id).message_ids, [2]);
    assert!(calls[1].text.contains("60"));
    running.stop().await;
}

#[tokio::test]
async fn a_thread_survives_a_restart() {
    let bot = FakeBot::start().await;
    let dir = secret_dir("tg-restart");
    let configs = [telegram("tg", &bot.server.url(), "4242")];
    let log = Arc::new(MemoryDeliveryLog::new());
    let running = start(&configs, &dir, log.clone()).await;
    let opened = notification("tg", 1, NotificationKind::Opened, "thread-1");
    running.outbox.enqueue(vec![opened.clone()]).await.unwrap();
    running.log.wait_for(PATIENCE, |r| finished(r, &opened.id)).await;
    running.stop().await;
    let running = start(&configs, &dir, log).await;
    let mut updated = notification("tg", 2, NotificationKind::Updated, "thread-1");
    updated.alerts[0].voices = 99;
    running.outbox.enqueue(vec![updated.clone()]).await.unwrap();
    running.log.wait_for(PATIENCE, |r| finished(r, &updated.id)).await;
    let shown: Vec<(String, Option<i64>)> = bot.calls().into_iter().map(|c| (c.method, c.message_id)).collect();
    assert_eq!(shown, [("sendMessage".to_owned(), None), ("editMessageText".to_owned(), Some(1))]);
    running.stop().await;
}

#[tokio::test]
async fn one_message_a_second_per_chat_and_twenty_a_minute_in_a_group() {
    let bot = FakeBot::start().await;
    let dir = secret_dir("tg-rate");
    let configs = [telegram("private", &bot.server.url(), "4242"), telegram("group", &bot.server.url(), "-100777")];
    let running = start(&configs, &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let private: Vec<_> =
        (1..=3).map(|i| notification("private", i, NotificationKind::Reminder, &format!("p{i}"))).collect();
    running.outbox.enqueue(private.clone()).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| private.iter().all(|n| finished(r, &n.id))).await;
    let mut at: Vec<i64> =
        records.iter().filter(|r| r.outcome.as_str() == "delivered").map(|r| r.at.timestamp()).collect();
    at.sort();
    let t0 = at[0];
    assert_eq!(at, [t0, t0 + 1, t0 + 2], "one message a second");
    running.stop().await;

    let log = Arc::new(MemoryDeliveryLog::new());
    let running = start(&configs, &dir, log).await;
    let group: Vec<_> =
        (1..=22).map(|i| notification("group", i, NotificationKind::Reminder, &format!("g{i}"))).collect();
    running.outbox.enqueue(group.clone()).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| group.iter().all(|n| finished(r, &n.id))).await;
    let mut at: Vec<i64> =
        records.iter().filter(|r| r.outcome.as_str() == "delivered").map(|r| r.at.timestamp()).collect();
    at.sort();
    let t0 = at[0];
    assert_eq!(at[19] - t0, 19);
    assert_eq!(at[20] - t0, 60, "the 21st message in a minute waits for the first to leave it");
    running.stop().await;
}

#[tokio::test]
async fn the_token_never_shows() {
    let bot = FakeBot::start().await;
    bot.script(0, error(400, &format!("Bad Request: the bot {TOKEN} may not write here")));
    let dir = secret_dir("tg-token");
    let configs = [telegram("tg", &bot.server.url(), "4242")];
    let receivers = Receiver::from_configs(&configs, &dir).unwrap();
    assert!(!format!("{receivers:?}").contains("AAH-test-token"), "{receivers:?}");
    let running = start(&configs, &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let n = notification("tg", 1, NotificationKind::Opened, "t");
    running.outbox.enqueue(vec![n.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &n.id)).await;
    let failed = records.last().unwrap();
    assert_eq!(failed.outcome.as_str(), "failed");
    assert!(
        failed.detail.contains("may not write here") && !failed.detail.contains("AAH-test-token"),
        "{}",
        failed.detail
    );
    running.stop().await;
}

fn text() -> impl Strategy<Value = String> {
    // Every reserved character, backslashes, Cyrillic, emoji and control characters.
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                '_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!', '\\'
            ]),
            prop::sample::select(vec!['я', 'Ё', ' ', '\n', '🚨', '\t', 'a', '1']),
            any::<char>(),
        ],
        0..80,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn escaped_text_parses_back_to_itself(input in text()) {
        let escaped = markdown::escape(&input);
        prop_assert_eq!(mdv2::parse(&escaped), Ok(input));
    }

    #[test]
    fn every_span_and_every_split_message_parses(
        spans in prop::collection::vec((0..4u8, text()), 1..12),
        limit in 8usize..120,
    ) {
        let lines: Vec<Line> = spans.chunks(3).map(|chunk| Line(chunk.iter().map(|(kind, t)| {
            let t = t.replace('\n', " ");
            match kind {
                0 => Span::Text(t),
                1 => Span::Bold(t),
                2 => Span::Italic(t),
                _ => Span::Link { text: t, url: "https://vk.com/wall-1_2?a=(b)\\".into() },
            }
        }).collect())).collect();
        for line in &lines {
            prop_assert_eq!(mdv2::parse(&line.markup()), Ok(line.plain()));
        }
        let messages = markdown::split(&lines, limit);
        let mut shown = String::new();
        for message in &messages {
            let plain = mdv2::parse(message);
            prop_assert!(plain.is_ok(), "{:?}: {:?}", message, plain);
            let plain = plain.unwrap_or_default();
            prop_assert!(mdv2::plain_len(&plain) <= limit, "{} > {}", mdv2::plain_len(&plain), limit);
            prop_assert!(!plain.trim().is_empty());
            shown.push_str(&plain);
        }
        // Nothing but whitespace is lost or added; an entity longer than a message is shortened.
        let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let whole: String = lines.iter().flat_map(|l| l.0.iter()).map(|span| match span {
            Span::Text(t) => t.clone(),
            Span::Bold(t) | Span::Italic(t) | Span::Link { text: t, .. } => markdown::shorten(t, limit),
        }).collect();
        prop_assert_eq!(squeeze(&shown), squeeze(&whole));
    }

    #[test]
    fn a_notification_with_arbitrary_text_renders_to_messages_telegram_accepts(
        excerpt in text(), name in text(), note in text(),
    ) {
        let mut n = notification("tg", 1, NotificationKind::Opened, "t");
        n.alerts[0].municipality_name = name;
        n.alerts[0].expected_note = Some(note);
        n.alerts[0].top_incidents[0].excerpt = excerpt;
        let lines = otklik_notify::telegram::render::render(&n, 3);
        for message in markdown::split(&lines, markdown::MESSAGE_LIMIT) {
            let plain = mdv2::parse(&message);
            prop_assert!(plain.is_ok(), "{:?}: {:?}", message, plain);
        }
    }
}

/// What a duty officer reads: the plain text of a rendered notification.
#[test]
fn a_notification_reads_well_in_russian() {
    let mut n = notification("tg", 1, NotificationKind::Opened, "t");
    n.alerts[0].expected_note = Some("начало отопительного сезона".into());
    let messages = markdown::split(&otklik_notify::telegram::render::render(&n, 3), markdown::MESSAGE_LIMIT);
    assert_eq!(messages.len(), 1);
    let expected = "\
🚨 Всплеск жалоб
город Пенза

▪ Отопление · город Пенза · открыта, важность: высокая
Наблюдается 42 голоса при норме 3,2 за 19.11 14:00–18:00 UTC+3
Инцидентов: 7, голосов: 42
Ожидаемо по календарю: начало отопительного сезона
Главные инциденты:
1. Ладожская 127 (2-й подъезд): нет отопления третий день! — 12 голосов

Статус: тревога открыта";
    assert_eq!(mdv2::parse(&messages[0]).unwrap(), expected);
    let link = r"[Ладожская 127 \(2\-й подъезд\): нет отопления третий день\!](https://vk.com/wall-1_2)";
    assert!(messages[0].contains(link), "{}", messages[0]);
}

/// An overdue alert names the organisation, the count past the deadline, and the oldest complaint.
#[test]
fn an_overdue_notification_says_who_how_many_and_since_when() {
    let mut n = notification("tg", 1, NotificationKind::Opened, "t");
    n.alerts = vec![overdue_alert()];
    let messages = markdown::split(&otklik_notify::telegram::render::render(&n, 3), markdown::MESSAGE_LIMIT);
    let expected = "\
🚨 Жалобы без ответа
город Пенза

▪ ООО «УК Жилкомфорт» · город Пенза · нет ответа жителям, открыта
Без ответа дольше срока (1 д): 3 жалобы
Самая давняя: vk:-1:2 — ждёт ответа 1 д 6 ч

Статус: тревога открыта";
    assert_eq!(mdv2::parse(&messages[0]).unwrap(), expected);
    assert!(messages[0].contains("[vk:\\-1:2](https://vk.com/wall-1_2)"), "{}", messages[0]);
    n.kind = NotificationKind::Resolved;
    n.alerts[0].state = otklik_model::AlertState::Resolved;
    let lines = otklik_notify::telegram::render::render(&n, 3);
    let resolved = mdv2::parse(&markdown::split(&lines, markdown::MESSAGE_LIMIT)[0]).unwrap();
    assert!(resolved.starts_with("✅ Просроченных жалоб больше нет"), "{resolved}");
    assert!(resolved.contains("Жалоб без ответа дольше срока не осталось"), "{resolved}");
}

#[tokio::test]
async fn a_shorter_update_edits_every_message_and_a_lost_one_is_sent_anew() {
    let bot = FakeBot::start().await;
    let dir = secret_dir("tg-surplus");
    let running = start(&[telegram("tg", &bot.server.url(), "4242")], &dir, Arc::new(MemoryDeliveryLog::new())).await;
    let opened = long_notification(1);
    running.outbox.enqueue(vec![opened.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &opened.id)).await;
    let parts = records.last().unwrap().message_ids.clone();
    assert!(parts.len() >= 2);
    let updated = notification("tg", 2, NotificationKind::Updated, "long");
    running.outbox.enqueue(vec![updated.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &updated.id)).await;
    assert_eq!(records.last().unwrap().message_ids, parts, "the same messages, edited");
    let edits: Vec<Call> = bot.calls().into_iter().skip(parts.len()).collect();
    assert!(edits.iter().all(|c| c.method == "editMessageText"));
    assert_eq!(edits.iter().map(|c| c.message_id.unwrap()).collect::<Vec<_>>(), parts);
    assert!(edits[1..].iter().all(|c| mdv2::parse(&c.text).unwrap().starts_with("(продолжение не требуется")));

    // The thread's first message was deleted in the chat: the next update is sent as a new one.
    bot.chat.lock().unwrap().messages.clear();
    let mut again = notification("tg", 3, NotificationKind::Updated, "long");
    again.alerts[0].voices = 77;
    running.outbox.enqueue(vec![again.clone()]).await.unwrap();
    let records = running.log.wait_for(PATIENCE, |r| finished(r, &again.id)).await;
    assert_eq!(outcomes(&records, &again.id), ["queued", "delivered"]);
    let newest = *parts.iter().max().unwrap();
    let sent = &records.last().unwrap().message_ids;
    assert!(sent[0] > newest && sent[1..] == parts[1..], "a new first message, the gone surplus kept: {sent:?}");
    let latest: Vec<(String, Option<i64>)> =
        bot.calls().into_iter().skip(2 * parts.len()).map(|c| (c.method, c.message_id)).collect();
    let mut expected = vec![("editMessageText".to_owned(), Some(parts[0])), ("sendMessage".to_owned(), None)];
    expected.extend(parts[1..].iter().map(|id| ("editMessageText".to_owned(), Some(*id))));
    assert_eq!(latest, expected, "the lost first message is sent anew; lost surplus ones are left alone");
    running.stop().await;
}
