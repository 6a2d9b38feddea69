"""Python clients against a running Tributary broker: kafka-python, confluent-kafka (librdkafka) and aiokafka.

Run by tests/compat/run.sh, which starts the broker and sets COMPAT_BOOTSTRAP=127.0.0.1:PORT.
By hand:  COMPAT_BOOTSTRAP=127.0.0.1:9092 $COMPAT_VENV/bin/pytest -v tests/compat/test_python.py

Consumers use manual assignment only (assign + seek to the beginning): the broker has no consumer
groups yet (FindCoordinator, JoinGroup, OffsetCommit, ...). confluent-kafka still needs a group.id
with assign(); it gets a unique one and enable.auto.commit=False, and never reaches a coordinator.
Producers run without idempotence (the broker has no InitProducerId yet).
"""
import os
import sys
import time
import uuid

import pytest

import kafka
import kafka.codec
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition

import confluent_kafka
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from murmur2 import partition_for  # noqa: E402

BOOT = os.environ.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
PORT = int(BOOT.rsplit(":", 1)[1])
TIMEOUT = 10  # seconds, for any single wait on the broker
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
NPART = 3


def uniq(what):
    return f"compat-py-{what}-{uuid.uuid4().hex[:10]}"


def now_ms():
    return int(time.time() * 1000)


# ------------------------------------------------------------------------------------------------
# helpers


_admin = None


def admin():
    """One AdminClient for the module: its futures fail with _DESTROY if the handle is freed."""
    global _admin
    if _admin is None:
        _admin = AdminClient({"bootstrap.servers": BOOT, "socket.timeout.ms": 5000})
    return _admin


def create_topic(name, partitions, config=None):
    futs = admin().create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=TIMEOUT,
        request_timeout=TIMEOUT,
    )
    futs[name].result(TIMEOUT)
    return name


def topic_names():
    return set(admin().list_topics(timeout=TIMEOUT).topics)


def kafka_python_codec_available(codec):
    return {
        "none": True,
        "gzip": True,
        "snappy": kafka.codec.has_snappy(),
        "lz4": kafka.codec.has_lz4(),
        "zstd": kafka.codec.has_zstd(),
    }[codec]


def make_records(tag):
    """30 keyed records with headers and explicit CreateTime timestamps, one with no key, one
    tombstone (null value), one with an empty key and value. Values are long and repetitive so that
    compression really happens."""
    base = now_ms() - 60_000
    recs = []
    for i in range(30):
        recs.append(
            dict(
                key=f"key-{i}".encode(),
                value=(f"{tag} value {i} " + "lorem ipsum dolor sit amet " * 8).encode(),
                headers=[("idx", str(i).encode()), ("src", tag.encode()), ("empty", b"")],
                timestamp=base + i,
            )
        )
    recs.append(dict(key=None, value=f"{tag} no key".encode(), headers=[("idx", b"nokey")], timestamp=base + 100))
    recs.append(dict(key=b"tombstone", value=None, headers=[("idx", b"tomb")], timestamp=base + 101))
    recs.append(dict(key=b"", value=b"", headers=[("idx", b"empty")], timestamp=base + 102))  # empty, not null
    return recs


def produce_kafka_python(topic, recs, codec):
    p = KafkaProducer(
        bootstrap_servers=BOOT,
        compression_type=None if codec == "none" else codec,
        acks="all",
        linger_ms=20,
        request_timeout_ms=5000,
        max_block_ms=TIMEOUT * 1000,
        enable_idempotence=False,
    )
    try:
        futs = [
            p.send(topic, key=r["key"], value=r["value"], headers=r["headers"], timestamp_ms=r["timestamp"])
            for r in recs
        ]
        p.flush(timeout=TIMEOUT)
        for r, f in zip(recs, futs):
            md = f.get(timeout=TIMEOUT)
            r["partition"], r["offset"] = md.partition, md.offset
    finally:
        p.close(timeout=5)


def produce_confluent(topic, recs, codec, linger_ms=20):
    p = Producer(
        {
            "bootstrap.servers": BOOT,
            "compression.type": codec,
            "enable.idempotence": False,
            "acks": "all",
            "linger.ms": linger_ms,
            "partitioner": "murmur2_random",  # Java-compatible: murmur2 for keys, random for null keys
            "message.timeout.ms": TIMEOUT * 1000,
        }
    )
    errors = []

    def on_delivery(r):
        def cb(err, msg):
            if err is not None:
                errors.append(err)
            else:
                r["partition"], r["offset"] = msg.partition(), msg.offset()

        return cb

    for r in recs:
        p.produce(
            topic, key=r["key"], value=r["value"], headers=r["headers"], timestamp=r["timestamp"], on_delivery=on_delivery(r)
        )
    assert p.flush(TIMEOUT + 5) == 0, "records still queued after flush"
    assert not errors, errors


