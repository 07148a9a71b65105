//! Response tracking: who answered a resident's complaint, and how fast.
//!
//! [`Responders`] are the accounts that answer on behalf of an organisation (a management
//! company, an administration), read from `responders.toml`. [`first_replies`] takes the posts
//! and comments seen (complaints, questions and every comment) and finds, for each complaint by
//! a resident, its first reply: a comment by a responder account or by the source itself. Pure:
//! no I/O, no clock; the same items give the same answer however often they were delivered.
//! [`OverdueTracker`] pages the organisations that leave complaints unanswered past their
//! deadline: items and a time in, `otklik_model::Alert` events (kind `overdue`) out — the alert
//! stage feeds it and publishes them beside its spike alerts.

mod overdue;
mod reply;
mod responders;

pub use overdue::{topic_of, OverdueConfig, OverdueTracker};
pub use reply::{first_replies, Complaint, Item, Reply};
pub use responders::{account_problem, OrgType, Organisation, Responders};
