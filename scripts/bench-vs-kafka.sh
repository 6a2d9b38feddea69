#!/usr/bin/env bash
# Apache Kafka and Tributary side by side: the two brokers measured one after the other in one
# run, on this machine, under the same load, with the same clients (Kafka's own Java tools and
# `tributary bench`). Prints a markdown table (Kafka, Tributary, Tributary/Kafka, target) at the
# end and writes it to $OUT. Not part of CI: it wants an otherwise idle machine.
#
# Usage:
#   bash scripts/bench-vs-kafka.sh                  full run (about 20-30 minutes on 2 cores)
#   SCALE=small bash scripts/bench-vs-kafka.sh      smoke run (a few minutes, figures meaningless)
#
# What is measured, for each broker (Kafka through scripts/kafka-peer.sh, Tributary through
# `tributary server`; each on a fresh data dir, only one broker running at a time):
#   1. memory: resident set size (VmRSS) idle after a fresh start, then idle after storing
#      STORE_MB of 1 KiB records (written by `tributary bench produce`)
#   2. produce: 100 B and 1 KiB records, 6 partitions, acks=1 and acks=all, one producer, with
#      kafka-producer-perf-test and with `tributary bench produce` (each row its own topic)
#   3. consume: one consumer reads what kafka-producer-perf-test wrote with acks=1, with
#      kafka-consumer-perf-test and with `tributary bench consume`
#   4. end-to-end latency at E2E_RATE records/s (`tributary bench e2e`, linger.ms=0, with 5
#      requests in flight as the Java producer, and with librdkafka's default), and the
#      one-record-at-a-time round trip of kafka-e2e-latency
#   5. peak RSS (VmHWM) over 2-4, and the flush settings as the broker describes them
#   6. start-up: process start to the first answered ApiVersions and to the first Metadata
#      answer listing the broker, STARTUP_RUNS times on fresh data dirs
#   7. for every step of 2-4: the CPU seconds of the broker, of the client and of the machine,
#      over the step and over the tool's measured window, per record and "cores busy"; and for
#      each missed throughput target the ceiling those CPU costs put on 2 cores
# plus scripts/machine-limits.sh first.
#
# Environment (defaults for SCALE=full / SCALE=small):
#   OUT               markdown output file (/tmp/bench-vs-kafka.md)
#   TRIBUTARY_BIN     broker/bench binary; unset: `cargo build --release --locked --bin tributary`
#                     into CARGO_TARGET_DIR (default ~/.cache/tributary/target)
#   BROKERS           which brokers, in order ("kafka tributary")
#   RECORDS_100       records per 100 B produce/consume row (10000000 / 50000)
#   RECORDS_1K        records per 1 KiB produce/consume row (2000000 / 10000)
#   E2E_RATE          records/s of the end-to-end test (10000 / 10000)
#   E2E_SECS          its duration (60 / 3)
#   E2E_JAVA_RECORDS  records of kafka-e2e-latency (20000 / 300)
#   WARMUP_RECORDS    100 B records each producer writes before the produce rows, not measured,
#                     so that Kafka's JIT has compiled its produce path (2000000 / 10000)
#   E2E_WARMUP_SECS   an unmeasured end-to-end run before the measured one (10 / 2)
#   STORE_MB          MiB of 1 KiB records stored before the second memory figure (4096 / 64)
#   IDLE_SECS         idle time before each memory figure (15 / 3)
#   STARTUP_RUNS      start-up measurements per broker (5 / 2)
#   STEP_TIMEOUT      bound in seconds of each client run (1200 / 300)
#   KAFKA_BROKER_HEAP Kafka's heap ("-Xmx1G -Xms1G", as kafka-server-start.sh)
#   CLIENT_HEAP       heap of the Java tools ("-Xmx512M", as kafka-run-class.sh)
#   SKIP_LIMITS=1     skip scripts/machine-limits.sh
#   SKIP_MEMORY_WARMUP=1   skip touching the free memory once before the brokers run (see below)
#   BENCH_TMP         parent of the work dir (data dirs, logs): /tmp
# Exit status: 0 when every step worked, 1 when any failed (the table says which), 2 when Java
# or Maven is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCALE=${SCALE:-full}
case "$SCALE" in
    full) d=(10000000 2000000 60 20000 4096 15 5 1200 2000000 10) ;;
    small) d=(50000 10000 3 300 64 3 2 300 10000 2) ;;
    *) echo "SCALE must be full or small" >&2; exit 64 ;;
esac
RECORDS_100=${RECORDS_100:-${d[0]}}
RECORDS_1K=${RECORDS_1K:-${d[1]}}
E2E_RATE=${E2E_RATE:-10000}
E2E_SECS=${E2E_SECS:-${d[2]}}
E2E_JAVA_RECORDS=${E2E_JAVA_RECORDS:-${d[3]}}
STORE_MB=${STORE_MB:-${d[4]}}
IDLE_SECS=${IDLE_SECS:-${d[5]}}
STARTUP_RUNS=${STARTUP_RUNS:-${d[6]}}
STEP_TIMEOUT=${STEP_TIMEOUT:-${d[7]}}
WARMUP_RECORDS=${WARMUP_RECORDS:-${d[8]}}
E2E_WARMUP_SECS=${E2E_WARMUP_SECS:-${d[9]}}
OUT=${OUT:-/tmp/bench-vs-kafka.md}
BROKERS=${BROKERS:-kafka tributary}
KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KAFKA_BROKER_HEAP=${KAFKA_BROKER_HEAP:--Xmx1G -Xms1G}
CLIENT_HEAP=${CLIENT_HEAP:--Xmx512M}
export KAFKA_VERSION
for b in $BROKERS; do
    case "$b" in kafka | tributary) ;; *) echo "BROKERS: unknown broker $b" >&2; exit 64 ;; esac
done

log() { printf '[%3dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# --- the binary -----------------------------------------------------------------------------
if [ -n "${TRIBUTARY_BIN:-}" ]; then
    BIN=$TRIBUTARY_BIN
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary/target}"
    log "building the release binary"
    cargo build --release --locked --bin tributary
    BIN="$CARGO_TARGET_DIR/release/tributary"
fi
[ -x "$BIN" ] || { echo "no tributary binary at $BIN" >&2; exit 1; }
rc=0
KAFKA_CP=$(bash scripts/kafka-jars.sh "$KAFKA_VERSION") || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "bench-vs-kafka: Kafka's jars are not available (status $rc); Java and Maven are needed" >&2
    exit "$rc"
fi

# --- work dir and cleanup -------------------------------------------------------------------
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/bench-vs-kafka-XXXXXX")
LOGS=$WORK/logs
RESULTS=$WORK/results.tsv
mkdir -p "$LOGS"
: >"$RESULTS"
SERVER_PID=     # a tributary server started here
CHILD=          # the client step running now
PEER_DIRS=()    # KAFKA_PEER_DIRs used
FAILED=0

kill_pidfile() { # kills the process whose pid a file names, if it still runs
    local pid
    [ -f "$1" ] || return 0
    pid=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
    trap - EXIT INT TERM
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
    kill_pidfile "$WORK/startup.pid"
    local d
    for d in "${PEER_DIRS[@]}"; do
        kill_pidfile "$d/pid"
        KAFKA_PEER_DIR=$d bash scripts/kafka-peer.sh stop >/dev/null 2>&1 || true
    done
    [ -n "$CHILD" ] && wait "$CHILD" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; } # BROKER KEY VALUE