def consume_kafka_python(topic, partitions, expected):
    c = KafkaConsumer(
        bootstrap_servers=BOOT,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
        fetch_max_wait_ms=100,
    )
    out = []
    try:
        tps = [KTopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        deadline = time.time() + TIMEOUT
        while len(out) < expected and time.time() < deadline:
            for tp, msgs in c.poll(timeout_ms=200).items():
                for m in msgs:
                    assert m.timestamp_type == 0, f"timestamp type {m.timestamp_type}, want CreateTime (0)"
                    out.append(
                        dict(
                            partition=m.partition,
                            offset=m.offset,
                            key=m.key,
                            value=m.value,
                            headers=[(k, v) for k, v in m.headers],
                            timestamp=m.timestamp,
                        )
                    )
    finally:
        c.close(autocommit=False)
    return out


def confluent_consumer(**extra):
    conf = {
        "bootstrap.servers": BOOT,
        "group.id": uniq("group"),  # required by librdkafka even with assign(); never used
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
        "socket.timeout.ms": 5000,
        "check.crcs": True,  # verify the CRC32C of every fetched batch
    }
    conf.update(extra)
    return Consumer(conf)


def consume_confluent(topic, partitions, expected):
    c = confluent_consumer()
    out = []
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.time() + TIMEOUT
        while len(out) < expected and time.time() < deadline:
            for m in c.consume(num_messages=100, timeout=0.2):
                if m.error():
                    raise KafkaException(m.error())
                ts_type, ts = m.timestamp()
                assert ts_type == TIMESTAMP_CREATE_TIME, f"timestamp type {ts_type}, want CreateTime"
                out.append(
                    dict(
                        partition=m.partition(),
                        offset=m.offset(),
                        key=m.key(),
                        value=m.value(),
                        headers=list(m.headers() or []),
                        timestamp=ts,
                    )
                )
    finally:
        c.close()
    return out


PRODUCERS = {"kafka-python": produce_kafka_python, "confluent": produce_confluent}
CONSUMERS = {"kafka-python": consume_kafka_python, "confluent": consume_confluent}


def check_same(produced, consumed, nparts):
    """Every produced record read exactly once, with key, value, headers, timestamp, partition and
    offset as the producer was told; offsets contiguous from 0 in each partition; keyed records in
    partition toPositive(murmur2(key)) % partitions."""
    assert len(consumed) == len(produced), f"read {len(consumed)} records, produced {len(produced)}"
    by_pos = {(r["partition"], r["offset"]): r for r in consumed}
    assert len(by_pos) == len(consumed), "some (partition, offset) read twice"
    for r in produced:
        got = by_pos.get((r["partition"], r["offset"]))
        assert got is not None, f"record {r['key']!r} acked at {r['partition']}/{r['offset']} not read back"
        for f in ("key", "value", "headers", "timestamp"):
            assert got[f] == r[f], f"{f} of record at {r['partition']}/{r['offset']}: read {got[f]!r}, sent {r[f]!r}"
        if r["key"] is not None:
            want = partition_for(r["key"], nparts)
            assert r["partition"] == want, f"key {r['key']!r} in partition {r['partition']}, murmur2 says {want}"
    per_part = {}
    for r in consumed:
        per_part.setdefault(r["partition"], []).append(r["offset"])
    for p, offs in per_part.items():
        assert sorted(offs) == list(range(len(offs))), f"partition {p}: offsets {sorted(offs)}"
        assert offs == sorted(offs), f"partition {p}: records out of order {offs}"


_produced = {}


def produced_topic(producer, codec):
    """Produces once per (producer, codec) and returns (topic, records) for every consumer test."""
    if (producer, codec) not in _produced:
        if producer == "kafka-python" and not kafka_python_codec_available(codec):
            pytest.skip(f"kafka-python has no {codec} library installed")
        topic = create_topic(uniq(f"{producer}-{codec}"), NPART)
        recs = make_records(f"{producer}/{codec}")
        PRODUCERS[producer](topic, recs, codec)
        _produced[(producer, codec)] = (topic, recs)
    return _produced[(producer, codec)]


# ------------------------------------------------------------------------------------------------
# produce / consume across clients and codecs


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_roundtrip(producer, codec, consumer):
    topic, recs = produced_topic(producer, codec)
    consumed = CONSUMERS[consumer](topic, NPART, len(recs))
    check_same(recs, consumed, NPART)


def test_kafka_python_codec_libraries_installed():
    # requirements.txt installs python-snappy (cramjam), lz4 and zstandard; without them the
    # kafka-python roundtrips above skip those codecs instead of testing them.
    missing = [c for c in CODECS if not kafka_python_codec_available(c)]
    assert not missing, f"kafka-python codec libraries missing: {missing}"


@pytest.mark.parametrize("api_version", [(0, 11), (1, 0), (2, 0)], ids=lambda v: ".".join(map(str, v)))
def test_kafka_python_older_protocol_versions(api_version):
    """kafka-python pinned to an older broker version uses older requests (Kafka 0.11: Produce v3,
    Fetch v5, ListOffsets v2, Metadata v4; 1.0: Produce v5, Fetch v6; 2.0: Produce v6, Fetch v8).
    The records carry CreateTime 1000..1002 (1970): retention.ms=-1 keeps them (run.sh's broker checks
    retention every 500 ms, and with the default 7 days, as Kafka would, it deletes them at once)."""
    topic = create_topic(uniq("old-" + "-".join(map(str, api_version))), 1, config={"retention.ms": "-1"})
    p = KafkaProducer(bootstrap_servers=BOOT, api_version=api_version, compression_type="gzip",
                      request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000)
    try:
        futs = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"%d" % i)], timestamp_ms=1000 + i) for i in range(3)]
        p.flush(timeout=TIMEOUT)
        assert [f.get(timeout=TIMEOUT).offset for f in futs] == [0, 1, 2]
    finally:
        p.close(timeout=5)
    c = KafkaConsumer(bootstrap_servers=BOOT, api_version=api_version, group_id=None, enable_auto_commit=False,
                      request_timeout_ms=5000, fetch_max_wait_ms=100)
    tp = KTopicPartition(topic, 0)
    try:
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = []
        deadline = time.time() + TIMEOUT
        while len(got) < 3 and time.time() < deadline:
            for msgs in c.poll(timeout_ms=200).values():
                got += [(m.offset, m.key, m.value, m.timestamp, m.headers) for m in msgs]
        assert got == [(i, b"k%d" % i, b"v%d" % i, 1000 + i, [("h", b"%d" % i)]) for i in range(3)]
        assert c.end_offsets([tp]) == {tp: 3}
        assert c.offsets_for_times({tp: 1001})[tp].offset == 1
    finally:
        c.close(autocommit=False)


