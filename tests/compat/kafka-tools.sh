#!/usr/bin/env bash
# Apache Kafka's own command-line tools (4.x, run from the jars by scripts/kafka-tool.sh) against a
# running broker: kafka-topics, kafka-console-producer/-consumer, kafka-consumer-groups,
# kafka-configs (topics, brokers, groups), kafka-get-offsets, kafka-delete-records, kafka-log-dirs,
# kafka-transactions, kafka-broker-api-versions, kafka-features, kafka-verifiable-producer/-consumer,
# kafka-producer-perf-test and kafka-consumer-perf-test. Every check asserts what the tool prints
# against Apache Kafka 4.4 (the same script passes against scripts/kafka-peer.sh).
#
# Usage: tests/compat/kafka-tools.sh BOOTSTRAP      (HOST:PORT of a running broker)
#        tests/compat/kafka-tools.sh --prepare      (resolves the jars, compiles the helper; no broker)
# Environment:
#   KAFKA_VERSION        Kafka tools version (default 4.4.0)
#   PYTHON               a python3 (stdlib only; default python3)
#   KAFKA_TOOLS_LOGS     if set, a directory that receives every check's transcript (NAME.log:
#                        each command as `$ kafka-x.sh ARGS` followed by what it printed)
#   KAFKA_TOOLS_CDS      0 disables the per-tool class-data-sharing archives (default 1: each tool's
#                        first run writes one under the cache, later runs start faster)
#
# Prints one line per check ("ok - tools/NAME" / "not ok - tools/NAME" with the transcript's tail)
# and, last, "kafka-tools: N passed, M failed". Exits non-zero if any check failed.
# Topic, group and transactional ids carry a random suffix, so the suite can share a broker.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KAFKA_TOOL=$ROOT/scripts/kafka-tool.sh
PYTHON=${PYTHON:-python3}
export KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
CACHE=${TRIBUTARY_CACHE:-$HOME/.cache/tributary}
HELPER_DIR=$CACHE/kafka-tools/$KAFKA_VERSION

# --- the open-transaction helper (a few lines of Java against kafka-clients) -------------------
# Begins a transaction, writes N records to partition 0, flushes, and halts without committing or
# aborting, so the transaction stays open on the broker until its timeout.
OPEN_TXN_SRC='import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class OpenTxn {
    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("transactional.id", a[1]);
        p.put("transaction.timeout.ms", a[4]);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        KafkaProducer<String, String> producer = new KafkaProducer<>(p);
        producer.initTransactions();
        producer.beginTransaction();
        for (int i = 0; i < Integer.parseInt(a[3]); i++) {
            producer.send(new ProducerRecord<>(a[2], 0, "k" + i, "v" + i)).get();
        }
        producer.flush();
        System.out.println("open");
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}'

prepare() {
    local cp
    cp=$(bash "$ROOT/scripts/kafka-jars.sh" "$KAFKA_VERSION")
    bash "$KAFKA_TOOL" --classes >/dev/null # builds the class index kafka-tool.sh picks classes from
    local sum
    sum=$(printf '%s' "$OPEN_TXN_SRC" | cksum | cut -d' ' -f1)
    if [ ! -s "$HELPER_DIR/classes/OpenTxn.class" ] || [ "$(cat "$HELPER_DIR/src.sum" 2>/dev/null)" != "$sum" ]; then
        rm -rf "$HELPER_DIR/src" "$HELPER_DIR/classes"
        mkdir -p "$HELPER_DIR/src" "$HELPER_DIR/classes"
        printf '%s\n' "$OPEN_TXN_SRC" >"$HELPER_DIR/src/OpenTxn.java"
        javac -nowarn -cp "$(cat "$cp")" -d "$HELPER_DIR/classes" "$HELPER_DIR/src/OpenTxn.java"
        echo "$sum" >"$HELPER_DIR/src.sum"
    fi
}

if [ "${1:-}" = "--prepare" ]; then
    prepare
    echo "kafka-tools: prepared (jars: $(bash "$ROOT/scripts/kafka-jars.sh" "$KAFKA_VERSION"))"
    exit 0
fi

BOOT=${1:?usage: kafka-tools.sh BOOTSTRAP | --prepare}
prepare
CP_FILE=$(bash "$ROOT/scripts/kafka-jars.sh" "$KAFKA_VERSION")
LOG4J=$(dirname "$CP_FILE")/log4j2.yaml

SUFFIX=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
P=kt-$SUFFIX
WORK=$(mktemp -d)
touch "$WORK/bg.pids"
cleanup() {
    local pid
    while read -r pid; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done <"$WORK/bg.pids"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- running a tool -------------------------------------------------------------------------
# Per-tool class-data-sharing archives (a JVM start costs about a second; sharing the classes of
# an earlier run roughly halves it). Keyed by the classpath and the Java version.
CDS_DIR=
if [ "${KAFKA_TOOLS_CDS:-1}" = 1 ]; then
    CDS_DIR=$HELPER_DIR/cds-$({ cat "$CP_FILE"; java -version 2>&1; } | cksum | cut -d' ' -f1)
    mkdir -p "$CDS_DIR"
fi
# Short-lived tools start faster with the C1 compiler only and the serial collector.
QUICK_JVM="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

# tool_env TOOL: sets JVM_OPTS for one run (and ARCHIVE_TMP when this run writes the archive).
tool_env() {
    local tool=$1 extra=$QUICK_JVM
    case "$tool" in kafka-producer-perf-test | kafka-consumer-perf-test) extra= ;; esac
    ARCHIVE_TMP=
    JVM_OPTS="-Xmx256m $extra"
    if [ -n "$CDS_DIR" ]; then
        if [ -s "$CDS_DIR/$tool.jsa" ]; then
            JVM_OPTS="$JVM_OPTS -XX:SharedArchiveFile=$CDS_DIR/$tool.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
        else
            ARCHIVE_TMP=$CDS_DIR/$tool.jsa.$BASHPID.$RANDOM
            JVM_OPTS="$JVM_OPTS -XX:ArchiveClassesAtExit=$ARCHIVE_TMP -Xlog:cds=off -Xlog:cds+dynamic=off"
        fi
    fi
}
archive_done() {
    if [ -n "$ARCHIVE_TMP" ]; then
        if [ -s "$ARCHIVE_TMP" ]; then mv -f "$ARCHIVE_TMP" "${ARCHIVE_TMP%.jsa.*}.jsa"; else rm -f "$ARCHIVE_TMP"; fi
    fi
}

