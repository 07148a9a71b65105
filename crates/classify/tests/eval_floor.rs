//! CI floor: macro-F1 of the shipped rules on the project's own labelled set must not drop, and
//! off-topic posts (`offtopic.csv`) must rarely count towards complaint spikes.
//!
//! The set (`tests/fixtures/classify/labeled.csv`) is written by the project and covers all 29
//! topics plus off-topic posts. The floor sits a little below the value measured when the rules
//! last changed (see the crate notes); raise it when the rules improve, never lower it to make a
//! change pass.

mod common;

use common::{fixture, root, shipped};
use otklik_classify::{eval, SourceContext, Writer};
use otklik_model::PostKind;

/// Measured macro 0.943 / micro 0.942 with classifier 0.5.0 (labeled.csv of 2,256 rows), 0.944 / 0.943
/// with 0.6.2 (2,313 rows, 57 of them harder texts for the weak topics), 0.945 / 0.944 with 0.6.3
/// (2,353 rows) and 0.6.4 (2,375 rows), 0.947 / 0.946 with 0.6.5 (2,545 rows, 10 of the 170 added
/// missed on purpose), 0.948 / 0.947 with 0.6.6 (2,627 rows, 6 of the 82 added missed on purpose),
/// 0.948 / 0.946 with 0.6.7 (2,697 rows, 6 of the 70 added missed on purpose), 0.949 / 0.947 with
/// 0.6.8 (2,714 rows); the floor leaves a margin for harmless rule edits.
const MACRO_F1_FLOOR: f64 = 0.92;
const MICRO_F1_FLOOR: f64 = 0.92;

#[test]
fn macro_f1_on_the_labelled_set_stays_above_the_floor() {
    let file = root().join("tests/fixtures/classify/labeled.csv");
    if !file.exists() {
        eprintln!("skipping: {} is absent", file.display());
        return;
    }
    let classifier = shipped(true);
    let report = eval::evaluate(&classifier, std::fs::File::open(&file).unwrap()).expect("the labelled set parses");
    println!("{report}");
    assert!(report.rows >= 2000, "the labelled set shrank to {} rows", report.rows);
    assert!(
        report.macro_avg.f1 >= MACRO_F1_FLOOR,
        "macro-F1 {:.3} fell below the floor {MACRO_F1_FLOOR}",
        report.macro_avg.f1
    );
    assert!(report.micro.f1 >= MICRO_F1_FLOOR, "micro-F1 {:.3} fell below the floor {MICRO_F1_FLOOR}", report.micro.f1);
}

/// Residents' texts of the labelled set that get a topic and count towards spikes (complaint or
/// question). The set mixes residents' reports with announcements and news that name a topic, so
/// the share cannot be 1. On the 2,545 rows of 0.6.5: 1,727 of 2,377 (72.7 %) with 0.6.4's rules,
/// 2,247 of 2,383 (94.3 %) with 0.6.5's; 2,327 of 2,465 (94.4 %) on the 2,627 rows of 0.6.6. Every
/// text moved was read, and each is a resident's complaint or question; none of the off-topic or
/// channel posts moved. These texts taught the cues, so this guards against losing them rather
/// than measuring them (README, «Kind»).
const LABELLED_ALERTING_FLOOR: f64 = 0.90;

#[test]
fn a_residents_text_with_a_topic_mostly_counts_towards_spikes() {
    let classifier = shipped(false);
    let mut reader = fixture("labeled.csv");
    let (mut tagged, mut alerting) = (0usize, 0usize);
    for record in reader.records() {
        let c = classifier.classify_text(&record.expect("well-formed CSV row")[1], &SourceContext::default());
        if !c.topics.is_empty() {
            tagged += 1;
            alerting += usize::from(c.kind.counts_for_alerts());
        }
    }
    let share = alerting as f64 / tagged.max(1) as f64;
    println!("{alerting} of {tagged} labelled texts with a topic count towards spikes ({share:.3})");
    assert!(tagged >= 2000, "only {tagged} labelled texts got a topic");
    assert!(share >= LABELLED_ALERTING_FLOOR, "{share:.3} of labelled texts with a topic count towards spikes");
}

/// Measured 73 of 416 (17.5 %) with classifier 0.5.0, 20 of 416 (4.8 %) once a topic alone stopped
/// making a complaint (0.6.0), 20 of 435 (4.6 %) with 0.6.3 (19 harder posts added, none counted)
/// and 0.6.4; 25 of 465 (5.4 %) with 0.6.5, whose 30 added posts use its new complaint words for
/// other things («нужна няня», «потеряли ключи»): 0.6.4's rules count the same 5 of them.
const OFFTOPIC_ALERTS_CEILING: f64 = 0.07;

#[test]
fn off_topic_posts_rarely_count_as_complaints() {
    let classifier = shipped(true);
    let mut reader = fixture("offtopic.csv");
    let (mut posts, mut alerting, mut tagged) = (0usize, Vec::new(), 0usize);
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let c = classifier.classify_text(&record[1], &SourceContext::default());
        posts += 1;
        tagged += usize::from(!c.topics.is_empty());
        if !c.topics.is_empty() && matches!(c.kind, PostKind::Complaint | PostKind::Question) {
            alerting.push(format!("{:?} {} | {}", c.kind, c.topics[0].topic, &record[1]));
        }
    }
    println!(
        "{posts} off-topic posts: {tagged} with a topic, {} with a topic and a complaint or question kind",
        alerting.len()
    );
    assert!(posts >= 400, "offtopic.csv shrank to {posts} posts");
    let share = alerting.len() as f64 / posts as f64;
    assert!(
        share <= OFFTOPIC_ALERTS_CEILING,
        "{share:.3} of off-topic posts would count towards spikes:\n{}",
        alerting.join("\n")
    );
}

