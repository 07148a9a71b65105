//! Versioned schema migrations: `deploy/clickhouse/migrations/NNN_name.sql`, compiled into the
//! binary, applied in order and recorded in `schema_migrations`.
//!
//! The files are written in current ClickHouse SQL. [`Migrator`] reads `version()` and picks a
//! [`Form`]: [`Form::Modern`] runs them as written; [`Form::Compat`] (servers before 20.3, e.g.
//! Debian's 18.16) runs them through [`downlevel`], a small closed set of mechanical rewrites for
//! what those servers lack. A statement that has no mechanical rewrite is written twice, each
//! copy marked `-- @only modern` or `-- @only compat`.
//!
//! Every statement is idempotent (`IF NOT EXISTS`; an `ADD COLUMN` the server cannot guard
//! itself is skipped when the column exists), so a migration interrupted half-way is simply run
//! again. An applied migration whose file has changed since is an error, not a silent skip. A
//! statement that must run only in some states of the database (old servers lack `IF EXISTS` on
//! some statements) is preceded by `-- @if SELECT …`, a one-line query: it runs when that query
//! returns a non-zero number.
//!
//! `schema_migrations` says what was applied, not what still exists: a table dropped by hand
//! stays recorded. So every run also checks that the tables, views and columns each applied
//! migration creates are there, and applies again (idempotently) a migration whose objects are
//! missing. An object that a later migration creates again (a view replaced, a table reshaped) is
//! that later migration's: the earlier one neither checks nor recreates it, so a repair never
//! brings back an old shape.

use crate::error::ClickHouseError;
use clickhouse::{Client, Row};
use serde::Deserialize;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal $name:literal),+ $(,)?) => {
        /// Every migration, in order.
        pub const MIGRATIONS: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../../deploy/clickhouse/migrations/", $name, ".sql")),
        }),+];
    };
}

migrations! {
    1 "001_posts",
    2 "002_complaints_hourly",
    3 "003_operations",
    4 "004_arrival_and_checks",
    5 "005_incidents_alerts",
    6 "006_alert_delivery",
    7 "007_replies",
    8 "008_source_stats",
    9 "009_overdue_alerts",
}

/// Which dialect a server gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// 20.3 and later: LowCardinality, codecs, TTL, skipping indexes, DateTime64, constraints.
    Modern,
    /// Older servers (18.x, 19.x): none of those, and no `ADD COLUMN IF NOT EXISTS`.
    Compat,
}

impl Form {
    /// The form for a server reporting `version` (`18.16.1`, `24.8.4.13`).
    pub fn for_version(version: &str) -> Form {
        let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (major, minor) >= (20, 3) {
            Form::Modern
        } else {
            Form::Compat
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Form::Modern => "modern",
            Form::Compat => "compat",
        }
    }
}

/// One statement to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    Sql(String),
    /// `ALTER TABLE table ADD COLUMN column …` to run only when the column is missing.
    AddColumn {
        table: String,
        column: String,
        sql: String,
    },
    /// `sql`, run only when the query `condition` returns a non-zero number.
    When {
        condition: String,
        sql: String,
    },
}

impl Statement {
    /// The SQL that is run (the condition aside).
    pub fn sql(&self) -> &str {
        match self {
            Statement::Sql(sql) | Statement::AddColumn { sql, .. } | Statement::When { sql, .. } => sql,
        }
    }
}

/// The statements of `sql` for `form`: split at `;` ending a line, comments dropped, `@only`
/// and `@if` markers honoured, compat statements downlevelled.
pub fn statements(sql: &str, form: Form) -> Vec<Statement> {
    let mut out = Vec::new();
    for chunk in split_statements(sql) {
        let (mut only, mut condition) = (None, None);
        let mut body = Vec::new();
        for line in chunk.lines() {
            let trimmed = line.trim();
            if let Some(marker) = trimmed.strip_prefix("-- @only ") {
                only = Some(marker.trim().to_owned());
            } else if let Some(query) = trimmed.strip_prefix("-- @if ") {
                condition = Some(query.trim().to_owned());
            } else if !trimmed.starts_with("--") && !trimmed.is_empty() {
                body.push(line);
            }
        }
        if body.is_empty() || only.as_deref().is_some_and(|o| o != form.name()) {
            continue;
        }
        let text = body.join("\n");
        out.push(match (form, condition) {
            (Form::Modern, None) => Statement::Sql(text),
            (Form::Compat, None) => guard_add_column(downlevel(&text)),
            (Form::Modern, Some(condition)) => Statement::When { condition, sql: text },
            (Form::Compat, Some(condition)) => Statement::When { condition, sql: downlevel(&text) },
        });
    }
    out
}

