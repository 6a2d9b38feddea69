"""Failover time of a Tributary cluster, for scripts/bench-cluster.sh.

Usage: bench-failover.py BOOTSTRAP TOPIC KILLS PIDDIR RESTART_CMD

An idempotent acks=all producer (confluent-kafka) writes to every partition of TOPIC without
pause. KILLS times: the leader of a partition that a broker-only node leads is killed with
SIGKILL (its pid read from PIDDIR/nodeN.pid); the failover time is from the kill to the first
acknowledged write produced after it on that partition; then `RESTART_CMD N` restarts the node
and the script waits until every ISR is whole again. Prints one line per kill and p50/p99/max.
"""
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient


def main():
    bootstrap, topic, kills, piddir, restart = sys.argv[1:6]
    kills = int(kills)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 0,
        "message.timeout.ms": 120000,
        "topic.metadata.refresh.interval.ms": 500,
    })
    acked = {}  # partition -> list of (produced_at, acked_at)

    def on_delivery(err, msg):
        if err is None:
            produced = float(msg.value().decode())
            acked.setdefault(msg.partition(), []).append((produced, time.monotonic()))

    def partitions():
        md = admin.list_topics(topic, timeout=10)
        return md.topics[topic].partitions

    def pump(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for p in partitions_cache:
                producer.produce(topic, value=str(time.monotonic()).encode(), partition=p,
                                 on_delivery=on_delivery)
            producer.poll(0.002)

    partitions_cache = list(partitions().keys())
    pump(2.0)
    results = []
    for i in range(kills):
        parts = partitions()
        victims = [(p, m.leader) for p, m in parts.items() if m.leader not in (1, -1)]
        if not victims:
            print("no partition led by a broker-only node; waiting", file=sys.stderr)
            pump(2.0)
            continue
        p, node = victims[i % len(victims)]
        with open(os.path.join(piddir, f"node{node}.pid")) as f:
            pid = int(f.read().strip())
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        took = None
        deadline = t0 + 60
        while took is None and time.monotonic() < deadline:
            pump(0.02)
            after = [a for (prod, a) in acked.get(p, []) if prod >= t0]
            if after:
                took = min(after) - t0
        results.append(took)
        print(f"kill {i + 1}: node {node} led partition {p}: "
              f"{'no write acknowledged in 60 s' if took is None else f'{took * 1000:.0f} ms'}",
              flush=True)
        subprocess.run([*restart.split(), str(node)], check=True)
        rejoin_deadline = time.monotonic() + 120
        while True:
            pump(0.5)
            if all(len(m.isrs) == len(m.replicas) for m in partitions().values()):
                break
            if time.monotonic() > rejoin_deadline:
                sys.exit(f"node {node} did not rejoin every ISR within 120 s after its restart")
    producer.flush(30)
    done = sorted(r for r in results if r is not None)
    if not done:
        print("failover: no measurement")
        return
    def pct(q):
        return done[min(len(done) - 1, int(q * len(done)))] * 1000
    print(f"failover over {len(done)} kills: p50 {pct(0.5):.0f} ms, p99 {pct(0.99):.0f} ms, "
          f"max {done[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