# run TOOL ARGS...: runs one tool (stdin from $STDIN, default /dev/null), bounded by $TOOL_TIMEOUT
# seconds; stdout in $OUT, stderr in $ERR, exit status in $RC. Writes the command and its output
# to the check's transcript (this function's stdout).
TOOL_TIMEOUT=90
run() {
    local tool=$1
    printf '$ %s.sh' "$tool"
    printf ' %q' "${@:2}"
    printf '\n'
    tool_env "$tool"
    RC=0
    KAFKA_HEAP_OPTS="$JVM_OPTS" timeout "$TOOL_TIMEOUT" bash "$KAFKA_TOOL" "$@" \
        <"${STDIN:-/dev/null}" >"$WORK/stdout" 2>"$WORK/stderr" || RC=$?
    archive_done
    OUT=$(cat "$WORK/stdout")
    ERR=$(cat "$WORK/stderr")
    ALL=$OUT$'\n'$ERR
    [ -z "$OUT" ] || printf '%s\n' "$OUT"
    [ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/[stderr] /'
    [ "$RC" -eq 0 ] || echo "[exit status $RC]"
}

# start_bg NAME TOOL ARGS...: starts a tool in the background (stdout NAME.out, stderr NAME.err in
# $WORK), bounded by 180 s; the pid goes to $WORK/bg.pids (killed on exit) and $WORK/NAME.pid.
start_bg() {
    local name=$1 tool=$2
    shift 2
    printf '$ %s.sh' "$tool"
    printf ' %q' "$@"
    printf ' &\n'
    local opts="-Xmx256m $QUICK_JVM"
    [ -z "$CDS_DIR" ] || [ ! -s "$CDS_DIR/$tool.jsa" ] ||
        opts="$opts -XX:SharedArchiveFile=$CDS_DIR/$tool.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
    KAFKA_HEAP_OPTS="$opts" timeout 180 bash "$KAFKA_TOOL" "$tool" "$@" \
        </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" &
    echo $! >>"$WORK/bg.pids"
    echo $! >"$WORK/$name.pid"
}
# stop_bg NAME: SIGTERM (the tools close their clients on it), waits up to 30 s, then SIGKILL.
stop_bg() {
    local pid
    pid=$(cat "$WORK/$1.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

# --- assertions (each returns 1 with a message, failing the check) ---------------------------
# has TEXT REGEX: some line of TEXT matches the extended REGEX.
has() {
    grep -qE -- "$2" <<<"$1" && return 0
    echo "ASSERT: expected a line matching /$2/"
    return 1
}
# hasnt TEXT REGEX: no line of TEXT matches.
hasnt() {
    grep -qE -- "$2" <<<"$1" || return 0
    echo "ASSERT: expected no line matching /$2/, found: $(grep -E -- "$2" <<<"$1" | head -n 3)"
    return 1
}
# same A B: two strings are equal.
same() {
    [ "$1" = "$2" ] && return 0
    printf 'ASSERT: expected\n%s\n--- got ---\n%s\n' "$2" "$1"
    return 1
}
ok_rc() {
    [ "$RC" -eq 0 ] && return 0
    echo "ASSERT: exit status $RC, expected 0"
    return 1
}
fail_rc() {
    [ "$RC" -ne 0 ] && return 0
    echo "ASSERT: exit status 0, expected a failure"
    return 1
}
# until_ok SECONDS CMD...: runs CMD until it succeeds or the deadline passes; shows the output of
# the successful run, or runs it once more with its output shown.
until_ok() {
    local deadline=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        if "$@" >"$WORK/until.out" 2>&1; then
            cat "$WORK/until.out"
            return 0
        fi
        sleep 0.5
    done
    "$@"
}
py() { "$PYTHON" - "$@"; }
re_escape() { printf '%s' "$1" | sed 's/[.[\*^$()+?{|]/\\&/g'; }

passed=0
failed=0
check() {
    local name=$1 rc start=$SECONDS
    shift
    set +e
    (set -e; "$@") >"$WORK/$name.log" 2>&1
    rc=$?
    set -e
    [ -z "${KAFKA_TOOLS_LOGS:-}" ] || { mkdir -p "$KAFKA_TOOLS_LOGS" && cp "$WORK/$name.log" "$KAFKA_TOOLS_LOGS/$name.log"; }
    echo "$((SECONDS - start)) $name" >>"$WORK/times"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok - tools/$name"
    else
        failed=$((failed + 1))
        echo "not ok - tools/$name"
        sed 's/^/    # /' "$WORK/$name.log" | tail -n 40
    fi
}

BROKER_ID=1 # replaced by the id kafka-broker-api-versions reports

# ============================================================================================
# kafka-broker-api-versions: one line for the broker, then every API with its version range; the
# APIs the tools below use must be usable.
t_broker_api_versions() {
    run kafka-broker-api-versions --bootstrap-server "$BOOT"
    ok_rc
    has "$OUT" "^$(re_escape "$BOOT") \(id: [0-9]+ rack: [^ ]+ isFenced: false\) -> \($"
    local api
    for api in 'Produce(0)' 'Fetch(1)' 'ListOffsets(2)' 'Metadata(3)' 'OffsetCommit(8)' 'OffsetFetch(9)' \
        'FindCoordinator(10)' 'JoinGroup(11)' 'Heartbeat(12)' 'LeaveGroup(13)' 'SyncGroup(14)' \
        'DescribeGroups(15)' 'ListGroups(16)' 'ApiVersions(18)' 'CreateTopics(19)' 'DeleteTopics(20)' \
        'DeleteRecords(21)' 'InitProducerId(22)' 'OffsetForLeaderEpoch(23)' 'AddPartitionsToTxn(24)' \
        'AddOffsetsToTxn(25)' 'EndTxn(26)' 'WriteTxnMarkers(27)' 'TxnOffsetCommit(28)' \
        'DescribeAcls(29)' 'CreateAcls(30)' 'DeleteAcls(31)' 'DescribeConfigs(32)' 'AlterConfigs(33)' \
        'CreatePartitions(37)' 'DeleteGroups(42)' 'IncrementalAlterConfigs(44)' 'OffsetDelete(47)' \
        'DescribeCluster(60)' 'DescribeProducers(61)' 'DescribeTransactions(65)' \
        'ListTransactions(66)' 'ConsumerGroupHeartbeat(68)' 'ConsumerGroupDescribe(69)'; do
        has "$OUT" "^	$(re_escape "$api"): ([0-9]+ to )?[0-9]+ \[usable: [0-9]+\],?$"
    done
    hasnt "$OUT" 'UNKNOWN'
}

# kafka-metadata-quorum describe: a one-node quorum whose single voter leads and is caught up
# (--status), and the same node as the one replica line of --replication.
t_metadata_quorum() {
    run kafka-metadata-quorum --bootstrap-server "$BOOT" describe --status
    ok_rc
    has "$OUT" '^ClusterId:[[:space:]]+[A-Za-z0-9_-]{22}$'
    has "$OUT" "^LeaderId:[[:space:]]+$BROKER_ID\$"
    has "$OUT" '^HighWatermark:[[:space:]]+[1-9][0-9]*$'
    has "$OUT" '^MaxFollowerLag:[[:space:]]+0$'
    has "$OUT" "^CurrentVoters:[[:space:]]+\\[\\{\"id\": $BROKER_ID, \"directoryId\": \"[A-Za-z0-9_-]{22}\", \"endpoints\": \\[\"[A-Z]+://[0-9.]+:[0-9]+\"\\]\\}\\]\$"
    has "$OUT" '^CurrentObservers:[[:space:]]+\[\]$'
    run kafka-metadata-quorum --bootstrap-server "$BOOT" describe --replication
    ok_rc
    has "$OUT" "^$BROKER_ID[[:space:]]+[A-Za-z0-9_-]{22}[[:space:]]+[1-9][0-9]*[[:space:]]+0[[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+Leader[[:space:]]*\$"
}

# kafka-features describe: the finalized feature levels (from ApiVersions v3+). group.version >= 1
# says the KIP-848 consumer protocol is on; every line is a well-formed feature line.
t_features() {
    run kafka-features --bootstrap-server "$BOOT" describe
    ok_rc
    has "$OUT" '^Feature: group\.version[[:space:]]+SupportedMinVersion: [0-9]+[[:space:]]+SupportedMaxVersion: [1-9][0-9]*[[:space:]]+FinalizedVersionLevel: [1-9][0-9]*[[:space:]]+Epoch: [0-9]+$'
    same "$(grep -cvE '^Feature: [a-z.]+[[:space:]]+SupportedMinVersion: [^ ]+[[:space:]]+SupportedMaxVersion: [^ ]+[[:space:]]+FinalizedVersionLevel: [^ ]+[[:space:]]+Epoch: -?[0-9]+$' <<<"$OUT")" 0
}

# ============================================================================================
# kafka-topics
TT=$P-topics
TD=$P-deleted
t_topics_create() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TT" --partitions 3 \
        --config retention.ms=3600000 --config max.message.bytes=200000
    ok_rc
    same "$OUT" "Created topic $TT."
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TD"
    ok_rc
    same "$OUT" "Created topic $TD."
    # --if-not-exists: an existing topic is fine
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TT" --partitions 3 --if-not-exists
    ok_rc
    same "$OUT" ""
}

t_topics_list() {
    run kafka-topics --bootstrap-server "$BOOT" --list
    ok_rc
    has "$OUT" "^$TT\$"
    has "$OUT" "^$TD\$"
    # sorted, as Kafka prints them
    same "$OUT" "$(printf '%s\n' "$OUT" | LC_ALL=C sort)"
    run kafka-topics --bootstrap-server "$BOOT" --list --exclude-internal
    ok_rc
    has "$OUT" "^$TT\$"
    hasnt "$OUT" '^__'
}

# One line for the topic (id, counts, the configs set on it), one per partition. Elr and
# LastKnownElr come from DescribeTopicPartitions (Kafka prints them empty on one node; a broker
# without that API gets "N/A" from the Metadata fallback).
t_topics_describe() {
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$TT"
    ok_rc
    has "$OUT" "^Topic: $TT	TopicId: [A-Za-z0-9_-]{22}	PartitionCount: 3	ReplicationFactor: 1	Configs: (.*,)?max\.message\.bytes=200000(,.*)?\$"
    has "$OUT" "^Topic: $TT	.*Configs: (.*,)?retention\.ms=3600000(,.*)?\$"
    local p
    for p in 0 1 2; do
        has "$OUT" "^	Topic: $TT	Partition: $p	Leader: $BROKER_ID	Replicas: $BROKER_ID	Isr: $BROKER_ID	Elr: (N/A)?	LastKnownElr: (N/A)?\$"
    done
    same "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 4
}

t_topics_alter_partitions() {
    run kafka-topics --bootstrap-server "$BOOT" --alter --topic "$TT" --partitions 5
    ok_rc
    same "$OUT" ""
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$TT"
    has "$OUT" "^Topic: $TT	.*PartitionCount: 5	"
    has "$OUT" "^	Topic: $TT	Partition: 4	Leader: $BROKER_ID	"
}

# The errors users see, with Kafka's exception and message.
t_topics_errors() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TT" --partitions 3
    fail_rc
    has "$OUT" "^Error while executing topic command : Topic '$TT' already exists\.\$"
    has "$ERR" "ERROR org\.apache\.kafka\.common\.errors\.TopicExistsException: Topic '$TT' already exists\."
    run kafka-topics --bootstrap-server "$BOOT" --alter --topic "$TT" --partitions 2
    fail_rc
    has "$ERR" "org\.apache\.kafka\.common\.errors\.InvalidPartitionsException: The topic $TT currently has 5 partition\(s\); 2 would not be an increase\.\$"
    run kafka-topics --bootstrap-server "$BOOT" --alter --topic "$TT" --partitions 5
    fail_rc
    has "$ERR" "org\.apache\.kafka\.common\.errors\.InvalidPartitionsException: Topic already has 5 partition\(s\)\.\$"
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$P-rf2" --replication-factor 2
    fail_rc
    has "$ERR" "org\.apache\.kafka\.common\.errors\.InvalidReplicationFactorException: Unable to replicate the partition 2 time\(s\): The target replication factor of 2 cannot be reached because only 1 broker\(s\) are registered"
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$P-badcfg" --config no.such.config=1
    fail_rc
    has "$ERR" "org\.apache\.kafka\.common\.errors\.InvalidConfigurationException: Unknown topic config name: no\.such\.config\$"
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$P bad name"
    fail_rc
    has "$ERR" "org\.apache\.kafka\.common\.errors\.InvalidTopicException: Topic name is invalid: '$P bad name' contains one or more characters other than ASCII alphanumerics, '\.', '_' and '-'\$"
    run kafka-topics --bootstrap-server "$BOOT" --list
    hasnt "$OUT" "^$P-(rf2|badcfg)\$"
}

topic_gone() {
    run kafka-topics --bootstrap-server "$BOOT" --list
    ok_rc && hasnt "$OUT" "^$TD\$"
}
t_topics_delete() {
    run kafka-topics --bootstrap-server "$BOOT" --delete --topic "$TD"
    ok_rc
    same "$OUT" ""
    until_ok 30 topic_gone
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$TD"
    fail_rc
    has "$OUT" "^Error while executing topic command : Topic '$TD' does not exist as expected\$"
    run kafka-topics --bootstrap-server "$BOOT" --delete --topic "$TD"
    fail_rc
    has "$OUT" "^Error while executing topic command : Topic '$TD' does not exist as expected\$"
}

# ============================================================================================
# kafka-console-producer / kafka-console-consumer
TC=$P-console
PRINT_ALL=(--formatter-property print.key=true --formatter-property print.headers=true
    --formatter-property print.partition=true --formatter-property print.offset=true
    --formatter-property print.timestamp=true)
LINE_READER=(--reader-property parse.key=true --reader-property key.separator=:
    --reader-property parse.headers=true --reader-property 'headers.delimiter=|'
    --reader-property null.marker=NULL)

# Keys, headers, a null key and a record without headers, read back --from-beginning with every
# print.* option; same key, same partition, in order; timestamps from the producer's clock.
t_console_produce_consume() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TC" --partitions 2
    ok_rc
    printf '%s\n' 'h1:v1,h2:v2|k1:hello' 'h1:x|k2:world' 'h3:z|k1:again' 'h4:w|NULL:nokey' 'NULL|k3:noheaders' \
        >"$WORK/console.in"
    local before after
    before=$(date +%s%3N)
    STDIN=$WORK/console.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TC" "${LINE_READER[@]}"
    after=$(date +%s%3N)
    ok_rc
    same "$OUT" ""
    run kafka-console-consumer --bootstrap-server "$BOOT" --topic "$TC" --from-beginning --max-messages 5 \
        --group "$P-console-g" "${PRINT_ALL[@]}"
    ok_rc
    has "$ERR" '^Processed a total of 5 messages$'
    printf '%s\n' "$OUT" >"$WORK/console.records"
    py "$WORK/console.records" "$before" "$after" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
lo, hi = int(sys.argv[2]), int(sys.argv[3])
pat = re.compile(r"^CreateTime:(\d+)\tPartition:(\d+)\tOffset:(\d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
recs = {}
for line in lines:
    m = pat.match(line)
    assert m, f"unexpected line {line!r}"
    ts, part, off, headers, key, value = m.groups()
    assert lo <= int(ts) <= hi, f"timestamp {ts} not within the produce run [{lo}, {hi}]"
    recs[value] = (int(part), int(off), headers, key)
assert set(recs) == {"hello", "world", "again", "nokey", "noheaders"}, recs
assert recs["hello"][2:] == ("h1:v1,h2:v2", "k1"), recs["hello"]
assert recs["world"][2:] == ("h1:x", "k2"), recs["world"]
assert recs["again"][2:] == ("h3:z", "k1"), recs["again"]
assert recs["nokey"][2:] == ("h4:w", "null"), recs["nokey"]
assert recs["noheaders"][2:] == ("NO_HEADERS", "k3"), recs["noheaders"]
# one key, one partition, in produce order
assert recs["hello"][0] == recs["again"][0] and recs["hello"][1] < recs["again"][1], recs
# offsets of each partition are 0..n-1
by_part = {}
for p, o, _, _ in recs.values():
    by_part.setdefault(p, []).append(o)
for p, offs in by_part.items():
    assert sorted(offs) == list(range(len(offs))), (p, offs)
print("records ok:", recs)
EOF
}

# --partition/--offset: one partition from an offset, without a group.
t_console_consumer_partition_offset() {
    local part
    part=$(awk -F'\t' '$6 == "again" { sub("Partition:", "", $2); print $2 }' "$WORK/console.records")
    run kafka-console-consumer --bootstrap-server "$BOOT" --topic "$TC" --partition "$part" --offset 1 \
        --max-messages 1 --formatter-property print.key=true
    ok_rc
    has "$ERR" '^Processed a total of 1 messages$'
    # offset 1 of k1's partition: "world" when k2 shares it, else "again"
    local want
    want=$(awk -F'\t' -v p="Partition:$part" '$2 == p && $3 == "Offset:1" { print $5 "\t" $6 }' "$WORK/console.records")
    same "$OUT" "$want"
}

# --group: the first run committed its position, so a second run of the group gets only what
# was produced since.
t_console_consumer_group() {
    printf '%s\n' 'h5:y|k2:late' >"$WORK/late.in"
    STDIN=$WORK/late.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TC" "${LINE_READER[@]}"
    ok_rc
    run kafka-console-consumer --bootstrap-server "$BOOT" --topic "$TC" --group "$P-console-g" \
        --max-messages 1 --formatter-property print.key=true --formatter-property print.headers=true
    ok_rc
    same "$OUT" "h5:y	k2	late"
}

# ============================================================================================
# kafka-consumer-groups: a topic with 10 keyed records (two produce runs, a second apart), an
# offline group G (offsets only), a running KIP-848 consumer (GA) and a running classic one (GC).
TG=$P-groups
G=$P-g-offline
GA=$P-g-consumer
GC=$P-g-classic

groups_setup() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TG" --partitions 2
    ok_rc
    seq 0 5 | sed 's/.*/k&:v&/' >"$WORK/g1.in"
    seq 6 9 | sed 's/.*/k&:v&/' >"$WORK/g2.in"
    STDIN=$WORK/g1.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TG" \
        --reader-property parse.key=true --reader-property key.separator=:
    ok_rc
    # the second batch strictly later than the first (for --to-datetime)
    local t1
    t1=$(date +%s%3N)
    while [ "$(date +%s%3N)" -le $((t1 + 20)) ]; do sleep 0.01; done
    STDIN=$WORK/g2.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TG" \
        --reader-property parse.key=true --reader-property key.separator=:
    ok_rc
    start_bg ga kafka-console-consumer --bootstrap-server "$BOOT" --topic "$TG" --group "$GA" \
        --consumer-property group.protocol=consumer --consumer-property client.id=kt-848 \
        --from-beginning "${PRINT_ALL[@]}"
    start_bg gc kafka-console-consumer --bootstrap-server "$BOOT" --topic "$TG" --group "$GC" \
        --consumer-property client.id=kt-classic --from-beginning "${PRINT_ALL[@]}"
    # the offline group: offsets committed by the tool itself
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --topic "$TG" --reset-offsets --to-earliest --execute
    ok_rc
    has "$OUT" "^$G +$TG +0 +0\$"
    has "$OUT" "^$G +$TG +1 +0\$"
    # both running consumers have read all 10 records
    until_ok 60 bash -c "[ \$(grep -c . '$WORK/ga.out') -ge 10 ] && [ \$(grep -c . '$WORK/gc.out') -ge 10 ]"
    sed -n 's/^CreateTime:\([0-9]*\)\tPartition:\([0-9]*\)\tOffset:\([0-9]*\)\t[^\t]*\t\([^\t]*\)\t.*/\2 \3 \1 \4/p' \
        "$WORK/ga.out" | sort -n >"$WORK/groups.records" # partition offset timestamp key
    same "$(wc -l <"$WORK/groups.records" | tr -d ' ')" 10
}

