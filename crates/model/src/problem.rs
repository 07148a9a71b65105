//! Config problems, one shape for every component: a component's `validate()` returns
//! [`ConfigProblem`]s relative to its own table (a field, a message, a hint), and whoever read the
//! file places each at its file and line as a [`Problem`] — the `check-config` report, the
//! classifier's rules and gazetteer, a hot reload's refusal all print the same way.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a config value, found by a component's `validate()`: the binary places
/// it at the line of `field` inside the component's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key inside the component's table (`recheck_window`, `token_rates.VK_A`).
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem { field: field.into(), message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// One thing wrong with a config file, located: `file:line: message` and an optional hint on
/// the next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; `None` when the problem is not at one place (a missing table, a whole file).
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Problem { file: file.into(), line, message: message.into(), hint: None }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message)?,
            None => write!(f, "{}: {}", self.file.display(), self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_prints_file_line_message_and_its_hint_below() {
        let mut problem = Problem::new("config/otklik.toml", Some(12), "sink.batch_rows: 0 is outside 1..=1000000");
        assert_eq!(problem.to_string(), "config/otklik.toml:12: sink.batch_rows: 0 is outside 1..=1000000");
        problem.hint = Some("the default is 50000".into());
        assert!(problem.to_string().ends_with("\n    hint: the default is 50000"));
        assert_eq!(Problem::new("topics", None, "no *.toml topic files").to_string(), "topics: no *.toml topic files");
    }
}
