//! `otklik parse` and `otklik classify`: their I/O formats are a contract.

use super::*;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

#[test]
fn parse_prints_raw_post_ndjson_of_a_saved_response() {
    let page = repo().join("config/demo/feeds/telegram/tsur58/01-page.html");
    let output = run(otklik().arg("parse").arg("telegram").arg(&page));
    assert!(output.status.success(), "{}", stderr(&output));
    let posts: Vec<otklik_model::RawPost> =
        stdout(&output).lines().map(|l| otklik_model::decode("RawPost", l.as_bytes()).unwrap()).collect();
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
    let mut child = otklik()
        .args(["classify", "--config", "config/demo.toml"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    let text =
        classify("В доме на ул. Ладожской в Пензе третий день нет отопления, батареи холодные\n", &["--explain"]);
    assert_eq!(text.len(), 1);
    assert_eq!(text[0]["classification"]["topics"][0]["topic"], "heating");
    assert_eq!(text[0]["classification"]["municipality"]["oktmo"], "56701000");
    assert!(text[0]["explain"].is_object());
}

#[test]
fn classify_stops_quietly_when_its_reader_goes_away() {
    let mut child = otklik()
        .args(["classify", "--config", "config/demo.toml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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

#[test]
fn parse_reads_at_most_max_bytes() {
    // A device that never ends: the cap ends the read at once, instead of growing to GBs.
    if std::path::Path::new("/dev/zero").exists() {
        let output = run(otklik().args(["parse", "vk", "/dev/zero"]));
        assert!(!output.status.success());
        let err = stderr(&output);
        assert!(err.contains("/dev/zero is larger than 67108864 bytes (--max-bytes)"), "{err}");
        assert!(stdout(&output).is_empty());
    }
    let page = repo().join("config/demo/feeds/telegram/tsur58/01-page.html");
    let size = std::fs::metadata(&page).unwrap().len();
    let output = run(otklik().arg("parse").arg("telegram").arg(&page).args(["--max-bytes", &(size - 1).to_string()]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("larger than") && stderr(&output).contains("--max-bytes"), "{}", stderr(&output));
    let output = run(otklik().arg("parse").arg("telegram").arg(&page).args(["--max-bytes", &size.to_string()]));
    assert!(output.status.success(), "a file of exactly the cap is read: {}", stderr(&output));
    assert!(!stdout(&output).is_empty());
}

fn classify_bytes(input: &[u8], extra: &[&str]) -> std::process::Output {
    classify_bytes_with(Path::new("config/demo.toml"), input, extra)
}

fn classify_bytes_with(config: &Path, input: &[u8], extra: &[&str]) -> std::process::Output {
    let mut command = otklik();
    command.arg("classify").arg("--config").arg(config).args(extra);
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: a large input must not deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

/// The classifier a command runs is the one its config check loaded, in the config's region: with
/// no gazetteer, region 36 makes «в Самаре» a home place, where Penza's region flags it as
/// another region's.
#[test]
fn classify_runs_in_the_configured_region_without_a_gazetteer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.toml"),
        "[[source]]\nid = \"tg\"\nplatform = \"telegram\"\nhandle = \"penza_city\"\n",
    )
    .unwrap();
    let topics = repo().join("config/topics");
    for (region, out_of_region) in [("36", false), ("56", true)] {
        let path = dir.path().join("otklik.toml");
        std::fs::write(
            &path,
            format!(
                "[classify]\ntopics_dir = {topics:?}\ngazetteer = \"\"\nregion = {region:?}\n\n\
             [collect]\nsources_file = \"sources.toml\"\n"
            ),
        )
        .unwrap();
        let output = classify_bytes_with(&path, "В Самаре на улице Ленина огромная яма на дороге\n".as_bytes(), &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!(
            line["classification"]["out_of_region"].as_bool().unwrap_or(false),
            out_of_region,
            "region {region}: {line}"
        );
    }
}

/// Good lines 1, 5 and 7; bad lines 2 (not UTF-8), 3 (a RawPost with a wrong field), 4 (a plain
/// line starting with `{`); line 6 is blank.
fn mixed() -> Vec<u8> {
    [
        "В Пензе нет воды\n".as_bytes(),
        b"\xff\xfe not utf-8\n",
        b"{\"schema\": 1, \"uid\": \"vk:-1:2\", \"secret_field\": \"hunter2 hunter2 hunter2\"}\n",
        b"{ plain text after a brace, hunter2 hunter2 hunter2\n",
        "мусор во дворе\r\n".as_bytes(),
        b"\n",
        "яма на дороге\n".as_bytes(),
    ]
    .concat()
}

#[test]
fn classify_skips_bad_lines_reports_their_numbers_and_fails_at_the_end() {
    let output = classify_bytes(&mixed(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let rows: Vec<serde_json::Value> = stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["В Пензе нет воды", "мусор во дворе", "яма на дороге"], "every good line, in order");
    assert!(err.contains("stdin line 2: not valid UTF-8"), "{err}");
    assert!(err.contains("stdin line 3: ") && err.contains("not a RawPost"), "{err}");
    assert!(err.contains("stdin line 4: ") && err.contains("not a RawPost"), "{err}");
    assert!(!err.contains("stdin line 6"), "a blank line is not bad: {err}");
    assert!(err.contains("3 lines skipped"), "{err}");
    assert!(!err.contains("hunter2 hunter2"), "no echo of the line: {err}");
}

#[test]
fn classify_strict_stops_at_the_first_bad_line_with_its_number() {
    let output = classify_bytes(&mixed(), &["--strict"]);
    let err = stderr(&output);
    assert!(!output.status.success());
    assert_eq!(stdout(&output).lines().count(), 1, "only the line before the bad one");
    assert!(err.contains("stdin line 2: not valid UTF-8"), "{err}");
    assert!(!err.contains("stdin line 3") && !err.contains("skipped"), "{err}");
}

/// Batches classified on several threads come out in input order, and a bad line's number counts
/// across batches: 1,000 lines (several batches), every 97th one not UTF-8, on three threads give
/// byte for byte what one thread gives.
#[test]
fn classify_on_many_threads_keeps_the_input_order_and_line_numbers() {
    let mut input = Vec::new();
    for n in 1..=1000 {
        if n % 97 == 0 {
            input.extend_from_slice(b"\xff not utf-8\n");
        } else {
            input.extend_from_slice(format!("пост {n}: во дворе не вывозят мусор\n").as_bytes());
        }
    }
    let one = classify_bytes(&input, &["--threads", "1"]);
    let three = classify_bytes(&input, &["--threads", "3"]);
    assert_eq!(stdout(&one), stdout(&three));
    assert_eq!(stderr(&one), stderr(&three));
    let texts: Vec<String> = stdout(&three)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> =
        (1..=1000).filter(|n| n % 97 != 0).map(|n| format!("пост {n}: во дворе не вывозят мусор")).collect();
    assert_eq!(texts, want);
    let err = stderr(&three);
    for n in [97, 194, 970] {
        assert!(err.contains(&format!("stdin line {n}: not valid UTF-8")), "{err}");
    }
    assert!(err.contains("10 lines skipped"), "{err}");
}

#[test]
fn classify_skips_a_line_longer_than_max_line_bytes() {
    let mut input = "яма ".repeat(500).into_bytes();
    input.extend_from_slice("\nво дворе не вывозят мусор\n".as_bytes());
    let output = classify_bytes(&input, &["--max-line-bytes", "100"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(stdout(&output).lines().count(), 1, "the next line is read whole: {err}");
    assert!(err.contains("stdin line 1: longer than 100 bytes") && err.contains("1 line skipped"), "{err}");
}

#[test]
fn classify_explains_a_place_dense_line_in_bounded_output() {
    let tsv = std::fs::read_to_string(repo().join("config/gazetteer/gazetteer.tsv")).unwrap();
    let names: Vec<&str> =
        tsv.lines().filter_map(|l| l.strip_prefix("P\t")).filter_map(|l| l.split('\t').nth(6)).collect();
    let mut line = String::new();
    for name in names.iter().cycle() {
        if line.len() > 2_000_000 {
            break;
        }
        line.push_str("в ");
        line.push_str(name);
        line.push_str(", нет воды, ");
    }
    line.push('\n');
    let output = classify_bytes(line.as_bytes(), &["--explain"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let row: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The row echoes its 2 MB text; the explanation on top of it is bounded.
    let explain = serde_json::to_vec(&row["explain"]).unwrap().len();
    assert!(explain < 400_000, "explanation of a 2 MB line is {explain} bytes");
}

// ---- `otklik parse`: items that are not posts, and answers with nothing in them ----

fn parse_file(network: &str, name: &str, body: &[u8]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, body).unwrap();
    run(otklik().arg("parse").arg(network).arg(&file))
}

#[test]
fn parse_reports_invalid_items_by_index_and_prints_the_valid_ones() {
    let body = r#"{"response": {"count": 4, "items": [
        {"id": -1, "owner_id": -5, "date": 1763000000, "text": "a"},
        {"id": 0, "owner_id": -5, "date": 1763000000, "text": "b"},
        {"id": 7, "owner_id": -5, "date": -1, "text": "c"},
        {"id": 8, "owner_id": -5, "date": 1763000000, "text": "настоящий"}]}}"#;
    let output = parse_file("vk", "wall.json", body.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    let decode = |l: &str| otklik_model::decode::<otklik_model::RawPost>("RawPost", l.as_bytes()).unwrap();
    let uids: Vec<String> = out.lines().map(|l| decode(l).uid.to_string()).collect();
    assert_eq!(uids, ["vk:-5:8"]);
    let err = stderr(&output);
    assert!(err.contains("item 0: vk:-5:-1: post id -1 is not positive"), "{err}");
    assert!(err.contains("item 1: vk:-5:0: post id 0 is not positive"), "{err}");
    assert!(err.contains("item 2: vk:-5:7: date 1969-12-31T23:59:59Z is before 2006"), "{err}");
}

#[test]
fn parse_exits_1_when_every_item_is_invalid() {
    let body = r#"{"media_topics": [{"id": "abc", "owner_ref": "group:5439", "created_ms": 1763000000000}],
                   "has_more": false}"#;
    let output = parse_file("ok", "topics.json", body.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    let err = stderr(&output);
    assert!(err.contains("item 0: ok:5439:abc: topic id \"abc\" is not a number"), "{err}");
    assert!(err.contains("nothing parsed: all 1 items are invalid"), "{err}");
}

#[test]
fn parse_exits_1_on_suspicious_empty_answers_and_0_on_empty_feeds() {
    let history = r#"<html><div class="tgme_channel_info"><div class="tgme_channel_info_header_title">Канал</div></div>
        <section class="tgme_channel_history js-message_history"></section></html>"#;
    let suspicious: [(&str, &str, &str); 4] = [
        ("vk", r#"{"response": {"count": 5}}"#, "count 5 but has no items list"),
        (
            "vk",
            r#"{"response": [false, false], "execute_errors": [
            {"method": "wall.get", "error_code": 30, "error_msg": "private"},
            {"method": "wall.get", "error_code": 6, "error_msg": "too many"}]}"#,
            "every call of the execute batch failed (2 calls, 2 execute_errors)",
        ),
        ("ok", r#"{"has_more": true, "anchor": "NTQ"}"#, "neither \"media_topics\" nor \"comments\""),
        ("telegram", history, "page has no message blocks"),
    ];
    for (network, body, reason) in suspicious {
        let output = parse_file(network, "x", body.as_bytes());
        assert_eq!(output.status.code(), Some(1), "{network} {body}");
        assert!(stdout(&output).is_empty());
        let err = stderr(&output);
        assert!(err.contains("nothing parsed: ") && err.contains(reason), "{network}: {err}");
    }
    let no_messages = history.replace("</section>", r#"<div class="tme_no_messages_found">No posts</div></section>"#);
    let empty_feeds = [
        ("vk", r#"{"response": {"count": 0, "items": []}}"#.to_owned()),
        ("ok", r#"{"media_topics": [], "has_more": false}"#.to_owned()),
        ("telegram", no_messages),
        ("telegram", "\"\"".to_owned()),
    ];
    for (network, body) in empty_feeds {
        let output = parse_file(network, "x", body.as_bytes());
        assert_eq!(output.status.code(), Some(0), "{network} {body}: {}", stderr(&output));
        assert!(stdout(&output).is_empty() && stderr(&output).is_empty(), "{network}: {}", stderr(&output));
    }
}

#[test]
fn parse_refuses_a_telegram_page_with_invalid_utf8() {
    let page = std::fs::read(repo().join("config/demo/feeds/telegram/tsur58/01-page.html")).unwrap();
    let at = page.len() / 2;
    let mut broken = page.clone();
    broken[at] = 0xff;
    let output = parse_file("telegram", "page.html", &broken);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty(), "no post with U+FFFD in it");
    let err = stderr(&output);
    assert!(err.contains("cannot parse telegram response: page is not valid UTF-8 at byte"), "{err}");
}

#[test]
fn parse_vk_takes_the_owner_of_items_without_one_from_owner() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("execute.json");
    let body = r#"{"response":{"count":1,"items":[{"id":7,"from_id":5001,"date":1763100000,"text":"Нет света"}]}}"#;
    std::fs::write(&file, body).unwrap();
    let refused = run(otklik().arg("parse").arg("vk").arg(&file));
    assert!(!refused.status.success() && stderr(&refused).contains("--owner"), "{}", stderr(&refused));
    let parsed = run(otklik().arg("parse").arg("vk").arg(&file).args(["--owner", "-1234"]));
    assert!(parsed.status.success(), "{}", stderr(&parsed));
    assert!(stdout(&parsed).contains(r#""uid":"vk:-1234:7""#), "{}", stdout(&parsed));
}

#[test]
fn rules_coverage_lists_the_patterns_no_text_matches_with_their_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let texts = dir.path().join("texts.txt");
    std::fs::write(&texts, "Во дворе яма, машины бьют колёса\n\nТретий день нет горячей воды\n").unwrap();
    let output = run(otklik().args(["rules-coverage", "--config", "config/demo.toml"]).arg(&texts));
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let mut lines = out.lines();
    let summary = lines.next().unwrap();
    assert!(summary.ends_with("matching none of 2 texts"), "{summary}");
    let listed: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert!(listed.len() > 1000, "two texts leave most patterns unmatched: {}", listed.len());
    for fields in &listed {
        let [place, rule, count, _pattern] = fields[..] else { panic!("four fields: {fields:?}") };
        assert!(place.contains(".toml:") && rule.contains('.') && count == "0", "{fields:?}");
    }
    // The one-word pattern of «яма» matched the first text; phrases that start with it need more.
    let pit = |f: &&Vec<&str>| f[1] == "roads.pavement_damage" && f[3].starts_with("=яма|") && !f[3].contains('~');
    assert!(!listed.iter().any(|f| pit(&f)), "«яма» matched");
    let unreadable = run(otklik().args(["rules-coverage", "--config", "config/demo.toml", "no/such/file.csv"]));
    assert!(!unreadable.status.success());
    assert!(stderr(&unreadable).contains("cannot read texts from no/such/file.csv"), "{}", stderr(&unreadable));
}