end_offset() { awk -v p="$1" '$1 == p' "$WORK/groups.records" | wc -l | tr -d ' '; }

members_ready() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$GA" --group "$GC" --members --verbose
    has "$OUT" "^$GA +[^ ]+ +/127\.0\.0\.1 +kt-848 +2 " && has "$OUT" "^$GC +[^ ]+ +/127\.0\.0\.1 +kt-classic +2 "
}
# --members --verbose: member id, host, client id, partition count, epochs and assignments (the
# epochs only for KIP-848 groups).
t_groups_describe_members() {
    until_ok 60 members_ready
    has "$OUT" '^GROUP +CONSUMER-ID +HOST +CLIENT-ID +#PARTITIONS +CURRENT-EPOCH +CURRENT-ASSIGNMENT +TARGET-EPOCH +TARGET-ASSIGNMENT *$'
    has "$OUT" "^$GA +[A-Za-z0-9_-]{22} +/127\.0\.0\.1 +kt-848 +2 +[1-9][0-9]* +$TG:0,1 +[1-9][0-9]* +$TG:0,1 *\$"
    has "$OUT" "^$GC +kt-classic-[0-9a-f-]{36} +/127\.0\.0\.1 +kt-classic +2 +- +$TG:0,1 +- +- *\$"
}

