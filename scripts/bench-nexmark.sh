#!/usr/bin/env bash
# The Nexmark benchmark recorded in BENCHMARKS.md: the `nexmark` crate's events written to three
# topics, then Nexmark's queries q0, q1, q2, q3, q4, q5, q7 and q8 in KSQL, one after the other,
# each as persistent queries reading the topics from the start (examples/examples/nexmark.rs).
# The broker and the KSQL server run as two processes, so that the events per CPU-second are the
# KSQL server's alone (its queries' four stream threads each, ksqlDB's default; commits every
# 500 ms so that the end of a run is seen to within half a second). Not part of CI.
#
# Usage: scripts/bench-nexmark.sh [EVENTS] [QUERIES]   (default 2,000,000 events, every query;
#        QUERIES as q0,q2)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
EVENTS=${1:-2000000}
QUERIES=${2:-}
cargo build --release --locked --bin tributary
cargo build --release --locked -p tributary-examples --example nexmark
BIN="$CARGO_TARGET_DIR/release/tributary"
NEXMARK="$CARGO_TARGET_DIR/release/examples/nexmark"

DATA=$(mktemp -d /tmp/tributary-nexmark-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
KPORT=$(free_port)
B="127.0.0.1:$PORT"
KSQL="http://127.0.0.1:$KPORT"
"$BIN" server --no-connect --no-ksql --data-dir "$DATA/broker" --listen "$B" >"$DATA/broker.log" 2>&1 &
BROKER=$!
KSQL_PID=""
trap 'kill $KSQL_PID $BROKER 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
"$BIN" ksql-server --bootstrap-server "$B" --listeners "$KSQL" \
    -o ksql.service.id=nexmark_ -o ksql.streams.num.stream.threads=4 \
    -o ksql.streams.commit.interval.ms=500 >"$DATA/ksql.log" 2>&1 &
KSQL_PID=$!
for _ in $(seq 300); do curl -sf "$KSQL/info" >/dev/null && break; sleep 0.1; done

echo "## machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "## events: $EVENTS"
"$NEXMARK" generate --bootstrap-server "$B" --prefix nx --events "$EVENTS" --stats "$DATA/stats.json"
echo "## queries"
"$NEXMARK" run --bootstrap-server "$B" --ksql "$KSQL" --prefix nx --server-pid "$KSQL_PID" \
    --stats "$DATA/stats.json" ${QUERIES:+--queries "$QUERIES"}
echo "## KSQL server peak memory: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$KSQL_PID/status)"
