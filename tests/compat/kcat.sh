#!/usr/bin/env bash
# kcat (librdkafka) against a running Tributary broker on 127.0.0.1:PORT.
#
# Usage: tests/compat/kcat.sh PORT
#   TRIBUTARY_BIN  the tributary binary (for `topic create`; kcat cannot create topics)
#   PYTHON         a python3 (stdlib only is needed here; default python3)
#
# Prints one TAP-like line per check ("ok - NAME" / "not ok - NAME") and, last,
# "kcat: N passed, M failed". Exits non-zero if any check failed.
set -euo pipefail

PORT=${1:?usage: kcat.sh PORT}
BROKER=127.0.0.1:$PORT
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TRIBUTARY_BIN=${TRIBUTARY_BIN:-tributary}
PYTHON=${PYTHON:-python3}
KCAT=${KCAT:-kcat}
SUFFIX=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
# check NAME CMD...: runs CMD (output to $WORK/NAME.log) in a subshell with errexit on, so any
# failing step fails the check; records ok / not ok.
check() {
    local name=$1 rc
    shift
    set +e
    (set -e; "$@") >"$WORK/$name.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok - kcat/$name"
    else
        failed=$((failed + 1))
        echo "not ok - kcat/$name"
        sed 's/^/    # /' "$WORK/$name.log" | tail -n 40
    fi
}

# Every kcat call is bounded: librdkafka retries forever on some errors.
kc() { timeout 20 "$KCAT" -b "$BROKER" -X socket.timeout.ms=5000 "$@"; }

TOPIC=compat-kcat-$SUFFIX
NPART=4
NMSG=50

# ---------------------------------------------------------------------------
t_murmur2_selftest() { "$PYTHON" "$HERE/murmur2.py" --self-test; }

t_create_topic() {
    timeout 20 "$TRIBUTARY_BIN" topic create "$TOPIC" -p "$NPART" -b "$BROKER" --timeout-ms 5000
}

# kcat -L: the broker we talk to, and the topic with 4 partitions led by it.
t_metadata_list() {
    kc -L -J -t "$TOPIC" >"$WORK/meta.json"
    "$PYTHON" - "$WORK/meta.json" "$TOPIC" "$NPART" "$PORT" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1])); topic, npart, port = sys.argv[2], int(sys.argv[3]), sys.argv[4]
print(json.dumps(meta))
brokers = meta["brokers"]
assert len(brokers) == 1 and brokers[0]["name"] == f"127.0.0.1:{port}", brokers
bid = brokers[0]["id"]
assert meta["controllerid"] == bid, meta["controllerid"]
(t,) = [t for t in meta["topics"] if t["topic"] == topic]
assert "error" not in t, t
parts = sorted(t["partitions"], key=lambda p: p["partition"])
assert [p["partition"] for p in parts] == list(range(npart)), parts
for p in parts:
    assert "error" not in p, p
    assert p["leader"] == bid and p["replicas"] == [{"id": bid}] and p["isrs"] == [{"id": bid}], p
EOF
    # The plain listing of all topics names it too.
    kc -L | grep -F "topic \"$TOPIC\" with $NPART partitions"
}

# Produce NMSG keyed records with two headers through librdkafka's murmur2 partitioner.
t_produce_keyed() {
    for i in $(seq 1 "$NMSG"); do echo "key-$i:value-$i"; done >"$WORK/in.txt"
    kc -P -t "$TOPIC" -K: -H a=b -H trace=x-$SUFFIX -X partitioner=murmur2_random -l "$WORK/in.txt"
}

# Read everything back: every record exactly once, headers intact, offsets 0.. contiguous
# per partition, and partition == toPositive(murmur2(key)) % 4 as in the Java client.
t_consume_verify() {
    kc -C -t "$TOPIC" -e -q -f '%p\t%o\t%k\t%h\t%s\n' >"$WORK/out.tsv"
    "$PYTHON" - "$WORK/out.tsv" "$NMSG" "$NPART" "x-$SUFFIX" "$HERE" <<'EOF'
import sys
out, nmsg, npart, trace, here = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, here)
from murmur2 import partition_for
rows = [l.rstrip("\n").split("\t") for l in open(out) if l.strip()]
assert len(rows) == nmsg, f"{len(rows)} records read, {nmsg} produced"
seen, offsets = {}, {}
for p, o, k, h, v in rows:
    p, o = int(p), int(o)
    assert k not in seen, f"key {k} read twice"
    seen[k] = v
    assert v == "value-" + k.split("-", 1)[1], (k, v)
    assert h == f"a=b,trace={trace}", f"headers of {k}: {h!r}"
    want = partition_for(k.encode(), npart)
    assert p == want, f"key {k} in partition {p}, murmur2 says {want}"
    offsets.setdefault(p, []).append(o)
