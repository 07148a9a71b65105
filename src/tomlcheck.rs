//! Reporting every problem of a TOML file at once, with line numbers.
//!
//! serde stops at the first error. To find the next one, the offending lines are cut out of a
//! working copy of the text (the key, or a whole table when the table itself is wrong) and the
//! copy is parsed again, until it deserialises. Because only whole lines are cut, each working
//! line maps back to its original line number. Inside an array-of-tables element only the wrong
//! key is cut too, so the rest of the element is still checked; a «missing field» that only
//! follows from a cut key is not reported again.

use crate::config::Problem;
use serde::de::DeserializeOwned;
use std::ops::Range;
use std::path::Path;

/// At most this many problems per file: past that the file is probably not TOML for us at all.
const MAX_PROBLEMS: usize = 50;

/// Deserialises `text`, adding one [`Problem`] per error to `problems`. Returns the value of
/// what remains once the wrong lines are cut (so later checks can still run), or `None` when the
/// text is not TOML or nothing valid remains.
pub fn deserialize_all<T: DeserializeOwned>(path: &Path, text: &str, problems: &mut Vec<Problem>) -> Option<T> {
    if let Err(error) = text.parse::<toml_edit::DocumentMut>() {
        // A syntax error: cutting lines after one would only produce confusing follow-ups.
        problems.push(Problem {
            file: path.to_owned(),
            line: error.span().map(|s| line_index(text, s.start) + 1),
            message: error.message().trim().to_owned(),
            hint: Some("this is a TOML syntax error".into()),
        });
        return None;
    }
    let mut lines: Vec<(usize, &str)> = text.split_inclusive('\n').enumerate().map(|(i, l)| (i + 1, l)).collect();
    // (original line of the enclosing header, 0 at the root; key) of every key cut so far.
    let mut cut_keys: Vec<(usize, String)> = Vec::new();
    let mut found = 0;
    loop {
        let working: String = lines.iter().map(|(_, l)| *l).collect();
        let error = match toml::from_str::<T>(&working) {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        found += 1;
        let span = error.span();
        let working_line = span.as_ref().map(|s| line_index(&working, s.start));
        if !follows_from_a_cut(error.message(), working_line, &lines, &cut_keys) {
            problems.push(Problem {
                file: path.to_owned(),
                line: working_line.and_then(|i| lines.get(i)).map(|(n, _)| *n),
                message: error.message().trim().to_owned(),
                hint: hint_for(error.message()),
            });
        }
        let span = span?;
        if found >= MAX_PROBLEMS {
            return None;
        }
        let cut = lines_to_cut(&working, &lines, span);
        if cut.is_empty() {
            return None;
        }
        if !is_header(lines[cut.start].1) {
            cut_keys.push((enclosing_header(&lines, cut.start), key_of(lines[cut.start].1)));
        }
        lines.drain(cut);
    }
}

/// The original line number of the header above working line `index` (0: the root table).
fn enclosing_header(lines: &[(usize, &str)], index: usize) -> usize {
    (0..=index.min(lines.len().saturating_sub(1))).rev().find(|&i| is_header(lines[i].1)).map_or(0, |i| lines[i].0)
}

/// The key of a `key = value` line, unquoted.
fn key_of(line: &str) -> String {
    let key = line.split('=').next().unwrap_or_default().trim();
    key.trim_matches(|c| c == '"' || c == '\'').to_owned()
}

/// A «missing field `x`» error in a table whose `x` was cut for an error already reported.
fn follows_from_a_cut(message: &str, line: Option<usize>, lines: &[(usize, &str)], cut: &[(usize, String)]) -> bool {
    let field = message.split_once("missing field `").and_then(|(_, rest)| rest.split_once('`'));
    let Some((field, _)) = field else { return false };
    let header = line.map_or(0, |i| enclosing_header(lines, i));
    cut.iter().any(|(h, key)| *h == header && key == field)
}

fn hint_for(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling; config/otklik.toml lists every option with its default".into())
    } else if message.contains("unknown variant") {
        Some("use one of the listed values".into())
    } else if message.contains("missing field") {
        Some("this field is required".into())
    } else if message.contains("invalid type") {
        Some("check the value's type: strings are quoted, durations are strings like \"30s\"".into())
    } else {
        None
    }
}

