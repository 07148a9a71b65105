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
        [[organisation]]\nid = \"uk-a\"\nname = \"УК Б\"\ntype = \"uk\"\n\
        municipality = \"99999999\"\nvk = [\"-555\"]\n\n\
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
        assert!(
            report.lines().any(|l| l.starts_with(&prefix) && l.contains(needle)),
            "missing {prefix}…{needle} in:\n{report}"
        );
    }
    assert!(report.contains("responses.deadline.uk"), "{report}");
    assert!(report.contains("9 problem(s) found"), "{report}");
}

/// A stored post or comment `minutes_ago` old in group -100 (source `vk-zhk`).
fn row(uid: &str, parent: &str, author: &str, minutes_ago: i64, kind: &str) -> otklik_clickhouse::PostRow {
    let at = chrono::Utc::now() - chrono::TimeDelta::minutes(minutes_ago);
    let at = chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap();
    otklik_clickhouse::PostRow {
        uid: uid.into(),
        platform: "vk".into(),
        source_id: "vk-zhk".into(),
        item_kind: if parent.is_empty() { "post" } else { "comment" }.into(),
        parent_uid: parent.into(),
        url: format!("https://vk.com/wall-100_{}", uid.trim_start_matches("vk:-100:").replace(":c", "?reply=")),
        author_id: author.into(),
        author_name: String::new(),
        author_is_source: u8::from(author == "-100"),
        published_at: at,
        edited_at: at,
        edited: 0,
        collected_at: at,
        text: "текст".into(),
        repost_of_uid: String::new(),
        repost_of_name: String::new(),
        repost_of_text: String::new(),
        attachment_kinds: vec![],
        views: 0,
        likes: 0,
        reposts: 0,
        comments: 0,
        pinned: 0,
        ads: 0,
        language: "ru".into(),
        kind: kind.into(),
        topics: vec![],
        topic_scores: vec![],
        topic_rules: vec![],
        municipality: "56701000".into(),
        municipality_name: "г. Пенза".into(),
        municipality_evidence: "text".into(),
        classifier_version: "test".into(),
        copy_of: String::new(),
        incident_id: String::new(),
        is_voice: 0,
        version: otklik_clickhouse::row::post_version(at, false),
    }
}

const RESPONDERS: &str =
    "[[organisation]]\nid = \"uk-a\"\nname = \"УК А\"\ntype = \"uk\"\nvk = [\"4242\"]\nsources = [\"vk-zhk\"]\n";

/// A store under `dir/data` holding a small thread of complaints and replies, delivered twice.
fn store_replies(dir: &Path) {
    let h = 60;
    let rows = vec![
        // Answered by the УК after 2 h; a non-responder's comment before that answers nothing.
        row("vk:-100:1", "", "11", 30 * h, "complaint"),
        row("vk:-100:1:c1", "vk:-100:1", "13", 29 * h, "info"),
        row("vk:-100:1:c2", "vk:-100:1", "4242", 28 * h, "info"),
        // A resident's complaint comment answered (reply to a reply) after 30 h.
        row("vk:-100:2", "", "-100", 50 * h, "info"),
        row("vk:-100:2:c1", "vk:-100:2", "12", 40 * h, "complaint"),
        row("vk:-100:2:c2", "vk:-100:2:c1", "4242", 10 * h, "info"),
        // Unanswered for 30 h: past the УК's 24 h deadline. Unanswered for 2 h: not yet.
        row("vk:-100:3", "", "14", 30 * h, "question"),
        row("vk:-100:4", "", "15", 2 * h, "complaint"),
    ];
    let store = otklik_clickhouse::LocalStore::<otklik_clickhouse::PostRow>::open(&dir.join("data")).unwrap();
    store.append(&rows, chrono::Utc::now()).unwrap();
    store.append(&rows, chrono::Utc::now()).unwrap();
}

#[test]
fn responses_per_organisation_and_municipality_and_overdue_complaints() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), RESPONDERS, "");
    // Delivered twice: the figures do not change.
    store_replies(dir.path());
    let output = run(otklik().args(["report", "responses", "--since", "7d", "--config"]).arg(&config));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    let cells = |label: &str| -> Vec<String> {
        let line = report.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_default();
        line[line.find(label).unwrap_or(0) + label.len()..].split_whitespace().map(str::to_owned).collect()
    };
    // 4 complaints, 1 answered within 24 h (2 h), the other after 30 h (the median of two is the
    // upper one, as ClickHouse's quantileExact takes it); the oldest unanswered 30 h old.
    let expected = ["4", "1", "25%", "1d", "6h", "1d", "6h"];
    assert_eq!(cells("УК А (uk-a)")[..7], expected, "{report}");
    assert_eq!(cells("г. Пенза (56701000)")[..7], expected, "{report}");
    assert!(cells("УК А (uk-a)").join(" ").contains("(1d 6h ago)"), "{report}");
    assert!(report.contains("Unanswered past the deadline: 1"), "{report}");
    assert!(report.contains("https://vk.com/wall-100_3"), "{report}");
    assert!(!report.contains("https://vk.com/wall-100_4"), "{report}");
}

/// `sql`'s answer as TSV, over HTTP/1.0 (so the body is not chunked).
fn clickhouse_tsv(url: &str, sql: &str) -> String {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect to ClickHouse");
    write!(stream, "POST / HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{sql}", sql.len()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.contains(" 200 "), "{sql}: {response}");
    body.to_owned()
}

#[test]
fn the_same_report_from_clickhouse_and_its_recorded_figures() {
    let Some(clickhouse) = otklik_testkit::clickhouse() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let embedded = config_with(dir.path(), RESPONDERS, "");
    store_replies(dir.path());
    let database = otklik_testkit::unique_name("otklik_responses");
    let production_run = format!(
        "[run]\nmode = \"production\"\ndata_dir = \"data\"\n\n[kafka]\nbrokers = \"127.0.0.1:9\"\n\n\
         [clickhouse]\nurl = {clickhouse:?}\ndatabase = {database:?}\n"
    );
    let text = std::fs::read_to_string(&embedded).unwrap().replace("[run]\ndata_dir = \"data\"\n", &production_run);
    let production = dir.path().join("production.toml");
    std::fs::write(&production, text).unwrap();
    let loaded =
        run(otklik().args(["clickhouse", "load"]).arg(dir.path().join("data")).arg("--config").arg(&production));
    assert!(loaded.status.success(), "{}", stderr(&loaded));
    let report = |config: &Path, record: bool| {
        let mut command = otklik();
        command.args(["report", "responses", "--config"]).arg(config);
        if record {
            command.arg("--record");
        }
        let output = run(&mut command);
        assert!(output.status.success(), "{}", stderr(&output));
        // Past the header (its «since» is the run's own clock).
        stdout(&output).lines().skip(1).map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(report(&production, true), report(&embedded, false));
    report(&production, true);
    // Recorded twice: still 4 complaints, 1 answered within 24 h.
    let sql =
        format!("SELECT sum(complaints), sum(answered_24h) FROM {database}.response_daily WHERE organisation = 'uk-a'");
    assert_eq!(clickhouse_tsv(&clickhouse, &sql).trim(), "4\t1");
    clickhouse_tsv(&clickhouse, &format!("DROP DATABASE {database}"));
}
