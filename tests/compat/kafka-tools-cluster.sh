#!/usr/bin/env bash
# Apache Kafka's cluster tools (4.x jars, through scripts/kafka-tool.sh) against a local cluster of
# four `tributary server` processes (`tributary dev-cluster --brokers 4`: a quorum of three
# controllers and a fourth broker): kafka-reassign-partitions (--execute, --verify, --list,
# --cancel, --throttle), Java's consumer with client.rack fetching from its rack's replica (KIP-392), kafka-leader-election (PREFERRED and UNCLEAN, one partition and all) and
# kafka-metadata-quorum. Every check asserts what the tool prints as Apache Kafka 4.4 prints it.
#
# Usage: tests/compat/kafka-tools-cluster.sh TRIBUTARY_BINARY
# Prints "ok - cluster-tools/NAME" / "not ok - cluster-tools/NAME" (with the transcript's tail) per
# check and exits non-zero if any failed. The cluster is stopped (and its directory removed) at the
# end.
set -euo pipefail

BIN=${1:?usage: kafka-tools-cluster.sh TRIBUTARY_BINARY}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA_TOOL=$ROOT/scripts/kafka-tool.sh
export KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
WORK=$(mktemp -d)
SUFFIX=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
# broker i on PORT+i-1, controller i on PORT+100+i-1
PORT=$((20000 + RANDOM % 20000))
BOOT=127.0.0.1:$PORT

cleanup() {
    [ -z "${CLUSTER_PID:-}" ] || {
        # (a paused node would hold the stop up)
        pkill -CONT -f "$WORK/cluster/node" 2>/dev/null || true
        kill -INT "$CLUSTER_PID" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$CLUSTER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$CLUSTER_PID" 2>/dev/null || true
    }
    rm -rf "$WORK"
}
trap cleanup EXIT

# run TOOL ARGS...: stdout in $OUT, everything in $ALL, status in $RC; the transcript on stdout
run() {
    printf '$ %s.sh' "$1"
    printf ' %q' "${@:2}"
    printf '\n'
    RC=0
    KAFKA_HEAP_OPTS="-Xmx256m -XX:TieredStopAtLevel=1 -Xshare:auto" timeout 90 bash "$KAFKA_TOOL" "$@" \
        <"${STDIN:-/dev/null}" >"$WORK/stdout" 2>"$WORK/stderr" || RC=$?
    OUT=$(cat "$WORK/stdout")
    ALL=$OUT$'\n'$(cat "$WORK/stderr")
    printf '%s\n' "$ALL"
    [ "$RC" -eq 0 ] || echo "[exit status $RC]"
}
has() {
    grep -qE -- "$2" <<<"$1" && return 0
    echo "ASSERT: expected a line matching /$2/"
    return 1
}
ok_rc() {
    [ "$RC" -eq 0 ] && return 0
    echo "ASSERT: exit status $RC, expected 0"
    return 1
}
# until_has SECONDS REGEX TOOL ARGS...: runs the tool until its output matches
until_has() {
    local deadline=$((SECONDS + $1)) re=$2
    shift 2
    while :; do
        run "$@" >/dev/null
        if grep -qE -- "$re" <<<"$ALL"; then printf '%s\n' "$ALL"; return 0; fi
        [ "$SECONDS" -lt "$deadline" ] || { printf '%s\n' "$ALL"; echo "ASSERT: no /$re/ in ${1}s"; return 1; }
        sleep 1
    done
}

passed=0
failed=0
check() {
    local name=$1 rc
    shift
    set +e
    (set -e; "$@") >"$WORK/$name.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok - cluster-tools/$name"
    else
        failed=$((failed + 1))
        echo "not ok - cluster-tools/$name"
        sed 's/^/    # /' "$WORK/$name.log" | tail -n 40
    fi
}

# --- the cluster --------------------------------------------------------------------------------
# (a port of the random range may be taken between the pick and the bind, by a connection's
# ephemeral port: a start that exits before printing its bootstrap tries another range)
for attempt in 1 2 3; do
    "$BIN" dev-cluster --brokers 4 --port "$PORT" --data-dir "$WORK/cluster" -o 'broker.rack=rack-{id}' \
        -o replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector >"$WORK/cluster.out" 2>&1 &
    CLUSTER_PID=$!
    started=0
    for _ in $(seq 1 600); do
        grep -q '^Bootstrap servers:' "$WORK/cluster.out" && { started=1; break; }
        kill -0 "$CLUSTER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ "$started" -eq 1 ] && break
    cat "$WORK/cluster.out"
    CLUSTER_PID=
    [ "$attempt" -lt 3 ] || { echo "not ok - cluster-tools/start"; exit 1; }
    rm -rf "$WORK/cluster"
    PORT=$((20000 + RANDOM % 20000))
    BOOT=127.0.0.1:$PORT
