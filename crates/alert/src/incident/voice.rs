//! Voices: the distinct residents behind an incident.
//!
//! Not voices: the source's own posts, official sources (unless they quote a resident), `info`
//! posts, a repost of a post we saw (it was counted where it was written), an author already
//! counted in the incident, and copies beyond [`LinkConfig::copy_voices_per_day`] a day in one
//! copy cluster — a template 300 residents sign is a campaign, not 300 independent reports.
//! Residents writing in their own words all count.

use super::link::{Cluster, Incident};
use super::minhash::hash_bytes;
use super::{LinkConfig, LinkPost};
use otklik_model::PostKind;

/// The author's identity; a post without one is its own author.
pub(super) fn author_key(post: &LinkPost) -> u64 {
    match &post.author {
        Some(a) => hash_bytes(format!("author:{a}").as_bytes()),
        None => hash_bytes(format!("post:{}", post.uid).as_bytes()),
    }
}

pub(super) fn is_voice(
    post: &LinkPost,
    config: &LinkConfig,
    counted_elsewhere: bool,
    incident: Option<&Incident>,
    cluster: Option<&Cluster>,
    day: i64,
) -> bool {
    if post.kind == PostKind::Info || post.is_source || (post.official && !post.quotes_resident) || counted_elsewhere {
        return false;
    }
    if incident.is_some_and(|i| i.voices.contains(&author_key(post))) {
        return false;
    }
    !cluster.is_some_and(|c| c.day == day && c.day_voices >= config.copy_voices_per_day)
}

/// Counts one more voice for a copy cluster on `day`.
pub(super) fn count_cluster_voice(cluster: &mut Cluster, day: i64) {
    if cluster.day != day {
        cluster.day = day;
        cluster.day_voices = 0;
    }
    cluster.day_voices += 1;
}
