//! Municipality resolution against the shipped gazetteer (config/gazetteer/gazetteer.tsv):
//! case forms, type words, ambiguity, common words, conflicts.

use otklik_classify::gazetteer::{Gazetteer, MentionKind, RejectReason};
use std::path::PathBuf;
use std::sync::OnceLock;

fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/gazetteer/gazetteer.tsv");
        Gazetteer::load(&path).expect("shipped gazetteer loads")
    })
}

fn oktmo(text: &str) -> Option<String> {
    gazetteer().resolve(text).chosen.map(|m| m.oktmo)
}

#[track_caller]
fn assert_place(text: &str, expected: &str) {
    let r = gazetteer().resolve(text);
    assert_eq!(
        r.chosen.as_ref().map(|m| m.oktmo.as_str()),
        Some(expected),
        "{text:?}\n{}",
        serde_json::to_string_pretty(&r).unwrap()
    );
}

#[track_caller]
fn assert_none(text: &str) {
    let r = gazetteer().resolve(text);
    assert!(r.chosen.is_none(), "{text:?} should name no municipality\n{}", serde_json::to_string_pretty(&r).unwrap());
}

const PENZA: &str = "56701000";
const KUZNETSK: &str = "56705000";
const ZARECHNY: &str = "56734000";
const SERDOBSKY: &str = "56656000";
const NIZHNELOMOVSKY: &str = "56651000";
const MALOSERDOBINSKY: &str = "56644000";
const BELINSKY: &str = "56612000";
const BESSONOVSKY: &str = "56613000";
const PENZENSKY: &str = "56655000";
const KUZNETSKY: &str = "56640000";
const KAMENSKY: &str = "56629000";

#[test]
fn case_forms_of_towns() {
    assert_place("в Пензе опять прорвало трубу", PENZA);
    assert_place("жители Пензы жалуются на отопление", PENZA);
    assert_place("еду в пензу завтра", PENZA);
    assert_place("не было воды за всю зиму Кузнецка", KUZNETSK);
    assert_place("в Кузнецке нет света", KUZNETSK);
    assert_place("г. Заречный, ул. Ленина 5 — нет горячей воды", ZARECHNY);
    assert_place("у нас Заречного никто не слышит", ZARECHNY);
    assert_place("в Нижнем Ломове ямы на дорогах", NIZHNELOMOVSKY);
    assert_place("администрация Малой Сердобы молчит", MALOSERDOBINSKY);
    assert_place("в Белинском закрыли поликлинику", BELINSKY);
    assert_place("Сердобск: опять отключили газ", SERDOBSKY);
    assert_place("в Сердобске опять отключили газ", SERDOBSKY);
}

#[test]
fn district_forms() {
    assert_place("жители Сердобского района", SERDOBSKY);
    assert_place("в Сердобском районе нет дорог", SERDOBSKY);
    assert_place("Сердобский р-н, с. Пригородное", SERDOBSKY);
    assert_place("по Сердобскому району", SERDOBSKY);
    assert_place("глава Сердобского муниципального района", SERDOBSKY);
    assert_place("Кузнецкого р-на", KUZNETSKY);
    assert_place("в Октябрьском районе опять нет отопления", PENZA);
}

#[test]
fn latin_lookalikes_and_yo() {
    // Latin «e» and «a» in «Пeнзa».
    assert_place("в Пeнзe отключили воду", PENZA);
    assert_place("Малосердобинский райoн", MALOSERDOBINSKY);
}

#[test]
fn ambiguous_settlement_needs_a_second_clue() {
    let r = gazetteer().resolve("в Сосновке третий день нет воды");
    assert!(r.chosen.is_none());
    // Eight Penza districts have a Сосновка, and two other regions a town of that name.
    assert!(
        r.rejected
            .iter()
            .any(|x| matches!(x.reason, RejectReason::Ambiguous | RejectReason::OtherRegionTown)
                && x.candidates.len() > 3),
        "{r:?}"
    );
    assert_place("с. Сосновка Бессоновского района, нет воды", BESSONOVSKY);
    assert_place("Сосновка (Бессоновский р-н) — снова авария", BESSONOVSKY);
    // The clue can come after the name and be a bare adjective.
    assert_place("Сосновка, бессоновская администрация не отвечает", BESSONOVSKY);
}

