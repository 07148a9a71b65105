#!/usr/bin/env bash
# otklik's test command: runs `cargo test --workspace` with real Kafka and ClickHouse.
#
#   scripts/test.sh [CARGO TEST ARGS...]      e.g. scripts/test.sh -p otklik-kafka -- --nocapture
#
# cargo runs with --no-fail-fast, so one failing test binary does not hide the others.
#
# (--workspace is added unless the arguments pick packages with -p/--package.)
#
# First installs what the machine lacks (scripts/setup.sh; OTKLIK_SKIP_SETUP=1 skips it).
# Starts what is missing and stops it again on exit:
#   - Kafka (KRaft, single node) from the Apache jars on Maven Central: scripts/kafka.sh;
#   - ClickHouse (Debian's clickhouse-server): scripts/clickhouse.sh.
# A service whose env var is already set is used as it is and nothing is started for it:
#   OTKLIK_TEST_KAFKA=127.0.0.1:9092   OTKLIK_TEST_CLICKHOUSE=http://127.0.0.1:8123
# The tests read those variables (crates/testkit); with OTKLIK_REQUIRE_SERVICES=1 (CI) a test
# whose service is missing fails instead of skipping.
#
# The tests are compiled before any service starts (a build error starts nothing).
# Service state and logs live in .services/ (git-ignored; OTKLIK_SERVICES_DIR overrides).
# Before the build, `cargo fmt --all --check` and `cargo clippy --workspace --all-targets -- -D
# warnings` (whole workspace only; OTKLIK_SKIP_LINT=1 skips them).
# Snapshot tests (insta) never write snapshot files under CI (INSTA_UPDATE=no when CI is set):
# a difference fails; locally they leave `*.snap.new` for `cargo insta review`.
# Exits non-zero when a check, the build or a test fails.
set -euo pipefail
if [ -n "${CI:-}" ]; then
    export INSTA_UPDATE=no
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
LOG_TAG=test.sh
# shellcheck source=lib.sh
. "$here/lib.sh"

services=${OTKLIK_SERVICES_DIR:-$root/.services}
mkdir -p "$services"
started=()

cleanup() {
    local s
    for s in "${started[@]}"; do
        "$here/$s.sh" stop "$services/$s" || log "could not stop $s (state in $services/$s)"
    done
    started=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$root"
# Install what the tests need and this machine lacks (apt, pip, the Kafka jars).
[ "${OTKLIK_SKIP_SETUP:-}" = 1 ] || "$here/setup.sh"

# The whole workspace unless the caller picked packages (-p/--package).
scope=(--workspace)
build_args=()
for arg in "$@"; do
    case "$arg" in
        --) break ;;
        -p|--package|-p*|--package=*) scope=() ;;
    esac
    build_args+=("$arg")
done

status=0
# Tidy by default (the whole workspace only; OTKLIK_SKIP_LINT=1 skips): formatting as
# rustfmt.toml says, and clippy with every warning an error. A failure is reported, the tests
# still run.
if [ ${#scope[@]} -gt 0 ] && [ "${OTKLIK_SKIP_LINT:-}" != 1 ]; then
    log "cargo fmt --all --check"
    cargo fmt --all --check || { log "formatting differs: run cargo fmt --all"; status=1; }
    log "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets --quiet -- -D warnings || { log "clippy found warnings"; status=1; }
fi

# Compile first (services sit idle during a long build, and a build error needs no services).
t0=$(now_ms)
build=0
cargo test "${scope[@]}" --no-run "${build_args[@]}" || build=$?
[ "$build" -eq 0 ] || { log "build failed (cargo exit $build); no service started"; exit "$build"; }
log "tests built in $(elapsed_s "$t0")s"

if [ -z "${OTKLIK_TEST_KAFKA:-}" ]; then
    started+=(kafka)
    OTKLIK_TEST_KAFKA=$("$here/kafka.sh" start "$services/kafka")
else
    log "using Kafka at $OTKLIK_TEST_KAFKA (OTKLIK_TEST_KAFKA is set; starting none)"
fi
if [ -z "${OTKLIK_TEST_CLICKHOUSE:-}" ]; then
    started+=(clickhouse)
    OTKLIK_TEST_CLICKHOUSE=$("$here/clickhouse.sh" start "$services/clickhouse")
else
    log "using ClickHouse at $OTKLIK_TEST_CLICKHOUSE (OTKLIK_TEST_CLICKHOUSE is set; starting none)"
fi
export OTKLIK_TEST_KAFKA OTKLIK_TEST_CLICKHOUSE

log "cargo test ${scope[*]:+${scope[*]} }--no-fail-fast $*  (OTKLIK_TEST_KAFKA=$OTKLIK_TEST_KAFKA OTKLIK_TEST_CLICKHOUSE=$OTKLIK_TEST_CLICKHOUSE)"
cargo test "${scope[@]}" --no-fail-fast "$@" || status=$?

# The modern ClickHouse DDL and the analyst queries on a current engine, in process (chdb; the
# Rust tests above cover the 18.16 form). Runs with the whole workspace or -p otklik-clickhouse.
if [ ${#scope[@]} -gt 0 ] || [[ " $* " == *otklik-clickhouse* ]]; then
    if python3 -c 'import chdb, pytest' 2>/dev/null; then
        log "pytest deploy/clickhouse/tests (chdb)"
        python3 -m pytest -q deploy/clickhouse/tests || status=$?
    elif [ "${OTKLIK_REQUIRE_SERVICES:-}" = 1 ]; then
        log "error: python3 with chdb and pytest is required (OTKLIK_REQUIRE_SERVICES=1): pip install chdb pytest"
        status=1
    else
        log "skipping deploy/clickhouse/tests: python3 with chdb and pytest not found (pip install chdb pytest)"
    fi
fi
"$here/check-deploy.sh" || status=1  # deploy/: compose, k8s, units, rules, dashboards
exit "$status"
