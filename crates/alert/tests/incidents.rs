//! The cases for incident linking: reposts, residents in their own words, templates,
//! the administration's post, a restart mid-stream, and order independence within a batch.

use chrono::{DateTime, Duration, TimeZone, Utc};
use otklik_alert::incident::{Link, LinkConfig, LinkPost, Linker, PostFeatures};
use otklik_model::{PostKind, Topic};
use proptest::prelude::*;
use std::collections::HashSet;

const PENZA: &str = "56701000";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 7, 0, 0).unwrap()
}

fn post(uid: &str, author: &str, minutes: i64, text: &str, topics: &[Topic]) -> LinkPost {
    LinkPost {
        uid: uid.into(),
        author: Some(author.into()),
        source: "vk:-100".into(),
        published_at: t0() + Duration::minutes(minutes),
        is_source: false,
        official: false,
        quotes_resident: false,
        kind: PostKind::Complaint,
        topics: topics.to_vec(),
        municipality: Some(PENZA.into()),
        reply_to: None,
        repost_of: None,
        own_words: true,
        features: PostFeatures::of(text, None),
    }
}

fn incidents(links: &[Link]) -> HashSet<&str> {
    links.iter().map(|l| l.incident_id.as_str()).collect()
}

fn voices(links: &[Link]) -> usize {
    links.iter().filter(|l| l.is_voice).count()
}

const COMPLAINT: &str = "Третий день нет холодной воды на ул. Ладожская 5, управляющая компания трубку не берет, \
                         дети без воды, куда жаловаться?";

#[test]
fn twenty_reposts_are_one_incident_and_one_voice() {
    let mut linker = Linker::new(LinkConfig::default());
    let mut links = vec![linker.link(&post("vk:-1:1", "origin", 0, COMPLAINT, &[Topic::ColdWater]))];
    for i in 0..20 {
        let mut p = post(&format!("vk:-{}:7", 200 + i), &format!("reposter{i}"), 5 + i, COMPLAINT, &[Topic::ColdWater]);
        p.repost_of = Some("vk:-1:1".into());
        p.own_words = false;
        links.push(linker.link(&p));
    }
    assert_eq!(incidents(&links).len(), 1, "{links:?}");
    assert_eq!(voices(&links), 1);
    assert!(links[1..].iter().all(|l| l.copy_of.as_deref() == Some("vk:-1:1")));
}

#[test]
fn reposts_of_an_unseen_origin_count_once() {
    let mut linker = Linker::new(LinkConfig::default());
    let links: Vec<Link> = (0..20)
        .map(|i| {
            let mut p = post(&format!("vk:-{}:7", 200 + i), &format!("reposter{i}"), i, COMPLAINT, &[Topic::ColdWater]);
            p.repost_of = Some("tg:somewhere:5".into());
            p.own_words = false;
            linker.link(&p)
        })
        .collect();
    assert_eq!(incidents(&links).len(), 1);
    assert_eq!(voices(&links), 1);
}

/// Twenty residents, twenty ways of saying there is no water at Ладожская.
const OWN_WORDS: [&str; 20] = [
    "с утра нет воды на Ладожской, что случилось?",
    "Ладожская 5 опять сухие краны!!! сколько можно",
    "у нас в доме воды нет с шести утра",
    "Воду когда дадут? ребенка не помыть",
    "на ладожской авария? из крана даже не капает",
    "Нет воды. Звонила в водоканал, не отвечают",
    "подтверждаю, Ладожская без воды, соседи тоже",
    "горводоканал молчит, воды нет уже 5 часов",
    "краны пустые, чайник вскипятить нечем 😡",
    "сколько еще ждать воду на Ладожской?",
    "где вода? мы платим за нее между прочим",
    "Опять отключили воду без предупреждения",
    "вода пропала около 7 утра, объявления не было",
    "на 5м этаже вообще ни капли, а внизу чуть течет",
    "Дайте воду! пожилые люди не могут сходить за водой",
    "когда закончат ремонт трубы? воды нет",
    "В подъезде объявления нет, воды нет, ничего нет",
    "мы купили бутилированную, но это не выход, верните воду",
    "Водоканал, ответьте жителям Ладожской, где вода",
    "без воды с утра, вечер уже, совесть есть?",
];