# --state: coordinator, assignor, state, member count.
t_groups_describe_state() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$GA" --group "$GC" --group "$G" --state
    ok_rc
    has "$OUT" '^GROUP +COORDINATOR \(ID\) +ASSIGNMENT-STRATEGY +STATE +#MEMBERS$'
    has "$OUT" "^$GA +$(re_escape "$BOOT") +\($BROKER_ID\) +uniform +Stable +1\$"
    has "$OUT" "^$GC +$(re_escape "$BOOT") +\($BROKER_ID\) +range +Stable +1\$"
    has "$OUT" "^$G +$(re_escape "$BOOT") +\($BROKER_ID\) +- +Empty +0\$"
    has "$ERR" "^Consumer group '$G' has no active members\.\$"
}

ga_caught_up() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$GA" --group "$G"
    has "$OUT" "^$GA +$TG +0 +$(end_offset 0) +$(end_offset 0) +0 +[A-Za-z0-9_-]{22} +/127\.0\.0\.1 +kt-848\$" &&
        has "$OUT" "^$GA +$TG +1 +$(end_offset 1) +$(end_offset 1) +0 +[A-Za-z0-9_-]{22} +/127\.0\.0\.1 +kt-848\$"
}
# --describe (offsets): current offset, log-end offset and lag per partition, with the member
# that owns it; the running group catches up to lag 0, the offline group lags by everything.
t_groups_describe_offsets() {
    until_ok 30 ga_caught_up
    has "$OUT" '^GROUP +TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +CONSUMER-ID +HOST +CLIENT-ID$'
    has "$OUT" "^$G +$TG +0 +0 +$(end_offset 0) +$(end_offset 0) +- +- +-\$"
    has "$OUT" "^$G +$TG +1 +0 +$(end_offset 1) +$(end_offset 1) +- +- +-\$"
    has "$ERR" "^Consumer group '$G' has no active members\.\$"
}

t_groups_list() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --list
    ok_rc
    has "$OUT" "^$G\$"
    has "$OUT" "^$GA\$"
    has "$OUT" "^$GC\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --list --type --state
    ok_rc
    has "$OUT" '^GROUP +TYPE +STATE *$'
    has "$OUT" "^$G +Classic +Empty *\$"
    has "$OUT" "^$GA +Consumer +Stable *\$"
    has "$OUT" "^$GC +Classic +Stable *\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --list --type consumer
    ok_rc
    has "$OUT" "^$GA +Consumer *\$"
    hasnt "$OUT" "^($G|$GC) "
}

# --reset-offsets: --dry-run changes nothing; --to-offset, --shift-by, --to-datetime, --to-latest
# with --execute, each printing the new offsets; the describe after shows them committed.
t_groups_reset_offsets() {
    local e0 e1
    e0=$(end_offset 0)
    e1=$(end_offset 1)
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --topic "$TG" --reset-offsets --to-latest --dry-run
    ok_rc
    has "$OUT" '^GROUP +TOPIC +PARTITION +NEW-OFFSET$'
    has "$OUT" "^$G +$TG +0 +$e0\$"
    has "$OUT" "^$G +$TG +1 +$e1\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --topic "$TG:0" --reset-offsets --to-offset 3 --execute
    ok_rc
    has "$OUT" "^$G +$TG +0 +3\$"
    hasnt "$OUT" "^$G +$TG +1 "
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --topic "$TG" --reset-offsets --shift-by -1 --execute
    ok_rc
    has "$OUT" "^$G +$TG +0 +2\$"
    has "$OUT" "^$G +$TG +1 +0\$" # 0 - 1 stays at the earliest offset
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$G"
    has "$OUT" "^$G +$TG +0 +2 +$e0 +$((e0 - 2)) +- +- +-\$"
    has "$OUT" "^$G +$TG +1 +0 +$e1 +$e1 +- +- +-\$"
    # --to-datetime: the first offset at or after the first record of the second produce run
    local first2 when
    first2=$(awk '$4 == "k6" || $4 == "k7" || $4 == "k8" || $4 == "k9" { print $3 }' "$WORK/groups.records" | sort -n | head -n 1)
    when=$(date -u -d "@$((first2 / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf '%03d' $((first2 % 1000)))Z
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --all-topics --reset-offsets --to-datetime "$when" --execute
    ok_rc
    local p want
    for p in 0 1; do
        want=$(awk -v p="$p" -v t="$first2" '$1 == p && $3 >= t { print $2 }' "$WORK/groups.records" | sort -n | head -n 1)
        [ -n "$want" ] || want=$(end_offset "$p")
        has "$OUT" "^$G +$TG +$p +$want\$"
    done
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --topic "$TG" --reset-offsets --to-latest --execute
    ok_rc
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$G"
    has "$OUT" "^$G +$TG +0 +$e0 +$e0 +0 +- +- +-\$"
    has "$OUT" "^$G +$TG +1 +$e1 +$e1 +0 +- +- +-\$"
}

# A running group's offsets cannot be reset, nor the offsets of a topic it subscribes to deleted.
t_groups_active_refused() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$GC" --topic "$TG" --reset-offsets --to-earliest --execute
    has "$OUT" "^Error: Assignments can only be reset if the group '$GC' is inactive, but the current state is Stable\.\$"
    hasnt "$OUT" "^$GC +$TG "
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$GA" --topic "$TG" --delete-offsets
    has "$OUT" '^Error: Encountered some partition-level error, see the follow-up details\.$'
    has "$OUT" "^$TG +0 +Error: org\.apache\.kafka\.common\.errors\.GroupSubscribedToTopicException: Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it\.\$"
}

t_groups_delete_offsets() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --group "$G" --topic "$TG:0" --delete-offsets
    ok_rc
    has "$OUT" "^Request succeeded for deleting offsets from group $G\.\$"
    has "$OUT" "^$TG +0 +Successful *\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$G"
    hasnt "$OUT" "^$G +$TG +0 "
    has "$OUT" "^$G +$TG +1 "
}

# --delete: the offline group goes, the running one is refused (GroupNotEmptyException); a deleted
# group is not found any more.
t_groups_delete() {
    run kafka-consumer-groups --bootstrap-server "$BOOT" --delete --group "$G" --group "$GA"
    has "$OUT" '^Error: Deletion of some consumer groups failed:$'
    has "$OUT" "^\* Group '$GA' could not be deleted due to: org\.apache\.kafka\.common\.errors\.GroupNotEmptyException: The group is not empty\.\$"
    has "$OUT" "^These consumer groups were deleted successfully: '$G'\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --delete --group "$G"
    has "$OUT" "^\* Group '$G' could not be deleted due to: org\.apache\.kafka\.common\.errors\.GroupIdNotFoundException: The group id does not exist\.\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --describe --group "$G"
    has "$OUT" "^Error: Executing consumer group command failed due to org\.apache\.kafka\.common\.errors\.GroupIdNotFoundException: Group $G not found\.\$"
    run kafka-consumer-groups --bootstrap-server "$BOOT" --list
    hasnt "$OUT" "^$G\$"
}

# ============================================================================================
# kafka-configs
t_configs_topic() {
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type topics --entity-name "$TT" \
        --add-config 'retention.ms=7200000,cleanup.policy=[compact,delete],max.message.bytes=2000000'
    ok_rc
    same "$OUT" "Completed updating config for topic $TT."
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type topics --entity-name "$TT"
    ok_rc
    same "$OUT" "Dynamic configs for topic $TT are:
  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}
  max.message.bytes=2000000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}
  retention.ms=7200000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=7200000}"
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type topics --entity-name "$TT" \
        --delete-config cleanup.policy,max.message.bytes
    ok_rc
    same "$OUT" "Completed updating config for topic $TT."
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type topics --entity-name "$TT"
    same "$OUT" "Dynamic configs for topic $TT are:
  retention.ms=7200000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=7200000}"
    # kafka-topics --describe shows the same
    run kafka-topics --bootstrap-server "$BOOT" --describe --topic "$TT"
    has "$OUT" "^Topic: $TT	.*Configs: (.*,)?retention\.ms=7200000(,.*)?\$"
    hasnt "$OUT" 'max\.message\.bytes'
}

t_configs_topic_errors() {
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type topics --entity-name "$TT" --add-config no.such.config=1
    fail_rc
    has "$ALL" "^Caused by: org\.apache\.kafka\.common\.errors\.InvalidConfigurationException: Unknown topic config name: no\.such\.config\$"
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type topics --entity-name "$TT" --add-config retention.ms=abc
    fail_rc
    has "$ALL" "^Caused by: org\.apache\.kafka\.common\.errors\.InvalidConfigurationException: Invalid value abc for configuration retention\.ms: Not a number of type LONG\$"
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type topics --entity-name "$P-nosuch" --add-config retention.ms=1
    fail_rc
    has "$ALL" "^Caused by: org\.apache\.kafka\.common\.errors\.UnknownTopicOrPartitionException: The topic '$P-nosuch' does not exist\.\$"
}

