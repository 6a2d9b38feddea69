#!/usr/bin/env bash
# Runs Apache Kafka itself (KRaft, broker and controller in one process, one node) on a loopback
# port, as the reference beside Tributary for differential tests and benchmarks. Never part of the
# README's two commands; jars come from Maven Central through scripts/kafka-jars.sh.
#
# Usage:
#   scripts/kafka-peer.sh start     formats a fresh data dir, starts Kafka, waits until it answers,
#                                   prints its bootstrap address (127.0.0.1:PORT) on stdout
#   scripts/kafka-peer.sh stop      stops it (SIGTERM, then SIGKILL after 30 s) and removes its dir
#   scripts/kafka-peer.sh status    prints the bootstrap address if it runs, else exits 1
# Environment:
#   KAFKA_VERSION     default 4.4.0
#   KAFKA_PEER_DIR    state dir (data, log, pid, bootstrap); default /tmp/tributary-kafka-peer
#   KAFKA_PEER_PORT   listener port; default a free one
#   KAFKA_HEAP_OPTS   default "-Xmx1G -Xms1G", as kafka-server-start.sh
# Settings: Kafka's defaults plus what its shipped config/server.properties sets for one node
# (replication factors and min ISR of the internal topics at 1, num.partitions=1); flushing is
# Kafka's default (no fsync per write: log.flush.interval.messages and .ms unset).
# Exit status 2 when Java or Maven is missing, so callers can skip with a printed reason.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=${KAFKA_VERSION:-4.4.0}
DIR=${KAFKA_PEER_DIR:-/tmp/tributary-kafka-peer}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

running_pid() {
    [ -f "$DIR/pid" ] || return 1
    local pid
    pid=$(cat "$DIR/pid")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

stop() {
    local pid
    if pid=$(running_pid); then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}

start() {
    if running_pid >/dev/null; then
        cat "$DIR/bootstrap"
        return 0
    fi
    local rc=0 cp
    cp=$(bash "$HERE/kafka-jars.sh" "$VERSION") || rc=$?
    [ "$rc" -eq 0 ] || exit "$rc"
    local jars
    jars=$(cat "$cp")
    rm -rf "$DIR"
    mkdir -p "$DIR/data"
    local port=${KAFKA_PEER_PORT:-$(free_port)}
    local cport
    cport=$(free_port)
    cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
EOF
    local log4j
    log4j="$(dirname "$cp")/log4j2.yaml"
    local java=(java -Dlog4j2.configurationFile="$log4j" -cp "$jars")
    local uuid
    uuid=$("${java[@]}" kafka.tools.StorageTool random-uuid 2>>"$DIR/format.log")
    "${java[@]}" kafka.tools.StorageTool format --standalone -t "$uuid" \
        -c "$DIR/server.properties" >>"$DIR/format.log" 2>&1 || {
        echo "kafka-peer: formatting failed:" >&2
        cat "$DIR/format.log" >&2
        exit 1
    }
    # the same JVM options as kafka-server-start.sh / kafka-run-class.sh
    # shellcheck disable=SC2086
    nohup java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$log4j" -cp "$jars" \
        kafka.Kafka "$DIR/server.properties" >"$DIR/server.log" 2>&1 &
    echo $! >"$DIR/pid"
    echo "127.0.0.1:$port" >"$DIR/bootstrap"
    # ready when a Metadata request lists the broker: the listener opens before the broker is
    # unfenced, so an open port alone is not enough
    for _ in $(seq 1 600); do
        if ! running_pid >/dev/null; then
            echo "kafka-peer: Kafka exited during start-up:" >&2
            tail -n 40 "$DIR/server.log" >&2
            exit 1
        fi
        if "${java[@]}" org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$port" \
            >/dev/null 2>&1 ||
            "${java[@]}" kafka.admin.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$port" \
                >/dev/null 2>&1; then
            cat "$DIR/bootstrap"
            return 0
        fi
        sleep 0.5
    done
    echo "kafka-peer: Kafka did not answer within 300 s" >&2
    tail -n 40 "$DIR/server.log" >&2
    stop
    exit 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        running_pid >/dev/null || exit 1
        cat "$DIR/bootstrap"
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 64
        ;;
esac
