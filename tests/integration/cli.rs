//! `otklik parse` and `otklik classify`: their I/O formats are a contract.

use super::*;
use std::io::Write;
use std::process::Stdio;

#[test]
fn parse_prints_raw_post_ndjson_of_a_saved_response() {
    let page = repo().join("config/demo/feeds/telegram/tsur58/01-page.html");
    let output = run(otklik().arg("parse").arg("telegram").arg(&page));
    assert!(output.status.success(), "{}", stderr(&output));
    let posts: Vec<otklik_model::RawPost> = stdout(&output).lines().map(|l| otklik_model::decode("RawPost", l.as_bytes()).unwrap()).collect();
    assert!(!posts.is_empty());
    assert!(posts.iter().all(|p| p.uid.to_string().starts_with("tg:tsur58:")));
}

#[test]
fn parse_fails_clearly_on_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.json");
    std::fs::write(&file, "{\"response\": [1, 2").unwrap();
    let output = run(otklik().arg("parse").arg("vk").arg(&file));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("cannot parse vk response"), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "nothing invented on stdout");
}

fn classify(input: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut child = otklik().args(["classify", "--config", "config/demo.toml"]).args(extra).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn classify_reads_raw_posts_and_plain_text() {
    let page = repo().join("config/demo/feeds/telegram/tsur58/01-page.html");
    let raw = stdout(&run(otklik().arg("parse").arg("telegram").arg(&page)));
    let classified = classify(&raw, &[]);
    assert_eq!(classified.len(), raw.lines().count());
    for post in &classified {
        let back: otklik_model::ClassifiedPost = serde_json::from_value(post.clone()).unwrap();
        assert!(!back.classification.classifier_version.is_empty());
    }
    let text = classify("В доме на ул. Ладожской в Пензе третий день нет отопления, батареи холодные\n", &["--explain"]);
    assert_eq!(text.len(), 1);
    assert_eq!(text[0]["classification"]["topics"][0]["topic"], "heating");
    assert_eq!(text[0]["classification"]["municipality"]["oktmo"], "56701000");
    assert!(text[0]["explain"].is_object());
}

#[test]
fn classify_stops_quietly_when_its_reader_goes_away() {
    let mut child = otklik().args(["classify", "--config", "config/demo.toml"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Like `| head -1`: read one line, then close the pipe while input keeps coming.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..20_000 {
            if stdin.write_all("во дворе не вывозят мусор\n".as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    assert!(first.contains("classification"), "{first}");
    writer.join().unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "a closed pipe is not a failure: {}", stderr(&output));
    assert!(!stderr(&output).contains("error"), "{}", stderr(&output));
}
