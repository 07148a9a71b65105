//! What the notify tests share: alerts and notifications to send, receivers pointed at fake
//! servers on 127.0.0.1, a manual clock, and the MarkdownV2 parser.
#![allow(dead_code)]

pub mod mdv2;

use chrono::{DateTime, Utc};
use otklik_model::{Alert, AlertIncident, AlertSeverity, AlertState, Notification, NotificationKind, Schema, Topic};
use otklik_notify::{ManualClock, MemoryDeliveryLog, Outbox, OutboxOptions, Receiver, ReceiverConfig};
use otklik_pipeline::CancellationToken;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Long enough for anything on a loaded machine; a passing test never waits for it.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const TOKEN: &str = "123456789:AAH-test-token-never-shown";

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-19T15:00:00Z").unwrap().with_timezone(&Utc)
}

pub fn alert(municipality: &str, topic: Topic) -> Alert {
    Alert {
        schema: Schema,
        id: format!("{municipality}:{topic}:20261119T12"),
        kind: otklik_model::AlertKind::Spike,
        state: AlertState::Opened,
        severity: AlertSeverity::High,
        method: "baseline".into(),
        expected_note: None,
        municipality: Some(municipality.into()),
        municipality_name: "город Пенза".into(),
        topic,
        window_start: start_time() - chrono::Duration::hours(4),
        window_end: start_time(),
        observed: 42,
        expected: 3.2,
        upper_bound: Some(9),
        p_value: 1e-9,
        incidents: 7,
        voices: 42,
        top_incidents: vec![AlertIncident {
            uid: "vk:-1:2".parse().unwrap(),
            url: "https://vk.com/wall-1_2".into(),
            excerpt: "Ладожская 127 (2-й подъезд): нет отопления третий день!".into(),
            voices: 12,
        }],
        raised_at: start_time(),
        overdue: None,
    }
}

/// ООО «УК Жилкомфорт» with three complaints past its 24 h deadline, the oldest 30 h old.
pub fn overdue_alert() -> Alert {
    let oldest_at = start_time() - chrono::Duration::hours(30);
    Alert {
        id: "overdue:uk-zhilkomfort:20261119T1500".into(),
        kind: otklik_model::AlertKind::Overdue,
        severity: AlertSeverity::Medium,
        method: "overdue".into(),
        topic: Topic::ManagementCompany,
        window_start: oldest_at,
        observed: 3,
        incidents: 3,
        voices: 3,
        top_incidents: Vec::new(),
        overdue: Some(otklik_model::AlertOverdue {
            organisation: "uk-zhilkomfort".into(),
            organisation_name: "ООО «УК Жилкомфорт»".into(),
            org_type: "uk".into(),
            deadline_secs: 86_400,
            complaints: 3,
            oldest_uid: "vk:-1:2".into(),
            oldest_url: "https://vk.com/wall-1_2".into(),
            oldest_at,
        }),
        ..alert("56701000", Topic::ManagementCompany)
    }
}

pub fn notification(receiver: &str, seq: u32, kind: NotificationKind, thread: &str) -> Notification {
    Notification {
        schema: Schema,
        id: format!("{receiver}:56701000:{seq}"),
        receiver: receiver.into(),
        group_key: "56701000".into(),
        kind,
        alerts: vec![alert("56701000", Topic::Heating)],
        thread: thread.into(),
        created_at: start_time(),
    }
}

/// A directory of the test's own for secret files.
pub fn secret_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otklik-notify-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("webhook.secret"), SECRET).unwrap();
    std::fs::write(dir.join("bot.token"), TOKEN).unwrap();
    dir
}

pub fn webhook(name: &str, url: &str) -> ReceiverConfig {
    let text = format!(
        "name = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}/hook?key=url-token\"\nsecret_file = \"webhook.secret\"\n"
    );
    toml::from_str(&text).unwrap()
}

pub fn telegram(name: &str, api_url: &str, chat_id: &str) -> ReceiverConfig {
    let text = format!(
        "name = \"{name}\"\nkind = \"telegram\"\nchat_id = \"{chat_id}\"\ntoken_file = \"bot.token\"\n\
         api_url = \"{api_url}\"\n"
    );
    toml::from_str(&text).unwrap()
}

pub struct Running {
    pub outbox: Outbox,
    pub log: Arc<MemoryDeliveryLog>,
    pub clock: ManualClock,
    pub shutdown: CancellationToken,
}

impl Running {
    pub async fn stop(self) -> Arc<MemoryDeliveryLog> {
        self.shutdown.cancel();
        self.outbox.join().await;
        self.log
    }
}

/// Starts an outbox over `log` with a manual clock at [`start_time`].
pub async fn start(configs: &[ReceiverConfig], dir: &std::path::Path, log: Arc<MemoryDeliveryLog>) -> Running {
    start_at(configs, dir, log, ManualClock::starting_at(start_time())).await
}

pub async fn start_at(
    configs: &[ReceiverConfig],
    dir: &std::path::Path,
    log: Arc<MemoryDeliveryLog>,
    clock: ManualClock,
) -> Running {
    let receivers = Receiver::from_configs(configs, dir).unwrap();
    let shutdown = CancellationToken::new();
    let options = OutboxOptions { clock: Arc::new(clock.clone()), ..OutboxOptions::default() };
    let outbox = Outbox::start_with(receivers, log.clone(), shutdown.clone(), options).await.unwrap();
    Running { outbox, log, clock, shutdown }
}

/// Records of `id` with outcome `outcome` (`"delivered"`, …).
pub fn outcomes(records: &[otklik_model::DeliveryRecord], id: &str) -> Vec<&'static str> {
    records.iter().filter(|r| r.notification_id == id).map(|r| r.outcome.as_str()).collect()
}

pub fn finished(records: &[otklik_model::DeliveryRecord], id: &str) -> bool {
    records.iter().any(|r| r.notification_id == id && !r.outcome.pending())
}
