//! Load errors name the file, the line and what was expected, but never echo the file's text (a
//! wrong path may point at a password file), and every file read is capped in size.

use otklik_classify::gazetteer::{Gazetteer, MAX_FILE_BYTES};
use otklik_classify::Classifier;
use std::path::{Path, PathBuf};

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[track_caller]
fn assert_no_echo(error: &str) {
    for secret in ["root:x", "daemon", "/bin/bash", "nologin", "hunter2"] {
        assert!(!error.contains(secret), "{secret:?} echoed in: {error}");
    }
}

#[test]
fn a_gazetteer_path_at_another_file_names_the_line_not_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "passwd", PASSWD.as_bytes());
    let e = Gazetteer::load(&path).unwrap_err().to_string();
    assert!(e.contains("passwd:1:") && e.contains("expected a record type") && e.contains("found 1 field"), "{e}");
    assert_no_echo(&e);
    let with_tabs = write(dir.path(), "tabs", b"root\tx\t0\t0\troot\t/root\t/bin/bash\n");
    let e = Gazetteer::load(&with_tabs).unwrap_err().to_string();
    assert!(e.contains("tabs:1:") && e.contains("found 7 fields"), "{e}");
    assert_no_echo(&e);
    // Through the classifier, as `otklik` loads it.
    let e = Classifier::load(&root().join("config/topics"), Some(&path)).err().expect("fails").to_string();
    assert!(e.contains("passwd:1:"), "{e}");
    assert_no_echo(&e);
}

#[test]
fn gazetteer_field_errors_say_what_was_expected_without_the_value() {
    let head = "V\totklik-gazetteer/1\nR\t56\tПензенская область\t\t\nM\t56701000\t56\tokrug\tгород Пенза\t\n";
    let cases = [
        ("V\thunter2\n", 1, "expected format"),
        ("# c\nR\t56\thunter2\n", 2, "version record first"),
        ("V\totklik-gazetteer/1\nhunter2\n", 2, "expected a record type"),
        ("V\totklik-gazetteer/1\nP\thunter2\n", 2, "expected 9 tab-separated fields in a P record, found 2"),
        ("V\totklik-gazetteer/1\nR\thunter2\tx\n", 2, "two-digit region code"),
        ("V\totklik-gazetteer/1\nR\t56\tx\nM\thunter2\t56\tokrug\tx\n", 3, "8-digit ОКТМО"),
        ("V\totklik-gazetteer/1\nR\t56\tx\nM\t56701000\t56\thunter2\tx\n", 3, "district or okrug"),
        (
            "V\totklik-gazetteer/1\nR\t56\tx\nM\t56701000\t56\tokrug\tx\nP\t1\thunter2\t56\ttown\t1\ts\tx\tx\n",
            4,
            "8-digit",
        ),
        ("V\totklik-gazetteer/1\nR\t56\tx\nW\thunter2\tx\n", 3, "unknown word class"),
    ];
    for (text, line, expected) in cases {
        let e = Gazetteer::from_str(text).unwrap_err().to_string();
        assert!(e.starts_with(&format!("<string>:{line}:")) && e.contains(expected), "{text:?}: {e}");
        assert_no_echo(&e);
    }
    let place = |fields: &str| format!("{head}P\t1\t56701000\t56\t{fields}\n");
    for (fields, expected) in [
        ("hunter2\t1\ts\tx\tx", "town, urban, rural or mkr"),
        ("town\thunter2\ts\tx\tx", "0 or 1"),
        ("town\t1\thunter2\tx\tx", "s, c, p or t"),
        ("town\t1\ts\thunter2\t", "at least one name form"),
    ] {
        let e = Gazetteer::from_str(&place(fields)).unwrap_err().to_string();
        assert!(e.starts_with("<string>:4:") && e.contains(expected), "{fields:?}: {e}");
        assert_no_echo(&e);
    }
}

#[test]
fn a_gazetteer_that_is_not_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "g.tsv", b"V\totklik-gazetteer/1\n# ok\n\xff\xfehunter2\n");
    let e = Gazetteer::load(&path).unwrap_err().to_string();
    assert!(e.contains("g.tsv:3:") && e.contains("UTF-8"), "{e}");
    assert_no_echo(&e);
}

#[test]
fn a_gazetteer_file_is_capped_in_size() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: the size is there, the bytes are not written.
    let path = dir.path().join("huge.tsv");
    std::fs::File::create(&path).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
    let e = Gazetteer::load(&path).unwrap_err().to_string();
    assert!(e.contains("huge.tsv") && e.contains("larger than"), "{e}");
    // A device never ends: the cap ends the read.
    if Path::new("/dev/zero").exists() {
        let e = Gazetteer::load(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
    }
}

fn load_rules(files: &[(&str, &[u8])]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    Classifier::load(dir.path(), None).err().expect("fails").to_string()
}

#[test]
fn rules_files_name_the_line_not_foreign_text() {
    let e = load_rules(&[("passwd.toml", PASSWD.as_bytes())]);
    assert!(e.contains("passwd.toml:1:"), "{e}");
    assert_no_echo(&e);
    let e = load_rules(&[("creds.toml", b"# x\npassword = \"hunter2\"\n")]);
    assert!(e.contains("creds.toml:2:") && e.contains("unknown field") && e.contains("`topic`"), "{e}");
    assert_no_echo(&e);
    let e = load_rules(&[("creds.toml", b"topic = \"hunter2\"\n")]);
    assert!(e.contains("creds.toml:1:") && e.contains("invalid type"), "{e}");
    assert_no_echo(&e);
    let e = load_rules(&[("bytes.toml", b"# x\n\xffhunter2\n")]);
    assert!(e.contains("bytes.toml:2: not valid UTF-8"), "{e}");
    assert_no_echo(&e);
}

#[test]
fn a_rules_file_is_capped_in_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    std::fs::File::create(&path).unwrap().set_len(otklik_classify::config::MAX_RULES_FILE_BYTES + 1).unwrap();
    let e = Classifier::load(dir.path(), None).err().expect("fails").to_string();
    assert!(e.contains("huge.toml") && e.contains("larger than"), "{e}");
}
