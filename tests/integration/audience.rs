//! `otklik report audience` over a local store: growth per source and per organisation type.

use super::*;

const SOURCES: &str = "[[source]]\nid = \"vk-adm\"\nplatform = \"vk\"\nhandle = \"-100\"\n\
    name = \"Администрация\"\nenabled = false\n\n\
    [[source]]\nid = \"vk-uk\"\nplatform = \"vk\"\nhandle = \"-200\"\nenabled = false\n\n\
    [[source]]\nid = \"tg-news\"\nplatform = \"telegram\"\nhandle = \"penza_news\"\nenabled = false\n";

const RESPONDERS: &str = "[[organisation]]\nid = \"adm\"\nname = \"Администрация\"\n\
    type = \"administration\"\nsources = [\"vk-adm\"]\n\n\
    [[organisation]]\nid = \"uk-a\"\nname = \"УК А\"\ntype = \"uk\"\nsources = [\"vk-uk\"]\n";

fn config(dir: &Path) -> PathBuf {
    let (topics, gazetteer) = (repo().join("config/topics"), repo().join("config/gazetteer/gazetteer.tsv"));
    std::fs::write(dir.join("sources.toml"), SOURCES).unwrap();
    std::fs::write(dir.join("responders.toml"), RESPONDERS).unwrap();
    let config = dir.join("otklik.toml");
    let text = format!(
        "[run]\ndata_dir = \"data\"\n\n[classify]\ntopics_dir = {topics:?}\ngazetteer = {gazetteer:?}\n\n\
         [collect]\nsources_file = \"sources.toml\"\n\n[responses]\nresponders_file = \"responders.toml\"\n"
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// Two weeks of daily polls, delivered twice: the administration's page gains 10 a day, the УК's
/// loses 3 a day, the channel is seen only in the second week; one observation is 20 days old.
fn store_stats(dir: &Path) {
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let at = |days_ago: i64| now - chrono::TimeDelta::days(days_ago) - chrono::TimeDelta::hours(1);
    let stat = |source: &str, platform: &str, days_ago: i64, audience: u64| otklik_clickhouse::SourceStatRow {
        source_id: source.into(),
        platform: platform.into(),
        observed_at: at(days_ago),
        audience,
    };
    let mut rows = vec![stat("vk-adm", "vk", 20, 900)];
    for day in 0..14u64 {
        let days_ago = 13 - day as i64;
        rows.push(stat("vk-adm", "vk", days_ago, 1000 + 10 * day));
        rows.push(stat("vk-uk", "vk", days_ago, 300 - 3 * day));
    }
    rows.extend([stat("tg-news", "telegram", 6, 500), stat("tg-news", "telegram", 0, 520)]);
    let store = otklik_clickhouse::LocalStore::<otklik_clickhouse::SourceStatRow>::open(&dir.join("data")).unwrap();
    store.append(&rows, now).unwrap();
    store.append(&rows, now).unwrap();
}

#[test]
fn audience_growth_per_source_and_organisation_type() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    store_stats(dir.path());
    let output = run(otklik().args(["report", "audience", "--config"]).arg(&config));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    let cells = |label: &str| -> Vec<String> {
        let line = report.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_default();
        line[line.find(label).unwrap_or(0) + label.len()..].split_whitespace().map(str::to_owned).collect()
    };
    // The default period is 14 days: the 20-day-old observation is not the first.
    assert_eq!(cells("Администрация (vk-adm)")[..5], ["vk", "1000", "1130", "+130", "+13.0%"], "{report}");
    assert_eq!(cells("vk-uk")[..5], ["vk", "300", "261", "-39", "-13.0%"], "{report}");
    assert_eq!(cells("tg-news")[..5], ["telegram", "500", "520", "+20", "+4.0%"], "{report}");
    assert_eq!(cells("administration"), ["1", "1000", "1130", "+130", "+13.0%"], "{report}");
    assert_eq!(cells("uk"), ["1", "300", "261", "-39", "-13.0%"], "{report}");
    assert_eq!(cells("other"), ["1", "500", "520", "+20", "+4.0%"], "{report}");

    // A longer period starts at the older observation.
    let output = run(otklik().args(["report", "audience", "--since", "30d", "--config"]).arg(&config));
    let report = stdout(&output);
    let line = report.lines().find(|l| l.contains("(vk-adm)")).unwrap_or_default();
    assert_eq!(line.split_whitespace().skip(2).take(4).collect::<Vec<_>>(), ["vk", "900", "1130", "+230"], "{report}");
}
