//! Hot reload against a running `otklik run` (embedded, live, one Telegram channel on a fake
//! t.me on 127.0.0.1): SIGHUP with a good rules file makes the posts classified after it use the
//! new rule; SIGHUP with a broken one is refused with the problem logged, and the rules in use stay.

use super::*;
use otklik_testkit::fake_http::{FakeResponse, FakeServer};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A guard against a hang, not a pace: every wait below ends on an observed condition.
const PATIENCE: Duration = Duration::from_secs(120);
const CHANNEL: &str = "reload_chan";
/// A word no shipped rule knows; the good reload makes it a heating word.
const NEW_WORD: &str = "кракозябра";
/// Added in the same edit as the broken file: refused with it.
const REFUSED_WORD: &str = "шмурдяк";

fn page(posts: &[(u64, String)]) -> String {
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let blocks: String = posts
        .iter()
        .map(|(id, text)| {
            format!(
                r#"<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="{CHANNEL}/{id}">
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>
    <div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info short js-message_info">
      <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{CHANNEL}/{id}"><time datetime="{at}" class="time">12:00</time></a></span>
    </div></div>
  </div>
</div></div>
"#
            )
        })
        .collect();
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{CHANNEL}</title></head>
<body class="widget_frame_base tgme_webpreview_body"><main class="tgme_main" data-url="/s/{CHANNEL}"><div class="tgme_container">
<section class="tgme_channel_history js-message_history">
{blocks}</section></div></main></body></html>
"#
    )
}

fn write_config(dir: &Path, telegram: &str) -> PathBuf {
    let config = repo().join("config");
    let topics = dir.join("topics");
    std::fs::create_dir_all(&topics).unwrap();
    for entry in std::fs::read_dir(config.join("topics")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, topics.join(path.file_name().unwrap())).unwrap();
    }
    let sources = format!("[[source]]\nid = \"tg-reload\"\nplatform = \"telegram\"\nhandle = \"{CHANNEL}\"\n");
    std::fs::write(dir.join("sources.toml"), sources).unwrap();
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
gazetteer = {gazetteer:?}

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
        gazetteer = config.join("gazetteer/gazetteer.tsv"),
        calendar = config.join("calendar"),
    );
    let path = dir.join("otklik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Adds `word` as a pattern of the heating topic's first rule in the test's copy of the rules.
fn add_heating_word(dir: &Path, word: &str) {
    let file = dir.join("topics/utilities.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let anchor = "\"отоплени*\", \"отопительн*";
    assert!(text.contains(anchor), "the heating rule moved: update this test");
    std::fs::write(&file, text.replacen(anchor, &format!("\"={word}\", {anchor}"), 1)).unwrap();
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

    /// The topics of the newest stored row of post `id`, once there is one.
    fn topics(&self, id: u64) -> Option<Vec<String>> {
        let uid = format!("tg:{CHANNEL}:{id}");
        let rows = store_rows(&self.data.join("posts"));
        let row = rows
            .iter()
            .filter(|r| r["uid"] == uid.as_str())
            .max_by_key(|r| r["collected_at"].as_str().map(str::to_owned))?;
        Some(row["topics"].as_array()?.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
    }

    fn wait_topics(&mut self, id: u64) -> Vec<String> {
        self.wait_for(&format!("post {id} stored"), |r| r.topics(id).is_some());
        self.topics(id).unwrap_or_default()
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
fn sighup_reloads_good_rules_and_refuses_broken_ones() {
    let posts: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let served = posts.clone();
    let server = runtime.block_on(FakeServer::start(move |request| match request.path == format!("/s/{CHANNEL}") {
        true => FakeResponse::html(page(&served.lock().unwrap())),
        false => FakeResponse::Reply { status: 404, headers: vec![], body: b"not found".to_vec() },
    }));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url());
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

    add_heating_word(dir.path(), REFUSED_WORD);
    std::fs::write(dir.path().join("topics/broken.toml"), "[[topic]\nid = \"heating\"\n").unwrap();
    running.signal("HUP");
    running.wait_for("the refused reload", |r| r.logged("config reload refused") == 1);
    assert!(running.logged("broken.toml") >= 1, "the problem is not named:\n{}", running.log());
    post(3, NEW_WORD);
    post(4, REFUSED_WORD);
    assert!(running.wait_topics(3).contains(&"heating".to_owned()), "the rules in use were lost:\n{}", running.log());
    assert!(!running.wait_topics(4).contains(&"heating".to_owned()), "the broken config was half applied");
    assert_eq!(running.logged("config reloaded"), 1, "{}", running.log());

    running.signal("TERM");
    let started = Instant::now();
    while running.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < PATIENCE, "no exit after SIGTERM:\n{}", running.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
