"""The modern DDL and every bundled query on a current ClickHouse engine, in process (chdb).

Run: pytest deploy/clickhouse/tests/test_chdb.py   (scripts/test.sh runs it when chdb is importable)

The Rust service tests cover the downlevelled form on Debian's 18.16; this covers the form the
migrator picks for ClickHouse >= 20.3: LowCardinality, codecs, TTL, skipping indexes,
DateTime64 defaults and the uid CHECK constraint, and migration 005's incidents and voices (the
`uniqExactStateIf` states), the reshaped `alerts` table and the History queries' SQL shapes.
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
    """The statements the migrator runs on a modern server (same splitting rules as migrate.rs),
    as (condition, statement): condition is the `-- @if` query, or None."""
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
        only = condition = None
        body = []
        for line in chunk.splitlines():
            t = line.strip()
            if t.startswith("-- @only "):
                only = t[len("-- @only "):].strip()
            elif t.startswith("-- @if "):
                condition = t[len("-- @if "):].strip()
            elif t and not t.startswith("--"):
                body.append(line)
        if body and only in (None, "modern"):
            result.append((condition, "\n".join(body)))
    return result


def apply(s, path):
    """Runs one migration file as the migrator does."""
    for condition, statement in modern_statements(path.read_text()):
        if condition is None or int(s.query(condition, "CSV").bytes().decode().strip() or 0) != 0:
            s.query(statement)


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
        apply(s, path)
    # Idempotent: the newest migration again, as a repeated or repairing run does (an earlier one
    # runs again only when its own objects are gone: see migrate.rs, `own_statements`).
    apply(s, MIGRATIONS[-1])
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
        "classifier_version": "t", "copy_of": "", "incident_id": "", "is_voice": 0,
        "version": int((published + dt.timedelta(minutes=1)).timestamp() * 1000) * 2,
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
    for table, struct in [("posts", "PostRow"), ("dlq", "DlqRow"), ("alerts", "AlertRow"), ("sources_status", "SourceStatusRow"),
                          ("alert_deliveries", "DeliveryRow"), ("alert_silences", "SilenceRow"), ("replies", "ReplyRow"),
                          ("source_stats", "SourceStatRow")]:
        # The row's fields in table order; a column the row leaves out has a default, while a
        # column added later with a default (alerts.kind) may be in the row.
        cols = rows(db, "SELECT name, default_kind FROM system.columns WHERE database = 'otklik' AND table = '%s' "
                        "ORDER BY position" % table)
        fields = rust_fields(struct)
        assert [c["name"] for c in cols if c["name"] in fields] == fields, table
        assert [c["name"] for c in cols if c["name"] not in fields and not c["default_kind"]] == [], table


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


def test_old_alerts_are_moved_aside_and_the_new_table_keeps_every_event(db):
    old = [c["name"] for c in rows(db, "SELECT name FROM system.columns WHERE database = 'otklik' AND table = 'alerts_v0'")]
    assert "baseline" in old and "id" not in old
    create = rows(db, "SELECT engine, create_table_query FROM system.tables WHERE database = 'otklik' AND name = 'alerts'")[0]
    assert create["engine"] == "MergeTree" and "TTL" in create["create_table_query"]


def history_sql(name, path="crates/clickhouse/src/history.rs"):
    """A SQL constant of crates/clickhouse/src/history.rs (or `path`)."""
    text = (ROOT / path).read_text()
    parts = re.search(r'const %s: &str = ((?:"[^"]*"\s*)+);' % name, text, re.S).group(1)
    return "".join(re.findall(r'"([^"]*)"', parts)).replace("\\\n", "")


def latest_per_key(columns, key, order_key, table, time, since):
    """The shape of history.rs `latest_per_key` (argMax per key, rows read by position)."""
    select = [c if c == key else "argMax(%s, %s) AS latest_%s" % (c, order_key, c) for c in columns]
    return "SELECT %s FROM %s WHERE %s >= toDateTime(%d) GROUP BY %s" % (", ".join(select), table, time, since, key)


def alert(id_, state, raised):
    return {
        "id": id_, "state": state, "severity": "high", "method": "baseline", "expected_note": "",
        "municipality": "56701000", "municipality_name": "г. Пенза", "topic": "heating",
        "window_start": fmt(raised), "window_end": fmt(raised), "observed": 9, "expected": 1.0, "upper_bound": 5,
        "p_value": 1e-6, "incidents": 1, "voices": 3, "incident_uids": ["vk:-1:1"], "incident_urls": [""],
        "incident_excerpts": [state], "incident_voices": [3], "raised_at": fmt(raised),
    }


def test_incidents_voices_and_history_queries_on_a_database_upgraded_from_004(db):
    db.query("CREATE DATABASE IF NOT EXISTS otklik_linking")
    db.query("USE otklik_linking")
    try:
        for path in MIGRATIONS[:4]:
            apply(db, path)
        old = post("vk:-1:1", "complaint", ["heating"], 30)
        pre_005 = {k: v for k, v in old.items() if k not in ("copy_of", "incident_id", "is_voice")}
        insert(db, "posts", [pre_005])
        db.query("INSERT INTO alerts (topic, count, window_start, window_end, raised_at) VALUES ('heating', 7, now(), now(), now())")
        apply(db, MIGRATIONS[4])
        assert rows(db, "SELECT count() AS n FROM alerts_v0 WHERE count = 7")[0]["n"] == 1
        assert rows(db, "SELECT count() AS n FROM alerts")[0]["n"] == 0

        def linked(row, incident, voice, copy_of=""):
            return dict(row, incident_id=incident, is_voice=int(voice), copy_of=copy_of, version=row["version"] + 1)

        p2 = post("vk:-1:2", "complaint", ["heating"], 25)
        p3 = post("vk:-2:3", "complaint", ["heating"], 20)  # a copy: no voice
        p4 = post("vk:-1:4", "info", ["heating"], 15)  # the administration: no cell
        # Unlinked first (the classifier), then linked (the alert stage), one of them twice.
        insert(db, "posts", [p2, p3, p4])
        insert(db, "posts", [linked(old, "vk:-1:1", True), linked(p2, "vk:-1:1", True),
                             linked(p3, "vk:-1:1", False, "vk:-1:1"), linked(p4, "vk:-1:1", False)])
        insert(db, "posts", [linked(p2, "vk:-1:1", True)])

        since = int((NOW - dt.timedelta(hours=3)).timestamp())
        hourly = rows(db, history_sql("HOURLY_VOICES_SQL").replace("?", str(since)))
        got = {(r["hour"], r["topic"]): (int(r["n_incidents"]), int(r["n_voices"])) for r in hourly}
        # The posts may straddle an hour boundary: expected per hour of the complaints.
        hour = lambda r: r["published_at"][:13] + ":00:00"  # noqa: E731
        expected = {}
        for r, voice in [(old, 1), (p2, 1), (p3, 0)]:
            _, voices = expected.get((hour(r), "heating"), (0, 0))
            expected[(hour(r), "heating")] = (1, voices + voice)
        assert got == expected

        columns = rust_fields("PostRow")
        inner = latest_per_key(columns, "uid", "version", "posts", "published_at", since)
        linked_posts = rows(db, "SELECT * FROM (%s) WHERE latest_incident_id != '' ORDER BY latest_published_at, uid" % inner)
        assert [r["uid"] for r in linked_posts] == ["vk:-1:1", "vk:-1:2", "vk:-2:3", "vk:-1:4"]
        assert [r["latest_copy_of"] for r in linked_posts] == ["", "", "vk:-1:1", ""]

        for path in MIGRATIONS[5:]:  # the alerts' later columns (009: kind, overdue)
            apply(db, path)
        raised = NOW - dt.timedelta(minutes=10)
        insert(db, "alerts", [alert("a1", "opened", raised - dt.timedelta(minutes=5)), alert("a1", "updated", raised),
                              alert("a1", "resolved", raised), alert("a2", "opened", NOW - dt.timedelta(days=1))])
        rank = "indexOf(['opened', 'reopened', 'updated', 'resolved'], state)"
        inner = latest_per_key(rust_fields("AlertRow"), "id", "(raised_at, %s)" % rank, "alerts", "raised_at", since)
        latest = rows(db, "SELECT * FROM (%s) ORDER BY latest_raised_at, id" % inner)
        assert [(r["id"], r["latest_state"], r["latest_incident_excerpts"]) for r in latest] == [("a1", "resolved", ["resolved"])]

        # A repairing run of 005 again: nothing moves, nothing counts twice.
        apply(db, MIGRATIONS[4])
        assert rows(db, history_sql("HOURLY_VOICES_SQL").replace("?", str(since))) == hourly
        assert rows(db, "SELECT count() AS n FROM alerts_v0")[0]["n"] == 1
    finally:
        db.query("USE otklik")


def reply(uid, organisation, minutes_ago, delay_minutes=None, computed_minutes_ago=0, municipality="56701000"):
    """A `replies` row: a complaint `minutes_ago` old, answered after `delay_minutes` (None: not yet)."""
    # From noon yesterday, so that every test row falls on one day whatever the time now.
    at = NOW.replace(hour=12, minute=0, second=0) - dt.timedelta(days=1, minutes=minutes_ago)
    answered = delay_minutes is not None
    return {
        "complaint_uid": uid, "source_id": "vk-zhk", "municipality": municipality, "organisation": organisation,
        "complaint_at": fmt(at), "answered": int(answered), "reply_uid": uid + ":c9" if answered else "",
        "replied_by": organisation if answered else "",
        "first_reply_at": fmt(at + dt.timedelta(minutes=delay_minutes or 0)),
        "reply_delay_seconds": (delay_minutes or 0) * 60,
        "computed_at": fmt(NOW - dt.timedelta(minutes=computed_minutes_ago)),
    }


def test_response_figures_do_not_change_when_replies_are_delivered_twice(db):
    day = fmt(NOW - dt.timedelta(days=1))[:10]
    sample = [
        reply("vk:-7:1", "uk-a", 10, 2),
        reply("vk:-7:2", "uk-a", 9, 60 * 30),
        reply("vk:-7:3", "uk-a", 8, 5),
        reply("vk:-7:4", "uk-a", 7),
    ]
    # An earlier computation saw complaint 4 unanswered and 2 not yet answered: the later one wins.
    earlier = [reply("vk:-7:2", "uk-a", 9, computed_minutes_ago=5), reply("vk:-7:4", "uk-a", 7, computed_minutes_ago=5)]
    insert(db, "replies", earlier)
    insert(db, "replies", sample)
    insert(db, "replies", sample)
    delays = sorted(r["reply_delay_seconds"] for r in sample if r["answered"])
    expected = {
        "complaints": 4,
        "answered_24h": sum(1 for r in sample if r["answered"] and r["reply_delay_seconds"] <= 86400),
        "median": delays[len(delays) // 2],
        "p90": delays[min(int(0.9 * len(delays)), len(delays) - 1)],
    }
    got = rows(db, "SELECT toUInt64(complaints) AS complaints, toUInt64(answered_24h) AS answered_24h, "
                   "answered_24h_share AS share, toUInt64(median_delay_seconds) AS median, "
                   "toUInt64(p90_delay_seconds) AS p90 FROM response_daily "
                   "WHERE organisation = 'uk-a' AND day = '%s'" % day)
    assert len(got) == 1, got
    share = got[0].pop("share")
    assert got[0] == expected
    assert abs(share - 0.5) < 1e-9


def stat(source, platform, days_ago, audience):
    """A `source_stats` row: `source`'s audience as a poll saw it `days_ago` days ago (at noon)."""
    at = NOW.replace(hour=12, minute=0, second=0) - dt.timedelta(days=days_ago)
    return {"source_id": source, "platform": platform, "observed_at": fmt(at), "audience": audience}


