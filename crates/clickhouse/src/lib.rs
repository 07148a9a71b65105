//! Everything otklik knows about ClickHouse: the analyst rows, and the embedded mode's local
//! store of ClickHouse-ready files.
//!
//! - [`PostRow`], [`DlqRow`]: the rows of the `posts` and `dlq` tables, built from
//!   `otklik_model` wire values.
//! - [`LocalStore`]: hourly JSONEachRow files holding exactly those rows, a
//!   `otklik_pipeline::BatchSink` for the embedded wiring (durable append, torn-tail repair).
//!
//! This is the only crate that may depend on the `clickhouse` client crate. Neighbours: reads
//! `otklik-model` types, implements `otklik-pipeline`'s sink seam; the binary wires it.

pub mod local;
pub mod row;

pub use local::{LocalStore, StoreError, StoreRow};
pub use row::{DlqRow, PostRow};
