#!/usr/bin/env bash
# The Connect benchmark recorded in BENCHMARKS.md, against one broker process (release build):
#   1. FileStream source (a file of RECORDS lines of 100 bytes → a topic) and FileStream sink
#      (that topic → a file), in Tributary's standalone worker and in Kafka Connect's (the jars
#      of scripts/kafka-jars.sh), one after the other, StringConverter, default settings;
#   2. the PostgreSQL sink (JDBC sink keys) inserting into and upserting into a table that
#      already holds 1,000,000 rows, JSON records with schemas, batch.size 3000 (its default),
#      puts of 500 records (max.poll.records' default) and, for upserts, of 2000;
#   3. the PostgreSQL source, bulk and incrementing, copying a 1,000,000-row table to a topic;
#   4. the datagen source (quickstart users, max.interval=0) when it is built.
# Records/s are counted from the first record to the last one (a worker's start-up is left
# out): topics by their end offsets, files by their lines, tables by the highest `seq` written.
# PostgreSQL comes from Debian's packages (scripts/install-test-deps.sh), run as the postgres
# user in a temporary directory. Not part of CI.
#
# Usage: scripts/bench-connect.sh [RECORDS]   (default 1,000,000; CONNECT_BENCH_FILE_ONLY=1
# stops after the FileStream part)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
RECORDS=${1:-1000000}
ROWS=1000000
cargo build --release --locked --bin tributary
BIN="$CARGO_TARGET_DIR/release/tributary"
CP=$(cat "$(bash scripts/kafka-jars.sh)")
LOG4J="$(dirname "$(bash scripts/kafka-jars.sh)")/log4j2.yaml"
SHIM=$(mktemp -d /tmp/connect-bench-shim-XXXXXX)
# connect-file 4.3 on connect-runtime 4.4 needs the old AppInfoParser (tests/compat/workloads/shim)
if ! javap -cp "$CP" org.apache.kafka.common.utils.AppInfoParser >/dev/null 2>&1; then
    javac -encoding UTF-8 --release 17 -cp "$CP" -d "$SHIM" tests/compat/workloads/shim/AppInfoParser.java
    CP="$CP:$SHIM"
fi
PY="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}/venv/bin/python"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d /tmp/tributary-connect-bench-XXXXXX)
chmod 755 "$WORK"
PORT=$(free_port)
B="127.0.0.1:$PORT"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK" "$SHIM"
}
trap cleanup EXIT
"$BIN" server --no-connect --no-ksql --data-dir "$WORK/broker" --listen "$B" >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

echo "## machine limits"
bash scripts/machine-limits.sh "$WORK"

# Prints "N records in S s = R records/s" once a topic holds N records, timing from its first.
wait_topic() {
    "$PY" - "$B" "$1" "$2" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition
b, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": b, "group.id": "bench-watch"})
def total():
    md = c.list_topics(topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None:
        return 0
    return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions)
first = None
deadline = time.time() + 1800
while time.time() < deadline:
    got = total()
    now = time.time()
    if got > 0 and first is None:
        first = (now, got)
    if got >= n:
        secs = now - first[0]
        rate = (n - first[1]) / secs if secs > 0 else float("inf")
        print(f"{n} records in {secs:.2f} s = {rate:,.0f} records/s")
        break
    time.sleep(0.05)
else:
    print(f"timed out at {got} of {n} records")
PY
}

