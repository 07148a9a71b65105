"""Checks deploy/grafana and deploy/prometheus against what otklik really serves and stores.

Run: python3 deploy/tests/check_observability.py   (scripts/check-deploy.sh runs it)

- every dashboard is valid JSON, its panels name a provisioned datasource uid;
- every `otklik_*` metric a dashboard or a rule file uses is a family src/metrics_families.rs lists,
  and every `otklik:*` series is recorded by a rule in deploy/prometheus/rules;
- with chdb (a ClickHouse engine in process) every ClickHouse panel's SQL, with Grafana's macros
  filled in, runs against the schema deploy/clickhouse/migrations creates (every migration applied
  as the migrator applies it, conditional statements included).
Exit status 1 with every problem listed; 0 when all hold.
"""

import importlib.util
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
FAMILIES_FILE = "src/metrics_families.rs"
problems = []


def served_families():
    """The metric names /metrics serves: src/metrics_families.rs lists each family as
    ("name", "type", Wiring::…); a histogram also has its _bucket, _sum and _count series."""
    text = (ROOT / FAMILIES_FILE).read_text()
    names = set()
    for name, kind in re.findall(r'\(\s*"(otklik_\w+)",\s*"(\w+)",\s*Wiring::', text):
        names.add(name)
        if kind == "histogram":
            names |= {name + suffix for suffix in ("_bucket", "_sum", "_count")}
    if not names:
        problems.append("%s: found no metric family (has FAMILIES changed shape?)" % FAMILIES_FILE)
    return names


def recorded_series():
    series = set()
    for path in sorted((DEPLOY / "prometheus/rules").glob("*.yml")):
        series |= set(re.findall(r"^\s*- record:\s*(\S+)", path.read_text(), re.M))
    return series


def check_names(where, text, families, recorded):
    for name in sorted(set(re.findall(r"\botklik_[a-z_]+\b", text))):
        if name not in families:
            problems.append("%s: metric %s is not served by /metrics (%s)" % (where, name, FAMILIES_FILE))
    for name in sorted(set(re.findall(r"\botklik:[a-z0-9_:]+", text))):
        if name not in recorded:
            problems.append("%s: series %s is not recorded by deploy/prometheus/rules" % (where, name))


def provisioned_uids():
    text = (DEPLOY / "grafana/provisioning/datasources/otklik.yaml").read_text()
    return set(re.findall(r"^\s*uid:\s*(\S+)", text, re.M))


def panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboards():
    for path in sorted((DEPLOY / "grafana/dashboards").glob("*.json")):
        try:
            yield path, json.loads(path.read_text())
        except ValueError as e:
            problems.append("%s: not JSON: %s" % (path.relative_to(ROOT), e))


FROM, TO = "toDateTime('2026-10-01 00:00:00', 'UTC')", "toDateTime('2026-11-26 00:00:00', 'UTC')"


def fill_macros(sql):
    """Grafana's ClickHouse macros and template variables, as the plugin would expand them."""
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"(\1 >= %s AND \1 <= %s)" % (FROM, TO), sql)
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(\1, INTERVAL 3600 second)", sql)
    sql = sql.replace("$__fromTime", FROM).replace("$__toTime", TO)
    return re.sub(r"\$\{\w+:singlequote\}", "'__all'", sql)


def clickhouse_session():
    try:
        from chdb import session
    except ImportError:
        print("check_observability: chdb not installed, ClickHouse panel SQL not executed (pip install chdb)")
        return None
    spec = importlib.util.spec_from_file_location("ddl", DEPLOY / "clickhouse/tests/test_chdb.py")
    ddl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ddl)
    import tempfile
    s = session.Session(tempfile.mkdtemp(prefix="otklik-grafana-"))
    s.query("CREATE DATABASE IF NOT EXISTS otklik")
    s.query("USE otklik")
    # The schema exactly as the migrator builds it (conditional statements included).
    for path in sorted((DEPLOY / "clickhouse/migrations").glob("[0-9][0-9][0-9]_*.sql")):
        ddl.apply(s, path)
    return s


def main():
    families, recorded = served_families(), recorded_series()
    for path in sorted((DEPLOY / "prometheus/rules").glob("*.yml")):
        body = "\n".join(l for l in path.read_text().splitlines() if not l.lstrip().startswith("#"))
        check_names(str(path.relative_to(ROOT)), body, families, recorded)
    uids, session, ran = provisioned_uids(), clickhouse_session(), 0
    for path, dashboard in dashboards():
        where = str(path.relative_to(ROOT))
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                uid = (target.get("datasource") or panel.get("datasource") or {}).get("uid")
                if uid not in uids:
                    title = panel.get("title")
                    problems.append("%s: panel %r uses datasource %r, not provisioned" % (where, title, uid))
                check_names("%s panel %r" % (where, panel.get("title")), target.get("expr", ""), families, recorded)
                if "rawSql" in target and session is not None:
                    try:
                        session.query(fill_macros(target["rawSql"]), "CSV")
                        ran += 1
                    except Exception as e:  # chdb raises its own error type per version
                        problems.append("%s panel %r: SQL fails: %s" % (where, panel.get("title"), str(e)[:400]))
        for var in dashboard.get("templating", {}).get("list", []):
            clickhouse = (var.get("datasource") or {}).get("uid") == "otklik-clickhouse"
            if var.get("type") == "query" and session is not None and clickhouse:
                try:
                    session.query(var["query"], "CSV")
                    ran += 1
                except Exception as e:
                    problems.append("%s variable %s: SQL fails: %s" % (where, var.get("name"), str(e)[:400]))
    for problem in problems:
        print("check_observability: " + problem, file=sys.stderr)
    print("check_observability: %d metric families served, %d recorded series, %d ClickHouse queries ran, %d problems"
          % (len(families), len(recorded), ran, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
