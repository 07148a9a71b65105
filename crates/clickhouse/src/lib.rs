//! Everything otklik knows about ClickHouse: the analyst schema and its migrations, the batch
//! writer, the bundled analyst queries, the report, and the embedded mode's local store of
//! ClickHouse-ready files.
//!
//! - [`PostRow`], [`DlqRow`], [`AlertRow`], [`SourceStatusRow`], [`DeliveryRow`], [`SilenceRow`], [`ReplyRow`],
//!   [`SourceStatRow`]: the rows of the `posts`, `dlq`, `alerts`, `sources_status`, `alert_deliveries`,
//!   `alert_silences`, `replies` and `source_stats` tables. One type per table serves both wire forms (JSONEachRow
//!   text and RowBinary); its fields are the table's columns, which tests check against the
//!   migrated schema.
//! - [`migrate`]: `deploy/clickhouse/migrations/NNN_*.sql`, applied in order and recorded in
//!   `schema_migrations`; modern DDL (LowCardinality, codecs, TTL, DateTime64, constraints) on
//!   ClickHouse ≥ 20.3, a mechanically downlevelled form on older servers (Debian's 18.16).
//! - [`ClickHouseSink`]: the `otklik_pipeline::BatchSink` for any table row: RowBinary INSERTs
//!   with LZ4, retry classification, bisection of batches with rows the server rejects; an
//!   [`InsertObserver`] is told each INSERT's rows, size, latency and outcome (for `/metrics`).
//! - [`load`]: the local store's files into the tables (`otklik clickhouse load DIR`).
//! - [`report`]: complaints per municipality × topic from ClickHouse or the local store.
//! - [`History`]: what the alert stage restores and the CLI summarises — linked posts (incidents),
//!   voices and incidents per hour × municipality × topic, the latest event of each alert — from
//!   ClickHouse or the local store, with the same answer for the same rows.
//! - [`responses`]: `History::response_items`, the complaints, questions and comments response
//!   tracking reads, from ClickHouse or the local store.
//! - [`audience`]: `History::source_stats`, the sources' audiences as the polls saw them (one
//!   observation per source and second), from ClickHouse or the local store.
//! - [`delivery`]: alert delivery's log (also the notifier's outbox) and silences, in ClickHouse or
//!   the local store ([`DeliveryLog`] appends; `History::deliveries` / `silences` read).
//! - [`queries`]: the analyst queries of `deploy/clickhouse/queries/`.
//! - [`LocalStore`]: hourly JSONEachRow files holding exactly the table rows, a `BatchSink` for
//!   the embedded wiring (durable append; on open, lines that are not valid rows are moved to a
//!   `.corrupt` file). One writer per data directory: stores are opened from a [`DataDir`], which
//!   holds an exclusive lock. [`StoreReader`] reads a file without a lock, skipping and counting
//!   lines that are not rows.
//!
//! Deduplication is by design, not by the server: `posts` is a ReplacingMergeTree whose sorting
//! key identifies the uid, and `complaints_hourly` holds `uniqExact` states (of uids, incident
//! ids and voices), so a row delivered twice (a Kafka redelivery, a retried INSERT, the classifier's
//! unlinked version followed by the alert stage's linked one) is one post in every query.
//!
//! This is the only crate that may depend on the `clickhouse` client crate. Neighbours: reads
//! `otklik-model` types, implements `otklik-pipeline`'s sink seam; the binary wires it.

pub mod audience;
pub mod config;
pub mod delivery;
pub mod error;
pub mod history;
pub mod load;
pub mod local;
pub mod migrate;
pub mod queries;
pub mod report;
pub mod responses;
pub mod row;
pub mod sink;

pub use config::ClickHouseSinkConfig;
pub use delivery::DeliveryLog;
pub use error::{ClickHouseError, FailureKind};
pub use history::{History, HistoryError, HourlyVoices};
pub use local::{DataDir, LocalStore, StoreError, StoreReader, StoreRow};
pub use migrate::{Form, MigrationReport, Migrator, MIGRATIONS};
pub use report::Report;
pub use row::{AlertRow, DeliveryRow, DlqRow, PostRow, ReplyRow, SilenceRow, SourceStatRow, SourceStatusRow, TableRow};
pub use sink::{ClickHouseSink, InsertObserver, InsertOutcome, InsertReport};
