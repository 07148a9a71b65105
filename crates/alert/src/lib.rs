//! The alert stage's pure core: incident linking, spike detection and alert routing, fed plain data
//! and a clock, with no I/O and no tokio.
//!
//! - [`incident`]: [`incident::Linker`] takes plain data ([`incident::LinkPost`], built from an
//!   `otklik_model::ClassifiedPost` and [`incident::PostFeatures`]) and returns a
//!   [`incident::Link`] — `copy_of`, `incident_id`, `is_voice` — keeping a time-bounded window
//!   that can be rebuilt from already-linked posts after a restart: copies collapse, one problem
//!   told by many residents is one incident with many voices.
//! - [`eval`]: pairwise precision / recall / F1 and the adjusted Rand index of predicted incidents
//!   against labelled ones, the worst merges and splits, and the labelled CSV reader behind
//!   `otklik dedup eval`.
//! - [`detect`]: the spike detector — hourly voice counts per series (municipality × topic) and
//!   a clock in, alert events out: a Farrington/Noufaily-style baseline (hour-of-week profile ×
//!   level, overdispersion, down-weighted outbreaks), negative-binomial tails, an NB CUSUM, EARS
//!   C2 for cold starts, plain thresholds, a calendar of expected spikes and the alert lifecycle.
//! - [`stage`]: [`stage::AlertCore`], the alert stage's whole state: links posts, counts voices,
//!   advances the detector's clock and turns its events into alerts with their incidents; restored
//!   after a restart from what was stored. The wirings (`src/alert_stage.rs` of the binary) feed it
//!   from the series topic or the local store and publish what it returns.
//! - [`route`]: the router, Alertmanager-style — alert events and a clock in, notifications out:
//!   grouped per receiver × municipality (group wait, group interval, reminders, one resolved
//!   message), regional alerts inhibiting their local ones, silences recorded, not sent; its state
//!   rebuilt after a restart from the notifications already sent. The receivers and the outbox
//!   (`otklik-notify`) deliver what it returns.
//! - [`bench`]: the Noufaily et al. (2013)-style simulation that calibrates and gates the
//!   detector (`otklik alerts bench`).
//!
//! Neighbours: it reads the classifier's output (`otklik-model`) and uses the classifier crate's
//! normaliser and gazetteer (`otklik-classify`) for shingles and place detail. The wire type of
//! an alert is `otklik_model::Alert`, published keyed by `Alert::key`; the router's are
//! `otklik_model::{Notification, DeliveryRecord, Silence}`. Config values (durations,
//! `ConfigProblem`) are parsed and checked with `otklik_pipeline::units`, as every component does.

pub mod bench;
pub mod detect;
pub mod eval;
pub mod incident;
pub mod route;
pub mod stage;
