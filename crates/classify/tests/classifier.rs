//! Behaviour of the shipped rules and of the classifier as a whole: topics on texts we wrote for
//! these tests (positive and negative), kind, language, explanations, load errors and robustness.

use otklik_classify::{Classifier, SourceContext};
use otklik_model::{MunicipalityEvidence, PostKind, Topic};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| {
        let g = root().join("config/gazetteer/gazetteer.tsv");
        Classifier::load(&root().join("config/topics"), g.exists().then_some(g.as_path())).expect("shipped rules load")
    })
}

fn resident() -> SourceContext {
    SourceContext::default()
}

fn topics(text: &str) -> Vec<Topic> {
    classifier().classify_text(text, &resident()).topics.iter().map(|h| h.topic).collect()
}

#[track_caller]
fn assert_topic(text: &str, topic: Topic) {
    let got = topics(text);
    assert!(got.contains(&topic), "{text:?}: expected {topic}, got {got:?}");
}

#[track_caller]
fn assert_not_topic(text: &str, topic: Topic) {
    let got = topics(text);
    assert!(!got.contains(&topic), "{text:?}: did not expect {topic}, got {got:?}");
}

#[test]
fn every_taxonomy_topic_has_a_positive_example() {
    let cases: &[(&str, Topic)] = &[
        ("у нас в квартире батареи ледяные, отопления нет", Topic::Heating),
        ("вторую неделю без горячей воды, сколько можно", Topic::HotWater),
        ("из крана течет ржавая вода, пить невозможно", Topic::ColdWater),
        ("в подвале опять прорвало канализацию, вонь на весь дом", Topic::Sewerage),
        ("с утра отключили электричество во всем квартале", Topic::Electricity),
        ("в подъезде сильный запах газа, вызвали газовую службу", Topic::Gas),
        ("лифт не работает уже неделю, пожилые не могут выйти", Topic::Lifts),
        ("крыша протекает, на потолке пятна", Topic::BuildingMaintenance),
        ("в квитанции за октябрь начислили в два раза больше", Topic::UtilityBilling),
        ("управляющая компания ничего не делает, заявки игнорирует", Topic::ManagementCompany),
        ("дворник не появлялся месяц, во дворе кругом мусор", Topic::CourtyardCleaning),
        ("контейнеры переполнены, мусор не вывозят неделю", Topic::Garbage),
        ("тротуары не чистят от снега, везде гололед", Topic::SnowIce),
        ("на дороге огромные ямы, асфальт разбит", Topic::Roads),
        ("на нашей улице не горят фонари, темно", Topic::StreetLighting),
        ("на детской площадке сломаны качели", Topic::Landscaping),
        ("аварийное дерево нависает над домом, просим спилить", Topic::Trees),
        ("стая бездомных собак кидается на детей", Topic::StrayAnimals),
        ("автобус 12 ходит раз в час, невозможно уехать", Topic::PublicTransport),
        ("в поликлинике не записаться к терапевту", Topic::Healthcare),
        ("в детском саду нет мест, очередь второй год", Topic::Education),
        ("пенсию задерживают уже второй месяц", Topic::SocialSupport),
        ("завод опять ночью дымит, выбросы, нечем дышать", Topic::Ecology),
        ("дом признан аварийным, а расселение все откладывают", Topic::Construction),
        ("нет интернета и мобильная связь не ловит", Topic::Communications),
        ("ночью был пожар в сарае, приезжало мчс", Topic::PublicSafety),
        ("у остановки незаконная торговля с машин", Topic::Trade),
        ("в доме культуры отменили все кружки для детей", Topic::CultureSport),
        ("в мфц очередь на три часа, окна закрыты", Topic::PublicServices),
    ];
    assert_eq!(cases.len(), Topic::ALL.len());
    for &(text, topic) in cases {
        assert_topic(text, topic);
    }
}

#[test]
fn inflection_abbreviations_and_noise_are_handled() {
    // Case forms, shouty capitals, stretched letters, a Latin look-alike and emoji.
    assert_topic("НЕТ ОТОПЛЕНИЯ!!! 🥶🥶", Topic::Heating);
    assert_topic("без oтопления третий день", Topic::Heating);
    assert_topic("холоднооо, батареи не греют", Topic::Heating);
    assert_topic("гвс нет с утра", Topic::HotWater);
    assert_topic("хвс слабый напор", Topic::ColdWater);
    assert_topic("тко не вывозят", Topic::Garbage);
}