# step NAME TIMEOUT CMD...: runs a command bounded in time, output in $LOGS/$BROKER-NAME.log.
# In the background and waited for, so that Ctrl-C or TERM reach the cleanup at once.
step() {
    local name=$1 t=$2 rc=0
    shift 2
    local f="$LOGS/$BROKER-$name.log"
    timeout -k 10 "$t" "$@" >"$f" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=
    [ "$rc" -eq 0 ] && return 0
    log "$BROKER: $name FAILED (status $rc$([ "$rc" -eq 124 ] && echo ", timed out after $t s")); end of its output:"
    tail -n 20 "$f" | sed 's/^/      /' >&2
    FAILED=1
    return 1
}
fail() { # fail NAME WHY: a step ran but its output is not what was expected
    log "$BROKER: $1 FAILED: $2"
    FAILED=1
}

TOOL=(env KAFKA_HEAP_OPTS="$CLIENT_HEAP" bash scripts/kafka-tool.sh) # Kafka's tools, by script name
rss_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
suffix() { printf '%s%04x' "$(date +%s)" $((RANDOM))$((RANDOM)); }

# --- the probe: a tiny Kafka-protocol client without start-up cost of its own --------------
cat >"$WORK/probe.py" <<'PY'
"""wait PORT TIMEOUT            -> prints the node id once a Metadata answer lists a broker
startup PORT TIMEOUT PIDFILE LOG CMD... -> starts CMD, prints the ms from just before its
   fork/exec to (1) the first ApiVersions answer with error 0 and (2) the first Metadata answer
   listing a broker, polling every millisecond; then kills CMD"""
import socket, struct, subprocess, sys, time

def frame(api, ver, corr, body, flexible):
    cid = b"bench-probe"
    head = struct.pack(">hhih", api, ver, corr, len(cid)) + cid + (b"\0" if flexible else b"")
    return struct.pack(">i", len(head) + len(body)) + head + body

def read(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b

def answer(s):
    (n,) = struct.unpack(">i", read(s, 4))
    return read(s, n)

def api_versions(s):  # ApiVersions v3, request header v2; answers with header v0
    s.sendall(frame(18, 3, 1, b"\x0cbench-probe\x021\x00", True))
    r = answer(s)
    return struct.unpack(">h", r[4:6])[0] == 0

def metadata_node(s):  # Metadata v4 for all topics: first broker's node id, or None
    s.sendall(frame(3, 4, 2, struct.pack(">ib", -1, 0), False))
    r = answer(s)
    (count,) = struct.unpack(">i", r[8:12])
    return struct.unpack(">i", r[12:16])[0] if count > 0 else None

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.settimeout(10)
    return s

def main():
    mode, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    proc = None
    t0 = time.monotonic()
    if mode == "startup":
        pidfile, logfile, cmd = sys.argv[4], sys.argv[5], sys.argv[6:]
        out = open(logfile, "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        with open(pidfile, "w") as f:
            f.write(str(proc.pid))
    t_api = node = None
    try:
        while node is None:
            if time.monotonic() - t0 > timeout:
                sys.exit(f"no answer within {timeout} s")
            if proc is not None and proc.poll() is not None:
                sys.exit(f"the broker exited with status {proc.returncode}")
            try:
                s = connect(port)
            except OSError:
                time.sleep(0.001)
                continue
            try:
                while node is None and time.monotonic() - t0 <= timeout:
                    if t_api is None:
                        if api_versions(s):
                            t_api = time.monotonic()
                        else:
                            time.sleep(0.001)
                            continue
                    node = metadata_node(s)
                    if node is None:
                        time.sleep(0.001)
            except (OSError, ConnectionError, struct.error):
                time.sleep(0.001)
            finally:
                s.close()
        t_md = time.monotonic()
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
    if mode == "startup":
        print(f"{(t_api - t0) * 1000:.1f} {(t_md - t0) * 1000:.1f}")
    else:
        print(node)

main()
PY
probe() { python3 "$WORK/probe.py" "$@"; }

# --- CPU accounting: where the two cores go during a client step -----------------------------
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK
cat >"$WORK/cpu.py" <<'PY'
"""run BPID OUT REGEX CMD...   runs CMD (its stdout and stderr to this stdout); every 20 ms samples
   utime+stime of the broker (/proc/BPID/stat), of CMD (its own plus its reaped children's) and of
   the whole machine (/proc/stat: all but idle and iowait), in clock ticks (CLK_TCK); notes when CMD
   last printed a line matching REGEX (the end of the tool's measured window). Writes to OUT a
   line "wall broker_s client_s sampler_s mark machine_s" (broker and machine from /proc before and
   after; client from wait4's rusage: CMD and all it waited for; sampler: this process), then the
   samples. Exits with CMD's status.
window OUT RECORDS RATE   prints "wall broker_s client_s sampler_s machine_s" of the step, then
   "length broker_s client_s machine_s" over the RECORDS/RATE seconds that end at the mark ('-'
   where unknown: no RATE, no mark)"""
import os, re, resource, selectors, subprocess, sys, time

TCK = int(os.environ.get("CLK_TCK") or os.sysconf("SC_CLK_TCK"))

def ticks(pid, children=False):
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(b")") + 2:].split()  # f[0] is field 3 (state): utime is field 14
    return int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)

def machine():  # busy ticks of all cores: user nice system (idle iowait) irq softirq steal
    with open("/proc/stat", "rb") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]

def fmt(x):
    return "-" if x is None else str(x)

def run(bpid, out, regex, cmd):
    pat = re.compile(regex.encode()) if regex else None
    b0, m0 = ticks(bpid), machine()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    fd = p.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    samples, mark, buf, eof, nxt = [], None, b"", False, t0
    w = sys.stdout.buffer
    while not eof:
        now = time.monotonic()
        if now >= nxt:
            samples.append((now - t0, ticks(bpid), ticks(p.pid, True), machine()))
            nxt = max(nxt + 0.02, now + 0.005)
        for _ in sel.select(max(0.0, nxt - time.monotonic())):
            data = os.read(fd, 65536)
            if not data:
                eof = True
                break
            w.write(data)
            w.flush()
            lines = (buf + data).split(b"\n")
            buf = lines.pop()
            if pat and any(pat.search(l) for l in lines):
                mark = time.monotonic() - t0
    if pat and buf and pat.search(buf):
        mark = time.monotonic() - t0
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    b1, m1 = ticks(bpid), machine()
    me = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, "w") as f:
        bcpu = f"{(b1 - b0) / TCK:.2f}" if b0 is not None and b1 is not None else "-"
        f.write(f"{wall:.3f} {bcpu} {ru.ru_utime + ru.ru_stime:.3f} {me.ru_utime + me.ru_stime:.3f} "
                f"{'-' if mark is None else f'{mark:.3f}'} {(m1 - m0) / TCK:.2f}\n")
        for s in samples:
            f.write(f"{s[0]:.4f} {fmt(s[1])} {fmt(s[2])} {s[3]}\n")
    rc = os.waitstatus_to_exitcode(status)
    return rc if rc >= 0 else 128 - rc  # killed by signal -rc

def at(samples, t, i):  # the i-th counter at time t, interpolated between samples
    pts = [(s[0], s[i]) for s in samples if s[i] is not None]
    if not pts:
        return None
    if t <= pts[0][0]:
        return pts[0][1]
    for (ta, a), (tb, b) in zip(pts, pts[1:]):
        if ta <= t <= tb:
            return a + (b - a) * (t - ta) / (tb - ta) if tb > ta else b
    return pts[-1][1]