# The same for the lines of a file.
wait_lines() {
    python3 - "$1" "$2" <<'PY'
import sys, time, os
path, n = sys.argv[1], int(sys.argv[2])
# (counted as the file grows: reading it whole ten times a second would take a core from
# the worker it measures)
seen, lines = 0, 0
def count():
    global seen, lines
    try:
        with open(path, "rb") as f:
            f.seek(seen)
            for chunk in iter(lambda: f.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                seen += len(chunk)
    except FileNotFoundError:
        pass
    return lines
first = None
deadline = time.time() + 1800
while time.time() < deadline:
    got = count()
    now = time.time()
    if got > 0 and first is None:
        first = (now, got)
    if got >= n:
        secs = now - first[0]
        rate = (n - first[1]) / secs if secs > 0 else float("inf")
        print(f"{n} lines in {secs:.2f} s = {rate:,.0f} records/s")
        break
    time.sleep(0.1)
else:
    print(f"timed out at {got} of {n} lines")
PY
}

worker_props() { # FILE REST_PORT OFFSETS
    cat >"$1" <<EOF
bootstrap.servers=$B
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=$3
offset.flush.interval.ms=10000
listeners=http://127.0.0.1:$2
EOF
}

# Runs a standalone worker (tributary or kafka) with connector files; echoes its pid.
start_worker() { # IMPL WORKER_PROPS CONNECTOR...
    local impl=$1; shift
    if [ "$impl" = tributary ]; then
        "$BIN" connect standalone "$@" >"$WORK/worker-$impl.log" 2>&1 &
    else
        java -Xms1g -Xmx1g -Dlog4j2.configurationFile="$LOG4J" -cp "$CP" \
            org.apache.kafka.connect.cli.ConnectStandalone "$@" >"$WORK/worker-$impl.log" 2>&1 &
    fi
    echo $!
}

echo "## input: $RECORDS lines of 100 bytes"
python3 -c "
import sys
line = ('x' * 88)
with open('$WORK/in.txt', 'w') as f:
    for i in range($RECORDS):
        f.write(f'{i:011d}{line}\n')
"

echo "## FileStream source: file → topic (one task, batch.size 2000, StringConverter)"
for impl in tributary kafka; do
    topic="file-$impl"
    "$BIN" topic create "$topic" -p 1 -b "$B" >/dev/null
    worker_props "$WORK/w-src-$impl.properties" "$(free_port)" "$WORK/src-$impl.offsets"
    printf 'name=src\nconnector.class=FileStreamSource\ntasks.max=1\nfile=%s\ntopic=%s\n' \
        "$WORK/in.txt" "$topic" >"$WORK/src-$impl.properties"
    pid=$(start_worker "$impl" "$WORK/w-src-$impl.properties" "$WORK/src-$impl.properties")
    echo -n "$impl: "
    wait_topic "$topic" "$RECORDS"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

echo "## FileStream sink: topic → file (one task, StringConverter)"
for impl in tributary kafka; do
    worker_props "$WORK/w-sink-$impl.properties" "$(free_port)" "$WORK/sink-$impl.offsets"
    printf 'name=sink-%s\nconnector.class=FileStreamSink\ntasks.max=1\nfile=%s\ntopics=file-tributary\n' \
        "$impl" "$WORK/out-$impl.txt" >"$WORK/sink-$impl.properties"
    pid=$(start_worker "$impl" "$WORK/w-sink-$impl.properties" "$WORK/sink-$impl.properties")
    echo -n "$impl: "
    wait_lines "$WORK/out-$impl.txt" "$RECORDS"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

if [ "${CONNECT_BENCH_FILE_ONLY:-}" = 1 ]; then exit 0; fi

# PostgreSQL, private
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGPORT=$(free_port)
PGDIR="$WORK/pg"
mkdir -p "$PGDIR"
chown postgres "$PGDIR"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" -k "$PGDIR" -h 127.0.0.1 \
    -c fsync=on -c synchronous_commit=on -c shared_buffers=512MB >"$WORK/pg.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do runuser -u postgres -- "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PGPORT" >/dev/null 2>&1 && break; sleep 0.2; done
psql() { runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qAt "$@"; }
psql -c "CREATE DATABASE bench"
PGURL="jdbc:postgresql://127.0.0.1:$PGPORT/bench"

# JSON records with schemas for the sink: ids from START, seq 1..N
sink_input() { # FILE START
    python3 - "$1" "$2" "$RECORDS" <<'PY'
import sys, json
path, start, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
schema = {"type": "struct", "name": "row", "optional": False, "fields": [
    {"field": "id", "type": "int64", "optional": False},
    {"field": "name", "type": "string", "optional": False},
    {"field": "amount", "type": "double", "optional": False},
    {"field": "seq", "type": "int64", "optional": False}]}
head = json.dumps({"schema": schema})[:-1]
with open(path, "w") as f:
    for i in range(n):
        rid = (start + i * 7919) % 1000000 if start < 1000000 else start + i
        f.write(head + ',"payload":{"id":%d,"name":"name-%d","amount":%d.5,"seq":%d}}\n' % (rid, rid, i, i + 1))
PY
}
# Times a sink from its first record to its last by their rows (looked up by key: a scan of
# the whole table 20 times a second would take a core from the database it measures).
wait_seq() { # TABLE N FIRST_ID LAST_ID
    local t0="" t1 got
    for _ in $(seq 36000); do
        if [ -z "$t0" ]; then
            got=$(psql -d bench -c "SELECT coalesce((SELECT seq FROM $1 WHERE id = $3), 0)")
            [ "$got" -ge 1 ] && t0=$(date +%s.%N)
        fi
        if [ -n "$t0" ]; then
            got=$(psql -d bench -c "SELECT coalesce((SELECT seq FROM $1 WHERE id = $4), 0)")
            if [ "$got" -ge "$2" ]; then
                t1=$(date +%s.%N)
                python3 -c "s=$t1-$t0; print(f'{$2} rows in {s:.2f} s = {($2-1)/s:,.0f} rows/s')"
                return
            fi
        fi
        sleep 0.05
    done
    echo "timed out at $got of $2 rows"
}

echo "## PostgreSQL sink: $RECORDS records into a table of $ROWS rows (JsonConverter with schemas)"
# (upsert_batched: puts of 2000 records, consumer.override.max.poll.records; 500 by default)
for variant in insert upsert upsert_batched; do
    mode=${variant%_batched}
    table="sink_$variant"
    batching=""
    [ "$variant" = upsert_batched ] && batching="consumer.override.max.poll.records=2000"
    psql -d bench -c "CREATE TABLE $table (id bigint PRIMARY KEY, name text NOT NULL, amount double precision NOT NULL, seq bigint NOT NULL);
        INSERT INTO $table SELECT g, 'name-' || g, g * 1.5, 0 FROM generate_series(0, $ROWS - 1) g; ANALYZE $table;"
    start=0
    [ "$mode" = insert ] && start=$ROWS
    sink_input "$WORK/$table.json" "$start"
    "$BIN" topic create "$table" -p 1 -b "$B" >/dev/null
    "$BIN" produce "$table" -f "$WORK/$table.json" -b "$B" >/dev/null
    worker_props "$WORK/w-$table.properties" "$(free_port)" "$WORK/$table.offsets"
    cat >"$WORK/$table.properties" <<EOF
name=$table
connector.class=io.confluent.connect.jdbc.JdbcSinkConnector
tasks.max=1
topics=$table
connection.url=$PGURL
connection.user=postgres
insert.mode=$mode
pk.mode=record_value
pk.fields=id
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=true
$batching
EOF
    pid=$(start_worker tributary "$WORK/w-$table.properties" "$WORK/$table.properties")
    echo -n "$variant: "
    # (the ids sink_input gives the first and the last record)
    first_id=$start
    last_id=$(python3 -c "s, n = $start, $RECORDS; print((s + (n - 1) * 7919) % 1000000 if s < 1000000 else s + n - 1)")
    wait_seq "$table" "$RECORDS" "$first_id" "$last_id"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

echo "## PostgreSQL source: a table of $ROWS rows → a topic (JsonConverter with schemas)"
psql -d bench -c "CREATE TABLE src (id bigserial PRIMARY KEY, name text NOT NULL, amount double precision NOT NULL, created timestamp NOT NULL DEFAULT now());
    INSERT INTO src (name, amount) SELECT 'name-' || g, g * 1.5 FROM generate_series(1, $ROWS) g; ANALYZE src;"
for mode in bulk incrementing; do
    worker_props "$WORK/w-pg-$mode.properties" "$(free_port)" "$WORK/pg-$mode.offsets"
    cat >"$WORK/pg-$mode.properties" <<EOF
name=pg-$mode
connector.class=io.confluent.connect.jdbc.JdbcSourceConnector
tasks.max=1
connection.url=$PGURL
connection.user=postgres
mode=$mode
incrementing.column.name=id
table.whitelist=src
topic.prefix=pg-$mode-
poll.interval.ms=600000
batch.max.rows=5000
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=true
EOF
    "$BIN" topic create "pg-$mode-src" -p 1 -b "$B" >/dev/null
    pid=$(start_worker tributary "$WORK/w-pg-$mode.properties" "$WORK/pg-$mode.properties")
    echo -n "$mode: "
    wait_topic "pg-$mode-src" "$ROWS"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

if "$BIN" connect standalone --help >/dev/null 2>&1 && grep -rq "DatagenConnector" connectors/src 2>/dev/null; then
    echo "## datagen source: quickstart users, max.interval=0, $RECORDS records (JsonConverter without schemas)"
    worker_props "$WORK/w-datagen.properties" "$(free_port)" "$WORK/datagen.offsets"
    cat >"$WORK/datagen.properties" <<EOF
name=datagen
connector.class=io.confluent.kafka.connect.datagen.DatagenConnector
tasks.max=1
kafka.topic=datagen-users
quickstart=users
max.interval=0
iterations=$RECORDS
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
EOF
    "$BIN" topic create datagen-users -p 1 -b "$B" >/dev/null
    pid=$(start_worker tributary "$WORK/w-datagen.properties" "$WORK/datagen.properties")
    echo -n "datagen: "
    wait_topic datagen-users "$RECORDS"
    kill "$pid"; wait "$pid" 2>/dev/null || true
fi