def test_audience_growth_and_the_history_read_survive_redelivery(db):
    week = [stat("vk-adm", "vk", d, 2000 + 10 * (13 - d)) for d in range(13, -1, -1)]
    sample = week + [stat("tg-news", "telegram", 10, 500), stat("tg-news", "telegram", 3, 450),
                     stat("ok-new", "ok", 2, 0), stat("ok-new", "ok", 1, 40), stat("vk-old", "vk", 20, 5)]
    insert(db, "source_stats", sample)
    insert(db, "source_stats", sample[:5])  # re-delivery
    query = (ROOT / "deploy/clickhouse/queries/audience_growth.sql").read_text()
    got = {r["source_id"]: r for r in rows(db, query)}
    assert set(got) == {"vk-adm", "tg-news", "ok-new"}  # vk-old is older than 14 days
    assert (int(got["vk-adm"]["first_audience"]), int(got["vk-adm"]["last_audience"])) == (2000, 2130)
    assert int(got["vk-adm"]["change"]) == 130 and got["vk-adm"]["change_pct"] == 6.5
    assert int(got["tg-news"]["change"]) == -50 and got["tg-news"]["change_pct"] == -10
    assert int(got["ok-new"]["change"]) == 40 and got["ok-new"]["change_pct"] is None

    since = int((NOW - dt.timedelta(days=14)).timestamp())
    sql = history_sql("SOURCE_STATS_SQL", "crates/clickhouse/src/audience.rs").replace("?", "%d" % since)
    read = rows(db, sql)
    assert len(read) == 14 + 2 + 2, "one row per observation, the redelivered ones once"
    assert [r["source_id"] for r in read] == sorted(r["source_id"] for r in read)


