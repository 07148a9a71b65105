use super::*;
use crate::{OrgType, Organisation};
use chrono::TimeZone;

const POST: &str = "vk:-100:1";

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, hour, minute, 0).single().unwrap_or_default()
}

fn item(uid: &str, parent: Option<&str>, author: &str, when: DateTime<Utc>, kind: PostKind) -> Item {
    Item {
        uid: uid.into(),
        platform: Platform::Vk,
        source_id: "vk-zhk".into(),
        item_kind: if parent.is_some() { ItemKind::Comment } else { ItemKind::Post },
        parent_uid: parent.map(Into::into),
        author_id: Some(author.into()),
        author_is_source: author == "-100",
        published_at: when,
        kind,
        municipality: Some("56701000".into()),
        url: None,
    }
}

fn responders() -> Responders {
    Responders::new(vec![Organisation {
        id: "uk-zhilservis".into(),
        name: "УК «Жилсервис»".into(),
        org_type: OrgType::Uk,
        municipality: Some("56701000".into()),
        inn: None,
        accounts: vec![(Platform::Vk, "-555".into()), (Platform::Vk, "4242".into())],
        sources: vec![],
    }])
}

fn reply_of<'a>(complaints: &'a [Complaint], uid: &str) -> Option<&'a Reply> {
    complaints.iter().find(|c| c.uid == uid).and_then(|c| c.reply.as_ref())
}

#[test]
fn a_responder_comment_two_hours_later_answers_the_post() {
    let items = vec![
        item(POST, None, "11", at(8, 0), PostKind::Complaint),
        item("vk:-100:1:c1", Some(POST), "12", at(9, 0), PostKind::Complaint),
        item("vk:-100:1:c2", Some(POST), "-555", at(10, 0), PostKind::Info),
    ];
    let complaints = first_replies(&items, &responders());
    let reply = reply_of(&complaints, POST).expect("answered");
    assert_eq!((reply.uid.as_str(), reply.by.as_str()), ("vk:-100:1:c2", "uk-zhilservis"));
    assert_eq!(reply.delay, TimeDelta::hours(2));
    assert!(reply_of(&complaints, "vk:-100:1:c1").is_none(), "the УК answered the post, not the comment");
}

#[test]
fn a_reply_by_a_non_responder_answers_nothing() {
    let items = vec![
        item(POST, None, "11", at(8, 0), PostKind::Complaint),
        item("vk:-100:1:c1", Some(POST), "13", at(8, 30), PostKind::Info),
    ];
    let complaints = first_replies(&items, &responders());
    assert_eq!(complaints.len(), 1);
    assert!(complaints[0].reply.is_none());
}

#[test]
fn a_reply_to_a_complaint_comment_answers_it_and_the_thread() {
    let items = vec![
        item(POST, None, "-100", at(7, 0), PostKind::Info),
        item("vk:-100:1:c1", Some(POST), "12", at(8, 0), PostKind::Complaint),
        item("vk:-100:1:c2", Some("vk:-100:1:c1"), "4242", at(8, 45), PostKind::Info),
        item("vk:-100:1:c3", Some("vk:-100:1:c2"), "12", at(9, 0), PostKind::Question),
        item("vk:-100:1:c4", Some("vk:-100:1:c3"), "4242", at(11, 0), PostKind::Info),
    ];
    let complaints = first_replies(&items, &responders());
    assert_eq!(complaints.len(), 2, "the source's own post is no complaint");
    assert_eq!(reply_of(&complaints, "vk:-100:1:c1").map(|r| r.uid.as_str()), Some("vk:-100:1:c2"));
    let second = reply_of(&complaints, "vk:-100:1:c3").expect("the reply to the reply");
    assert_eq!((second.uid.as_str(), second.delay), ("vk:-100:1:c4", TimeDelta::hours(2)));
}

#[test]
fn the_source_s_own_comment_answers_a_resident_post() {
    let items = vec![
        item(POST, None, "11", at(8, 0), PostKind::Question),
        item("vk:-100:1:c1", Some(POST), "-100", at(8, 20), PostKind::Info),
    ];
    let complaints = first_replies(&items, &responders());
    assert_eq!(reply_of(&complaints, POST).map(|r| r.by.as_str()), Some("source:vk-zhk"));
}

#[test]
fn the_earliest_reply_wins_and_earlier_comments_do_not_count() {
    let items = vec![
        item("vk:-100:1:c9", Some(POST), "-555", at(7, 0), PostKind::Info),
        item(POST, None, "11", at(8, 0), PostKind::Complaint),
        item("vk:-100:1:c3", Some(POST), "4242", at(12, 0), PostKind::Info),
        item("vk:-100:1:c2", Some(POST), "-555", at(9, 0), PostKind::Info),
    ];
    let complaints = first_replies(&items, &responders());
    assert_eq!(reply_of(&complaints, POST).map(|r| r.uid.as_str()), Some("vk:-100:1:c2"));
}

#[test]
fn redelivered_items_give_the_same_answer() {
    let once = vec![
        item(POST, None, "11", at(8, 0), PostKind::Complaint),
        item("vk:-100:1:c2", Some(POST), "-555", at(10, 0), PostKind::Info),
    ];
    let mut twice: Vec<Item> = once.iter().chain(once.iter()).cloned().collect();
    twice.reverse();
    assert_eq!(first_replies(&twice, &responders()), first_replies(&once, &responders()));
    assert_eq!(first_replies(&twice, &responders()).len(), 1);
}

#[test]
fn roots_of_uids() {
    assert_eq!(root_of("vk:-1:2:c3"), "vk:-1:2");
    assert_eq!(root_of("vk:-1:2"), "vk:-1:2");
    assert_eq!(root_of("tg:channel:12"), "tg:channel:12");
}
