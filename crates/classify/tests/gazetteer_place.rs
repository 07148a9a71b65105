//! Place detail below the municipality (settlement, street and house, landmark) against the
//! shipped gazetteer: what incident linking uses to tell two problems on one street apart.

use otklik_classify::gazetteer::{Gazetteer, PlaceDetail};
use std::path::PathBuf;
use std::sync::OnceLock;

fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/gazetteer/gazetteer.tsv");
        Gazetteer::load(&path).expect("shipped gazetteer loads")
    })
}

fn detail(text: &str) -> PlaceDetail {
    gazetteer().place_detail(text)
}

#[test]
fn street_and_house_in_the_usual_spellings() {
    let a = detail("Пенза, ул. Ладожская, д. 5 — третий день нет воды");
    assert_eq!(a.street.as_deref(), Some("ладожс"));
    assert_eq!(a.house.as_deref(), Some("5"));
    let b = detail("на улице Ладожской 5 опять без воды!!!");
    assert_eq!((b.street, b.house), (a.street.clone(), a.house.clone()));
}

#[test]
fn two_houses_of_one_street_are_different_places() {
    let five = detail("ул. Мира, 5 нет воды");
    let twelve = detail("яма у дома 12 по ул. Мира");
    assert_eq!(five.street, twelve.street);
    assert!(!five.compatible(&twelve), "{five:?} vs {twelve:?}");
    assert!(five.compatible(&detail("на Мира нет воды с утра")), "no detail contradicts none");
}

#[test]
fn settlement_comes_from_the_resolver() {
    assert_eq!(detail("в селе Бессоновка нет света").settlement.as_deref(), Some("Бессоновка"));
    // «Каменка» without context is an everyday word, so no settlement.
    assert_eq!(detail("каменка в бане треснула").settlement, None);
}

#[test]
fn landmark_with_its_number() {
    assert_eq!(detail("возле школы №12 огромная яма").landmark.as_deref(), Some("школ 12"));
    assert!(detail("просто жалоба без адреса").is_empty());
}
