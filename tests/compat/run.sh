#!/usr/bin/env bash
# Compatibility suite: third-party Kafka clients against a real `tributary server` process.
#
# Usage: tests/compat/run.sh [PATH_TO_TRIBUTARY_BINARY]
#   binary       default $CARGO_TARGET_DIR/debug/tributary, else $HOME/.cache/tributary/target/debug/tributary
#   COMPAT_VENV  python venv with tests/compat/requirements.txt installed (default $HOME/.cache/tributary/venv)
#   COMPAT_NODE  npm --prefix folder with tests/compat/kafkajs/package.json installed (default $HOME/.cache/tributary/node)
#   kcat         Debian's kcat on PATH
#
# Starts one broker on a free 127.0.0.1 port with a temporary data dir, runs the kcat, Python
# (kafka-python, confluent-kafka; test_python.py, the codec and large-record tests test_codecs.py, the
# config, DeleteRecords, retention and compaction tests test_configs.py and the consumer-group tests
# test_groups.py, the idempotence and transaction tests test_transactions.py) and kafkajs
# (produce_consume.test.js, groups.test.js, configs.test.js, transactions.test.js) suites against it,
# stops it and removes the data dir on exit. The last line printed is "N passed, M failed" (read
# by CI); exit status 1 if M > 0.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    DEFAULT_BIN=$CARGO_TARGET_DIR/debug/tributary
else
    DEFAULT_BIN=$HOME/.cache/tributary/target/debug/tributary
fi
BIN=${1:-$DEFAULT_BIN}
COMPAT_VENV=${COMPAT_VENV:-$HOME/.cache/tributary/venv}
COMPAT_NODE=${COMPAT_NODE:-$HOME/.cache/tributary/node}
PY=$COMPAT_VENV/bin/python
START_TIMEOUT=30

passed=0
failed=0
skipped=0
failures=()
note_fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL: $1"; }

WORK=$(mktemp -d)
DATA=$WORK/data
LOG=$WORK/server.log
mkdir -p "$DATA"
SERVER_PID=

cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
    if [ "$failed" -gt 0 ]; then
        echo "failed: ${failures[*]}"
        if [ -s "$LOG" ]; then
            echo "--- last lines of the broker log ---"
            tail -n 40 "$LOG" | sed 's/\x1b\[[0-9;]*m//g'
        fi
    fi
    [ "$skipped" -gt 0 ] && echo "($skipped skipped or expected failures, not counted)"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0 || exit 1
}

# --- prerequisites ----------------------------------------------------------------------------
[ -x "$BIN" ] || { echo "tributary binary not found at $BIN"; note_fail "prerequisites"; finish; }
[ -x "$PY" ] || { echo "python venv not found at $COMPAT_VENV (see tests/compat/README.md)"; note_fail "prerequisites"; finish; }

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BOOT=127.0.0.1:$PORT

# --- broker -----------------------------------------------------------------------------------
# KIP-848 groups (test_groups.py, group.protocol=consumer) react on heartbeats and fence on session
# expiry: a 0.5 s heartbeat interval instead of 5 s and a 6 s session instead of 45 s (the same as
# the classic-protocol tests use) keep those tests to seconds. Retention is checked every 0.5 s
# instead of 5 min and the cleaner looks for work every 0.2 s instead of 15 s, so that the retention
# and compaction tests (test_configs.py) see segments go within seconds. Timed-out transactions are
# looked for every 0.5 s instead of 10 s, so that the transaction timeout test (test_transactions.py,
# transaction.timeout.ms=2000) sees its transaction aborted within seconds. Everything else runs with
# defaults.
"$BIN" server --no-connect --no-ksql --data-dir "$DATA" --listen "$BOOT" \
    -o group.consumer.heartbeat.interval.ms=500 \
    -o group.consumer.min.session.timeout.ms=6000 -o group.consumer.session.timeout.ms=6000 \
    -o log.retention.check.interval.ms=500 -o log.cleaner.backoff.ms=200 \
    -o transaction.abort.timed.out.transaction.cleanup.interval.ms=500 \
    >"$LOG" 2>&1 &
SERVER_PID=$!
up=0
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
    sleep 0.1
done
if [ "$up" -ne 1 ]; then
    echo "broker did not accept connections on $BOOT within ${START_TIMEOUT}s"
    note_fail "broker-start"
    finish
fi
echo "broker pid $SERVER_PID listening on $BOOT (data $DATA)"

export COMPAT_BOOTSTRAP=$BOOT COMPAT_NODE TRIBUTARY_BIN=$BIN PYTHON=$PY

# --- kcat -------------------------------------------------------------------------------------
# A suite that prints "ok - NAME" / "ok - NAME # SKIP why" / "not ok - NAME" lines: counted here;
# a suite that ends with a non-zero status without a "not ok" line counts as one failure.
tap_suite() {
    local name=$1 limit=$2
    shift 2
    local out="$WORK/$name.out" rc=0
    timeout "$limit" "$@" 2>&1 | tee "$out" || rc=$?
    local ok bad skip
    ok=$(grep -c '^ok - ' "$out" || true)
    skip=$(grep -c '^ok - .*# SKIP' "$out" || true)
    bad=$(grep -c '^not ok - ' "$out" || true)
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + bad))
    [ "$bad" -eq 0 ] || failures+=($(sed -n 's/^not ok - \([^ ]*\).*/\1/p' "$out"))
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then note_fail "$name (exit $rc)"; fi
}

