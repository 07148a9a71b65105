//! The collector fleet against the real Kafka of scripts/test.sh: 300 Telegram channels on a fake
//! t.me (127.0.0.1), their sources imported into the sources topic, three `otklik collect`
//! processes sharing them through the `{group_prefix}-collect` group, one killed with SIGKILL.
//! Plus what needs no broker: check-config's ranges for the fleet keys and an import of a
//! broken sources file.

use super::*;
use otklik_testkit::fake_http::{FakeRequest, FakeResponse, FakeServer};
use otklik_testkit::telegram::TgMessage;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHANNELS: usize = 300;
/// A guard against a hang, not a pace: every wait below ends on an observed condition.
const PATIENCE: Duration = Duration::from_secs(240);

fn channel(i: usize) -> String {
    format!("fleet_chan_{i:03}")
}

fn sources_file(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for i in 0..CHANNELS {
        text.push_str(&format!(
            "[[source]]\nid = \"fleet-{i:03}\"\nplatform = \"telegram\"\nhandle = \"{}\"\n\n",
            channel(i)
        ));
    }
    let path = dir.join("sources.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn fleet_config(dir: &Path, kafka: &str, name: &str, telegram: &str) -> PathBuf {
    let config = repo().join("config");
    let path = dir.join("otklik.toml");
    let text = format!(
        r#"[run]
mode = "production"
data_dir = {data:?}

[telemetry]
log_level = "info"

[kafka]
brokers = {kafka:?}
group_prefix = "{name}"
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "1000"
[kafka.topics]
partitions = 6
posts_raw = "{name}.raw"
posts_classified = "{name}.classified"
alerts = "{name}.alerts"
dlq = "{name}.dlq"
sources = "{name}.sources"
cursors = "{name}.cursors"

[classify]
topics_dir = {topics:?}
gazetteer = {gazetteer:?}

[collect]
sources_file = {sources:?}
sources = "kafka"
poll_interval = "2s"
rate_share = 0.34

[collect.telegram]
base_url = "{telegram}"
rate = "1000/s"
recheck_window = "1h"
max_retries = 0
"#,
        data = dir.join("data"),
        topics = config.join("topics"),
        gazetteer = config.join("gazetteer/gazetteer.tsv"),
        sources = dir.join("sources.toml"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A channel's three posts: two older than the re-check window (3 and 2 days), one young.
fn channel_page(name: &str, start: chrono::DateTime<chrono::Utc>) -> String {
    let ages = [(1, chrono::Duration::days(3)), (2, chrono::Duration::days(2)), (3, chrono::Duration::minutes(20))];
    let messages: Vec<TgMessage> = ages
        .iter()
        .map(|&(id, age)| {
            let at = (start - age).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            TgMessage::new(id, format!("Пост {id}: во дворе не убран снег"), at)
        })
        .collect();
    otklik_testkit::telegram::channel_page(name, &messages)
}

/// Each request of the fake t.me: (channel, collector from the User-Agent, arrival).
type Asked = Vec<(String, String, Instant)>;

fn asked(server: &FakeServer) -> Asked {
    server
        .requests()
        .into_iter()
        .filter_map(|r: FakeRequest| {
            let channel = r.path.strip_prefix("/s/")?.to_owned();
            let agent = r.header("user-agent").unwrap_or_default();
            let collector = agent.split("(collector ").nth(1)?.trim_end_matches(')').to_owned();
            Some((channel, collector, r.at))
        })
        .collect()
}

/// `otklik collect` as collector `instance`, its stderr lines collected.
struct Collector {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    fn start(config: &Path, instance: &str) -> Collector {
        let mut child = otklik()
            .arg("collect")
            .arg("--config")
            .arg(config)
            .env("OTKLIK_INSTANCE_ID", instance)
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
        Collector { child, lines }
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The log without the per-pass lines.
    fn quiet_log(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines.iter().filter(|l| !l.contains("poll pass done")).cloned().collect::<Vec<_>>().join("\n")
    }

    /// Waits for the process to end after a signal (a guard of minutes, then a kill and a panic).
    fn wait(&mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("a collector did not exit after its signal:\n{}", self.quiet_log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("a collector exited ({status}):\n{}", self.log());
        }
    }

    fn signal(&self, signal: &str) {
        std::process::Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
    }
}

/// Waits until `done` holds, checking that every collector still runs.
fn wait_until(what: &str, collectors: &mut [&mut Collector], mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        for c in collectors.iter_mut() {
            c.assert_running();
        }
        if started.elapsed() > PATIENCE {
            let logs: Vec<String> = collectors.iter().map(|c| c.quiet_log()).collect();
            panic!("{what}: not after {:?}\n{}", started.elapsed(), logs.join("\n----\n"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Each channel's last asker after `since`.
fn owner_runs_after(server: &FakeServer, since: Instant) -> BTreeMap<String, String> {
    asked(server).into_iter().filter(|(_, _, at)| *at > since).map(|(channel, c, _)| (channel, c)).collect()
}

impl Drop for Collector {
    /// A failing test leaves no collector behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Per channel, the collectors in the order they asked, merged into runs: `[c1, c2]` when c1
/// asked a few times and then c2 took over.
fn owner_runs(asked: &Asked) -> BTreeMap<String, Vec<String>> {
    let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (channel, collector, _) in asked {
        let run = runs.entry(channel.clone()).or_default();
        if run.last() != Some(collector) {
            run.push(collector.clone());
        }
    }
    runs
}

#[test]
fn three_collectors_share_the_sources_and_survive_a_kill() {
    let Some(kafka) = otklik_testkit::kafka() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let start = chrono::Utc::now();
    let server = runtime.block_on(FakeServer::start(move |request| match request.path.strip_prefix("/s/") {
        Some(name) => FakeResponse::html(channel_page(name, start)),
        None => FakeResponse::status(404),
    }));
    let dir = tempfile::tempdir().unwrap();
    let name = otklik_testkit::unique_name("otklik_fleet");
    let sources = sources_file(dir.path());
    let config = fleet_config(dir.path(), &kafka, &name, &server.url());

    let import = run(otklik().args(["sources", "import"]).arg(&sources).arg("--config").arg(&config));
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(stdout(&import).contains("300 added, 0 changed, 0 unchanged, 0 removed"), "{}", stdout(&import));

    // c1 first, so that it sees every generation of the group; then c2 and c3.
    let mut c1 = Collector::start(&config, "c1");
    wait_until("c1 assigned", &mut [&mut c1], || asked(&server).len() >= CHANNELS);
    let mut c2 = Collector::start(&config, "c2");
    let mut c3 = Collector::start(&config, "c3");
    // Settled: each of the three polls a share, and every channel was asked twice in a row by
    // its owner (so its cursor is published).
    wait_until("three shares, every cursor published", &mut [&mut c1, &mut c2, &mut c3], || {
        let asked = asked(&server);
        let mut last_two: HashMap<&str, Vec<&str>> = HashMap::new();
        for (channel, collector, _) in &asked {
            last_two.entry(channel).or_default().push(collector);
        }
        let settled = last_two.values().filter(|v| v.len() >= 2 && v[v.len() - 1] == v[v.len() - 2]).count();
        let owners: std::collections::HashSet<&str> = last_two.values().filter_map(|v| v.last().copied()).collect();
        settled == CHANNELS && owners.len() == 3
    });

    let generations_at_kill = c1.count("sources partitions assigned");
    c3.signal("KILL");
    c3.wait();
    let killed = Instant::now();
    // c3's partitions go over once its session times out: the survivors are assigned anew (c1
    // sees it). From then on each channel is asked by its new owner only (the old ones confirmed
    // their revocations first), and every channel is asked again, resuming from its cursor.
    wait_until("the survivors assigned c3's partitions", &mut [&mut c2], || {
        c1.count("sources partitions assigned") > generations_at_kill
    });
    let rebalanced = Instant::now();
    let reassigned_after = rebalanced - killed;
    wait_until("every channel polled after the kill", &mut [&mut c1, &mut c2], || {
        owner_runs_after(&server, rebalanced).len() == CHANNELS
    });
    assert!(
        asked(&server).iter().all(|(_, collector, at)| *at <= killed || collector != "c3"),
        "the killed collector asked"
    );

    // Killed and restarted under its name, a collector takes its partitions back at once: the
    // group does not rebalance (c1 is assigned nothing new) and it resumes from its cursors.
    let generations_before = c1.count("sources partitions assigned");
    let mine: std::collections::HashSet<String> =
        owner_runs_after(&server, rebalanced).into_iter().filter(|(_, c)| c == "c2").map(|(ch, _)| ch).collect();
    assert!(!mine.is_empty(), "c2 owns no channel");
    c2.signal("KILL");
    c2.wait();
    let restarted = Instant::now();
    let mut c2 = Collector::start(&config, "c2");
    wait_until("the restarted c2 polls its channels again", &mut [&mut c1, &mut c2], || {
        let again: std::collections::HashSet<String> = asked(&server)
            .into_iter()
            .filter(|(_, c, at)| *at > restarted && c == "c2")
            .map(|(channel, ..)| channel)
            .collect();
        mine.iter().all(|channel| again.contains(channel))
    });
    let taken_back = restarted.elapsed();
    assert_eq!(
        c1.count("sources partitions assigned"),
        generations_before,
        "the restart rebalanced the group:\n{}",
        c2.log()
    );
    let asked = asked(&server);

    // No channel was walked by two collectors at once: its owner changes only at a rebalance,
    // which c1 (a member all along) saw as an assignment each.
    let generations = c1.count("sources partitions assigned");
    let runs = owner_runs(&asked);
    assert_eq!(runs.len(), CHANNELS);
    for (channel, owners) in &runs {
        assert!(
            owners.len() <= generations,
            "{channel} changed hands {} times in {generations} generations: {owners:?}",
            owners.len() - 1
        );
    }
    let moved = runs.values().filter(|owners| owners.len() > 1).count();
    assert!(moved > 0, "no channel changed hands");
    eprintln!(
        "fleet: {} requests, {generations} generations, {moved} channels changed hands; c3's partitions \
         reassigned {reassigned_after:.1?} after its kill (session.timeout.ms 6000); the restarted c2 had \
         polled all its channels again {taken_back:.1?} after its start",
        asked.len()
    );

    // Nothing older than the re-check window was published twice: every owner resumed from the
    // cursors its predecessor published.
    let raw = runtime.block_on(async {
        let bus = otklik_kafka::KafkaBus::new(otklik_kafka::KafkaConfig::new(&kafka)).unwrap();
        bus.log(&format!("{name}.raw")).await.unwrap()
    });
    let mut published: HashMap<String, usize> = HashMap::new();
    for (key, _) in &raw {
        *published.entry(String::from_utf8_lossy(key).into_owned()).or_default() += 1;
    }
    assert_eq!(published.len(), CHANNELS * 3, "every post of every channel");
    for (uid, count) in &published {
        let old = uid.ends_with(":1") || uid.ends_with(":2");
        assert!(!old || *count == 1, "{uid} (older than the re-check window) published {count} times");
    }

    // The sources list shows each source's progress.
    let list = run(otklik().args(["sources", "list", "--config"]).arg(&config));
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(text.contains("300 source(s), 300 polled at least once"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("fleet-000") && l.contains(" 3 ") && l.ends_with("ok")), "{text}");

    for c in [&mut c1, &mut c2] {
        c.signal("TERM");
        let status = c.wait();
        assert!(status.success(), "{}", c.quiet_log());
        assert!(!c.log().contains("ERROR"), "{}", c.log());
    }

    // A source removed from the file gets a tombstone.
    let text = std::fs::read_to_string(&sources).unwrap();
    let first_removed = text.split("\n\n").skip(1).collect::<Vec<_>>().join("\n\n");
    std::fs::write(&sources, first_removed).unwrap();
    let import = run(otklik().args(["sources", "import"]).arg(&sources).arg("--config").arg(&config));
    assert!(
        stdout(&import).contains("0 added, 0 changed, 299 unchanged, 1 removed"),
        "{}{}",
        stdout(&import),
        stderr(&import)
    );
    let list = stdout(&run(otklik().args(["sources", "list", "--config"]).arg(&config)));
    assert!(list.contains("299 source(s)") && !list.contains("fleet-000 "), "{list}");
}

#[test]
fn check_config_refuses_bad_fleet_keys_and_import_names_the_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_file(dir.path());
    let config = fleet_config(dir.path(), "127.0.0.1:9", "otklik_fleet_check", "http://127.0.0.1:9");
    let text = std::fs::read_to_string(&config).unwrap();
    let bad = text
        .replace("rate_share = 0.34", "rate_share = 0")
        .replace("[collect]\n", "[collect]\ninstance_id = \"two words\"\n");
    std::fs::write(&config, bad).unwrap();
    let check = run(otklik().arg("check-config").arg(&config));
    assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    let err = stderr(&check);
    assert!(err.contains("collect.rate_share: 0 is outside 0.001..=1"), "{err}");
    assert!(err.contains("collect.instance_id"), "{err}");
    let embedded = text.replace("mode = \"production\"", "mode = \"embedded\"");
    std::fs::write(&config, embedded).unwrap();
    let check = run(otklik().arg("check-config").arg(&config));
    assert!(stderr(&check).contains("collect.sources: \"kafka\" needs production mode"), "{}", stderr(&check));

    // A broken sources file is refused before Kafka is asked (the brokers here do not exist).
    std::fs::write(&config, &text).unwrap();
    let broken =
        std::fs::read_to_string(&sources).unwrap().replacen("handle = \"fleet_chan_001\"", "handle = \"x\"", 1);
    std::fs::write(&sources, broken).unwrap();
    let import = run(otklik().args(["sources", "import"]).arg(&sources).arg("--config").arg(&config));
    assert!(!import.status.success());
    let err = stderr(&import);
    assert!(err.contains("sources.toml:9: source[1].handle"), "{err}");
}