assert set(seen) == {f"key-{i}" for i in range(1, nmsg + 1)}
for p, offs in offsets.items():
    assert offs == list(range(len(offs))), f"partition {p} offsets {offs}"
print({p: len(o) for p, o in sorted(offsets.items())})
EOF
}

# The partition that received most records, and its record count.
busiest() {
    cut -f1 "$WORK/out.tsv" | sort | uniq -c | sort -k1,1nr -k2,2n | head -n1 | awk '{print $2, $1}'
}

# -o N on one partition: starts at N, runs contiguously to the end.
t_consume_from_offset() {
    read -r p n < <(busiest)
    [ "$n" -ge 3 ] || { echo "partition $p has only $n records"; return 1; }
    kc -C -t "$TOPIC" -p "$p" -o 2 -e -q -f '%o %k\n' >"$WORK/from2.txt"
    cat "$WORK/from2.txt"
    local want
    want=$(seq 2 $((n - 1)) | tr '\n' ' ')
    [ "$(cut -d' ' -f1 "$WORK/from2.txt" | tr '\n' ' ')" = "$want" ] || { echo "want offsets $want"; return 1; }
    # and the same records as the full read
    diff <(awk -F'\t' -v p="$p" '$1 == p && $2 >= 2 {print $2, $3}' "$WORK/out.tsv") "$WORK/from2.txt"
}

# -o beginning with -c, -o -2 (two before the end), -o end (nothing).
t_consume_beginning_end() {
    read -r p n < <(busiest)
    kc -C -t "$TOPIC" -p "$p" -o beginning -c 2 -q -f '%o\n' >"$WORK/beg.txt"
    [ "$(tr '\n' ' ' <"$WORK/beg.txt")" = "0 1 " ] || { echo "beginning: $(cat "$WORK/beg.txt")"; return 1; }
    kc -C -t "$TOPIC" -p "$p" -o -2 -e -q -f '%o\n' >"$WORK/tail.txt"
    [ "$(tr '\n' ' ' <"$WORK/tail.txt")" = "$((n - 2)) $((n - 1)) " ] || { echo "-o -2: $(cat "$WORK/tail.txt")"; return 1; }
    kc -C -t "$TOPIC" -o end -e -q -f '%p %o\n' >"$WORK/end.txt"
    [ ! -s "$WORK/end.txt" ] || { echo "-o end returned records:"; cat "$WORK/end.txt"; return 1; }
}

# -Q (ListOffsets): -1 = end offset, -2 = beginning, per partition.
t_query_offsets() {
    local p n got
    for p in $(seq 0 $((NPART - 1))); do
        n=$(awk -F'\t' -v p="$p" '$1 == p' "$WORK/out.tsv" | wc -l)
        got=$(kc -Q -t "$TOPIC:$p:-1")
        echo "$got"
        [[ "$got" == *"[$p] offset $n"* ]] || return 1
        got=$(kc -Q -t "$TOPIC:$p:-2")
        echo "$got"
        [[ "$got" == *"[$p] offset 0"* ]] || return 1
    done
}

# Timestamps: records produced after time T are found by -o s@T and by -Q TOPIC:P:T.
t_timestamp_offsets() {
    local topic=compat-kcat-ts-$SUFFIX before after
    timeout 20 "$TRIBUTARY_BIN" topic create "$topic" -p 1 -b "$BROKER" --timeout-ms 5000
    printf 'a1\na2\na3\n' | kc -P -t "$topic" -p 0
    sleep 0.05
    T=$("$PYTHON" -c 'import time; print(int(time.time() * 1000))')
    sleep 0.05
    printf 'b1\nb2\n' | kc -P -t "$topic" -p 0
    kc -C -t "$topic" -p 0 -o "s@$T" -e -q -f '%o %s %T\n' >"$WORK/ts.txt"
    cat "$WORK/ts.txt"
    [ "$(cut -d' ' -f1,2 "$WORK/ts.txt" | tr '\n' ' ')" = "3 b1 4 b2 " ] || return 1
    after=$(kc -Q -t "$topic:0:$T")
    echo "$after"
    [[ "$after" == *"[0] offset 3"* ]] || return 1
    # A timestamp later than every record: Kafka answers offset -1 (no such record).
    before=$(kc -Q -t "$topic:0:$((T + 3600000))")
    echo "$before"
    [[ "$before" == *"[0] offset -1"* ]] || return 1
}

