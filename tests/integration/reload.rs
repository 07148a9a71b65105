//! Hot reload against a running `otklik run` (embedded, live, Telegram channels on a fake t.me on
//! 127.0.0.1): SIGHUP with a good rules file makes the posts classified after it use the new rule;
//! SIGHUP with a new settlement in the gazetteer and a new channel in the sources list makes the
//! new channel polled and the settlement placed; SIGHUP with a broken rules file is refused with
//! the problem logged, and the rules in use stay.

use super::*;
use otklik_testkit::fake_http::{FakeResponse, FakeServer};
use otklik_testkit::telegram::TgMessage;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A guard against a hang, not a pace: every wait below ends on an observed condition.
const PATIENCE: Duration = Duration::from_secs(120);
const CHANNEL: &str = "reload_chan";
/// The channel the sources list gains on the second reload.
const NEW_CHANNEL: &str = "reload_chan_two";
/// A village no gazetteer knows (name, its case forms); the second reload adds it to the okrug of
/// the town of Kuznetsk, [`NEW_VILLAGE_OKRUG`].
const NEW_VILLAGE: (&str, &str) = ("Замухрышкино", "замухрышкино|замухрышкина|замухрышкину|замухрышкином|замухрышкине");
const NEW_VILLAGE_OKRUG: &str = "56705000";
/// A word no shipped rule knows; the good reload makes it a heating word.
const NEW_WORD: &str = "кракозябра";
/// Added in the same edit as the broken file: refused with it.
const REFUSED_WORD: &str = "шмурдяк";

fn page(channel: &str, posts: &[(u64, String)]) -> String {
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let messages: Vec<TgMessage> = posts.iter().map(|(id, text)| TgMessage::new(*id, text, at.as_str())).collect();
    otklik_testkit::telegram::channel_page(channel, &messages)
}

