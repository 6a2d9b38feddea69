#!/usr/bin/env bash
# The differential test: one scripted scenario (tests/differential/Scenario.java, about 380 steps of
# good and bad requests through the Java Admin, Producer and Consumer of kafka-clients 4.4.0) is
# sent to Apache Kafka 4.4 (scripts/kafka-peer.sh) and to a `tributary server`, and the two
# normalized transcripts are compared step by step. A step whose answers differ fails the run
# unless tests/differential/accepted.txt lists it (each entry is explained for users in
# docs/differences.md). Run by hand; never part of the README's test command or CI.
#
# Usage: scripts/differential.sh [--keep] [--serial]
#   --keep     keep the work dir (broker logs, data) and print where it is
#   --serial   run the scenario against one broker after the other (default: both at once)
# Environment:
#   TRIBUTARY_BIN     broker binary (default ~/.cache/tributary/target/debug/tributary)
#   TRIBUTARY_CACHE   cache dir (default ~/.cache/tributary): jars, compiled classes, and the last
#                     run's transcripts in $TRIBUTARY_CACHE/differential/last/
# Exit status: 0 when every difference is accepted (or when Java or Maven is missing: skipped with
# the reason printed), 1 when an unaccepted difference (or an error) was found.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SRC="$ROOT/tests/differential"
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
BIN="${TRIBUTARY_BIN:-$CACHE/target/debug/tributary}"
KEEP=0
SERIAL=0
for a in "$@"; do
    case "$a" in
        --keep) KEEP=1 ;;
        --serial) SERIAL=1 ;;
        *) echo "usage: $0 [--keep] [--serial]" >&2; exit 64 ;;
    esac
done

for tool in java javac mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "differential: skipped: $tool not found (the differential test needs Java 17+ and Maven)"
        exit 0
    fi
done
[ -x "$BIN" ] || { echo "differential: no broker binary at $BIN (build it or set TRIBUTARY_BIN)" >&2; exit 1; }

rc=0
CPFILE=$(bash "$HERE/kafka-jars.sh" 4.4.0) || rc=$?
if [ "$rc" -eq 2 ]; then
    echo "differential: skipped: Java or Maven missing"
    exit 0
fi
[ "$rc" -eq 0 ] || exit 1
JARS=$(cat "$CPFILE")
LOG4J="$(dirname "$CPFILE")/log4j2.yaml"