def test_produce_v2_is_refused_with_unsupported_version():
    """Produce v0-v2 (magic 0/1 message sets) are advertised, as Kafka 4.0 does for librdkafka's
    sake, but answered UNSUPPORTED_VERSION (35) per partition, not with a dropped connection."""
    from kafka.errors import UnsupportedVersionError

    topic = create_topic(uniq("produce-v2"), 1)
    p = KafkaProducer(bootstrap_servers=BOOT, api_version=(0, 10, 2), retries=0, request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000)
    try:
        with pytest.raises(UnsupportedVersionError):
            p.send(topic, value=b"v").get(timeout=TIMEOUT)
    finally:
        p.close(timeout=0)


def test_kafka_python_version_probe():
    """kafka-python (no api_version given) sends ApiVersions and infers a broker version from which
    APIs are present: it takes the newest Kafka release whose marker request the broker serves
    (2.6 needs DescribeClientQuotas v0, 2.5 DescribeAcls v2, 2.4 Produce v8, 2.1 Fetch v10 ...).
    Tributary serves no ACL or quota APIs, so the answer is 2.4; kafka-python then uses Kafka 2.4's
    built-in version table for its later connections. zstd needs >= 2.1, headers >= 0.11."""
    p = KafkaProducer(bootstrap_servers=BOOT, request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
    try:
        v = p.config["api_version"]
    finally:
        p.close(timeout=5)
    print("kafka-python inferred broker version", v)
    assert v >= (2, 1), f"kafka-python inferred broker version {v}; zstd needs (2, 1)"


# ------------------------------------------------------------------------------------------------
# offsets: watermarks, timestamps


@pytest.fixture(scope="module")
def timed_topic():
    """One partition, 10 records at t0, t0+10, ..., t0+90 (CreateTime), produced by confluent."""
    topic = create_topic(uniq("times"), 1)
    t0 = now_ms() - 3_600_000
    recs = [dict(key=f"t{i}".encode(), value=f"v{i}".encode(), headers=[], timestamp=t0 + 10 * i) for i in range(10)]
    produce_confluent(topic, recs, "none")
    assert [r["offset"] for r in recs] == list(range(10))
    return topic, t0


def test_confluent_watermarks(timed_topic):
    topic, _ = timed_topic
    c = confluent_consumer()
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT, cached=False) == (0, 10)
    finally:
        c.close()


def test_confluent_offsets_for_times(timed_topic):
    topic, t0 = timed_topic
    c = confluent_consumer()
    try:
        # One query per timestamp: librdkafka merges duplicate partitions of one call into one.
        # Answer: the first offset whose timestamp >= the one asked; -1 (OFFSET_END) past the last.
        want = {t0 - 1000: 0, t0: 0, t0 + 25: 3, t0 + 30: 3, t0 + 90: 9, t0 + 91: OFFSET_END}
        got = {}
        for ts in want:
            (tp,) = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=TIMEOUT)
            assert tp.error is None, tp
            got[ts] = tp.offset
        assert got == want
    finally:
        c.close()


def test_confluent_admin_list_offsets(timed_topic):
    topic, t0 = timed_topic
    tp = TopicPartition(topic, 0)
    a = admin()
    specs = {
        "earliest": (OffsetSpec.earliest(), 0),
        "latest": (OffsetSpec.latest(), 10),
        "max_timestamp": (OffsetSpec.max_timestamp(), 9),  # ListOffsets v7+, timestamp -3
        "for_timestamp": (OffsetSpec.for_timestamp(t0 + 41), 5),
    }
    for name, (spec, want) in specs.items():
        res = a.list_offsets({tp: spec}, request_timeout=TIMEOUT)[tp].result(TIMEOUT)
        assert res.offset == want, f"{name}: offset {res.offset}, want {want}"
        if name == "max_timestamp":
            assert res.timestamp == t0 + 90, f"max_timestamp: timestamp {res.timestamp}, want {t0 + 90}"


def test_kafka_python_offsets(timed_topic):
    topic, t0 = timed_topic
    tp = KTopicPartition(topic, 0)
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False, request_timeout_ms=5000)
    try:
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: 10}
        got = c.offsets_for_times({tp: t0 + 25})[tp]
        assert (got.offset, got.timestamp) == (3, t0 + 30), got
        assert c.offsets_for_times({tp: t0 + 91})[tp] is None
        # seek to a given offset and read from there
        c.assign([tp])
        c.seek(tp, 7)
        seen = []
        deadline = time.time() + TIMEOUT
        while len(seen) < 3 and time.time() < deadline:
            for msgs in c.poll(timeout_ms=200).values():
                seen += [(m.offset, m.key) for m in msgs]
        assert seen == [(7, b"t7"), (8, b"t8"), (9, b"t9")]
    finally:
        c.close(autocommit=False)


