#!/usr/bin/env bash
# Measures the physical limits the benchmarks are compared against:
#   1. single-stream loopback TCP throughput (one sender, one receiver, 1 MiB writes)
#   2. sequential disk write throughput with fdatasync at the end (dd, 2 GiB)
#   3. memory copy bandwidth (a ceiling for every byte the broker copies)
#   4. how fast fresh memory comes (first touch; slow on a VM whose host backs pages lazily)
# Usage: bash scripts/machine-limits.sh [DIR_FOR_DISK_TEST]
set -euo pipefail
dir="${1:-${TMPDIR:-/tmp}}"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
python3 - <<'PY'
import socket, threading, time
N = 4 << 30  # 4 GiB
buf = b"\0" * (1 << 20)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
def recv():
    c, _ = srv.accept()
    got = 0
    mv = bytearray(1 << 20)
    while got < N:
        n = c.recv_into(mv)
        if n == 0: break
        got += n
    c.close()
t = threading.Thread(target=recv); t.start()
s = socket.create_connection(("127.0.0.1", port))
start = time.perf_counter()
sent = 0
while sent < N:
    s.sendall(buf); sent += len(buf)
s.close(); t.join()
el = time.perf_counter() - start
print(f"loopback TCP, one stream: {N/el/1e6:.0f} MB/s")
import ctypes
a = bytearray(256 << 20); b = bytearray(256 << 20)
start = time.perf_counter()
for _ in range(8):
    b[:] = a
el = time.perf_counter() - start
print(f"memory copy: {8*len(a)/el/1e6:.0f} MB/s")
PY
f="$dir/tributary-disk-test-$$"
out=$(dd if=/dev/zero of="$f" bs=1M count=2048 conv=fdatasync 2>&1 | tail -1)
rm -f "$f"
echo "sequential disk write (dd 2 GiB, fdatasync): ${out##*, }"
# (the first figure is how fast pages the guest has not used lately come; the second, the same
# pages touched again)
python3 "$(dirname "${BASH_SOURCE[0]}")/touch-memory.py" 4096
python3 "$(dirname "${BASH_SOURCE[0]}")/touch-memory.py" 4096
