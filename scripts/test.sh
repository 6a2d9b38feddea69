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
