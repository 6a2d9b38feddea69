#!/usr/bin/env bash
# Go clients (franz-go kgo/kadm, IBM/sarama) against a running broker.
#
# Usage:
#   tests/compat/go/run.sh --prepare      download the modules (default GOMODCACHE, outside the clone)
#                                         and compile the tests and the reporter (Go's build cache);
#                                         idempotent, needs no broker
#   tests/compat/go/run.sh HOST:PORT      run every test against the broker at HOST:PORT
# Environment:
#   TRIBUTARY_BIN     tributary binary, for the test that compares key placement with `tributary
#                     produce` (default: tributary on PATH, else ~/.cache/tributary/target/debug/
#                     tributary; that one test skips, with the reason printed, when none is found)
#   GO_COMPAT_RUN     a `go test -run` pattern to run only some tests
# Prints one line per test ("ok - go/NAME", "ok - go/NAME # SKIP reason", "not ok - go/NAME" followed
# by the test's output), then "go: N passed, M failed, K skipped"; exit status 1 if anything failed.
# The broker should run with the settings tests/compat/run.sh gives it (KIP-848 heartbeat 0.5 s and
# session 6 s, timed-out transactions looked for every 0.5 s); with Kafka's defaults everything
# passes too, only slower.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${GO_COMPAT_CACHE:-$HOME/.cache/tributary/go-compat}
REPORT=$CACHE/gotestreport
TEST_TIMEOUT=${GO_COMPAT_TIMEOUT:-6m}

command -v go >/dev/null || { echo "not ok - go/toolchain (go not on PATH)"; echo "go: 0 passed, 1 failed, 0 skipped"; exit 1; }
mkdir -p "$CACHE"
cd "$HERE"

build() {
    go mod download
    go build -buildvcs=false -o "$REPORT" ./cmd/gotestreport
    go vet ./...
    # compiles the test binary into Go's build cache, so that `go test` later only links and runs
    go test -count=1 -run '^$' . >/dev/null
}

if [ "${1:-}" = "--prepare" ]; then
    build
    echo "go compat suite prepared (modules in $(go env GOMODCACHE), build cache $(go env GOCACHE))"
    exit 0
fi

BOOT=${1:?usage: run.sh HOST:PORT | --prepare}
if [ -z "${TRIBUTARY_BIN:-}" ]; then
    if command -v tributary >/dev/null; then
        TRIBUTARY_BIN=$(command -v tributary)
    elif [ -x "$HOME/.cache/tributary/target/debug/tributary" ]; then
        TRIBUTARY_BIN=$HOME/.cache/tributary/target/debug/tributary
    fi
fi
export COMPAT_BOOTSTRAP=$BOOT TRIBUTARY_BIN=${TRIBUTARY_BIN:-}

# Builds are cached: on a warm cache this takes a second or two.
if ! build_out=$(build 2>&1); then
    echo "not ok - go/build"
    printf '%s\n' "$build_out" | sed 's/^/    /'
    echo "go: 0 passed, 1 failed, 0 skipped"
    exit 1
fi

# -count=1: never answer from go's test cache; -parallel 6: most tests wait on the broker, not the CPU.
rc=0
go test -count=1 -json -timeout "$TEST_TIMEOUT" -parallel 6 ${GO_COMPAT_RUN:+-run "$GO_COMPAT_RUN"} . 2>&1 | "$REPORT" go/ || rc=$?
exit "$rc"