# --describe --all: every topic config with its value and where it comes from (Kafka 4.x
# defaults).
t_configs_topic_all() {
    run kafka-configs --bootstrap-server "$BOOT" --describe --all --entity-type topics --entity-name "$TT"
    ok_rc
    has "$OUT" "^All configs for topic $TT are:\$"
    has "$OUT" '^  retention\.ms=7200000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention\.ms=7200000\}$'
    has "$OUT" '^  cleanup\.policy=delete sensitive=false synonyms=\{DEFAULT_CONFIG:log\.cleanup\.policy=delete\}$'
    has "$OUT" '^  segment\.bytes=1073741824 sensitive=false synonyms=\{DEFAULT_CONFIG:log\.segment\.bytes=1073741824\}$'
    has "$OUT" '^  retention\.bytes=-1 sensitive=false synonyms=\{DEFAULT_CONFIG:log\.retention\.bytes=-1\}$'
    has "$OUT" '^  max\.message\.bytes=1048588 sensitive=false synonyms=\{DEFAULT_CONFIG:message\.max\.bytes=1048588\}$'
    has "$OUT" '^  compression\.type=producer sensitive=false synonyms=\{DEFAULT_CONFIG:compression\.type=producer\}$'
    has "$OUT" '^  message\.timestamp\.after\.max\.ms=3600000 sensitive=false synonyms=\{DEFAULT_CONFIG:log\.message\.timestamp\.after\.max\.ms=3600000\}$'
    has "$OUT" '^  message\.timestamp\.type=CreateTime sensitive=false synonyms=\{DEFAULT_CONFIG:log\.message\.timestamp\.type=CreateTime\}$'
    has "$OUT" '^  min\.insync\.replicas=1 sensitive=false synonyms=\{(DYNAMIC_DEFAULT_BROKER_CONFIG:min\.insync\.replicas=1, )?DEFAULT_CONFIG:min\.insync\.replicas=1\}$'
}

# Per-broker and cluster-default dynamic broker configs (log.cleaner.threads is the example of
# Kafka's docs; log.retention.ms is set to its default value, so other suites on the broker are
# not affected).
# (Each alters, describes, and deletes again before asserting, so that a failure leaves the broker
# as it was.)
t_configs_broker() {
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type brokers --entity-name "$BROKER_ID" --add-config log.cleaner.threads=2
    local alter_rc=$RC alter_out=$OUT
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type brokers --entity-name "$BROKER_ID"
    local described=$OUT
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type brokers --entity-name "$BROKER_ID" --delete-config log.cleaner.threads
    local delete_rc=$RC
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type brokers --entity-name "$BROKER_ID"
    RC=$alter_rc ok_rc
    same "$alter_out" "Completed updating config for broker $BROKER_ID."
    has "$described" "^Dynamic configs for broker $BROKER_ID are:\$"
    has "$described" '^  log\.cleaner\.threads=2 sensitive=false synonyms=\{DYNAMIC_BROKER_CONFIG:log\.cleaner\.threads=2, DEFAULT_CONFIG:log\.cleaner\.threads=1\}$'
    RC=$delete_rc ok_rc
    hasnt "$OUT" 'log\.cleaner\.threads'
}

t_configs_broker_default() {
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type brokers --entity-default --add-config log.retention.ms=604800000
    local alter_rc=$RC alter_out=$OUT
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type brokers --entity-default
    local described=$OUT
    # the per-broker view shows it with its synonyms
    run kafka-configs --bootstrap-server "$BOOT" --describe --all --entity-type brokers --entity-name "$BROKER_ID"
    local described_all=$OUT
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type brokers --entity-default --delete-config log.retention.ms
    local delete_rc=$RC
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type brokers --entity-default
    RC=$alter_rc ok_rc
    same "$alter_out" "Completed updating default config for brokers in the cluster."
    has "$described" '^Default configs for brokers in the cluster are:$'
    has "$described" '^  log\.retention\.ms=604800000 sensitive=false synonyms=\{DYNAMIC_DEFAULT_BROKER_CONFIG:log\.retention\.ms=604800000\}$'
    has "$described_all" '^  log\.retention\.ms=604800000 sensitive=false synonyms=\{DYNAMIC_DEFAULT_BROKER_CONFIG:log\.retention\.ms=604800000, DEFAULT_CONFIG:log\.retention\.hours=168\}$'
    RC=$delete_rc ok_rc
    hasnt "$OUT" 'log\.retention\.ms'
}

t_configs_broker_all() {
    run kafka-configs --bootstrap-server "$BOOT" --describe --all --entity-type brokers --entity-name "$BROKER_ID"
    ok_rc
    has "$OUT" "^All configs for broker $BROKER_ID are:\$"
    has "$OUT" '^  log\.retention\.hours=168 sensitive=false synonyms=\{DEFAULT_CONFIG:log\.retention\.hours=168\}$'
    has "$OUT" '^  message\.max\.bytes=1048588 sensitive=false synonyms=\{DEFAULT_CONFIG:message\.max\.bytes=1048588\}$'
    has "$OUT" '^  auto\.create\.topics\.enable=true sensitive=false synonyms=\{DEFAULT_CONFIG:auto\.create\.topics\.enable=true\}$'
    has "$OUT" '^  log\.message\.timestamp\.after\.max\.ms=3600000 sensitive=false synonyms=\{DEFAULT_CONFIG:log\.message\.timestamp\.after\.max\.ms=3600000\}$'
    has "$OUT" "^  node\.id=$BROKER_ID sensitive=false synonyms=\{"
    has "$OUT" "^  listeners=PLAINTEXT://$(re_escape "$BOOT")(,[^ ]*)? sensitive=false synonyms=\{STATIC_BROKER_CONFIG:listeners="
    # a bad value is refused with Kafka's message
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type brokers --entity-name "$BROKER_ID" --add-config log.retention.ms=abc
    fail_rc
    has "$ALL" '^Caused by: org\.apache\.kafka\.common\.errors\.InvalidRequestException: Invalid value abc for configuration log\.retention\.ms: Not a number of type LONG$'
}

# Group configs (KIP-848, --entity-type groups): Kafka 4.4's 21 names, each defaulting to a
# broker setting; set, described with both synonyms, refused when out of the broker's bounds or
# unknown, deleted back to the default. A group needs no members to have configs. (One config
# stays set: describing a group that has neither members nor configs asks ListConfigResources.)
GCFG=$P-cfg-g
GROUP_CONFIG_NAMES='consumer.assignment.interval.ms consumer.heartbeat.interval.ms consumer.session.timeout.ms
errors.deadletterqueue.copy.record.enable errors.deadletterqueue.topic.name share.assignment.interval.ms
share.auto.offset.reset share.delivery.count.limit share.heartbeat.interval.ms share.isolation.level
share.partition.max.record.locks share.record.lock.duration.ms share.renew.acknowledge.enable
share.session.timeout.ms streams.assignment.interval.ms streams.assignor.name streams.heartbeat.interval.ms
streams.initial.rebalance.delay.ms streams.num.standby.replicas streams.rack.aware.assignment.tags
streams.session.timeout.ms'
# the session timeout's default comes from the broker: Kafka's default or the broker's own setting
SESSION_DEFAULT='(DEFAULT_CONFIG|STATIC_BROKER_CONFIG):group\.consumer\.session\.timeout\.ms=([0-9]+)'
t_configs_group() {
    run kafka-configs --bootstrap-server "$BOOT" --describe --all --entity-type groups --entity-name "$GCFG"
    ok_rc
    has "$OUT" "^All configs for group $GCFG are:\$"
    same "$(sed -n 's/^  \([a-z.]*\)=.*/\1/p' <<<"$OUT" | tr '\n' ' ')" "$(printf '%s ' $GROUP_CONFIG_NAMES)"
    has "$OUT" "^  consumer\.session\.timeout\.ms=([0-9]+) sensitive=false synonyms=\{$SESSION_DEFAULT\}\$"
    has "$OUT" '^  share\.isolation\.level=read_uncommitted sensitive=false synonyms=\{DEFAULT_CONFIG:share\.isolation\.level=read_uncommitted\}$'
    has "$OUT" '^  streams\.assignor\.name=sticky sensitive=false synonyms=\{DEFAULT_CONFIG:group\.streams\.assignors=sticky\}$'
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type groups --entity-name "$GCFG" \
        --add-config consumer.session.timeout.ms=50000,share.isolation.level=read_committed
    ok_rc
    same "$OUT" "Completed updating config for group $GCFG."
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type groups --entity-name "$GCFG"
    ok_rc
    same "$(head -n 1 <<<"$OUT")" "Dynamic configs for group $GCFG are:"
    has "$OUT" "^  consumer\.session\.timeout\.ms=50000 sensitive=false synonyms=\{DYNAMIC_GROUP_CONFIG:consumer\.session\.timeout\.ms=50000, $SESSION_DEFAULT\}\$"
    has "$OUT" '^  share\.isolation\.level=read_committed sensitive=false synonyms=\{DYNAMIC_GROUP_CONFIG:share\.isolation\.level=read_committed, DEFAULT_CONFIG:share\.isolation\.level=read_uncommitted\}$'
    same "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 3
    # refused with Kafka's messages (the bounds are the broker's group.consumer.min/max.session.timeout.ms)
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type groups --entity-name "$GCFG" --add-config consumer.session.timeout.ms=1
    fail_rc
    has "$ALL" '^Caused by: org\.apache\.kafka\.common\.errors\.InvalidConfigurationException: consumer\.session\.timeout\.ms must be in the range [0-9]+ to [0-9]+ inclusive\.$'
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type groups --entity-name "$GCFG" --add-config consumer.heartbeat.interval.ms=abc
    fail_rc
    has "$ALL" '^Caused by: org\.apache\.kafka\.common\.errors\.InvalidConfigurationException: Invalid value abc for configuration consumer\.heartbeat\.interval\.ms: Not a number of type INT$'
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type groups --entity-name "$GCFG" --add-config no.such.config=1
    fail_rc
    has "$ALL" '^Caused by: org\.apache\.kafka\.common\.errors\.InvalidConfigurationException: Unknown group config name: no\.such\.config$'
    run kafka-configs --bootstrap-server "$BOOT" --describe --entity-type groups --entity-name "$GCFG"
    has "$OUT" '^  consumer\.session\.timeout\.ms=50000 '
    hasnt "$OUT" 'heartbeat|no\.such'
    # deleted: back to the broker's default
    run kafka-configs --bootstrap-server "$BOOT" --alter --entity-type groups --entity-name "$GCFG" --delete-config consumer.session.timeout.ms
    ok_rc
    same "$OUT" "Completed updating config for group $GCFG."
    run kafka-configs --bootstrap-server "$BOOT" --describe --all --entity-type groups --entity-name "$GCFG"
    ok_rc
    has "$OUT" "^  consumer\.session\.timeout\.ms=([0-9]+) sensitive=false synonyms=\{$SESSION_DEFAULT\}\$"
    has "$OUT" '^  share\.isolation\.level=read_committed sensitive=false synonyms=\{DYNAMIC_GROUP_CONFIG:share\.isolation\.level=read_committed, DEFAULT_CONFIG:share\.isolation\.level=read_uncommitted\}$'
}

