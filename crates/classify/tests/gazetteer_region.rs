//! Any region: a gazetteer built for Samara oblast (36) by `scripts/gazetteer/generate.py --region 36`
//! (committed as `tests/fixtures/gazetteer/samara.tsv`, since CI has no `../shared/data`) resolves
//! Samara's villages, and a classifier serving region 36 treats Penza as another region.

use otklik_classify::gazetteer::Gazetteer;
use otklik_classify::{Classifier, SourceContext};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn samara_file() -> PathBuf {
    root().join("tests/fixtures/gazetteer/samara.tsv")
}

fn samara() -> Gazetteer {
    Gazetteer::load(&samara_file()).and_then(|g| g.with_home_region("36")).expect("the Samara gazetteer loads")
}

#[test]
fn samara_places_resolve_in_a_samara_gazetteer() {
    let g = samara();
    let oktmo = |text: &str| g.resolve(text).chosen.map(|m| m.oktmo);
    assert_eq!(oktmo("в Безенчуке третий день нет воды").as_deref(), Some("36604000"));
    assert_eq!(oktmo("с. Несмеяновка, дорогу размыло").as_deref(), Some("36602000"));
    assert_eq!(oktmo("в Исаклах не горят фонари").as_deref(), Some("36616000"));
    assert_eq!(oktmo("Шигонский район, нет газа").as_deref(), Some("36650000"));
    assert_eq!(oktmo("в Сызрани порыв водовода").as_deref(), Some("36735000"));
    // One letter off, before «район»: the home region's typo index is Samara's.
    assert_eq!(oktmo("Безенчукскйй район, мост аварийный").as_deref(), Some("36604000"));
}

#[test]
fn a_classifier_serving_samara_sends_penza_elsewhere() {
    let c =
        Classifier::load_in_region(&root().join("config/topics"), Some(&samara_file()), "36").expect("loads for 36");
    let at = |text: &str| c.classify_text(text, &SourceContext::default());
    let home = at("в Самаре прорвало трубу, нет воды");
    assert_eq!(home.municipality.map(|m| m.oktmo).as_deref(), Some("36701000"));
    assert!(!home.out_of_region);
    let penza = at("в Пензе прорвало трубу, нет воды");
    assert!(penza.municipality.is_none() && penza.out_of_region, "{penza:?}");
    let kuznetsk = at("в Кузнецке нет отопления");
    assert!(kuznetsk.municipality.is_none() && kuznetsk.out_of_region, "{kuznetsk:?}");
}

#[test]
fn an_unknown_region_is_refused() {
    let err =
        Gazetteer::load(&samara_file()).and_then(|g| g.with_home_region("77")).expect_err("77 is not in the file");
    assert!(err.to_string().contains("region 77"), "{err}");
}

/// The committed fixture is what the generator makes today (skipped without python3 or the data).
#[test]
fn the_samara_fixture_is_current() {
    let data = [root().join("../shared/data/gazetteer"), root().join("../../shared/data/gazetteer")]
        .into_iter()
        .find(|d| d.join("oktmo_pfo_settlements.csv").is_file());
    let Some(data) = data else {
        eprintln!("skipping: ../shared/data/gazetteer is absent");
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let file = out.path().join("samara.tsv");
    let script = root().join("scripts/gazetteer/generate.py");
    let status = std::process::Command::new("python3")
        .args([
            script.as_os_str(),
            "--data".as_ref(),
            data.as_os_str(),
            "--region".as_ref(),
            "36".as_ref(),
            "--out".as_ref(),
        ])
        .arg(&file)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("skipping: python3 did not run the generator: {other:?}");
            return;
        }
    }
    let made = std::fs::read(&file).expect("generated");
    assert!(
        made == std::fs::read(samara_file()).expect("fixture"),
        "regenerate {}",
        Path::new("tests/fixtures/gazetteer/samara.tsv").display()
    );
}
