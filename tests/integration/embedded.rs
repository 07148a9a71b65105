//! The embedded demo run: finishes with a summary, stores every post, survives SIGTERM mid-way
//! without torn rows, and a second run stores the same set of uids.

use super::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn uids(dir: &Path) -> BTreeSet<String> {
    store_rows(&dir.join("posts")).iter().map(|r| r["uid"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_demo_run_stores_every_post_and_prints_a_summary() {
    let data = tempfile::tempdir().unwrap();
    let output = run(otklik().args(["run", "--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", data.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stdout(&output);
    for section in
        ["otklik run summary", "posts per platform", "posts per topic", "posts per municipality", "to the DLQ"]
    {
        assert!(summary.contains(section), "{section} missing from:\n{summary}");
    }
    let rows = store_rows(&data.path().join("posts"));
    assert!(rows.len() >= 300, "only {} rows", rows.len());
    let unique = uids(data.path());
    let unlinked = rows.iter().filter(|r| r["incident_id"] == "").count();
    assert_eq!(unique.len(), unlinked, "each post stored once as the classifier wrote it");
    let linked: BTreeSet<&str> =
        rows.iter().filter(|r| r["incident_id"] != "").map(|r| r["uid"].as_str().unwrap()).collect();
    assert_eq!(linked.len(), rows.len() - unlinked, "and at most once more, linked into its incident");
    for platform in ["vk:", "tg:", "ok:"] {
        assert!(unique.iter().any(|u| u.starts_with(platform)), "no {platform} posts");
    }
    assert!(rows.iter().any(|r| r["topics"].as_array().is_some_and(|t| t.iter().any(|t| t == "heating"))));
    assert!(rows.iter().any(|r| r["municipality"] == "56701000"));
    // The demo's management company answers four residents' posts, one of them in a thread under
    // a neighbour's comment; the administrations answer under their own posts.
    let responses = summary.split("\nresponses: ").nth(1).unwrap_or_else(|| panic!("no responses in:\n{summary}"));
    assert!(responses.contains(" answered ("), "{responses}");
    let uk = responses.lines().find(|l| l.contains("ООО «УК Жилкомфорт»: ")).unwrap_or_else(|| panic!("{responses}"));
    let answered: usize = uk.split(": ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert_eq!(answered, 4, "{uk}");
}

/// The demo's stories for the alert stage: the Kuznetsk heating burst raises an alert, the
/// administration's «отопительный сезон начался» posts in October raise none, and the summary,
/// `otklik incidents`, `otklik alerts list` and `otklik alerts backtest` tell them.
#[test]
fn the_demo_tells_its_incidents_and_the_heating_burst_alert() {
    let data = tempfile::tempdir().unwrap();
    let output = run(otklik().args(["run", "--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", data.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stdout(&output);
    let alerts: Vec<&str> = summary.lines().skip_while(|l| !l.starts_with("alerts (")).skip(1).collect();
    let kuzneck = |l: &str| l.contains(" opened ") && l.contains("heating") && l.contains("(56705000)");
    let opened: Vec<&&str> = alerts.iter().filter(|l| kuzneck(l)).collect();
    assert_eq!(opened.len(), 1, "one heating alert for Кузнецк:\n{summary}");
    assert!(opened[0].trim_start().starts_with("2026-11-20"), "raised by the burst: {}", opened[0]);
    let october = |l: &&&str| l.contains("heating") && l.trim_start().starts_with("2026-10");
    assert!(!alerts.iter().any(|l| october(&l)), "the season start never alerts:\n{summary}");
    assert!(summary.contains("incidents: "), "{summary}");
    let stored = store_rows(&data.path().join("alerts"));
    assert!(stored
        .iter()
        .any(|a| a["state"] == "opened" && a["municipality"] == "56705000" && a["topic"] == "heating"));

    let store = |args: &[&str]| {
        let output =
            run(otklik().args(args).args(["--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", data.path()));
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    let incidents = store(&["incidents", "--since", "3650d"]);
    assert!(incidents.contains("город Кузнецк") && incidents.contains("heating"), "{incidents}");
    let listed = store(&["alerts", "list", "--since", "3650d"]);
    assert!(
        listed.lines().any(|l| l.contains("heating") && l.contains("(56705000)") && l.contains("resolved")),
        "{listed}"
    );
    let backtest = store(&["alerts", "backtest", "--from", "2026-11-01", "--to", "2026-11-26"]);
    assert!(backtest.lines().any(kuzneck), "{backtest}");

    // A silence is stored beside the run's rows, listed, and ended early by its id.
    let silenced = store(&[
        "alerts",
        "silence",
        "--series",
        "56705000:heating",
        "--for",
        "6h",
        "--reason",
        "авария на ТЭЦ",
        "--by",
        "test",
    ]);
    let id = silenced.split_whitespace().next().unwrap().to_owned();
    assert!(id.starts_with("56705000:heating@"), "{silenced}");
    let listed = store(&["alerts", "silences"]);
    assert!(listed.contains(&id) && listed.contains("авария на ТЭЦ") && listed.contains("1 silence\n"), "{listed}");
    store(&["alerts", "silence", "--end", &id]);
    assert!(store(&["alerts", "silences"]).contains("0 silences"));
    let refused = run(otklik().args([
        "alerts",
        "silence",
        "--series",
        "Пенза:heating",
        "--reason",
        "x",
        "--config",
        "config/demo.toml",
    ]));
    assert!(!refused.status.success() && stderr(&refused).contains("not an ОКТМО code"), "{}", stderr(&refused));
}

#[cfg(unix)]
#[test]
fn sigterm_mid_run_leaves_no_torn_row_and_a_second_run_loses_nothing() {
    use std::io::BufRead;
    let complete = tempfile::tempdir().unwrap();
    let status =
        run(otklik().args(["run", "--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", complete.path())).status;
    assert!(status.success());
    let expected = uids(complete.path());

    // The store holds still after 5 one-row batches (a test hook), so the signals always land
    // mid-run, however fast the machine.
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(repo().join("config/demo.toml"))
        .unwrap()
        .replace("batch_rows = 1000", "batch_rows = 1");
    let config = repo().join("config").join(format!("demo-sigterm-{}.toml", std::process::id()));
    std::fs::write(&config, demo).unwrap();
    let _cleanup = RemoveOnDrop(config.clone());
    let data = dir.path().join("data");
    let mut child = otklik()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .env("OTKLIK_DATA_DIR", &data)
        .env("OTKLIK_TEST_HOLD_STORE_AFTER_ROWS", "5")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    // A guard against a hang, not a pace: the hook keeps the run at 5 rows until signalled.
    let started = Instant::now();
    while store_rows(&data.join("posts")).len() < 5 {
        assert!(started.elapsed() < Duration::from_secs(120), "the run never stored 5 rows");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = || {
        assert!(std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap().success())
    };
    // The first SIGTERM stops collecting and drains (which the held store never finishes); once
    // the process says so, the second stops the stages at once.
    term();
    loop {
        let line = lines.recv_timeout(Duration::from_secs(120)).expect("no shutdown log line after SIGTERM");
        if line.contains("shutdown requested") {
            break;
        }
    }
    term();
    let output = child.wait_with_output().unwrap();
    let log = reader.join().unwrap();
    assert!(output.status.success(), "{log}");
    assert!(stdout(&output).contains("(interrupted)"), "not reported as interrupted:\n{}", stdout(&output));
    let partial = uids(&data);
    assert_eq!(partial.len(), 5, "the store held at 5 rows");
    assert!(partial.is_subset(&expected));

    let output = run(otklik().arg("run").arg("--config").arg(&config).env("OTKLIK_DATA_DIR", &data));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(uids(&data), expected, "after a second run the store holds exactly the demo's posts");
}

#[test]
fn a_second_writer_on_a_held_data_dir_is_refused() {
    let data = tempfile::tempdir().unwrap();
    // This test process is the other writer: it holds the lock for the whole run.
    let _held = otklik_clickhouse::DataDir::lock(data.path()).unwrap();
    let output = run(otklik().args(["run", "--config", "config/demo.toml"]).env("OTKLIK_DATA_DIR", data.path()));
    assert!(!output.status.success(), "a second writer ran:\n{}", stdout(&output));
    let error = stderr(&output);
    let (dir, pid) = (data.path().display(), std::process::id());
    let refusal = format!("data directory {dir} is in use by another otklik process (pid {pid})");
    assert!(error.contains(&refusal), "{error}");
    assert!(store_rows(&data.path().join("posts")).is_empty(), "the refused run stored rows");
}

/// A finished replay drains its sinks instead of waiting out `sink.batch_wait`: with the longest
/// wait check-config allows (5m) the demo still ends once everything is stored.
#[test]
fn a_finished_replay_does_not_wait_out_batch_wait() {
    let demo = std::fs::read_to_string(repo().join("config/demo.toml")).unwrap();
    let demo = demo.replace("batch_wait = \"200ms\"", "batch_wait = \"5m\"");
    assert!(demo.contains("batch_wait = \"5m\""));
    let config = repo().join("config").join(format!("demo-batch-wait-{}.toml", std::process::id()));
    std::fs::write(&config, demo).unwrap();
    let _cleanup = RemoveOnDrop(config.clone());
    let data = tempfile::tempdir().unwrap();
    let mut run = otklik();
    run.arg("run").arg("--config").arg(&config).env("OTKLIK_DATA_DIR", data.path()).stdout(std::process::Stdio::null());
    let mut child = run.spawn().unwrap();
    // Not a speed bound: without the drain the run could not end before 5 minutes.
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the replay waited for batch_wait");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(store_rows(&data.path().join("posts")).len() >= 300);
}