def window(out, records, rate):
    lines = open(out).read().split("\n")
    head = lines[0].split()
    samples = [tuple(float(x) if i == 0 else (None if x == "-" else int(x)) for i, x in enumerate(l.split()))
               for l in lines[1:] if l]
    res = head[:4] + [head[5], "-", "-", "-", "-"]
    try:
        length = float(records) / float(rate)
    except (ValueError, ZeroDivisionError):
        length = None
    if length and head[4] != "-":
        end = float(head[4])
        start = max(0.0, end - length)
        res[5] = f"{end - start:.3f}"
        for i in (1, 2, 3):
            a, b = at(samples, start, i), at(samples, end, i)
            res[5 + i] = "-" if a is None or b is None else f"{(b - a) / TCK:.3f}"
    print(" ".join(res))

if sys.argv[1] == "run":
    sys.exit(run(int(sys.argv[2] or 0), sys.argv[3], sys.argv[4], sys.argv[5:]))
window(*sys.argv[2:5])
PY
# cstep NAME TIMEOUT REGEX CMD...: step, with the CPU of the broker ($BPID), of the client and of
# the machine sampled (cpu.py run); REGEX matches the tool's line that ends its measured window
# ('' for none)
cstep() {
    local name=$1 t=$2 re=$3
    shift 3
    step "$name" "$t" python3 "$WORK/cpu.py" run "${BPID:-0}" "$WORK/cpu-$BROKER-$name" "$re" "$@"
}
# cpu_put KEY RECORDS [RATE]: the CPU figures of step KEY into the results; with RATE also over
# the tool's measured window (RECORDS/RATE seconds ending at its summary line)
cpu_put() {
    local key=$1 n=$2 rate=${3:-} got
    got=$(python3 "$WORK/cpu.py" window "$WORK/cpu-$BROKER-$key" "$n" "$rate") || return 0
    set -- $got
    put "$BROKER" "$key.n" "$n"
    put "$BROKER" "$key.wall" "$1"; put "$BROKER" "$key.bcpu" "$2"; put "$BROKER" "$key.ccpu" "$3"
    put "$BROKER" sampler.cpu "$4"; put "$BROKER" "$key.mcpu" "$5"
    put "$BROKER" "$key.win" "$6"; put "$BROKER" "$key.wbcpu" "$7"; put "$BROKER" "$key.wccpu" "$8"
    put "$BROKER" "$key.wmcpu" "$9"
    log "$BROKER:   CPU s: broker $2, client $3, machine $5 in $1 s$([ "$6" != - ] &&
        echo "; in the tool's $6 s: broker $7, client $8, machine $9")"
}

# --- starting and stopping the brokers ---------------------------------------------------
# Sets B (bootstrap), BPID (broker pid), NODE (node id), DATA (data dir).
start_broker() { # start_broker INSTANCE
    local inst=$1
    BPID=
    if [ "$BROKER" = kafka ]; then
        local dir="$WORK/kafka-$inst"
        PEER_DIRS+=("$dir")
        step "start-$inst" 600 env KAFKA_PEER_DIR="$dir" KAFKA_HEAP_OPTS="$KAFKA_BROKER_HEAP" \
            bash scripts/kafka-peer.sh start || return 1
        B=$(tail -n 1 "$LOGS/$BROKER-start-$inst.log")
        BPID=$(cat "$dir/pid")
        DATA="$dir/data"
    else
        DATA="$WORK/tributary-$inst"
        local port
        port=$(free_port)
        B="127.0.0.1:$port"
        "$BIN" server --no-connect --no-ksql --data-dir "$DATA" --listen "$B" >"$LOGS/tributary-server-$inst.log" 2>&1 &
        SERVER_PID=$!
        BPID=$SERVER_PID
    fi
    NODE=$(probe wait "${B##*:}" 120) || { fail "start-$inst" "no Metadata answer"; return 1; }
}
stop_broker() { # no graceful shutdown: nothing is measured there and the data is discarded
    [ -n "$BPID" ] && kill -9 "$BPID" 2>/dev/null || true
    if [ "$BROKER" = kafka ]; then
        KAFKA_PEER_DIR="$WORK/kafka-$1" bash scripts/kafka-peer.sh stop >/dev/null 2>&1 || true
    else
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
        rm -rf "$DATA"
    fi
    timeout 300 sync || true
}

create_topic() { # create_topic NAME PARTITIONS, with Kafka's tool against both brokers
    step "create-$1" 120 "${TOOL[@]}" kafka-topics --bootstrap-server "$B" --create --topic "$1" \
        --partitions "$2" --replication-factor 1
}

# --- parsers ------------------------------------------------------------------------------
# "N records sent, X records/sec (Y MB/sec), ..." (kafka-producer-perf-test and tributary bench)
parse_sent() { sed -n 's/^\([0-9]*\) records sent, \([0-9.]*\) records\/sec (\([0-9.]*\) MB\/sec).*/\1 \2 \3/p' "$1" | tail -n 1; }
# "N records consumed, X records/sec (Y MB/sec)" (tributary bench consume)
parse_consumed() { sed -n 's/^\([0-9]*\) records consumed, \([0-9.]*\) records\/sec (\([0-9.]*\) MB\/sec).*/\1 \2 \3/p' "$1" | tail -n 1; }
# kafka-consumer-perf-test's CSV: the columns named in its header line
parse_consumer_perf() {
    awk -F', *' '
        /^start.time/ { for (i = 1; i <= NF; i++) col[$i] = i; next }
        ("data.consumed.in.nMsg" in col) && NF >= 10 {
            print $col["data.consumed.in.nMsg"], $col["fetch.nMsg.sec"], $col["fetch.MB.sec"], $col["rebalance.time.ms"]
        }' "$1" | tail -n 1
}
# "end-to-end latency ms: p50 X  p99 Y  p99.9 Z  max M" (tributary bench e2e)
parse_e2e() { sed -n 's/^end-to-end latency ms: p50 \([0-9.]*\)  *p99 \([0-9.]*\)  *p99\.9 \([0-9.]*\)  *max \([0-9.]*\).*/\1 \2 \3 \4/p' "$1" | tail -n 1; }
# "Avg latency: X ms" and "Percentiles: 50th = a, 99th = b, 99.9th = c" (kafka-e2e-latency)
parse_java_e2e() {
    local avg pct
    avg=$(sed -n 's/^Avg latency: \([0-9.]*\) ms.*/\1/p' "$1" | tail -n 1)
    pct=$(sed -n 's/^Percentiles: 50th = \([0-9.]*\), 99th = \([0-9.]*\), 99\.9th = \([0-9.]*\).*/\1 \2 \3/p' "$1" | tail -n 1)
    if [ -n "$avg" ] && [ -n "$pct" ]; then echo "$avg $pct"; fi
}

