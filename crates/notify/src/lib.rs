//! Alert delivery: the receivers that do the I/O and the outbox that makes delivery survive
//! failures and restarts.
//!
//! - [`ReceiverConfig`] (`[[alerts.receiver]]`, checked by [`validate_receivers`] and
//!   [`check_secrets`]) becomes a [`Receiver`] with its secret loaded once ([`Secret`]: never
//!   shown, registered with `otklik_pipeline::secrets`).
//! - [`webhook`]: Standard Webhooks — a JSON body signed `v1,<HMAC-SHA256>` over
//!   `{webhook-id}.{webhook-timestamp}.{body}`; statuses classified by
//!   [`attempt::classify_status`] (2xx delivered, 410 disables, 408/409/425/429/5xx retried).
//! - [`telegram`]: a notification rendered in Russian as MarkdownV2, escaped completely, split
//!   at line ends into messages of ≤ 4096 characters after entity parsing; per-chat and
//!   per-group rate limits; updates edit a thread's first message(s).
//! - [`DeliveryLog`]: the seam for the delivery log (ClickHouse `alert_deliveries` or the local
//!   store, implemented by the binary; [`MemoryDeliveryLog`] for tests). It is also the outbox:
//!   [`rebuild`] finds the notifications still owed and the Telegram threads' messages.
//! - [`Outbox`]: `enqueue` logs `queued` records first, then one task per receiver delivers (in
//!   order per thread, jittered backoff capped at 6 h, `Retry-After` honoured) and logs every
//!   attempt; [`ReceiverMetrics`] per receiver. Time comes from a [`Clock`] (the system's, or a
//!   [`ManualClock`] in tests, so hours of backoff take no time while HTTP stays real).
//!
//! Neighbours: `otklik-model` owns [`Notification`](otklik_model::Notification) and
//! [`DeliveryRecord`](otklik_model::DeliveryRecord); the router in `otklik-alert` makes them;
//! the binary wires the outbox into the alert stage and implements [`DeliveryLog`].

pub mod attempt;
pub mod clock;
pub mod config;
mod error;
mod log;
mod metrics;
mod outbox;
mod rebuild;
mod receiver;
mod secret;
pub mod telegram;
pub mod webhook;

pub use attempt::{Attempt, Verdict};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{check_secrets, validate_receivers, ReceiverConfig, TelegramConfig, WebhookConfig};
pub use error::NotifyError;
pub use log::{DeliveryLog, MemoryDeliveryLog};
pub use metrics::{ReceiverCounts, ReceiverMetrics};
pub use outbox::{Outbox, OutboxOptions};
pub use rebuild::{rebuild, Pending, Rebuilt};
pub use receiver::Receiver;
pub use secret::Secret;
