//! Test helpers shared by several test binaries of this crate.
#![allow(dead_code)]

pub mod json_fuzz;
