#!/usr/bin/env bash
# Checks deploy/ without a container runtime or a cluster (called by scripts/test.sh; runs alone):
#   - compose.yaml parses (`docker-compose config`, Debian's docker-compose; no daemon needed);
#   - the commands, OTKLIK_* variables, files and configs that the Dockerfile, compose, k8s and
#     systemd name exist in otklik, and the configs pass `otklik check-config`
#     (deploy/tests/check_references.py; python3 with PyYAML);
#   - k8s YAML and Grafana JSON parse; dashboards and rules use only metrics /metrics serves, and the
#     dashboards' ClickHouse SQL runs on the migrations' schema (deploy/tests/check_observability.py,
#     chdb when installed);
#   - `systemd-analyze verify` on the units, any warning counting as a failure, and
#     `systemd-analyze security --offline` exposure at most 2.0 each;
#   - `promtool check rules` and `promtool test rules` on deploy/prometheus, `promtool check config`;
#   - deploy/tests (pytest): each check fails on a copy of the repository with one thing broken.
# A missing tool skips its part with a message; with OTKLIK_REQUIRE_SERVICES=1 (CI) it fails instead.
# OTKLIK_BIN names the otklik binary (default target/debug/otklik; without one the configs are not
# run through check-config). Exit status 1 when any part fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
LOG_TAG=check-deploy
# shellcheck source=lib.sh
. "$here/lib.sh"
cd "$root"
# Leave no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1
bin=${OTKLIK_BIN:-target/debug/otklik}
case "$bin" in /*) ;; *) bin=$root/$bin ;; esac

failed=()
fail() { log "FAILED: $1"; failed+=("$1"); }
# `need TOOL WHAT PACKAGE`: true when TOOL is installed; otherwise skips WHAT (or fails it in CI).
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "${OTKLIK_REQUIRE_SERVICES:-}" = 1 ]; then
        fail "$2: $1 not found (apt-get install $3)"
    else
        log "skipping $2: $1 not found (apt-get install $3)"
    fi
    return 1
}

if need docker-compose "compose parse" docker-compose; then
    docker-compose -f deploy/compose.yaml config -q && log "compose.yaml parses" || fail "docker-compose config"
fi

if need python3 "reference and dashboard checks" python3-yaml; then
    if python3 -c 'import yaml' 2>/dev/null; then
        args=()
        if [ -x "$bin" ]; then args=(--otklik "$bin"); else log "no otklik binary at $bin: check-config not run"; fi
        python3 deploy/tests/check_references.py "${args[@]}" || fail "deploy references"
        python3 - <<'PY' || fail "k8s YAML"
import pathlib, yaml
for path in sorted(pathlib.Path("deploy/k8s").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        assert doc is None or ("kind" in doc and "apiVersion" in doc), "%s: a document without kind/apiVersion" % path
PY
        python3 deploy/tests/check_observability.py || fail "grafana and prometheus names"
        # The checks themselves: each breaks one thing in a copy of the repository and must fail.
        if python3 -c 'import pytest' 2>/dev/null; then
            OTKLIK_BIN=$bin python3 -m pytest -q -p no:cacheprovider deploy/tests \
                || fail "deploy/tests"
        elif [ "${OTKLIK_REQUIRE_SERVICES:-}" = 1 ]; then
            fail "deploy/tests: pytest not found (pip install pytest)"
        else
            log "skipping deploy/tests: pytest not found (pip install pytest)"
        fi
    else
        fail "python3 has no yaml module (apt-get install python3-yaml)"
    fi
fi

# systemd-analyze verify needs the units' binaries to exist: verify copies whose otklik is the built
# binary (or /bin/true). It exits 0 on unknown keys and bad values, so any output is a failure.
if need systemd-analyze "systemd unit check" systemd; then
    units=$(mktemp -d)
    exe=$bin
    [ -x "$exe" ] || exe=/bin/true
    for unit in deploy/systemd/*.service; do
        name=$(basename "$unit")
        sed "s#/usr/local/bin/otklik#$exe#g" "$unit" >"$units/${name/@./@example.}"
    done
    out=$(cd "$units" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify ./*.service 2>&1) || true
    if [ -n "$out" ]; then printf '%s\n' "$out" >&2; fail "systemd-analyze verify"; else log "systemd units verify"; fi
    # The hardening holds: exposure at most 2.0 of 10 (an unhardened service scores about 9).
    for unit in "$units"/*.service; do
        systemd-analyze security --offline=yes --threshold=20 "$unit" >/dev/null 2>&1 \
            || fail "systemd-analyze security: $(basename "$unit") is exposed above 2.0"
    done
    rm -rf "$units"
fi

if need promtool "Prometheus rules check" prometheus; then
    promtool check rules deploy/prometheus/rules/*.yml >/dev/null || fail "promtool check rules"
    promtool test rules deploy/prometheus/tests/*.yml || fail "promtool test rules"
    # The compose config names the rules at their path in the container: check it with a copy.
    prom=$(mktemp -d)
    mkdir -p "$prom/rules" && cp deploy/prometheus/rules/*.yml "$prom/rules/"
    sed "s#/etc/prometheus/rules/#$prom/rules/#" deploy/prometheus/prometheus.yml >"$prom/prometheus.yml"
    promtool check config "$prom/prometheus.yml" >/dev/null || fail "promtool check config"
    rm -rf "$prom"
fi

if [ ${#failed[@]} -gt 0 ]; then
    log "deploy checks failed: ${failed[*]}"
    exit 1
fi
log "deploy checks passed"
