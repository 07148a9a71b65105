//! The pipeline's seams and the machinery every stage shares.
//!
//! - [`bus`]: the [`Publisher`] / [`Subscriber`] seams (publish; subscribe with explicit
//!   commit) that the in-memory bus and the Kafka adapter (`otklik-kafka`) implement.

pub mod bus;

pub use bus::{Bus, BusError, Message, Offsets, Publisher, Subscriber};
