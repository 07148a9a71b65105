//! Test helpers shared by several test binaries of this crate.
#![allow(dead_code)]

pub mod json_fuzz;
pub mod snapshot;

use otklik_collect::check::check_post;
use otklik_collect::{Parsed, RawPost};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

/// The fuzz pass of `cargo test`: a fixed number of cases from a fixed seed (whatever
/// `PROPTEST_RNG_SEED` says), so every run tries the same inputs in the same time, and no
/// regression files are written into the tree.
pub fn fuzz_config(cases: u32) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6f74_6b6c_696b),
        failure_persistence: None,
        ..Config::default()
    }
}

/// What must hold for every outcome a parser returns: each post passes the item check and
/// survives the wire round trip, and `Empty` is only said of an outcome with nothing in it.
pub fn assert_outcome(parsed: &Parsed) {
    for post in &parsed.posts {
        assert_post(post);
    }
    for bad in &parsed.bad_items {
        assert!(!bad.reason.is_empty());
        if let Some(post) = &bad.post {
            assert!(check_post(post).is_err(), "bad item {bad} passes the check");
        }
    }
    if parsed.empty.is_some() {
        assert!(parsed.posts.is_empty() && parsed.bad_items.is_empty(), "Empty said of {parsed:?}");
    }
}

pub fn assert_post(post: &RawPost) {
    if let Err(reason) = check_post(post) {
        panic!("{} reached the output but fails the item check: {reason}", post.uid);
    }
    let wire = otklik_model::encode(post);
    let back: RawPost = otklik_model::decode("RawPost", &wire).expect("accepted posts are wire-valid");
    assert_eq!(&back.uid, &post.uid);
}