#[test]
fn common_words_need_context() {
    assert_none("каменка в бане треснула");
    assert_none("Каменка в бане треснула");
    assert_none("на заре вышли в поле");
    assert_place("в Каменке нет воды", KAMENSKY);
    assert_place("г. Каменка, нет воды", KAMENSKY);
    assert_place("жалоба из Каменки", KAMENSKY);
    // A capital letter mid-sentence is a name.
    assert_place("опять Каменка без воды", KAMENSKY);
    let r = gazetteer().resolve("каменка в бане треснула");
    assert!(r.rejected.iter().any(|x| x.reason == RejectReason::CommonWord), "{r:?}");
}

#[test]
fn a_case_form_that_is_an_everyday_word_needs_context() {
    // «выше» is also the locative of Выша (Земетчинский район), «туже» of Тужа (Кировская обл.).
    assert_none("сугробы выше машин, парковаться негде");
    assert_none("Выше по улице третий день нет воды");
    assert_none("затяните потуже, а лучше туже некуда");
    assert_place("в Выше нет света", "56623000");
}

#[test]
fn a_name_before_a_street_noun_is_the_street() {
    // Without a comma, «Майская улица» names a street; with one, «Майский, ул. Садовая» is an address.
    assert_none("на Ленинском проспекте яма");
    assert_none("Заречная улица вся в ямах");
    assert_place("г. Заречный, ул. Ленина 5 — нет горячей воды", ZARECHNY);
    // A comma after the street word ends the street's name: the town that follows is the town.
    assert_place("Окружная улица, Пенза — по ночам гоняют фуры", PENZA);
}

#[test]
fn person_names_are_not_towns() {
    assert_none("музей Белинского закрыт на ремонт");
    assert_none("на ул. Белинского прорвало трубу");
    // The critic is rejected; the city he wrote about still counts.
    assert_place("Белинский писал о Пензе много", PENZA);
    // A district adjective after a title or office is a surname.
    assert_none("депутат Никольский обещал отремонтировать дорогу");
    assert_none("Обращаемся к депутату Спасскому: нет воды");
    assert_none("глава администрации Каменский не отвечает");
    assert_none("жалоба главе Каменскому осталась без ответа");
    // An office's adjective after a title still names its place.
    assert_place("директор Сердобской школы не отвечает на жалобы", "56656000");
    assert_place("начальник Кузнецкого водоканала не отвечает", "56705000");
    assert_place("Никольский район: депутат обещал дорогу", "56653000");
    assert_place("мэрия Кузнецка не отвечает, кузнецкие дороги разбиты", "56705000");
}

#[test]
fn penza_city_versus_penza_district() {
    assert_place("Пенза, ул. Московская", PENZA);
    assert_place("в Пензенском районе нет автобусов", PENZENSKY);
    assert_place("с. Кондоль Пензенского района", PENZENSKY);
    assert_none("в Пензе и Пензенском районе выпал снег");
    // The region is not a municipality, and does not conflict with its capital.
    assert_none("Пензенская область получит деньги на дороги");
    assert_place("Пенза, Пензенская область", PENZA);
}

#[test]
fn conflicting_mentions_give_none() {
    // A route is two places; «из X в Y» is where the writer goes, and Y is the problem's place.
    assert_none("маршрут Пенза — Лунино отменили");
    assert_place("из Кузнецка в Сердобск ходит один автобус", SERDOBSKY);
    assert_none("в Пензе и в Заречном отключат воду");
    assert_none("в Кузнецке, Кузнецкий район");
    // Two districts sharing a plural noun.
    assert_none("в Земетчинском и Башмаковском районах дороги разбиты");
    // Same municipality twice is fine.
    assert_place("Пенза. В Арбеково опять нет воды", PENZA);
}

