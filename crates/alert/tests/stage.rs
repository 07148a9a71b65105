//! The alert stage's state end to end: posts in, incidents and alerts out, across replays,
//! redeliveries and restarts.

use chrono::{DateTime, Duration, TimeZone, Utc};
use otklik_alert::detect::calendar::Calendar;
use otklik_alert::detect::{hour_of, SeriesKey};
use otklik_alert::incident::{Link, LinkPost};
use otklik_alert::stage::{AlertCore, Restore, RestoredPost, StageConfig};
use otklik_model::{
    Alert, AlertState, Author, Classification, ClassifiedPost, Counters, ItemKind, MunicipalityEvidence,
    MunicipalityMatch, Platform, PostKind, RawPost, Schema, Topic, TopicHit,
};
use std::collections::{BTreeMap, HashMap};

const KUZNECK: &str = "56705000";
const BURST_DAY: i64 = 35;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 5, 0, 0, 0).unwrap()
}

/// A deterministic stream of words, so that residents write in their own words.
fn words(seed: u64, n: usize) -> String {
    const VOCABULARY: &[&str] = &[
        "опять",
        "снова",
        "третий",
        "день",
        "дома",
        "квартире",
        "детям",
        "холодно",
        "батареи",
        "еле",
        "тёплые",
        "ледяные",
        "звонили",
        "диспетчеру",
        "никто",
        "не",
        "отвечает",
        "сколько",
        "можно",
        "терпеть",
        "мёрзнем",
        "спим",
        "в",
        "куртках",
        "обогреватель",
        "включили",
        "пробки",
        "выбивает",
        "пенсионеры",
        "болеют",
        "когда",
        "дадут",
        "тепло",
        "котельная",
        "авария",
        "обещали",
        "вечером",
        "утром",
        "на",
        "кухне",
        "пятнадцать",
        "градусов",
        "окна",
        "потеют",
        "соседи",
        "тоже",
        "жалуются",
        "управляйка",
        "молчит",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            VOCABULARY[(x % VOCABULARY.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Spec {
    n: u64,
    at: DateTime<Utc>,
    author: String,
    text: String,
    kind: PostKind,
    source: &'static str,
    is_source: bool,
}

fn post(spec: Spec) -> ClassifiedPost {
    let uid = format!("vk:-{}:{}", spec.source.trim_start_matches("vk:-"), spec.n);
    ClassifiedPost::new(
        RawPost {
            schema: Schema,
            uid: uid.parse().unwrap(),
            platform: Platform::Vk,
            source_id: spec.source.into(),
            item_kind: ItemKind::Post,
            parent_uid: None,
            url: Some(format!("https://vk.com/wall{}_{}", spec.source.trim_start_matches("vk:"), spec.n)),
            author: Author { id: Some(spec.author), name: None, is_source: spec.is_source },
            published_at: spec.at,
            edited_at: None,
            edited: false,
            collected_at: spec.at + Duration::minutes(3),
            text: spec.text,
            repost_of: None,
            attachments: Vec::new(),
            counters: Counters::default(),
            pinned: false,
            ads: false,
            geo: None,
        },
        Classification {
            classifier_version: "test".into(),
            language: "ru".into(),
            kind: spec.kind,
            topics: vec![TopicHit { topic: Topic::Heating, score: 1.0, rule: "heating.test".into() }],
            municipality: Some(MunicipalityMatch {
                oktmo: KUZNECK.into(),
                name: "город Кузнецк".into(),
                evidence: MunicipalityEvidence::Text,
            }),
            out_of_region: false,
        },
    )
}

/// Five weeks of one heating complaint a day from different residents, ten announcements of the
/// season's start by the administration on one morning, then 20 residents within three hours.
fn stream() -> Vec<ClassifiedPost> {
    let resident = |n: u64, at: DateTime<Utc>| Spec {
        n,
        at,
        author: format!("{}", 1000 + n),
        text: words(n, 14),
        kind: PostKind::Complaint,
        source: "vk:-200",
        is_source: false,
    };
    let mut posts = Vec::new();
    for day in 0..BURST_DAY {
        posts.push(post(resident(day as u64, t0() + Duration::days(day) + Duration::hours(6 + day % 10))));
    }
    for i in 0..10 {
        let text = format!("Отопительный сезон начался: подача тепла в дома по графику, объявление {i}");
        let at = t0() + Duration::days(3) + Duration::hours(7) + Duration::minutes(i * 5);
        let n = 500 + i as u64;
        posts.push(post(Spec {
            n,
            at,
            author: "-300".into(),
            text,
            kind: PostKind::Info,
            source: "vk:-300",
            is_source: true,
        }));
    }
    let burst = t0() + Duration::days(BURST_DAY) + Duration::hours(7);
    for i in 0..20 {
        posts.push(post(resident(100 + i, burst + Duration::minutes(i as i64 * 9))));
    }
    posts
}

fn core() -> AlertCore {
    let official = HashMap::from([("vk:-300".to_owned(), true)]);
    AlertCore::new(StageConfig { max_catch_up: None, ..StageConfig::default() }, Calendar::default(), None, official)
}

/// Feeds posts in order, advancing the clock to each post's time first (a live stage, caught up).
fn live(core: &mut AlertCore, posts: &[ClassifiedPost]) -> (Vec<ClassifiedPost>, Vec<Alert>) {
    let (mut linked, mut alerts) = (Vec::new(), Vec::new());
    for p in posts {
        alerts.extend(core.advance(p.post.published_at));
        linked.push(core.link(p.clone()));
    }
    (linked, alerts)
}

fn end() -> DateTime<Utc> {
    t0() + Duration::days(BURST_DAY + 2)
}

fn events(alerts: &[Alert]) -> Vec<(String, AlertState, u64)> {
    alerts.iter().map(|a| (a.id.clone(), a.state, a.observed)).collect()
}

#[test]
fn a_burst_opens_one_alert_per_series_with_its_incidents_and_announcements_never_alert() {
    let mut core = core();
    let (_, mut alerts) = live(&mut core, &stream());
    alerts.extend(core.advance(end()));
    let opened: Vec<&Alert> = alerts.iter().filter(|a| a.state == AlertState::Opened).collect();
    assert_eq!(opened.len(), 2, "one for Кузнецк, one for the region: {:#?}", events(&alerts));
    let kuzneck = opened.iter().find(|a| a.municipality.as_deref() == Some(KUZNECK)).expect("Кузнецк's alert");
    assert_eq!(kuzneck.municipality_name, "город Кузнецк");
    assert_eq!(kuzneck.topic, Topic::Heating);
    let burst = t0() + Duration::days(BURST_DAY);
    assert!(
        kuzneck.window_start >= burst && kuzneck.raised_at < burst + Duration::hours(12),
        "raised in the burst: {kuzneck:#?}"
    );
    assert!(kuzneck.observed >= 5 && kuzneck.voices == kuzneck.observed, "{kuzneck:#?}");
    assert!(kuzneck.incidents >= 1 && !kuzneck.top_incidents.is_empty() && kuzneck.top_incidents.len() <= 5);
    assert!(kuzneck.top_incidents[0].url.starts_with("https://vk.com/wall-200_"));
    assert!(alerts.iter().all(|a| a.raised_at >= burst), "nothing before the burst (the announcements are no voices)");
    assert!(alerts.iter().any(|a| a.state == AlertState::Resolved), "quiet after the burst resolves it");
}

#[test]
fn a_residents_comment_under_an_official_post_is_a_voice() {
    let mut core = core();
    let at = t0() + Duration::hours(9);
    let announcement = Spec {
        n: 1,
        at,
        author: "-300".into(),
        text: "Авария на котельной, тепла не будет до вечера".into(),
        kind: PostKind::Info,
        source: "vk:-300",
        is_source: true,
    };
    let announcement = core.link(post(announcement));
    let mut comment = post(Spec {
        n: 2,
        at: at + Duration::minutes(5),
        author: "4242".into(),
        text: words(7, 12),
        kind: PostKind::Complaint,
        source: "vk:-300",
        is_source: false,
    });
    comment.post.item_kind = ItemKind::Comment;
    comment.post.parent_uid = Some(announcement.post.uid.clone());
    let comment = core.link(comment);
    assert_eq!(announcement.is_voice, Some(false), "the administration is no voice");
    assert_eq!(comment.is_voice, Some(true), "the resident under its post is");
}

#[test]
fn posts_replayed_out_of_time_order_give_the_alerts_of_a_live_run() {
    let mut live_core = core();
    let (_, mut live_alerts) = live(&mut live_core, &stream());
    live_alerts.extend(live_core.advance(end()));

    let mut replay = core();
    let mut posts = stream();
    posts.reverse(); // a wall page comes newest first
    for p in posts {
        replay.link(p);
    }
    let replayed = replay.advance(end());
    assert_eq!(events(&replayed), events(&live_alerts));
}

#[test]
fn a_redelivered_post_is_not_counted_twice() {
    let mut once = core();
    let (_, mut alerts_once) = live(&mut once, &stream());
    alerts_once.extend(once.advance(end()));

    let mut twice = core();
    let posts = stream();
    let (linked, mut alerts_twice) = live(&mut twice, &posts);
    let again: Vec<ClassifiedPost> = posts.iter().rev().take(20).cloned().collect();
    let relinked: Vec<ClassifiedPost> = again.into_iter().map(|p| twice.link(p)).collect();
    alerts_twice.extend(twice.advance(end()));
    assert_eq!(events(&alerts_twice), events(&alerts_once));
    let first: HashMap<_, _> = linked.iter().map(|p| (p.post.uid.clone(), p.incident_id.clone())).collect();
    assert!(relinked.iter().all(|p| first[&p.post.uid] == p.incident_id), "the earlier links come back");
}

/// What a store would hold of the linked posts and alerts: the input of a restart.
fn stored(core: &AlertCore, linked: &[ClassifiedPost], alerts: &[Alert]) -> Restore {
    let mut hourly: BTreeMap<(Option<String>, i64), u32> = BTreeMap::new();
    for p in linked.iter().filter(|p| p.is_voice == Some(true) && p.classification.kind.counts_for_alerts()) {
        let hour = hour_of(p.post.published_at);
        *hourly.entry((Some(KUZNECK.to_owned()), hour)).or_default() += 1;
        *hourly.entry((None, hour)).or_default() += 1;
    }
    let mut latest: HashMap<String, Alert> = HashMap::new();
    for a in alerts {
        latest.insert(a.id.clone(), a.clone());
    }
    let posts = linked
        .iter()
        .map(|p| {
            let official = p.post.source_id == "vk:-300";
            let link = Link {
                copy_of: p.copy_of.as_ref().map(ToString::to_string),
                incident_id: p.incident_id.as_ref().unwrap().to_string(),
                is_voice: p.is_voice.unwrap(),
            };
            let post = LinkPost::from_classified(p, official, core.features(&p.post.text));
            let url = p.post.url.clone().unwrap_or_default();
            RestoredPost {
                post, link, url, text: p.post.text.clone(), municipality_name: "город Кузнецк".into()
            }
        })
        .collect();
    let hourly = hourly
        .into_iter()
        .map(|((municipality, hour), n)| (SeriesKey { municipality, topic: Topic::Heating }, hour, n))
        .collect();
    Restore {
        posts,
        hourly,
        history_from: Some(hour_of(t0())),
        alerts: latest.into_values().collect(),
        replies: vec![],
    }
}

#[test]
fn a_restart_mid_spike_sends_nothing_twice_and_forgets_nothing() {
    let posts = stream();
    let mut uninterrupted = core();
    let (_, mut all) = live(&mut uninterrupted, &posts);
    all.extend(uninterrupted.advance(end()));
    assert!(all.iter().any(|a| a.state == AlertState::Opened));

    // Stop after 12 of the 20 burst posts, when the alert is open.
    let cut = posts.len() - 8;
    let mut before = core();
    let (linked, sent_before) = live(&mut before, &posts[..cut]);
    assert!(sent_before.iter().any(|a| a.state == AlertState::Opened), "the alert opened before the restart");

    let mut after = core();
    after.restore(stored(&after, &linked, &sent_before));
    let open_after_restore = after.latest_events().filter(|a| a.state != AlertState::Resolved);
    let open_ids: Vec<_> = open_after_restore.map(|a| a.id.clone()).collect();
    assert!(!open_ids.is_empty() && open_ids.iter().all(|id| sent_before.iter().any(|a| &a.id == id)), "{open_ids:?}");
    let (_, mut sent_after) = live(&mut after, &posts[cut..]);
    sent_after.extend(after.advance(end()));

    // The same alerts open and resolve exactly once, under the same ids. (The updates between
    // may differ: the restored detector refits its baselines on its own schedule.)
    let lifecycle = |alerts: &[Alert]| -> Vec<(String, AlertState)> {
        let ends = alerts.iter().filter(|a| matches!(a.state, AlertState::Opened | AlertState::Resolved));
        let mut ends: Vec<_> = ends.map(|a| (a.id.clone(), a.state)).collect();
        ends.sort_by(|a, b| (&a.0, a.1 as u8).cmp(&(&b.0, b.1 as u8)));
        ends
    };
    let mut sent = sent_before.clone();
    sent.extend(sent_after.iter().cloned());
    assert_eq!(lifecycle(&sent), lifecycle(&all), "sent: {:#?}", events(&sent));
    assert!(sent_after.iter().all(|a| a.state != AlertState::Opened), "nothing opened twice");
    let opened_before: Vec<_> = sent_before.iter().map(|a| &a.id).collect();
    assert!(sent_after.iter().all(|a| opened_before.contains(&&a.id)), "the open alerts kept their ids");
}

/// A core that also pages the organisation owning the group `vk:-200` (deadline 24 h).
fn core_with_overdue() -> AlertCore {
    use otklik_respond::{OrgType, Organisation, OverdueConfig, OverdueTracker, Responders};
    let org = Organisation {
        id: "uk-a".into(),
        name: "УК «А»".into(),
        org_type: OrgType::Uk,
        municipality: Some(KUZNECK.into()),
        inn: None,
        accounts: vec![],
        sources: vec!["vk:-200".into()],
    };
    let deadlines = HashMap::from([(OrgType::Uk, Duration::hours(24))]);
    let tracker =
        OverdueTracker::new(OverdueConfig { deadlines, window: Duration::hours(72) }, Responders::new(vec![org]));
    core().with_overdue(tracker)
}

#[test]
fn overdue_alerts_come_with_the_spikes_and_a_restart_does_not_page_them_again() {
    let complaint = |n: u64, hours: i64| {
        let at = t0() + Duration::hours(hours);
        let (author, text, kind) = (format!("{}", 1000 + n), words(n, 12), PostKind::Complaint);
        post(Spec { n, at, author, text, kind, source: "vk:-200", is_source: false })
    };
    let mut first = core_with_overdue();
    let (linked, alerts) = live(&mut first, &[complaint(1, 0), complaint(2, 10)]);
    assert!(alerts.is_empty());
    let opened = first.advance(t0() + Duration::hours(25));
    let seen: Vec<_> = opened.iter().map(|a| (a.kind, a.state, a.key())).collect();
    assert_eq!(seen, [(otklik_model::AlertKind::Overdue, AlertState::Opened, format!("{KUZNECK}:overdue:uk-a"))]);
    assert_eq!(opened[0].municipality_name, "город Кузнецк");
    assert_eq!(first.open_overdue().len(), 1);

    // A restart: the stored alert and the posts read back; nothing is paged again, the next
    // complaint past its deadline updates the same alert.
    let mut restored = core_with_overdue();
    let mut stored = stored(&restored, &linked, &opened);
    stored.replies = linked.iter().map(otklik_respond::Item::from).collect();
    restored.restore(stored);
    assert!(restored.advance(t0() + Duration::hours(30)).is_empty());
    let updated = restored.advance(t0() + Duration::hours(35));
    assert_eq!(events(&updated), [(opened[0].id.clone(), AlertState::Updated, 2)]);
}
