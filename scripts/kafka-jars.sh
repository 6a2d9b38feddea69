#!/usr/bin/env bash
# Resolves Apache Kafka's jars (broker, clients, tools, Streams and its test utils, Connect) of one 4.x version from
# Maven Central into a cache outside the clone, and prints the path of a file holding their
# classpath. Every Java-side test, tool run and benchmark gets its jars here; they are test tools
# only, never part of what users run.
#
# Usage: scripts/kafka-jars.sh [VERSION]        (default $KAFKA_VERSION, else 4.4.0)
#   prints  $TRIBUTARY_CACHE/kafka/VERSION/classpath.txt   (colon-separated jar paths)
#   also    $TRIBUTARY_CACHE/kafka/VERSION/log4j2.yaml     (WARN and above to stderr, as Kafka's
#                                                           tools-log4j2.yaml)
# Locations: $TRIBUTARY_CACHE (default ~/.cache/tributary)/m2 is the local Maven repository.
# Exit status 2 (with the reason on stderr) when Java or Maven is missing, so callers can skip.
set -euo pipefail
VERSION=${1:-${KAFKA_VERSION:-4.4.0}}
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
DIR="$CACHE/kafka/$VERSION"
CP="$DIR/classpath.txt"
# connect-file (FileStreamSource/Sink, only used by the Connect workload) is not served for every
# version; 4.4.0's is missing, so the newest served one (4.3.1) is taken. It calls
# org.apache.kafka.common.utils.AppInfoParser, which kafka-clients 4.4 moved to utils.internals:
# tests/compat/workloads/ puts a one-class shim on the workers' classpath for it.
case "$VERSION" in
    4.4.*) FILE_VERSION=${CONNECT_FILE_VERSION:-4.3.1} ;;
    *) FILE_VERSION=${CONNECT_FILE_VERSION:-$VERSION} ;;
esac

command -v java >/dev/null 2>&1 || { echo "kafka-jars: java not found" >&2; exit 2; }
command -v mvn >/dev/null 2>&1 || { echo "kafka-jars: mvn not found" >&2; exit 2; }

if [ -s "$CP" ] && grep -q kafka-streams-test-utils "$CP" && tr ':' '\n' <"$CP" | while read -r jar; do [ -f "$jar" ] || exit 1; done; then
    echo "$CP"
    exit 0
fi

mkdir -p "$DIR"
cat >"$DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tributary.test</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams-test-utils</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-file</artifactId><version>$FILE_VERSION</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
EOF
mvn -q -B -f "$DIR/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
    dependency:build-classpath -Dmdep.outputFile="$CP.tmp" >"$DIR/mvn.log" 2>&1 || {
    echo "kafka-jars: resolving Kafka $VERSION failed; see $DIR/mvn.log" >&2
    tail -n 20 "$DIR/mvn.log" >&2
    exit 1
}
mv "$CP.tmp" "$CP"
cat >"$DIR/log4j2.yaml" <<'EOF'
Configuration:
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDERR
EOF
echo "$CP"