fn line_index(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

/// Which working lines to cut for an error at `span`: a whole table block when the error is on
/// its header (an unknown table, an element missing a required key), else the lines of the
/// key–value — inside an array-of-tables element too, so its other keys are still checked.
fn lines_to_cut(working: &str, lines: &[(usize, &str)], span: Range<usize>) -> Range<usize> {
    let first = line_index(working, span.start);
    if first >= lines.len() {
        return 0..0;
    }
    if is_header(lines[first].1) {
        let end = (first + 1..lines.len()).find(|&i| is_header(lines[i].1)).unwrap_or(lines.len());
        return first..end;
    }
    let last = line_index(working, span.end.saturating_sub(1).max(span.start)).max(first);
    first..(last + 1).min(lines.len())
}

/// The 1-based line of `key` (`run.mode`, `source[3]`, `kafka.topics.dlq`) in `text`, for
/// problems found after deserialisation; a key that is not in the text gives the line of the
/// nearest table on its path that is.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    locate(text, key).map(|(line, _)| line)
}

/// Whether `key` (as for [`line_of`]) is written in `text`.
pub fn has_key(text: &str, key: &str) -> bool {
    locate(text, key).is_some_and(|(_, exact)| exact)
}

/// The line of `key` or of the nearest table on its path, and whether `key` itself was found.
fn locate(text: &str, key: &str) -> Option<(usize, bool)> {
    let doc = toml_edit::ImDocument::parse(text.to_owned()).ok()?;
    let mut table = doc.as_table();
    let mut span = None;
    let segments: Vec<&str> = key.split('.').collect();
    let mut exact = false;
    for (i, segment) in segments.iter().enumerate() {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*segment, None),
        };
        let Some((k, item)) = table.get_key_value(name) else { break };
        exact = i + 1 == segments.len();
        span = k.span();
        let next = match index {
            Some(index) => {
                let element = item.as_array_of_tables()?.get(index)?;
                span = element.span().or(span);
                element
            }
            None => match item.as_table() {
                Some(t) => t,
                None => break,
            },
        };
        if i + 1 < segments.len() {
            table = next;
        }
    }
    span.map(|s| (line_index(text, s.start) + 1, exact))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        #[serde(default)]
        a: Option<Inner>,
        #[serde(default)]
        item: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        x: u32,
        #[serde(default)]
        y: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        id: String,
    }

    #[test]
    fn reports_every_problem_with_its_line() {
        let text = "[a]\nx = \"not a number\"\nzz = 1\ny = \"ok\"\n\n[[item]]\nid = \"a\"\n\n[[item]]\nname = \"b\"\n\n[[item]]\nid = 3\n";
        let mut problems = Vec::new();
        let rest = deserialize_all::<Doc>(Path::new("t.toml"), text, &mut problems).unwrap();
        assert_eq!(rest.item.len(), 1, "the valid item survives");
        let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
        // Item 2: an unknown key and a missing id, both real; item 3's id is wrong, and the
        // «missing field id» that cutting it causes is not reported again.
        assert_eq!(lines, vec![Some(2), Some(3), Some(10), Some(9), Some(13)], "{problems:#?}");
        assert!(problems[1].message.contains("unknown field `zz`"));
        assert!(problems[3].message.contains("missing field `id`"));
    }

    #[test]
    fn an_unknown_key_in_an_element_hides_nothing_after_it() {
        let text = "[[item]]\nid = \"a\"\n\n[[item]]\nidd = \"b\"\nid = 7\n";
        let mut problems = Vec::new();
        deserialize_all::<Doc>(Path::new("t.toml"), text, &mut problems);
        let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![Some(5), Some(6)], "{problems:#?}");
    }

    #[test]
    fn a_syntax_error_is_one_problem() {
        let mut problems = Vec::new();
        assert!(deserialize_all::<Doc>(Path::new("t.toml"), "[a]\nx = 1\ny = \"unclosed\n", &mut problems).is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(3));
    }

    #[test]
    fn a_valid_file_deserialises() {
        let mut problems = Vec::new();
        let doc = deserialize_all::<Doc>(Path::new("t.toml"), "[a]\nx = 1\n", &mut problems).unwrap();
        assert_eq!(doc.a.unwrap().x, 1);
        assert!(problems.is_empty());
    }

    #[test]
    fn finds_lines_of_keys() {
        let text = "[run]\nmode = \"x\"\n\n[[source]]\nid = \"a\"\n[[source]]\nid = \"b\"\n";
        assert_eq!(line_of(text, "run.mode"), Some(2));
        assert_eq!(line_of(text, "source[1]"), Some(6));
        assert_eq!(line_of(text, "nothing.here"), None);
        assert_eq!(line_of(text, "source[1].id"), Some(7));
        assert_eq!(line_of(text, "source[1].handle"), Some(6), "the element, when the key is absent");
        assert!(has_key(text, "source[1].id") && !has_key(text, "source[1].handle") && !has_key(text, "source[2]"));
    }
}