fn split_statements(sql: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') && !line.trim_start().starts_with("--") {
            let text = current.trim_end().trim_end_matches(';').to_owned();
            chunks.push(text);
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Rewrites one statement for servers before 20.3. The rules, all mechanical:
/// `LowCardinality(T)` → `T`; `CODEC(…)` dropped; lines starting with `INDEX` or `TTL` dropped
/// (a comma left dangling before `)` is removed); `DateTime64(p, tz)` → `DateTime(tz)`;
/// `now64(…)` → `now()`.
pub fn downlevel(statement: &str) -> String {
    let mut text = unwrap_calls(statement, "LowCardinality(", |inner| inner.to_owned());
    text = unwrap_calls(&text, " CODEC(", |_| String::new());
    text = unwrap_calls(&text, "DateTime64(", |inner| match inner.split_once(',') {
        Some((_, tz)) => format!("DateTime({})", tz.trim()),
        None => "DateTime".to_owned(),
    });
    text = unwrap_calls(&text, "now64(", |_| "now()".to_owned());
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !(l.trim_start().starts_with("INDEX ") || l.trim_start().starts_with("TTL ")))
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for line in lines {
        if line.trim_start().starts_with(')') {
            if let Some(previous) = out.last_mut() {
                if previous.trim_end().ends_with(',') {
                    let keep = previous.trim_end().len() - 1;
                    previous.truncate(keep);
                }
            }
        }
        out.push(line.to_owned());
    }
    out.join("\n")
}

