#!/usr/bin/env bash
# Installs what otklik's tests need and this machine lacks, when it can; says what to do when it
# cannot. Idempotent: installs only what is missing. Called by scripts/test.sh (set
# OTKLIK_SKIP_SETUP=1 to skip it); can be run alone.
#
#   - Debian packages (apt-get, as root or through sudo): clickhouse-server and clickhouse-client
#     (the ClickHouse tests), curl, a Java runtime and Maven (the Kafka broker, from its jars on
#     Maven Central), a C toolchain and pkg-config (librdkafka is built from the rdkafka crate's
#     bundled sources), python3 with pip; docker-compose, python3-yaml, prometheus (promtool) and
#     systemd (systemd-analyze) for scripts/check-deploy.sh; chromium (the page of `otklik serve`
#     looked at headless);
#   - Python packages (pip): chdb and pytest (the modern-ClickHouse DDL tests);
#   - the Kafka jars (scripts/kafka.sh fetch, cached under ~/.cache/otklik).
# The Rust toolchain is expected (rustup).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=setup
# shellcheck source=lib.sh
. "$here/lib.sh"

have() { command -v "$1" >/dev/null 2>&1; }
have cargo || die "cargo not found: install Rust with rustup (https://rustup.rs)"
# scripts/test.sh checks formatting and lints: rustfmt and clippy come with rustup's components.
for component in rustfmt clippy; do
    cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 && continue
    have rustup || die "cargo $component is missing and rustup is not here to add it"
    log "installing the $component component (rustup component add $component)"
    rustup component add "$component" || die "rustup component add $component failed"
done

missing=()
have clickhouse-server || [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
have clickhouse-client || missing+=(clickhouse-client)
have curl || missing+=(curl)
have java || missing+=(openjdk-17-jre-headless)
have mvn || missing+=(maven)
have make || missing+=(make)
have cc || missing+=(gcc)
have c++ || missing+=(g++)
have pkg-config || missing+=(pkg-config)
have python3 || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
# scripts/check-deploy.sh: compose parsing, YAML, promtool (Debian's prometheus package), systemd-analyze.
have docker-compose || missing+=(docker-compose)
python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
have promtool || missing+=(prometheus)
have systemd-analyze || missing+=(systemd)
# tests/integration/serve.rs: the duty officer's page in a real browser (headless).
have chromium || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if have sudo && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "missing: ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}), or run as root"
        fi
    fi
    have apt-get || die "missing: ${missing[*]}; this script installs with apt-get (Debian/Ubuntu); install them by hand"
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp)
    # Debian's clickhouse-server postinst tries to start the service; there may be no init, and
    # the tests start their own server, so a failed start there is harmless.
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        tail -n 40 "$apt_log" >&2
        die "apt-get could not install ${missing[*]}"
    fi
    rm -f "$apt_log"
fi

# chdb (a current ClickHouse engine in process) and pytest for deploy/clickhouse/tests. Debian's
# python is externally managed (PEP 668): fall back to --break-system-packages for these
# test-only tools.
if ! python3 -c 'import chdb, pytest' 2>/dev/null; then
    log "installing chdb and pytest with pip"
    python3 -m pip install --quiet chdb pytest 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages chdb pytest \
        || die "pip could not install chdb and pytest (python3 -m pip install chdb pytest)"
fi

# Resolve the Kafka jars once up front, so a Maven problem shows as such (cached afterwards).
"$here/kafka.sh" fetch