#[test]
fn exclusions_and_context_keep_false_positives_out() {
    // A hotline is not hot water; «в связи с» is not communications.
    assert_not_topic("звоните на горячую линию администрации", Topic::HotWater);
    assert_not_topic("в связи с ремонтом кабинет закрыт", Topic::Communications);
    // A school or a shop as a landmark is not about education or trade.
    assert_not_topic("яма на дороге напротив школы", Topic::Education);
    assert_not_topic("возле магазина огромная лужа на тротуаре", Topic::Trade);
    // Entrance lighting belongs to the building, not to the street lights.
    let t = topics("в подъезде не горит свет на третьем этаже");
    assert!(t.contains(&Topic::BuildingMaintenance) && !t.contains(&Topic::StreetLighting), "{t:?}");
    // Snow on a roof is snow.
    let t = topics("с крыши свисают огромные сосульки");
    assert!(t.contains(&Topic::SnowIce) && !t.contains(&Topic::BuildingMaintenance), "{t:?}");
    // Place words say where, not what: they decide only when nothing else does.
    assert_eq!(topics("в подъезде батареи холодные, отопления нет"), [Topic::Heating]);
    assert_topic("второй подъезд, пятый этаж, почините наконец", Topic::BuildingMaintenance);
    // Plain chatter has no topic.
    assert!(topics("всех с праздником, хорошего вечера друзья").is_empty());
    assert!(topics("").is_empty());
}

#[test]
fn kind_comes_from_wording_and_source() {
    let kind = |text: &str, official: bool| {
        classifier().classify_text(text, &SourceContext { official, municipality: None }).kind
    };
    assert_eq!(kind("третий день нет горячей воды, безобразие", false), PostKind::Complaint);
    assert_eq!(kind("подскажите, когда дадут отопление", false), PostKind::Question);
    assert_eq!(kind("спасибо коммунальщикам, быстро починили трубу", false), PostKind::Gratitude);
    assert_eq!(kind("предлагаю поставить во дворе лавочки", false), PostKind::Suggestion);
    assert_eq!(
        kind("Уважаемые жители! Информируем о плановом отключении горячей воды по графику.", false),
        PostKind::Info
    );
    // An administration's own post is info, even with complaint words…
    assert_eq!(kind("Отопительный сезон начнется по графику, батареи прогреют за неделю", true), PostKind::Info);
    // …unless it relays a resident.
    assert_eq!(kind("Жители жалуются: в доме нет горячей воды третий день", true), PostKind::Complaint);
}

/// A service gone, a burst, help that does not come or comes hours late: a resident's complaint,
/// not news (these read as `info` with 0.6.0, and incident linking lost their voices).
#[test]
fn a_service_gone_or_help_not_coming_is_a_complaint() {
    for text in [
        "ул. Мира без света с обеда",
        "на Чкалова прорвало трубу, хлещет на дорогу",
        "скорая не едет к бабушке",
        "скорую к деду ждали 3 часа",
        "в диспетчерской водоканала трубку не берут, воды нет",
    ] {
        let c = classifier().classify_text(text, &resident());
        assert_eq!(c.kind, PostKind::Complaint, "{text}: {c:?}");
    }
}

#[test]
fn language_is_tagged_and_non_russian_posts_get_no_russian_topics() {
    let c = classifier().classify_text("Немає гарячої води вже третій день", &resident());
    assert_eq!(c.language, "uk");
    assert!(c.topics.is_empty());
    let c = classifier().classify_text("Няма гарачай вады ўжо тыдзень", &resident());
    assert_eq!(c.language, "be");
    let c = classifier().classify_text("нет горячей воды", &resident());
    assert_eq!(c.language, "ru");
    assert_eq!(c.topics[0].topic, Topic::HotWater);
    assert_eq!(classifier().classify_text("👍👍👍", &resident()).language, "und");
}

#[test]
fn source_binding_is_the_fallback_for_municipality() {
    let bound = SourceContext { official: false, municipality: Some("56701000".into()) };
    let c = classifier().classify_text("во дворе не вывозят мусор", &bound);
    let m = c.municipality.expect("the binding applies");
    assert_eq!(m.oktmo, "56701000");
    assert_eq!(m.evidence, MunicipalityEvidence::Source);
    assert!(classifier().classify_text("во дворе не вывозят мусор", &resident()).municipality.is_none());
}