# --- the measurements -----------------------------------------------------------------------
measure_memory() {
    log "$BROKER: memory (fresh start, idle ${IDLE_SECS} s; then ${STORE_MB} MiB stored)"
    start_broker mem || { stop_broker mem; return 0; }
    sleep "$IDLE_SECS"
    put "$BROKER" rss.idle "$(rss_mb "$BPID" VmRSS)"
    if step fill "$STEP_TIMEOUT" "$BIN" bench produce --topic "fill-$(suffix)" --partitions 6 \
        --records $((STORE_MB * 1024)) --record-size 1024 --acks 1 -b "$B"; then
        sleep "$IDLE_SECS"
        put "$BROKER" rss.stored "$(rss_mb "$BPID" VmRSS)"
        put "$BROKER" stored.bytes "$(du -s -B1 "$DATA" | cut -f1)"
    fi
    log "$BROKER:   RSS $(awk -F'\t' -v b="$BROKER" '$1 == b && $2 ~ /^rss/ { printf "%s %s MB  ", ($2 == "rss.idle" ? "idle" : "after storing"), $3 }' "$RESULTS")"
    stop_broker mem
}

produce_row() { # produce_row SIZE ACKS CLIENT RECORDS
    local size=$1 acks=$2 client=$3 n=$4 key="produce.$1.$2.$3" topic got
    topic="p$size-a$acks-$client-$(suffix)"
    [ "$acks" = 1 ] && [ "$client" = java ] && CONSUME_TOPIC[$size]=$topic
    create_topic "$topic" 6 || return 0
    log "$BROKER: produce $size B acks=$acks, $n records ($client)"
    if [ "$client" = java ]; then
        cstep "$key" "$STEP_TIMEOUT" '^[0-9]+ records sent, ' "${TOOL[@]}" kafka-producer-perf-test --topic "$topic" \
            --num-records "$n" --record-size "$size" --throughput -1 \
            --command-property bootstrap.servers="$B" acks="$acks" || return 0
    else
        cstep "$key" "$STEP_TIMEOUT" '^[0-9]+ records sent, ' "$BIN" bench produce --topic "$topic" --partitions 6 \
            --records "$n" --record-size "$size" --acks "$acks" -b "$B" || return 0
    fi
    got=$(parse_sent "$LOGS/$BROKER-$key.log")
    set -- $got
    if [ "${1:-}" != "$n" ]; then
        fail "$key" "expected '$n records sent, ...', got '${got:-nothing}'"
        return 0
    fi
    put "$BROKER" "$key.rps" "$2"
    put "$BROKER" "$key.mbs" "$3"
    log "$BROKER:   $2 records/s ($3 MB/s)"
    cpu_put "$key" "$n" "$2"
}

consume_row() { # consume_row SIZE CLIENT RECORDS
    local size=$1 client=$2 n=$3 key="consume.$1.$2" topic=${CONSUME_TOPIC[$1]:-} got
    [ -n "$topic" ] || { fail "$key" "nothing was produced to read"; return 0; }
    log "$BROKER: consume $size B, $n records ($client)"
    if [ "$client" = java ]; then
        # its one CSV line (start.time, end.time, ...) ends the window
        cstep "$key" "$STEP_TIMEOUT" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+, ' "${TOOL[@]}" kafka-consumer-perf-test \
            --bootstrap-server "$B" --topic "$topic" --num-records "$n" --timeout 30000 || return 0
        got=$(parse_consumer_perf "$LOGS/$BROKER-$key.log")
    else
        cstep "$key" "$STEP_TIMEOUT" '^[0-9]+ records consumed, ' "$BIN" bench consume --topic "$topic" \
            --records "$n" -b "$B" || return 0
        got=$(parse_consumed "$LOGS/$BROKER-$key.log")
    fi
    set -- $got
    if [ "${1:-}" != "$n" ]; then
        fail "$key" "expected $n records consumed, got '${got:-nothing}'"
        return 0
    fi
    put "$BROKER" "$key.rps" "$2"
    put "$BROKER" "$key.mbs" "$3"
    [ -n "${4:-}" ] && put "$BROKER" "$key.join_ms" "$4"
    log "$BROKER:   $2 records/s ($3 MB/s)"
    cpu_put "$key" "$n" "$2"
}

# e2e_variant KEY LABEL [-X PROPERTY]: one measured `tributary bench e2e` run on $topic
e2e_variant() {
    local key=$1 label=$2 got
    shift 2
    log "$BROKER: end-to-end latency, $E2E_RATE records/s for $E2E_SECS s, $label (tributary bench e2e)"
    cstep "$key" "$STEP_TIMEOUT" '' "$BIN" bench e2e --topic "$topic" --partitions 6 --rate "$E2E_RATE" \
        --duration-secs "$E2E_SECS" --linger-ms 0 --record-size 100 -b "$B" "$@" || return 0
    got=$(parse_e2e "$LOGS/$BROKER-$key.log")
    if [ -z "$got" ]; then
        fail "$key" "no 'end-to-end latency ms: ...' line"
        return 0
    fi
    set -- $got
    put "$BROKER" "$key.p50" "$1"; put "$BROKER" "$key.p99" "$2"; put "$BROKER" "$key.p999" "$3"; put "$BROKER" "$key.max" "$4"
    log "$BROKER:   p50 $1 ms, p99 $2 ms, p99.9 $3 ms, max $4 ms"
    # "N records at R records/sec": what was produced (and consumed) over the whole step
    got=$(sed -n 's/^\([0-9]*\) records at [0-9.]* records\/sec.*/\1/p' "$LOGS/$BROKER-$key.log" | tail -n 1)
    cpu_put "$key" "${got:-$((E2E_RATE * E2E_SECS))}"
}

latency_rows() {
    local topic got
    topic="e2e-$(suffix)"
    create_topic "$topic" 6 || return 0
    # At most 5 produce requests in flight per connection, as the Java producer's default: the
    # fair comparison. librdkafka's own default (1,000,000) with linger.ms=0 pipelines about one
    # request per record; Kafka serves one request per connection at a time, did not keep up with
    # that on this machine (a core busy, requests queued for seconds); measured too, as a variant.
    if [ "$E2E_WARMUP_SECS" -gt 0 ]; then
        log "$BROKER: end-to-end warm-up, $E2E_WARMUP_SECS s (not measured)"
        step e2e-warmup "$STEP_TIMEOUT" "$BIN" bench e2e --topic "$topic" --partitions 6 --rate "$E2E_RATE" \
            --duration-secs "$E2E_WARMUP_SECS" --linger-ms 0 --record-size 100 -b "$B" \
            -X max.in.flight.requests.per.connection=5 || return 0
    fi
    e2e_variant e2e "5 requests in flight" -X max.in.flight.requests.per.connection=5
    e2e_variant e2e-pipelined "librdkafka's default in flight"
    topic="e2e-java-$(suffix)"
    create_topic "$topic" 6 || return 0
    log "$BROKER: round trip one record at a time, $E2E_JAVA_RECORDS records (kafka-e2e-latency)"
    if cstep e2e-java "$STEP_TIMEOUT" '' "${TOOL[@]}" kafka-e2e-latency --bootstrap-server "$B" --topic "$topic" \
        --num-records "$E2E_JAVA_RECORDS" --producer-acks 1 --record-size 100; then
        got=$(parse_java_e2e "$LOGS/$BROKER-e2e-java.log")
        if [ -n "$got" ]; then
            set -- $got
            put "$BROKER" je2e.avg "$1"; put "$BROKER" je2e.p50 "$2"; put "$BROKER" je2e.p99 "$3"; put "$BROKER" je2e.p999 "$4"
            log "$BROKER:   avg $1 ms, p50 $2 ms, p99 $3 ms, p99.9 $4 ms"
            cpu_put e2e-java "$E2E_JAVA_RECORDS"
        else
            fail e2e-java "no 'Avg latency' / 'Percentiles' lines"
        fi
    fi
}

