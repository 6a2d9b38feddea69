#!/usr/bin/env bash
# Runs the benchmarks recorded in BENCHMARKS.md against a release build on this machine:
# the machine's limits first, then produce, consume, end-to-end latency and broker memory.
# Not part of CI (it takes minutes and wants an otherwise idle machine).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
cargo build --release --locked --bin tributary
BIN="$CARGO_TARGET_DIR/release/tributary"
DATA=$(mktemp -d /tmp/tributary-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="127.0.0.1:$PORT"
"$BIN" server --no-connect --no-ksql --data-dir "$DATA" --listen "$B" -o group.consumer.heartbeat.interval.ms=100 >"$DATA.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
rss() { echo "$(( $(ps -o rss= -p $SERVER) / 1024 )) MB"; }

echo "## machine limits"
bash scripts/machine-limits.sh "$(dirname "$DATA")"

echo "## memory: idle, 100 partitions"
"$BIN" topic create idle-100 -p 100 -b "$B" >/dev/null
sleep 2
echo "broker RSS idle with 100 partitions: $(rss)"

echo "## produce: 1 producer, 100-byte records, acks=1, 6 partitions"
"$BIN" bench produce --topic p6 --partitions 6 --records 10000000 --record-size 100 --acks 1 -b "$B"
echo "## produce: acks=all"
"$BIN" bench produce --topic p6all --partitions 6 --records 5000000 --record-size 100 --acks all -b "$B"
echo "## produce: lz4"
"$BIN" bench produce --topic p6lz4 --partitions 6 --records 5000000 --record-size 100 --acks 1 --compression lz4 -b "$B"
echo "## consume: 1 consumer, the 10M records above"
"$BIN" bench consume --topic p6 -b "$B"
echo "## end-to-end: 10,000 records/s for 30 s, linger.ms=0"
"$BIN" bench e2e --topic e2e --partitions 6 --rate 10000 --duration-secs 30 --linger-ms 0 -b "$B"
sleep 3
echo "broker RSS idle after storing $(du -sh "$DATA" | cut -f1): $(rss)"
"$BIN" bench produce --topic more --partitions 6 --records 20000000 --record-size 100 --acks 1 -b "$B" >/dev/null
sleep 3
echo "broker RSS idle after storing $(du -sh "$DATA" | cut -f1): $(rss)"

echo "## consumer groups: time to consume again after a member joins"
for n in 2 10 50; do
    for p in "classic --assignor range" "classic --assignor cooperative-sticky" "consumer"; do
        echo "### $n members, $p"
        # shellcheck disable=SC2086
        "$BIN" bench rebalance --members "$n" --protocol $p --rounds 5 -b "$B" | grep -E "settled|median"
    done
done
echo "## offset commits: 10 consumers"
"$BIN" bench commits --consumers 10 --duration-secs 10 --in-flight 1 -b "$B"
"$BIN" bench commits --consumers 10 --duration-secs 10 --in-flight 4 -b "$B"
