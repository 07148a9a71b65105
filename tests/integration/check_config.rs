//! `otklik check-config`: every problem at once, with file, line and hint; exit code 2.

use super::*;

#[test]
fn the_shipped_configs_are_valid() {
    for config in ["config/otklik.toml", "config/demo.toml"] {
        let output = run(otklik().args(["check-config", config]));
        assert!(output.status.success(), "{config}: {}", stderr(&output));
        assert!(stdout(&output).contains(": ok"));
    }
}

#[test]
fn three_different_mistakes_are_all_named_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otklik.toml");
    let topics = repo().join("config/topics");
    let sources = "[[source]]\nid = \"a\"\nplatform = \"telegram\"\nhandle = \"chan_a\"\n";
    std::fs::write(dir.path().join("sources.toml"), sources).unwrap();
    std::fs::write(
        &config,
        format!(
            "[run]\nmode = \"embedded\"\n\n[sink]\nbatch_wait = \"5 minutes\"\nbatch_rowz = 10\n\n[clickhouse]\npassword_env = \"OTKLIK_TEST_SURELY_UNSET\"\n\n[run2]\nx = 1\n\n[classify]\ntopics_dir = {topics:?}\ngazetteer = \"\"\n\n[collect]\nsources_file = \"sources.toml\"\n"
        ),
    )
    .unwrap();
    // The missing secret counts in production mode.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("mode = \"embedded\"", "mode = \"production\"\n[kafka]\nbrokers = \"127.0.0.1:9\"");
    std::fs::write(&config, text).unwrap();
    let output = run(otklik()
        .arg("check-config")
        .arg(&config)
        .env_remove("OTKLIK_TEST_SURELY_UNSET")
        .env_remove("OTKLIK_CLICKHOUSE_PASSWORD"));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = stderr(&output);
    let name = config.display().to_string();
    for (line, needle) in [
        (7, "invalid duration \"5 minutes\""),
        (8, "unknown field `batch_rowz`"),
        (11, "OTKLIK_TEST_SURELY_UNSET"),
        (13, "unknown field `run2`"),
    ] {
        let expected = format!("{name}:{line}: ");
        assert!(
            report.lines().any(|l| l.starts_with(&expected) && l.contains(needle)),
            "missing {expected}…{needle} in:\n{report}"
        );
    }
    assert!(report.contains("hint:"), "{report}");
    assert!(report.contains("4 problem(s) found"), "{report}");
}

#[test]
fn a_syntax_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otklik.toml");
    std::fs::write(&config, "[run]\nmode = \"embedded\n").unwrap();
    let output = run(otklik().arg("check-config").arg(&config));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(&format!("{}:2:", config.display())), "{}", stderr(&output));
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = run(otklik().args(["check-config", "/nonexistent/otklik.toml"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read"), "{}", stderr(&output));
}

#[test]
fn missing_network_secrets_are_named_without_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sources.toml"), "[[source]]\nid = \"v\"\nplatform = \"vk\"\nhandle = \"-1\"\n")
        .unwrap();
    let topics = repo().join("config/topics");
    let config = dir.path().join("otklik.toml");
    std::fs::write(&config, format!("[classify]\ntopics_dir = {topics:?}\ngazetteer = \"\"\n\n[collect]\nsources_file = \"sources.toml\"\n[collect.vk]\ntokens_env = [\"OTKLIK_TEST_NO_VK_TOKEN\"]\n")).unwrap();
    let output = run(otklik().arg("check-config").arg(&config).env_remove("OTKLIK_TEST_NO_VK_TOKEN"));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("OTKLIK_TEST_NO_VK_TOKEN"), "{}", stderr(&output));
    let output =
        run(otklik().arg("check-config").arg(&config).env("OTKLIK_TEST_NO_VK_TOKEN", "vk1.secret-token-value"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("secret-token-value") && !stderr(&output).contains("secret-token-value"));
}