# ============================================================================================
# kafka-get-offsets on the groups topic (10 records, known timestamps)
t_get_offsets() {
    local e0 e1
    e0=$(end_offset 0)
    e1=$(end_offset 1)
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG"
    ok_rc
    same "$OUT" "$TG:0:$e0
$TG:1:$e1"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --time -1
    same "$OUT" "$TG:0:$e0
$TG:1:$e1"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --time -2
    same "$OUT" "$TG:0:0
$TG:1:0"
    # -3: the offset of the record with the largest timestamp (the first such, on ties)
    local want_max="" p
    for p in 0 1; do
        [ "$(end_offset "$p")" -gt 0 ] || continue
        want_max="$want_max$TG:$p:$(awk -v p="$p" '$1 == p { if (!n || $3 > best) { best = $3; off = $2 }; n++ } END { print off }' "$WORK/groups.records")
"
    done
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --time -3
    same "$OUT" "${want_max%$'\n'}"
    # by time: the first offset with a timestamp at or after it (nothing for a partition without)
    local first2 want_t=""
    first2=$(awk '$4 == "k6" || $4 == "k7" || $4 == "k8" || $4 == "k9" { print $3 }' "$WORK/groups.records" | sort -n | head -n 1)
    for p in 0 1; do
        local o
        o=$(awk -v p="$p" -v t="$first2" '$1 == p && $3 >= t { print $2 }' "$WORK/groups.records" | sort -n | head -n 1)
        [ -z "$o" ] || want_t="$want_t$TG:$p:$o
"
    done
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --time "$first2"
    same "$OUT" "${want_t%$'\n'}"
    # -4: earliest local offset; partition filters
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic-partitions "$TG:1" --time -4
    same "$OUT" "$TG:1:0"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --partitions 0
    same "$OUT" "$TG:0:$e0"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$P-nosuch"
    fail_rc
    has "$ALL" '^Error occurred: Could not match any topic-partitions with the specified filters$'
}

# -5 (latest tiered offset, ListOffsets v9+): nothing tiered, so nothing printed and no error.
t_get_offsets_latest_tiered() {
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --time -5
    ok_rc
    same "$OUT" ""
    hasnt "$ERR" 'Skip getting offsets|UnsupportedVersion'
}

# ============================================================================================
# kafka-delete-records with an offset JSON file
t_delete_records() {
    local e1
    e1=$(end_offset 1)
    [ "$e1" -ge 2 ] || { echo "partition 1 has fewer than 2 records"; return 1; }
    printf '{"version":1,"partitions":[{"topic":"%s","partition":1,"offset":1}]}\n' "$TG" >"$WORK/del1.json"
    run kafka-delete-records --bootstrap-server "$BOOT" --offset-json-file "$WORK/del1.json"
    ok_rc
    same "$OUT" "Executing records delete operation
Records delete operation completed:
partition: $TG-1	low_watermark: 1"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TG" --time -2
    same "$OUT" "$TG:0:0
$TG:1:1"
    printf '{"version":1,"partitions":[{"topic":"%s","partition":1,"offset":%d}]}\n' "$TG" $((e1 + 5)) >"$WORK/del2.json"
    run kafka-delete-records --bootstrap-server "$BOOT" --offset-json-file "$WORK/del2.json"
    has "$OUT" "^partition: $TG-1	error: org\.apache\.kafka\.common\.errors\.OffsetOutOfRangeException: The requested offset is not within the range of offsets maintained by the server\.\$"
    # -1: up to the high watermark
    printf '{"version":1,"partitions":[{"topic":"%s","partition":1,"offset":-1}]}\n' "$TG" >"$WORK/del3.json"
    run kafka-delete-records --bootstrap-server "$BOOT" --offset-json-file "$WORK/del3.json"
    ok_rc
    has "$OUT" "^partition: $TG-1	low_watermark: $e1\$"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic-partitions "$TG:1" --time -2
    same "$OUT" "$TG:1:$e1"
}

# ============================================================================================
# kafka-log-dirs (DescribeLogDirs): the broker's log directory and each partition's size on disk.
# All records of one key go to one partition: it has a size, the other is empty; the size grows
# with the next records.
TL=$P-logdirs
# log_dirs_check JSON_FILE FULL_PARTITION MIN_SIZE: checks the tool's JSON, prints the size of the
# partition that holds the records
log_dirs_check() {
    py "$1" "$TL" "$BROKER_ID" "$2" "$3" <<'EOF'
import json, sys
path, topic, broker, full, min_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
(line,) = [l for l in open(path) if l.startswith("{")]
d = json.loads(line)
assert d["version"] == 1, d
assert [b["broker"] for b in d["brokers"]] == [broker], d["brokers"]
dirs = d["brokers"][0]["logDirs"]
assert dirs, "no log dir"
for l in dirs:
    assert l["error"] is None, l
    assert l["logDir"].startswith("/"), l["logDir"]
parts = {p["partition"]: p for l in dirs for p in l["partitions"] if p["partition"].startswith(topic + "-")}
assert set(parts) == {f"{topic}-0", f"{topic}-1"}, sorted(parts)
for p in parts.values():
    assert p["offsetLag"] == 0 and p["isFuture"] is False, p
assert parts[f"{topic}-{1 - full}"]["size"] == 0, parts
size = parts[f"{topic}-{full}"]["size"]
assert size >= min_size, f"{size} bytes, expected at least {min_size}"
print(size)
EOF
}
t_log_dirs() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TL" --partitions 2
    ok_rc
    seq -w 1 20 | sed 's/.*/k:value-&/' >"$WORK/ld1.in"
    STDIN=$WORK/ld1.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TL" \
        --reader-property parse.key=true --reader-property key.separator=:
    ok_rc
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TL"
    local full
    full=$(sed -n "s/^$TL:\([01]\):20\$/\1/p" <<<"$OUT")
    [ -n "$full" ] || { echo "ASSERT: expected one partition with all 20 records"; return 1; }
    run kafka-log-dirs --bootstrap-server "$BOOT" --describe --topic-list "$TL"
    ok_rc
    has "$OUT" '^Querying brokers for log directories information$'
    has "$OUT" "^Received log directory information from brokers $BROKER_ID\$"
    printf '%s\n' "$OUT" >"$WORK/ld1.json"
    local size1 size2
    size1=$(log_dirs_check "$WORK/ld1.json" "$full" 160) # 20 values of 8 bytes, at the least
    echo "size of $TL-$full: $size1"
    seq -w 21 40 | sed 's/.*/k:value-&/' >"$WORK/ld2.in"
    STDIN=$WORK/ld2.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TL" \
        --reader-property parse.key=true --reader-property key.separator=:
    ok_rc
    # without --topic-list: every partition of the broker, this topic's among them
    run kafka-log-dirs --bootstrap-server "$BOOT" --describe
    ok_rc
    printf '%s\n' "$OUT" >"$WORK/ld2.json"
    size2=$(log_dirs_check "$WORK/ld2.json" "$full" $((size1 + 160)))
    echo "size of $TL-$full after 20 more records: $size2"
    # a broker that does not exist
    run kafka-log-dirs --bootstrap-server "$BOOT" --describe --broker-list 99
    fail_rc
    has "$ALL" "^ERROR: The given brokers do not exist from --broker-list: 99\. Current existent brokers: $BROKER_ID\$"
}

# ============================================================================================
# kafka-transactions: an open transaction left by a producer that halted mid-transaction
TX=$P-txn
TXID=$P-txid
txn_setup() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TX" --partitions 1
    ok_rc
    printf 'a\nb\n' >"$WORK/ab.in"
    STDIN=$WORK/ab.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TX"
    ok_rc
    echo "\$ java OpenTxn $BOOT $TXID $TX 3 120000   # begin, send 3 records, halt"
    timeout 60 java -Xmx128m $QUICK_JVM -Dlog4j2.configurationFile="$LOG4J" \
        -cp "$HELPER_DIR/classes:$(cat "$CP_FILE")" OpenTxn "$BOOT" "$TXID" "$TX" 3 120000
}

