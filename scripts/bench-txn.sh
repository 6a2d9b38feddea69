#!/usr/bin/env bash
# Transactions benchmark recorded in BENCHMARKS.md: one producer's throughput without
# transactions (plain and idempotent), committing every 100 ms, and in one long transaction,
# interleaved over three rounds (two cores shared by client and broker make single runs noisy);
# then committing every 1,000 records, with commit latency.
# Release build, one broker started here; not part of CI.
# Usage: bash scripts/bench-txn.sh [RECORDS]   (default 2000000 per run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
cargo build --release --locked --bin tributary
BIN="$CARGO_TARGET_DIR/release/tributary"
RECORDS=${1:-2000000}
DATA=$(mktemp -d /tmp/tributary-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="127.0.0.1:$PORT"
"$BIN" server --no-connect --no-ksql --data-dir "$DATA" --listen "$B" >"$DATA.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

echo "## machine limits"
bash scripts/machine-limits.sh "$(dirname "$DATA")"

run() {
    local name=$1; shift
    echo "### $name"
    "$BIN" bench produce --topic "txn-$name" --partitions 6 --records "$RECORDS" --record-size 100 \
        --acks all -b "$B" "$@"
}
for round in 1 2 3; do
    echo "## round $round"
    run "plain-$round"
    run "idempotent-$round" -X enable.idempotence=true
    run "every-100ms-$round" --transactional-id "bench-100ms-$round" --txn-ms 100
    run "one-transaction-$round" --transactional-id "bench-one-$round" --txn-ms 36000000
done
RECORDS=$((RECORDS / 2))
run every-1000-records --transactional-id bench-1000 --txn-records 1000 --txn-ms 36000000