/// A config in a temporary directory over `sources` (its classifier paths point at the repo's).
fn setup(config: &str, sources: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sources.toml"), sources).unwrap();
    let path = dir.path().join("otklik.toml");
    let (topics, gazetteer) = (repo().join("config/topics"), repo().join("config/gazetteer/gazetteer.tsv"));
    let classify = format!("[classify]\ntopics_dir = {topics:?}\ngazetteer = {gazetteer:?}\n\n");
    // The config's own lines come first, so the test's line numbers are those of `config`.
    let collect = if config.contains("[collect]") { "" } else { "\n[collect]\nsources_file = \"sources.toml\"\n" };
    std::fs::write(&path, format!("{config}{collect}\n{classify}")).unwrap();
    (dir, path)
}

const TG_SOURCE: &str = "[[source]]\nid = \"tg\"\nplatform = \"telegram\"\nhandle = \"penza_city\"\n";

/// Runs check-config and returns its report, asserting exit code 2.
fn refused(path: &std::path::Path) -> String {
    let output = run(otklik().arg("check-config").arg(path));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    stderr(&output)
}

fn assert_line(report: &str, file: &std::path::Path, line: usize, needles: &[&str]) {
    let start = format!("{}:{line}: ", file.display());
    let found = report.lines().any(|l| l.starts_with(&start) && needles.iter().all(|n| l.contains(n)));
    assert!(found, "missing {start}…{needles:?} in:\n{report}");
}

#[test]
fn a_zero_poll_interval_is_refused_at_its_line_with_the_range() {
    let (_dir, path) = setup("[collect]\nsources_file = \"sources.toml\"\npoll_interval = \"0s\"\n", TG_SOURCE);
    let report = refused(&path);
    assert_line(&report, &path, 3, &["collect.poll_interval", "0s is outside the allowed range"]);
    assert!(report.contains("hint: allowed: 1s ..= 7d"), "{report}");
}

#[test]
fn huge_durations_are_refused_before_run_sees_them() {
    let config = "[sink]\nbatch_wait = \"999999999999d\"\n\n[collect]\nsources_file = \"sources.toml\"\n\n\
                  [collect.telegram]\nfirst_poll_max_age = \"100000000d\"\nrecheck_window = \"999999999999d\"\n";
    let (_dir, path) = setup(config, TG_SOURCE);
    let report = refused(&path);
    assert_line(&report, &path, 2, &["sink.batch_wait", "outside the allowed range"]);
    assert_line(&report, &path, 8, &["collect.telegram.first_poll_max_age", "100000000d"]);
    assert_line(&report, &path, 9, &["collect.telegram.recheck_window", "999999999999d"]);
    assert!(report.contains("allowed: 1ms ..= 5m") && report.contains("allowed: 0s ..= 90d"), "{report}");
}

#[test]
fn three_errors_in_one_source_are_three_problems() {
    let sources = "[[source]]\nid = \"tg\"\nplatform = \"telegram\"\nhandle = \"no\"\n\
                   municipality = \"5670\"\nenabled = \"yes\"\n";
    let (dir, path) = setup("", sources);
    let report = refused(&path);
    let file = dir.path().join("sources.toml");
    assert_line(&report, &file, 4, &["handle", "5 to 32"]);
    assert_line(&report, &file, 5, &["municipality", "8-digit"]);
    assert_line(&report, &file, 6, &["invalid type"]);
    assert!(report.contains("3 problem(s) found"), "{report}");
}

#[test]
fn an_unknown_key_does_not_hide_a_bad_value_after_it() {
    let sources = "[[source]]\nid = \"tg\"\nplatfrom = \"telegram\"\nplatform = \"myspace\"\nhandle = \"penza_city\"\n";
    let (dir, path) = setup("", sources);
    let report = refused(&path);
    let file = dir.path().join("sources.toml");
    assert_line(&report, &file, 3, &["unknown field `platfrom`"]);
    assert_line(&report, &file, 4, &["unknown variant `myspace`"]);
    assert!(report.contains("2 problem(s) found"), "a cut platform is not «missing» too:\n{report}");
}

