#!/usr/bin/env bash
# Log management benchmarks recorded in BENCHMARKS.md: produce and consume per codec, 1 MB and
# 10 MB records, and compaction throughput with its effect on concurrent produce latency.
# Release build, one broker started here; not part of CI.
# Usage: bash scripts/bench-log.sh [codecs] [large] [compaction]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
cargo build --release --locked --bin tributary
BIN="$CARGO_TARGET_DIR/release/tributary"
DATA=$(mktemp -d /tmp/tributary-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="127.0.0.1:$PORT"
# CLEANER_IO_MAX=<bytes/s> sets log.cleaner.io.max.bytes.per.second (default: unthrottled)
"$BIN" server --no-connect --no-ksql --data-dir "$DATA" --listen "$B" -o log.cleaner.backoff.ms=1000 \
    -o message.max.bytes=16000000 \
    ${CLEANER_IO_MAX:+-o log.cleaner.io.max.bytes.per.second=$CLEANER_IO_MAX} >"$DATA.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

SECTIONS="${*:-codecs large compaction}"
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

echo "## machine limits"
bash scripts/machine-limits.sh "$(dirname "$DATA")"

if want codecs; then
echo "## per codec: 3M text-like 100-byte records, 6 partitions, then one consumer"
for c in none gzip snappy lz4 zstd; do
    echo "### $c"
    "$BIN" bench produce --topic "codec-$c" --partitions 6 --records 3000000 --record-size 100 \
        --text-values --compression "$c" -b "$B" | head -1
    echo "stored: $(du -sb "$DATA"/codec-$c-* | awk '{s+=$1} END {printf "%.0f MB", s/1e6}')"
    "$BIN" bench consume --topic "codec-$c" -b "$B"
done

fi

if want large; then
echo "## large records"
for size in 1048576 10485760; do
    n=$(( 2000000000 / size ))
    echo "### $size bytes x $n"
    "$BIN" topic create "big-$size" -p 1 -c max.message.bytes=16000000 -b "$B" >/dev/null
    "$BIN" bench produce --topic "big-$size" --partitions 1 --records "$n" --record-size "$size" \
        --batch-size 16000000 --linger-ms 5 -X message.max.bytes=16000000 -b "$B"
    "$BIN" bench consume --topic "big-$size" -b "$B" -X fetch.max.bytes=52428800 \
        -X max.partition.fetch.bytes=16000000
done

fi

if want compaction; then
echo "## compaction: 10M keyed records over 500,000 keys (about 1.2 GB), 64 MB segments"
"$BIN" topic create ctab -p 1 -c segment.bytes=67108864 -b "$B" >/dev/null
"$BIN" bench produce --topic ctab --partitions 1 --records 10000000 --record-size 100 --keys 500000 \
    --text-values -b "$B" | head -1
echo "log before: $(du -sb "$DATA"/ctab-0 | awk '{printf "%.0f MB", $1/1e6}')"
echo "### produce latency at 10,000 records/s, no compaction running"
"$BIN" bench e2e --topic lat-idle --partitions 6 --rate 10000 --duration-secs 5 --linger-ms 0 -b "$B" | grep -i latency
"$BIN" topic alter-config ctab --set cleanup.policy=compact --set min.cleanable.dirty.ratio=0.01 -b "$B" >/dev/null
echo "### produce latency at 10,000 records/s while the cleaner compacts ctab (it starts within 1 s)"
"$BIN" bench e2e --topic lat-clean --partitions 6 --rate 10000 --duration-secs 5 --linger-ms 0 -b "$B" | grep -i latency
sleep 2
sed 's/\x1b\[[0-9;]*m//g' "$DATA.log" | grep -a "log cleaned" | grep -a "topic=ctab" | sed 's/.*log_cleaner: //' || true
echo "log after: $(du -sb "$DATA"/ctab-0 | awk '{printf "%.0f MB", $1/1e6}')"
fi
