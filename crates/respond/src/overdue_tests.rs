use super::*;
use chrono::TimeZone;
use otklik_model::{Platform, PostKind};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).single().unwrap_or_default()
}

fn org(id: &str, org_type: OrgType, page: &str, account: &str) -> Organisation {
    Organisation {
        id: id.into(),
        name: format!("«{id}»"),
        org_type,
        municipality: Some("56701000".into()),
        inn: None,
        accounts: vec![(Platform::Vk, account.into())],
        sources: vec![page.into()],
    }
}

/// Two organisations: a УК (deadline 24 h, answers as vk -507 on its page `vk-uk-a`) and an
/// administration (48 h, -508 on `vk-adm-b`).
fn tracker() -> OverdueTracker {
    let deadlines =
        HashMap::from([(OrgType::Uk, TimeDelta::hours(24)), (OrgType::Administration, TimeDelta::hours(48))]);
    let config = OverdueConfig { deadlines, window: TimeDelta::hours(72) };
    let responders = Responders::new(vec![
        org("uk-a", OrgType::Uk, "vk-uk-a", "-507"),
        org("adm-b", OrgType::Administration, "vk-adm-b", "-508"),
    ]);
    OverdueTracker::new(config, responders)
}

fn complaint(source: &str, n: u32, when: DateTime<Utc>) -> Item {
    Item {
        uid: format!("vk:-1:{n}"),
        platform: Platform::Vk,
        source_id: source.into(),
        item_kind: ItemKind::Post,
        parent_uid: None,
        author_id: Some(format!("{}", 1000 + n)),
        author_is_source: false,
        published_at: when,
        kind: PostKind::Complaint,
        municipality: Some("56701000".into()),
        url: Some(format!("https://vk.com/wall-1_{n}")),
    }
}

fn comment(source: &str, under: u32, author: &str, when: DateTime<Utc>) -> Item {
    Item {
        uid: format!("vk:-1:{under}:c{}", when.timestamp()),
        item_kind: ItemKind::Comment,
        parent_uid: Some(format!("vk:-1:{under}")),
        author_id: Some(author.into()),
        kind: PostKind::Info,
        url: None,
        ..complaint(source, under, when)
    }
}

fn check(t: &mut OverdueTracker, when: DateTime<Utc>) -> Vec<(String, AlertState, u64)> {
    let events = t.check(when, |_| "г. Пенза".into());
    events
        .iter()
        .map(|a| (a.overdue.as_ref().map(|o| o.organisation.clone()).unwrap_or_default(), a.state, a.observed))
        .collect()
}

#[test]
fn opens_once_updates_as_the_count_grows_and_resolves_when_answered() {
    let mut t = tracker();
    t.add(complaint("vk-uk-a", 1, at(1, 8)));
    t.add(complaint("vk-uk-a", 2, at(1, 12)));
    assert!(check(&mut t, at(2, 8)).is_empty(), "exactly 24 h is not past the deadline");
    let opened = t.check(at(2, 9), |_| "г. Пенза".into());
    assert_eq!(opened.len(), 1);
    let alert = &opened[0];
    assert_eq!((alert.state, alert.kind, alert.observed), (AlertState::Opened, AlertKind::Overdue, 1));
    assert_eq!(alert.id, "overdue:uk-a:20261102T0900");
    assert_eq!(alert.key(), "56701000:overdue:uk-a");
    assert_eq!(alert.municipality_name, "г. Пенза");
    let detail = alert.overdue.as_ref().map(|o| (o.oldest_uid.as_str(), o.oldest_url.as_str(), o.deadline_secs));
    assert_eq!(detail, Some(("vk:-1:1", "https://vk.com/wall-1_1", 86_400)));
    assert!(check(&mut t, at(2, 10)).is_empty(), "nothing changed: nothing is sent again");
    let updated = t.check(at(2, 13), |_| String::new());
    assert_eq!(
        (updated[0].state, updated[0].observed, updated[0].id.as_str()),
        (AlertState::Updated, 2, alert.id.as_str())
    );
    // The УК answers both: the alert resolves, with the same id.
    t.add(comment("vk-uk-a", 1, "-507", at(2, 14)));
    assert_eq!(check(&mut t, at(2, 15)), [("uk-a".into(), AlertState::Updated, 1)]);
    t.add(comment("vk-uk-a", 2, "-507", at(2, 15)));
    let resolved = t.check(at(2, 16), |_| String::new());
    assert_eq!((resolved[0].state, resolved[0].id.as_str()), (AlertState::Resolved, alert.id.as_str()));
    assert!(check(&mut t, at(2, 17)).is_empty() && t.open().next().is_none());
}