#[test]
fn twenty_residents_in_their_own_words_are_one_incident_and_twenty_voices() {
    let mut linker = Linker::new(LinkConfig::default());
    let posts: Vec<LinkPost> = OWN_WORDS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            post(&format!("vk:-100:{i}"), &format!("resident{i}"), 10 * i as i64, text, &[Topic::ColdWater])
        })
        .collect();
    let links = linker.link_batch(&posts);
    assert_eq!(incidents(&links).len(), 1, "{links:?}");
    assert_eq!(voices(&links), 20);
    assert!(links.iter().all(|l| l.copy_of.is_none()), "own words are not copies: {links:?}");
    assert_eq!(links[0].incident_id, "vk:-100:0", "the incident id is its first post's uid");
}

const TEMPLATE: &str = "Главе администрации города Пензы. Мы, жители дома 12 по улице Ладожской, требуем \
                        отремонтировать дорогу во дворе: ямы глубиной до 30 см, машины не проехать, скорая не \
                        подъедет. Просим принять меры до конца месяца.";

#[test]
fn a_template_signed_by_thirty_is_one_incident_with_five_voices_that_day() {
    let mut linker = Linker::new(LinkConfig::default());
    let links: Vec<Link> = (0..30)
        .map(|i| {
            let text = format!("{TEMPLATE} Подпись: житель кв. {}", i + 1);
            linker.link(&post(&format!("vk:-100:{}", 500 + i), &format!("signer{i}"), 3 * i, &text, &[Topic::Roads]))
        })
        .collect();
    assert_eq!(incidents(&links).len(), 1, "{links:?}");
    assert_eq!(voices(&links), 5);
    // The next day the cluster may add five more.
    let next =
        linker.link(&post("vk:-100:999", "late-signer", 24 * 60, &format!("{TEMPLATE} кв. 99"), &[Topic::Roads]));
    assert!(next.is_voice && next.copy_of.as_deref() == Some("vk:-100:500"));
}

#[test]
fn the_administrations_post_is_in_the_incident_without_a_voice() {
    let mut linker = Linker::new(LinkConfig::default());
    let first = linker.link(&post("vk:-100:1", "resident1", 0, OWN_WORDS[0], &[Topic::ColdWater]));
    linker.link(&post("vk:-100:2", "resident2", 20, OWN_WORDS[1], &[Topic::ColdWater]));
    let mut admin = post(
        "vk:-300:1",
        "-300",
        60,
        "Уважаемые жители! На ул. Ладожской ведутся аварийные работы на водоводе, подача воды будет \
         восстановлена до 18:00.",
        &[Topic::ColdWater],
    );
    admin.official = true;
    admin.is_source = true;
    admin.kind = PostKind::Info;
    admin.source = "vk:-300".into();
    let link = linker.link(&admin);
    assert_eq!(link.incident_id, first.incident_id);
    assert!(!link.is_voice);
}

#[test]
fn two_problems_on_one_street_and_the_same_lift_a_week_later_are_separate() {
    let mut linker = Linker::new(LinkConfig::default());
    let water = linker.link(&post("a", "r1", 0, "нет воды, ул. Мира, д. 5", &[Topic::ColdWater]));
    let pothole = linker.link(&post("b", "r2", 30, "ул. Мира, д. 12 — яма у подъезда", &[Topic::Roads]));
    assert_ne!(water.incident_id, pothole.incident_id);
    // A water outage reaches the next houses at once; hours later another house is another problem.
    let same_outage = linker.link(&post("b2", "r5", 40, "ул. Мира, д. 9 тоже без воды", &[Topic::ColdWater]));
    assert_eq!(same_outage.incident_id, water.incident_id);
    let later = linker.link(&post("b3", "r6", 8 * 60, "ул. Мира, д. 40 — нет воды", &[Topic::ColdWater]));
    assert_ne!(later.incident_id, water.incident_id);
    let lift = linker.link(&post("c", "r3", 60, "лифт не работает ул. Мира 5", &[Topic::Lifts]));
    let week = linker.link(&post("d", "r4", 60 + 7 * 24 * 60, "опять лифт стоит, ул. Мира 5", &[Topic::Lifts]));
    assert_ne!(lift.incident_id, week.incident_id);
}

