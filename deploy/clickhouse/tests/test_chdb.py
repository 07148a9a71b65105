"""The modern DDL and every bundled query on a current ClickHouse engine, in process (chdb).

Run: pytest deploy/clickhouse/tests/test_chdb.py   (scripts/test.sh runs it when chdb is importable)

The Rust service tests cover the downlevelled form on Debian's 18.16; this covers the form the
migrator picks for ClickHouse >= 20.3: LowCardinality, codecs, TTL, skipping indexes,
DateTime64 defaults and the uid CHECK constraint.
"""

import datetime as dt
import json
import pathlib
import re

import pytest

chdb = pytest.importorskip("chdb")
from chdb import session as chs  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[3]
MIGRATIONS = sorted((ROOT / "deploy/clickhouse/migrations").glob("[0-9][0-9][0-9]_*.sql"))
QUERIES = sorted((ROOT / "deploy/clickhouse/queries").glob("*.sql"))


def modern_statements(sql):
    """The statements the migrator runs on a modern server (same splitting rules as migrate.rs)."""
    out, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if "".join(current).strip():
        out.append("\n".join(current))
    result = []
    for chunk in out:
        only = None
        body = []
        for line in chunk.splitlines():
            t = line.strip()
            if t.startswith("-- @only "):
                only = t[len("-- @only "):].strip()
            elif t and not t.startswith("--"):
                body.append(line)
        if body and only in (None, "modern"):
            result.append("\n".join(body))
    return result


def rust_fields(struct):
    """The fields of a row struct in crates/clickhouse/src/row.rs, in order."""
    text = (ROOT / "crates/clickhouse/src/row.rs").read_text()
    body = re.search(r"pub struct %s \{(.*?)\n\}" % struct, text, re.S).group(1)
    return re.findall(r"^\s*pub (\w+):", body, re.M)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    s = chs.Session(str(tmp_path_factory.mktemp("chdb")))
    s.query("CREATE DATABASE IF NOT EXISTS otklik")
    s.query("USE otklik")
    for path in MIGRATIONS:
        for statement in modern_statements(path.read_text()):
            s.query(statement)
    # Idempotent: every statement again.
    for path in MIGRATIONS:
        for statement in modern_statements(path.read_text()):
            s.query(statement)
    yield s
    s.close()


def rows(s, sql):
    out = s.query(sql, "JSONEachRow").bytes().decode()
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def fmt(t):
    return t.strftime("%Y-%m-%d %H:%M:%S")


NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def post(uid, kind, topics, minutes_ago, municipality=("56701000", "г. Пенза"), **extra):
    published = NOW - dt.timedelta(minutes=minutes_ago)
    row = {
        "uid": uid, "platform": "vk", "source_id": "vk:-1000", "item_kind": "post", "parent_uid": "",
        "url": "", "author_id": "1", "author_name": "Житель", "author_is_source": 0,
        "published_at": fmt(published), "edited_at": fmt(published), "edited": 0,
        "collected_at": fmt(published + dt.timedelta(minutes=1)), "text": "Нет отопления " + uid,
        "repost_of_uid": "", "repost_of_name": "", "repost_of_text": "", "attachment_kinds": [],
        "views": 1, "likes": 0, "reposts": 0, "comments": 0, "pinned": 0, "ads": 0,
        "language": "ru", "kind": kind, "topics": topics, "topic_scores": [0.9] * len(topics),
        "topic_rules": ["r"] * len(topics), "municipality": municipality[0],
        "municipality_name": municipality[1], "municipality_evidence": "text",
        "classifier_version": "t", "version": int((published + dt.timedelta(minutes=1)).timestamp() * 1000),
    }
    row.update(extra)
    return row


def insert(s, table, items):
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in items)
    s.query("INSERT INTO %s FORMAT JSONEachRow %s" % (table, body))


