#!/usr/bin/env bash
# The streams benchmark recorded in BENCHMARKS.md: a plain consumer, then three apps (stateless
# filter/map, count by key, windowed count), at least once and exactly once, in Tributary Streams
# (examples/examples/streams_bench.rs) and in Java Kafka Streams (scripts/java/StreamsBench.java,
# on the jars of scripts/kafka-jars.sh), one after the other against one broker process, over
# the same input topic. Each app runs with one stream thread and its defaults (10 MiB cache;
# commit every 1 s at least once, 100 ms exactly once). Not part of CI.
#
# Usage: scripts/bench-streams.sh [RECORDS]   (default 2,000,000 records of 100 bytes, 10,000 keys)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
RECORDS=${1:-2000000}
cargo build --release --locked --bin tributary
cargo build --release --locked -p tributary-examples --example streams_bench
BIN="$CARGO_TARGET_DIR/release/tributary"
APP="$CARGO_TARGET_DIR/release/examples/streams_bench"
CP=$(cat "$(bash scripts/kafka-jars.sh)")
CLASSES=$(mktemp -d /tmp/streams-bench-classes-XXXXXX)
javac -d "$CLASSES" -cp "$CP" scripts/java/StreamsBench.java
LOG4J="$(dirname "$(bash scripts/kafka-jars.sh)")/log4j2.yaml"

DATA=$(mktemp -d /tmp/tributary-streams-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="127.0.0.1:$PORT"
"$BIN" server --no-connect --no-ksql --data-dir "$DATA" --listen "$B" >"$DATA.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA" "$DATA.log" "$CLASSES" /tmp/streams-bench-[0-9]*' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

echo "## machine limits"
bash scripts/machine-limits.sh "$(dirname "$DATA")"

echo "## input: $RECORDS records of 100 bytes, 10,000 keys, 6 partitions"
"$BIN" bench produce --topic in --partitions 6 --records "$RECORDS" --record-size 100 --keys 10000 --text-values -b "$B" | tail -n 2
echo "## plain consumer (three runs; the ratios take the fastest)"
# (from its first record to its last, as the apps are measured: without --records it would
# also wait for the end of every partition, which added most of a second to 2M records)
for _ in 1 2 3; do
    "$BIN" bench consume --topic in --records "$RECORDS" -b "$B" | tail -n 1
done

run=0
for guarantee in at_least_once exactly_once_v2; do
    for app in stateless count windowed; do
        for impl in tributary kafka-streams; do
            run=$((run + 1))
            id="bench-$run-$app"
            "$BIN" topic create "out-$run" -p 6 -b "$B" >/dev/null
            if [ "$impl" = tributary ]; then
                flag=""
                [ "$guarantee" = exactly_once_v2 ] && flag="--exactly-once"
                # shellcheck disable=SC2086
                "$APP" --app "$app" --input in --output "out-$run" --application-id "$id" \
                    --records "$RECORDS" --bootstrap-server "$B" $flag 2>/dev/null | grep RESULT \
                    | sed "s/^/$guarantee /"
            else
                java -Dlog4j2.configurationFile="$LOG4J" -cp "$CP:$CLASSES" StreamsBench "$app" in "out-$run" "$id" \
                    "$RECORDS" "$B" "$guarantee" 2>/dev/null | grep RESULT | sed "s/^/$guarantee /"
            fi
        done
    done
done
