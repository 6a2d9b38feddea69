#!/usr/bin/env bash
# Installs what the test suites need on a fresh machine, idempotently:
#   - Debian's kcat (links librdkafka 2.0.2: an older client that must keep working)
#   - a Python venv with kafka-python, confluent-kafka and pytest (tests/compat/requirements.txt)
#   - kafkajs through npm (tests/compat/kafkajs/package.json)
#   - Go (Debian's, if none is on PATH; a newer toolchain that go.mod asks for comes from the Go
#     module proxy) and the Go suite's modules (franz-go, sarama) in Go's own caches
#   - PostgreSQL (Debian's) for the JDBC connectors' tests
#   - Redis and mosquitto (Debian's) for the Redis sink's and MQTT source's tests
#   - Java 17 and Maven (Debian's, if missing) and Apache Kafka's 4.x jars from Maven Central
#     (scripts/kafka-jars.sh) for the Java client, Kafka tools and Streams/Connect suites
# Locations: $TRIBUTARY_CACHE (default ~/.cache/tributary)/venv, /node, /m2 and /kafka; Go's
# module and build caches (~/go/pkg/mod, ~/.cache/go-build).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
mkdir -p "$CACHE"

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
# the JDBC connectors' tests start private PostgreSQL servers (testkit/src/postgres.rs)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# the Redis sink's and the MQTT source's tests start private servers (testkit/src/redis.rs,
# testkit/src/mqtt.rs); Debian puts mosquitto in /usr/sbin
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

VENV="$CACHE/venv"
REQ=tests/compat/requirements.txt
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha"
if [ ! -f "$stamp" ] || [ "$(sha256sum "$REQ" | cut -d' ' -f1)" != "$(cat "$stamp")" ]; then
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -r "$REQ"
  sha256sum "$REQ" | cut -d' ' -f1 > "$stamp"
fi

NODE="$CACHE/node"
PKG=tests/compat/kafkajs/package.json
mkdir -p "$NODE"
nstamp="$NODE/.package.sha"
if [ ! -f "$nstamp" ] || [ "$(sha256sum "$PKG" | cut -d' ' -f1)" != "$(cat "$nstamp")" ]; then
  cp "$PKG" "$NODE/package.json"
  (cd "$NODE" && npm install --no-audit --no-fund --silent >/dev/null)
  sha256sum "$PKG" | cut -d' ' -f1 > "$nstamp"
fi
GOTOOLCHAIN=auto bash tests/compat/go/run.sh --prepare
# Kafka's jars (newest and oldest 4.x) and the Java suites' Maven plugins, compiled once
bash scripts/kafka-jars.sh 4.4.0 >/dev/null
bash scripts/kafka-jars.sh 4.0.0 >/dev/null
bash tests/compat/java/run.sh --prepare
bash tests/compat/workloads/run.sh --prepare
bash tests/compat/kafka-tools.sh --prepare

echo "test dependencies ready in $CACHE"
