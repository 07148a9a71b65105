//! The alert stage's pure core. Today: incident linking — copies collapse, one problem told by
//! many residents is one incident with many voices — and its evaluation.
//!
//! - [`incident`]: [`incident::Linker`] takes plain data ([`incident::LinkPost`], built from an
//!   `otklik_model::ClassifiedPost` and [`incident::PostFeatures`]) and returns a
//!   [`incident::Link`] — `copy_of`, `incident_id`, `is_voice` — keeping a time-bounded window
//!   that can be rebuilt from already-linked posts after a restart. No I/O, no clock, no tokio.
//! - [`eval`]: pairwise precision / recall / F1 and the adjusted Rand index of predicted incidents
//!   against labelled ones, the worst merges and splits, and the labelled CSV reader behind
//!   `otklik dedup eval`.
//!
//! Neighbours: it reads the classifier's output (`otklik-model`) and uses the classifier crate's
//! normaliser and gazetteer (`otklik-classify`) for shingles and place detail. Spike detection,
//! routing and the notifiers (DESIGN.md) are not built yet; the wiring into the two pipelines
//! lives in the binary.

pub mod eval;
pub mod incident;
