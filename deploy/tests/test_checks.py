"""The deploy checks catch what they are for: each test breaks one thing in a copy of the repository
and expects check_references.py or check_observability.py to fail naming it.

Run: python3 -m pytest -q deploy/tests   (scripts/check-deploy.sh runs it when pytest is installed)
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
OTKLIK = os.environ.get("OTKLIK_BIN", str(ROOT / "target/debug/otklik"))


@pytest.fixture
def repo(tmp_path):
    for part in ("src", "crates", "config", "deploy"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("target", "__pycache__"))
    # What the Dockerfile copies besides: only their existence is checked.
    for name in ("Cargo.toml", "Cargo.lock", "benches", "tests"):
        (tmp_path / name).mkdir() if (ROOT / name).is_dir() else shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def run(repo, script, *args):
    result = subprocess.run([sys.executable, str(repo / "deploy/tests" / script), *args],
                            capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def edit(path, old, new):
    text = path.read_text()
    assert old in text, "%s no longer holds %r: update the test" % (path, old)
    path.write_text(text.replace(old, new))


def test_the_repository_passes(repo):
    for script in ("check_references.py", "check_observability.py"):
        code, out = run(repo, script)
        assert code == 0, out


def test_an_unknown_environment_variable_fails(repo):
    edit(repo / "deploy/compose.yaml", "OTKLIK_CLICKHOUSE_URL:", "OTKLIK_CLICKHOUSE_ADDRESS:")
    code, out = run(repo, "check_references.py")
    assert code == 1 and "OTKLIK_CLICKHOUSE_ADDRESS is read by no code" in out, out


def test_an_unknown_command_fails(repo):
    edit(repo / "deploy/systemd/otklik-sink.service", "otklik sink --config", "otklik store --config")
    code, out = run(repo, "check_references.py")
    assert code == 1 and "`otklik store --config" in out, out


def test_an_unknown_command_in_the_collectors_statefulset_fails(repo):
    edit(repo / "deploy/k8s/collect.yaml", 'args: ["collect",', 'args: ["collector",')
    code, out = run(repo, "check_references.py")
    assert code == 1 and "otklik-collect: `otklik collector" in out, out


def test_a_dns_discovered_target_that_is_no_compose_service_fails(repo):
    edit(repo / "deploy/prometheus/prometheus.yml", 'names: ["collect"]', 'names: ["collector"]')
    code, out = run(repo, "check_references.py")
    assert code == 1 and "target collector:9464 is not a compose service" in out, out


@pytest.mark.skipif(not os.access(OTKLIK, os.X_OK), reason="no otklik binary (cargo build)")
def test_a_compose_config_that_check_config_refuses_fails(repo):
    # The demo replay's own config: a replay cannot read its sources from the sources topic.
    edit(repo / "deploy/compose/demo.toml", 'replay_dir = "demo/feeds"', 'replay_dir = "demo/feeds"\nsources = "kafka"')
    code, out = run(repo, "check_references.py", "--otklik", OTKLIK)
    assert code == 1 and "deploy/compose/demo.toml" in out and "check-config fails" in out, out


def test_a_probe_on_an_unserved_path_fails(repo):
    edit(repo / "deploy/k8s/classify.yaml", "path: /readyz", "path: /ready")
    code, out = run(repo, "check_references.py")
    assert code == 1 and "asks /ready," in out, out


def test_a_missing_copied_file_fails(repo):
    (repo / "deploy/k8s/sources/sources.toml").unlink()
    code, out = run(repo, "check_references.py")
    assert code == 1 and "sources.toml=sources/sources.toml: no such file" in out, out


@pytest.mark.skipif(not os.access(OTKLIK, os.X_OK), reason="no otklik binary (cargo build)")
def test_a_config_that_check_config_refuses_fails(repo):
    edit(repo / "deploy/k8s/config/otklik.toml", 'poll_interval = "5m"', 'poll_interval = "5y"')
    code, out = run(repo, "check_references.py", "--otklik", OTKLIK)
    assert code == 1 and "deploy/k8s/config/otklik.toml" in out and "check-config fails" in out, out


def test_a_metric_that_is_not_served_fails(repo):
    edit(repo / "deploy/prometheus/rules/otklik.yml", "rate(otklik_stage_retries_total[10m])",
         "rate(otklik_stage_insert_errors_total[10m])")
    code, out = run(repo, "check_observability.py")
    assert code == 1 and "otklik_stage_insert_errors_total is not served" in out, out


def test_an_unrecorded_series_in_a_dashboard_fails(repo):
    edit(repo / "deploy/grafana/dashboards/otklik-pipeline.json", "otklik:stage_retries:rate10m",
         "otklik:stage_retries:rate1h")
    code, out = run(repo, "check_observability.py")
    assert code == 1 and "otklik:stage_retries:rate1h is not recorded" in out, out


def test_dashboard_sql_on_a_missing_column_fails(repo):
    pytest.importorskip("chdb")
    edit(repo / "deploy/grafana/dashboards/otklik-analytics.json", "argMax(incidents, raised_at)",
         "argMax(incidentz, raised_at)")
    code, out = run(repo, "check_observability.py")
    assert code == 1 and "Open alerts" in out and "SQL fails" in out, out
