#!/usr/bin/env bash
# Runs one of Apache Kafka's command-line tools by its usual script name, straight from the 4.x
# jars (scripts/kafka-jars.sh), the way bin/kafka-*.sh would: `java -cp JARS MAIN-CLASS ARGS`.
#
# Usage: scripts/kafka-tool.sh TOOL [ARGS...]
#   e.g. scripts/kafka-tool.sh kafka-topics --bootstrap-server 127.0.0.1:9092 --list
#        scripts/kafka-tool.sh --classes           (the tool names it knows and their classes)
# Environment: KAFKA_VERSION (default 4.4.0), KAFKA_HEAP_OPTS (default -Xmx512M, as
# kafka-run-class.sh), KAFKA_OPTS (extra JVM options).
# Exit status 2 when Java or Maven is missing; 64 for an unknown tool name.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=${KAFKA_VERSION:-4.4.0}

# Tool name -> main class candidates, newest location first (some tools moved from the Scala
# `kafka.*` packages to Java `org.apache.kafka.tools.*` during 4.x).
classes_of() {
    case "$1" in
        kafka-topics) echo org.apache.kafka.tools.TopicCommand ;;
        kafka-console-producer) echo org.apache.kafka.tools.ConsoleProducer kafka.tools.ConsoleProducer ;;
        kafka-console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
        kafka-consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
        kafka-configs) echo org.apache.kafka.tools.ConfigCommand kafka.admin.ConfigCommand ;;
        kafka-get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
        kafka-delete-records) echo org.apache.kafka.tools.DeleteRecordsCommand ;;
        kafka-transactions) echo org.apache.kafka.tools.TransactionsCommand ;;
        kafka-broker-api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand kafka.admin.BrokerApiVersionsCommand ;;
        kafka-features) echo org.apache.kafka.tools.FeatureCommand ;;
        kafka-verifiable-producer) echo org.apache.kafka.tools.VerifiableProducer ;;
        kafka-verifiable-consumer) echo org.apache.kafka.tools.VerifiableConsumer ;;
        kafka-producer-perf-test) echo org.apache.kafka.tools.ProducerPerformance ;;
        kafka-consumer-perf-test) echo org.apache.kafka.tools.ConsumerPerformance ;;
        kafka-leader-election) echo org.apache.kafka.tools.LeaderElectionCommand ;;
        kafka-log-dirs) echo org.apache.kafka.tools.LogDirsCommand ;;
        kafka-metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
        kafka-acls) echo org.apache.kafka.tools.AclCommand kafka.admin.AclCommand ;;
        kafka-streams-application-reset) echo org.apache.kafka.tools.StreamsResetter ;;
        kafka-e2e-latency) echo org.apache.kafka.tools.EndToEndLatency ;;
        kafka-storage) echo kafka.tools.StorageTool ;;
        kafka-cluster) echo org.apache.kafka.tools.ClusterTool ;;
        kafka-reassign-partitions) echo org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
        kafka-client-metrics) echo org.apache.kafka.tools.ClientMetricsCommand ;;
        kafka-delegation-tokens) echo org.apache.kafka.tools.DelegationTokenCommand ;;
        kafka-share-groups) echo org.apache.kafka.tools.consumer.group.ShareGroupCommand ;;
        kafka-streams-groups) echo org.apache.kafka.tools.streams.StreamsGroupCommand ;;
        connect-distributed) echo org.apache.kafka.connect.cli.ConnectDistributed ;;
        connect-standalone) echo org.apache.kafka.connect.cli.ConnectStandalone ;;
        *) return 1 ;;
    esac
}
TOOLS="kafka-topics kafka-console-producer kafka-console-consumer kafka-consumer-groups kafka-configs
kafka-get-offsets kafka-delete-records kafka-transactions kafka-broker-api-versions kafka-features
kafka-verifiable-producer kafka-verifiable-consumer kafka-producer-perf-test kafka-consumer-perf-test
kafka-leader-election kafka-log-dirs kafka-metadata-quorum kafka-acls kafka-streams-application-reset
kafka-e2e-latency kafka-storage kafka-cluster kafka-reassign-partitions kafka-client-metrics
kafka-delegation-tokens kafka-share-groups kafka-streams-groups connect-distributed connect-standalone"

[ $# -ge 1 ] || { echo "usage: $0 TOOL [ARGS...]   ($0 --classes lists them)" >&2; exit 64; }
rc=0
cp=$(bash "$HERE/kafka-jars.sh" "$VERSION") || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
dir=$(dirname "$cp")

# An index of the classes in Kafka's own jars, built once per version, to pick the class that
# exists in this version.
index="$dir/classes.txt"
if [ ! -s "$index" ]; then
    tr ':' '\n' <"$cp" | grep -E '/org/apache/kafka/' | while read -r jar; do
        unzip -Z1 "$jar" 2>/dev/null | sed -n 's/\.class$//p' | tr '/' '.'
    done | sort -u >"$index.tmp"
    mv "$index.tmp" "$index"
fi
main_class() {
    local c
    for c in $(classes_of "$1"); do
        if grep -qxF "$c" "$index"; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if [ "$1" = "--classes" ]; then
    for t in $TOOLS; do printf '%-34s %s\n' "$t" "$(main_class "$t" || echo '(not in this version)')"; done
    exit 0
fi
tool=${1%.sh}
tool=${tool##*/}
shift
main=$(main_class "$tool") || { echo "unknown tool $tool (known: $(echo $TOOLS))" >&2; exit 64; }
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512M} ${KAFKA_OPTS:-} -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.yaml" -cp "$(cat "$cp")" "$main" "$@"