t_transactions_list() {
    run kafka-transactions --bootstrap-server "$BOOT" list
    awk -F'\t' -v id="$TXID" '{ gsub(/ /, "", $1) } $1 == id { gsub(/ /, "", $3); print $3 }' <<<"$OUT" >"$WORK/txn.pid"
    ok_rc
    has "$OUT" '^TransactionalId *	Coordinator *	ProducerId *	TransactionState *	$'
    has "$OUT" "^$TXID *	$BROKER_ID *	[0-9]+ *	Ongoing *	\$"
    run kafka-transactions --bootstrap-server "$BOOT" list --transactional-id-pattern "$P-.*"
    ok_rc
    same "$(printf '%s\n' "$OUT" | sed 's/ *	/	/g')" "TransactionalId	Coordinator	ProducerId	TransactionState	
$TXID	$BROKER_ID	$(cat "$WORK/txn.pid")	Ongoing	"
    run kafka-transactions --bootstrap-server "$BOOT" list --duration-filter 600000
    ok_rc
    hasnt "$OUT" "^$TXID "
}

t_transactions_describe() {
    run kafka-transactions --bootstrap-server "$BOOT" describe --transactional-id "$TXID"
    ok_rc
    has "$OUT" '^CoordinatorId *	TransactionalId *	ProducerId *	ProducerEpoch *	TransactionState *	TransactionTimeoutMs *	CurrentTransactionStartTimeMs *	TransactionDurationMs *	TopicPartitions *	$'
    has "$OUT" "^$BROKER_ID *	$TXID *	$(cat "$WORK/txn.pid") *	0 *	Ongoing *	120000 *	[0-9]{13} *	[0-9]+ *	$TX-0 *	\$"
    run kafka-transactions --bootstrap-server "$BOOT" describe --transactional-id "$P-nosuch"
    fail_rc
    has "$ERR" "^Failed to describe transaction state of transactional-id \`$P-nosuch\`: DescribeTransactions request for transactionalId \`$P-nosuch\` failed because the ID could not be found\."
}

t_transactions_describe_producers() {
    run kafka-transactions --bootstrap-server "$BOOT" describe-producers --topic "$TX" --partition 0
    ok_rc
    has "$OUT" '^ProducerId *	ProducerEpoch *	LatestCoordinatorEpoch *	LastSequence *	LastTimestamp *	CurrentTransactionStartOffset *	$'
    # the console producer (done) and the transactional one (open since offset 2)
    has "$OUT" "^[0-9]+ *	0 *	-1 *	1 *	[0-9]{13} *	None *	\$"
    has "$OUT" "^$(cat "$WORK/txn.pid") *	0 *	-1 *	2 *	[0-9]{13} *	2 *	\$"
}

# find-hanging: an open transaction the coordinator knows is not hanging, even when every open
# transaction is a candidate (--max-transaction-timeout 0).
t_transactions_find_hanging() {
    run kafka-transactions --bootstrap-server "$BOOT" find-hanging --broker-id "$BROKER_ID"
    ok_rc
    has "$OUT" '^Topic *	Partition *	ProducerId *	ProducerEpoch *	CoordinatorEpoch *	StartOffset *	LastTimestamp *	Duration\(min\) *	$'
    hasnt "$OUT" "^$TX "
    run kafka-transactions --bootstrap-server "$BOOT" find-hanging --topic "$TX" --max-transaction-timeout 0
    ok_rc
    same "$(sed 's/ *	/	/g' <<<"$OUT")" "$(printf 'Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)\t')"
}

# abort: writes the abort marker for the open transaction; the partition's producer has no open
# transaction any more and read_committed readers move past it.
t_transactions_abort() {
    run kafka-transactions --bootstrap-server "$BOOT" abort --topic "$TX" --partition 0 --start-offset 2
    ok_rc
    same "$OUT" ""
    run kafka-transactions --bootstrap-server "$BOOT" describe-producers --topic "$TX" --partition 0
    has "$OUT" "^$(cat "$WORK/txn.pid") *	0 *	[0-9]+ *	2 *	[0-9]{13} *	None *	\$"
    printf 'c\n' >"$WORK/c.in"
    STDIN=$WORK/c.in run kafka-console-producer --bootstrap-server "$BOOT" --topic "$TX"
    ok_rc
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TX"
    same "$OUT" "$TX:0:7" # a b (0-1), 3 aborted (2-4), the marker (5), c (6)
    run kafka-console-consumer --bootstrap-server "$BOOT" --topic "$TX" --from-beginning --max-messages 3 \
        --isolation-level read_committed --formatter-property print.offset=true
    ok_rc
    same "$OUT" "Offset:0	a
Offset:1	b
Offset:6	c"
}

# forceTerminateTransaction (KIP-939): fences the producer and aborts what the coordinator still
# holds open.
txn_terminated() {
    run kafka-transactions --bootstrap-server "$BOOT" describe --transactional-id "$TXID"
    has "$OUT" "^$BROKER_ID *	$TXID *	$(cat "$WORK/txn.pid") *	[1-9][0-9]* *	Empty *	"
}
t_transactions_force_terminate() {
    run kafka-transactions --bootstrap-server "$BOOT" forceTerminateTransaction --transactionalId "$TXID"
    ok_rc
    until_ok 30 txn_terminated
    has "$OUT" "^$BROKER_ID *	$TXID *	[0-9]+ *	[0-9]+ *	Empty *	[0-9]+ *	None *	None *	 *	\$"
    run kafka-transactions --bootstrap-server "$BOOT" list --transactional-id-pattern "$P-.*"
    has "$OUT" "^$TXID *	$BROKER_ID *	[0-9]+ *	Empty *	\$"
}

# ============================================================================================
# kafka-verifiable-producer / kafka-verifiable-consumer (the tools Kafka's system tests drive)
TV=$P-verifiable
TV2=$P-verifiable-group
# verify_produced OUT: JSON events of one producer run; every record acked once, offsets per
# partition contiguous from 0, one key one partition. Writes "topic partition offset key value"
# lines of the acked records to OUT.acked.
verify_produced() {
    py "$1" "$2" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
n = int(sys.argv[2])
names = [e["name"] for e in events]
assert names[0] == "startup_complete", names[:3]
assert "shutdown_complete" in names, names[-3:]
assert not [e for e in events if e["name"] == "producer_send_error"], [e for e in events if e["name"] == "producer_send_error"][:3]
acked = [e for e in events if e["name"] == "producer_send_success"]
assert len(acked) == n, f"{len(acked)} acked, expected {n}"
(tool,) = [e for e in events if e["name"] == "tool_data"]
assert tool["sent"] == n and tool["acked"] == n, tool
assert sorted(int(e["value"]) for e in acked) == list(range(n)), "values are 0..n-1"
parts, key_part = {}, {}
for e in acked:
    parts.setdefault(e["partition"], []).append(e["offset"])
    assert key_part.setdefault(e["key"], e["partition"]) == e["partition"], f"key {e['key']} in two partitions"
for p, offs in parts.items():
    assert sorted(offs) == list(range(len(offs))), f"partition {p}: offsets not contiguous from 0"
with open(sys.argv[1] + ".acked", "w") as f:
    for e in acked:
        f.write(f"{e['topic']} {e['partition']} {e['offset']} {e['key']} {e['value']}\n")
print(f"{n} acked over partitions {sorted(parts)}; {len(key_part)} keys")
EOF
}
# verify_consumed ACKED CONSUMER_OUT...: every acked record consumed exactly once (over all the
# consumers), nothing else; each consumer's last commit is its position.
verify_consumed() {
    py "$@" <<'EOF'
import json, sys
acked = {tuple(l.split()) for l in open(sys.argv[1])}
seen, consumed_events = {}, 0
for path in sys.argv[2:]:
    events = [json.loads(l) for l in open(path) if l.startswith("{")]
    names = [e["name"] for e in events]
    assert names[0] == "startup_complete", (path, names[:3])
    assert "partitions_assigned" in names, (path, names)
    position = {}
    for e in events:
        if e["name"] == "record_data":
            r = (e["topic"], str(e["partition"]), str(e["offset"]), e["key"], e["value"])
            seen[r] = seen.get(r, 0) + 1
            position[(e["topic"], e["partition"])] = e["offset"] + 1
        elif e["name"] == "records_consumed":
            consumed_events += e["count"]
            for p in e["partitions"]:
                assert p["maxOffset"] - p["minOffset"] + 1 >= p["count"], p
        elif e["name"] == "offsets_committed":
            assert e["success"], e
    commits = {}
    for e in events:
        if e["name"] == "offsets_committed":
            for o in e["offsets"]:
                commits[(o["topic"], o["partition"])] = o["offset"]
    for tp, pos in position.items():
        assert commits.get(tp) == pos, f"{path}: {tp} consumed up to {pos}, last commit {commits.get(tp)}"
dups = {r: n for r, n in seen.items() if n > 1}
assert not dups, f"consumed more than once: {list(dups.items())[:5]}"
extra = set(seen) - acked
assert not extra, f"consumed but never acked: {sorted(extra)[:5]}"
missing = acked - set(seen)
assert not missing, f"acked but not consumed: {sorted(missing)[:5]}"
assert consumed_events == len(seen), (consumed_events, len(seen))
print(f"{len(seen)} records consumed exactly once by {len(sys.argv) - 2} consumer(s)")
EOF
}