flush_settings() { # as the broker describes them (DescribeConfigs through kafka-configs)
    local f name v
    if step describe-broker 120 "${TOOL[@]}" kafka-configs --bootstrap-server "$B" --describe \
        --entity-type brokers --entity-name "$NODE" --all; then
        f="$LOGS/$BROKER-describe-broker.log"
        for name in log.flush.interval.messages log.flush.interval.ms log.flush.scheduler.interval.ms \
            log.segment.bytes; do
            v=$(sed -n "s/^ *$name=\([^ ]*\) sensitive=.*/\1/p" "$f" | head -n 1)
            put "$BROKER" "flush.$name" "${v:-(not described)}"
        done
    fi
    if [ -n "${CONSUME_TOPIC[100]:-}" ] && step describe-topic 120 "${TOOL[@]}" kafka-configs --bootstrap-server "$B" \
        --describe --entity-type topics --entity-name "${CONSUME_TOPIC[100]}" --all; then
        f="$LOGS/$BROKER-describe-topic.log"
        for name in flush.messages flush.ms; do
            v=$(sed -n "s/^ *$name=\([^ ]*\) sensitive=.*/\1/p" "$f" | head -n 1)
            put "$BROKER" "flush.topic.$name" "${v:-(not described)}"
        done
    fi
}

measure_throughput() {
    log "$BROKER: throughput and latency (fresh start)"
    start_broker tput || { stop_broker tput; return 0; }
    declare -gA CONSUME_TOPIC=()
    local size acks client n topic
    if [ "$WARMUP_RECORDS" -gt 0 ]; then
        topic="warmup-$(suffix)"
        log "$BROKER: warm-up, $WARMUP_RECORDS records from each producer (not measured)"
        create_topic "$topic" 6 &&
            step warmup-java "$STEP_TIMEOUT" "${TOOL[@]}" kafka-producer-perf-test --topic "$topic" \
                --num-records "$WARMUP_RECORDS" --record-size 100 --throughput -1 \
                --command-property bootstrap.servers="$B" acks=1 &&
            step warmup-tributary "$STEP_TIMEOUT" "$BIN" bench produce --topic "$topic" --partitions 6 \
                --records "$WARMUP_RECORDS" --record-size 100 --acks 1 -b "$B" || true
    fi
    for size in 100 1024; do
        n=$RECORDS_100
        [ "$size" = 1024 ] && n=$RECORDS_1K
        for acks in 1 all; do
            for client in java tributary; do
                produce_row "$size" "$acks" "$client" "$n"
            done
        done
    done
    for size in 100 1024; do
        n=$RECORDS_100
        [ "$size" = 1024 ] && n=$RECORDS_1K
        for client in java tributary; do
            consume_row "$size" "$client" "$n"
        done
    done
    latency_rows
    put "$BROKER" rss.peak "$(rss_mb "$BPID" VmHWM)"
    flush_settings
    if [ "$BROKER" = kafka ]; then
        # the exact command kafka-peer.sh started, for the start-up runs
        tr '\0' '\n' <"/proc/$BPID/cmdline" >"$WORK/kafka-cmdline"
        cp "$WORK/kafka-tput/server.properties" "$WORK/kafka-server.properties"
    fi
    stop_broker tput
}

