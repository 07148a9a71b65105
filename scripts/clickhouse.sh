#!/usr/bin/env bash
# A throwaway ClickHouse server for otklik's tests (Debian's clickhouse-server), on loopback,
# with its config, data, tmp and logs under a state dir.
#
#   scripts/clickhouse.sh start STATE_DIR  fresh server; prints http://127.0.0.1:PORT on stdout
#   scripts/clickhouse.sh restart STATE_DIR  stop the server started there and start it again on
#                                          the same data and port (tests of an outage)
#   scripts/clickhouse.sh stop STATE_DIR   stop the server started there
#
# Env: OTKLIK_CLICKHOUSE_SERVER (default: clickhouse-server on PATH or /usr/sbin/clickhouse-server),
#      OTKLIK_CLICKHOUSE_START_TIMEOUT seconds (default 60).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=clickhouse
# shellcheck source=lib.sh
. "$here/lib.sh"

server_bin() {
    local bin=${OTKLIK_CLICKHOUSE_SERVER:-}
    if [ -z "$bin" ]; then
        bin=$(command -v clickhouse-server || true)
        [ -n "$bin" ] || { [ -x /usr/sbin/clickhouse-server ] && bin=/usr/sbin/clickhouse-server; }
    fi
    [ -n "$bin" ] || die "clickhouse-server not found (apt-get install clickhouse-server)"
    echo "$bin"
}

# GET /ping answers "Ok." once the server takes queries.
pinged() { curl -fsS --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null | grep -q '^Ok\.'; }

start() {
    local state=$1 bin http tcp
    bin=$(server_bin)
    command -v curl >/dev/null || die "curl not found (apt-get install curl)"
    state=$(mkdir -p "$state" && cd "$state" && pwd)
    stop_pidfile "$state/clickhouse.pid" 5
    rm -rf "$state/data" "$state/tmp" "$state/log"
    mkdir -p "$state/data" "$state/tmp" "$state/log" "$state/user_files" "$state/format_schemas"
    http=$(free_port)
    tcp=$(free_port)
    cat >"$state/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh: a throwaway test server on loopback. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$state/log/clickhouse-server.log</log>
        <errorlog>$state/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$state/data/</path>
    <tmp_path>$state/tmp/</tmp_path>
    <user_files_path>$state/user_files/</user_files_path>
    <format_schema_path>$state/format_schemas/</format_schema_path>
    <users_config>$state/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
XML
    cat >"$state/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
    echo "http://127.0.0.1:$http" >"$state/address"
    launch "$state" "$bin" "$http"
}

# Starts the server configured in $1 (binary $2, HTTP port $3) and waits until it answers.
launch() {
    local state=$1 bin=$2 http=$3 t0 deadline pid
    t0=$(now_ms)
    # setsid: its own session, so only our stop ends it (orderly), not a stray ^C mid-write.
    setsid "$bin" --config-file="$state/config.xml" --pid-file="$state/server.pid" \
        >>"$state/log/stdout.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$state/clickhouse.pid"
    deadline=$(( $(date +%s) + ${OTKLIK_CLICKHOUSE_START_TIMEOUT:-60} ))
    until pinged "$http"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_logs "$state/log/stdout.log" "$state/log/clickhouse-server.err.log" "$state/log/clickhouse-server.log"
            die "the server exited during start-up"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            show_logs "$state/log/stdout.log" "$state/log/clickhouse-server.err.log" "$state/log/clickhouse-server.log"
            stop_pidfile "$state/clickhouse.pid" 5
            die "the server did not answer /ping within ${OTKLIK_CLICKHOUSE_START_TIMEOUT:-60}s"
        fi
        sleep 0.1
    done
    log "ClickHouse $(curl -fsS "http://127.0.0.1:$http/?query=SELECT%20version()" 2>/dev/null || true) up on http://127.0.0.1:$http in $(elapsed_s "$t0")s (pid $pid, logs in $state/log)"
    echo "http://127.0.0.1:$http"
}

restart() {
    local state address
    state=$(cd "$1" && pwd) || die "no server state in $1"
    [ -f "$state/address" ] || die "no server was started in $state"
    address=$(cat "$state/address")
    stop "$state"
    launch "$state" "$(server_bin)" "${address##*:}"
}

stop() {
    local state=$1
    [ -f "$state/clickhouse.pid" ] || return 0
    stop_pidfile "$state/clickhouse.pid" 20
    log "stopped"
}

case "${1:-}" in
    start) [ $# -eq 2 ] || die "usage: $0 start STATE_DIR"; start "$2" ;;
    restart) [ $# -eq 2 ] || die "usage: $0 restart STATE_DIR"; restart "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop STATE_DIR"; stop "$2" ;;
    *) die "usage: $0 start STATE_DIR | restart STATE_DIR | stop STATE_DIR" ;;
esac
