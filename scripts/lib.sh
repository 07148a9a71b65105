# Shared helpers for otklik's service scripts (sourced, not run).
# shellcheck shell=bash

log() { printf '[%s] %s\n' "${LOG_TAG:-otklik}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Milliseconds since the epoch (GNU date).
now_ms() { date +%s%3N; }

# Seconds (one decimal) between a now_ms stamp and now.
elapsed_s() { local d=$(( $(now_ms) - $1 )); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints a TCP port on 127.0.0.1 that nothing listens on and that no earlier call of this shell
# handed out. A port can still be taken between now and the bind; the start scripts then fail
# with the service's log, and a second run picks other ports.
_OTKLIK_GIVEN_PORTS=" "
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        case "$_OTKLIK_GIVEN_PORTS" in *" $p "*) continue ;; esac
        if ! port_open "$p"; then
            _OTKLIK_GIVEN_PORTS+="$p "
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found"
}

# Stops the process whose pid is in file $1: SIGTERM, then SIGKILL after $2 seconds (default 15).
stop_pidfile() {
    local pidfile=$1 grace=${2:-15} pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $((grace * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid still running after ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

# Prints the last lines of the given log files, for a failed start.
show_logs() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        log "---- last lines of $f ----"
        tail -n 60 "$f" >&2
    done
}
