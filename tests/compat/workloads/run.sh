#!/usr/bin/env bash
# Kafka Streams and Kafka Connect (Java, 4.x) as broker workloads; see README.md beside this file.
#
# Usage: tests/compat/workloads/run.sh BOOTSTRAP [WORKLOAD...]   run against a running broker
#        tests/compat/workloads/run.sh --prepare                 resolve the jars and compile only
#   WORKLOAD   streams, connect (default: both)
#   KAFKA_VERSION   the Kafka jars to use (default 4.4.0)
#   WL_KEEP_WORKDIR=1   keep the work dir (child JVM logs, worker configs, source/sink files)
#
# Prints one line per check, `ok - workloads/NAME` or `not ok - workloads/NAME` (details on the
# following `#` lines), and exits 1 if any failed, 2 if Java or Maven is missing (nothing run).
# Compiled classes are cached under $TRIBUTARY_CACHE/workloads/<hash of the sources and classpath>.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
VERSION=${KAFKA_VERSION:-4.4.0}

[ $# -ge 1 ] || { echo "usage: $0 BOOTSTRAP [streams|connect]... | --prepare" >&2; exit 2; }

rc=0
CPFILE=$(bash "$ROOT/scripts/kafka-jars.sh" "$VERSION") || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "# workloads skipped: the Kafka $VERSION jars are not available (kafka-jars.sh exit $rc)"
    exit 2
fi
command -v javac >/dev/null 2>&1 || { echo "# workloads skipped: javac not found"; exit 2; }
JARS=$(cat "$CPFILE")
LOG4J=$(dirname "$CPFILE")/log4j2.yaml

HASH=$( (cat "$HERE"/*.java "$HERE"/shim/*.java "$HERE/run.sh"; echo "$JARS"; javac -version 2>&1) | sha256sum | cut -c1-16)
OUT="$CACHE/workloads/$HASH"
if [ ! -f "$OUT/.done" ]; then
    rm -rf "$OUT.tmp"
    mkdir -p "$OUT.tmp"
    javac -encoding UTF-8 --release 17 -cp "$JARS" -d "$OUT.tmp" "$HERE"/*.java
    # a shim for connect-file older than connect-runtime (see shim/AppInfoParser.java), compiled
    # apart: ConnectWorkload adds it to its workers' classpath only when kafka-clients needs it
    if ! javap -cp "$JARS" org.apache.kafka.common.utils.AppInfoParser >/dev/null 2>&1; then
        javac -encoding UTF-8 --release 17 -cp "$JARS" -d "$OUT.tmp/shim" "$HERE"/shim/AppInfoParser.java
    fi
    touch "$OUT.tmp/.done"
    rm -rf "$OUT"
    mv "$OUT.tmp" "$OUT"
fi

if [ "$1" = "--prepare" ]; then
    echo "workloads compiled in $OUT"
    exit 0
fi

BOOT=$1
shift
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(streams connect)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tributary-workloads.XXXXXX")
cleanup() {
    # the child JVMs the drivers started (their pids, one a line), if a driver left any behind
    # (only while their command line still names this run's work dir)
    cat "$WORK"/*/pids 2>/dev/null | while read -r pid; do
        if [ -r "/proc/$pid/cmdline" ] && tr "\\0" " " <"/proc/$pid/cmdline" | grep -qF "$WORK"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    if [ -n "${WL_KEEP_WORKDIR:-}" ]; then echo "# work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=0
for w in "${WORKLOADS[@]}"; do
    case "$w" in
        streams) main=StreamsWorkload; limit=240 ;;
        connect) main=ConnectWorkload; limit=240 ;;
        *) echo "unknown workload $w" >&2; exit 2 ;;
    esac
    echo "# === $w ($main against $BOOT) ==="
    mkdir -p "$WORK/$w"
    start=$(date +%s)
    wrc=0
    timeout -k 10 "$limit" java -Xmx256m -XX:+UseSerialGC -XX:-UsePerfData -Djava.io.tmpdir="$WORK/$w" \
        -Dlog4j2.configurationFile="$LOG4J" -Dworkloads.shim="$OUT/shim" \
        -cp "$OUT:$JARS" "$main" driver "$BOOT" "$WORK/$w" 2>"$WORK/$w.err" || wrc=$?
    echo "# $w took $(($(date +%s) - start)) s"
    if [ "$wrc" -ne 0 ]; then
        failed=1
        if [ "$wrc" -ne 1 ]; then
            echo "not ok - workloads/$w (driver exit $wrc)"
            tail -n 30 "$WORK/$w.err" | sed 's/^/#   /'
        fi
    fi
done
exit "$failed"