# Start-up: the probe starts the broker itself (no start-up cost of a polling JVM competing for
# the two cores, as kafka-peer.sh's own readiness check would have) on a fresh data dir; Kafka's
# is formatted first (kafka-storage format, not timed), with the same command line that
# kafka-peer.sh used for the throughput run.
measure_startup() {
    local i port cport dir props got cmd=()
    for i in $(seq 1 "$STARTUP_RUNS"); do
        port=$(free_port)
        dir="$WORK/startup-$BROKER-$i"
        mkdir -p "$dir"
        if [ "$BROKER" = kafka ]; then
            [ -s "$WORK/kafka-cmdline" ] || { fail startup "no Kafka command line (the throughput run failed)"; return 0; }
            cport=$(free_port)
            local oldp oldc uuid
            props="$WORK/kafka-server.properties"
            oldp=$(sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$props")
            oldc=$(sed -n 's/^controller.quorum.bootstrap.servers=127.0.0.1:\([0-9]*\)$/\1/p' "$props")
            sed -e "s/127.0.0.1:$oldp\b/127.0.0.1:$port/g" -e "s/127.0.0.1:$oldc\b/127.0.0.1:$cport/g" \
                -e "s#^log.dirs=.*#log.dirs=$dir/data#" "$props" >"$dir/server.properties"
            uuid=$(python3 -c 'import base64,os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if u[0] != "-": print(u); break')
            step "format-$i" 120 java -cp "$(cat "$KAFKA_CP")" -Dlog4j2.configurationFile="$(dirname "$KAFKA_CP")/log4j2.yaml" \
                kafka.tools.StorageTool format --standalone -t "$uuid" -c "$dir/server.properties" || return 0
            mapfile -t cmd <"$WORK/kafka-cmdline"
            cmd[${#cmd[@]} - 1]="$dir/server.properties"
        else
            cmd=("$BIN" server --no-connect --no-ksql --data-dir "$dir/data" --listen "127.0.0.1:$port")
        fi
        log "$BROKER: start-up run $i of $STARTUP_RUNS"
        if step "startup-$i" 300 python3 "$WORK/probe.py" startup "$port" 240 "$WORK/startup.pid" \
            "$LOGS/$BROKER-startup-$i-server.log" "${cmd[@]}"; then
            got=$(tail -n 1 "$LOGS/$BROKER-startup-$i.log")
            set -- $got
            put "$BROKER" startup.api "$1"
            put "$BROKER" startup.md "$2"
            log "$BROKER:   first ApiVersions answer after $1 ms, Metadata with the broker after $2 ms"
        fi
        kill_pidfile "$WORK/startup.pid"
        rm -f "$WORK/startup.pid"
        rm -rf "$dir"
    done
}

# --- the run ----------------------------------------------------------------------------------
BROKER=machine
if [ "${SKIP_LIMITS:-0}" != 1 ]; then
    log "machine limits (scripts/machine-limits.sh)"
    step limits 600 bash scripts/machine-limits.sh "$WORK" || true
fi
# This machine is a VM whose memory costs about 3 ns per byte the first time the guest touches a
# page (the host backs it then); afterwards writes into the page cache cost a tenth of that. The
# broker that ran first would pay for every fresh page its data lands in, the second one would
# reuse them: so every page the run can use is touched once before either broker starts.
if [ "${SKIP_MEMORY_WARMUP:-0}" != 1 ]; then
    log "touching the machine's free memory once (first-touch cost of the VM's pages)"
    python3 - <<'PYEOF' || true
import mmap
avail = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemAvailable:"):
        avail = int(line.split()[1]) * 1024
n = max(0, avail - (2 << 30))
step = 64 << 20
block = b"\x01" * step
done = 0
chunks = []
while done < n:
    c = mmap.mmap(-1, step)
    c.write(block)
    chunks.append(c)
    done += step
PYEOF
fi
for BROKER in $BROKERS; do
    put "$BROKER" ran 1
    measure_memory
    measure_throughput
    measure_startup
done

# --- the table ------------------------------------------------------------------------------
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine=$(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
    echo "java=$(java -version 2>&1 | head -n 1)"
    echo "kafka_version=$KAFKA_VERSION"
    echo "kafka_heap=$KAFKA_BROKER_HEAP"
    echo "client_heap=$CLIENT_HEAP"
    echo "bin=$BIN"
    echo "rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- broker src 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "scale=$SCALE"
    echo "params=RECORDS_100=$RECORDS_100 RECORDS_1K=$RECORDS_1K WARMUP_RECORDS=$WARMUP_RECORDS E2E_RATE=$E2E_RATE E2E_SECS=$E2E_SECS E2E_WARMUP_SECS=$E2E_WARMUP_SECS E2E_JAVA_RECORDS=$E2E_JAVA_RECORDS STORE_MB=$STORE_MB IDLE_SECS=$IDLE_SECS STARTUP_RUNS=$STARTUP_RUNS"
    echo "wall=$((SECONDS / 60)) min $((SECONDS % 60)) s"
    echo "cores=$(nproc)"
} >"$WORK/meta"
python3 - "$RESULTS" "$WORK/meta" "$LOGS/machine-limits.log" "$RECORDS_100" "$RECORDS_1K" \
    "$E2E_RATE" "$E2E_SECS" "$E2E_JAVA_RECORDS" "$STORE_MB" "$IDLE_SECS" "$STARTUP_RUNS" \
    "$WARMUP_RECORDS" "$E2E_WARMUP_SECS" >"$WORK/table.md" <<'PY'
import os, statistics, sys
results, metafile, limits = sys.argv[1:4]
n100, n1k, rate, secs, jn, store_mb, idle, runs, warm, e2e_warm = sys.argv[4:14]
R = {}
for line in open(results):
    b, k, v = line.rstrip("\n").split("\t")
    R.setdefault((b, k), []).append(v)
meta = dict(l.rstrip("\n").split("=", 1) for l in open(metafile) if "=" in l)

def num(b, k):
    v = R.get((b, k))
    try:
        return float(v[-1]) if v else None
    except ValueError:
        return None

def fmt(x, unit):
    if x is None:
        return "failed"
    if unit == "rec/s":
        return f"{x:,.0f} rec/s"
    if unit == "MB":
        return f"{x:,.0f} MB" if x >= 100 else f"{x:.1f} MB"
    return f"{x:,.0f} {unit}" if x >= 100 else f"{x:.2f} {unit}"

ran = {b for b, _ in R}
def cell(b, k, unit):
    if b not in ran:
        return "not run", None
    x = num(b, k)
    s = fmt(x, unit)
    if x is not None and unit == "rec/s":
        mbs = num(b, k.replace(".rps", ".mbs"))
        if mbs is not None:
            s += f" ({mbs:.1f} MB/s)"
    return s, x

def startup(b, k):
    if b not in ran:
        return "not run", None
    v = [float(x) for x in R.get((b, k), [])]
    if not v:
        return "failed", None
    m = statistics.median(v)
    return f"{m:,.0f} ms (median of {len(v)}: {min(v):,.0f}–{max(v):,.0f})", m

rows = []
def row(what, tool, k, unit, target=None):
    rows.append((what, tool, k, unit, target))

for size, label in (("100", "100 B"), ("1024", "1 KiB")):
    for acks in ("1", "all"):
        row(f"produce {label}, acks={acks}, 6 partitions, 1 producer", "kafka-producer-perf-test", f"produce.{size}.{acks}.java.rps", "rec/s", (">=", 1.5))
        row(f"produce {label}, acks={acks}, 6 partitions, 1 producer", "tributary bench produce", f"produce.{size}.{acks}.tributary.rps", "rec/s", (">=", 1.5))
for size, label in (("100", "100 B"), ("1024", "1 KiB")):
    row(f"consume {label}, 1 consumer", "kafka-consumer-perf-test (fetch rate)", f"consume.{size}.java.rps", "rec/s", (">=", 1.5))
    row(f"consume {label}, 1 consumer", "tributary bench consume", f"consume.{size}.tributary.rps", "rec/s", (">=", 1.5))
row("consumer group join before the first fetch (classic protocol)", "kafka-consumer-perf-test (rebalance.time.ms)", "consume.100.java.join_ms", "ms")
for q, k, t in (("p50", "p50", None), ("p99", "p99", ("<=", 1.0)), ("p99.9", "p999", None), ("max", "max", None)):
    row(f"end-to-end latency {q}, {int(rate):,} records/s, linger.ms 0, 5 requests in flight", "tributary bench e2e", f"e2e.{k}", "ms", t)
for q, k in (("p50", "p50"), ("p99", "p99"), ("p99.9", "p999")):
    row(f"end-to-end latency {q}, same with librdkafka's default in flight (1,000,000)", "tributary bench e2e", f"e2e-pipelined.{k}", "ms")
for q, k in (("avg", "avg"), ("p50", "p50"), ("p99", "p99"), ("p99.9", "p999")):
    row(f"round trip {q}, one record at a time (whole ms)", "kafka-e2e-latency", f"je2e.{k}", "ms")
row("resident memory, idle after a fresh start", "VmRSS", "rss.idle", "MB", ("<=", 0.1))
row(f"resident memory, idle after writing {int(store_mb):,} MiB of 1 KiB values{{stored}}", "VmRSS", "rss.stored", "MB")
row("peak resident memory over the produce/consume/latency runs", "VmHWM", "rss.peak", "MB")
row("start-up: process start to first ApiVersions answer", "probe", "startup.api", "startup")
row("start-up: process start to first Metadata listing the broker", "probe", "startup.md", "startup")

out = []
P = out.append
P(f"# Apache Kafka {meta['kafka_version']} and Tributary side by side")
P("")
P(f"`scripts/bench-vs-kafka.sh`, SCALE={meta['scale']}, {meta['date']}, wall time {meta['wall']}.")
P(f"Machine: {meta['machine']}; {meta['java']}. Kafka: KRaft combined mode, one node, heap "
  f"`{meta['kafka_heap']}`; Java tools with `{meta['client_heap']}`. Tributary: `{meta['bin']}` at {meta['rev']}.")
P(f"Sizes: {meta['params']}.")
P("")
P("| measurement | client | Kafka | Tributary | Tributary/Kafka | target |")
P("|---|---|---|---|---|---|")
missed = []  # throughput rows that missed their target: (what, tool, key, target, Kafka, Tributary)
for what, tool, k, unit, target in rows:
    if unit == "startup":
        (ks, kx), (ts, tx) = startup("kafka", k), startup("tributary", k)
    else:
        (ks, kx), (ts, tx) = cell("kafka", k, unit), cell("tributary", k, unit)
    if "{stored}" in what:
        parts = []
        for b in ("kafka", "tributary"):
            s = num(b, "stored.bytes")
            if s is not None:
                parts.append(f"{b.capitalize()} {s / 1e9:.2f} GB")
        what = what.format(stored=f" ({', '.join(parts)} on disk)" if parts else "")
    ratio = "—"
    if kx and tx is not None:
        r = tx / kx
        ratio = f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
    tcell = "—"
    if target:
        op, t = target
        sym = "≥" if op == ">=" else "≤"
        tcell = f"{sym} {t:g}"
        if kx and tx is not None:
            r = tx / kx
            ok = r >= t if op == ">=" else r <= t
            tcell += ": **met**" if ok else ": **missed**"
            if not ok and op == ">=" and unit == "rec/s":
                missed.append((what, tool, k, t, kx, tx))
    P(f"| {what} | {tool} | {ks} | {ts} | {ratio} | {tcell} |")
P("")
P("## Where the CPU goes")
P("")
cores = int(meta.get("cores", "2"))

def cpu(b, base):
    return {f: num(b, f"{base}.{f}") for f in ("n", "wall", "bcpu", "ccpu", "mcpu", "win", "wbcpu", "wccpu", "wmcpu")}

def per_record(d):
    """broker ns/record, client ns/record, rest-of-machine ns/record (or None), broker+client cores
    busy, machine cores busy (or None), over the tool's window (True) or the whole step (False)"""
    if not d["n"]:
        return None
    for t, b, c, m, win in ((d["win"], d["wbcpu"], d["wccpu"], d["wmcpu"], True),
                            (d["wall"], d["bcpu"], d["ccpu"], d["mcpu"], False)):
        if t and b is not None and c is not None:
            rest = None if m is None else max(0.0, m - b - c) * 1e9 / d["n"]
            return b * 1e9 / d["n"], c * 1e9 / d["n"], rest, (b + c) / t, None if m is None else m / t, win
    return None

cpu_rows = []
for size, label in (("100", "100 B"), ("1024", "1 KiB")):
    for acks in ("1", "all"):
        for client, tool in (("java", "kafka-producer-perf-test"), ("tributary", "tributary bench produce")):
            cpu_rows.append((f"produce {label}, acks={acks}", tool, f"produce.{size}.{acks}.{client}"))
for size, label in (("100", "100 B"), ("1024", "1 KiB")):
    for client, tool in (("java", "kafka-consumer-perf-test"), ("tributary", "tributary bench consume")):
        cpu_rows.append((f"consume {label}", tool, f"consume.{size}.{client}"))
cpu_rows.append((f"end-to-end, {int(rate):,} records/s, 5 in flight", "tributary bench e2e", "e2e"))
cpu_rows.append((f"end-to-end, {int(rate):,} records/s, librdkafka's default in flight", "tributary bench e2e", "e2e-pipelined"))
cpu_rows.append((f"round trip, one record at a time ({int(jn):,} records)", "kafka-e2e-latency", "e2e-java"))

def f2(x):
    return "—" if x is None else f"{x:.2f}"

def fns(x):
    return "—" if x is None else f"{x:,.0f}"

P(f"CPU seconds (utime+stime) of the broker process (`/proc/PID/stat`), of the client process (its "
  f"rusage; the JVM's for Kafka's tools) and of the whole machine ({cores} cores, `/proc/stat`: every "
  f"process and the kernel). *Step*: the client's whole run, from its start to its exit (JVM start, "
  f"connecting, group join, shutdown). *Window*: the tool's own measured interval (its N records / its "
  f"rate, ending when it printed the result), from samples every 20 ms. Per-record figures are over the "
  f"window, or over the step for the end-to-end rows (which have none); cores busy = CPU s / s, "
  f"of broker + client and of the whole machine.")
for b, name in (("kafka", f"Apache Kafka {meta['kafka_version']}"), ("tributary", "Tributary")):
    P("")
    P(f"### {name}")
    P("")
    if b not in ran:
        P("not run")
        continue
    P("| measurement | client | rec/s | step s | broker CPU s | client CPU s | machine CPU s | cores busy | "
      "window s | broker CPU s | client CPU s | machine CPU s | broker CPU ns/record | client CPU ns/record | "
      "cores busy | machine cores busy |")
    P("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for what, tool, base in cpu_rows:
        d = cpu(b, base)
        if d["n"] is None:
            P(f"| {what} | {tool} | failed |" + " — |" * 13)
            continue
        rps = num(b, base + ".rps")
        if rps is None and base in ("e2e", "e2e-pipelined"):
            rps = float(rate)
        busy = (d["bcpu"] + d["ccpu"]) / d["wall"] if d["wall"] and d["bcpu"] is not None and d["ccpu"] is not None else None
        pr = per_record(d)
        bn, cn, u, m = (pr[0], pr[1], pr[3], pr[4]) if pr else (None,) * 4
        P(f"| {what} | {tool} | {fns(rps)} | {f2(d['wall'])} | {f2(d['bcpu'])} | {f2(d['ccpu'])} | {f2(d['mcpu'])} | "
          f"{f2(busy)} | {f2(d['win'])} | {f2(d['wbcpu'])} | {f2(d['wccpu'])} | {f2(d['wmcpu'])} | {fns(bn)} | "
          f"{fns(cn)} | {f2(u)} | {f2(m)} |")
samp = sum(float(v) for b in ("kafka", "tributary") for v in R.get((b, "sampler.cpu"), []) if v != "-")
P("")
P(f"Machine CPU beyond broker + client is the kernel's threads (softirq work for the loopback traffic, "
  f"writeback), the sampler ({samp:.2f} CPU s over all these steps together) and anything else that ran.")

P("")
P("### Ceilings for the missed throughput targets")
P("")
if not missed:
    P("No throughput target was missed.")

def budget(x, now):  # the broker's CPU per record allowed: x ns
    return f"at ≤ {x:,.0f} ns/record (now {now:,.0f})" if x > 0 else "to cost less than nothing: out of reach"

for what, tool, k, t, K, T in missed:
    base = k[:-len(".rps")]
    pt, pk = per_record(cpu("tributary", base)), per_record(cpu("kafka", base))
    need = t * K
    s = (f"* **{what}, {tool}**: the target needs {need:,.0f} rec/s ({t:g} × Kafka's {K:,.0f}); "
         f"Tributary did {T:,.0f} ({T / K:.2f} ×).")
    if not pt or pt[1] <= 0:
        P(s + " No CPU figures for this row.")
        continue
    b_, c_, o_, u, m, inwin = pt
    o_ = o_ or 0.0
    s += (f" Per record {'in the tool' + chr(39) + 's window' if inwin else 'over the whole step'}, against "
          f"Tributary: client {c_:,.0f} ns, broker {b_:,.0f} ns, rest of the machine {o_:,.0f} ns; cores busy: "
          f"broker + client {u:.2f}, machine {f2(m)} of {cores}")
    if pk:
        s += (f" (against Kafka: client {pk[1]:,.0f} ns, broker {pk[0]:,.0f} ns, rest {pk[2] or 0:,.0f} ns; "
              f"cores busy {pk[3]:.2f}, machine {f2(pk[4])})")
    s += "."
    free = cores * 1e9 / c_
    both = cores * 1e9 / (b_ + c_) if b_ + c_ > 0 else float("inf")
    turns = 1e9 / (b_ + c_) if b_ + c_ > 0 else float("inf")
    s += (f" Ceilings on {cores} cores at these costs: the client alone (a broker that cost nothing) "
          f"{cores}e9 / {c_:,.0f} = {free:,.0f} rec/s ({free / K:.2f} × Kafka); client and broker keeping every "
          f"core busy, {cores}e9 / ({c_:,.0f} + {b_:,.0f}) = {both:,.0f} rec/s ({both / K:.2f} ×); client and "
          f"broker strictly taking turns (one core), 1e9 / ({c_:,.0f} + {b_:,.0f}) = {turns:,.0f} rec/s "
          f"({turns / K:.2f} ×).")
    if free < need:
        s += (f" **Which applies: the client's own CPU.** At {c_:,.0f} ns/record this client cannot reach "
              f"{need:,.0f} rec/s on {cores} cores even against a broker that costs nothing: the target is out of "
              f"reach on this machine with this client, whatever the broker does.")
    elif m is not None and m >= 0.9 * cores:
        s += (f" **Which applies: the {cores}-core bound.** The machine's cores were saturated ({m:.2f} busy), "
              f"{u:.2f} of them broker + client and {m - u:.2f} the rest (the kernel's work for the traffic, or "
              f"other processes: if that share is large, something else competed and this row should be rerun on "
              f"an idle machine). The target needs the broker {budget(cores * 1e9 / need - c_ - o_, b_)} with "
              f"the rest as measured, {budget(cores * 1e9 / need - c_, b_)} without it.")
    else:
        idle = cores - (m if m is not None else u)
        s += (f" **Which applies: the sum of client and broker time per record at the overlap observed.** "
              f"The cores were not saturated ({idle:.2f} of {cores} idle; broker + client busy {u:.2f}): client "
              f"and broker {'largely' if u < 0.6 * cores else 'partly'} wait for each other. At this overlap the "
              f"target needs client + broker ≤ {u * 1e9 / need:,.0f} ns/record, i.e. the broker "
              f"{budget(u * 1e9 / need - c_, b_)}; ")
        if both >= need:
            s += (f"with every core busy the present costs would allow {both:,.0f} rec/s, so the lever is more "
                  f"overlap (more in flight, the broker answering sooner), not less CPU.")
        else:
            s += (f"even with every core busy it needs the broker "
                  f"{budget(cores * 1e9 / need - c_ - o_, b_)}.")
    P(s)
P("")
P("These ceilings take the client's CPU per record as fixed; it differs somewhat between the two brokers "
  "(above: batching, polling and waiting cost the client CPU too).")
P("")
P("## Flush settings, as each broker describes them (`kafka-configs --describe --all`)")
P("")
P("| setting | Kafka | Tributary |")
P("|---|---|---|")
for name in ("log.flush.interval.messages", "log.flush.interval.ms", "log.flush.scheduler.interval.ms", "log.segment.bytes", "topic.flush.messages", "topic.flush.ms"):
    cells = []
    for b in ("kafka", "tributary"):
        v = R.get((b, "flush." + name))
        cells.append(v[-1] if v else ("not run" if b not in ran else "failed"))
    label = name.replace("topic.", "topic ") if name.startswith("topic.") else name
    P(f"| {label} | {cells[0]} | {cells[1]} |")
P("")
P("Neither broker fsyncs per write with these defaults: an acknowledged batch is in the page cache "
  "(`log.flush.interval.messages` = Long.MAX_VALUE, `log.flush.interval.ms` unset, so a topic's `flush.ms` "
  "is Long.MAX_VALUE too). Both fsync a segment when it is rolled; Tributary's flusher, which also does that, "
  "runs every `log.flush.scheduler.interval.ms`.")
P("")
P("## How it was measured")
P("")
P(f"""* The brokers run one after the other, each on fresh data dirs, never both at once; the clients run
  the same way against both, on the same machine, sharing its cores with the broker.
* Before either broker starts, every page of the machine's free memory (less 2 GiB) is written once
  and freed: on this VM a page costs about 3 ns per byte the first time it is touched (the host backs
  it then) and a tenth of that afterwards, so without this the broker that runs first would pay for
  the fresh pages its data lands in and the second would not (`SKIP_MEMORY_WARMUP=1` skips it).
* Warm-up, not measured, on each broker's throughput instance: both producers write {int(warm):,} records
  of 100 B before the produce rows, and an end-to-end run of {e2e_warm} s precedes the measured one, so that
  Kafka's JIT compiler has compiled its request paths (Tributary has nothing to warm up but gets the same).
* Produce: `kafka-producer-perf-test --num-records N --record-size S --throughput -1 --command-property
  acks=A` (Java producer defaults otherwise: batch.size 16384, linger.ms 5) and `tributary bench produce
  --records N --record-size S --acks A --partitions 6` (librdkafka, linger.ms 5, batch.size 1 MB); N = {int(n100):,}
  for 100 B and {int(n1k):,} for 1 KiB; each row writes its own topic with 6 partitions, created by
  `kafka-topics`. The figure is the tool's final summary line (`N records sent, X records/sec (Y MB/sec)`),
  checked to count all N records.
* Consume: one consumer reads the N records kafka-producer-perf-test wrote with acks=1.
  `kafka-consumer-perf-test --num-records N`: its `fetch.nMsg.sec` / `fetch.MB.sec` columns, i.e. without
  the group join (`rebalance.time.ms`), since `tributary bench consume --records N` assigns partitions and
  times from the first record.
* End-to-end: `tributary bench e2e --rate {rate} --duration-secs {secs} --linger-ms 0 --record-size 100
  -X max.in.flight.requests.per.connection=5` (6 partitions, acks=1): the producer stamps its send time
  into each value, the consumer (assigned at the end, fetch.wait.max.ms 100) subtracts it; percentiles
  from an HDR histogram, in ms. At most 5 requests in flight is the Java producer's default; the second
  variant keeps librdkafka's default (1,000,000), with which linger.ms 0 pipelines about one request per
  record: Kafka serves one request per connection at a time, and where it cannot keep up with that
  request rate its queue, and the latency, grows to seconds (informational, no target).
  `kafka-e2e-latency --num-records {jn} --producer-acks 1 --record-size 100` sends one record, waits until
  the consumer receives it, then the next (its own pace, not a fixed rate; its percentiles are whole ms and
  include the JVM's warm-up).
* Memory: VmRSS of the broker process from /proc, after {idle} s idle following the first answered
  Metadata request of a fresh start; then after `tributary bench produce --record-size 1024 --acks 1`
  wrote {store_mb} MiB of values to a 6-partition topic and another {idle} s idle (stored size = `du` of
  the data dir). Peak = VmHWM of the separate broker instance that served the produce, consume and latency rows.
* Start-up: a small Python probe takes the time, forks and execs the broker on a fresh data dir (Kafka's
  formatted beforehand with `kafka-storage format`, not timed; the same java command line and JVM options
  kafka-peer.sh uses, as kafka-server-start.sh), then connects every millisecond and sends ApiVersions
  (v3) until one is answered with error 0, then Metadata (v4) until one lists the broker; {runs} runs each.
  No other process of the script competes for the cores meanwhile (kafka-peer.sh's own readiness check starts a JVM
  every 0.5 s, which is why it is not used for this). Both numbers include process start; for Kafka that
  is the JVM's start and class loading, with the JDK's default class data sharing and no AppCDS archive.
* CPU: each produce, consume and end-to-end client runs under a small Python sampler that reads the
  broker's utime+stime from `/proc/PID/stat` (clock ticks, `getconf CLK_TCK`) before and after the step
  and every 20 ms, the client's from `/proc` every 20 ms and, for the step total, from its rusage when it
  exits (`wait4`: the process and all it waited for), and the machine's busy time from `/proc/stat`. The
  window figures are interpolated between samples at the start and end of the tool's own measured interval.
* Ratios are Tributary/Kafka: above 1 is better for throughput, below 1 is better for latency, memory
  and start-up.""")
if os.path.exists(limits):
    P("")
    P("## Machine limits (`scripts/machine-limits.sh`)")
    P("")
    P("```")
    P(open(limits).read().rstrip())
    P("```")
print("\n".join(out))
PY
cp "$WORK/table.md" "$OUT"
echo
cat "$WORK/table.md"
echo
log "written to $OUT"
if [ "$FAILED" -ne 0 ]; then
    log "some steps failed (see above; the table says failed)"
    exit 1
fi