/// A news channel's and an emergency ministry's own pages (`channels.csv`, written by the
/// project): greetings, accident reports, awards are never complaints, while the posts relaying a
/// resident (`relayed` = 1: «пишет подписчик», «анонимно», a quoted complaint) are.
#[test]
fn a_channels_own_posts_are_complaints_only_in_a_residents_voice() {
    let classifier = shipped(false);
    let mut reader = fixture("channels.csv");
    let (mut posts, mut wrong) = (0usize, Vec::new());
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let writer = if &record[2] == "1" { Writer::Source } else { Writer::Resident };
        let c = classifier.classify_text_as(&record[1], &SourceContext::default(), writer);
        posts += 1;
        let alerting = !c.topics.is_empty() && c.kind.counts_for_alerts();
        if alerting != (&record[3] == "1") {
            wrong.push(format!("{:?} {:?} | {}", c.kind, c.topics.first().map(|t| t.topic), &record[1]));
        }
    }
    assert!(posts >= 40, "channels.csv shrank to {posts} posts");
    assert!(wrong.is_empty(), "{} of {posts} channel posts got the wrong kind:\n{}", wrong.len(), wrong.join("\n"));
}

/// The other side of the restraint (`reports.csv`, written by the project): a resident's short
/// report of a fault or a request to fix one («Открыта дверь в подвал», «Необходимо установить…»,
/// «Засохшие берёзы угрожают падением») is a complaint even without «жалоба» or «прошу». Measured
/// when the fault and request cues grew: 42 of 42 rows with a topic (the cues before: 26); with
/// 0.6.3, 60 of 60 (63 rows; all 18 rows added were info with 0.6.2, 17 of them with a topic); with
/// 0.6.4, 80 of 80 (83 rows; 16 of the 20 added were info with 0.6.3's cues); with 0.6.5, 86 of 86
/// (89 rows; 5 of the 6 added were info with 0.6.4's cues).
#[test]
fn a_residents_report_of_a_fault_is_a_complaint() {
    let classifier = shipped(false);
    let mut reader = fixture("reports.csv");
    let (mut posts, mut tagged, mut wrong) = (0usize, 0usize, Vec::new());
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let c = classifier.classify_text(&record[1], &SourceContext::default());
        posts += 1;
        if c.topics.is_empty() {
            continue;
        }
        tagged += 1;
        if !c.kind.counts_for_alerts() {
            wrong.push(format!("{:?} {} | {}", c.kind, c.topics[0].topic, &record[1]));
        }
    }
    assert!(posts >= 40, "reports.csv shrank to {posts} rows");
    assert!(tagged * 100 >= posts * 90, "only {tagged} of {posts} reports got a topic");
    assert!(wrong.is_empty(), "{} of {tagged} reports are not complaints:\n{}", wrong.len(), wrong.join("\n"));
}

/// The object, not the place (`places.csv`, written by the project): each row names a problem
/// and, in a prepositional phrase of place («у лифта», «возле батареи», «рядом с поликлиникой»),
/// a noun of another topic (`place`). That topic is never tagged. Measured with classifier 0.6.0:
/// 0 of 24 place topics tagged, 21 of 24 right topics (0.5.0: 5 and 16); with 0.6.3, 0 and 28 of 31;
/// with 0.6.4, 0 and 30 of 33. Rows `n*` name a street or a stop whose name is another topic's word
/// («ул. Энергетиков», «остановка Школьная»): with 0.6.6, 0 and 47 of 49; without the name marks,
/// 4 of their topics were tagged; `n17`, `n18` leave «улица» out («на Медицинской в
/// Заречном»), and `n17` was healthcare until 0.6.9 read such a name. Rows `c*` name a cause of another topic («после ремонта
/// теплотрассы», «когда меняли трубы», «дерево убрали, а…», «мусоровоз продавил…»): with 0.6.8,
/// 22 of 40 cause topics tagged and 17 right; with 0.6.9, 0 and 37.
#[test]
fn a_place_named_in_passing_carries_no_topic() {
    let classifier = shipped(false);
    let mut reader = fixture("places.csv");
    let (mut rows, mut right, mut wrong) = (0usize, 0usize, Vec::new());
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let c = classifier.classify_text(&record[1], &SourceContext::default());
        let tagged: Vec<&str> = c.topics.iter().map(|h| h.topic.id()).collect();
        rows += 1;
        right += usize::from(tagged.contains(&&record[2]));
        if tagged.contains(&&record[3]) {
            wrong.push(format!("{tagged:?} | {}", &record[1]));
        }
    }
    assert!(rows >= 20, "places.csv shrank to {rows} rows");
    assert!(wrong.is_empty(), "a place's topic was tagged:\n{}", wrong.join("\n"));
    assert!(right * 100 >= rows * 80, "only {right} of {rows} rows got their topic");
}

/// An explicit other region (`regions.csv`, written by the project): «…Тамбовской области»,
/// «(Самарская обл.)», a big city of another region. Such a post gets no municipality — not the
/// Penza namesake of its village — and the `out_of_region` flag; a post naming Penza never does.
#[test]
fn another_region_blocks_a_penza_namesake() {
    let classifier = shipped(true);
    let mut reader = fixture("regions.csv");
    let (mut outside, mut wrong) = (0usize, Vec::new());
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let c = classifier.classify_text(&record[0], &SourceContext::default());
        let expected = &record[1] == "1";
        outside += usize::from(expected);
        if c.out_of_region != expected || (expected && c.municipality.is_some()) {
            wrong.push(format!("flag {} {:?} | {}", c.out_of_region, c.municipality.map(|m| m.name), &record[0]));
        }
    }
    assert!(outside >= 15, "regions.csv has only {outside} out-of-region rows");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
