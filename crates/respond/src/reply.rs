use crate::responders::Responders;
use chrono::{DateTime, TimeDelta, Utc};
use otklik_model::{ClassifiedPost, ItemKind, Platform, PostKind};
use std::collections::{BTreeMap, HashMap};

/// What reply finding needs of a post or comment (built from a `ClassifiedPost` or a stored row).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub uid: String,
    pub platform: Platform,
    pub source_id: String,
    pub item_kind: ItemKind,
    /// For comments: the post or comment answered (VK `reply_to_comment`, OK `reply_to_comment_id`).
    pub parent_uid: Option<String>,
    pub author_id: Option<String>,
    pub author_is_source: bool,
    pub published_at: DateTime<Utc>,
    pub kind: PostKind,
    /// ОКТМО code, when the classifier found one.
    pub municipality: Option<String>,
    pub url: Option<String>,
}

impl From<&ClassifiedPost> for Item {
    fn from(c: &ClassifiedPost) -> Self {
        let post = &c.post;
        Item {
            uid: post.uid.to_string(),
            platform: post.platform,
            source_id: post.source_id.clone(),
            item_kind: post.item_kind,
            parent_uid: post.parent_uid.as_ref().map(ToString::to_string),
            author_id: post.author.id.clone(),
            author_is_source: post.author.is_source,
            published_at: post.published_at,
            kind: c.classification.kind,
            municipality: c.classification.municipality.as_ref().map(|m| m.oktmo.clone()),
            url: post.url.clone(),
        }
    }
}

/// The first answer to a complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub uid: String,
    pub at: DateTime<Utc>,
    /// The organisation's id; `source:<source id>` for a source's own comment when the source
    /// belongs to no listed organisation.
    pub by: String,
    pub delay: TimeDelta,
}

/// A resident's complaint or question and its first reply, if any yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    pub uid: String,
    pub source_id: String,
    pub municipality: Option<String>,
    pub published_at: DateTime<Utc>,
    pub url: Option<String>,
    /// The organisation whose own page the complaint was posted on, if any.
    pub addressed_to: Option<String>,
    pub reply: Option<Reply>,
}

/// Each resident complaint or question among `items` with its first reply, oldest first.
///
/// A reply is a comment, published no earlier than the complaint, by a responder account or by
/// the source itself (its own comment in its group): directly answering the complaint (a post
/// or a comment), or anywhere in the comment thread of a complaint post. A comment by anyone
/// else answers nothing. Items seen more than once (redelivery, re-collection) count once.
pub fn first_replies(items: &[Item], responders: &Responders) -> Vec<Complaint> {
    let unique: BTreeMap<&str, &Item> = items.iter().map(|i| (i.uid.as_str(), i)).collect();
    let mut best: HashMap<&str, Reply> = HashMap::new();
    for reply in unique.values().filter(|i| i.item_kind == ItemKind::Comment) {
        let Some(by) = replier(reply, responders) else { continue };
        for target in answered(reply, &unique) {
            if reply.published_at < target.published_at || !is_resident_complaint(target, responders) {
                continue;
            }
            let candidate = Reply {
                uid: reply.uid.clone(),
                at: reply.published_at,
                by: by.clone(),
                delay: reply.published_at - target.published_at,
            };
            let slot = best.entry(target.uid.as_str());
            slot.and_modify(|r| {
                if (candidate.at, &candidate.uid) < (r.at, &r.uid) {
                    *r = candidate.clone();
                }
            })
            .or_insert(candidate);
        }
    }
    let mut complaints: Vec<Complaint> = unique
        .values()
        .filter(|i| is_resident_complaint(i, responders))
        .map(|i| Complaint {
            uid: i.uid.clone(),
            source_id: i.source_id.clone(),
            municipality: i.municipality.clone(),
            published_at: i.published_at,
            url: i.url.clone(),
            addressed_to: responders.source(&i.source_id).map(|o| o.id.clone()),
            reply: best.remove(i.uid.as_str()),
        })
        .collect();
    complaints.sort_by(|a, b| a.published_at.cmp(&b.published_at).then_with(|| a.uid.cmp(&b.uid)));
    complaints
}

/// Who a comment answers for: its account's organisation, or the source itself.
fn replier(comment: &Item, responders: &Responders) -> Option<String> {
    let org = comment.author_id.as_deref().and_then(|id| responders.account(comment.platform, id));
    match org {
        Some(org) => Some(org.id.clone()),
        None if comment.author_is_source => Some(
            responders
                .source(&comment.source_id)
                .map_or_else(|| format!("source:{}", comment.source_id), |o| o.id.clone()),
        ),
        None => None,
    }
}

/// The items a comment answers: its parent, and the post of its thread.
fn answered<'a>(comment: &Item, items: &BTreeMap<&str, &'a Item>) -> Vec<&'a Item> {
    let root = root_of(&comment.uid);
    let mut found: Vec<&'a Item> = Vec::new();
    for uid in [comment.parent_uid.as_deref(), Some(root)].into_iter().flatten() {
        if let Some(item) = items.get(uid) {
            if !found.iter().any(|f| f.uid == item.uid) {
                found.push(item);
            }
        }
    }
    found
}

/// The post a comment belongs to (`vk:-1:2:c3` → `vk:-1:2`); a post is its own root.
fn root_of(uid: &str) -> &str {
    match uid.rsplit_once(':') {
        Some((head, last)) if last.starts_with('c') && head.matches(':').count() == 2 => head,
        _ => uid,
    }
}

/// A complaint or question by a resident: not the source, not a responder account.
fn is_resident_complaint(item: &Item, responders: &Responders) -> bool {
    let responder = item.author_id.as_deref().is_some_and(|id| responders.account(item.platform, id).is_some());
    item.kind.counts_for_alerts() && !item.author_is_source && !responder
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