def test_confluent_seek_to_offset(timed_topic):
    topic, _ = timed_topic
    c = confluent_consumer()
    try:
        c.assign([TopicPartition(topic, 0, 6)])
        seen = []
        deadline = time.time() + TIMEOUT
        while len(seen) < 4 and time.time() < deadline:
            for m in c.consume(num_messages=10, timeout=0.2):
                assert not m.error(), m.error()
                seen.append((m.offset(), m.key()))
        assert seen == [(6, b"t6"), (7, b"t7"), (8, b"t8"), (9, b"t9")]
    finally:
        c.close()


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_out_of_range_offset_resets_to_earliest(timed_topic, client):
    """A fetch past the end gets OFFSET_OUT_OF_RANGE; auto.offset.reset=earliest then restarts at 0."""
    topic, _ = timed_topic
    seen = []
    deadline = time.time() + TIMEOUT
    if client == "kafka-python":
        c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest", request_timeout_ms=5000, fetch_max_wait_ms=100)
        tp = KTopicPartition(topic, 0)
        try:
            c.assign([tp])
            c.seek(tp, 1000)
            while len(seen) < 10 and time.time() < deadline:
                for msgs in c.poll(timeout_ms=200).values():
                    seen += [m.offset for m in msgs]
        finally:
            c.close(autocommit=False)
    else:
        c = confluent_consumer()
        try:
            c.assign([TopicPartition(topic, 0, 1000)])
            while len(seen) < 10 and time.time() < deadline:
                for m in c.consume(num_messages=10, timeout=0.2):
                    assert not m.error(), m.error()
                    seen.append(m.offset())
        finally:
            c.close()
    assert seen == list(range(10))


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_fetch_max_bytes_smaller_than_record(client):
    """KIP-74: a fetch returns the first batch even when it is larger than the fetch limits."""
    topic = create_topic(uniq("bigrec"), 1)
    recs = [dict(key=f"big{i}".encode(), value=os.urandom(50_000), headers=[], timestamp=now_ms()) for i in range(3)]
    produce_confluent(topic, recs, "none")
    seen = []
    deadline = time.time() + TIMEOUT
    if client == "kafka-python":
        c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False, request_timeout_ms=5000,
                          fetch_max_wait_ms=100, max_partition_fetch_bytes=1024, fetch_max_bytes=1024)
        tp = KTopicPartition(topic, 0)
        try:
            c.assign([tp])
            c.seek_to_beginning(tp)
            while len(seen) < 3 and time.time() < deadline:
                for msgs in c.poll(timeout_ms=200).values():
                    seen += [(m.offset, m.value) for m in msgs]
        finally:
            c.close(autocommit=False)
    else:
        c = confluent_consumer(**{"fetch.max.bytes": 1024, "max.partition.fetch.bytes": 1024, "message.max.bytes": 1000})
        try:
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            while len(seen) < 3 and time.time() < deadline:
                for m in c.consume(num_messages=10, timeout=0.2):
                    assert not m.error(), m.error()
                    seen.append((m.offset(), m.value()))
        finally:
            c.close()
    assert seen == [(i, r["value"]) for i, r in enumerate(recs)]