def latest_anchored(sql):
    """The latest-anchored variant (deploy/README.md, BundledQuery::latest_anchored)."""
    return sql.replace("now()", "(SELECT max(published_at) FROM posts)")


def test_every_query_runs_latest_anchored_on_data_that_has_ended(db):
    """The loaded sample 60 days older (as the demo's posts are): the plain queries find nothing
    in their windows, the latest-anchored variants find what they find on fresh data."""
    db.query("CREATE DATABASE IF NOT EXISTS otklik_ended")
    db.query("USE otklik_ended")
    try:
        for path in MIGRATIONS:
            apply(db, path)
        old = 60 * 24 * 60
        zarechny = ("56734000", "г. Заречный")
        insert(db, "posts", [
            post("vk:-1000:1", "complaint", ["heating"], old + 10),
            post("vk:-1000:2", "complaint", ["heating", "hot_water"], old + 20),
            post("vk:-1000:3", "question", ["heating"], old + 30, zarechny),
            post("vk:-1000:6", "complaint", ["roads"], old + 60 * 24 * 10),
        ])
        by_name = {p.stem: p.read_text() for p in QUERIES}
        assert rows(db, by_name["complaints_by_municipality_topic"]) == []
        results = {name: rows(db, latest_anchored(sql)) for name, sql in by_name.items()}
        main = {(r["municipality"], r["topic"]): r for r in results["complaints_by_municipality_topic"]}
        assert int(main[("56701000", "heating")]["complaints"]) == 2
        assert int(main[("56734000", "heating")]["questions"]) == 1
        assert ("56701000", "roads") not in main  # 10 days before the newest post
        assert {r["uid"] for r in results["needs_attention"]} == {"vk:-1000:1", "vk:-1000:2"}
        assert sum(int(r["heating"]) for r in results["heating_season"]) == 3
        assert int({r["topic"]: r for r in results["growing_topics"]}["heating"]["this_week"]) == 3
    finally:
        db.query("USE otklik")
