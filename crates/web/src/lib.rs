//! The duty officer's page (`otklik serve`): open and recent alerts with their incidents and
//! example posts, a municipality × topic table of the last 24 hours against the usual (the mean
//! of the same 24 hours of the previous 8 weeks, and the detector's expectation where an alert
//! is open), active silences and the delivery status of notifications — server-rendered HTML in
//! Russian, readable on a phone, with a little inline script and no build step. Also
//! `/api/alerts` (JSON) and `/healthz`.
//!
//! The crate does no storage I/O: the page reads and writes through [`PageData`], which the
//! binary implements over ClickHouse or the local store and tests over [`memory::MemoryData`].
//! It is read-only except for adding a silence (`POST /silences`), which needs the configured
//! token ([`PageConfig::silence_token`], compared in constant time); without one, silencing is
//! off and the page says so.
//!
//! [`receiver`] is a webhook sink for otklik's own deliveries (the demo's receiver, `otklik serve
//! --receiver`): signatures checked with `otklik_notify::webhook::SigningKey`.

pub mod data;
mod html;
mod labels;
pub mod memory;
pub mod receiver;
mod server;
pub mod silence;
pub mod view;

pub use data::{DataError, ExamplePost, HourCell, IncidentView, PageData};
pub use server::{router, serve, PageConfig};
pub use silence::Token;