# Compressed batches from librdkafka, read back through kcat.
t_compression() {
    local codec topic=compat-kcat-z-$SUFFIX
    timeout 20 "$TRIBUTARY_BIN" topic create "$topic" -p 1 -b "$BROKER" --timeout-ms 5000
    for codec in gzip snappy lz4 zstd; do
        for i in $(seq 1 20); do echo "$codec-$i:$codec-payload-$i-$(printf 'x%.0s' $(seq 1 50))"; done |
            kc -P -t "$topic" -p 0 -K: -z "$codec" -X linger.ms=50
    done
    kc -C -t "$topic" -p 0 -e -q -f '%o\t%k\t%s\n' >"$WORK/z.tsv"
    "$PYTHON" - "$WORK/z.tsv" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
want = [f"{c}-{i}" for c in ("gzip", "snappy", "lz4", "zstd") for i in range(1, 21)]
assert [r[1] for r in rows] == want, [r[1] for r in rows]
assert [int(r[0]) for r in rows] == list(range(len(want)))
for o, k, v in rows:
    assert v == f"{k.split('-')[0]}-payload-{k.split('-')[1]}-" + "x" * 50, (k, v)
print(len(rows), "records ok")
EOF
    # starting inside a compressed batch (snappy holds offsets 20..39): the broker returns the
    # whole batch, the client skips to the offset asked for
    kc -C -t "$topic" -p 0 -o 25 -c 3 -q -f '%o %k\n' >"$WORK/zmid.txt"
    cat "$WORK/zmid.txt"
    [ "$(tr '\n' ' ' <"$WORK/zmid.txt")" = "25 snappy-6 26 snappy-7 27 snappy-8 " ]
}

# --- codecs: one topic per codec ---------------------------------------------------------------
# 120 keyed records with two headers per codec (-z gzip|snappy|lz4|zstd), at most 25 per batch
# (batch.num.messages) so each topic holds several compressed batches; values of ~60 to ~4000
# characters (tab, quotes, backslash, UTF-8) that compress well. Read back with -J (CRCs checked):
# every record once, in order at offsets 0..119, key, payload and headers exactly as sent.
codec_input() { # CODEC -> 120 lines "KEY:VALUE" on stdout
    "$PYTHON" - "$1" <<'EOF'
import sys
codec = sys.argv[1]
for i in range(120):
    body = f"{codec} record {i}\t\"quoted\" back\\slash caf\u00e9 \u20ac " + "lorem ipsum dolor sit amet " * (i % 150)
    sys.stdout.buffer.write(f"{codec}-key-{i}:{body}\n".encode())
EOF
}

# check_codec_read IN JSON CODEC: the records of IN ("KEY:VALUE" lines) are exactly those of JSON
# (kcat -J), in order at offsets 0.., with headers codec=CODEC (- : the key's prefix), run=$SUFFIX.
check_codec_read() {
    "$PYTHON" - "$@" "$SUFFIX" <<'EOF'
import json, sys
inp, out, codec, run = sys.argv[1:]
sent = [l.rstrip("\n").split(":", 1) for l in open(inp, encoding="utf-8")]
got = [json.loads(l) for l in open(out, encoding="utf-8") if l.strip()]
assert len(got) == len(sent), f"read {len(got)} records, sent {len(sent)}"
for i, ((k, v), m) in enumerate(zip(sent, got)):
    assert m["offset"] == i, f"record {i} at offset {m['offset']}"
    assert m["key"] == k, f"offset {i}: key {m['key']!r}, sent {k!r}"
    assert m["payload"] == v, f"offset {i}: payload {m['payload'][:80]!r}..., sent {v[:80]!r}..."
    want = ["codec", k.split("-")[0] if codec == "-" else codec, "run", run]
    assert m.get("headers") == want, f"offset {i}: headers {m.get('headers')}, sent {want}"
print(len(got), "records ok")
EOF
}