#[test]
fn bad_handles_are_named_per_platform() {
    let sources = "[[source]]\nid = \"vk\"\nplatform = \"vk\"\nhandle = \"penza adm!\"\nenabled = false\n\n\
                   [[source]]\nid = \"tg\"\nplatform = \"telegram\"\nhandle = \"-12345\"\nenabled = false\n\n\
                   [[source]]\nid = \"ok\"\nplatform = \"ok\"\nhandle = \"penza_group\"\nenabled = false\n\n\
                   [[source]]\nid = \"fine\"\nplatform = \"vk\"\nhandle = \"search:отопление\"\nenabled = false\n";
    let (dir, path) = setup("", sources);
    let report = refused(&path);
    let file = dir.path().join("sources.toml");
    assert_line(&report, &file, 4, &["source[0].handle", "not a VK owner id"]);
    assert_line(&report, &file, 10, &["source[1].handle", "not a Telegram channel username"]);
    assert_line(&report, &file, 16, &["source[2].handle", "not an OK group id"]);
    assert!(report.contains("3 problem(s) found"), "{report}");
}

#[test]
fn a_municipality_missing_from_the_gazetteer_is_named_at_its_source() {
    let sources = "[[source]]\nid = \"tg\"\nplatform = \"telegram\"\nhandle = \"penza_city\"\n\
                   municipality = \"56701000\"\n\n\
                   [[source]]\nid = \"tg2\"\nplatform = \"telegram\"\nhandle = \"penza_city2\"\n\
                   municipality = \"99999999\"\n";
    let (dir, path) = setup("", sources);
    let report = refused(&path);
    let needles = ["source[1].municipality", "\"99999999\" is not a municipality of the gazetteer"];
    assert_line(&report, &dir.path().join("sources.toml"), 11, &needles);
    assert!(report.contains("1 problem(s) found"), "56701000 (г. Пенза) is known:\n{report}");
}

#[test]
fn a_missing_vk_token_is_reported_once() {
    let sources = "[[source]]\nid = \"v\"\nplatform = \"vk\"\nhandle = \"-1\"\n";
    let (_dir, path) = setup("", sources);
    let report = refused(&path);
    assert_eq!(report.matches("no VK token").count(), 1, "{report}");
    assert!(report.contains("1 problem(s) found"), "{report}");
}

#[cfg(unix)]
#[test]
fn dev_zero_as_sources_file_ends_at_once_with_a_clear_message() {
    let (_dir, path) = setup("[collect]\nsources_file = \"/dev/zero\"\nsources_max_bytes = \"1MiB\"\n", "");
    let report = refused(&path);
    assert_line(&report, &path, 2, &["collect.sources_file", "cannot read /dev/zero: larger than 1MiB"]);
    assert!(report.contains("collect.sources_max_bytes"), "the hint names the setting:\n{report}");
    // And with the default cap (64MiB), the config file itself, and a VK token file.
    let (_dir, path) = setup("[collect]\nsources_file = \"/dev/zero\"\n", "");
    assert_line(&refused(&path), &path, 2, &["larger than 64MiB"]);
    let report = refused(std::path::Path::new("/dev/zero"));
    assert!(report.contains("cannot read: larger than 4MiB"), "{report}");
    let config = "[collect]\nsources_file = \"sources.toml\"\n[collect.vk]\ntoken_files = [\"/dev/zero\"]\n";
    let (_dir, path) = setup(config, "[[source]]\nid = \"v\"\nplatform = \"vk\"\nhandle = \"-1\"\n");
    assert_line(&refused(&path), &path, 4, &["collect.vk.token_files", "/dev/zero", "larger than 64KiB"]);
}

#[test]
fn a_source_missing_required_keys_names_each_at_its_entry() {
    let (dir, path) = setup("", &format!("{TG_SOURCE}\n[[source]]\nname = \"no id, platform or handle\"\n"));
    let report = refused(&path);
    for key in ["id", "platform", "handle"] {
        assert_line(&report, &dir.path().join("sources.toml"), 6, &[&format!("source[1].{key}: is missing")]);
    }
}

