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
    std::fs::write(dir.path().join("sources.toml"), "[[source]]\nid = \"a\"\nplatform = \"telegram\"\nhandle = \"chan_a\"\n").unwrap();
    std::fs::write(
        &config,
        format!(
            "[run]\nmode = \"embedded\"\n\n[sink]\nbatch_wait = \"5 minutes\"\nbatch_rowz = 10\n\n[clickhouse]\npassword_env = \"OTKLIK_TEST_SURELY_UNSET\"\n\n[run2]\nx = 1\n\n[classify]\ntopics_dir = {topics:?}\ngazetteer = \"\"\n\n[collect]\nsources_file = \"sources.toml\"\n"
        ),
    )
    .unwrap();
    // The missing secret counts in production mode.
    let text = std::fs::read_to_string(&config).unwrap().replace("mode = \"embedded\"", "mode = \"production\"\n[kafka]\nbrokers = \"127.0.0.1:9\"");
    std::fs::write(&config, text).unwrap();
    let output = run(otklik().arg("check-config").arg(&config).env_remove("OTKLIK_TEST_SURELY_UNSET").env_remove("OTKLIK_CLICKHOUSE_PASSWORD"));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = stderr(&output);
    let name = config.display().to_string();
    for (line, needle) in [(7, "invalid duration \"5 minutes\""), (8, "unknown field `batch_rowz`"), (11, "OTKLIK_TEST_SURELY_UNSET"), (13, "unknown field `run2`")] {
        let expected = format!("{name}:{line}: ");
        assert!(report.lines().any(|l| l.starts_with(&expected) && l.contains(needle)), "missing {expected}…{needle} in:\n{report}");
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
    std::fs::write(dir.path().join("sources.toml"), "[[source]]\nid = \"v\"\nplatform = \"vk\"\nhandle = \"-1\"\n").unwrap();
    let topics = repo().join("config/topics");
    let config = dir.path().join("otklik.toml");
    std::fs::write(&config, format!("[classify]\ntopics_dir = {topics:?}\ngazetteer = \"\"\n\n[collect]\nsources_file = \"sources.toml\"\n[collect.vk]\ntokens_env = [\"OTKLIK_TEST_NO_VK_TOKEN\"]\n")).unwrap();
    let output = run(otklik().arg("check-config").arg(&config).env_remove("OTKLIK_TEST_NO_VK_TOKEN"));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("OTKLIK_TEST_NO_VK_TOKEN"), "{}", stderr(&output));
    let output = run(otklik().arg("check-config").arg(&config).env("OTKLIK_TEST_NO_VK_TOKEN", "vk1.secret-token-value"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("secret-token-value") && !stderr(&output).contains("secret-token-value"));
}