#[test]
fn two_organisations_have_an_alert_each_with_their_own_deadline() {
    let mut t = tracker();
    t.add(complaint("vk-uk-a", 1, at(1, 8)));
    t.add(complaint("vk-adm-b", 2, at(1, 8)));
    t.add(complaint("vk-other", 3, at(1, 8)));
    assert_eq!(check(&mut t, at(2, 9)), [("uk-a".into(), AlertState::Opened, 1)]);
    assert_eq!(check(&mut t, at(3, 9)), [("adm-b".into(), AlertState::Opened, 1)]);
    assert_eq!(t.open().count(), 2);
}

#[test]
fn a_comment_by_a_non_responder_answers_nothing() {
    let mut t = tracker();
    t.add(complaint("vk-uk-a", 1, at(1, 8)));
    t.add(comment("vk-uk-a", 1, "777", at(1, 9)));
    assert_eq!(check(&mut t, at(2, 9)), [("uk-a".into(), AlertState::Opened, 1)]);
    t.add(comment("vk-uk-a", 1, "778", at(2, 10)));
    assert!(check(&mut t, at(2, 11)).is_empty(), "still open");
}

#[test]
fn a_reply_counts_from_its_publication_not_from_when_it_was_seen() {
    // A replay knows the reply already; at 2 09:00 it was not published yet.
    let mut t = tracker();
    t.add(complaint("vk-uk-a", 1, at(1, 8)));
    t.add(comment("vk-uk-a", 1, "-507", at(2, 12)));
    assert_eq!(check(&mut t, at(2, 9)), [("uk-a".into(), AlertState::Opened, 1)]);
    assert_eq!(check(&mut t, at(2, 12)), [("uk-a".into(), AlertState::Resolved, 1)]);
}

#[test]
fn complaints_leaving_the_window_resolve_the_alert() {
    let mut t = tracker();
    t.add(complaint("vk-uk-a", 1, at(1, 8)));
    t.add(complaint("vk-uk-a", 1, at(1, 8)));
    assert_eq!(check(&mut t, at(2, 9)), [("uk-a".into(), AlertState::Opened, 1)], "a redelivery counts once");
    assert!(check(&mut t, at(4, 8)).is_empty(), "72 h old: still watched");
    assert_eq!(check(&mut t, at(4, 9)), [("uk-a".into(), AlertState::Resolved, 1)]);
}

#[test]
fn a_restored_open_alert_keeps_its_id_and_is_not_sent_again() {
    let mut first = tracker();
    let item = complaint("vk-uk-a", 1, at(1, 8));
    first.add(item.clone());
    let opened = first.check(at(2, 9), |_| String::new());
    let mut again = tracker();
    again.restore([item], &opened);
    // A restarted clock resumes before the alert opened: those times are not checked again.
    assert!(check(&mut again, at(1, 20)).is_empty(), "not resolved");
    assert!(check(&mut again, at(2, 10)).is_empty());
    again.add(complaint("vk-uk-a", 2, at(1, 9)));
    let updated = again.check(at(2, 11), |_| String::new());
    assert_eq!((updated[0].state, &updated[0].id), (AlertState::Updated, &opened[0].id));
}
