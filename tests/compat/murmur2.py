#!/usr/bin/env python3
"""Kafka's murmur2 partitioner, exactly as the Java client computes it.

    partition = toPositive(murmur2(keyBytes)) % numPartitions

where murmur2 is org.apache.kafka.common.utils.Utils.murmur2 (32-bit signed result)
and toPositive(n) = n & 0x7fffffff.

Usage:
    python3 murmur2.py --self-test            check Kafka's own test vectors (UtilsTest)
    python3 murmur2.py N KEY [KEY ...]         print "KEY<TAB>PARTITION" for N partitions
    python3 murmur2.py N -                     same, one key per line on stdin
Importable: murmur2(bytes) -> int, partition_for(key_bytes, n) -> int.
"""
import sys

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def _signed(x):
    x &= _MASK
    return x - 0x100000000 if x & 0x80000000 else x


def murmur2(data: bytes) -> int:
    """Utils.murmur2: returns a signed 32-bit int, like Java."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    n4 = length // 4
    for i in range(n4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = length & ~3
    rem = length % 4
    if rem == 3:
        h ^= data[tail + 2] << 16
    if rem >= 2:
        h ^= data[tail + 1] << 8
    if rem >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return _signed(h)


def to_positive(n: int) -> int:
    return n & 0x7FFFFFFF


def partition_for(key: bytes, num_partitions: int) -> int:
    return to_positive(murmur2(key)) % num_partitions


# From Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def self_test() -> None:
    for data, want in KAFKA_VECTORS.items():
        got = murmur2(data)
        assert got == want, f"murmur2({data!r}) = {got}, Kafka says {want}"
    # toPositive drops the sign bit only (it is not abs()).
    assert to_positive(-1) == 0x7FFFFFFF and to_positive(-0x80000000) == 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        self_test()
        print(f"murmur2 self-test: {len(KAFKA_VECTORS)} Kafka vectors ok")
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    self_test()
    n = int(argv[1])
    keys = [line.rstrip("\n") for line in sys.stdin] if argv[2:] == ["-"] else argv[2:]
    for k in keys:
        print(f"{k}\t{partition_for(k.encode(), n)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