t_verifiable_producer() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TV" --partitions 3
    ok_rc
    run kafka-verifiable-producer --bootstrap-server "$BOOT" --topic "$TV" --max-messages 1000 --repeating-keys 20 --acks -1
    ok_rc
    printf '%s\n' "$OUT" >"$WORK/vp.json"
    verify_produced "$WORK/vp.json" 1000
}

# One classic consumer: --max-messages stops it after everything was read and committed.
t_verifiable_consumer() {
    run kafka-verifiable-consumer --bootstrap-server "$BOOT" --topic "$TV" --group-id "$P-vc" \
        --max-messages 1000 --verbose --session-timeout 10000
    ok_rc
    printf '%s\n' "$OUT" >"$WORK/vc.json"
    has "$OUT" '"name":"partitions_assigned","partitions":\[(\{"topic":"[^"]+","partition":[0-2]\},?){3}\]'
    has "$OUT" '"name":"shutdown_complete"'
    verify_consumed "$WORK/vp.json.acked" "$WORK/vc.json"
}

# Two KIP-848 consumers in one group split 4 partitions; once both hold partitions, a producer
# writes 2000 records; together they consume each exactly once and commit their positions.
assignment_split() {
    py "$WORK/vg1.out" "$WORK/vg2.out" <<'EOF'
import json, sys
owned = []
for path in sys.argv[1:]:
    mine = set()
    for l in open(path):
        if not l.startswith("{"):
            continue
        e = json.loads(l)
        if e["name"] == "partitions_assigned":
            mine |= {p["partition"] for p in e["partitions"]}
        elif e["name"] == "partitions_revoked":
            mine -= {p["partition"] for p in e["partitions"]}
    owned.append(mine)
assert all(owned) and not (owned[0] & owned[1]) and owned[0] | owned[1] == {0, 1, 2, 3}, owned
print("assignment", owned)
EOF
}
# everything consumed and each consumer's commits caught up with its position
all_consumed() { verify_consumed "$WORK/vp2.json.acked" "$WORK/vg1.out" "$WORK/vg2.out"; }
t_verifiable_consumer_group() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TV2" --partitions 4
    ok_rc
    local i
    for i in 1 2; do
        start_bg "vg$i" kafka-verifiable-consumer --bootstrap-server "$BOOT" --topic "$TV2" --group-id "$P-vg" \
            --group-protocol consumer --verbose
    done
    until_ok 60 assignment_split
    run kafka-verifiable-producer --bootstrap-server "$BOOT" --topic "$TV2" --max-messages 2000 --repeating-keys 50
    ok_rc
    printf '%s\n' "$OUT" >"$WORK/vp2.json"
    verify_produced "$WORK/vp2.json" 2000
    until_ok 60 all_consumed
    stop_bg vg1
    stop_bg vg2
    grep -q '"name":"shutdown_complete"' "$WORK/vg1.out"
    grep -q '"name":"shutdown_complete"' "$WORK/vg2.out"
    verify_consumed "$WORK/vp2.json.acked" "$WORK/vg1.out" "$WORK/vg2.out"
}

# ============================================================================================
# kafka-producer-perf-test / kafka-consumer-perf-test (small runs: they complete and count right)
TP=$P-perf
PERF_LINE='records sent, [0-9.]+ records/sec \([0-9.]+ MB/sec\), [0-9.]+ ms avg latency, [0-9.]+ ms max latency, [0-9]+ ms 50th, [0-9]+ ms 95th, [0-9]+ ms 99th, [0-9]+ ms 99\.9th\.$'
t_producer_perf_test() {
    run kafka-topics --bootstrap-server "$BOOT" --create --topic "$TP" --partitions 3
    ok_rc
    TOOL_TIMEOUT=120 run kafka-producer-perf-test --bootstrap-server "$BOOT" --topic "$TP" --num-records 20000 \
        --record-size 100 --throughput -1 --command-property acks=all linger.ms=5
    ok_rc
    has "$OUT" "^20000 $PERF_LINE"
    run kafka-get-offsets --bootstrap-server "$BOOT" --topic "$TP"
    same "$(printf '%s\n' "$OUT" | awk -F: '{ s += $3 } END { print s }')" 20000
}

t_producer_perf_test_transactional() {
    TOOL_TIMEOUT=120 run kafka-producer-perf-test --bootstrap-server "$BOOT" --topic "$TP" --num-records 2000 \
        --record-size 100 --throughput -1 --transactional-id "$P-perf-txn" --transaction-duration-ms 100
    ok_rc
    has "$OUT" "^2000 $PERF_LINE"
}

t_consumer_perf_test() {
    TOOL_TIMEOUT=120 run kafka-consumer-perf-test --bootstrap-server "$BOOT" --topic "$TP" --num-records 22000 \
        --timeout 30000 --group "$P-perf-g"
    ok_rc
    has "$OUT" '^start\.time, end\.time, data\.consumed\.in\.MB, MB\.sec, data\.consumed\.in\.nMsg, nMsg\.sec, rebalance\.time\.ms, fetch\.time\.ms, fetch\.MB\.sec, fetch\.nMsg\.sec$'
    # 22000 records of 100 bytes: 2.0981 MB
    has "$OUT" '^[0-9-]+ [0-9:]+, [0-9-]+ [0-9:]+, 2\.0981, [0-9.]+, 22000, [0-9.]+, [0-9]+, [0-9]+, [0-9.]+, [0-9.]+$'
    hasnt "$ERR" 'WARN Exiting before consuming the expected number of messages'
}

# ============================================================================================
echo "kafka-tools: Kafka $KAFKA_VERSION tools against $BOOT (names $P-*)"
check broker-api-versions t_broker_api_versions
BROKER_ID=$(sed -n 's/.*(id: \([0-9]*\) rack.*/\1/p' "$WORK/broker-api-versions.log" | head -n 1)
BROKER_ID=${BROKER_ID:-1}
check features t_features
check metadata-quorum t_metadata_quorum

check topics-create t_topics_create
check topics-list t_topics_list
check topics-describe t_topics_describe
check topics-alter-partitions t_topics_alter_partitions
check topics-errors t_topics_errors
check topics-delete t_topics_delete

check console-produce-consume t_console_produce_consume
check console-consumer-partition-offset t_console_consumer_partition_offset
check console-consumer-group t_console_consumer_group

# groups_setup starts background consumers, so it runs in this shell (not a check's subshell)
set +e
setup_start=$SECONDS
(set -e; groups_setup) >"$WORK/groups-setup.log" 2>&1
setup_rc=$?
echo "$((SECONDS - setup_start)) groups-setup" >>"$WORK/times"
set -e
if [ "$setup_rc" -ne 0 ]; then
    echo "# consumer groups setup failed:"
    sed 's/^/    # /' "$WORK/groups-setup.log" | tail -n 30
fi
[ -z "${KAFKA_TOOLS_LOGS:-}" ] || cp "$WORK/groups-setup.log" "$KAFKA_TOOLS_LOGS/groups-setup.log"
check groups-describe-members t_groups_describe_members
check groups-describe-state t_groups_describe_state
check groups-describe-offsets t_groups_describe_offsets
check groups-list t_groups_list
check groups-reset-offsets t_groups_reset_offsets
check groups-active-refused t_groups_active_refused
check groups-delete-offsets t_groups_delete_offsets
check groups-delete t_groups_delete
for bg in ga gc; do [ -f "$WORK/$bg.pid" ] && stop_bg "$bg"; done

check configs-topic t_configs_topic
check configs-topic-errors t_configs_topic_errors
check configs-topic-all t_configs_topic_all
check configs-broker t_configs_broker
check configs-broker-default t_configs_broker_default
check configs-broker-all t_configs_broker_all
check configs-group t_configs_group

check get-offsets t_get_offsets
check get-offsets-latest-tiered t_get_offsets_latest_tiered
check delete-records t_delete_records
check log-dirs t_log_dirs

set +e
setup_start=$SECONDS
(set -e; txn_setup) >"$WORK/txn-setup.log" 2>&1
setup_rc=$?
echo "$((SECONDS - setup_start)) txn-setup" >>"$WORK/times"
set -e
if [ "$setup_rc" -ne 0 ]; then
    echo "# transactions setup failed:"
    sed 's/^/    # /' "$WORK/txn-setup.log" | tail -n 30
fi
[ -z "${KAFKA_TOOLS_LOGS:-}" ] || cp "$WORK/txn-setup.log" "$KAFKA_TOOLS_LOGS/txn-setup.log"
check transactions-list t_transactions_list
check transactions-describe t_transactions_describe
check transactions-describe-producers t_transactions_describe_producers
check transactions-find-hanging t_transactions_find_hanging
check transactions-abort t_transactions_abort
check transactions-force-terminate t_transactions_force_terminate

check verifiable-producer t_verifiable_producer
check verifiable-consumer t_verifiable_consumer
check verifiable-consumer-group t_verifiable_consumer_group

check producer-perf-test t_producer_perf_test
check producer-perf-test-transactional t_producer_perf_test_transactional
check consumer-perf-test t_consumer_perf_test

# leave the broker as found: the suite's topics go (its groups and transactional ids expire)
run kafka-topics --bootstrap-server "$BOOT" --delete --topic "$P-.*" >/dev/null 2>&1 || true

echo "# slowest checks (s): $(sort -rn "$WORK/times" | head -n 6 | awk '{ printf "%s %s, ", $2, $1 }')total ${SECONDS}s"
echo "kafka-tools: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