#[test]
fn the_writers_life_elsewhere_and_a_routes_end_step_aside() {
    const BESSONOVSKY: &str = "56613000";
    const MOKSHANSKY: &str = "56645000";
    const KOLYSHLEYSKY: &str = "56633000";
    // Where the writer works, studies or is registered is not where the problem is.
    assert_place("работаю в Заречном, живу в Сосновке Бессоновского р-на, дорогу к школе не чистят", BESSONOVSKY);
    assert_place("прописка в Пензе, живем в Мокшане, в поликлинике не прикрепляют", MOKSHANSKY);
    // …unless a contrast turns to it and the text stays there.
    assert_place("Живу в Заречном, а работаю в Пензе. В Пензе на Окружной пробка", PENZA);
    // A route's end gives way to a place named on its own; alone, it is the place.
    assert_place("из Бессоновки в Пензу автобус не пришел, на остановке в Бессоновке стояли час", BESSONOVSKY);
    assert_place("из Кузнецка в Сердобск ходит один автобус", SERDOBSKY);
    // The writer's home wins over places only visited when the text comes back to it.
    assert_place("Живу в Колышлее. Ездили к сестре в Сердобск, у них дороги сделали. А у нас ямы", KOLYSHLEYSKY);
    assert_place("Я из Кузнецка, приехала в Пензу в поликлинику — очередь три часа", PENZA);
}

#[test]
fn other_regions() {
    assert_place("в Саранске открыли новую школу", "89701000");
    assert_place("в Казани пробки", "92701000");
    assert_place("Набережные Челны, нет воды", "92730000");
    assert_place("из Йошкар-Олы", "88701000");
    // A Penza village never wins against another region's town of the same name.
    let r = gazetteer().resolve("в Ртищево сломался мост");
    assert!(r.chosen.is_none(), "{r:?}");
    assert_none("из Пензы в Ртищево");
    // A qualifier in any case makes a namesake of another place.
    assert_none("живет в Спасске-Дальнем, у них отопление еле греет");
    assert_place("Ртищево, Саратовская область", "63641000");
}

#[test]
fn mentions_carry_spans_and_evidence() {
    let text = "Вчера в Нижнем Ломове, Нижнеломовский район";
    let r = gazetteer().resolve(text);
    assert_eq!(r.chosen.as_ref().unwrap().oktmo, NIZHNELOMOVSKY);
    let town = r.mentions.iter().find(|m| m.kind == MentionKind::Town).unwrap();
    assert_eq!(&text[town.span.clone()], "Нижнем Ломове");
    assert_eq!(town.name.as_deref(), Some("Нижний Ломов"));
    let district = r.mentions.iter().find(|m| m.kind == MentionKind::District).unwrap();
    assert_eq!(district.surface, "Нижнеломовский район");
    assert_eq!(r.chosen.unwrap().name, "Нижнеломовский район");
}

#[test]
fn municipality_lookup() {
    let g = gazetteer();
    assert_eq!(g.municipality(PENZA).unwrap().name, "город Пенза");
    assert_eq!(g.municipality(PENZENSKY).unwrap().name, "Пензенский район");
    assert_eq!(g.municipality(ZARECHNY).unwrap().name, "ЗАТО город Заречный");
    assert!(g.municipality("00000000").is_none());
    let penza: Vec<_> = g.municipalities().iter().filter(|m| m.region_code == "56").collect();
    assert_eq!(penza.len(), 30);
}

#[test]
fn no_panic_on_odd_input() {
    for t in ["", " ", ".", "-", "г.", "в", "р-н", "\u{301}", "ПЕНЗА", "🔥🔥🔥", "a\u{306}"] {
        let _ = oktmo(t);
    }
    let big = "в Пензе нет воды. ".repeat(60_000);
    assert_eq!(oktmo(&big).as_deref(), Some(PENZA));
}

