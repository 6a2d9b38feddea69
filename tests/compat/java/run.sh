#!/usr/bin/env bash
# The Java client suite: kafka-clients (JUnit 5 tests in this folder, run by Maven Surefire)
# against a running broker, once with the newest kafka-clients served (4.4.0) and once with the
# oldest 4.0.x (4.0.0).
#
# Usage:
#   tests/compat/java/run.sh BOOTSTRAP      run the suite against HOST:PORT (a `tributary server`,
#                                           or any Kafka broker: the tests assert Kafka's behaviour)
#   tests/compat/java/run.sh --prepare      resolve kafka-clients, JUnit and every Maven plugin the
#                                           run needs and compile the tests (idempotent; after it,
#                                           runs work with `mvn -o`, no network)
# Environment:
#   JAVA_COMPAT_VERSIONS   kafka-clients versions to run (default "4.4.0 4.0.0")
#   TRIBUTARY_BIN          tributary binary, for `tributary produce` in the partitioning test
#                          (default $CARGO_TARGET_DIR/debug/tributary, else
#                          ~/.cache/tributary/target/debug/tributary)
#   TRIBUTARY_CACHE        cache root (default ~/.cache/tributary): Maven repository in m2/, build
#                          output per version in java-compat/VERSION/ (nothing is written into the clone)
#   JAVA_COMPAT_TEST       optional Surefire -Dtest filter, e.g. "AdminTest" or "ProducerTest#compression*"
#
# Prints one line per test, `ok - java4.4.0/Class.method` or `not ok - java4.4.0/Class.method` with
# the failure indented below, then a summary comment; exit status 1 if any test failed or a run
# could not complete, 2 (with the reason) when Java or Maven is missing.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TRIBUTARY_CACHE:-$HOME/.cache/tributary}
REPO=$CACHE/m2
VERSIONS=${JAVA_COMPAT_VERSIONS:-4.4.0 4.0.0}
if [ -n "${TRIBUTARY_BIN:-}" ]; then
    BIN=$TRIBUTARY_BIN
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
    BIN=$CARGO_TARGET_DIR/debug/tributary
else
    BIN=$CACHE/target/debug/tributary
fi
# Maven's own JVM: small and quick to start (the tests fork their own JVMs, see pom.xml)
export MAVEN_OPTS="${MAVEN_OPTS:--Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

usage() {
    echo "usage: $0 BOOTSTRAP | --prepare" >&2
    exit 64
}
[ $# -ge 1 ] || usage

for tool in java mvn python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "java compat suite: $tool not found" >&2
        exit 2
    }
done

mvn_args() { # VERSION
    echo -B -f "$HERE/pom.xml" -Dmaven.repo.local="$REPO" -Dkafka.version="$1" \
        -Dbuild.dir="$CACHE/java-compat/$1"
}

if [ "$1" = "--prepare" ]; then
    for v in $VERSIONS; do
        mkdir -p "$CACHE/java-compat/$v"
        # The one test that needs no broker: resolves and compiles everything, and
        # resolves Surefire's JUnit Platform provider, which is only fetched when tests run.
        # shellcheck disable=SC2046
        if ! timeout 900 mvn $(mvn_args "$v") -q test -Dtest=ClientVersionTest \
            >"$CACHE/java-compat/$v/prepare.log" 2>&1; then
            echo "java compat suite: preparing kafka-clients $v failed; see $CACHE/java-compat/$v/prepare.log" >&2
            tail -n 30 "$CACHE/java-compat/$v/prepare.log" >&2
            exit 1
        fi
        echo "java compat suite: kafka-clients $v ready"
    done
    exit 0
fi

BOOTSTRAP=$1
# an unreachable broker would make every test wait out its deadlines: say so at once instead
if ! python3 -c 'import socket, sys; h, p = sys.argv[1].rsplit(":", 1); socket.create_connection((h, int(p)), 5).close()' \
    "$BOOTSTRAP" 2>/dev/null; then
    echo "not ok - java/bootstrap ($BOOTSTRAP does not accept connections)"
    exit 1
fi
failed=0
total_pass=0
total_fail=0
for v in $VERSIONS; do
    out=$CACHE/java-compat/$v
    mkdir -p "$out"
    rm -rf "$out/surefire-reports"
    log=$out/mvn.log
    start=$(date +%s)
    filter=()
    [ -n "${JAVA_COMPAT_TEST:-}" ] && filter=(-Dtest="$JAVA_COMPAT_TEST")
    # shellcheck disable=SC2046
    timeout 900 mvn $(mvn_args "$v") -o test -Dbootstrap="$BOOTSTRAP" -Dtributary.bin="$BIN" \
        -Dmaven.test.failure.ignore=true "${filter[@]}" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    summary=$(python3 - "$out/surefire-reports" "java$v" <<'EOF'
import glob, os, sys
import xml.etree.ElementTree as ET

reports, prefix = sys.argv[1], sys.argv[2]
passed = failed = 0
for path in sorted(glob.glob(os.path.join(reports, "TEST-*.xml"))):
    suite = ET.parse(path).getroot()
    for case in suite.iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        name = f"{prefix}/{cls}.{case.get('name')}"
        bad = [e for e in case if e.tag in ("failure", "error")]
        skipped = [e for e in case if e.tag == "skipped"]
        if skipped and not bad:
            print(f"ok - {name} # SKIP {skipped[0].get('message') or ''}".rstrip())
            continue
        if not bad:
            passed += 1
            print(f"ok - {name}")
            continue
        failed += 1
        print(f"not ok - {name}")
        e = bad[0]
        text = (e.text or e.get("message") or e.get("type") or "").strip().splitlines()
        # the message and the test's own frames; the rest of the stack is JUnit's and the JDK's
        keep = [l for l in text if not l.lstrip().startswith("at ") or "tributary.compat" in l]
        for line in keep[:25]:
            print("    " + line)
print(f"#counts {passed} {failed}")
EOF
)
    echo "$summary" | grep -v '^#counts'
    read -r p f < <(echo "$summary" | sed -n 's/^#counts //p')
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] || [ $((p + f)) -eq 0 ]; then
        # the build itself failed (compilation, a crashed or timed-out fork, no tests found)
        echo "not ok - java$v/build (mvn exit status $rc)"
        grep -E '^\[(ERROR|WARNING)\]' "$log" | grep -v 'Tests run:' | head -n 30 | sed 's/^/    /'
        echo "    full log: $log"
        f=$((f + 1))
    fi
    echo "# java$v: $p passed, $f failed in ${secs}s (kafka-clients $v, reports in $out/surefire-reports)"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    [ "$f" -eq 0 ] || failed=1
done
echo "# java total: $total_pass passed, $total_fail failed"
exit "$failed"