def test_message_too_large():
    """A record batch over the topic's max.message.bytes is refused with MESSAGE_TOO_LARGE (10)."""
    topic = create_topic(uniq("toolarge"), 1, config={"max.message.bytes": "10000"})
    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": False, "message.timeout.ms": TIMEOUT * 1000,
                  "compression.type": "none", "retries": 0})
    errs = []
    p.produce(topic, value=os.urandom(20_000), on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(TIMEOUT + 5) == 0
    assert len(errs) == 1 and errs[0] is not None and errs[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, errs
    # a record that fits still goes through
    errs.clear()
    p.produce(topic, value=b"small", on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(TIMEOUT + 5) == 0
    assert errs == [None]


KAFKA_PYTHON_ACKS0_BUG = pytest.mark.xfail(
    strict=True,
    reason="kafka-python 2.3.3 never writes acks=0 Produce requests to the socket: BrokerConnection._send "
    "resolves the future of a request that expects no response at once, so KafkaClient.send does not "
    "put the connection in _sending and the bytes wait in the protocol buffer until some later request "
    "that expects a response goes out on that connection (or are dropped on close). Client bug: the "
    "broker never receives the request (no Produce in its trace log).",
)


def produce_one(topic, acks=1, **kw):
    """Produces one record with confluent-kafka, no retries; returns the delivery error or None."""
    p = Producer({"bootstrap.servers": BOOT, "acks": acks, "retries": 0, "enable.idempotence": False,
                  "message.timeout.ms": TIMEOUT * 1000, "linger.ms": 0})
    errs = []
    p.produce(topic, on_delivery=lambda err, msg: errs.append(err), **kw)
    assert p.flush(TIMEOUT + 5) == 0
    assert len(errs) == 1
    return errs[0]


def test_min_insync_replicas_above_replication_factor():
    """min.insync.replicas=2 on a one-replica topic: Kafka 4 counts at most the replication factor
    (KIP-966), so acks=all and acks=1 are both accepted; NOT_ENOUGH_REPLICAS needs a replica
    that is out of sync, which a single node never has."""
    topic = create_topic(uniq("minisr"), 1, config={"min.insync.replicas": "2"})
    assert produce_one(topic, acks=1, value=b"one") is None
    assert produce_one(topic, acks="all", value=b"all") is None


@pytest.mark.parametrize("bound", ["before", "after"])
def test_message_timestamp_bounds(bound):
    """message.timestamp.{before,after}.max.ms (KIP-937) with CreateTime: a record whose timestamp
    is further from the broker's clock is refused with INVALID_TIMESTAMP (32)."""
    topic = create_topic(uniq(f"ts-{bound}"), 1, config={f"message.timestamp.{bound}.max.ms": "3600000"})
    assert produce_one(topic, value=b"now", timestamp=now_ms()) is None
    off = -7_200_000 if bound == "before" else 7_200_000
    err = produce_one(topic, value=b"far", timestamp=now_ms() + off)
    assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP, f"timestamp 2 h {bound}: answered {err}"


def test_compacted_topic_refuses_null_key():
    """cleanup.policy=compact: Kafka refuses a record without key (LogValidator.validateKey:
    "Compacted topic cannot accept message without key") with INVALID_RECORD (87)."""
    topic = create_topic(uniq("compact"), 1, config={"cleanup.policy": "compact"})
    assert produce_one(topic, key=b"k", value=b"keyed") is None
    err = produce_one(topic, value=b"no key")
    assert err is not None and err.code() == KafkaError.INVALID_RECORD, f"null key answered {err}"


@pytest.mark.parametrize("client", [pytest.param("kafka-python", marks=KAFKA_PYTHON_ACKS0_BUG), "confluent"])
def test_acks_zero(client):
    """acks=0: the broker sends no response; the records are still written."""
    topic = create_topic(uniq("acks0"), 1)
    if client == "kafka-python":
        p = KafkaProducer(bootstrap_servers=BOOT, acks=0, request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000)
        for i in range(5):
            p.send(topic, key=b"k", value=f"a0-{i}".encode())
        p.flush(timeout=TIMEOUT)
        p.close(timeout=5)
    else:
        p = Producer({"bootstrap.servers": BOOT, "acks": 0, "enable.idempotence": False, "linger.ms": 0})
        for i in range(5):
            p.produce(topic, key=b"k", value=f"a0-{i}".encode())
        assert p.flush(TIMEOUT) == 0
    # no acks to wait for: watch the end offset for a few seconds
    c = confluent_consumer()
    try:
        deadline = time.time() + 3
        while c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT, cached=False)[1] < 5 and time.time() < deadline:
            time.sleep(0.1)
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT, cached=False) == (0, 5)
    finally:
        c.close()
    got = consume_confluent(topic, 1, 5)
    assert [(r["offset"], r["value"]) for r in got] == [(i, f"a0-{i}".encode()) for i in range(5)]


_unordered = {}


def unordered_topic(codec):
    """One partition, one batch, CreateTime timestamps out of order: t0 + 10, 50, 20, 30, 90, 40,
    60, 70 at offsets 0..7 (the largest, t0+90, at offset 4)."""
    if codec not in _unordered:
        topic = create_topic(uniq(f"unordered-{codec}"), 1)
        t0 = now_ms() - 7_200_000
        deltas = [10, 50, 20, 30, 90, 40, 60, 70]
        recs = [dict(key=None, value=f"v{i}".encode(), headers=[], timestamp=t0 + d) for i, d in enumerate(deltas)]
        # a long linger keeps the 8 records in one batch (flush sends it at once)
        produce_confluent(topic, recs, codec, linger_ms=2000)
        assert [r["offset"] for r in recs] == list(range(8))
        _unordered[codec] = (topic, t0)
    return _unordered[codec]


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_offsets_for_times_unordered(codec):
    """Kafka answers a timestamp lookup with the first offset whose timestamp >= the target, looking
    inside (compressed) batches."""
    topic, t0 = unordered_topic(codec)
    c = confluent_consumer()
    try:
        got = {}
        for d in [0, 15, 25, 45, 55, 90, 91]:
            (tp,) = c.offsets_for_times([TopicPartition(topic, 0, t0 + d)], timeout=TIMEOUT)
            got[d] = tp.offset
        assert got == {0: 0, 15: 1, 25: 1, 45: 1, 55: 4, 90: 4, 91: OFFSET_END}
    finally:
        c.close()


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_list_offsets_max_timestamp_unordered(codec):
    """ListOffsets MAX_TIMESTAMP (-3, KIP-734): Kafka answers the offset and timestamp of the record
    holding the largest timestamp (UnifiedLog.fetchOffsetByTimestamp -> RecordBatch
    .offsetOfMaxTimestamp(), Kafka >= 3.7.1), not the last offset of the batch that holds it."""
    topic, t0 = unordered_topic(codec)
    tp = TopicPartition(topic, 0)
    res = admin().list_offsets({tp: OffsetSpec.max_timestamp()}, request_timeout=TIMEOUT)[tp].result(TIMEOUT)
    assert (res.offset, res.timestamp) == (4, t0 + 90), (
        f"MAX_TIMESTAMP: offset {res.offset} timestamp t0+{res.timestamp - t0}; "
        "Kafka: offset 4 (the record with the largest timestamp) timestamp t0+90"
    )


def kafka_python_request(request):
    """Sends one request with kafka-python's low-level client and returns the response."""
    from kafka.client_async import KafkaClient

    client = KafkaClient(bootstrap_servers=BOOT, request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
    try:
        node = client.least_loaded_node()
        deadline = time.time() + TIMEOUT
        while not client.ready(node) and time.time() < deadline:
            client.poll(timeout_ms=100)
        fut = client.send(node, request)
        client.poll(future=fut, timeout_ms=TIMEOUT * 1000)
        assert fut.succeeded(), fut.exception
        return fut.value
    finally:
        client.close()


def test_offset_for_leader_epoch():
    """OffsetForLeaderEpoch (KIP-101/KIP-320), as consumers use it to validate a position.
    Kafka (LeaderEpochFileCache.endOffsetFor): the latest epoch -> (epoch, log end offset); an
    epoch above every known one -> (-1, -1) with no error ("larger than any known epoch"); a
    current_leader_epoch above the leader's -> UNKNOWN_LEADER_EPOCH (75)."""
    from kafka.protocol.offset_for_leader_epoch import OffsetForLeaderEpochRequest

    topic = create_topic(uniq("ofle"), 1)
    produce_confluent(topic, [dict(key=None, value=b"x", headers=[], timestamp=now_ms()) for _ in range(3)], "none")
    asks = [(0, 0), (-1, 0), (0, 3), (5, 0)]  # (current_leader_epoch, leader_epoch), one request each
    got = {}
    for cur, ep in asks:
        resp = kafka_python_request(OffsetForLeaderEpochRequest[2](topics=[(topic, [(0, cur, ep)])]))
        ((_, parts),) = resp.topics
        ((err, _, lep, end),) = parts
        got[(cur, ep)] = (err, lep, end)
    assert got == {
        (0, 0): (0, 0, 3),
        (-1, 0): (0, 0, 3),
        (0, 3): (0, -1, -1),  # Kafka: requested epoch above every known epoch
        (5, 0): (75, -1, -1),  # UNKNOWN_LEADER_EPOCH
    }, got


# Asked for authorized operations (KIP-430), a Kafka broker with no authorizer answers every
# operation the resource type supports (AuthHelper.authorizedOperations -> AclEntry
# .supportedOperations), not the "not provided" value -2147483648 (which librdkafka reports as None).


def test_authorized_operations_cluster():
    """DescribeCluster with include_cluster_authorized_operations: CREATE, CLUSTER_ACTION,
    DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE (bit field 8096)."""
    from confluent_kafka.admin import AclOperation as Op

    d = admin().describe_cluster(include_authorized_operations=True, request_timeout=TIMEOUT).result(TIMEOUT)
    want_cluster = {Op.CREATE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE, Op.ALTER, Op.DESCRIBE}
    assert d.authorized_operations is not None and set(d.authorized_operations) == want_cluster, (
        f"DescribeCluster authorized operations {d.authorized_operations}"
    )


def test_authorized_operations_topic():
    """Metadata with include_topic_authorized_operations: READ, WRITE, CREATE, DESCRIBE, DELETE,
    ALTER, DESCRIBE_CONFIGS, ALTER_CONFIGS (bit field 3576)."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AclOperation as Op

    topic = create_topic(uniq("authops"), 1)
    (fut,) = admin().describe_topics(TopicCollection([topic]), include_authorized_operations=True, request_timeout=TIMEOUT).values()
    t = fut.result(TIMEOUT)
    want_topic = {Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DELETE, Op.ALTER, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS}
    assert t.authorized_operations is not None and set(t.authorized_operations) == want_topic, (
        f"Metadata topic authorized operations {t.authorized_operations}"
    )


def test_log_append_time_topic():
    """message.timestamp.type=LogAppendTime: the broker stamps the batch, clients see type LogAppendTime."""
    topic = create_topic(uniq("lat"), 1, config={"message.timestamp.type": "LogAppendTime"})
    before = now_ms()
    recs = [dict(key=b"k", value=f"v{i}".encode(), headers=[], timestamp=1000 + i) for i in range(3)]
    produce_confluent(topic, recs, "gzip")
    after = now_ms()
    c = confluent_consumer()
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        seen = []
        deadline = time.time() + TIMEOUT
        while len(seen) < 3 and time.time() < deadline:
            for m in c.consume(num_messages=10, timeout=0.2):
                assert not m.error(), m.error()
                seen.append((m.offset(),) + m.timestamp())
    finally:
        c.close()
    assert [s[0] for s in seen] == [0, 1, 2]
    for _, ts_type, ts in seen:
        assert ts_type == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME and before <= ts <= after, (ts_type, ts, before, after)
    kc = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False, request_timeout_ms=5000)
    try:
        tp = KTopicPartition(topic, 0)
        kc.assign([tp])
        kc.seek_to_beginning(tp)
        krecs = []
        deadline = time.time() + TIMEOUT
        while len(krecs) < 3 and time.time() < deadline:
            for msgs in kc.poll(timeout_ms=200).values():
                krecs += msgs
    finally:
        kc.close(autocommit=False)
    assert [(m.timestamp_type, m.timestamp) for m in krecs] == [(1, s[2]) for s in seen]


def test_fetch_long_poll_wakes_on_produce():
    """A fetch waiting for data (fetch.wait.max.ms 3 s) is answered as soon as a record arrives."""
    import threading

    topic = create_topic(uniq("longpoll"), 1)
    c = confluent_consumer(**{"fetch.wait.max.ms": 3000})
    kc = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=3000, request_timeout_ms=10000)
    arrived = {}

    def run_confluent():
        deadline = time.time() + 8
        while time.time() < deadline and "confluent" not in arrived:
            m = c.poll(0.05)
            if m is not None and not m.error():
                arrived["confluent"] = time.time()

    def run_kafka_python():
        deadline = time.time() + 8
        while time.time() < deadline and "kafka-python" not in arrived:
            if kc.poll(timeout_ms=50):
                arrived["kafka-python"] = time.time()

    try:
        c.assign([TopicPartition(topic, 0, 0)])
        kc.assign([KTopicPartition(topic, 0)])
        kc.seek(KTopicPartition(topic, 0), 0)
        threads = [threading.Thread(target=run_confluent), threading.Thread(target=run_kafka_python)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # both are now parked in a fetch on the broker
        sent = time.time()
        produce_confluent(topic, [dict(key=None, value=b"wake", headers=[], timestamp=now_ms())], "none")
        for t in threads:
            t.join()
    finally:
        c.close()
        kc.close(autocommit=False)
    lat = {k: round(v - sent, 3) for k, v in arrived.items()}
    assert set(lat) == {"confluent", "kafka-python"}, lat
    assert all(v < 1.5 for v in lat.values()), f"records reached the consumers after {lat} s (fetch wait 3 s)"


def test_many_partitions_and_large_records():
    """32 partitions x 60 records through one producer, and a 900 kB record, read by both clients."""
    topic = create_topic(uniq("wide"), 32)
    recs = [dict(key=f"w{i}".encode(), value=f"{i}".encode() * 20, headers=[], timestamp=now_ms()) for i in range(1920)]
    recs.append(dict(key=b"big", value=os.urandom(900_000), headers=[("h", b"big")], timestamp=now_ms()))
    produce_confluent(topic, recs, "lz4")
    for consume in (consume_confluent, consume_kafka_python):
        check_same(recs, consume(topic, 32, len(recs)), 32)


def test_delete_and_recreate_topic():
    """A topic deleted and created again under the same name starts empty at offset 0."""
    name = uniq("recreate")
    create_topic(name, 2)
    produce_confluent(name, [dict(key=None, value=b"old", headers=[], timestamp=now_ms()) for _ in range(5)], "none")
    admin().delete_topics([name], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    deadline = time.time() + TIMEOUT
    while name in topic_names() and time.time() < deadline:
        time.sleep(0.05)
    create_topic(name, 1)
    recs = [dict(key=b"k", value=f"new{i}".encode(), headers=[], timestamp=now_ms()) for i in range(2)]
    produce_confluent(name, recs, "none")
    assert [r["offset"] for r in recs] == [0, 1]
    got = consume_kafka_python(name, 1, 2)
    assert [(r["offset"], r["value"]) for r in got] == [(0, b"new0"), (1, b"new1")]


# ------------------------------------------------------------------------------------------------
# admin (confluent_kafka.admin.AdminClient)


def error_code(fut):
    with pytest.raises(KafkaException) as e:
        fut.result(TIMEOUT)
    return e.value.args[0].code()


def test_admin_create_validate_only():
    name = uniq("validate")
    a = admin()
    fut = a.create_topics([NewTopic(name, 3, 1)], validate_only=True, request_timeout=TIMEOUT)[name]
    assert fut.result(TIMEOUT) is None
    assert name not in topic_names(), "validate_only created the topic"
    # validation errors are still reported with validate_only
    bad = a.create_topics([NewTopic(name, 3, 3)], validate_only=True, request_timeout=TIMEOUT)[name]
    assert error_code(bad) == KafkaError.INVALID_REPLICATION_FACTOR


def test_admin_topic_lifecycle():
    name = uniq("admin")
    a = admin()
    a.create_topics(
        [NewTopic(name, 3, 1, config={"retention.ms": "123456", "cleanup.policy": "compact"})], request_timeout=TIMEOUT
    )[name].result(TIMEOUT)

    md = a.list_topics(timeout=TIMEOUT)
    assert name in md.topics
    t = md.topics[name]
    assert t.error is None
    assert sorted(t.partitions) == [0, 1, 2]
    for p in t.partitions.values():
        assert p.leader == 1 and p.replicas == [1] and p.isrs == [1], p
    assert list(md.brokers) == [1] and md.brokers[1].host == "127.0.0.1" and md.brokers[1].port == PORT
    assert md.controller_id == 1

    # already exists
    again = a.create_topics([NewTopic(name, 3, 1)], request_timeout=TIMEOUT)[name]
    assert error_code(again) == KafkaError.TOPIC_ALREADY_EXISTS

    # describe_configs: the two set at creation, the rest defaults
    res = ConfigResource(ResourceType.TOPIC, name)
    cfg = a.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    assert cfg["retention.ms"].value == "123456"
    assert cfg["cleanup.policy"].value == "compact"
    assert not cfg["retention.ms"].is_default
    assert cfg["segment.bytes"].value == "1073741824" and cfg["segment.bytes"].is_default
    assert cfg["max.message.bytes"].value == "1048588"

    # create_partitions: 3 -> 5, validate_only first; shrinking is refused
    fut = a.create_partitions([NewPartitions(name, 5)], validate_only=True, request_timeout=TIMEOUT)[name]
    assert fut.result(TIMEOUT) is None
    assert len(a.list_topics(timeout=TIMEOUT).topics[name].partitions) == 3
    a.create_partitions([NewPartitions(name, 5)], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    deadline = time.time() + TIMEOUT
    while len(a.list_topics(timeout=TIMEOUT).topics[name].partitions) != 5 and time.time() < deadline:
        time.sleep(0.1)
    assert sorted(a.list_topics(timeout=TIMEOUT).topics[name].partitions) == [0, 1, 2, 3, 4]
    shrink = a.create_partitions([NewPartitions(name, 2)], request_timeout=TIMEOUT)[name]
    assert error_code(shrink) == KafkaError.INVALID_PARTITIONS

    # delete; deleting it again is UNKNOWN_TOPIC_OR_PARTITION
    a.delete_topics([name], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    deadline = time.time() + TIMEOUT
    while name in topic_names() and time.time() < deadline:
        time.sleep(0.1)
    assert name not in topic_names()
    gone = a.delete_topics([name], request_timeout=TIMEOUT)[name]
    assert error_code(gone) == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_admin_create_invalid():
    a = admin()
    for name, want in [
        ("bad/name-" + uuid.uuid4().hex[:6], KafkaError.TOPIC_EXCEPTION),
        ("x" * 250, KafkaError.TOPIC_EXCEPTION),
    ]:
        fut = a.create_topics([NewTopic(name, 1, 1)], request_timeout=TIMEOUT)[name]
        assert error_code(fut) == want, name
    name = uniq("badrf")
    assert error_code(a.create_topics([NewTopic(name, 1, 3)], request_timeout=TIMEOUT)[name]) == KafkaError.INVALID_REPLICATION_FACTOR
    name = uniq("badcfg")
    fut = a.create_topics([NewTopic(name, 1, 1, config={"no.such.config": "1"})], request_timeout=TIMEOUT)[name]
    assert error_code(fut) == KafkaError.INVALID_CONFIG
    assert name not in topic_names()


def test_admin_create_defaults_and_assignment():
    a = admin()
    # num_partitions / replication_factor -1: the broker's num.partitions and default.replication.factor
    name = uniq("defaults")
    a.create_topics([NewTopic(name)], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    assert len(a.list_topics(timeout=TIMEOUT).topics[name].partitions) == 1
    # a manual replica assignment
    name = uniq("assign")
    a.create_topics([NewTopic(name, num_partitions=3, replica_assignment=[[1], [1], [1]])], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    assert sorted(a.list_topics(timeout=TIMEOUT).topics[name].partitions) == [0, 1, 2]
    bad = uniq("assignbad")
    fut = a.create_topics([NewTopic(bad, num_partitions=1, replica_assignment=[[2]])], request_timeout=TIMEOUT)[bad]
    assert error_code(fut) == KafkaError.INVALID_REPLICA_ASSIGNMENT
    a.create_partitions([NewPartitions(name, 4, replica_assignment=[[1]])], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    fut = a.create_partitions([NewPartitions(name, 6, replica_assignment=[[1]])], request_timeout=TIMEOUT)[name]
    assert error_code(fut) == KafkaError.INVALID_REPLICA_ASSIGNMENT
    # unknown topics
    ghost = uniq("ghost")
    assert error_code(a.create_partitions([NewPartitions(ghost, 2)], request_timeout=TIMEOUT)[ghost]) == KafkaError.UNKNOWN_TOPIC_OR_PART
    res = ConfigResource(ResourceType.TOPIC, ghost)
    assert error_code(a.describe_configs([res], request_timeout=TIMEOUT)[res]) == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert ghost not in topic_names()


def test_admin_config_synonyms():
    name = uniq("synonyms")
    a = admin()
    a.create_topics([NewTopic(name, 1, 1, config={"retention.ms": "1000000"})], request_timeout=TIMEOUT)[name].result(TIMEOUT)
    res = ConfigResource(ResourceType.TOPIC, name)
    cfg = a.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    from confluent_kafka.admin import ConfigSource

    e = cfg["retention.ms"]
    assert e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    # as Kafka lists them: log.retention.hours alone is not a synonym of retention.ms
    assert [(s.name, s.value, s.source) for s in e.synonyms.values()] == [
        ("retention.ms", "1000000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value),
    ]
    e = cfg["segment.bytes"]
    assert e.is_default and [(s.name, s.source) for s in e.synonyms.values()] == [("log.segment.bytes", ConfigSource.DEFAULT_CONFIG.value)]


def test_metadata_invalid_topic_name():
    md = admin().list_topics(topic="bad/name", timeout=TIMEOUT)
    assert md.topics["bad/name"].error.code() == KafkaError.TOPIC_EXCEPTION


def test_admin_describe_broker_configs():
    a = admin()
    res = ConfigResource(ResourceType.BROKER, "1")
    cfg = a.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    assert "num.partitions" in cfg and "log.retention.hours" in cfg, sorted(cfg)


def test_admin_describe_cluster():
    d = admin().describe_cluster(request_timeout=TIMEOUT).result(TIMEOUT)
    md = admin().list_topics(timeout=TIMEOUT)
    assert d.cluster_id == md.cluster_id and d.cluster_id
    assert [n.id for n in d.nodes] == [1]
    assert (d.nodes[0].host, d.nodes[0].port) == ("127.0.0.1", PORT)
    assert d.controller.id == 1


def test_list_topics_single_topic():
    name = create_topic(uniq("list"), 2)
    md = admin().list_topics(topic=name, timeout=TIMEOUT)
    assert sorted(md.topics[name].partitions) == [0, 1]


def test_kafka_python_admin_create_delete():
    from kafka.admin import KafkaAdminClient, NewTopic as KNewTopic

    # Topics are checked through confluent's list_topics: kafka-python 2.3.3's own
    # KafkaAdminClient.list_topics()/describe_topics() raise "ValueError: 31 is not a valid
    # ACLOperation" on any Kafka >= 2.3. It asks Metadata v8 without authorized operations, so the
    # broker answers the schema default -2147483648 (bit 31 only) for cluster and topic
    # authorized_operations, exactly as Kafka does, and kafka.admin.acl_resource.valid_acl_operations
    # turns bit 31 into ACLOperation(31), which does not exist. A kafka-python bug, not a broker one.
    name = uniq("kpadmin")
    a = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=5000)
    try:
        resp = a.create_topics([KNewTopic(name, num_partitions=2, replication_factor=1)], timeout_ms=5000)
        assert [e[:2] for e in resp.topic_errors] == [(name, 0)], resp
        md = admin().list_topics(timeout=TIMEOUT)
        assert name in md.topics and sorted(md.topics[name].partitions) == [0, 1]
        resp = a.delete_topics([name], timeout_ms=5000)
        assert [tuple(e[:2]) for e in resp.topic_error_codes] == [(name, 0)], resp
        deadline = time.time() + TIMEOUT
        while name in topic_names() and time.time() < deadline:
            time.sleep(0.1)
        assert name not in topic_names()
    finally:
        a.close()


def test_client_versions():
    # recorded in the test log so that a failure can be matched to the client versions
    print("kafka-python", kafka.__version__, "confluent-kafka", confluent_kafka.version(), "librdkafka", confluent_kafka.libversion())


def test_aiokafka_produce_and_consume():
    """aiokafka (asyncio): gzip producer with keys and headers, manual-assignment consumer."""
    import asyncio
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition as ATopicPartition

    topic = create_topic(uniq("aio"), 3)

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=BOOT, compression_type="gzip", request_timeout_ms=5000)
        await p.start()
        sent = {}
        try:
            for i in range(30):
                md = await p.send_and_wait(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("h", b"x")])
                sent[f"k{i}"] = (md.partition, md.offset)
        finally:
            await p.stop()
        c = AIOKafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False, request_timeout_ms=5000)
        await c.start()
        got = {}
        try:
            tps = [ATopicPartition(topic, i) for i in range(3)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            deadline = time.time() + TIMEOUT
            while len(got) < 30 and time.time() < deadline:
                for msgs in (await c.getmany(timeout_ms=200)).values():
                    for m in msgs:
                        assert m.headers == (("h", b"x"),)
                        got[m.key.decode()] = (m.partition, m.offset)
        finally:
            await c.stop()
        return sent, got

    sent, got = asyncio.run(run())
    assert got == sent
    for key, (partition, _) in sent.items():
        assert partition == partition_for(key.encode(), 3), f"aiokafka places {key} by murmur2"