#[test]
fn explanation_shows_rules_spans_and_rejections() {
    let e = classifier().explain_text("Третий день НЕТ горячей воды, а на горячую линию не дозвониться", &resident());
    assert!(e.normalized.starts_with(" третий день нет горячей воды"));
    let hit = e.rules.iter().find(|r| r.target == "hot_water" && !r.excluded).expect("a hot water rule fired");
    let span = &hit.spans[0];
    assert_eq!(&e.normalized[span.start..span.end], span.text);
    assert!(e.rules.iter().any(|r| r.rule == "hot_water.exclude"), "the hotline exclusion shows: {:?}", e.rules);
    assert_eq!(e.classification.topics[0].topic, Topic::HotWater);
    assert!(e.topics.iter().any(|t| t.topic == Topic::HotWater && t.accepted));
    let json = serde_json::to_value(&e).unwrap();
    assert!(json["rules"].as_array().is_some_and(|r| !r.is_empty()));
}

#[test]
fn version_names_rules_and_gazetteer() {
    let v = classifier().version();
    assert!(v.starts_with(otklik_classify::CLASSIFIER_VERSION), "{v}");
    assert_eq!(classifier().classify_text("x", &resident()).classifier_version, v);
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A complete, valid rule set: one trivial topic per taxonomy id, in `base.toml`.
fn valid_rules(dir: &Path, skip: &[Topic]) {
    let mut text = String::new();
    for t in Topic::ALL.iter().filter(|t| !skip.contains(t)) {
        text.push_str(&format!(
            "[[topic]]\nid = \"{}\"\n[[topic.rule]]\nid = \"r\"\npatterns = [\"{}слово\"]\n\n",
            t.id(),
            t.id().len()
        ));
    }
    write(dir, "base.toml", &text);
    std::fs::copy(root().join("config/topics/kinds.toml"), dir.join("kinds.toml")).expect("the shipped kinds.toml");
}

fn load_err(dir: &Path) -> String {
    match Classifier::load(dir, None) {
        Ok(_) => panic!("expected a load error"),
        Err(e) => {
            assert!(!e.is_retryable());
            e.to_string()
        }
    }
}

#[test]
fn a_minimal_valid_rule_set_loads() {
    let dir = tempfile::tempdir().unwrap();
    valid_rules(dir.path(), &[]);
    Classifier::load(dir.path(), None).expect("valid");
}

#[test]
fn load_errors_name_file_and_line_and_list_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    valid_rules(dir.path(), &[Topic::Heating, Topic::Gas]);
    write(
        dir.path(),
        "bad.toml",
        r#"# line 1
[[topic]]
id = "heat"

[[topic]]
id = "heating"
[[topic.rule]]
id = "bad_regex"
regex = ["(unclosed"]
[[topic.rule]]
id = "bad_weight"
weight = 0.0
patterns = ["отопление"]
[[topic.rule]]
id = "nothing"

[[topic]]
id = "gas"
"#,
    );
    let err = load_err(dir.path());
    assert!(err.contains("bad.toml:3: unknown topic id \"heat\""), "{err}");
    assert!(err.contains("bad.toml:9: regex \"(unclosed\" of rule heating.bad_regex does not compile"), "{err}");
    assert!(err.contains("bad.toml:12: weight 0 of rule heating.bad_weight"), "{err}");
    assert!(err.contains("bad.toml:15: rule heating.nothing has no patterns and no regex"), "{err}");
    assert!(err.contains("bad.toml:18: topic gas has no rules"), "{err}");
    assert!(err.contains("(5 problems)"), "{err}");
}

