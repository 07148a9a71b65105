//! Response tracking: the responders file in `check-config`, and `otklik report responses`.

use super::*;

/// A config dir with the repo's topics and gazetteer, one source, and `responders` as the file.
fn config_with(dir: &Path, responders: &str, deadline: &str) -> PathBuf {
    let (topics, gazetteer) = (repo().join("config/topics"), repo().join("config/gazetteer/gazetteer.tsv"));
    let sources = "[[source]]\nid = \"vk-zhk\"\nplatform = \"vk\"\nhandle = \"-100\"\nenabled = false\n";
    std::fs::write(dir.join("sources.toml"), sources).unwrap();
    std::fs::write(dir.join("responders.toml"), responders).unwrap();
    let config = dir.join("otklik.toml");
    let text = format!(
        "[run]\ndata_dir = \"data\"\n\n[classify]\ntopics_dir = {topics:?}\ngazetteer = {gazetteer:?}\n\n\
         [collect]\nsources_file = \"sources.toml\"\n\n[responses]\nresponders_file = \"responders.toml\"\n{deadline}"
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn every_responders_problem_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let responders = "[[organisation]]\nid = \"uk-a\"\nname = \"УК А\"\ntype = \"uk\"\nmunicipality = \"56701000\"\n\
        vk = [\"-555\", \"club7\"]\nsources = [\"vk-zhk\"]\n\n\
        [[organisation]]\nid = \"uk-a\"\nname = \"УК Б\"\ntype = \"uk\"\nmunicipality = \"99999999\"\nvk = [\"-555\"]\n\n\
        [[organisation]]\nid = \"adm\"\nname = \"Администрация\"\ninn = \"12\"\nsources = [\"nope\"]\n\n\
        [[organisation]]\nid = \"x\"\nname = \"X\"\ntype = \"bank\"\n";
    let config = config_with(dir.path(), responders, "\n[responses.deadline]\nuk = \"10m\"\n");
    let output = run(otklik().arg("check-config").arg(&config));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = stderr(&output);
    let file = dir.path().join("responders.toml").display().to_string();
    let expected = [
        (6, "\"club7\" is not a VK user id"),
        (10, "duplicate organisation id \"uk-a\""),
        (13, "\"99999999\" is not a municipality of the gazetteer"),
        (14, "\"-555\" is listed for \"uk-a\" already"),
        (16, "type: is missing"),
        (19, "\"12\" is not a 10- or 12-digit ИНН"),
        (20, "no source has the id \"nope\""),
        (25, "unknown variant `bank`"),
    ];
    for (line, needle) in expected {
        let prefix = format!("{file}:{line}: ");
        assert!(report.lines().any(|l| l.starts_with(&prefix) && l.contains(needle)), "missing {prefix}…{needle} in:\n{report}");
    }
    assert!(report.contains("responses.deadline.uk"), "{report}");
    assert!(report.contains("9 problem(s) found"), "{report}");
}