# compile once per source version, outside the clone
HASH=$(cat "$SRC"/*.java | sha256sum | cut -c1-16)
CLASSES="$CACHE/differential/classes-$HASH"
if [ ! -f "$CLASSES/Scenario.class" ]; then
    rm -rf "$CLASSES.tmp"
    mkdir -p "$CLASSES.tmp"
    javac -nowarn -Xlint:none -d "$CLASSES.tmp" -cp "$JARS" "$SRC"/*.java
    rm -rf "$CLASSES"
    mv "$CLASSES.tmp" "$CLASSES"
    # older builds of the scenario are of no further use
    find "$CACHE/differential" -maxdepth 1 -name 'classes-*' ! -name "classes-$HASH" -exec rm -rf {} +
fi

WORK=$(mktemp -d /tmp/tributary-differential.XXXXXX)
TRIB_PID=""
cleanup() {
    if [ -n "$TRIB_PID" ]; then
        kill "$TRIB_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$TRIB_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$TRIB_PID" 2>/dev/null || true
    fi
    KAFKA_PEER_DIR="$WORK/kafka-peer" bash "$HERE/kafka-peer.sh" stop >/dev/null 2>&1 || true
    if [ "$KEEP" -eq 1 ]; then
        echo "differential: work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Tributary: default settings, plus node.id and what Kafka's shipped server.properties sets for one
# node (the peer uses the same), so that both brokers answer from the same configuration
PORT=$(free_port)
mkdir -p "$WORK/tributary"
"$BIN" server --no-connect --no-ksql --data-dir "$WORK/tributary/data" --listen "127.0.0.1:$PORT" --node-id 1 \
    -o num.partitions=1 -o offsets.topic.replication.factor=1 -o transaction.state.log.replication.factor=1 \
    -o transaction.state.log.min.isr=1 -o share.coordinator.state.topic.replication.factor=1 \
    -o share.coordinator.state.topic.min.isr=1 -o process.roles=broker,controller >"$WORK/tributary/log" 2>&1 &
TRIB_PID=$!
TRIB="127.0.0.1:$PORT"

echo "differential: starting Apache Kafka 4.4.0 (scripts/kafka-peer.sh)"
KAFKA=$(KAFKA_PEER_DIR="$WORK/kafka-peer" bash "$HERE/kafka-peer.sh" start) || {
    echo "differential: the Kafka peer did not start" >&2
    exit 1
}
for _ in $(seq 1 300); do
    kill -0 "$TRIB_PID" 2>/dev/null || { echo "differential: tributary exited:" >&2; tail -n 30 "$WORK/tributary/log" >&2; exit 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
echo "differential: Kafka at $KAFKA, Tributary at $TRIB ($BIN)"

scenario() { # NAME BOOTSTRAP
    java -Xmx384m -Dlog4j2.configurationFile="$LOG4J" -cp "$CLASSES:$JARS" Scenario "$2" \
        "$WORK/$1.txt" "$WORK/$1.notes" 2>"$WORK/$1.progress"
}
START=$(date +%s)
if [ "$SERIAL" -eq 1 ]; then
    scenario kafka "$KAFKA" || { echo "differential: the scenario failed against Kafka:" >&2; tail -n 30 "$WORK/kafka.progress" >&2; exit 1; }
    scenario tributary "$TRIB" || { echo "differential: the scenario failed against Tributary:" >&2; tail -n 30 "$WORK/tributary.progress" >&2; exit 1; }
else
    scenario kafka "$KAFKA" &
    KPID=$!
    scenario tributary "$TRIB" &
    TPID=$!
    krc=0; trc=0
    wait "$KPID" || krc=$?
    wait "$TPID" || trc=$?
    [ "$krc" -eq 0 ] || { echo "differential: the scenario failed against Kafka:" >&2; tail -n 30 "$WORK/kafka.progress" >&2; exit 1; }
    [ "$trc" -eq 0 ] || { echo "differential: the scenario failed against Tributary:" >&2; tail -n 30 "$WORK/tributary.progress" >&2; exit 1; }
fi
echo "differential: scenario ran in $(( $(date +%s) - START )) s"

LAST="$CACHE/differential/last"
rm -rf "$LAST"
mkdir -p "$LAST"
cp "$WORK"/kafka.txt "$WORK"/kafka.notes "$WORK"/tributary.txt "$WORK"/tributary.notes "$LAST"/
cp "$WORK/tributary/log" "$LAST/tributary.log" 2>/dev/null || true

cmp_rc=0
python3 - "$WORK/kafka.txt" "$WORK/tributary.txt" "$WORK/kafka.notes" "$WORK/tributary.notes" "$SRC/accepted.txt" <<'EOF' || cmp_rc=$?
import sys

def lines(path):
    out = {}
    order = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if " | " not in line:
                continue
            name, result = line.split(" | ", 1)
            out[name] = result
            order.append(name)
    return out, order

kafka, order = lines(sys.argv[1])
trib, torder = lines(sys.argv[2])
knotes, _ = lines(sys.argv[3])
tnotes, _ = lines(sys.argv[4])
accepted = {}
with open(sys.argv[5], encoding="utf-8") as f:
    for raw in f:
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        name, _, reason = raw.partition(" ")
        accepted[name] = reason.strip()

for n in torder:
    if n not in kafka:
        order.append(n)
same = acc = bad = 0
for n in order:
    k = kafka.get(n, "<step missing>")
    t = trib.get(n, "<step missing>")
    if k == t:
        same += 1
        if n in accepted:
            print(f"note - {n}: listed in accepted.txt but the answers are now the same; remove it")
        continue
    if n in accepted:
        acc += 1
        print(f"accepted - {n}: {accepted[n]}")
        print(f"    kafka:     {knotes.get(n, k)}")
        print(f"    tributary: {tnotes.get(n, t)}")
    else:
        bad += 1
        print(f"not ok - {n}")
        print(f"    kafka:     {knotes.get(n, k)}")
        print(f"    tributary: {tnotes.get(n, t)}")
for n in accepted:
    if n not in kafka and n not in trib:
        print(f"note - {n}: listed in accepted.txt but no such step")
print(f"differential: {len(order)} steps: {same} same, {acc} accepted differences, {bad} unaccepted differences")
sys.exit(1 if bad else 0)
EOF
echo "differential: transcripts in $LAST (kafka.txt, tributary.txt; *.notes add the error messages)"
exit "$cmp_rc"
