//! The classifier: topic, municipality, post kind and language for every post (pure).
//!
//! - [`gazetteer`]: the compiled ОКТМО gazetteer and municipality resolution.

pub mod gazetteer;