t_codec() {
    local codec=$1 topic=compat-kcat-codec-$1-$SUFFIX
    timeout 20 "$TRIBUTARY_BIN" topic create "$topic" -p 1 -b "$BROKER" --timeout-ms 5000
    codec_input "$codec" >"$WORK/codec-$codec.in"
    kc -P -t "$topic" -p 0 -K: -z "$codec" -H "codec=$codec" -H "run=$SUFFIX" \
        -X linger.ms=100 -X batch.num.messages=25 -l "$WORK/codec-$codec.in"
    kc -C -t "$topic" -p 0 -o beginning -e -q -J -X check.crcs=true >"$WORK/codec-$codec.json"
    check_codec_read "$WORK/codec-$codec.in" "$WORK/codec-$codec.json" "$codec"
}

# A topic created with compression.type=zstd: kcat writes uncompressed, gzip and lz4 batches (the
# broker may rewrite them in zstd, as Kafka does) and reads every record back unchanged.
t_codec_topic_config() {
    local topic=compat-kcat-codec-topiczstd-$SUFFIX codec
    timeout 20 "$TRIBUTARY_BIN" topic create "$topic" -p 1 -b "$BROKER" --timeout-ms 5000 --config compression.type=zstd
    timeout 20 "$TRIBUTARY_BIN" topic describe "$topic" --configs -b "$BROKER" | grep -F 'compression.type=zstd'
    : >"$WORK/codec-topic.in"
    for codec in none gzip lz4; do
        codec_input "$codec" >"$WORK/codec-topic-$codec.all"
        head -n 40 "$WORK/codec-topic-$codec.all" >"$WORK/codec-topic-$codec.in"
        cat "$WORK/codec-topic-$codec.in" >>"$WORK/codec-topic.in"
        kc -P -t "$topic" -p 0 -K: -z "$codec" -H "codec=$codec" -H "run=$SUFFIX" \
            -X linger.ms=100 -X batch.num.messages=25 -l "$WORK/codec-topic-$codec.in"
    done
    kc -C -t "$topic" -p 0 -o beginning -e -q -J -X check.crcs=true >"$WORK/codec-topic.json"
    check_codec_read "$WORK/codec-topic.in" "$WORK/codec-topic.json" -
}

# Produce to a topic that does not exist: Metadata auto-creates it, the record lands.
t_auto_create() {
    local topic=compat-kcat-auto-$SUFFIX
    echo "hello" | kc -P -t "$topic"
    kc -C -t "$topic" -e -q -f '%s\n' | tee "$WORK/auto.txt"
    [ "$(cat "$WORK/auto.txt")" = "hello" ]
}

# Balanced consumer groups (-G): two kcat members split a 4-partition topic (each record read
# once, disjoint partition sets covering all 4, as kcat's rebalance messages report), stopped with
# SIGINT (kcat closes the consumer: final auto-commit, LeaveGroup); a third kcat -G -e of the same
# group then reads exactly the records produced after that, from the committed offsets.
# kcat writes through stdio buffers: -u, else SIGINT loses what it printed.
GTOPIC=compat-kcat-grp-$SUFFIX
GROUP=compat-kcat-grp-$SUFFIX