/// Replaces every `prefix…)` (balanced parentheses) with `replace(inner)`.
fn unwrap_calls(text: &str, prefix: &str, replace: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        let inner_start = at + prefix.len();
        let mut depth = 1;
        let mut end = None;
        for (i, c) in rest[inner_start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(inner_start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(&replace(&rest[inner_start..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Old servers have no `ADD COLUMN IF NOT EXISTS`: drop the guard and check system.columns.
fn guard_add_column(statement: String) -> Statement {
    let words: Vec<&str> = statement.split_whitespace().collect();
    if let ["ALTER", "TABLE", table, "ADD", "COLUMN", "IF", "NOT", "EXISTS", column, ..] = words.as_slice() {
        let (table, column) = (table.to_string(), column.to_string());
        let sql = statement.replacen("IF NOT EXISTS ", "", 1);
        return Statement::AddColumn { table, column, sql };
    }
    Statement::Sql(statement)
}

/// A table, view or column a migration creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaObject {
    /// A table or a (materialized) view.
    Table(String),
    Column {
        table: String,
        column: String,
    },
}

impl std::fmt::Display for SchemaObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaObject::Table(name) => write!(f, "table {name}"),
            SchemaObject::Column { table, column } => write!(f, "column {table}.{column}"),
        }
    }
}

/// The objects `statement` creates: `CREATE [MATERIALIZED] VIEW|TABLE IF NOT EXISTS name` and
/// `ALTER TABLE t ADD COLUMN [IF NOT EXISTS] c`. Other statements (inserts, constraints) create
/// nothing that can be looked up.
pub fn created_objects(statement: &Statement) -> Option<SchemaObject> {
    let text = match statement {
        Statement::AddColumn { table, column, .. } => {
            return Some(SchemaObject::Column { table: unquote(table), column: unquote(column) })
        }
        Statement::Sql(text) => text,
        // Conditional: what it creates may rightly be absent.
        Statement::When { .. } => return None,
    };
    let words: Vec<&str> = text.split_whitespace().take(10).collect();
    let name = |word: &str| unquote(word.split('(').next().unwrap_or(word));
    match words.as_slice() {
        ["CREATE", "TABLE" | "VIEW", "IF", "NOT", "EXISTS", table, ..]
        | ["CREATE", "MATERIALIZED", "VIEW", "IF", "NOT", "EXISTS", table, ..] => {
            Some(SchemaObject::Table(name(table)))
        }
        ["ALTER", "TABLE", table, "ADD", "COLUMN", "IF", "NOT", "EXISTS", column, ..]
        | ["ALTER", "TABLE", table, "ADD", "COLUMN", column, ..] => {
            Some(SchemaObject::Column { table: unquote(table), column: unquote(column) })
        }
        _ => None,
    }
}

fn unquote(name: &str) -> String {
    name.trim_matches('`').to_owned()
}

/// A cheap, stable checksum of a migration's text (FNV-1a 64), to notice edited migrations.
pub fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

/// What a [`Migrator::migrate`] run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub server_version: String,
    pub form: Form,
    /// Versions applied by this run, in order.
    pub applied: Vec<u32>,
    /// Versions recorded as applied whose objects were missing (dropped by hand) and were
    /// applied again, with what was missing.
    pub repaired: Vec<(u32, Vec<SchemaObject>)>,
    /// The newest version now recorded.
    pub current: u32,
}

#[derive(Debug, Row, Deserialize)]
struct Applied {
    version: u32,
    checksum: String,
}

/// Applies [`MIGRATIONS`] to one database.
pub struct Migrator {
    server: Client,
    db: Client,
    database: String,
}

impl Migrator {
    pub fn new(config: &crate::ClickHouseSinkConfig) -> Self {
        let mut server_config = config.clone();
        server_config.database = String::new();
        Migrator { server: server_config.client(), db: config.client(), database: config.database.clone() }
    }

    /// The server's `version()`.
    pub async fn server_version(&self) -> Result<String, ClickHouseError> {
        Ok(self.server.query("SELECT version()").fetch_one::<String>().await?)
    }

    /// Versions recorded as applied (empty when the database or the table does not exist yet).
    pub async fn applied(&self) -> Result<Vec<u32>, ClickHouseError> {
        Ok(self.applied_rows().await?.into_iter().map(|a| a.version).collect())
    }

    async fn applied_rows(&self) -> Result<Vec<Applied>, ClickHouseError> {
        let exists: u64 = self
            .server
            .query("SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'")
            .bind(&self.database)
            .fetch_one()
            .await?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        Ok(self
            .db
            .query("SELECT version, argMax(checksum, applied_at) AS checksum FROM schema_migrations GROUP BY version ORDER BY version")
            .fetch_all::<Applied>()
            .await?)
    }

    /// Applies every migration not yet recorded, up to `up_to` (all when `None`).
    pub async fn migrate(&self, up_to: Option<u32>) -> Result<MigrationReport, ClickHouseError> {
        let server_version = self.server_version().await?;
        let form = Form::for_version(&server_version);
        self.server
            .query_raw(&format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(&self.database)))
            .execute()
            .await?;
        self.db
            .query_raw(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, form String, \
                 server_version String, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
            )
            .execute()
            .await?;
        let applied = self.applied_rows().await?;
        for done in &applied {
            match MIGRATIONS.iter().find(|m| m.version == done.version) {
                Some(m) if checksum(m.sql) != done.checksum => {
                    return Err(ClickHouseError::Migration {
                        version: m.version,
                        name: m.name.into(),
                        reason: "the file changed after it was applied; write a new migration instead".into(),
                    })
                }
                Some(_) => {}
                None => return Err(ClickHouseError::Migration {
                    version: done.version,
                    name: "?".into(),
                    reason:
                        "recorded in schema_migrations but unknown to this build (is the binary older than the schema?)"
                            .into(),
                }),
            }
        }
        let current = applied.iter().map(|a| a.version).max().unwrap_or(0);
        let mut report = MigrationReport {
            server_version: server_version.clone(),
            form,
            applied: Vec::new(),
            repaired: Vec::new(),
            current,
        };
        // The newest version this run leaves recorded: its migrations own what they create.
        let last = MIGRATIONS.last().map_or(0, |m| m.version);
        let target = current.max(up_to.unwrap_or(last).min(last));
        for migration in MIGRATIONS.iter().filter(|m| applied.iter().any(|a| a.version == m.version)) {
            let own = own_statements(migration, form, target);
            let missing = self.missing_objects(&own).await?;
            if missing.is_empty() {
                continue;
            }
            let shown: Vec<String> = missing.iter().map(ToString::to_string).collect();
            tracing::warn!(version = migration.version, name = migration.name, missing = %shown.join(", "), "applied migration's objects are missing; applying it again");
            for statement in own {
                self.run(&statement).await.map_err(|e| ClickHouseError::Migration {
                    version: migration.version,
                    name: migration.name.into(),
                    reason: e.to_string(),
                })?;
            }
            report.repaired.push((migration.version, missing));
        }
        for migration in MIGRATIONS {
            if applied.iter().any(|a| a.version == migration.version) || up_to.is_some_and(|v| migration.version > v) {
                continue;
            }
            let fail = |reason: String| ClickHouseError::Migration {
                version: migration.version,
                name: migration.name.into(),
                reason,
            };
            for statement in statements(migration.sql, form) {
                self.run(&statement).await.map_err(|e| fail(e.to_string()))?;
            }
            self.db
                .query("INSERT INTO schema_migrations (version, name, checksum, form, server_version, applied_at) VALUES (?, ?, ?, ?, ?, now())")
                .bind(migration.version)
                .bind(migration.name)
                .bind(checksum(migration.sql))
                .bind(form.name())
                .bind(&server_version)
                .execute()
                .await
                .map_err(|e| fail(ClickHouseError::from(e).to_string()))?;
            tracing::info!(version = migration.version, name = migration.name, form = form.name(), "migration applied");
            report.applied.push(migration.version);
            report.current = migration.version;
        }
        Ok(report)
    }

    /// What `statements` create that the database lacks.
    async fn missing_objects(&self, statements: &[Statement]) -> Result<Vec<SchemaObject>, ClickHouseError> {
        let mut missing = Vec::new();
        for object in statements.iter().filter_map(created_objects) {
            let present: u64 = match &object {
                SchemaObject::Table(name) => {
                    self.server
                        .query("SELECT count() FROM system.tables WHERE database = ? AND name = ?")
                        .bind(&self.database)
                        .bind(name.as_str())
                        .fetch_one()
                        .await?
                }
                SchemaObject::Column { table, column } => self.column_count(table, column).await?,
            };
            if present == 0 {
                missing.push(object);
            }
        }
        Ok(missing)
    }

    async fn column_count(&self, table: &str, column: &str) -> Result<u64, ClickHouseError> {
        Ok(self
            .server
            .query("SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?")
            .bind(&self.database)
            .bind(table)
            .bind(column)
            .fetch_one()
            .await?)
    }

    async fn run(&self, statement: &Statement) -> Result<(), ClickHouseError> {
        match statement {
            Statement::Sql(sql) => Ok(self.db.query_raw(sql).execute().await?),
            Statement::When { condition, sql } => {
                if self.db.query_raw(condition).fetch_one::<u64>().await? != 0 {
                    self.db.query_raw(sql).execute().await?;
                }
                Ok(())
            }
            Statement::AddColumn { table, column, sql } => {
                if self.column_count(table, column.trim_matches('`')).await? == 0 {
                    self.db.query_raw(sql).execute().await?;
                }
                Ok(())
            }
        }
    }
}