#[test]
fn short_replies_join_the_post_they_answer() {
    let mut linker = Linker::new(LinkConfig::default());
    let root = linker.link(&post("p", "r1", 0, OWN_WORDS[0], &[Topic::ColdWater]));
    let mut plus = post("p:c1", "r2", 5, "+1", &[]);
    plus.reply_to = Some("p".into());
    let mut also = post("p:c2", "r3", 6, "у нас тоже", &[]);
    also.reply_to = Some("p".into());
    let standalone = post("q", "r4", 7, "+1 и на Терновке", &[]);
    for p in [plus, also, standalone] {
        let l = linker.link(&p);
        assert_eq!(l.incident_id, root.incident_id, "{}", p.uid);
        assert!(l.is_voice);
    }
}

/// A stream with every shape: reposts, copies, own words, templates, replies, two days.
fn stream() -> Vec<LinkPost> {
    let mut out = Vec::new();
    for (i, text) in OWN_WORDS.iter().enumerate() {
        out.push(post(&format!("own:{i}"), &format!("r{i}"), 37 * i as i64, text, &[Topic::ColdWater]));
    }
    for i in 0..12 {
        let text = format!("{TEMPLATE} кв. {i}");
        out.push(post(&format!("tpl:{i}"), &format!("s{i}"), 90 * i, &text, &[Topic::Roads]));
        let mut r = post(&format!("rep:{i}"), &format!("p{i}"), 90 * i + 7, COMPLAINT, &[Topic::ColdWater]);
        r.repost_of = Some("own:0".into());
        r.own_words = false;
        out.push(r);
        let mut reply = post(&format!("own:{i}:c"), &format!("c{i}"), 37 * i + 3, "+1", &[]);
        reply.reply_to = Some(format!("own:{i}"));
        out.push(reply);
        out.push(post(&format!("lift:{i}"), &format!("l{i}"), 600 * i, "лифт не работает на Мира 5", &[Topic::Lifts]));
    }
    out.sort_by(|a, b| (a.published_at, &a.uid).cmp(&(b.published_at, &b.uid)));
    out
}

#[test]
fn a_restart_mid_stream_gives_the_same_incidents_as_an_uninterrupted_run() {
    let posts = stream();
    let whole: Vec<Link> = {
        let mut l = Linker::new(LinkConfig::default());
        posts.iter().map(|p| l.link(p)).collect()
    };
    for cut in [1, posts.len() / 3, posts.len() / 2, posts.len() - 1] {
        let mut before = Linker::new(LinkConfig::default());
        let mut links: Vec<Link> = posts[..cut].iter().map(|p| before.link(p)).collect();
        drop(before);
        let mut after = Linker::new(LinkConfig::default());
        for (p, l) in posts[..cut].iter().zip(&links) {
            after.restore(p, l);
        }
        links.extend(posts[cut..].iter().map(|p| after.link(p)));
        assert_eq!(links, whole, "restart after {cut} posts");
    }
}