/// The classifier's files load as `run` would load them: a gazetteer path pointing at another
/// file, or a broken rules file, fails check-config, and the report echoes none of their text.
#[test]
fn a_gazetteer_or_rules_file_that_does_not_load_is_refused_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let rules = dir.path().join("topics");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("broken.toml"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let config = dir.path().join("otklik.toml");
    let text = format!(
        "[classify]\ntopics_dir = {rules:?}\ngazetteer = {passwd:?}\n\n[collect]\nsources_file = \"sources.toml\"\n"
    );
    std::fs::write(&config, text).unwrap();
    std::fs::write(dir.path().join("sources.toml"), TG_SOURCE).unwrap();
    let report = refused(&config);
    assert_line(&report, &config, 2, &["classify.topics_dir", "the topic rules do not load"]);
    assert_line(&report, &config, 3, &["classify.gazetteer", "cannot load"]);
    assert!(!report.contains("root:x"), "file content echoed:\n{report}");
    // A device is not a gazetteer, and is not said to be missing.
    let text = format!(
        "[classify]\ntopics_dir = {:?}\ngazetteer = \"/dev/zero\"\n\n[collect]\nsources_file = \"sources.toml\"\n",
        repo().join("config/topics")
    );
    std::fs::write(&config, text).unwrap();
    assert_line(&refused(&config), &config, 3, &["classify.gazetteer", "/dev/zero is not a regular file"]);
}

#[test]
fn the_classifier_batch_and_commit_interval_are_checked_against_their_ranges() {
    let (dir, _) = setup("", TG_SOURCE);
    let path = dir.path().join("tuned.toml");
    let (topics, gazetteer) = (repo().join("config/topics"), repo().join("config/gazetteer/gazetteer.tsv"));
    let config = format!(
        "[classify]\nbatch = 0\ncommit_interval = \"1h\"\ntopics_dir = {topics:?}\ngazetteer = {gazetteer:?}\n\n\
         [collect]\nsources_file = \"sources.toml\"\n"
    );
    std::fs::write(&path, config).unwrap();
    let report = refused(&path);
    assert_line(&report, &path, 2, &["classify.batch", "outside the allowed range"]);
    assert_line(&report, &path, 3, &["classify.commit_interval", "1h"]);
    assert!(report.contains("allowed: 1 ..= 100000") && report.contains("allowed: 10ms ..= 5m"), "{report}");
    let valid =
        std::fs::read_to_string(&path).unwrap().replace("batch = 0", "batch = 64").replace("\"1h\"", "\"250ms\"");
    std::fs::write(&path, valid).unwrap();
    let output = run(otklik().arg("check-config").arg(&path));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn alert_routes_and_receivers_are_checked_together() {
    let config = "[alerts]\ngroup_wait = \"2h\"\n\n[[alerts.route]]\nreceivers = [\"nobody\"]\n\n\
                  [[alerts.receiver]]\nname = \"duty\"\nkind = \"telegram\"\nchat_id = -100123\n\
                  token_env = \"OTKLIK_TEST_TELEGRAM_TOKEN_NOT_SET\"\n";
    let (_dir, path) = setup(config, TG_SOURCE);
    let report = refused(&path);
    assert_line(&report, &path, 2, &["alerts.group_wait", "outside the allowed range"]);
    assert!(report.contains("no [[alerts.receiver]] is named \"nobody\""), "{report}");
    let (_dir, path) = setup("[alerts]\ngroup_wiat = \"1m\"\n", TG_SOURCE);
    assert!(refused(&path).contains("group_wiat"));
}

/// `[classify] region` must be a two-digit code the gazetteer lists in full.
#[test]
fn a_region_the_gazetteer_does_not_hold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sources.toml"), TG_SOURCE).unwrap();
    let (topics, gazetteer) = (repo().join("config/topics"), repo().join("config/gazetteer/gazetteer.tsv"));
    for (region, needle) in [("77", "region 77 is not in the gazetteer"), ("5x", "not a two-digit ОКТМО region code")]
    {
        let path = dir.path().join("otklik.toml");
        let classify = format!("[classify]\ntopics_dir = {topics:?}\ngazetteer = {gazetteer:?}\nregion = {region:?}\n");
        std::fs::write(&path, format!("{classify}\n[collect]\nsources_file = \"sources.toml\"\n")).unwrap();
        let report = refused(&path);
        assert!(report.contains("classify.region") && report.contains(needle), "{report}");
    }
}
