#!/usr/bin/env bash
# Replication benchmark: a 3-node cluster of release `tributary server` processes on loopback,
# each node a broker and one of three controllers (a Raft quorum, as config/cluster/), one
# producer, 100 B records. Prints, for BENCHMARKS.md:
#   1. produce throughput and p50/p99 latency (`tributary bench produce`, 6 partitions) with
#      RF=1 acks=1, RF=3 acks=1 and RF=3 acks=all (min.insync.replicas=2)
#   2. failover time: SIGKILL of a partition leader to the first acknowledged acks=all write on
#      that partition, over KILLS kills, about half of them of a leader that is also the active
#      controller: p50/p99/max over all kills and over each of the two kinds
#   3. coordinator failover time: SIGKILL of a consumer group's coordinator (the leader of its
#      __consumer_offsets partition) to the first successful synchronous offset commit after it,
#      over max(3, KILLS/4) kills: p50/max
#   (2 and 3: scripts/bench-failover.py, confluent-kafka, with the default
#   broker.session.timeout.ms, broker.heartbeat.interval.ms and controller.quorum.* timeouts;
#   each kill is followed by a restart and the wait until every ISR is whole again)
# Not part of CI: it wants an otherwise idle machine.
#
# Environment: RECORDS (2000000), ROUNDS (2: the three rows are measured that many times, in
# turn), KILLS (20; 0 skips the failover parts), BENCH_DIR (where the nodes' data goes, default
# /tmp; /dev/shm takes the disk out of the measurement), TRIBUTARY_BIN (default: a release
# build into CARGO_TARGET_DIR), PYTHON (default ~/.cache/tributary/venv/bin/python, made by
# scripts/install-test-deps.sh). Each row starts after a `sync`, so that no row pays for the
# writeback of the one before it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
RECORDS="${RECORDS:-2000000}"
KILLS="${KILLS:-20}"
PYTHON="${PYTHON:-$CACHE/venv/bin/python}"
if [ -z "${TRIBUTARY_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --locked --bin tributary >&2)
    TRIBUTARY_BIN="$CARGO_TARGET_DIR/release/tributary"
fi
ROUNDS="${ROUNDS:-2}"
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/tributary-bench-cluster.XXXXXX")
PIDS="$WORK/pids"
mkdir -p "$PIDS"
cleanup() {
    for f in "$PIDS"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# broker (PLAINTEXT) and controller (CONTROLLER) port of each node
declare -A BPORT CPORT
for i in 1 2 3; do BPORT[$i]=$(port); CPORT[$i]=$(port); done
VOTERS="1@127.0.0.1:${CPORT[1]},2@127.0.0.1:${CPORT[2]},3@127.0.0.1:${CPORT[3]}"
for i in 1 2 3; do
    cat > "$WORK/node$i.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$VOTERS
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:${BPORT[$i]},CONTROLLER://127.0.0.1:${CPORT[$i]}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$WORK/node$i
default.replication.factor=3
min.insync.replicas=2
PROPS
done
# one cluster id for all three data dirs, as kafka-storage formats a KRaft cluster
CLUSTER_ID=$("$TRIBUTARY_BIN" storage random-uuid)
for i in 1 2 3; do
    env -u TRIBUTARY_BIN "$TRIBUTARY_BIN" storage format -t "$CLUSTER_ID" --config "$WORK/node$i.properties" >/dev/null
done

start_node() {
    env -u TRIBUTARY_BIN RUST_LOG=warn "$TRIBUTARY_BIN" server --no-connect --no-ksql --config "$WORK/node$1.properties" >>"$WORK/node$1.log" 2>&1 &
    echo $! >"$PIDS/node$1.pid"
}
wait_listening() {
    for _ in $(seq 600); do
        (echo >"/dev/tcp/127.0.0.1/${BPORT[$1]}") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "node $1 did not start; see $WORK/node$1.log (KEEP=1 keeps it)" >&2
    exit 1
}
# each voter waits for a quorum of the others: start all three, then wait for each
for i in 1 2 3; do start_node "$i"; done
for i in 1 2 3; do wait_listening "$i"; done
BOOT="127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}"
# then until a controller is elected and all three brokers are registered (`cluster describe`
# lists them): topics with -r 3 need them
cluster_ready() {
    local desc
    desc=$("$TRIBUTARY_BIN" cluster describe -b "$BOOT" 2>/dev/null) || return 1
    grep -q '^Controller: node [0-9]' <<<"$desc" &&
        [ "$(grep -c '^  [0-9][0-9]*  127\.0\.0\.1:' <<<"$desc")" = 3 ]
}
for _ in $(seq 600); do cluster_ready && break; sleep 0.1; done
if ! cluster_ready; then
    echo "no controller with three registered brokers within 60 s; see $WORK/node*.log (KEEP=1 keeps them)" >&2
    exit 1
fi

echo "## produce, 100 B records, 6 partitions, one producer ($RECORDS records)"
"$TRIBUTARY_BIN" topic create bench-rf1 -p 6 -r 1 -b "$BOOT" >/dev/null
"$TRIBUTARY_BIN" topic create bench-rf3 -p 6 -r 3 -b "$BOOT" >/dev/null
# warm-up (not reported): both topics once, so that no row pays for the first metadata, the
# first segments or the page cache
for t in bench-rf1 bench-rf3; do
    "$TRIBUTARY_BIN" bench produce -b "$BOOT" --topic "$t" --acks all --records 300000 --record-size 100 >/dev/null
done
# every row finds memory ready: fresh pages on this VM can come slower than the replicas write
# them (scripts/touch-memory.py); touch most of the free memory once, and say how fast it came
free_mib=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
if [ "$free_mib" -gt 3072 ]; then
    python3 "$HERE/touch-memory.py" $((free_mib - 2048))
fi
for round in $(seq "$ROUNDS"); do
    for row in "rf1 1 bench-rf1" "rf3 1 bench-rf3" "rf3 all bench-rf3"; do
        set -- $row
        sync
        echo "### RF=${1#rf} acks=$2 (round $round)"
        "$TRIBUTARY_BIN" bench produce -b "$BOOT" --topic "$3" --acks "$2" --records "$RECORDS" --record-size 100
    done
done
[ "$KILLS" -gt 0 ] || exit 0

echo "## failover ($KILLS kills of a partition leader, then kills of a group coordinator)"
"$TRIBUTARY_BIN" topic create failover -p 6 -r 3 -b "$BOOT" >/dev/null
cat >"$WORK/restart.sh" <<R
#!/usr/bin/env bash
env -u TRIBUTARY_BIN RUST_LOG=warn "$TRIBUTARY_BIN" server --no-connect --no-ksql --config "$WORK/node\$1.properties" >>"$WORK/node\$1.log" 2>&1 &
echo \$! >"$PIDS/node\$1.pid"
R
chmod +x "$WORK/restart.sh"
"$PYTHON" "$HERE/bench-failover.py" "$BOOT" failover "$KILLS" "$PIDS" "bash $WORK/restart.sh" "$TRIBUTARY_BIN"