@pytest.fixture(scope="module")
def loaded(db):
    zarechny = ("56734000", "г. Заречный")
    sample = [
        post("vk:-1000:1", "complaint", ["heating"], 10),
        post("vk:-1000:2", "complaint", ["heating", "hot_water"], 20),
        post("vk:-1000:3", "question", ["heating"], 30, zarechny),
        post("vk:-1000:4", "info", ["heating"], 40),  # an announcement: never counted
        post("vk:-1000:5", "complaint", [], 50),
        post("vk:-1000:6", "complaint", ["roads"], 60 * 24 * 10),  # 10 days ago
        post("vk:-1000:7", "complaint", ["roads"], 60 * 24 * 12),
        post("vk:-1000:8", "complaint", ["garbage"], 60 * 3),
        # The source answered complaint 8 in a comment.
        post("vk:-1000:8:c1", "info", [], 60 * 2, item_kind="comment", parent_uid="vk:-1000:8", author_is_source=1),
    ]
    insert(db, "posts", sample)
    insert(db, "posts", sample[:3])  # re-delivery
    return sample


def test_columns_match_the_rust_rows(db):
    for table, struct in [("posts", "PostRow"), ("dlq", "DlqRow"), ("alerts", "AlertRow"), ("sources_status", "SourceStatusRow")]:
        cols = rows(db, "SELECT name FROM system.columns WHERE database = 'otklik' AND table = '%s' "
                        "AND default_kind = '' ORDER BY position" % table)
        assert [c["name"] for c in cols] == rust_fields(struct), table


def test_modern_types_are_used(db):
    types = {c["name"]: c["type"] for c in rows(db, "SELECT name, type FROM system.columns WHERE database = 'otklik' AND table = 'posts'")}
    assert types["platform"] == "LowCardinality(String)"
    assert types["topics"] == "Array(LowCardinality(String))"
    assert types["inserted_at"].startswith("DateTime64(3")
    create = rows(db, "SELECT create_table_query FROM system.tables WHERE database = 'otklik' AND name = 'dlq'")[0]["create_table_query"]
    assert "TTL" in create and "CODEC" in create


def test_redelivery_counts_once(loaded, db):
    assert rows(db, "SELECT count() AS n FROM posts FINAL")[0]["n"] == len(loaded)
    cells = rows(db, "SELECT toUInt64(sum(n)) AS n FROM (SELECT uniqExactMerge(posts) AS n FROM complaints_hourly GROUP BY hour, municipality, topic, kind)")
    # complaints/questions: 1 (heating) + 2 (heating, hot_water) + 1 + 1 ('') + 1 + 1 + 1 (garbage)
    assert cells[0]["n"] == 8


def test_uid_constraint_rejects_malformed_rows(db):
    with pytest.raises(Exception, match="uid_shape"):
        insert(db, "posts", [post("not-a-uid", "complaint", ["heating"], 5)])


def test_every_bundled_query_runs(loaded, db):
    results = {}
    for path in QUERIES:
        header = [l for l in path.read_text().splitlines() if l.startswith("--")]
        assert header, "%s needs a header comment" % path.name
        results[path.stem] = rows(db, path.read_text())
    assert {p.stem for p in QUERIES} == set(results)

    main = {(r["municipality"], r["topic"]): r for r in results["complaints_by_municipality_topic"]}
    assert int(main[("56701000", "heating")]["complaints"]) == 2
    assert int(main[("56734000", "heating")]["questions"]) == 1
    assert int(main[("56701000", "")]["total"]) == 1
    assert ("56701000", "roads") not in main  # older than 7 days

    growing = {r["topic"]: r for r in results["growing_topics"]}
    assert int(growing["heating"]["this_week"]) == 3
    assert float(growing["roads"]["weekly_avg_before"]) == 0.5

    heating = results["heating_season"]
    assert sum(int(r["heating"]) for r in heating) == 3
    assert sum(int(r["hot_water"]) for r in heating) == 1

    unanswered = results["unanswered_by_source"]
    assert len(unanswered) == 1
    # Complaints in the last 7 days: 1, 2, 5, 8; 8 was answered.
    assert int(unanswered[0]["complaints"]) == 4 and int(unanswered[0]["unanswered"]) == 3

    attention = {r["uid"] for r in results["needs_attention"]}
    assert attention == {"vk:-1000:1", "vk:-1000:2", "vk:-1000:5"}