done
# every broker registered and unfenced
until_has 60 '^4[[:space:]]' kafka-broker-api-versions --bootstrap-server "$BOOT" >/dev/null || true
until_has 60 "\(id: 4 rack" kafka-broker-api-versions --bootstrap-server "$BOOT" >/dev/null

T=ct-$SUFFIX

# kafka-reassign-partitions: both partitions move to other brokers, --verify reports them done,
# and the records are all there
t_reassign_execute_verify() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$T-move" --replica-assignment 1:2,2:3
    ok_rc
    seq 1 100 >"$WORK/values"
    STDIN=$WORK/values run kafka-console-producer --bootstrap-server "$BOOT" --topic "$T-move" --command-property acks=all
    ok_rc
    printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[3,4]},{"topic":"%s","partition":1,"replicas":[4,1]}]}\n' \
        "$T-move" "$T-move" >"$WORK/move.json"
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/move.json" --execute
    ok_rc
    has "$OUT" '^Current partition replica assignment$'
    has "$OUT" "^Successfully started partition reassignments for $T-move-0,$T-move-1\$"
    until_has 60 "^Reassignment of partition $T-move-1 is completed\.\$" \
        kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/move.json" --verify
    has "$ALL" "^Reassignment of partition $T-move-0 is completed\.\$"
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$T-move"
    has "$OUT" "Partition: 0	Leader: [34]	Replicas: 3,4	Isr: [34],[34]"
    has "$OUT" "Partition: 1	Leader: [41]	Replicas: 4,1	Isr: [41],[41]"
    run kafka-console-consumer --bootstrap-server "$BOOT" --topic "$T-move" --from-beginning --max-messages 100 --timeout-ms 30000
    ok_rc
    [ "$(sort -n <<<"$OUT")" = "$(cat "$WORK/values")" ] || { echo "ASSERT: not every record read back"; return 1; }
}

# a reassignment onto a paused broker stays in progress: --list shows it, --cancel reverts it
# (--preserve-throttles: clearing throttles would wait for the paused broker)
t_reassign_list_cancel() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$T-stuck" --replica-assignment 1:2
    ok_rc
    pkill -STOP -f "$WORK/cluster/node4.properties"
    printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[1,4]}]}\n' "$T-stuck" >"$WORK/stuck.json"
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/stuck.json" --execute
    local rc=$RC
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --list
    local listed=$OUT
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/stuck.json" --cancel --preserve-throttles
    local cancelled=$OUT cancel_rc=$RC
    pkill -CONT -f "$WORK/cluster/node4.properties"
    [ "$rc" -eq 0 ] || { echo "ASSERT: --execute failed"; return 1; }
    has "$listed" '^Current partition reassignments:$'
    has "$listed" "^$T-stuck-0: replicas: 1,4,2\. adding: 4\. removing: 2\.\$"
    [ "$cancel_rc" -eq 0 ] || { echo "ASSERT: --cancel failed"; return 1; }
    has "$cancelled" "^Successfully cancelled partition reassignments? for: $T-stuck-0\$"
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --list
    has "$OUT" '^No partition reassignments found\.$'
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$T-stuck"
    has "$OUT" 'Partition: 0	Leader: 1	Replicas: 1,2	'
}

# kafka-reassign-partitions --throttle: the tool sets the rates on the brokers and the throttled
# replicas on the topic, and the copy is held back (2 MB at 100 kB/s is still in progress after
# 3 s); --execute --additional raises the limit, and --verify clears every throttle once done
t_reassign_throttled() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$T-thr" --replica-assignment 1
    ok_rc
    run kafka-producer-perf-test --topic "$T-thr" --num-records 2000 --record-size 1000 --throughput -1 \
        --producer-props bootstrap.servers="$BOOT" acks=all
    ok_rc
    printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[1,2]}]}\n' "$T-thr" >"$WORK/thr.json"
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/thr.json" --execute --throttle 100000
    ok_rc
    has "$OUT" '^The inter-broker throttle limit was set to 100000 B/s$'
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type brokers --entity-name 2
    has "$OUT" 'follower.replication.throttled.rate=100000'
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type topics --entity-name "$T-thr"
    has "$OUT" 'follower.replication.throttled.replicas=0:2'
    has "$OUT" 'leader.replication.throttled.replicas=0:1'
    sleep 3
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/thr.json" --verify
    has "$OUT" "^Reassignment of partition $T-thr-0 is still in progress\.\$"
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/thr.json" --execute --additional --throttle 100000000
    ok_rc
    has "$OUT" '^The inter-broker throttle limit was set to 100000000 B/s$'
    until_has 60 '^Clearing broker-level throttles on brokers' \
        kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/thr.json" --verify
    has "$ALL" "^Clearing topic-level throttles on topic $T-thr\$"
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type brokers --entity-name 2
    ! grep -q 'throttled.rate' <<<"$OUT" || { echo "ASSERT: throttle rate still set"; return 1; }
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$T-thr"
    has "$OUT" "Partition: 0	Leader: 1	Replicas: 1,2	Isr: (1,2|2,1)"
}

