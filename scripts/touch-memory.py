#!/usr/bin/env python3
"""Touches fresh memory and prints how fast the machine provides it.

On a virtual machine a page the guest has not used lately (or has handed back to the host)
costs a fault on the host when it is first written: a broker writing its logs into the page
cache at a few hundred MB/s can be bound by that rather than by its own work. Usage:

    touch-memory.py MIB    touch MIB MiB (anonymous memory, released at exit), print MB/s

scripts/machine-limits.sh reports it; scripts/bench-cluster.sh touches most of the free memory
before its rows, so that every row finds memory ready.
"""
import mmap
import sys
import time

mib = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
n = mib << 20
block = b"\x01" * (1 << 20)
start = time.perf_counter()
m = mmap.mmap(-1, n)
for i in range(0, n, 1 << 20):
    m[i : i + (1 << 20)] = block
elapsed = time.perf_counter() - start
m.close()
print(f"fresh memory, first touch of {mib} MiB: {n / elapsed / 1e6:.0f} MB/s")
