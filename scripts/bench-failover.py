"""Failover times of a Tributary cluster, for scripts/bench-cluster.sh.

Usage: bench-failover.py BOOTSTRAP TOPIC KILLS PIDDIR RESTART_CMD TRIBUTARY_BIN

Every node is a broker and a controller; `TRIBUTARY_BIN cluster describe` names the active one.
Each kill is a SIGKILL of a node (its pid read from PIDDIR/nodeN.pid); then `RESTART_CMD N`
restarts it and the script waits until every ISR of every topic is whole again and a controller
is active, so that each kill starts from a whole cluster.

1. Partition leader failover: an idempotent acks=all producer (confluent-kafka) writes to every
   partition of TOPIC without pause. KILLS times the leader of a partition is killed: on even
   kills a partition that the active controller leads, on odd kills one that another node leads
   (any partition when there is none of that kind), so that about half the kills take the active
   controller down with the leader. The failover time is from the kill to the first acknowledged
   write produced after it on that partition. Prints one line per kill and p50/p99/max over all
   kills, over those of a leader only and over those of a leader that was the active controller.
2. Coordinator failover: a consumer group (unique group.id, subscribed to TOPIC) commits offsets
   synchronously. max(3, KILLS // 4) times, right after a successful commit, the group's
   coordinator, the leader of its __consumer_offsets partition (Kafka's hash of the group id),
   is killed; the consumer then commits in a loop, each commit begun when the last one failed.
   The failover time is from the kill to the first successful commit after it. Prints one line
   per kill and p50/max.
"""
import os
import re
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

OFFSETS_TOPIC = "__consumer_offsets"


class Cluster:
    """The nodes: who is the active controller, killing one, restarting it."""

    def __init__(self, bootstrap, piddir, restart, binary):
        self.bootstrap = bootstrap
        self.piddir = piddir
        self.restart = restart
        self.binary = binary
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def active_controller(self):
        """The active controller's node id, or None while there is none (or no broker answers)."""
        out = subprocess.run([self.binary, "cluster", "describe", "-b", self.bootstrap],
                             capture_output=True, text=True)
        if out.returncode != 0:
            return None
        m = re.search(r"^Controller: node (-?\d+) \(voters \[[\d, ]*\]\), metadata offset -?\d+$",
                      out.stdout, re.M)
        if m is None:
            sys.exit(f"no controller line in `cluster describe`:\n{out.stdout}")
        node = int(m.group(1))
        return node if node >= 0 else None

    def kill(self, node):
        """SIGKILLs node; returns when it did, as time.monotonic()."""
        with open(os.path.join(self.piddir, f"node{node}.pid")) as f:
            pid = int(f.read().strip())
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        return t0

    def restart_and_settle(self, node, tick):
        """Restarts node, then runs tick until every ISR of every topic (the internal ones too)
        is whole and a controller is active."""
        subprocess.run([*self.restart.split(), str(node)], check=True)
        deadline = time.monotonic() + 120
        while True:
            tick()
            topics = self.admin.list_topics(timeout=10).topics.values()
            if (all(len(m.isrs) == len(m.replicas) for t in topics for m in t.partitions.values())
                    and self.active_controller() is not None):
                return
            if time.monotonic() > deadline:
                sys.exit(f"node {node} did not rejoin every ISR, with a controller active, "
                         f"within 120 s after its restart")