fn write_config(dir: &Path, telegram: &str) -> PathBuf {
    let config = repo().join("config");
    let topics = dir.join("topics");
    std::fs::create_dir_all(&topics).unwrap();
    for entry in std::fs::read_dir(config.join("topics")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, topics.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("sources.toml"), source("tg-reload", CHANNEL)).unwrap();
    std::fs::copy(config.join("gazetteer/gazetteer.tsv"), dir.join("gazetteer.tsv")).unwrap();
    let text = format!(
        r#"[run]
data_dir = {data:?}

[telemetry]
log_level = "info"
metrics_listen = ""

[sink]
batch_wait = "20ms"

[classify]
topics_dir = "topics"
gazetteer = "gazetteer.tsv"

[alert]
calendar_dir = {calendar:?}

[collect]
sources_file = "sources.toml"
poll_interval = "1s"

[collect.telegram]
base_url = "{telegram}"
rate = "1000/s"
max_retries = 0
"#,
        data = dir.join("data"),
        calendar = config.join("calendar"),
    );
    let path = dir.join("otklik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn source(id: &str, channel: &str) -> String {
    format!("[[source]]\nid = \"{id}\"\nplatform = \"telegram\"\nhandle = \"{channel}\"\n")
}

/// Adds [`NEW_VILLAGE`] to the test's copy of the gazetteer: a place record (id, okrug, region,
/// class, salient, strength, name, forms).
fn add_village(dir: &Path) {
    let (name, forms) = NEW_VILLAGE;
    let record = format!("P\t990001\t{NEW_VILLAGE_OKRUG}\t56\trural\t1\ts\t{name}\t{forms}\n");
    let mut file = std::fs::OpenOptions::new().append(true).open(dir.join("gazetteer.tsv")).unwrap();
    std::io::Write::write_all(&mut file, record.as_bytes()).unwrap();
}

/// Adds `word` as a pattern of the heating topic's first rule in the test's copy of the rules.
fn add_heating_word(dir: &Path, word: &str) {
    let file = dir.join("topics/utilities.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let anchor = "\n    \"отоплени*\",\n";
    assert!(text.contains(anchor), "the heating rule moved: update this test");
    std::fs::write(&file, text.replacen(anchor, &format!("\n    \"={word}\",{anchor}"), 1)).unwrap();
}

struct Running {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    data: PathBuf,
}

impl Running {
    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Running) -> bool) {
        let started = Instant::now();
        while !done(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("otklik run exited ({status}) waiting for {what}:\n{}", self.log());
            }
            assert!(started.elapsed() < PATIENCE, "{what}: not after {PATIENCE:?}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logged(&self, needle: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    /// The newest stored row of post `id` of `channel`, once there is one.
    fn row(&self, channel: &str, id: u64) -> Option<serde_json::Value> {
        let uid = format!("tg:{channel}:{id}");
        let rows = store_rows(&self.data.join("posts"));
        rows.into_iter()
            .filter(|r| r["uid"] == uid.as_str())
            .max_by_key(|r| r["collected_at"].as_str().map(str::to_owned))
    }

    fn wait_row(&mut self, channel: &str, id: u64) -> serde_json::Value {
        self.wait_for(&format!("post {channel}/{id} stored"), |r| r.row(channel, id).is_some());
        self.row(channel, id).unwrap_or_default()
    }

    /// The topics of post `id` of the first channel, once it is stored.
    fn wait_topics(&mut self, id: u64) -> Vec<String> {
        let row = self.wait_row(CHANNEL, id);
        let topics = row["topics"].as_array().cloned().unwrap_or_default();
        topics.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()
    }

    fn signal(&self, signal: &str) {
        let status =
            std::process::Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.unwrap().success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sighup_reloads_rules_gazetteer_and_sources_and_refuses_broken_ones() {
    let posts: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let served = posts.clone();
    let server = runtime.block_on(FakeServer::start(move |request| {
        let channel = [CHANNEL, NEW_CHANNEL].into_iter().find(|c| request.path == format!("/s/{c}"));
        match channel {
            Some(channel) => FakeResponse::html(page(channel, &served.lock().unwrap())),
            None => FakeResponse::Reply { status: 404, headers: vec![], body: b"not found".to_vec() },
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url());
    // Both channels serve the same page: the second is polled only once the sources list has it.
    let post = |id: u64, text: &str| {
        posts.lock().unwrap().insert(0, (id, format!("Жители пишут: {text} во дворе")));
    };
    post(1, NEW_WORD);

    let mut child = otklik()
        .args(["run", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (sink, pipe) = (lines.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let mut running = Running { child, lines, data: dir.path().join("data") };
    // Stored means the run is past start-up, SIGHUP handler included.
    assert!(!running.wait_topics(1).contains(&"heating".to_owned()), "{NEW_WORD} is no heating word yet");
    assert_eq!(running.logged("config loaded"), 1, "{}", running.log());

    add_heating_word(dir.path(), NEW_WORD);
    running.signal("HUP");
    running.wait_for("the good reload", |r| r.logged("config reloaded") == 1);
    post(2, NEW_WORD);
    assert!(running.wait_topics(2).contains(&"heating".to_owned()), "the new rule is not used:\n{}", running.log());

    assert!(running.row(NEW_CHANNEL, 2).is_none(), "a channel not in the sources list was polled");
    add_village(dir.path());
    let sources = source("tg-reload", CHANNEL) + &source("tg-reload-two", NEW_CHANNEL);
    std::fs::write(dir.path().join("sources.toml"), sources).unwrap();
    running.signal("HUP");
    running.wait_for("the second good reload", |r| r.logged("config reloaded") == 2);
    post(5, &format!("в {} нет света", NEW_VILLAGE.0));
    let row = running.wait_row(NEW_CHANNEL, 5);
    assert_eq!(row["source_id"], "tg-reload-two", "{row}");
    assert_eq!(row["municipality"], NEW_VILLAGE_OKRUG, "the new gazetteer is not used: {row}");

    add_heating_word(dir.path(), REFUSED_WORD);
    std::fs::write(dir.path().join("topics/broken.toml"), "[[topic]\nid = \"heating\"\n").unwrap();
    running.signal("HUP");
    running.wait_for("the refused reload", |r| r.logged("config reload refused") == 1);
    assert!(running.logged("broken.toml") >= 1, "the problem is not named:\n{}", running.log());
    post(3, NEW_WORD);
    post(4, REFUSED_WORD);
    assert!(running.wait_topics(3).contains(&"heating".to_owned()), "the rules in use were lost:\n{}", running.log());
    assert!(!running.wait_topics(4).contains(&"heating".to_owned()), "the broken config was half applied");
    assert_eq!(running.logged("config reloaded"), 2, "{}", running.log());

    running.signal("TERM");
    let started = Instant::now();
    while running.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < PATIENCE, "no exit after SIGTERM:\n{}", running.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