t_group_split() {
    timeout 20 "$TRIBUTARY_BIN" topic create "$GTOPIC" -p 4 -b "$BROKER" --timeout-ms 5000
    for i in $(seq 1 100); do echo "gkey-$i:gvalue-$i"; done | kc -P -t "$GTOPIC" -K: -X partitioner=murmur2_random
    local pids=() n i rc=0
    for n in 1 2; do
        timeout -s INT 40 "$KCAT" -b "$BROKER" -X socket.timeout.ms=5000 -G "$GROUP" \
            -X auto.offset.reset=earliest -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
            -u -f '%p\t%o\t%k\n' "$GTOPIC" >"$WORK/g$n.tsv" 2>"$WORK/g$n.err" &
        pids+=($!)
    done
    for i in $(seq 1 250); do
        [ "$(cat "$WORK/g1.tsv" "$WORK/g2.tsv" | wc -l)" -ge 100 ] && break
        sleep 0.1
    done
    sleep 1
    kill -INT "${pids[@]}" 2>/dev/null || true
    for n in 0 1; do wait "${pids[$n]}" || rc=$?; done
    cat "$WORK/g1.err" "$WORK/g2.err"
    [ "$rc" -eq 0 ] || { echo "kcat -G exited $rc"; return 1; }
    "$PYTHON" - "$WORK/g1.tsv" "$WORK/g2.tsv" "$WORK/g1.err" "$WORK/g2.err" "$GTOPIC" <<'EOF'
import re, sys
out1, out2, err1, err2, topic = sys.argv[1:]
rows, parts = [], []
for i, f in enumerate((out1, out2)):
    r = [l.rstrip("\n").split("\t") for l in open(f) if l.strip()]
    rows += r
    parts.append({int(p) for p, _, _ in r})
    print(f"member {i + 1}: {len(r)} records from partitions {sorted(parts[-1])}")
pos = [(int(p), int(o)) for p, o, _ in rows]
assert len(set(pos)) == len(pos), "a record was read twice"
assert sorted(k for _, _, k in rows) == sorted(f"gkey-{i}" for i in range(1, 101)), f"{len(rows)} records read"
assert parts[0] and parts[1], f"one member read nothing: {parts}"
assert not parts[0] & parts[1], f"both members read partitions {parts[0] & parts[1]}"
assert parts[0] | parts[1] == {0, 1, 2, 3}, parts
# The first assignment each member reports: disjoint, covering the 4 partitions.
firsts = []
for f in (err1, err2):
    m = re.search(r"rebalanced \(memberid [^)]*\): assigned: (.*)", open(f).read())
    assert m, f"no assignment reported in {f}"
    firsts.append({int(p) for p in re.findall(re.escape(topic) + r" \[(\d+)\]", m.group(1))})
assert not firsts[0] & firsts[1] and firsts[0] | firsts[1] == {0, 1, 2, 3}, firsts
EOF
}

t_group_resume() {
    for i in $(seq 101 120); do echo "gkey-$i:gvalue-$i"; done | kc -P -t "$GTOPIC" -K: -X partitioner=murmur2_random
    # -e in balanced mode: exits once every assigned partition reached its end
    timeout 20 "$KCAT" -b "$BROKER" -X socket.timeout.ms=5000 -G "$GROUP" -X auto.offset.reset=earliest \
        -e -u -f '%p\t%o\t%k\n' "$GTOPIC" >"$WORK/g3.tsv" 2>"$WORK/g3.err"
    cat "$WORK/g3.err" "$WORK/g3.tsv"
    [ "$(cut -f3 "$WORK/g3.tsv" | sort | tr '\n' ' ')" = "$(seq 101 120 | sed 's/^/gkey-/' | sort | tr '\n' ' ')" ]
}

# After the groups: -L lists every topic without errors, the group's topic with its 4 partitions.
t_metadata_after_groups() {
    kc -L -J >"$WORK/meta2.json"
    "$PYTHON" - "$WORK/meta2.json" "$GTOPIC" "$TOPIC" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
topics = {t["topic"]: t for t in meta["topics"]}
for name in sys.argv[2:]:
    assert name in topics, f"{name} not listed"
for t in topics.values():
    assert "error" not in t, t
    assert all("error" not in p for p in t["partitions"]), t
assert len(topics[sys.argv[2]]["partitions"]) == 4
print(sorted(topics))
EOF
    kc -L | grep -F "topic \"$GTOPIC\" with 4 partitions"
}

check murmur2-selftest t_murmur2_selftest
check create-topic t_create_topic
check metadata-list t_metadata_list
check produce-keyed-headers t_produce_keyed
check consume-verify-murmur2 t_consume_verify
check consume-from-offset t_consume_from_offset
check consume-beginning-end t_consume_beginning_end
check query-offsets t_query_offsets
check timestamp-offsets t_timestamp_offsets
check compression t_compression
check codec-gzip t_codec gzip
check codec-snappy t_codec snappy
check codec-lz4 t_codec lz4
check codec-zstd t_codec zstd
check codec-topic-compression-type t_codec_topic_config
check auto-create-topic t_auto_create
check group-split t_group_split
check group-resume-committed t_group_resume
check metadata-after-groups t_metadata_after_groups

echo "kcat: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