/// What a restart really has: only the last 72 h of the store.
#[test]
fn a_restart_from_the_last_72_hours_keeps_the_incidents() {
    let posts = stream();
    let whole: Vec<Link> = {
        let mut l = Linker::new(LinkConfig::default());
        posts.iter().map(|p| l.link(p)).collect()
    };
    for cut in [posts.len() / 2, posts.len() - 3] {
        let newest = posts[cut - 1].published_at;
        let mut after = Linker::new(LinkConfig::default());
        for (p, l) in posts[..cut].iter().zip(&whole) {
            if newest - p.published_at <= Duration::hours(72) {
                after.restore(p, l);
            }
        }
        let resumed: Vec<Link> = posts[cut..].iter().map(|p| after.link(p)).collect();
        assert_eq!(resumed, whole[cut..], "restart after {cut} posts");
    }
}

#[test]
fn a_redelivered_post_in_the_window_gets_its_link_back() {
    let mut linker = Linker::new(LinkConfig::default());
    let posts = stream();
    let first: Vec<Link> = posts.iter().map(|p| linker.link(p)).collect();
    // Within the window: older posts have been forgotten, by design.
    let newest = posts.iter().map(|p| p.published_at).max().unwrap();
    let recent: Vec<usize> =
        (0..posts.len()).filter(|&i| newest - posts[i].published_at < Duration::hours(72)).collect();
    assert!(recent.len() >= 5, "{}", recent.len());
    for i in recent {
        assert_eq!(linker.link(&posts[i]), first[i], "{}", posts[i].uid);
    }
}

#[test]
fn the_window_is_bounded_by_time() {
    let mut linker = Linker::new(LinkConfig::default());
    for day in 0..10 {
        for i in 0..50 {
            let text = format!("{} день {day} пост {i}", OWN_WORDS[i % 20]);
            linker.link(&post(
                &format!("{day}:{i}"),
                &format!("a{i}"),
                day * 24 * 60 + i as i64,
                &text,
                &[Topic::ColdWater],
            ));
        }
    }
    let stats = linker.stats();
    assert!(stats.posts <= 4 * 50, "{stats:?}");
    assert!(stats.clusters <= 4 * 50 && stats.incidents <= 4 * 50, "{stats:?}");
}

fn arbitrary_post() -> impl Strategy<Value = LinkPost> {
    let texts =
        prop::sample::select(vec![COMPLAINT, OWN_WORDS[0], OWN_WORDS[1], OWN_WORDS[7], TEMPLATE, "+1", "", "лифт"]);
    let topics = prop::sample::select(vec![vec![], vec![Topic::ColdWater], vec![Topic::Lifts, Topic::Roads]]);
    (0u32..40, 0u32..6, -300i64..3000, texts, topics, any::<bool>(), 0u8..4).prop_map(
        |(id, author, min, text, topics, flag, rel)| {
            let mut p = post(&format!("u{id}"), &format!("a{author}"), min, text, &topics);
            p.official = flag && author == 0;
            p.municipality = (author % 3 != 0).then(|| PENZA.to_owned());
            match rel {
                1 => p.reply_to = Some(format!("u{}", id / 2)),
                2 => {
                    p.repost_of = Some(format!("u{}", id / 3));
                    p.own_words = flag;
                }
                _ => {}
            }
            p
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn linking_never_panics_and_ignores_batch_order(
        posts in prop::collection::vec(arbitrary_post(), 0..60),
        seed in any::<u64>(),
    ) {
        // Unique uids within a batch (a redelivered uid returns its first link, which is order-bound).
        let mut seen = HashSet::new();
        let posts: Vec<LinkPost> = posts.into_iter().filter(|p| seen.insert(p.uid.clone())).collect();
        let a = Linker::new(LinkConfig::default()).link_batch(&posts);
        let mut order: Vec<usize> = (0..posts.len()).collect();
        let mut s = seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let shuffled: Vec<LinkPost> = order.iter().map(|&i| posts[i].clone()).collect();
        let b = Linker::new(LinkConfig::default()).link_batch(&shuffled);
        for (k, &i) in order.iter().enumerate() {
            prop_assert_eq!(&b[k], &a[i]);
        }
    }
}