/// The statements of `migration` that are still its own once migrations up to `target` are
/// applied: a statement creating an object that a later one (≤ `target`) creates again is left
/// out, so neither the repair check nor a repair run brings back the earlier shape.
pub fn own_statements(migration: &Migration, form: Form, target: u32) -> Vec<Statement> {
    let later: Vec<SchemaObject> = MIGRATIONS
        .iter()
        .filter(|m| m.version > migration.version && m.version <= target)
        .flat_map(|m| statements(m.sql, form))
        .filter_map(|s| created_objects(&s))
        .collect();
    let superseded = |s: &Statement| created_objects(s).is_some_and(|object| later.contains(&object));
    statements(migration.sql, form).into_iter().filter(|s| !superseded(s)).collect()
}

/// A backquoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_form_by_version() {
        assert_eq!(Form::for_version("18.16.1"), Form::Compat);
        assert_eq!(Form::for_version("19.17.6.36"), Form::Compat);
        assert_eq!(Form::for_version("20.3.1"), Form::Modern);
        assert_eq!(Form::for_version("25.8.1.1"), Form::Modern);
    }

    #[test]
    fn downlevel_rewrites_what_old_servers_lack() {
        let modern = "CREATE TABLE t\n(\n    a LowCardinality(String),\n    b Array(LowCardinality(String)),\n    c String CODEC(ZSTD(3)),\n    d DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),\n    INDEX i a TYPE set(0) GRANULARITY 4\n)\nENGINE = MergeTree()\nORDER BY a\nTTL d + toIntervalDay(9)";
        assert_eq!(
            downlevel(modern),
            "CREATE TABLE t\n(\n    a String,\n    b Array(String),\n    c String,\n    d DateTime('UTC') DEFAULT now()\n)\nENGINE = MergeTree()\nORDER BY a"
        );
    }

    #[test]
    fn only_markers_and_add_column_guards() {
        let sql = "-- header\nALTER TABLE posts ADD COLUMN IF NOT EXISTS x UInt8;\n\n-- @only modern\nSELECT 1;\n-- @only compat\nSELECT 2;\n";
        assert_eq!(
            statements(sql, Form::Compat),
            vec![
                Statement::AddColumn {
                    table: "posts".into(),
                    column: "x".into(),
                    sql: "ALTER TABLE posts ADD COLUMN x UInt8".into()
                },
                Statement::Sql("SELECT 2".into())
            ]
        );
        assert_eq!(
            statements(sql, Form::Modern),
            vec![
                Statement::Sql("ALTER TABLE posts ADD COLUMN IF NOT EXISTS x UInt8".into()),
                Statement::Sql("SELECT 1".into())
            ]
        );
    }

    #[test]
    fn if_markers_make_a_statement_conditional_in_both_forms() {
        let sql =
            "-- why\n-- @if SELECT count() FROM system.tables WHERE name = 'a'\nRENAME TABLE a TO b;\nSELECT 1;\n";
        for form in [Form::Modern, Form::Compat] {
            let condition = "SELECT count() FROM system.tables WHERE name = 'a'".to_owned();
            let expected = vec![
                Statement::When { condition, sql: "RENAME TABLE a TO b".into() },
                Statement::Sql("SELECT 1".into()),
            ];
            assert_eq!(statements(sql, form), expected, "{form:?}");
        }
        assert_eq!(
            created_objects(&statements(sql, Form::Modern)[0]),
            None,
            "what a conditional statement makes may be absent"
        );
    }

    #[test]
    fn objects_recreated_by_a_later_migration_belong_to_it() {
        let names = |statements: Vec<Statement>| -> Vec<String> {
            statements.iter().filter_map(created_objects).map(|o| o.to_string()).collect()
        };
        for form in [Form::Modern, Form::Compat] {
            // 005 replaces 002's view and 003's alerts table: once it is applied (or will be),
            // repairing 002 or 003 must not bring back their old shapes.
            let (v2, v3) = (&MIGRATIONS[1], &MIGRATIONS[2]);
            assert_eq!(names(own_statements(v2, form, 5)), vec!["table complaints_hourly"], "{form:?}");
            assert_eq!(names(own_statements(v3, form, 5)), vec!["table dlq", "table sources_status"], "{form:?}");
            assert_eq!(
                names(own_statements(v2, form, 4)),
                vec!["table complaints_hourly", "table complaints_hourly_mv"],
                "{form:?}"
            );
            assert!(names(own_statements(v3, form, 4)).contains(&"table alerts".to_owned()), "{form:?}");
            // The backfill still runs with the table it fills.
            assert!(
                own_statements(v2, form, 5).iter().any(|s| s.sql().starts_with("INSERT INTO complaints_hourly")),
                "{form:?}"
            );
        }
    }

    #[test]
    fn objects_a_statement_creates() {
        let sql = |t: &str| Statement::Sql(t.into());
        assert_eq!(
            created_objects(&sql("CREATE TABLE IF NOT EXISTS posts\n(\n a UInt8\n)")),
            Some(SchemaObject::Table("posts".into()))
        );
        assert_eq!(
            created_objects(&sql("CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO t AS SELECT 1")),
            Some(SchemaObject::Table("mv".into()))
        );
        let column = Some(SchemaObject::Column { table: "posts".into(), column: "x".into() });
        assert_eq!(created_objects(&sql("ALTER TABLE posts ADD COLUMN IF NOT EXISTS x UInt8")), column);
        assert_eq!(
            created_objects(&Statement::AddColumn { table: "posts".into(), column: "`x`".into(), sql: String::new() }),
            column
        );
        assert_eq!(created_objects(&sql("INSERT INTO t SELECT 1")), None);
        assert_eq!(created_objects(&sql("ALTER TABLE posts ADD CONSTRAINT IF NOT EXISTS c CHECK 1")), None);
        // Every bundled migration creates something the check can see.
        for m in MIGRATIONS {
            for form in [Form::Modern, Form::Compat] {
                assert!(statements(m.sql, form).iter().any(|s| created_objects(s).is_some()), "{} {form:?}", m.name);
            }
        }
    }

    #[test]
    fn every_bundled_migration_parses_in_both_forms() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "versions are 1, 2, 3, … in file order");
            assert!(m.name.starts_with(&format!("{:03}_", m.version)));
            for form in [Form::Modern, Form::Compat] {
                let statements = statements(m.sql, form);
                assert!(!statements.is_empty(), "{} {form:?}", m.name);
                if form == Form::Compat {
                    for s in &statements {
                        let text = s.sql();
                        for modern_only in [
                            "LowCardinality",
                            "CODEC",
                            "DateTime64",
                            "now64",
                            "TTL ",
                            "INDEX ",
                            "IF NOT EXISTS inserted_at",
                            "CONSTRAINT",
                        ] {
                            assert!(!text.contains(modern_only), "{}: {modern_only} left in {text}", m.name);
                        }
                    }
                }
            }
        }
    }
}