# fetching from the closest replica: a consumer in rack-3 reads a partition led by broker 1 from
# broker 3 (its metrics count the records' bytes as coming from node 3)
t_closest_replica() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$T-rack" --replica-assignment 1:2:3
    ok_rc
    run kafka-producer-perf-test --topic "$T-rack" --num-records 1000 --record-size 1000 --throughput -1 \
        --producer-props bootstrap.servers="$BOOT" acks=all
    ok_rc
    printf 'client.rack=rack-3\n' >"$WORK/rack3.properties"
    run kafka-consumer-perf-test --bootstrap-server "$BOOT" --topic "$T-rack" --messages 1000 \
        --command-config "$WORK/rack3.properties" --print-metrics --timeout 30000
    ok_rc
    local node1 node3
    node1=$(grep -E '^consumer-node-metrics:incoming-byte-total:\{client-id=[^,]*, node-id=node-1\}' <<<"$OUT" | awk '{print $NF}')
    node3=$(grep -E '^consumer-node-metrics:incoming-byte-total:\{client-id=[^,]*, node-id=node-3\}' <<<"$OUT" | awk '{print $NF}')
    echo "incoming bytes: node 1 ${node1:-none}, node 3 ${node3:-none}"
    awk -v n3="${node3:-0}" 'BEGIN { exit !(n3 + 0 >= 1000000) }' || { echo "ASSERT: the records did not come from node 3"; return 1; }
    awk -v n1="${node1:-0}" 'BEGIN { exit !(n1 + 0 < 1000000) }' || { echo "ASSERT: the records came from the leader"; return 1; }
}

# kafka-leader-election: a preferred election moves leadership to the first replica; one that is
# not needed says so; an unclean election of a partition with a leader is not needed either
t_leader_election() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$T-elect" --replica-assignment 1:2:3
    ok_rc
    # (reordering the replicas completes at once and keeps the leader, 1)
    printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[2,3,1]}]}\n' "$T-elect" >"$WORK/elect.json"
    until_has 30 "Isr: [123],[123],[123]" kafka-topics --bootstrap-server "$BOOT" --describe --topic "$T-elect"
    run kafka-reassign-partitions --bootstrap-server "$BOOT" --reassignment-json-file "$WORK/elect.json" --execute
    ok_rc
    run kafka-leader-election --bootstrap-server "$BOOT" --election-type PREFERRED --topic "$T-elect" --partition 0
    ok_rc
    has "$OUT" "^Successfully completed leader election \(PREFERRED\) for partitions $T-elect-0\$"
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$T-elect"
    has "$OUT" 'Partition: 0	Leader: 2	Replicas: 2,3,1	'
    run kafka-leader-election --bootstrap-server "$BOOT" --election-type PREFERRED --topic "$T-elect" --partition 0
    ok_rc
    has "$OUT" "^Valid replica already elected for partitions $T-elect-0\$"
    run kafka-leader-election --bootstrap-server "$BOOT" --election-type UNCLEAN --topic "$T-elect" --partition 0
    ok_rc
    has "$OUT" "^Valid replica already elected for partitions $T-elect-0\$"
    run kafka-leader-election --bootstrap-server "$BOOT" --election-type PREFERRED --all-topic-partitions
    ok_rc
}

# kafka-metadata-quorum: three voters with a leader, the fourth broker an observer
t_metadata_quorum() {
    run kafka-metadata-quorum --bootstrap-server "$BOOT" describe --status
    ok_rc
    has "$OUT" '^LeaderId:[[:space:]]+[123]$'
    has "$OUT" '^CurrentVoters:[[:space:]]+\[\{"id": 1, .*\{"id": 2, .*\{"id": 3, '
    has "$OUT" '^CurrentObservers:[[:space:]]+\[\{"id": 4, '
}

check reassign-execute-verify t_reassign_execute_verify
check reassign-list-cancel t_reassign_list_cancel
check reassign-throttled t_reassign_throttled
check closest-replica t_closest_replica
check leader-election t_leader_election
check metadata-quorum t_metadata_quorum

echo "kafka-tools-cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
