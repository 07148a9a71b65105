//! The analyst queries shipped in `deploy/clickhouse/queries/`, compiled in so tests (and
//! tools) can run every one of them. Each runs unchanged on 18.16 and on current ClickHouse.

/// One bundled query.
#[derive(Debug, Clone, Copy)]
pub struct BundledQuery {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! queries {
    ($($name:literal),+ $(,)?) => {
        /// Every bundled query.
        pub const QUERIES: &[BundledQuery] = &[$(BundledQuery {
            name: $name,
            sql: include_str!(concat!("../../../deploy/clickhouse/queries/", $name, ".sql")),
        }),+];
    };
}

queries! {
    "complaints_by_municipality_topic",
    "growing_topics",
    "heating_season",
    "unanswered_by_source",
    "needs_attention",
    "audience_growth",
}

/// What the latest-anchored variant of a query puts in place of `now()`.
pub const LATEST_POST_TIME: &str = "(SELECT max(published_at) FROM posts)";

impl BundledQuery {
    /// The query with its window ending at the newest post instead of `now()`: for data that has
    /// ended, such as the demo's (deploy/README.md).
    pub fn latest_anchored(&self) -> String {
        self.sql.replace("now()", LATEST_POST_TIME)
    }

    /// The header comment (the lines starting with `--` before the SQL).
    pub fn header(&self) -> String {
        self.sql
            .lines()
            .take_while(|l| l.starts_with("--"))
            .map(|l| l.trim_start_matches("--").trim())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_file_is_bundled_and_documented() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/clickhouse/queries");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".sql").map(str::to_owned))
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = QUERIES.iter().map(|q| q.name.to_owned()).collect();
        bundled.sort();
        assert_eq!(on_disk, bundled);
        for q in QUERIES {
            assert!(q.header().len() > 40, "{} needs a header comment", q.name);
            assert!(!q.sql.contains('{'), "{}: no query parameters (18.16 has none)", q.name);
            // Every window ends at now(), so the latest-anchored variant moves all of it.
            assert!(q.sql.contains("now()") && !q.latest_anchored().contains("now()"), "{}", q.name);
            assert!(q.header().contains("latest-anchored"), "{} must say how to run it on the demo", q.name);
        }
    }
}