#[test]
fn load_errors_name_file_and_line() {
    let bad = "V\totklik-gazetteer/1\nR\t56\tПензенская область\t\t\nM\t5670100\t56\tokrug\tгород Пенза\t\n";
    let e = Gazetteer::from_str(bad).unwrap_err().to_string();
    assert!(e.starts_with("<string>:3:") && e.contains("8-digit"), "{e}");
    let e = Gazetteer::from_str("V\totklik-gazetteer/1\nP\t1\t56701000\t56\ttown\t1\ts\tПенза\tпенза\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("<string>:2:") && e.contains("unknown municipality"), "{e}");
    let e = Gazetteer::from_str("V\tother/9\n").unwrap_err().to_string();
    assert!(e.contains(":1:"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.tsv");
    std::fs::write(&path, "# comment\nX\tnonsense\n").unwrap();
    let e = Gazetteer::load(&path).unwrap_err().to_string();
    assert!(e.contains("g.tsv:2:") && e.contains("expected a record type"), "{e}");
    let e = Gazetteer::load(&dir.path().join("missing.tsv")).unwrap_err().to_string();
    assert!(e.contains("missing.tsv"), "{e}");
}

#[test]
fn tiny_gazetteer_from_str() {
    let text = "V\totklik-gazetteer/1\n\
                R\t56\tПензенская область\t\t\n\
                M\t56701000\t56\tokrug\tгород Пенза\t\n\
                P\t1\t56701000\t56\ttown\t1\ts\tПенза\tпенза|пензе\n\
                W\tprep\tв\n";
    let g = Gazetteer::from_str(text).unwrap();
    let r = g.resolve("Живу в Пензе");
    assert_eq!(r.chosen.unwrap().oktmo, "56701000");
    assert_eq!(r.mentions[0].span, 12..22);
    assert_eq!(r.mentions[0].surface, "Пензе");
}

#[test]
fn the_problems_place_wins() {
    assert_place("Переехали из Кузнецка в Пензу, а тут мусор не вывозят", PENZA);
    assert_place("В Сердобске уже дали воду, а в Белинском нет", BELINSKY);
    // Where people are sent for what the place lacks is not the place.
    assert_place("в Кузнецке в поликлинике нет лора, едем в Пензу", KUZNETSK);
    assert_place("в Сердобской больнице нет узи, направляют в Пензу", SERDOBSKY);
    assert_none("в Пензе и в Заречном отключат воду");
}

#[test]
fn near_a_city_is_not_the_city() {
    assert_none("Под Пензой горит свалка");
    assert_none("в пригороде Кузнецка нет газа");
    assert_place("Рядом с Пензой, в Кондоле, нет воды", PENZENSKY);
}

#[test]
fn typos_need_a_place_context() {
    assert_place("в Кузнецкк нет воды", KUZNETSK);
    assert_place("белинскии район, дорогу не чистят", BELINSKY);
    assert_place("в пенззе нет воды", PENZA);
    // One letter from a village is too often an everyday word.
    assert_none("в банке берут комиссию");
    assert_none("кузнецкк нет воды");
    // A post addressed to a town's people, the name first with a mark after it; «с» for «из».
    assert_place("Кузнецкк, кто знает, когда дадут воду?", KUZNETSK);
    assert_place("Кузнецкк!!! Когда сделаете освещение?", KUZNETSK);
    assert_place("кто с Кузнецкк, подскажите, что с водой", KUZNETSK);
    assert_none("Кузнецкк нет воды");
}

#[test]
fn headings_adjectives_and_addresses() {
    assert_place("Заречный, Комсомольская 4 — батареи чуть тёплые", ZARECHNY);
    assert_place("Каменку замело, сугробы выше заборов", KAMENSKY);
    assert_place("Каменка.нет воды второй день", KAMENSKY);
    assert_place("пензенские дорожники опять залатали ямы", PENZA);
    assert_place("Пензенская мэрия молчит", PENZA);
    assert_none("Пензенская областная дума обсуждает тарифы");
    // A name before a house number is a street; «мкр.» before an unknown name is part of the town.
    assert_place("Пенза, Луначарского 37, сухое дерево", PENZA);
    assert_place("Кузнецк, мкр. Маяк — снег не убирают", KUZNETSK);
    assert_place("Кузнецк, район вокзала: стая собак", KUZNETSK);
}

#[test]
fn old_names_and_qualified_namesakes() {
    assert_place("в Чембаре нет воды", BELINSKY);
    assert_place("Пенза-19, нет горячей воды", ZARECHNY);
    assert_place("в Н. Ломове нет света", NIZHNELOMOVSKY);
    let r = gazetteer().resolve("Никольск-Уссурийский, нет отопления");
    assert!(r.chosen.is_none() && r.elsewhere.is_some(), "{r:?}");
}