echo "=== kcat ==="
if command -v kcat >/dev/null; then
    tap_suite kcat 180 bash "$HERE/kcat.sh" "$PORT"
else
    echo "kcat not on PATH (apt-get install kcat)"
    note_fail "kcat-missing"
fi

# --- python: kafka-python and confluent-kafka ----------------------------------------------------
echo "=== python (kafka-python, confluent-kafka; test_python.py, test_codecs.py, test_configs.py, test_groups.py, test_transactions.py) ==="
rc=0
timeout 480 "$PY" -m pytest -p no:cacheprovider --rootdir "$HERE" -q -rfEsxX \
    -o junit_family=xunit2 --junitxml="$WORK/pytest.xml" \
    "$HERE/test_python.py" "$HERE/test_codecs.py" "$HERE/test_configs.py" "$HERE/test_groups.py" \
    "$HERE/test_transactions.py" 2>&1 || rc=$?
if [ -s "$WORK/pytest.xml" ] && read -r t f e s names < <("$PY" - "$WORK/pytest.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) for s in suites)
e = sum(int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
bad = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None or c.find("error") is not None]
print(t, f, e, k, ",".join("py/" + n for n in bad) or "-")
EOF
); then
    passed=$((passed + t - f - e - s))
    failed=$((failed + f + e))
    skipped=$((skipped + s))
    [ "$names" = "-" ] || failures+=("$names")
    if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then note_fail "pytest (exit $rc)"; fi
else
    note_fail "pytest (exit $rc, no report)"
fi

# --- kafkajs ----------------------------------------------------------------------------------
echo "=== kafkajs ==="
if [ -f "$COMPAT_NODE/node_modules/kafkajs/package.json" ]; then
    rc=0
    (cd "$HERE/kafkajs" && timeout 240 node --test --test-reporter=tap produce_consume.test.js groups.test.js configs.test.js \
        transactions.test.js) \
        >"$WORK/node.out" 2>&1 || rc=$?
    # the TAP stream without kafkajs's own JSON log lines
    grep -v '^# {"level"' "$WORK/node.out" | grep -v '^ *{"level"' || true
    jpass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$WORK/node.out" | tail -n1)
    jfail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$WORK/node.out" | tail -n1)
    jcancel=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$WORK/node.out" | tail -n1)
    jskip=$(sed -n 's/^# \(skipped\|todo\) \([0-9]*\)$/\2/p' "$WORK/node.out" | awk '{s += $1} END {print s + 0}')
    passed=$((passed + ${jpass:-0}))
    failed=$((failed + ${jfail:-0} + ${jcancel:-0}))
    skipped=$((skipped + jskip))
    if [ $((${jfail:-0} + ${jcancel:-0})) -gt 0 ]; then
        failures+=($(sed -n 's/^not ok [0-9]* - \(.*\)$/js\/\1/p' "$WORK/node.out" | tr ' ' '_'))
    fi
    if [ "$rc" -ne 0 ] && [ $((${jfail:-0} + ${jcancel:-0})) -eq 0 ]; then note_fail "kafkajs (exit $rc)"; fi
    if [ -z "$jpass" ]; then note_fail "kafkajs (no test summary)"; fi
else
    echo "kafkajs not installed under $COMPAT_NODE (see tests/compat/README.md)"
    note_fail "kafkajs-missing"
fi

# --- Go: franz-go (kgo, kadm) and IBM/sarama ---------------------------------------------------
echo "=== go (franz-go, sarama) ==="
if command -v go >/dev/null; then
    tap_suite go 480 bash "$HERE/go/run.sh" "$BOOT"
else
    echo "go not on PATH (scripts/install-test-deps.sh installs it)"
    note_fail "go-missing"
fi

# --- Java: kafka-clients 4.4.0 and 4.0.0 (JUnit 5 through Maven) ------------------------------
echo "=== java (kafka-clients 4.4.0, 4.0.0) ==="
tap_suite java 900 env TRIBUTARY_BIN="$BIN" bash "$HERE/java/run.sh" "$BOOT"

# --- Kafka's own command-line tools (4.4.0 jars) ------------------------------------------------
echo "=== kafka tools (kafka-topics, console producer/consumer, consumer-groups, configs, ...) ==="
tap_suite kafka-tools 600 bash "$HERE/kafka-tools.sh" "$BOOT"

# --- Kafka's cluster tools against a local 4-node cluster of their own ----------------------------
echo "=== kafka cluster tools (kafka-reassign-partitions, kafka-leader-election, quorum) ==="
tap_suite kafka-tools-cluster 400 bash "$HERE/kafka-tools-cluster.sh" "$BIN"

# --- Kafka Streams and Kafka Connect (Java) as workloads ---------------------------------------
echo "=== workloads (Kafka Streams exactly_once_v2, Kafka Connect distributed) ==="
tap_suite workloads 600 bash "$HERE/workloads/run.sh" "$BOOT"

# --- the broker survived all of it --------------------------------------------------------------
if kill -0 "$SERVER_PID" 2>/dev/null; then
    passed=$((passed + 1))
    echo "ok - broker still running after the suite"
else
    note_fail "broker-died-during-suite"
fi

finish
