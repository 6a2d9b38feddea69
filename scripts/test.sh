#!/usr/bin/env bash
# Runs every test: the Rust suites (unit, integration against in-process brokers, process
# kill -9 and CLI tests), then the compatibility suite with third-party clients (kcat,
# kafka-python, confluent-kafka, kafkajs) against a real `tributary server` process.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
bash scripts/install-test-deps.sh
cargo test --workspace --locked
cargo build --locked --bin tributary
bash tests/compat/run.sh "$CARGO_TARGET_DIR/debug/tributary"
# ksqlDB's own query-validation tests, and its REST suite through a KSQL server: every file, the
# pass rate per file, per format and overall (docs/ksql.md); the per-variant verdicts go to the
# report. The files listed in ksql/tests/must-pass.txt must pass completely: the run fails
# otherwise.
QTT=../shared/conformance/ksqldb/query-validation-tests
REST=../shared/conformance/ksqldb/rest-query-validation-tests
if [ -d "$QTT" ]; then
  status=0
  "$CARGO_TARGET_DIR/debug/tributary" ksql qtt -j 8 "$QTT" "$REST" --report "$CARGO_TARGET_DIR/qtt-report.json" \
    --must-pass "$(grep -v '^#' ksql/tests/must-pass.txt | paste -sd, -)" \
    > "$CARGO_TARGET_DIR/qtt.log" || status=$?
  sed -n '/^file /,$p' "$CARGO_TARGET_DIR/qtt.log"
  [ "$status" -eq 0 ] || exit "$status"
else
  echo "ksqlDB conformance files not found at $QTT: skipped"
fi
