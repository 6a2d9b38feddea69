"""Consumer groups with Python clients against a running Tributary broker: the classic rebalance
protocol (confluent-kafka, kafka-python) and the consumer protocol of KIP-848 (confluent-kafka with
group.protocol=consumer).

Run by tests/compat/run.sh in the same pytest invocation as test_python.py (COMPAT_BOOTSTRAP set).
By hand:  COMPAT_BOOTSTRAP=127.0.0.1:9092 $COMPAT_VENV/bin/pytest -v tests/compat/test_groups.py

Classic groups use the broker's defaults: group.initial.rebalance.delay.ms=3000 (a new group's first
rebalance waits 3 s for more members, so members started together land in one generation) and
group.min.session.timeout.ms=6000 (the session timeout used here for failure detection).
KIP-848 groups take the heartbeat interval and session timeout from the broker
(group.consumer.heartbeat.interval.ms, group.consumer.session.timeout.ms; librdkafka refuses the
client-side settings): run.sh sets 500 ms and 6 s. The tests read both with DescribeConfigs, scale
their waits with the heartbeat interval and skip the SIGKILL test if the session is over 15 s
(Kafka's defaults are 5 s and 45 s).

confluent-kafka group members (and the kafka-python members of the SIGKILL test) run as subprocesses
of this file (`python test_groups.py member JSON`) so that one can be killed with SIGKILL; each
prints one JSON line per event (assignment change, record, commit, commit error) that the test
collects, a record before its offset is committed. They commit synchronously after every batch, so
without failures every record is read exactly once across the group.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

BOOT = os.environ.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
NPART = 6
NREC = 600
SESSION_MS = 6000


# ------------------------------------------------------------------------------------------------
# the group member subprocess (confluent-kafka)


def member_main(cfg):
    """A group member (confluent-kafka, or kafka-python with cfg["client"] == "kafka-python"):
    subscribes, prints events as JSON lines on stdout, stops on "stop" (or EOF) on stdin and closes
    (LeaveGroup for dynamic members)."""
    out_lock = threading.Lock()

    def emit(**ev):
        with out_lock:
            sys.stdout.write(json.dumps(ev) + "\n")
            sys.stdout.flush()

    stop = threading.Event()

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    if cfg.get("client") == "kafka-python":
        kafka_python_member(cfg, emit, stop)
    else:
        confluent_member(cfg, emit, stop)


def kafka_python_member(cfg, emit, stop):
    """The kafka-python member: eager rebalances (range assignor first by default), a synchronous
    commit of the offsets after each batch poll() returned (emitted as a "commit" event once the
    broker accepted it), at most cfg["conf"]["max_poll_records"] records a batch."""
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata
    from kafka import TopicPartition as KTP
    from kafka.errors import KafkaError as KPyError

    conf = dict(
        bootstrap_servers=cfg["boot"],
        group_id=cfg["group"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=500,
        request_timeout_ms=10000,
        fetch_max_wait_ms=100,
        metadata_max_age_ms=2000,
    )
    conf.update(cfg.get("conf", {}))
    c = KafkaConsumer(**conf)
    owned = set()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            owned.clear()
            emit(ev="revoke", parts=sorted(tp.partition for tp in revoked), owned=[], t=time.time())

        def on_partitions_assigned(self, assigned):
            owned.clear()
            owned.update(tp.partition for tp in assigned)
            generation = getattr(c._coordinator, "_generation", None)
            emit(
                ev="assign",
                parts=sorted(owned),
                owned=sorted(owned),
                member_id=getattr(generation, "member_id", None),
                t=time.time(),
            )

    c.subscribe([cfg["topic"]], listener=Listener())
    emit(ev="started", pid=os.getpid())
    per_record = cfg.get("per_record_s", 0)
    try:
        while not stop.is_set():
            batch = c.poll(timeout_ms=100)
            offsets = {}
            for tp, msgs in batch.items():
                for m in msgs:
                    emit(ev="rec", p=m.partition, o=m.offset, k=m.key.decode(), t=time.time())
                    offsets[tp.partition] = m.offset + 1
                    if per_record:
                        time.sleep(per_record)
            if offsets:
                try:
                    c.commit({KTP(cfg["topic"], p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
                    emit(ev="commit", offsets=offsets, t=time.time())
                except KPyError as e:
                    emit(ev="commit_error", err=repr(e))
    finally:
        c.close(autocommit=False)
        emit(ev="closed")


def confluent_member(cfg, emit, stop):
    from confluent_kafka import Consumer, KafkaError, KafkaException

    conf = {
        "bootstrap.servers": cfg["boot"],
        "group.id": cfg["group"],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 100,
        "socket.timeout.ms": 5000,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    conf.update(cfg.get("conf", {}))
    # KIP-848: librdkafka refuses the classic session/heartbeat settings (the broker's apply) and
    # delivers incremental assignments, as with a cooperative assignor
    consumer_protocol = conf.get("group.protocol") == "consumer"
    if consumer_protocol:
        del conf["session.timeout.ms"], conf["heartbeat.interval.ms"]
    if os.environ.get("COMPAT_MEMBER_DEBUG"):  # e.g. cgrp,protocol: librdkafka's log on stderr
        conf["debug"] = os.environ["COMPAT_MEMBER_DEBUG"]
    c = Consumer(conf)
    owned = set()
    cooperative = consumer_protocol or conf.get("partition.assignment.strategy") == "cooperative-sticky"
    commit_on_revoke = cfg.get("commit_on_revoke", False)

    def on_assign(consumer, parts):
        if not cooperative:
            owned.clear()
        owned.update(p.partition for p in parts)
        emit(
            ev="assign",
            parts=sorted(p.partition for p in parts),
            owned=sorted(owned),
            member_id=consumer.memberid(),
            t=time.time(),
        )

    def on_revoke(consumer, parts):
        if commit_on_revoke:
            # the records of a revoked partition that consume() already returned are processed
            # (and were counted in its position): commit them before the partition moves on
            done = [tp for tp in consumer.position(parts) if tp.offset >= 0]
            if done:
                try:
                    commit(offsets=done)
                    emit(ev="revoke_commit", offsets={tp.partition: tp.offset for tp in done})
                except KafkaException as e:
                    emit(ev="commit_error", err=f"on revoke: {e}")
        if cooperative:
            owned.difference_update(p.partition for p in parts)
        else:
            owned.clear()
        emit(ev="revoke", parts=sorted(p.partition for p in parts), owned=sorted(owned), t=time.time())

    def commit(**kw):
        """A synchronous commit. A consumer-protocol member retries STALE_MEMBER_EPOCH: a heartbeat
        that moves the member to a new epoch without changing its partitions can overtake a
        commit sent with the previous epoch, which Kafka up to 4.2 rejects too (the exact epoch
        match that KIP-1251's assignment epochs relax); librdkafka heartbeats at once on that
        error, so a retry carries the new epoch. Each retry is reported as a commit_retry event."""
        for attempt in range(5):
            try:
                return c.commit(asynchronous=False, **kw)
            except KafkaException as e:
                if not consumer_protocol or e.args[0].code() != KafkaError.STALE_MEMBER_EPOCH or attempt == 4:
                    raise
                emit(ev="commit_retry", err=str(e))
                time.sleep(0.05)

    def on_lost(consumer, parts):
        owned.difference_update(p.partition for p in parts)
        emit(ev="lost", parts=sorted(p.partition for p in parts), owned=sorted(owned), t=time.time())

    c.subscribe([cfg["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit(ev="started", pid=os.getpid())
    per_record = cfg.get("per_record_s", 0)
    batch = 1 if per_record else 100
    try:
        while not stop.is_set():
            msgs = c.consume(num_messages=batch, timeout=0.1)
            got = False
            for m in msgs:
                if m.error():
                    emit(ev="error", err=str(m.error()))
                    continue
                emit(ev="rec", p=m.partition(), o=m.offset(), k=m.key().decode(), t=time.time())
                got = True
                if per_record:
                    time.sleep(per_record)
            if got:
                try:
                    commit()
                except KafkaException as e:
                    emit(ev="commit_error", err=str(e))
    finally:
        c.close()
        emit(ev="closed")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "member":
    member_main(json.loads(sys.argv[2]))
    sys.exit(0)


# ------------------------------------------------------------------------------------------------
# the tests

import pytest  # noqa: E402

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer  # noqa: E402
from kafka import TopicPartition as KTopicPartition  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_python import TIMEOUT, admin, create_topic, uniq  # noqa: E402

HERE = os.path.abspath(__file__)


class Member:
    """One `test_groups.py member` subprocess and the events it printed."""

    def __init__(self, name, group, topic, conf=None, per_record_s=0, commit_on_revoke=False, client="confluent-kafka"):
        self.name = name
        cfg = dict(
            boot=BOOT,
            group=group,
            topic=topic,
            conf=conf or {},
            per_record_s=per_record_s,
            commit_on_revoke=commit_on_revoke,
            client=client,
        )
        self.proc = subprocess.Popen(
            [sys.executable, HERE, "member", json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events = []
        self.stderr = []
        self.lock = threading.Lock()
        self.readers = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = dict(ev="garbage", line=line)
            with self.lock:
                self.events.append(ev)

    def _read_err(self):
        for line in self.proc.stderr:
            with self.lock:
                self.stderr.append(line.rstrip())

    def evs(self, kind=None):
        with self.lock:
            return [e for e in self.events if kind is None or e["ev"] == kind]

    def records(self, since=None):
        return [(e["p"], e["o"], e["k"]) for e in self.evs("rec") if since is None or e["t"] > since]

    def member_id(self):
        ids = [e["member_id"] for e in self.evs("assign")]
        return ids[-1] if ids else None

    def owned(self):
        """The partitions held after the last assignment change."""
        changes = [e for e in self.evs() if e["ev"] in ("assign", "revoke", "lost")]
        return set(changes[-1]["owned"]) if changes else set()

    def rebalances(self):
        return [e for e in self.evs() if e["ev"] in ("assign", "revoke", "lost")]

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"member {self.name} did not close within {timeout}s: {self.describe()}")
        for t in self.readers:
            t.join(5)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)
        for t in self.readers:
            t.join(5)

    def describe(self):
        evs = [e for e in self.evs() if e["ev"] != "rec"]
        return f"{self.name}: {len(self.records())} records, events {evs}, stderr {self.stderr[-10:]}"


def stop_all(members):
    errors = []
    for m in members:
        try:
            m.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, errors


def wait_for(cond, timeout, what, members=()):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n" + "\n".join(m.describe() for m in members))


def keyed_topic(n=NREC, partitions=NPART, tag="group"):
    """A topic with `partitions` partitions and n keyed records; returns (topic, {(p, o): key})."""
    topic = create_topic(uniq(tag), partitions)
    recs = [dict(key=f"k-{i:04d}".encode(), value=f"v-{i}".encode()) for i in range(n)]
    produce_keyed(topic, recs)
    want = {(r["partition"], r["offset"]): r["key"].decode() for r in recs}
    assert len(want) == n
    per_part = {}
    for p, _ in want:
        per_part[p] = per_part.get(p, 0) + 1
    assert sorted(per_part) == list(range(partitions)), f"records in partitions {sorted(per_part)} only"
    return topic, want


def produce_keyed(topic, recs):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": False, "linger.ms": 5, "partitioner": "murmur2_random"})
    errors = []

    def cb(r):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                r["partition"], r["offset"] = msg.partition(), msg.offset()

        return on_delivery

    for r in recs:
        p.produce(topic, key=r["key"], value=r["value"], on_delivery=cb(r))
    assert p.flush(TIMEOUT + 5) == 0
    assert not errors, errors


def end_offsets(want):
    ends = {}
    for p, o in want:
        ends[p] = max(ends.get(p, 0), o + 1)
    return ends


def committed_offsets(group, topic, partitions=NPART):
    """The group's committed offsets as a non-member confluent consumer reads them (OffsetFetch)."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False, "socket.timeout.ms": 5000})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=TIMEOUT)
    finally:
        c.close()
    for tp in tps:
        assert tp.error is None, tp
    return {tp.partition: tp.offset for tp in tps}


def check_exactly_once(want, got):
    """got: [(partition, offset, key)] from every member. Each produced record read once."""
    seen = {}
    dups = []
    for p, o, k in got:
        if (p, o) in seen:
            dups.append((p, o, k))
        seen[(p, o)] = k
    missing = sorted(set(want) - set(seen))
    extra = sorted(set(seen) - set(want))
    assert not dups, f"{len(dups)} records read more than once, e.g. {dups[:10]}"
    assert not missing, f"{len(missing)} records never read, e.g. {missing[:10]}"
    assert not extra, f"read records that were never produced: {extra[:10]}"
    for pos, k in seen.items():
        assert k == want[pos], f"record at {pos}: key {k}, produced {want[pos]}"


def check_partition_split(owned, partitions=NPART):
    """owned: {member name: set of partitions}. Disjoint, covering, and balanced."""
    allp = [p for s in owned.values() for p in s]
    assert sorted(allp) == list(range(partitions)), f"assignments overlap or miss partitions: {owned}"
    sizes = sorted(len(s) for s in owned.values())
    assert sizes[-1] - sizes[0] <= 1, f"unbalanced assignment {owned}"


def run_group_no_failures(strategy):
    topic, want = keyed_topic(tag=f"grp-{strategy}")
    group = uniq(f"grp-{strategy}")
    conf = {"partition.assignment.strategy": strategy}
    members = [Member(f"m{i}", group, topic, conf) for i in range(3)]
    try:
        wait_for(lambda: len({(p, o) for m in members for p, o, _ in m.records()}) >= NREC, 30, "all records read", members)
        time.sleep(1)  # any duplicate delivery would show up now
        owned = {m.name: m.owned() for m in members}
        check_partition_split(owned)
        assert all(len(s) == 2 for s in owned.values()), f"3 members, 6 partitions: {owned}"
        for m in members:
            assert not m.evs("commit_error"), m.describe()
            assert not m.evs("error"), m.describe()
            m.assigns_before_stop = m.evs("assign")
    finally:
        stop_all(members)
    check_exactly_once(want, [r for m in members for r in m.records()])
    assert committed_offsets(group, topic) == end_offsets(want)
    return group, topic, members


def test_confluent_group_range_exactly_once():
    """Three librdkafka members, eager range assignor: one generation, two partitions each, every
    record read once, the group's committed offsets = the end offsets."""
    group, topic, members = run_group_no_failures("range")
    # started together within the initial rebalance delay: one generation, one assignment each
    # (the members' closes later cause more rebalances, not counted here)
    for m in members:
        assert len(m.assigns_before_stop) == 1, f"members joined in separate generations? {m.describe()}"


def test_confluent_group_cooperative_sticky_exactly_once():
    """Three librdkafka members, cooperative-sticky (incremental) assignor."""
    group, topic, members = run_group_no_failures("cooperative-sticky")
    # the group is empty now (members closed with LeaveGroup); the list/describe admin calls see it
    a = admin()
    desc = a.describe_consumer_groups([group], request_timeout=TIMEOUT)[group].result(TIMEOUT)
    assert desc.group_id == group
    assert str(desc.state).endswith("EMPTY"), desc.state
    assert desc.members == [], desc.members


def kill_one_member(members, want, group, topic):
    """members[0] (the victim) is killed with SIGKILL once it has read 20 records; the others (the
    survivors) must end up owning all partitions, disjoint and balanced, and every record must be
    read at least once. The takeover (the first assignment of a survivor after the kill that
    includes one of the victim's partitions) may only come after the victim's session timed out:
    its last heartbeat was at most a heartbeat interval (0.5 s) before the kill, and a closed TCP
    connection is no reason to evict a classic-protocol member. Returns {member name: partitions}
    at the kill and once every record was read, the time of the kill and the time the survivors
    were told to stop."""
    victim, survivors = members[0], members[1:]
    try:
        wait_for(lambda: settled(members, 2), 20, "2 partitions each", members)
        wait_for(lambda: len(victim.records()) >= 20, 20, "the victim reading 20 records", members)
        before = {m.name: m.owned() for m in members}
        victim_owned = before[victim.name]
        t_kill = time.time()
        victim.kill()
        assert victim_owned, victim.describe()
        in_victims = sum(1 for p, _ in want if p in victim_owned)
        assert len(victim.records()) < in_victims, f"killed after reading all its partitions: {victim.describe()}"
        # the survivors end up with all 6 partitions
        wait_for(
            lambda: sorted(p for m in survivors for p in m.owned()) == list(range(NPART)),
            SESSION_MS / 1000 + 15,
            "the survivors owning all partitions",
            members,
        )
        t_takeover = min(
            e["t"] for m in survivors for e in m.evs("assign") if set(e["parts"]) & victim_owned and e["t"] > t_kill
        )
        wait_for(
            lambda: set(want) <= {(p, o) for m in members for p, o, _ in m.records()},
            30,
            "every record read at least once",
            members,
        )
        time.sleep(0.5)  # a late duplicate of the survivors' own partitions would show up now
        check_partition_split({m.name: m.owned() for m in survivors})
        after = {m.name: m.owned() for m in survivors}
    finally:
        t_stop = time.time()
        try:
            stop_all(survivors)
        finally:
            if victim.proc.poll() is None:
                victim.kill()
    print(f"takeover {t_takeover - t_kill:.1f}s after the kill; the victim read {len(victim.records())} records")
    assert t_takeover - t_kill >= SESSION_MS / 1000 - 1.5, (
        f"partitions taken over {t_takeover - t_kill:.1f}s after the kill, before the victim's session could expire"
    )
    got = [r for m in members for r in m.records()]
    assert set(want) <= {(p, o) for p, o, _ in got}
    for p, o, k in got:
        assert want.get((p, o)) == k, f"record at {(p, o)}: key {k}, produced {want.get((p, o))}"
    # The survivors' own records: exactly once (their commits succeed during the rebalance)
    dups = {}
    for m in survivors:
        for p, o, _ in m.records():
            if p not in victim_owned:
                dups[(p, o)] = dups.get((p, o), 0) + 1
    assert all(n == 1 for n in dups.values()), {k: n for k, n in dups.items() if n > 1}
    for m in survivors:
        assert not m.evs("commit_error"), m.describe()
        assert not m.evs("error"), m.describe()
    assert committed_offsets(group, topic) == end_offsets(want)
    return before, after, t_kill, t_stop


def survivors_resumed_at(victim, survivors, victim_owned, t_kill):
    """{partition: (the last offset the victim read there or -1, the lowest offset a survivor read
    there after the kill)} for the victim's partitions."""
    victim_last = {}
    for p, o, _ in victim.records():
        victim_last[p] = max(victim_last.get(p, -1), o)
    res = {}
    for p in victim_owned:
        firsts = [o for m in survivors for q, o, _ in m.records(since=t_kill) if q == p]
        assert firsts, f"no survivor read partition {p}"
        res[p] = (victim_last.get(p, -1), min(firsts))
    return res


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_confluent_member_killed_partitions_taken_over(strategy):
    """One of three members is killed with SIGKILL after reading some records; after its session
    times out (6 s) the others take over its partitions from its last committed offsets: every
    record read at least once, and a taken-over partition restarts at the offset the dead member
    last committed (it commits after every record). With the eager range assignor and with the
    incremental cooperative-sticky one (the survivors keep their partitions and get the victim's)."""
    topic, want = keyed_topic(tag=f"grp-kill-{strategy}")
    group = uniq(f"grp-kill-{strategy}")
    conf = {"partition.assignment.strategy": strategy}
    # the victim reads slowly (and commits after every record), the others at full speed
    members = [Member(f"m{i}", group, topic, conf, per_record_s=0.01 if i == 0 else 0) for i in range(3)]
    victim, survivors = members[0], members[1:]
    before, after, t_kill, t_stop = kill_one_member(members, want, group, topic)
    victim_owned = before[victim.name]
    # Where the survivors resumed each of the victim's partitions: its last committed offset, i.e.
    # the offset after its last record there, or that record itself if it died before committing.
    for p, (last, first) in survivors_resumed_at(victim, survivors, victim_owned, t_kill).items():
        print(f"partition {p}: the victim read up to {last}, survivors resumed at {first}")
        assert first in (last, last + 1) or (last == -1 and first == 0), (
            f"partition {p}: victim read up to offset {last}, survivors resumed at {first}"
        )
    if strategy == "cooperative-sticky":
        # incremental: a survivor never gave up a partition, it only gained the victim's
        for m in survivors:
            assert not [e for e in m.evs() if e["ev"] in ("revoke", "lost") and t_kill < e["t"] < t_stop], m.describe()
            assert before[m.name] <= after[m.name], f"{m.name} owned {before[m.name]}, then {after[m.name]}"


def test_kafka_python_member_killed_partitions_taken_over():
    """Three kafka-python members (subprocesses, eager protocol, range assignor; a synchronous
    commit after each batch of at most 10 records), one killed with SIGKILL after reading some
    records: after its 6 s session the other two take over its partitions, every record read at
    least once, and each taken-over partition restarts at the victim's last commit there (between
    the last commit it reported and the offset after the last record it read)."""
    topic, want = keyed_topic(tag="grp-kpy-kill")
    group = uniq("grp-kpy-kill")
    conf = {"max_poll_records": 10}
    # the victim reads slowly, the others at full speed
    members = [
        Member(f"kpy{i}", group, topic, conf, per_record_s=0.01 if i == 0 else 0, client="kafka-python") for i in range(3)
    ]
    victim, survivors = members[0], members[1:]
    before, _, t_kill, _ = kill_one_member(members, want, group, topic)
    victim_owned = before[victim.name]
    committed = {}
    for e in victim.evs("commit"):
        committed.update({int(p): o for p, o in e["offsets"].items()})
    assert committed, f"the victim never committed: {victim.describe()}"
    for p, (last, first) in survivors_resumed_at(victim, survivors, victim_owned, t_kill).items():
        print(f"partition {p}: the victim read up to {last}, last reported commit {committed.get(p)}, survivors resumed at {first}")
        assert committed.get(p, 0) <= first <= last + 1, (
            f"partition {p}: the victim committed {committed.get(p)} (last reported) and read up to {last}, "
            f"survivors resumed at {first}"
        )
    for m in members:
        assert m.proc.returncode in (0, -signal.SIGKILL), m.describe()


def test_confluent_static_member_restart_keeps_partitions():
    """KIP-345: three members with group.instance.id. Each in turn is closed (librdkafka sends no
    LeaveGroup for a static member) and restarted at once with the same instance id: it gets its
    own partitions back and the other members see no rebalance, also after the old incarnations'
    session timeouts have passed. Restarting all three covers the group leader, which rejoins
    with JoinGroup v5 (< v9, cannot skip the assignment): Kafka then answers with the old leader
    id so that it acts as a follower, without a rebalance. The restarted members resume from the
    committed offsets (nothing re-read) and read the new records of their partitions."""
    topic, want = keyed_topic(n=120, tag="grp-static")
    group = uniq("grp-static")

    def conf(i):
        return {"partition.assignment.strategy": "range", "group.instance.id": f"{group}-instance-{i}"}

    live = [Member(f"m{i}", group, topic, conf(i)) for i in range(3)]
    old = []
    try:
        wait_for(lambda: len({(p, o) for m in live for p, o, _ in m.records()}) >= len(want), 20, "all records read", live)
        time.sleep(0.5)
        before = [m.owned() for m in live]
        check_partition_split({m.name: s for m, s in zip(live, before)})
        for i in (2, 1, 0):
            counts = {m.name: len(m.rebalances()) for m in live}
            gone = live[i]
            gone.stop()
            old.append(gone)
            live[i] = Member(f"m{i}-restarted", group, topic, conf(i))
            wait_for(lambda: live[i].owned(), 10, f"the restarted static member {i}'s assignment", live + old)
            assert live[i].owned() == before[i], f"restarted member {i} got {live[i].owned()}, had {before[i]}"
            for j, m in enumerate(live):
                if j != i:
                    assert len(m.rebalances()) == counts[m.name], (
                        f"restarting static member m{i} made {m.name} rebalance (a new generation): {m.describe()}"
                    )
            t_last_close = time.time()
        # past the old incarnations' session timeouts: still nobody rebalanced
        time.sleep(max(0, t_last_close + SESSION_MS / 1000 + 1.5 - time.time()))
        for i, m in enumerate(live):
            assert len(m.rebalances()) == 1, f"rebalanced after the restarts: {m.describe()}"
            assert m.owned() == before[i]
            assert m.records() == [], f"the restarted member {m.name} re-read committed records"
        # new records: read once each, each by the member holding its partition
        more = [dict(key=f"new-{i:03d}".encode(), value=b"x") for i in range(60)]
        produce_keyed(topic, more)
        new_pos = {(r["partition"], r["offset"]): r["key"].decode() for r in more}
        wait_for(lambda: len({(p, o) for m in live for p, o, k in m.records()}) >= 60, 15, "new records", live)
        time.sleep(0.5)
        check_exactly_once(new_pos, [r for m in live for r in m.records()])
        for i, m in enumerate(live):
            assert {p for p, _, _ in m.records()} <= before[i], m.describe()
            assert not m.evs("commit_error"), m.describe()
    finally:
        stop_all(live)
        for m in old:
            if m.proc.poll() is None:
                m.kill()


# ------------------------------------------------------------------------------------------------
# the consumer group protocol of KIP-848 (group.protocol=consumer): ConsumerGroupHeartbeat,
# server-side assignors, ConsumerGroupDescribe

KIP848 = {"group.protocol": "consumer"}
_kip848_settings = {}


def kip848_settings():
    """The broker's group.consumer.heartbeat.interval.ms and group.consumer.session.timeout.ms in
    seconds (DescribeConfigs): run.sh lowers them to 0.5 s and 6 s, a broker with Kafka's defaults
    has 5 s and 45 s. Waits below scale with the heartbeat interval, the kill test needs the
    session timeout."""
    if not _kip848_settings:
        from confluent_kafka.admin import ConfigResource, ResourceType

        a = admin()
        broker = str(next(iter(a.list_topics(timeout=TIMEOUT).brokers)))
        res = a.describe_configs([ConfigResource(ResourceType.BROKER, broker)], request_timeout=TIMEOUT)
        cfg = next(iter(res.values())).result(TIMEOUT)
        _kip848_settings["heartbeat_s"] = int(cfg["group.consumer.heartbeat.interval.ms"].value) / 1000
        _kip848_settings["session_s"] = int(cfg["group.consumer.session.timeout.ms"].value) / 1000
    return _kip848_settings["heartbeat_s"], _kip848_settings["session_s"]


def converge_s():
    """How long a KIP-848 group may take to settle: a few heartbeats per member change."""
    return 10 + 8 * kip848_settings()[0]


def kip848_members(group, topic, n=3, extra=None, **kw):
    conf = lambda i: dict(KIP848, **{"client.id": f"{group}-m{i}"}, **(extra or {}))  # noqa: E731
    return [Member(f"m{i}", group, topic, conf(i), commit_on_revoke=True, **kw) for i in range(n)]


def settled(members, per_member):
    """Every member holds per_member partitions, disjoint, covering all of them."""
    owned = [m.owned() for m in members]
    allp = sorted(p for s in owned for p in s)
    return allp == list(range(NPART)) and all(len(s) == per_member for s in owned)


def run_kip848_group(assignor):
    """Three consumer-protocol members over 6 partitions: half of the records exist before they
    start (the first member to join is given everything and hands partitions over while reading,
    committing in its revoke callback), the other half is produced once the group has settled on
    2 partitions each. Every record read exactly once; after settling each member reads only its
    own partitions; committed offsets = end offsets."""
    topic, want = keyed_topic(n=NREC // 2, tag=f"kip848-{assignor}")
    group = uniq(f"kip848-{assignor}")
    extra = {} if assignor is None else {"group.remote.assignor": assignor}
    members = kip848_members(group, topic, extra=extra, per_record_s=0.005)
    try:
        wait_for(lambda: settled(members, 2), converge_s(), "2 partitions each", members)
        t_settled = time.time()
        owned = {m.name: m.owned() for m in members}
        more = [dict(key=f"more-{i:04d}".encode(), value=b"x") for i in range(NREC // 2)]
        produce_keyed(topic, more)
        want.update({(r["partition"], r["offset"]): r["key"].decode() for r in more})
        wait_for(lambda: set(want) <= {(p, o) for m in members for p, o, _ in m.records()}, 30, "all records read", members)
        time.sleep(1)  # any duplicate delivery would show up now
        assert {m.name: m.owned() for m in members} == owned, "assignments moved without a member change"
        for m in members:
            assert not m.evs("commit_error"), m.describe()
            assert not m.evs("error"), m.describe()
            assert not m.evs("lost"), m.describe()
            read = {p for p, _, _ in m.records(since=t_settled)}
            assert read <= owned[m.name], f"{m.name} read partitions {read}, owns {owned[m.name]}"
            assert read, f"{m.name} read nothing after the group settled: {m.describe()}"
        desc = describe_kip848(group, members, owned)
        assert desc.partition_assignor == (assignor or "uniform"), desc.partition_assignor
    finally:
        stop_all(members)
    print("commits retried after STALE_MEMBER_EPOCH:", {m.name: len(m.evs("commit_retry")) for m in members})
    check_exactly_once(want, [r for m in members for r in m.records()])
    assert committed_offsets(group, topic) == end_offsets(want)
    return group, topic, members, owned


def describe_kip848(group, members, owned):
    """AdminClient list/describe of a settled consumer-protocol group (ListGroups v5,
    ConsumerGroupDescribe): type CONSUMER, state STABLE, each member with its client id and its
    current and target assignment = what the member owns.

    The members holding their target partitions is not enough for STABLE: a member whose
    partitions did not change moves to the group's new epoch on its next heartbeat, and until then
    the group is Reconciling (librdkafka has no enum value for Assigning/Reconciling: UNKNOWN)."""
    from confluent_kafka import ConsumerGroupState, ConsumerGroupType

    a = admin()
    states = []

    def stable():
        d = a.describe_consumer_groups([group], request_timeout=TIMEOUT)[group].result(TIMEOUT)
        states.append(d.state)
        return d.state == ConsumerGroupState.STABLE

    try:
        wait_for(stable, converge_s(), "the group described as STABLE", members)
    except AssertionError as e:
        raise AssertionError(f"{e}\nstates described: {states}") from None
    listed = [g for g in a.list_consumer_groups(request_timeout=TIMEOUT).result(TIMEOUT).valid if g.group_id == group]
    assert len(listed) == 1, listed
    assert listed[0].type == ConsumerGroupType.CONSUMER, listed[0].type
    assert listed[0].state == ConsumerGroupState.STABLE, listed[0].state
    assert not listed[0].is_simple_consumer_group
    only = a.list_consumer_groups(types={ConsumerGroupType.CONSUMER}, request_timeout=TIMEOUT).result(TIMEOUT)
    assert group in [g.group_id for g in only.valid]
    assert all(g.type == ConsumerGroupType.CONSUMER for g in only.valid), [(g.group_id, g.type) for g in only.valid]
    classic = a.list_consumer_groups(types={ConsumerGroupType.CLASSIC}, request_timeout=TIMEOUT).result(TIMEOUT)
    assert group not in [g.group_id for g in classic.valid]

    desc = a.describe_consumer_groups([group], request_timeout=TIMEOUT)[group].result(TIMEOUT)
    assert desc.group_id == group
    assert desc.type == ConsumerGroupType.CONSUMER, desc.type
    assert desc.state == ConsumerGroupState.STABLE, desc.state
    assert not desc.is_simple_consumer_group
    assert desc.coordinator is not None and desc.coordinator.port == int(BOOT.rsplit(":", 1)[1])
    by_id = {m.member_id(): m for m in members}
    assert sorted(d.member_id for d in desc.members) == sorted(by_id), (desc.members, by_id)
    for d in desc.members:
        m = by_id[d.member_id]
        assert d.client_id == f"{group}-{m.name}", d.client_id
        assert d.host, d.host
        assert d.group_instance_id is None
        assert {tp.partition for tp in d.assignment.topic_partitions} == owned[m.name], (m.name, d.assignment.topic_partitions)
        assert d.target_assignment is not None
        assert {tp.partition for tp in d.target_assignment.topic_partitions} == owned[m.name]
    return desc


def test_confluent_kip848_uniform_exactly_once_and_describe():
    """group.protocol=consumer with the broker's default assignor (uniform): every record read
    once, 2 partitions each; the AdminClient lists (type CONSUMER, STABLE; the type filter of
    ListGroups v5) and describes the group (ConsumerGroupDescribe: assignor, members, client ids,
    assignments, target assignments); once all members closed (leave heartbeats), EMPTY with no
    members."""
    from confluent_kafka import ConsumerGroupState, ConsumerGroupType

    group, topic, members, owned = run_kip848_group(None)
    desc = admin().describe_consumer_groups([group], request_timeout=TIMEOUT)[group].result(TIMEOUT)
    assert desc.type == ConsumerGroupType.CONSUMER, desc.type
    assert desc.state == ConsumerGroupState.EMPTY, desc.state
    assert desc.members == [], desc.members


def test_confluent_kip848_range_assignor():
    """group.remote.assignor=range: the range assignor's split of one 6-partition topic between 3
    members is 2 consecutive partitions each ({0,1}, {2,3}, {4,5}); every record read once."""
    group, topic, members, owned = run_kip848_group("range")
    assert sorted(sorted(s) for s in owned.values()) == [[0, 1], [2, 3], [4, 5]], owned


def kip848_takeover(how):
    """Three consumer-protocol members reading slowly (committing after every record); once the
    group settled and the victim read some records, it is closed (leave heartbeat) or killed; the
    survivors take its partitions over (3 each) and resume each at the victim's last commit."""
    heartbeat_s, session_s = kip848_settings()
    topic, want = keyed_topic(tag=f"kip848-{how}")
    group = uniq(f"kip848-{how}")
    members = kip848_members(group, topic, per_record_s=0.02)
    victim, survivors = members[0], members[1:]
    try:
        wait_for(lambda: settled(members, 2), converge_s(), "2 partitions each", members)
        n0 = len(victim.records())
        wait_for(lambda: len(victim.records()) >= n0 + 10, 10, "the victim reading 10 more records", members)
        victim_owned = victim.owned()
        t_gone = time.time()
        if how == "close":
            victim.stop()
        else:
            victim.kill()
        wait_for(
            lambda: settled(survivors, 3),
            converge_s() + (session_s if how == "kill" else 0),
            "the survivors owning all partitions",
            members,
        )
        t_takeover = min(
            e["t"] for m in survivors for e in m.evs("assign") if set(e["parts"]) & victim_owned and e["t"] > t_gone
        )
        wait_for(lambda: set(want) <= {(p, o) for m in members for p, o, _ in m.records()}, 30, "every record read", members)
        time.sleep(0.5)
        for m in members:
            assert not m.evs("commit_error"), m.describe()
            assert not m.evs("error"), m.describe()
        for m in survivors:
            assert not m.evs("lost"), m.describe()
    finally:
        try:
            stop_all(survivors)
        finally:
            if victim.proc.poll() is None:
                victim.kill()
    print(f"takeover {t_takeover - t_gone:.1f}s after the {how}")
    print("commits retried after STALE_MEMBER_EPOCH:", {m.name: len(m.evs("commit_retry")) for m in members})
    if how == "close":
        assert t_takeover - t_gone < 3 + 4 * heartbeat_s, "a closed member's partitions moved only late"
    else:
        assert t_takeover - t_gone >= session_s - 1.5, "partitions taken over before the victim's session could expire"
    # Where the survivors resumed each of the victim's partitions: its last committed offset. A
    # closing member commits in its revoke callback: exactly after its last record. A killed one
    # may have died between reading a record and committing it. The victim may not have reached a
    # partition it was given when the group settled (librdkafka hands it the records of one fetched
    # partition after the other, slowly here): then the last commit is the previous owner's, which
    # committed after each record and in its revoke callback. So: the last offset anyone read
    # before the victim went.
    read_before = {}
    for m in members:
        for e in m.evs("rec"):
            if e["t"] <= t_gone:
                read_before[e["p"]] = max(read_before.get(e["p"], -1), e["o"])
    for p in victim_owned:
        after = [o for m in survivors for q, o, _ in m.records(since=t_gone) if q == p]
        assert after, f"no survivor read partition {p}"
        last = read_before.get(p, -1)
        ok = (last + 1,) if how == "close" else (last, last + 1)
        assert min(after) in ok, (
            f"partition {p}: read up to offset {last} before the {how} (by the victim or an earlier owner), "
            f"survivors resumed at {min(after)}"
        )
    got = [r for m in members for r in m.records()]
    if how == "close":
        check_exactly_once(want, got)
    else:
        assert set(want) <= {(p, o) for p, o, _ in got}
        # the survivors' own partitions: exactly once
        own = [(p, o) for m in survivors for p, o, _ in m.records() if p not in victim_owned]
        assert len(own) == len(set(own)), "a survivor re-read records of its own partitions"
    assert committed_offsets(group, topic) == end_offsets(want)


def test_confluent_kip848_closed_member_hands_over():
    """A consumer-protocol member that closes (revoke callback commits, then a leave heartbeat,
    member epoch -1) hands its partitions to the other two within a few heartbeats; they resume at
    its last commit: every record read exactly once."""
    kip848_takeover("close")


def test_confluent_kip848_killed_member_session_expires():
    """A consumer-protocol member killed with SIGKILL: after group.consumer.session.timeout.ms
    without a heartbeat the broker fences it and the other two take its partitions over from its
    last committed offsets: every record read at least once. Skipped against a broker whose session
    timeout is over 15 s (Kafka's default 45 s; run.sh sets 6 s)."""
    if kip848_settings()[1] > 15:
        pytest.skip(f"group.consumer.session.timeout.ms is {kip848_settings()[1]:.0f} s (run.sh sets 6 s)")
    kip848_takeover("kill")


def test_confluent_kip848_commit_committed():
    """commit()/committed() of a consumer-protocol member (its OffsetCommit carries its member id
    and member epoch): commit(message), commit(offsets) with metadata, commit() of the
    positions, an unknown partition refused; the offsets seen by a non-member and by the
    AdminClient; after a close, a new member of the group resumes there."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    topic, want = keyed_topic(n=60, partitions=3, tag="kip848-commit")
    ends = end_offsets(want)
    group = uniq("kip848-commit")
    conf = dict(KIP848, **{"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False,
                           "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100, "socket.timeout.ms": 5000})
    tps = [TopicPartition(topic, p) for p in range(3)]

    def consume_all(c, n, what):
        got = []
        deadline = time.time() + converge_s() + 10
        while len(got) < n and time.time() < deadline:
            m = c.poll(0.1)
            if m is None:
                continue
            assert m.error() is None, m.error()
            got.append(m)
        assert len(got) == n, f"{what}: read {len(got)} of {n} records, assignment {c.assignment()}"
        return got

    c = Consumer(conf)
    try:
        c.subscribe([topic])
        msgs = consume_all(c, len(want), "all records")
        assert sorted(tp.partition for tp in c.assignment()) == [0, 1, 2]
        assert {(m.partition(), m.offset()) for m in msgs} == set(want)
        got = c.committed(tps, timeout=TIMEOUT)
        assert [(t.partition, t.offset, t.error) for t in got] == [(p, OFFSET_INVALID, None) for p in range(3)]
        # commit(message): the offset after it
        last0 = max((m for m in msgs if m.partition() == 0), key=lambda m: m.offset())
        c.commit(message=last0, asynchronous=False)
        assert c.committed([TopicPartition(topic, 0)], timeout=TIMEOUT)[0].offset == last0.offset() + 1
        # explicit offsets with metadata
        res = c.commit(offsets=[TopicPartition(topic, 1, 3, metadata="kip848")], asynchronous=False)
        assert all(t.error is None for t in res), res
        got = c.committed(tps, timeout=TIMEOUT)
        assert [(t.partition, t.offset) for t in got] == [(0, ends[0]), (1, 3), (2, OFFSET_INVALID)]
        assert got[1].metadata == "kip848", got[1].metadata
        # commit(): the positions
        c.commit(asynchronous=False)
        got = c.committed(tps, timeout=TIMEOUT)
        assert {t.partition: t.offset for t in got} == ends
        # a partition that does not exist
        with pytest.raises(KafkaException) as ei:
            c.commit(offsets=[TopicPartition(topic, 7, 1)], asynchronous=False)
        assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, ei.value
        # while the member is in the group: a non-member and the AdminClient read the same offsets
        assert committed_offsets(group, topic, 3) == ends
        res = admin().list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=TIMEOUT)
        listed = res[group].result(TIMEOUT)
        assert {t.partition: t.offset for t in listed.topic_partitions if t.topic == topic} == ends
    finally:
        c.close()
    # new records; a new member of the group reads only those
    more = [dict(key=f"more-{i:02d}".encode(), value=b"x") for i in range(15)]
    produce_keyed(topic, more)
    c = Consumer(conf)
    try:
        c.subscribe([topic])
        msgs = consume_all(c, len(more), "the new records")
        assert sorted(m.key() for m in msgs) == sorted(r["key"] for r in more)
        assert {(m.partition(), m.offset()) for m in msgs} == {(r["partition"], r["offset"]) for r in more}
        c.commit(asynchronous=False)
        m = c.poll(1)
        assert m is None, f"read more than the new records: {m.partition(), m.offset()}"
    finally:
        c.close()
    assert committed_offsets(group, topic, 3) == end_offsets(set(want) | {(r["partition"], r["offset"]) for r in more})


# ------------------------------------------------------------------------------------------------
# simple (non-member) commits


def test_confluent_simple_commit_roundtrip():
    """assign() + commit(offsets) + committed() with a group nobody joined (OffsetCommit with
    generation -1 and no member id), metadata included; unknown topic -> UNKNOWN_TOPIC_OR_PARTITION."""
    topic = create_topic(uniq("simple-commit"), 3)
    group = uniq("simple-commit")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False, "socket.timeout.ms": 5000})
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]
        c.assign(tps)
        got = c.committed(tps, timeout=TIMEOUT)
        assert [(t.partition, t.offset, t.error) for t in got] == [(p, OFFSET_INVALID, None) for p in range(3)]
        res = c.commit(
            offsets=[TopicPartition(topic, 0, 5, metadata="zero"), TopicPartition(topic, 2, 42)],
            asynchronous=False,
        )
        assert all(t.error is None for t in res), res
        got = c.committed(tps, timeout=TIMEOUT)
        assert [(t.partition, t.offset, t.error) for t in got] == [(0, 5, None), (1, OFFSET_INVALID, None), (2, 42, None)]
        assert got[0].metadata == "zero", got[0].metadata
        # a second commit overwrites the first
        c.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
        assert c.committed([TopicPartition(topic, 0)], timeout=TIMEOUT)[0].offset == 7
        # commits to a topic that does not exist
        with pytest.raises(KafkaException) as ei:
            c.commit(offsets=[TopicPartition(uniq("no-such-topic"), 0, 1)], asynchronous=False)
        assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, ei.value
        # ... and to a partition that does not exist
        with pytest.raises(KafkaException) as ei:
            c.commit(offsets=[TopicPartition(topic, 7, 1)], asynchronous=False)
        assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, ei.value
    finally:
        c.close()
    # another client (a new consumer of the group) reads the same
    assert committed_offsets(group, topic, 3) == {0: 7, 1: OFFSET_INVALID, 2: 42}
    # the AdminClient sees the simple group with its offsets
    a = admin()
    from confluent_kafka import ConsumerGroupTopicPartitions

    res = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=TIMEOUT)[group].result(TIMEOUT)
    assert sorted((t.topic, t.partition, t.offset) for t in res.topic_partitions) == [(topic, 0, 7), (topic, 2, 42)]


# ------------------------------------------------------------------------------------------------
# kafka-python


def test_kafka_python_group_exactly_once_and_admin():
    """Three kafka-python KafkaConsumers (threads) in one group over 6 partitions: every record read
    once, assignments disjoint and covering; KafkaAdminClient lists and describes the group with
    its 3 members and their assignments, and reads the committed offsets back; so does a new
    KafkaConsumer of the group."""
    topic, want = keyed_topic(tag="grp-kpy")
    group = uniq("grp-kpy")
    ends = end_offsets(want)
    got = []
    errors = []
    lock = threading.Lock()
    stop = threading.Event()
    consumers = {}

    def run(i):
        try:
            c = KafkaConsumer(
                topic,
                bootstrap_servers=BOOT,
                group_id=group,
                client_id=f"kpy-{i}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=SESSION_MS,
                heartbeat_interval_ms=500,
                request_timeout_ms=10000,
                fetch_max_wait_ms=100,
            )
        except Exception as e:  # noqa: BLE001
            errors.append(f"kpy-{i}: {e!r}")
            return
        consumers[i] = c
        try:
            while not stop.is_set():
                batch = c.poll(timeout_ms=100)
                n = 0
                for msgs in batch.values():
                    for m in msgs:
                        with lock:
                            got.append((i, m.partition, m.offset, m.key.decode()))
                        n += 1
                if n:
                    c.commit()
        except Exception as e:  # noqa: BLE001
            errors.append(f"kpy-{i}: {e!r}")

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    ka = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=10000)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not errors:
            with lock:
                if len({(p, o) for _, p, o, _ in got}) >= NREC:
                    break
            time.sleep(0.1)
        time.sleep(1)
        assert not errors, errors
        with lock:
            rows = list(got)
        check_exactly_once(want, [(p, o, k) for _, p, o, k in rows])
        owned = {f"kpy-{i}": {tp.partition for tp in c.assignment()} for i, c in consumers.items()}
        assert len(consumers) == 3
        check_partition_split(owned)

        groups = ka.list_consumer_groups()
        assert (group, "consumer") in [(g[0], g[1]) for g in groups], groups
        (desc,) = ka.describe_consumer_groups([group])
        print(desc)
        assert desc.group == group and desc.error_code == 0, desc
        assert desc.state == "Stable", desc.state
        assert desc.protocol_type == "consumer", desc
        assert desc.protocol in ("range", "roundrobin", "sticky"), desc.protocol
        assert len(desc.members) == 3, desc.members
        assert sorted(m.client_id for m in desc.members) == ["kpy-0", "kpy-1", "kpy-2"]
        for m in desc.members:
            assignment = {p for t, ps in m.member_assignment.assignment for p in ps if t == topic}
            assert assignment == owned[m.client_id], (m.client_id, m.member_assignment, owned)

        offsets = ka.list_consumer_group_offsets(group)
        assert {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic} == ends, offsets
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        for c in consumers.values():
            c.close(autocommit=False)
    # a new consumer of the group reads the committed offsets back (no join: committed() only)
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id=group, enable_auto_commit=False, request_timeout_ms=15000)
    try:
        for p in range(NPART):
            assert c.committed(KTopicPartition(topic, p)) == ends[p], p
    finally:
        c.close(autocommit=False)
    # everyone left: the group is Empty, with its offsets kept
    try:
        (desc,) = ka.describe_consumer_groups([group])
        assert desc.state == "Empty" and len(desc.members) == 0, desc
        offsets = ka.list_consumer_group_offsets(group)
        assert {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic} == ends
    finally:
        ka.close()
