//! The alerter: spike detection over classified complaints.
//!
//! - [`detect`]: the pure detector — hourly counts per series (municipality × topic) and a clock
//!   in, alert events out: a Farrington/Noufaily-style baseline (hour-of-week profile × level,
//!   overdispersion, down-weighted outbreaks), negative-binomial tails, an NB CUSUM, EARS C2 for
//!   cold starts, plain thresholds, a calendar of expected spikes and the alert lifecycle.
//! - [`bench`]: the Noufaily et al. (2013) simulation that calibrates and gates the detector
//!   (`otklik alerts bench`).
//!
//! Not built yet: incident linking, reading `otklik.posts.series.v1`, routing and notifiers.
//! The wire type is `otklik_model::Alert`, published keyed by `Alert::key`.

pub mod bench;
pub mod detect;
