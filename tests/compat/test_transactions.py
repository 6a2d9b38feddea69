"""Idempotent and transactional producers, read_committed consumers, with Python clients (and kcat)
against a running Tributary broker.

Run by tests/compat/run.sh in the same pytest invocation as test_python.py (COMPAT_BOOTSTRAP set;
TRIBUTARY_BIN for the two connection-cutting tests, which start a broker of their own).
By hand:  COMPAT_BOOTSTRAP=127.0.0.1:9092 TRIBUTARY_BIN=target/debug/tributary \
          $COMPAT_VENV/bin/pytest -v tests/compat/test_transactions.py

The timeout test needs the broker to look for timed-out transactions more often than Kafka's
default (transaction.abort.timed.out.transaction.cleanup.interval.ms=10000): run.sh passes 500 ms.
The test reads the value with DescribeConfigs and scales its wait with it.

Covered:
- confluent-kafka transactional producer: committed, aborted and open transactions over 3
  partitions, and two producers interleaving transactions on the same partitions; read_committed consumers see exactly the committed records, in order, and stop at
  the LSO while a transaction is open (also non-transactional records written after it);
  read_uncommitted consumers see everything; watermarks and AdminClient list_offsets with
  read_committed give the LSO; DescribeTransactions, ListTransactions and DescribeProducers (as
  kafka-transactions.sh and kafka-producers.sh use them; sent with kafka-python's low-level client
  since neither Python client's admin has them).
- consume-transform-produce with send_offsets_to_transaction from a subscribed group member:
  offsets committed in a transaction are invisible (Consumer.committed / list_consumer_group_offsets)
  until the commit, dropped by an abort; the output holds every input record exactly once.
- zombie fencing: a second producer with the same transactional.id fences the first, whose open
  transaction is aborted.
- transaction.timeout.ms: the broker aborts a transaction its producer forgot, the LSO moves on.
- kafka-python: idempotent producer (exactly once, producer id and sequences via DescribeProducers),
  transactional producer commit + abort with send_offsets_to_transaction, read_committed
  KafkaConsumer.
- connections cut every 300 ms by a TCP proxy (a second broker advertising the proxy; half of the
  cuts swallow a response the broker sent): an idempotent producer writes every record exactly
  once, in order; a transactional producer's committed transactions are read exactly once (resent
  Produce, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn requests).
- kcat: transactional produce (-X transactional.id, committed at EOF) and
  -X isolation.level=read_committed.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition
from kafka.protocol.api import Request, Response
from kafka.protocol.types import CompactArray, CompactString, Int16, Int32, Int64, Schema, TaggedFields

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec, ResourceType

BOOT = os.environ.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
TIMEOUT = 10  # seconds, for any single wait on the broker
TXN_TIMEOUT_MS = 2000  # the transaction.timeout.ms of the timeout test


def uniq(what):
    return f"compat-txn-{what}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------------------------
# helpers

_admin = None


def admin():
    """One AdminClient for the module (its futures fail with _DESTROY if the handle is freed)."""
    global _admin
    if _admin is None:
        _admin = AdminClient({"bootstrap.servers": BOOT, "socket.timeout.ms": 5000})
    return _admin


def create_topic(name, partitions, boot=None):
    """Creates a topic on the suite's broker, or on the broker at `boot` (with an AdminClient of its
    own, gone when this returns: not left reconnecting to a broker that is stopped)."""
    adm = admin() if boot is None else AdminClient({"bootstrap.servers": boot, "socket.timeout.ms": 5000})
    futs = adm.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)],
        operation_timeout=TIMEOUT,
        request_timeout=TIMEOUT,
    )
    futs[name].result(TIMEOUT)
    return name


def broker_config(name):
    res = ConfigResource(ResourceType.BROKER, "1")
    cfg = admin().describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    return cfg[name].value


def txn_producer(txid, **extra):
    conf = {
        "bootstrap.servers": BOOT,
        "transactional.id": txid,
        "linger.ms": 5,
        "socket.timeout.ms": 5000,
    }
    conf.update(extra)
    return Producer(conf)


def plain_produce(topic, recs, idempotent=True):
    """recs: [(partition, key, value)], written with a (by default idempotent) confluent producer."""
    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": idempotent, "acks": "all", "linger.ms": 5})
    errs = []
    for part, k, v in recs:
        p.produce(topic, key=k, value=v, partition=part, on_delivery=lambda e, m: e and errs.append(e))
    assert p.flush(TIMEOUT + 5) == 0
    assert not errs, errs


def read_all(topic, partitions, isolation, boot=None, timeout=TIMEOUT):
    """Reads `partitions` of `topic` from the beginning up to the end (the LSO for read_committed:
    librdkafka's partition EOF) with a confluent-kafka consumer; {partition: [(offset, key, value)]}
    with keys and values decoded."""
    c = Consumer(
        {
            "bootstrap.servers": boot or BOOT,
            "group.id": uniq("reader"),  # librdkafka needs one with assign(); never used
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
            "socket.timeout.ms": 5000,
            "check.crcs": True,
        }
    )
    out = {p: [] for p in partitions}
    eof = set()
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.time() + timeout
        while eof != set(partitions):
            assert time.time() < deadline, f"{isolation} read of {topic} did not reach the end: {out}, eof {eof}"
            for m in c.consume(num_messages=500, timeout=0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                        continue
                    raise KafkaException(m.error())
                eof.discard(m.partition())
                out[m.partition()].append(
                    (m.offset(), m.key().decode() if m.key() is not None else None, m.value().decode())
                )
    finally:
        c.close()
    return out


def kafka_python_read_committed(topic, partitions, count):
    """kafka-python's read_committed consumer from the beginning: values per partition, read
    until `count` records came (or the timeout), then once more to see that nothing else
    arrives; and the partitions' end offsets."""
    c = KafkaConsumer(bootstrap_servers=BOOT, isolation_level="read_committed", enable_auto_commit=False,
                      auto_offset_reset="earliest", fetch_max_wait_ms=100, request_timeout_ms=5000)
    got = {q: [] for q in partitions}
    try:
        c.assign([KTopicPartition(topic, q) for q in partitions])
        c.seek_to_beginning()
        deadline = time.time() + TIMEOUT
        while sum(map(len, got.values())) < count and time.time() < deadline:
            for tp, msgs in c.poll(timeout_ms=200).items():
                got[tp.partition].extend(m.value.decode() for m in msgs)
        time.sleep(0.5)
        for tp, msgs in c.poll(timeout_ms=200).items():
            got[tp.partition].extend(m.value.decode() for m in msgs)
        ends = c.end_offsets([KTopicPartition(topic, q) for q in partitions])
    finally:
        c.close(autocommit=False)
    return got, {tp.partition: o for tp, o in ends.items()}


def values(read):
    return {p: [v for _, _, v in recs] for p, recs in read.items()}


def watermarks(topic, partition, isolation):
    """(low, high) from a consumer with `isolation` (ListOffsets carries the isolation level)."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": uniq("wm"), "isolation.level": isolation})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT, cached=False)
    finally:
        c.close()


def admin_latest(topic, partitions, isolation):
    """AdminClient list_offsets(latest) with `isolation`: {partition: offset}."""
    req = {TopicPartition(topic, p): OffsetSpec.latest() for p in partitions}
    futs = admin().list_offsets(req, isolation_level=isolation, request_timeout=TIMEOUT)
    return {tp.partition: f.result(TIMEOUT).offset for tp, f in futs.items()}


def wait_until(what, cond, timeout=TIMEOUT, every=0.2):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


# ------------------------------------------------------------------------------------------------
# the transaction admin APIs with kafka-python's low-level client (its protocol types, our schemas:
# Kafka's DescribeTransactions v0, ListTransactions v0 and DescribeProducers v0, all flexible)


class DescribeTransactionsResponse_v0(Response):
    API_KEY = 65
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("transaction_states", CompactArray(
            ("error_code", Int16),
            ("transactional_id", CompactString("utf-8")),
            ("transaction_state", CompactString("utf-8")),
            ("transaction_timeout_ms", Int32),
            ("transaction_start_time_ms", Int64),
            ("producer_id", Int64),
            ("producer_epoch", Int16),
            ("topics", CompactArray(
                ("topic", CompactString("utf-8")),
                ("partitions", CompactArray(Int32)),
                ("tags", TaggedFields))),
            ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class DescribeTransactionsRequest_v0(Request):
    API_KEY = 65
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = DescribeTransactionsResponse_v0
    SCHEMA = Schema(("transactional_ids", CompactArray(CompactString("utf-8"))), ("tags", TaggedFields))


class ListTransactionsResponse_v0(Response):
    API_KEY = 66
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("unknown_state_filters", CompactArray(CompactString("utf-8"))),
        ("transaction_states", CompactArray(
            ("transactional_id", CompactString("utf-8")),
            ("producer_id", Int64),
            ("transaction_state", CompactString("utf-8")),
            ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class ListTransactionsRequest_v0(Request):
    API_KEY = 66
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = ListTransactionsResponse_v0
    SCHEMA = Schema(
        ("state_filters", CompactArray(CompactString("utf-8"))),
        ("producer_id_filters", CompactArray(Int64)),
        ("tags", TaggedFields),
    )


class DescribeProducersResponse_v0(Response):
    API_KEY = 61
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", CompactArray(
            ("name", CompactString("utf-8")),
            ("partitions", CompactArray(
                ("partition_index", Int32),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("active_producers", CompactArray(
                    ("producer_id", Int64),
                    ("producer_epoch", Int32),
                    ("last_sequence", Int32),
                    ("last_timestamp", Int64),
                    ("coordinator_epoch", Int32),
                    ("current_txn_start_offset", Int64),
                    ("tags", TaggedFields))),
                ("tags", TaggedFields))),
            ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class DescribeProducersRequest_v0(Request):
    API_KEY = 61
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = DescribeProducersResponse_v0
    SCHEMA = Schema(
        ("topics", CompactArray(
            ("name", CompactString("utf-8")),
            ("partition_indexes", CompactArray(Int32)),
            ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


def kafka_python_request(request, boot=None):
    """Sends one request to the (only) broker with kafka-python's low-level client; the response
    as a dict."""
    from kafka.client_async import KafkaClient

    client = KafkaClient(bootstrap_servers=boot or BOOT, request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
    try:
        node = client.least_loaded_node()
        deadline = time.time() + TIMEOUT
        while not client.ready(node) and time.time() < deadline:
            client.poll(timeout_ms=100)
        fut = client.send(node, request)
        client.poll(future=fut, timeout_ms=TIMEOUT * 1000)
        assert fut.succeeded(), fut.exception
        return fut.value.to_object()
    finally:
        client.close()


def describe_transaction(txid):
    res = kafka_python_request(DescribeTransactionsRequest_v0(transactional_ids=[txid], tags={}))
    (st,) = res["transaction_states"]
    assert st["transactional_id"] == txid
    return st


def list_transactions(states=()):
    res = kafka_python_request(ListTransactionsRequest_v0(state_filters=list(states), producer_id_filters=[], tags={}))
    assert res["error_code"] == 0, res
    return {t["transactional_id"]: t for t in res["transaction_states"]}


def describe_producers(topic, partitions, boot=None):
    """{partition: [active producer]} (error_code asserted 0)."""
    res = kafka_python_request(
        DescribeProducersRequest_v0(topics=[(topic, list(partitions), {})], tags={}),
        boot=boot,
    )
    (t,) = res["topics"]
    out = {}
    for p in t["partitions"]:
        assert p["error_code"] == 0, p
        out[p["partition_index"]] = p["active_producers"]
    return out


# ------------------------------------------------------------------------------------------------
# 1. commit, abort and an open transaction: what read_committed and read_uncommitted consumers see


def test_confluent_commit_abort_read_committed():
    """A confluent-kafka transactional producer writes over 3 partitions: a committed transaction,
    an aborted one, a committed one, then opens a fourth that stays open while idempotent
    non-transactional records land after it. Kafka semantics checked:
    - read_committed sees the committed records only, in produce order per partition, and stops at
      the LSO (the first offset of the open transaction): neither the open transaction's records nor
      the later non-transactional ones are visible; read_uncommitted sees every record;
    - watermarks / list_offsets(latest) with read_committed give the LSO, with read_uncommitted the
      high watermark; after the last commit both are the high watermark (markers included);
    - DescribeTransactions (Ongoing, the partitions, the timeout), ListTransactions (state filter),
      DescribeProducers (current_txn_start_offset = the LSO) while open; CompleteCommit after;
      an unknown state filter is echoed back, an unknown transactional id is
      TRANSACTIONAL_ID_NOT_FOUND."""
    parts = [0, 1, 2]
    topic = create_topic(uniq("commit-abort"), len(parts))
    txid = uniq("txid")
    p = txn_producer(txid, **{"transaction.timeout.ms": 30000})
    p.init_transactions(TIMEOUT)

    def txn(tag, n, end):
        p.begin_transaction()
        for i in range(n):
            p.produce(topic, key=f"{tag}-{i}", value=f"{tag}-{i}", partition=parts[i % len(parts)])
        if end == "commit":
            p.commit_transaction(TIMEOUT)
        elif end == "abort":
            p.flush(TIMEOUT)  # the records are in the log before the abort
            p.abort_transaction(TIMEOUT)
        else:
            assert p.flush(TIMEOUT) == 0

    txn("c1", 30, "commit")
    txn("a1", 30, "abort")
    txn("c2", 15, "commit")
    committed = {q: [f"{t}-{i}" for t, n in (("c1", 30), ("c2", 15)) for i in range(n) if i % 3 == q] for q in parts}
    aborted = {q: [f"a1-{i}" for i in range(30) if i % 3 == q] for q in parts}

    def expected_all(extra):
        return {
            q: [f"c1-{i}" for i in range(30) if i % 3 == q]
            + aborted[q]
            + [f"c2-{i}" for i in range(15) if i % 3 == q]
            + extra.get(q, [])
            for q in parts
        }

    rc = read_all(topic, parts, "read_committed")
    assert values(rc) == committed
    ru = read_all(topic, parts, "read_uncommitted")
    assert values(ru) == expected_all({})
    # both see the same committed records at the same offsets; markers take offsets (gaps)
    for q in parts:
        assert [r for r in ru[q] if not r[2].startswith("a1")] == rc[q]
    hw_closed = {q: watermarks(topic, q, "read_uncommitted")[1] for q in parts}
    for q in parts:
        # 10 c1, marker, 5 a1... per partition: 10 + 1 + 10 + 1 + 5 + 1 records and markers
        assert hw_closed[q] == 28, hw_closed
        assert watermarks(topic, q, "read_committed") == (0, 28)

    # an open transaction, then non-transactional records after it
    txn("open", 6, "open")
    plain_produce(topic, [(q, f"plain-{q}", f"plain-{q}") for q in parts])
    opened = {q: [f"open-{i}" for i in range(6) if i % 3 == q] for q in parts}
    plain = {q: [f"plain-{q}"] for q in parts}
    for q in parts:
        lo, hi = watermarks(topic, q, "read_uncommitted")
        assert (lo, hi) == (0, 28 + 2 + 1), (q, lo, hi)
        assert watermarks(topic, q, "read_committed") == (0, 28), f"partition {q}: read_committed high watermark is not the LSO"
    assert admin_latest(topic, parts, IsolationLevel.READ_COMMITTED) == {q: 28 for q in parts}
    assert admin_latest(topic, parts, IsolationLevel.READ_UNCOMMITTED) == {q: 31 for q in parts}
    assert values(read_all(topic, parts, "read_committed")) == committed, "read_committed went past the LSO"
    assert values(read_all(topic, parts, "read_uncommitted")) == expected_all(
        {q: opened[q] + plain[q] for q in parts}
    )

    # the admin APIs see the open transaction
    st = describe_transaction(txid)
    assert st["error_code"] == 0 and st["transaction_state"] == "Ongoing", st
    assert st["transaction_timeout_ms"] == 30000
    assert st["transaction_start_time_ms"] > 0
    assert {t["topic"]: sorted(t["partitions"]) for t in st["topics"]} == {topic: parts}
    assert txid in list_transactions(["Ongoing"])
    assert list_transactions(["Ongoing"])[txid]["producer_id"] == st["producer_id"]
    assert txid not in list_transactions(["CompleteCommit"])
    res = kafka_python_request(ListTransactionsRequest_v0(state_filters=["Bogus", "Ongoing"], producer_id_filters=[], tags={}))
    assert res["error_code"] == 0 and res["unknown_state_filters"] == ["Bogus"], res
    unknown = uniq("unknown-txid")
    res = kafka_python_request(DescribeTransactionsRequest_v0(transactional_ids=[unknown], tags={}))
    assert [(x["transactional_id"], x["error_code"]) for x in res["transaction_states"]] == [(unknown, 105)]  # TRANSACTIONAL_ID_NOT_FOUND
    producers = describe_producers(topic, parts)
    for q in parts:
        mine = [x for x in producers[q] if x["producer_id"] == st["producer_id"]]
        assert len(mine) == 1, producers[q]
        assert mine[0]["producer_epoch"] == st["producer_epoch"]
        assert mine[0]["current_txn_start_offset"] == 28, mine
        assert mine[0]["last_sequence"] == 10 + 10 + 5 + 2 - 1, mine  # sequences per partition from 0
        # the idempotent non-transactional producer: no open transaction
        others = [x for x in producers[q] if x["producer_id"] != st["producer_id"]]
        assert len(others) == 1 and others[0]["current_txn_start_offset"] == -1, producers[q]

    p.commit_transaction(TIMEOUT)
    for q in parts:
        assert watermarks(topic, q, "read_committed") == (0, 32)
        assert watermarks(topic, q, "read_uncommitted") == (0, 32)
    want = {q: committed[q] + opened[q] + plain[q] for q in parts}
    assert values(read_all(topic, parts, "read_committed")) == want
    st = describe_transaction(txid)
    assert st["transaction_state"] == "CompleteCommit" and st["topics"] == [], st
    assert txid in list_transactions(["CompleteCommit"])
    for q, prods in describe_producers(topic, parts).items():
        assert all(x["current_txn_start_offset"] == -1 for x in prods), prods
    p.flush(1)


def test_confluent_interleaved_transactions():
    """Two transactional producers (gzip and zstd batches) interleave their transactions on the same
    2 partitions, as concurrent applications do: A begins and writes, B writes, A writes again,
    B writes again. While both are open the LSO is A's first offset; A aborts, the LSO moves to B's
    first offset (B still open) and read_committed shows nothing of A and nothing of B yet; B
    commits, and read_committed shows exactly B's records, in order, although A's aborted batches
    lie between them (the aborted-transactions index filters by producer id)."""
    topic = create_topic(uniq("interleaved"), 2)
    a = txn_producer(uniq("a-txid"), **{"compression.type": "gzip"})
    b = txn_producer(uniq("b-txid"), **{"compression.type": "zstd"})
    a.init_transactions(TIMEOUT)
    b.init_transactions(TIMEOUT)
    plain_produce(topic, [(q, None, f"before-{q}") for q in (0, 1)])  # offset 0: committed data first
    a.begin_transaction()
    b.begin_transaction()
    for rnd in range(2):
        for who, p in (("a", a), ("b", b)):
            for i in range(10):
                p.produce(topic, value=f"{who}{rnd}-{i}", partition=i % 2)
            assert p.flush(TIMEOUT) == 0  # each producer's batch lands before the other's next one
    # per partition: before (0), a0 x5 (1-5), b0 x5 (6-10), a1 x5 (11-15), b1 x5 (16-20)
    for q in (0, 1):
        assert watermarks(topic, q, "read_uncommitted") == (0, 21)
        assert watermarks(topic, q, "read_committed") == (0, 1), "LSO is not the first open transaction's start"
    a.abort_transaction(TIMEOUT)
    for q in (0, 1):
        assert watermarks(topic, q, "read_committed") == (0, 6), "LSO did not move to B's first offset"
    assert values(read_all(topic, [0, 1], "read_committed")) == {0: ["before-0"], 1: ["before-1"]}
    b.commit_transaction(TIMEOUT)
    for q in (0, 1):
        assert watermarks(topic, q, "read_committed") == watermarks(topic, q, "read_uncommitted") == (0, 23)
    want = {q: [f"before-{q}"] + [f"b{r}-{i}" for r in range(2) for i in range(10) if i % 2 == q] for q in (0, 1)}
    rc = read_all(topic, [0, 1], "read_committed")
    assert values(rc) == want
    for q in (0, 1):
        assert [o for o, _, _ in rc[q]] == [0] + list(range(6, 11)) + list(range(16, 21))
    ru = values(read_all(topic, [0, 1], "read_uncommitted"))
    assert {q: len(v) for q, v in ru.items()} == {0: 21, 1: 21}
    # kafka-python's read_committed consumer filters the same way
    got, _ = kafka_python_read_committed(topic, (0, 1), 22)
    assert got == want


# ------------------------------------------------------------------------------------------------
# 2. consume-transform-produce


def test_confluent_send_offsets_to_transaction():
    """Consume-transform-produce with a subscribed confluent-kafka consumer and
    send_offsets_to_transaction (TxnOffsetCommit with the member's group metadata). The offsets
    are not visible to Consumer.committed (OffsetFetch require_stable) or to the AdminClient until
    the transaction commits; an aborted transaction leaves them (and its output) out; after
    rewinding to the committed offsets the loop ends with every input record exactly once in the
    output, read_committed."""
    src = create_topic(uniq("ctp-in"), 2)
    dst = create_topic(uniq("ctp-out"), 2)
    group = uniq("ctp-group")
    plain_produce(src, [(i % 2, f"k{i}", f"in-{i}") for i in range(40)])

    c = Consumer(
        {
            "bootstrap.servers": BOOT,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "fetch.wait.max.ms": 100,
        }
    )
    p = txn_producer(uniq("ctp-txid"))
    p.init_transactions(TIMEOUT)
    checker = Consumer({"bootstrap.servers": BOOT, "group.id": group, "isolation.level": "read_committed"})
    tps = [TopicPartition(src, q) for q in (0, 1)]

    def committed_via_consumer():
        return {tp.partition: tp.offset for tp in checker.committed(tps, timeout=TIMEOUT)}

    def committed_via_admin():
        req = [ConsumerGroupTopicPartitions(group, tps)]
        res = admin().list_consumer_group_offsets(req, require_stable=False, request_timeout=TIMEOUT)[group]
        return {tp.partition: tp.offset for tp in res.result(TIMEOUT).topic_partitions}

    def process(n):
        """Consumes n records, writes them transformed; returns their values."""
        got = []
        deadline = time.time() + 3 * TIMEOUT  # the first call waits for the group's first rebalance
        while len(got) < n:
            assert time.time() < deadline, f"consumed only {got}"
            for m in c.consume(num_messages=n - len(got), timeout=0.2):
                if m.error():
                    raise KafkaException(m.error())
                got.append(m.value().decode())
                p.produce(dst, key=m.key(), value=m.value().decode().replace("in-", "out-"), partition=m.partition())
        return got

    def positions():
        """{partition: next offset}, -1001 (OFFSET_INVALID) for a partition not read from yet."""
        return {tp.partition: tp.offset for tp in c.position(tps)}

    def send_offsets():
        valid = [tp for tp in c.position(tps) if tp.offset >= 0]
        p.send_offsets_to_transaction(valid, c.consumer_group_metadata(), TIMEOUT)

    try:
        c.subscribe([src])
        # a transaction committing 14 records' offsets
        p.begin_transaction()
        first = process(14)
        pos1 = positions()
        assert sum(o for o in pos1.values() if o >= 0) == 14, pos1
        send_offsets()
        assert committed_via_admin() == {0: -1001, 1: -1001}, "offsets of an open transaction are visible"
        p.commit_transaction(TIMEOUT)
        assert committed_via_consumer() == pos1
        assert committed_via_admin() == pos1

        # a transaction that aborts: neither its output nor its offsets count
        p.begin_transaction()
        process(10)
        send_offsets()
        assert p.flush(TIMEOUT) == 0  # written, then aborted (abort_transaction purges unsent records)
        p.abort_transaction(TIMEOUT)
        assert committed_via_consumer() == pos1
        assert committed_via_admin() == pos1
        # rewind to the committed offsets, as an application does after an abort
        for tp in c.committed(tps, timeout=TIMEOUT):
            c.seek(TopicPartition(src, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))

        # the rest (from the committed offsets: the 10 aborted ones again and 16 more)
        p.begin_transaction()
        rest = process(26)
        send_offsets()
        p.commit_transaction(TIMEOUT)
        assert committed_via_consumer() == {0: 20, 1: 20}
    finally:
        c.close()
        checker.close()

    assert sorted(first + rest, key=lambda v: int(v[3:])) == [f"in-{i}" for i in range(40)]
    out = values(read_all(dst, [0, 1], "read_committed"))
    assert out == {q: [f"out-{i}" for i in range(40) if i % 2 == q] for q in (0, 1)}
    assert sum(len(v) for v in values(read_all(dst, [0, 1], "read_uncommitted")).values()) == 50


def test_confluent_pending_offsets_block_committed():
    """While a transaction with offsets is open, a read_committed consumer's committed() (OffsetFetch
    with require_stable, KIP-447) does not return the old offset as if nothing were pending: Kafka
    answers UNSTABLE_OFFSET_COMMIT, which librdkafka retries until the transaction ends or its
    timeout passes."""
    src = create_topic(uniq("pending-in"), 1)
    group = uniq("pending-group")
    plain_produce(src, [(0, "k", f"v{i}") for i in range(5)])
    p = txn_producer(uniq("pending-txid"))
    p.init_transactions(TIMEOUT)
    checker = Consumer({"bootstrap.servers": BOOT, "group.id": group, "isolation.level": "read_committed"})
    meta_c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False})
    try:
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 0, 3)], meta_c.consumer_group_metadata(), TIMEOUT)
        with pytest.raises(KafkaException) as ei:
            checker.committed([TopicPartition(src, 0)], timeout=2)
        assert ei.value.args[0].code() in (KafkaError._TIMED_OUT, KafkaError.UNSTABLE_OFFSET_COMMIT), ei.value
        p.commit_transaction(TIMEOUT)
        (tp,) = checker.committed([TopicPartition(src, 0)], timeout=TIMEOUT)
        assert tp.offset == 3
    finally:
        checker.close()
        meta_c.close()


# ------------------------------------------------------------------------------------------------
# 3. zombie fencing


def test_confluent_zombie_fencing():
    """Two confluent-kafka producers with one transactional.id: the second's init_transactions bumps
    the epoch and aborts the first's open transaction; the first is fenced (its next commit fails
    with a fatal _FENCED / PRODUCER_FENCED / INVALID_PRODUCER_EPOCH error) and none of its records is
    ever read_committed; the LSO moves past them."""
    topic = create_topic(uniq("fence"), 2)
    txid = uniq("fence-txid")
    fatal = []
    z = txn_producer(txid, error_cb=lambda e: fatal.append(e) if e.fatal() else None)
    z.init_transactions(TIMEOUT)
    z.begin_transaction()
    for i in range(10):
        z.produce(topic, value=f"zombie-{i}", partition=i % 2)
    assert z.flush(TIMEOUT) == 0
    epoch0 = describe_transaction(txid)["producer_epoch"]
    for q in (0, 1):
        assert watermarks(topic, q, "read_committed") == (0, 0)

    p = txn_producer(txid)
    p.init_transactions(TIMEOUT)  # aborts the zombie's transaction
    st = describe_transaction(txid)
    assert st["producer_epoch"] > epoch0, st
    assert st["transaction_state"] in ("CompleteAbort", "Empty"), st
    for q in (0, 1):
        lo, hi = watermarks(topic, q, "read_committed")
        assert hi == watermarks(topic, q, "read_uncommitted")[1] == 6, (q, lo, hi)  # 5 records + abort marker

    # the zombie carries on: its next produce is refused (old epoch) and librdkafka raises the fatal
    # _FENCED error from flush(); its commit fails with it too. (No delivery callback here:
    # confluent-kafka 2.16 then raises a bare KafkaError instead of KafkaException from flush().)
    z.produce(topic, value="zombie-late", partition=0)
    with pytest.raises(KafkaException) as ei:
        z.flush(TIMEOUT)
    fenced = (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)
    err = ei.value.args[0]
    assert err.fatal() and err.code() in fenced, err
    with pytest.raises(KafkaException) as ei:
        z.commit_transaction(TIMEOUT)
    err = ei.value.args[0]
    assert err.fatal() and err.code() in fenced, err
    assert [e.code() for e in fatal] in ([], [KafkaError._FATAL]), fatal  # the error callback's notice

    p.begin_transaction()
    for i in range(4):
        p.produce(topic, value=f"new-{i}", partition=i % 2)
    p.commit_transaction(TIMEOUT)
    rc = values(read_all(topic, [0, 1], "read_committed"))
    assert rc == {0: ["new-0", "new-2"], 1: ["new-1", "new-3"]}
    for q in (0, 1):
        assert watermarks(topic, q, "read_committed")[1] == watermarks(topic, q, "read_uncommitted")[1]
    ru = values(read_all(topic, [0, 1], "read_uncommitted"))
    assert "zombie-late" not in ru[0], "a fenced producer's record was written"


# ------------------------------------------------------------------------------------------------
# 4. transaction timeout


def test_confluent_transaction_timeout_aborts():
    """A producer with transaction.timeout.ms=2000 begins a transaction, writes to 2 partitions and
    goes quiet. The broker aborts the transaction once the timeout has passed (checked every
    transaction.abort.timed.out.transaction.cleanup.interval.ms): the LSO reaches the high watermark,
    read_committed sees none of the records, and the forgotten producer cannot commit afterwards."""
    interval_ms = int(broker_config("transaction.abort.timed.out.transaction.cleanup.interval.ms"))
    if interval_ms > 5000:
        pytest.skip(f"the broker checks for timed-out transactions every {interval_ms} ms (run.sh sets 500)")
    topic = create_topic(uniq("timeout"), 2)
    txid = uniq("timeout-txid")
    p = txn_producer(txid, **{"transaction.timeout.ms": TXN_TIMEOUT_MS, "socket.timeout.ms": 1500,
                              "message.timeout.ms": TXN_TIMEOUT_MS})
    p.init_transactions(TIMEOUT)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, value=f"forgotten-{i}", partition=i % 2)
    assert p.flush(TIMEOUT) == 0
    started = time.time()
    assert [watermarks(topic, q, "read_committed")[1] for q in (0, 1)] == [0, 0]
    assert describe_transaction(txid)["transaction_state"] == "Ongoing"

    def lso_at_hw():
        return all(watermarks(topic, q, "read_committed")[1] == watermarks(topic, q, "read_uncommitted")[1] for q in (0, 1))

    wait_until("the broker to abort the timed-out transaction", lso_at_hw, timeout=(TXN_TIMEOUT_MS + interval_ms) / 1000 + 8)
    took = time.time() - started
    print(f"aborted {took:.1f}s after the last write (timeout {TXN_TIMEOUT_MS} ms, check every {interval_ms} ms)")
    assert took >= TXN_TIMEOUT_MS / 1000 - 0.5, f"aborted after {took:.1f}s, before the {TXN_TIMEOUT_MS} ms timeout"
    for q in (0, 1):
        assert watermarks(topic, q, "read_uncommitted")[1] == 6  # 5 records + the abort marker
    assert values(read_all(topic, [0, 1], "read_committed")) == {0: [], 1: []}
    st = describe_transaction(txid)
    assert st["transaction_state"] in ("CompleteAbort", "Empty"), st

    with pytest.raises(KafkaException) as ei:
        p.commit_transaction(TIMEOUT)
    err = ei.value.args[0]
    print("commit after the timeout:", err)
    assert err.fatal() or err.txn_requires_abort(), err  # Kafka bumped the epoch: fenced

    # the transactional id is usable again by a new producer
    p2 = txn_producer(txid)
    p2.init_transactions(TIMEOUT)
    p2.begin_transaction()
    p2.produce(topic, value="after", partition=0)
    p2.commit_transaction(TIMEOUT)
    assert values(read_all(topic, [0, 1], "read_committed")) == {0: ["after"], 1: []}


# ------------------------------------------------------------------------------------------------
# 5. kafka-python


def test_kafka_python_idempotent_producer():
    """kafka-python with enable_idempotence=True (InitProducerId, sequence numbers from 0 per
    partition): every record written once, in order; DescribeProducers shows its producer id with
    last_sequence = records - 1 per partition."""
    topic = create_topic(uniq("kp-idem"), 2)
    p = KafkaProducer(bootstrap_servers=BOOT, enable_idempotence=True, acks="all", linger_ms=5,
                      request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000)
    try:
        futs = [p.send(topic, value=f"v{i}".encode(), key=f"k{i}".encode(), partition=i % 2) for i in range(300)]
        p.flush(timeout=TIMEOUT)
        mds = [f.get(timeout=TIMEOUT) for f in futs]
        pid = p._transaction_manager.producer_id_and_epoch.producer_id
    finally:
        p.close(timeout=5)
    for q in (0, 1):
        assert [m.offset for m in mds if m.partition == q] == list(range(150))
    got = values(read_all(topic, [0, 1], "read_uncommitted"))
    assert got == {q: [f"v{i}" for i in range(300) if i % 2 == q] for q in (0, 1)}
    assert pid >= 0
    for q, prods in describe_producers(topic, [0, 1]).items():
        assert [(x["producer_id"], x["last_sequence"], x["current_txn_start_offset"]) for x in prods] == [(pid, 149, -1)]


def test_kafka_python_transactions():
    """kafka-python's transactional producer (transactional_id=...): commit, abort, commit, with
    send_offsets_to_transaction in the last two (only the committed offset counts);
    kafka-python's KafkaConsumer with isolation_level='read_committed' and confluent-kafka's
    read_committed consumer read exactly the committed records, read_uncommitted reads all."""
    from kafka import OffsetAndMetadata

    topic = create_topic(uniq("kp-txn"), 2)
    src = create_topic(uniq("kp-txn-src"), 1)
    group = uniq("kp-txn-group")
    p = KafkaProducer(bootstrap_servers=BOOT, transactional_id=uniq("kp-txid"), linger_ms=5,
                      request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000)
    try:
        p.init_transactions()
        for tag, end, offset in (("c1", "commit", None), ("a1", "abort", 7), ("c2", "commit", 4)):
            p.begin_transaction()
            for i in range(10):
                p.send(topic, value=f"{tag}-{i}".encode(), partition=i % 2)
            if offset is not None:
                p.send_offsets_to_transaction({KTopicPartition(src, 0): OffsetAndMetadata(offset, "", -1)}, group)
            p.flush(timeout=TIMEOUT)
            (p.commit_transaction if end == "commit" else p.abort_transaction)()
    finally:
        p.close(timeout=5)
    gc = KafkaConsumer(bootstrap_servers=BOOT, group_id=group, enable_auto_commit=False)
    try:
        assert gc.committed(KTopicPartition(src, 0)) == 4
    finally:
        gc.close(autocommit=False)
    want = {q: [f"{t}-{i}" for t in ("c1", "c2") for i in range(10) if i % 2 == q] for q in (0, 1)}
    assert values(read_all(topic, [0, 1], "read_committed")) == want
    ru = values(read_all(topic, [0, 1], "read_uncommitted"))
    assert ru == {q: [f"{t}-{i}" for t in ("c1", "a1", "c2") for i in range(10) if i % 2 == q] for q in (0, 1)}

    got, ends = kafka_python_read_committed(topic, (0, 1), 20)
    assert got == want
    assert ends == {0: 18, 1: 18}  # 15 records + 3 markers


# ------------------------------------------------------------------------------------------------
# 6. idempotence across connection cuts


class CuttingProxy:
    """A TCP proxy 127.0.0.1:port -> upstream that follows the Kafka framing (size-prefixed requests
    and responses, matched by correlation id). While `cutting` is set it alternates, every `every`
    seconds, between closing every connection at once (at whatever point its requests are) and
    swallowing the next Produce response the broker sends, closing that connection (the batch was
    written but the client never learns it: its retry must be recognised as a duplicate). `drop_apis`
    widens the responses swallowed to other APIs (the transaction ones), taken in turn."""

    PRODUCE = 0
    API_NAMES = {0: "Produce", 22: "InitProducerId", 24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn",
                 26: "EndTxn", 28: "TxnOffsetCommit"}

    def __init__(self, upstream, every):
        self.upstream, self.every = upstream, every
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []
        self.accepted = 0
        self.cuts = 0  # close-everything cuts
        self.cut_conns = 0  # connections closed by them
        self.cut_produces = 0  # Produce requests in flight on them
        self.drop_apis = [self.PRODUCE]
        self.dropped = {}  # api name -> responses swallowed
        self.drop_next_response = None  # the api whose next response is swallowed
        self.cutting = threading.Event()
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._cutter, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                cl, _ = self.srv.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.upstream, timeout=5)
                up.settimeout(None)
            except OSError:
                cl.close()
                continue
            for s in (cl, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                apis = {}  # correlation id -> api key of the requests in flight
                self.conns.append(((cl, up), apis))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(cl, up, apis, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, cl, apis, True), daemon=True).start()

    def _pump(self, a, b, apis, responses):
        buf = b""
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                buf += data
                out = []
                while len(buf) >= 4:
                    size = int.from_bytes(buf[:4], "big")
                    if len(buf) < 4 + size:
                        break
                    frame, buf = buf[: 4 + size], buf[4 + size :]
                    if not responses:
                        apis[int.from_bytes(frame[8:12], "big", signed=True)] = int.from_bytes(frame[4:6], "big")
                    else:
                        api = apis.pop(int.from_bytes(frame[4:8], "big", signed=True), None)
                        if api is not None and api == self.drop_next_response:
                            with self.lock:
                                drop, self.drop_next_response = self.drop_next_response == api, None
                            if drop:
                                name = self.API_NAMES.get(api, str(api))
                                self.dropped[name] = self.dropped.get(name, 0) + 1
                                b.sendall(b"".join(out))
                                raise ConnectionAbortedError
                    out.append(frame)
                if out:
                    b.sendall(b"".join(out))
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _cutter(self):
        n = 0
        while not self.stopped.wait(self.every):
            if not self.cutting.is_set():
                self.drop_next_response = None
                continue
            n += 1
            if n % 2 == 0:
                self.drop_next_response = self.drop_apis[(n // 2) % len(self.drop_apis)]
                continue
            with self.lock:
                conns, self.conns = self.conns, []
            self.cuts += 1
            for pair, apis in conns:
                self.cut_conns += 1
                self.cut_produces += sum(1 for api in list(apis.values()) if api == self.PRODUCE)
                for s in pair:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    except OSError:
                        pass

    def close(self):
        self.stopped.set()
        self.srv.close()
        with self.lock:
            for pair, _ in self.conns:
                for s in pair:
                    s.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def proxied_broker():
    """A second broker (TRIBUTARY_BIN) on its own port and data dir, advertising a cutting proxy's
    address, so that clients send everything (Metadata leads them there) through the proxy."""
    binary = os.environ.get("TRIBUTARY_BIN") or shutil.which("tributary")
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip("TRIBUTARY_BIN (the tributary binary) is not set")
    data = tempfile.mkdtemp(prefix="compat-txn-proxy-")
    port = free_port()
    proxy = CuttingProxy(("127.0.0.1", port), every=0.3)
    log = open(os.path.join(data, "server.log"), "wb")
    # TRIBUTARY_* variables would be read as broker settings (TRIBUTARY_BIN as "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUTARY_")}
    proc = subprocess.Popen(
        [binary, "server", "--no-connect", "--no-ksql", "--data-dir", os.path.join(data, "data"), "--listen", f"127.0.0.1:{port}",
         "-o", f"advertised.listeners=PLAINTEXT://127.0.0.1:{proxy.port}"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        def up():
            assert proc.poll() is None, "the second broker exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until("the second broker to listen", up, timeout=30)
        yield proxy, f"127.0.0.1:{proxy.port}"
    finally:
        proxy.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        with open(os.path.join(data, "server.log"), "rb") as f:
            tail = f.read()[-4000:].decode(errors="replace")
        print("--- second broker log (tail) ---\n" + tail)
        shutil.rmtree(data, ignore_errors=True)


def test_confluent_idempotence_through_connection_cuts(proxied_broker):
    """A confluent-kafka idempotent producer (acks=all, 5 in flight, unbounded retries) sends 20000
    sequenced records to 2 partitions through a proxy that closes every connection every 300 ms:
    requests are lost in flight and retried with the same sequence numbers, so the broker must
    recognise duplicates (and accept nothing out of order). Every record is acknowledged once,
    and each partition holds every sequence number exactly once, in order; DescribeProducers shows
    one producer with last_sequence = 9999 on each partition."""
    proxy, boot = proxied_broker
    n = 20000
    topic = create_topic(uniq("cuts"), 2, boot=boot)
    p = Producer(
        {
            "bootstrap.servers": boot,
            "enable.idempotence": True,
            "acks": "all",
            "max.in.flight.requests.per.connection": 5,
            "message.send.max.retries": 1000000,
            "retry.backoff.ms": 20,
            "retry.backoff.max.ms": 200,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "message.timeout.ms": 120000,
            "socket.timeout.ms": 5000,
            "linger.ms": 2,
            "batch.num.messages": 500,
            # librdkafka >= 2.10 re-bootstraps (forgets the broker, starts over from
            # bootstrap.servers) whenever all brokers are down, i.e. on every cut here, and then
            # needs seconds to produce again; reconnecting to the known broker is the case tested
            "metadata.recovery.strategy": "none",
        }
    )
    acks = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acks.setdefault(msg.key().decode(), []).append((msg.partition(), msg.offset()))

    # connected with a producer id before the cuts start
    p.produce(topic, key="warm-up", value="warm-up", partition=0, on_delivery=on_delivery)
    assert p.flush(TIMEOUT) == 0 and not errors, errors
    acks.clear()
    proxy.cutting.set()
    started = time.time()
    cut_for = 8.0
    for i in range(n):
        q = i % 2
        while True:
            try:
                p.produce(topic, key=f"{q}:{i // 2}", value=f"{q}:{i // 2}", partition=q, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if i % 1000 == 999:
            # spread the records over the cutting period
            time.sleep(max(0.0, (i + 1) / n * cut_for - (time.time() - started)))
    while time.time() - started < cut_for and len(acks) < n:
        p.poll(0.1)
    proxy.cutting.clear()
    left = p.flush(60)
    took = time.time() - started
    print(f"{proxy.cuts} cuts closing {proxy.cut_conns} connections ({proxy.cut_produces} Produce requests "
          f"in flight), responses dropped {proxy.dropped}, {proxy.accepted} connections accepted; "
          f"{len(acks)} acked in {took:.1f}s")
    assert left == 0, f"{left} records not delivered"
    assert not errors, errors[:10]
    assert proxy.cuts >= 10 and proxy.cut_conns >= 10, "the proxy did not cut connections"
    # each of these was answered by the broker, never seen by the producer, and resent
    assert proxy.dropped.get("Produce", 0) >= 5, "the proxy dropped too few Produce responses"
    assert len(acks) == n and all(len(v) == 1 for v in acks.values()), "some record acknowledged twice"

    got = read_all(topic, [0, 1], "read_uncommitted", boot=boot, timeout=60)
    for q in (0, 1):
        want = (["warm-up"] if q == 0 else []) + [f"{q}:{s}" for s in range(n // 2)]
        seqs = [v for _, _, v in got[q]]
        assert len(seqs) == len(want), f"partition {q}: {len(seqs)} records, want {len(want)}"
        assert seqs == want, f"partition {q}: duplicates or reordering"
        assert [o for o, _, _ in got[q]] == list(range(len(want)))
        # each acknowledged at the offset it has
        assert [acks[f"{q}:{s}"][0][1] for s in range(n // 2)] == list(range(len(want) - n // 2, len(want)))
    for q, prods in describe_producers(topic, [0, 1], boot=boot).items():
        last = n // 2 if q == 0 else n // 2 - 1  # sequences from 0, the warm-up record first in 0
        assert [(x["last_sequence"], x["current_txn_start_offset"]) for x in prods] == [(last, -1)], prods


def test_confluent_transactions_through_connection_cuts(proxied_broker):
    """A confluent-kafka transactional producer runs transactions (2 x 25 sequenced records, the
    consumed position committed with send_offsets_to_transaction; every fourth one aborted on
    purpose) through the cutting proxy, which here also swallows AddPartitionsToTxn,
    AddOffsetsToTxn, TxnOffsetCommit and EndTxn responses: the client resends them, and the broker
    must treat a resent request of the current transaction as such (e.g. a resent commit of a
    transaction it has committed succeeds). The application follows librdkafka's documented error
    handling (retry the call on a retriable error, abort and redo the transaction when it requires
    an abort). Afterwards read_committed shows every committed transaction exactly once, in order,
    none of the aborted ones, and the group's committed offset is the last committed
    transaction's."""
    proxy, boot = proxied_broker
    proxy.drop_apis = [CuttingProxy.PRODUCE, 24, 25, 28, 26]  # and AddPartitions, AddOffsets, TxnOffsetCommit, EndTxn
    topic = create_topic(uniq("txn-cuts"), 2, boot=boot)
    src = create_topic(uniq("txn-cuts-src"), 1, boot=boot)
    group = uniq("txn-cuts-group")
    p = Producer(
        {
            "bootstrap.servers": boot,
            "transactional.id": uniq("txn-cuts-txid"),
            "linger.ms": 2,
            "retry.backoff.ms": 20,
            "retry.backoff.max.ms": 200,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "socket.timeout.ms": 5000,
            "transaction.timeout.ms": 60000,
            "metadata.recovery.strategy": "none",  # see test_confluent_idempotence_through_connection_cuts
        }
    )
    meta_c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False})
    p.init_transactions(TIMEOUT)
    committed = {0: [], 1: []}
    problems = []

    def retrying(what, call):
        for _ in range(20):
            try:
                return call()
            except KafkaException as e:
                err = e.args[0]
                problems.append(f"{what}: {err}")
                if err.fatal() or err.txn_requires_abort():
                    raise
                if not err.retriable():
                    raise
                time.sleep(0.1)
        raise AssertionError(f"{what} kept failing: {problems[-3:]}")

    proxy.cutting.set()
    started = time.time()
    txns = 0
    redone = 0
    while time.time() - started < 6:
        time.sleep(0.02)  # some 100 transactions over 20 cuts
        n = txns
        keep = n % 4 != 3
        for attempt in range(10):
            try:
                p.begin_transaction()
                for i in range(50):
                    p.produce(topic, value=f"t{n}-{i // 2}", partition=i % 2)
                retrying("send_offsets_to_transaction", lambda: p.send_offsets_to_transaction(
                    [TopicPartition(src, 0, n + 1)], meta_c.consumer_group_metadata(), TIMEOUT))
                if keep:
                    retrying("commit_transaction", lambda: p.commit_transaction(TIMEOUT))
                else:
                    assert p.flush(TIMEOUT) == 0
                    retrying("abort_transaction", lambda: p.abort_transaction(TIMEOUT))
                break
            except KafkaException as e:
                if not e.args[0].txn_requires_abort():
                    raise
                redone += 1
                retrying("abort_transaction", lambda: p.abort_transaction(TIMEOUT))
        else:
            raise AssertionError(f"transaction {n} failed 10 times: {problems[-5:]}")
        if keep:
            for q in (0, 1):
                committed[q].extend(f"t{n}-{j}" for j in range(25))
        txns += 1
    proxy.cutting.clear()
    took = time.time() - started
    meta_c.close()
    p.flush(1)
    print(f"{txns} transactions ({redone} redone) in {took:.1f}s; {proxy.cuts} cuts closing {proxy.cut_conns} "
          f"connections, responses dropped {proxy.dropped}; {len(problems)} retried calls: {problems[:5]}")
    assert proxy.cuts >= 8, "the proxy did not cut connections"
    assert sum(proxy.dropped.values()) >= 5, f"the proxy dropped too few responses: {proxy.dropped}"
    assert proxy.dropped.get("EndTxn", 0) >= 1, f"no EndTxn response dropped: {proxy.dropped}"

    got = values(read_all(topic, [0, 1], "read_committed", boot=boot, timeout=30))
    for q in (0, 1):
        assert len(got[q]) == len(committed[q]), f"partition {q}: {len(got[q])} records, want {len(committed[q])}"
        assert got[q] == committed[q], f"partition {q}: committed records duplicated, lost or reordered"
    last_kept = max(n for n in range(txns) if n % 4 != 3)
    admin_c = Consumer({"bootstrap.servers": boot, "group.id": group, "isolation.level": "read_committed"})
    try:
        (tp,) = admin_c.committed([TopicPartition(src, 0)], timeout=TIMEOUT)
    finally:
        admin_c.close()
    assert tp.offset == last_kept + 1, f"committed offset {tp.offset}, the last committed transaction wrote {last_kept + 1}"


