#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker + controller in one JVM) for otklik's tests,
# from the official jars on Maven Central.
#
#   scripts/kafka.sh fetch            resolve the jars into the cache (if not there yet)
#   scripts/kafka.sh start STATE_DIR  fresh broker with its data under STATE_DIR; prints
#                                     127.0.0.1:PORT (its bootstrap address) on stdout
#   scripts/kafka.sh restart STATE_DIR  stop the broker started there and start it again on the
#                                     same data and port (tests of a broker outage); prints its
#                                     address like start
#   scripts/kafka.sh stop STATE_DIR   stop the broker started there
#
# Env: OTKLIK_KAFKA_VERSION (default 4.1.1), OTKLIK_CACHE_DIR (default ~/.cache/otklik),
#      OTKLIK_KAFKA_HEAP (default 512m), OTKLIK_KAFKA_START_TIMEOUT seconds (default 90).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=kafka
# shellcheck source=lib.sh
. "$here/lib.sh"

version=${OTKLIK_KAFKA_VERSION:-4.1.1}
cache=${OTKLIK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otklik}/kafka-$version
libs=$cache/libs

fetch() {
    [ -f "$cache/.complete" ] && return 0
    command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch the Kafka jars)"
    command -v java >/dev/null || die "java not found (Java 17+ runs the Kafka broker)"
    log "resolving org.apache.kafka:kafka_2.13:$version with Maven into $libs"
    local t0; t0=$(now_ms)
    rm -rf "$libs.tmp"
    mkdir -p "$cache"
    if ! mvn -q -B -Dstyle.color=never -f "$here/kafka/pom.xml" -Dkafka.version="$version" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$cache/mvn.log" 2>&1; then
        show_logs "$cache/mvn.log"
        die "Maven could not resolve the Kafka $version jars"
    fi
    rm -rf "$libs" && mv "$libs.tmp" "$libs" && touch "$cache/.complete"
    log "jars ready in $(elapsed_s "$t0")s"
}

# A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (as Kafka's Uuid prints).
# Like Kafka's own Uuid.randomUuid, never one that starts with '-': kafka-storage's argument
# parser would read such an id as an option (one CI run in 64 failed that way).
random_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id == -* ]] || break
    done
    echo "$id"
}

start() {
    local state=$1 port cport t0
    fetch
    state=$(mkdir -p "$state" && cd "$state" && pwd)
    stop_pidfile "$state/kafka.pid" 5
    rm -rf "$state/data" "$state/kafka.log" "$state/kafka.out"
    mkdir -p "$state/data"
    port=$(free_port)
    cport=$(free_port)
    cat >"$state/server.properties" <<PROPS
# Written by scripts/kafka.sh: a throwaway single-node test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.io.threads=2
num.network.threads=2
num.recovery.threads.per.data.dir=1
log.retention.check.interval.ms=600000
PROPS
    cat >"$state/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
PROPS
    t0=$(now_ms)
    jvm_command "$state"
    if ! "${JVM[@]}" kafka.tools.StorageTool format --cluster-id="$(random_cluster_id)" \
        -c "$state/server.properties" >"$state/format.out" 2>&1; then
        show_logs "$state/format.out"
        die "formatting the KRaft storage failed"
    fi
    echo "127.0.0.1:$port" >"$state/address"
    launch "$state" "$port" "$t0"
}

# Sets JVM to the java command line with the broker's classpath and logging config.
jvm_command() {
    JVM=(java -Xms128m "-Xmx${OTKLIK_KAFKA_HEAP:-512m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
        -Djava.awt.headless=true "-Dlog4j2.configurationFile=$1/log4j2.properties" -cp "$libs/*")
}

# Starts the broker configured in $1 (listening on port $2) and waits until it answers.
launch() {
    local state=$1 port=$2 t0=$3 deadline pid
    # setsid: the broker gets its own session, so a ^C aimed at the test run reaches it only
    # through our stop (an orderly shutdown), never half-way.
    jvm_command "$state"
    setsid "${JVM[@]}" kafka.Kafka "$state/server.properties" >>"$state/kafka.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$state/kafka.pid"
    deadline=$(( $(date +%s) + ${OTKLIK_KAFKA_START_TIMEOUT:-90} ))
    local started_lines
    started_lines=$(grep -c "Kafka Server started" "$state/kafka.log" 2>/dev/null || true)
    until port_open "$port" && [ "$(grep -c "Kafka Server started" "$state/kafka.log" 2>/dev/null || true)" -gt "${started_lines:-0}" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_logs "$state/kafka.out" "$state/kafka.log"
            die "the broker exited during start-up"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            show_logs "$state/kafka.out" "$state/kafka.log"
            stop_pidfile "$state/kafka.pid" 5
            die "the broker did not answer within ${OTKLIK_KAFKA_START_TIMEOUT:-90}s"
        fi
        sleep 0.2
    done
    log "Kafka $version up on 127.0.0.1:$port in $(elapsed_s "$t0")s (pid $pid, logs in $state)"
    echo "127.0.0.1:$port"
}

restart() {
    local state port
    state=$(cd "$1" && pwd) || die "no broker state in $1"
    [ -f "$state/address" ] || die "no broker was started in $state"
    port=$(cat "$state/address")
    port=${port##*:}
    stop "$state"
    launch "$state" "$port" "$(now_ms)"
}

stop() {
    local state=$1
    [ -f "$state/kafka.pid" ] || return 0
    stop_pidfile "$state/kafka.pid" 20
    log "stopped"
}

case "${1:-}" in
    fetch) fetch ;;
    start) [ $# -eq 2 ] || die "usage: $0 start STATE_DIR"; start "$2" ;;
    restart) [ $# -eq 2 ] || die "usage: $0 restart STATE_DIR"; restart "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop STATE_DIR"; stop "$2" ;;
    *) die "usage: $0 fetch | start STATE_DIR | restart STATE_DIR | stop STATE_DIR" ;;
esac
