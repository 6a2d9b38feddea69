#!/usr/bin/env bash
# The fault suite's long form: a release build, every fault kind (or --kinds), 25,000 writes per
# kind by default (125,000 in total with the five kinds) and at least 20 faults per kind. Keeps
# each run's history (history.jsonl) and node logs in $CARGO_TARGET_DIR/faults/<time>/.
#
#   bash scripts/faults.sh [--ops N] [--faults N] [--kinds kill-leader,pause,...] [--seed N]
#                          [--default-timeouts]
#
# --default-timeouts runs with Kafka's default failure-detection timeouts instead of the short
# ones CI uses. The partition kind needs root and iproute2 (network namespaces). A non-zero exit
# means an anomaly or a failed run: every anomaly is a bug.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
ops=25000 faults=20 kinds="" seed="$RANDOM" defaults=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) ops="$2"; shift 2 ;;
    --faults) faults="$2"; shift 2 ;;
    --kinds) kinds="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --default-timeouts) defaults=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
dir="$CARGO_TARGET_DIR/faults/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$dir"
echo "fault suite, long form: history and node logs in $dir"
export TRIBUTARY_FAULT_OPS="$ops" TRIBUTARY_FAULT_MIN_FAULTS="$faults" TRIBUTARY_FAULT_SEED="$seed" \
  TRIBUTARY_FAULT_DIR="$dir" TRIBUTARY_FAULT_DEFAULT_TIMEOUTS="$defaults"
[ -n "$kinds" ] && export TRIBUTARY_FAULT_KINDS="$kinds"
cargo test --release --locked --test faults -- --nocapture 2>&1 | tee "$dir/report.txt"