def main():
    bootstrap, topic, kills, piddir, restart, binary = sys.argv[1:7]
    kills = int(kills)
    cluster = Cluster(bootstrap, piddir, restart, binary)
    leader_failover(cluster, topic, kills)
    coordinator_failover(cluster, topic, max(3, kills // 4))


def leader_failover(cluster, topic, kills):
    producer = Producer({
        "bootstrap.servers": cluster.bootstrap,
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
        md = cluster.admin.list_topics(topic, timeout=10)
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
    results = []  # (failover time or None, whether the victim was the active controller)
    for i in range(kills):
        controller = cluster.active_controller()
        led = sorted((p, m.leader) for p, m in partitions().items() if m.leader >= 0)
        # even kills: a partition the active controller leads; odd kills: one another node leads
        pick = [v for v in led if (v[1] == controller) == (i % 2 == 0)] or led
        p, node = pick[(i // 2) % len(pick)]
        was_controller = node == controller
        t0 = cluster.kill(node)
        took = None
        deadline = t0 + 60
        while took is None and time.monotonic() < deadline:
            pump(0.02)
            after = [a for (prod, a) in acked.get(p, []) if prod >= t0]
            if after:
                took = min(after) - t0
        results.append((took, was_controller))
        role = " and was the active controller" if was_controller else ""
        print(f"kill {i + 1}: node {node} led partition {p}{role}: "
              f"{'no write acknowledged in 60 s' if took is None else f'{took * 1000:.0f} ms'}",
              flush=True)
        cluster.restart_and_settle(node, lambda: pump(0.5))
    producer.flush(30)
    report("failover", [t for t, _ in results], (0.5, 0.99))
    report("  leader only", [t for t, c in results if not c], (0.5, 0.99))
    report("  leader and active controller", [t for t, c in results if c], (0.5, 0.99))


def coordinator_failover(cluster, topic, kills):
    group = f"bench-failover-{uuid.uuid4()}"
    consumer = Consumer({
        "bootstrap.servers": cluster.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 500,
    })
    consumer.subscribe([topic])
    commits = 0

    def commit():
        """One synchronous commit; whether it succeeded. The offset is a count of the commits, so
        that each one writes a new value."""
        nonlocal commits
        consumer.poll(0)  # serves the group: a rejoin after the coordinator moved
        commits += 1
        try:
            done = consumer.commit(offsets=[TopicPartition(topic, 0, commits)], asynchronous=False)
        except KafkaException:
            return False
        return all(tp.error is None for tp in done)

    def commit_until_ok(since):
        """Commits until one succeeds; how long after since it did, or None if not within 60 s
        after since."""
        while time.monotonic() < since + 60:
            if commit():
                return time.monotonic() - since
            consumer.poll(0.01)  # (no busy loop while commits fail at once)
        return None

    # a member of the group, with TOPIC's partitions assigned
    deadline = time.monotonic() + 60
    while not consumer.assignment():
        if time.monotonic() > deadline:
            sys.exit(f"consumer group {group} did not form within 60 s")
        consumer.poll(0.1)
    results = []
    for i in range(kills):
        controller = cluster.active_controller()
        md = cluster.admin.list_topics(OFFSETS_TOPIC, timeout=10)
        offsets = md.topics[OFFSETS_TOPIC].partitions
        p = offsets_partition(group, len(offsets))
        node = offsets[p].leader
        # a commit just before the kill: the group works and the consumer knows the coordinator
        # it is about to lose, so the measured time is the failover's alone
        if commit_until_ok(time.monotonic()) is None:
            sys.exit(f"no commit of group {group} succeeded within 60 s before kill {i + 1}")
        t0 = cluster.kill(node)
        took = commit_until_ok(t0)
        results.append(took)
        role = " and was the active controller" if node == controller else ""
        print(f"coordinator kill {i + 1}: node {node} led {OFFSETS_TOPIC}-{p}{role}: "
              f"{'no commit succeeded in 60 s' if took is None else f'{took * 1000:.0f} ms'}",
              flush=True)
        cluster.restart_and_settle(node, lambda: consumer.poll(0.5))
    consumer.close()
    report("coordinator failover", results, (0.5,))


def offsets_partition(group, partitions):
    """The partition of __consumer_offsets that holds group, as Kafka computes it:
    Utils.abs(groupId.hashCode()) % partitions, with Java's String.hashCode over UTF-16 units."""
    units = group.encode("utf-16-be")
    h = 0
    for k in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[k:k + 2], "big")) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def report(label, times, quantiles):
    """One line: the quantiles and the max of the measured times (None: none measured)."""
    done = sorted(t for t in times if t is not None)
    if not done:
        print(f"{label}: no measurement")
        return
    cols = [f"p{round(q * 100)} {done[min(len(done) - 1, int(q * len(done)))] * 1000:.0f} ms"
            for q in quantiles]
    print(f"{label} over {len(done)} kills: {', '.join(cols)}, max {done[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