# ------------------------------------------------------------------------------------------------
# kcat


def test_kcat_transactions_read_committed():
    """kcat (librdkafka 2.0.2): -X transactional.id sends stdin as one transaction, committed at
    EOF (kcat reads all of stdin before producing, so its abort-on-SIGINT cannot be exercised; the
    aborted and the open transactions come from confluent-kafka); -X isolation.level=read_committed
    reads only the committed records and -e ends at the LSO while a transaction is open;
    read_uncommitted reads all."""
    kcat = shutil.which("kcat")
    if not kcat:
        pytest.skip("kcat not on PATH")
    topic = create_topic(uniq("kcat"), 1)
    base = [kcat, "-b", BOOT, "-X", "socket.timeout.ms=5000"]

    def kcat_commit(lines):
        subprocess.run(base + ["-P", "-t", topic, "-p", "0", "-X", f"transactional.id={uniq('kcat-txid')}"],
                       input="".join(f"{l}\n" for l in lines).encode(), check=True, timeout=30)

    kcat_commit(["c1", "c2", "c3"])  # offsets 0-2, commit marker 3
    p = txn_producer(uniq("kcat-py-txid"))
    p.init_transactions(TIMEOUT)
    p.begin_transaction()
    p.produce(topic, value="a1", partition=0)
    p.produce(topic, value="a2", partition=0)
    assert p.flush(TIMEOUT) == 0
    p.abort_transaction(TIMEOUT)  # 4-5, abort marker 6
    kcat_commit(["c4"])  # 7, marker 8
    p.begin_transaction()
    p.produce(topic, value="open", partition=0)
    assert p.flush(TIMEOUT) == 0  # 9, open

    def consume(iso):
        r = subprocess.run(base + ["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o %s\n",
                                   "-X", f"isolation.level={iso}"], capture_output=True, timeout=30, check=True)
        return [tuple(l.split(" ", 1)) for l in r.stdout.decode().splitlines()]

    try:
        assert consume("read_committed") == [("0", "c1"), ("1", "c2"), ("2", "c3"), ("7", "c4")]
        assert consume("read_uncommitted") == [("0", "c1"), ("1", "c2"), ("2", "c3"), ("4", "a1"), ("5", "a2"),
                                               ("7", "c4"), ("9", "open")]
    finally:
        p.commit_transaction(TIMEOUT)
    assert consume("read_committed")[-1] == ("9", "open")