#[test]
fn load_errors_cover_syntax_patterns_duplicates_and_missing_topics() {
    let dir = tempfile::tempdir().unwrap();
    valid_rules(dir.path(), &[Topic::Trade]);
    write(
        dir.path(),
        "dup.toml",
        "[[topic]]\nid = \"heating\"\n[[topic.rule]]\nid = \"x\"\npatterns = [\"~3 вода\"]\n",
    );
    write(dir.path(), "syntax.toml", "[[topic]]\nid = \"trade\"\nthreshold = \n");
    let err = load_err(dir.path());
    assert!(err.contains("dup.toml:2: topic heating is already defined at"), "{err}");
    assert!(err.contains("syntax.toml:3:"), "{err}");
    assert!(err.contains("no rules for topic trade"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    valid_rules(dir.path(), &[Topic::Trade]);
    write(dir.path(), "p.toml", "[[topic]]\nid = \"trade\"\n\n[[topic.rule]]\nid = \"x\"\npatterns = [\"ok\", \"~3 вода\"]\nsuppress = [\"nope\"]\n");
    let err = load_err(dir.path());
    assert!(err.contains("p.toml:6: pattern \"~3 вода\" of rule trade.x: gap operator"), "{err}");
    assert!(err.contains("p.toml:7: suppress in rule trade.x: unknown topic id \"nope\""), "{err}");
}

#[test]
fn missing_directory_and_bad_gazetteer_are_errors() {
    let err = load_err(Path::new("/nonexistent/otklik/topics"));
    assert!(err.contains("/nonexistent/otklik/topics"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    valid_rules(dir.path(), &[]);
    let err = match Classifier::load(dir.path(), Some(&dir.path().join("missing.tsv"))) {
        Ok(_) => panic!("a missing gazetteer must fail"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("missing.tsv"), "{err}");
}

#[test]
fn huge_and_odd_texts_classify_without_panicking() {
    let big = "нет горячей воды 🔥 ".repeat(60_000); // ≈ 1.4 MB
    let c = classifier().classify_text(&big, &resident());
    assert_eq!(c.topics[0].topic, Topic::HotWater);
    for text in ["", " ", "\u{0}", "-", "/", "12/", "а-", "\u{feff}ё", "ﬁ", "İ", "ǅ", "\u{301}\u{301}"] {
        classifier().classify_text(text, &resident());
        classifier().explain_text(text, &resident());
    }
}

mod property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_random_unicode(text in "\\PC{0,400}") {
            let c = classifier().classify_text(&text, &resident());
            prop_assert!(c.topics.windows(2).all(|w| w[0].score >= w[1].score));
            let e = classifier().explain_text(&text, &resident());
            for r in &e.rules {
                for s in &r.spans {
                    prop_assert_eq!(&e.normalized[s.start..s.end], s.text.as_str());
                }
            }
        }

        #[test]
        fn never_panics_on_russian_like_noise(words in proptest::collection::vec("[а-яёА-ЯЁa-z0-9 ./\\-?!]{0,12}", 0..60)) {
            let text = words.join(" ");
            classifier().classify_text(&text, &SourceContext { official: true, municipality: Some("56701000".into()) });
        }
    }
}

#[test]
fn private_business_is_not_tagged_on_a_weak_word() {
    let c = classifier();
    for text in [
        "Продаю щенков, привиты, документы есть",
        "сдам квартиру на длительный срок, без животных",
        "потерялся кот, помогите найти!",
    ] {
        let got = c.classify_text(text, &SourceContext::default());
        assert!(got.topics.is_empty(), "{text}: {:?}", got.topics);
        assert_eq!(got.kind, PostKind::Info, "{text}");
    }
    // A real problem in the same post still counts.
    let got = c.classify_text("продаю квартиру, а в подъезде третий месяц не работает лифт", &SourceContext::default());
    assert_eq!(got.topics.first().map(|t| t.topic), Some(Topic::Lifts));
}

/// A channel's own post (`author.is_source`) names a fault in the news voice; the same words from
/// a resident, or relayed by the channel, are a complaint.
#[test]
fn a_post_by_the_source_itself_needs_a_residents_voice() {
    let post = |text: &str, is_source: bool| -> otklik_model::RawPost {
        serde_json::from_value(serde_json::json!({
            "schema": 1, "uid": "tg:citynews:7", "platform": "telegram", "source_id": "tg:citynews",
            "author": {"is_source": is_source}, "published_at": "2026-01-10T08:00:00Z",
            "collected_at": "2026-01-10T08:01:00Z", "text": text,
        }))
        .expect("a valid RawPost")
    };
    let news = "На Окружной опять прорыв трубы, нет воды в трёх домах";
    assert_eq!(classifier().classify(&post(news, true), &resident()).kind, PostKind::Info);
    assert_eq!(classifier().classify(&post(news, false), &resident()).kind, PostKind::Complaint);
    let relayed = "Пишет подписчица: на Окружной опять нет воды, управляющая компания молчит";
    assert_eq!(classifier().classify(&post(relayed, true), &resident()).kind, PostKind::Complaint);
}

/// A topic alone is no complaint: a news line that names heating is `info`; a fault named makes
/// a resident's short report a complaint.
#[test]
fn a_topic_alone_is_no_complaint() {
    let c = classifier().explain_text("Отопительный сезон в городе начнётся в понедельник", &resident());
    assert_eq!(c.classification.kind, PostKind::Info, "{}", c.kind_reason);
    for report in ["Яма на дороге у школы", "Холодные батареи в квартире", "Не убран снег во дворе"]
    {
        let c = classifier().explain_text(report, &resident());
        assert!(!c.classification.topics.is_empty(), "{report}");
        assert_eq!(c.classification.kind, PostKind::Complaint, "{report}: {}", c.kind_reason);
    }
}

/// `--explain` names the nouns read as places, and marks a rule that matched only there.
#[test]
fn explain_shows_the_nouns_read_as_places() {
    let e = classifier().explain_text("Грязные стены у лифта, никто не моет", &resident());
    let places: Vec<&str> = e.locations.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(places, ["лифта"]);
    assert!(!e.classification.topics.iter().any(|h| h.topic == Topic::Lifts), "{:?}", e.classification.topics);
    let e = classifier().explain_text("Рядом с лифтом разбито окно, дует", &resident());
    assert!(e.rules.iter().any(|h| h.target == "lifts" && h.located), "{:?}", e.rules);
    assert!(!e.classification.topics.iter().any(|h| h.topic == Topic::Lifts));
    // The object itself is no place.
    let e = classifier().explain_text("Лифт не работает третий день", &resident());
    assert!(e.locations.is_empty());
    assert_eq!(e.classification.topics[0].topic, Topic::Lifts);
}

/// An event named as the cause («после ремонта водопровода») says why, not what: the post is
/// about the problem it led to, and `--explain` names the cause's words. With nothing else named,
/// the cause is the subject.
#[test]
fn a_cause_yields_to_the_problem_it_led_to() {
    let text = "После ремонта водопровода дорожное полотно до сих пор не восстановлено";
    let e = classifier().explain_text(text, &resident());
    let causes: Vec<&str> = e.causes.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(causes, ["ремонта", "водопровода"]);
    assert!(e.rules.iter().any(|h| h.target == "cold_water" && h.caused), "{:?}", e.rules);
    assert_eq!(topics(text), [Topic::Roads]);
    assert_eq!(topics("когда чистили снег, трактор снёс скамейку на детской площадке"), [Topic::Landscaping]);
    assert_eq!(topics("после отключения электричества лифт так и не запустился"), [Topic::Lifts]);
    assert_topic("после ремонта теплотрассы прошёл месяц, а подрядчик пропал", Topic::Heating);
    // «из-за» + a thing is the fault itself.
    assert_topic("из-за ямы на дороге пробил колесо", Topic::Roads);
}

/// A rule with `place = true` names a place that is its topic: litter «у контейнеров» is the
/// container site's state.
#[test]
fn a_place_that_is_the_topic_still_counts() {
    assert_topic("строительный мусор опять свалили у контейнеров", Topic::Garbage);
}

/// The post-kind cues load from `kinds.toml` like the rules: every problem with its line, every
/// cue required.
#[test]
fn kind_cue_problems_are_reported_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    valid_rules(dir.path(), &[]);
    let shipped = std::fs::read_to_string(dir.path().join("kinds.toml")).unwrap();
    let without_laughter = shipped.replace("id = \"laughter\"", "id = \"laughs\"");
    write(dir.path(), "kinds.toml", &format!("{without_laughter}\n[[cue]]\nid = \"fault\"\npatterns = [\"~2 яма\"]\n"));
    let err = load_err(dir.path());
    assert!(err.contains("unknown cue id \"laughs\""), "{err}");
    assert!(err.contains("cue fault is defined twice"), "{err}");
    assert!(err.contains("no patterns for cue laughter"), "{err}");
    let line = shipped.lines().position(|l| l.contains("id = \"laughter\"")).unwrap() + 1;
    assert!(err.contains(&format!("kinds.toml:{line}: unknown cue id")), "{err}");

    write(dir.path(), "kinds.toml", &shipped.replacen("\"=нет\"", "\"~3 нет\"", 1));
    let err = load_err(dir.path());
    assert!(err.contains("pattern \"~3 нет\" of cue complaint"), "{err}");

    std::fs::remove_file(dir.path().join("kinds.toml")).unwrap();
    assert!(load_err(dir.path()).contains("no kinds.toml"));
}

/// The flag reaches the classification and `--explain` says why there is no municipality, even
/// for a source bound to a Penza district.
#[test]
fn another_region_means_no_municipality_and_a_flag() {
    let bound = SourceContext { official: false, municipality: Some("56701000".into()) };
    let e = classifier().explain_text("В Сосновке Тамбовской области нет воды", &bound);
    assert!(e.classification.out_of_region);
    assert!(e.classification.municipality.is_none());
    assert!(e.municipality_evidence.iter().any(|l| l.contains("тамбовской области")), "{:?}", e.municipality_evidence);
    let c = classifier().classify_text("В Пензе на Московской нет воды", &resident());
    assert!(!c.out_of_region && c.municipality.is_some());
}

/// Two topics of one post: a strong fault and a weak company topic named before it.
fn fault_and_company(dir: &Path, alongside: bool) -> Classifier {
    valid_rules(dir, &[Topic::Lifts, Topic::ManagementCompany]);
    let rules = format!(
        "[[topic]]\nid = \"lifts\"\n[[topic.rule]]\nid = \"lift\"\nweight = 3.0\npatterns = [\"=лифт\"]\n\n\
         [[topic]]\nid = \"management_company\"\nalongside = {alongside}\n\
         [[topic.rule]]\nid = \"conduct\"\npatterns = [\"=ук ~2 =не ~1 =отвечает\"]\n"
    );
    write(dir, "pair.toml", &rules);
    Classifier::load(dir, None).expect("valid")
}

#[test]
fn an_alongside_topic_stands_beside_a_stronger_topic_named_later() {
    let text = "ук не отвечает, а лифт стоит";
    let tagged = |c: &Classifier| c.classify_text(text, &resident()).topics.iter().map(|h| h.topic).collect::<Vec<_>>();
    let dir = tempfile::tempdir().unwrap();
    let got = tagged(&fault_and_company(dir.path(), true));
    assert!(got.contains(&Topic::Lifts) && got.contains(&Topic::ManagementCompany), "{got:?}");
    // Without it, the company yields: a third of the fault's score.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(tagged(&fault_and_company(dir.path(), false)), vec![Topic::Lifts]);
}

#[test]
fn the_company_is_tagged_beside_a_fault_only_when_blamed() {
    for text in [
        "течёт крыша над пятым этажом, управляющая компания на заявки не реагирует",
        "нет горячей воды неделю, ТСЖ игнорирует наши обращения",
        "окна в подъезде разбиты, УК ничего не делает",
    ] {
        assert_topic(text, Topic::ManagementCompany);
    }
    assert_topic("окна в подъезде разбиты, УК ничего не делает", Topic::BuildingMaintenance);
    assert_not_topic(
        "прошу обязать управляющую компанию отремонтировать крышу над пятым этажом",
        Topic::ManagementCompany,
    );
}

/// The first-named subject wins over a setting named later («яма у остановки»), but subjects
/// joined by «и», «ни… ни» are named together and both kept.
#[test]
fn subjects_named_together_are_both_kept() {
    let mut got = topics("Нет горячей воды и отопления третий день");
    got.sort();
    assert_eq!(got, [Topic::Heating, Topic::HotWater]);
    let mut got = topics("Нет ни горячей, ни холодной воды с утра");
    got.sort();
    assert_eq!(got, [Topic::HotWater, Topic::ColdWater]);
    // «ни… ни» keeps the second subject even when the first has more evidence («нет ни
    // отопления» is two heating rules, «горячей воды» one hot-water rule).
    let mut got = topics("Нет ни отопления, ни горячей воды в доме 5 по Мира");
    got.sort();
    assert_eq!(got, [Topic::Heating, Topic::HotWater]);
    assert_eq!(topics("Огромная яма у остановки автобуса"), [Topic::Roads]);
}
