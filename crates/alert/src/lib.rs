//! The alerter: spike detection over classified complaints and the notifiers that tell duty
//! officers (webhook, Telegram bot, Kafka topic, ClickHouse table).
//!
//! Not built yet — this crate holds no code on purpose, so that nothing pretends to raise
//! alerts. Its wire type, `otklik_model::Alert`, is already defined. When it lands it will read
//! `otklik.posts.classified.v1` (complaints and questions only, `PostKind::counts_for_alerts`),
//! keep hourly counts per municipality × topic, compare them with a baseline in a pure detector,
//! and publish `Alert`s keyed by `Alert::key` through the pipeline's publisher seam.
