"""Compression codecs and large records across clients: kafka-python, confluent-kafka (librdkafka 2.16)
and kcat (Debian's, librdkafka 2.0.2) against a running Tributary broker.

Run by tests/compat/run.sh in the same pytest invocation as test_python.py (COMPAT_BOOTSTRAP set,
kcat on PATH). By hand:  COMPAT_BOOTSTRAP=127.0.0.1:9092 $COMPAT_VENV/bin/pytest -v tests/compat/test_codecs.py

What is checked:
- every client produces batches compressed with gzip, snappy, lz4 and zstd into a topic with the
  default compression.type (producer); the broker stores each batch as sent (a raw Fetch through
  kafka-python's low-level client shows the producer's codec in every batch's attributes) and every
  other client reads the records back: keys, values, headers, order, offsets 0..n-1;
- topics created with compression.type=zstd / gzip / lz4 / snappy: records sent uncompressed or with
  another codec by all three clients are all read back correctly by all three, and the broker stores
  every batch in the topic's codec, as Kafka rewrites them (LogValidator); a compression.type=uncompressed
  topic written with gzip, lz4, snappy and zstd stores every batch uncompressed (codec 0);
- a 10 MiB record in a topic with max.message.bytes=15728640 goes through produce and fetch with
  both Python clients (each reads what either produced); a 2 MiB record in a topic with the default
  max.message.bytes (1048588) is refused with MESSAGE_TOO_LARGE (10) and nothing is written; 2 MiB
  records compressing about 4:1 and over 256:1 (gzip, zstd) are accepted by that topic (the limit
  counts the compressed batch) and read back whole.

Consumers use manual assignment (assign + seek to the beginning), as in test_python.py.
"""
import json
import os
import random
import shutil
import subprocess
import time
import uuid

import pytest

import kafka.codec
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition
from kafka.errors import MessageSizeTooLargeError

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

BOOT = os.environ.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
KCAT = os.environ.get("KCAT", "kcat")
TIMEOUT = 10  # seconds, for any single wait on the broker (large-record tests use BIG_TIMEOUT)
BIG_TIMEOUT = 60
CODECS = ["gzip", "snappy", "lz4", "zstd"]
# RecordBatch attributes bits 0-2 (DefaultRecordBatch.CODEC_*)
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
NREC = 40  # records per (producer, codec) topic


def uniq(what):
    return f"compat-codec-{what}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------------------------
# helpers

_admin = None


def admin():
    global _admin
    if _admin is None:
        _admin = AdminClient({"bootstrap.servers": BOOT, "socket.timeout.ms": 5000})
    return _admin


def create_topic(name, partitions=1, config=None):
    futs = admin().create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=TIMEOUT,
        request_timeout=TIMEOUT,
    )
    futs[name].result(TIMEOUT)
    return name


def kcat_bin():
    path = shutil.which(KCAT)
    assert path, f"{KCAT} not on PATH (apt-get install kcat)"
    return path


def make_records(tag, codec, n=NREC):
    """n keyed records with three headers; values of varying length, long and repetitive so that
    every codec really compresses them (librdkafka sends a batch uncompressed when compressing does
    not make it smaller). ASCII only, so that kcat's JSON output carries them unchanged."""
    recs = []
    for i in range(n):
        recs.append(
            dict(
                key=f"{tag}-{codec}-{i}".encode(),
                value=(f"{tag}/{codec} value {i}: " + "lorem ipsum dolor sit amet, " * (4 + i % 9)).encode(),
                headers=[("idx", str(i).encode()), ("src", tag.encode()), ("codec", codec.encode())],
            )
        )
    return recs


def produce_kafka_python(topic, recs, codec, **extra):
    """Two halves, flushed separately: at least two batches. Sets r["offset"] from the acks."""
    conf = dict(
        bootstrap_servers=BOOT,
        compression_type=None if codec == "none" else codec,
        acks="all",
        linger_ms=20,
        request_timeout_ms=5000,
        max_block_ms=TIMEOUT * 1000,
        enable_idempotence=False,
    )
    conf.update(extra)
    p = KafkaProducer(**conf)
    try:
        half = (len(recs) + 1) // 2
        for chunk in (recs[:half], recs[half:]):
            futs = [p.send(topic, partition=0, key=r["key"], value=r["value"], headers=r["headers"]) for r in chunk]
            p.flush(timeout=BIG_TIMEOUT)
            for r, f in zip(chunk, futs):
                md = f.get(timeout=BIG_TIMEOUT)
                r["offset"] = md.offset
    finally:
        p.close(timeout=5)


def produce_confluent(topic, recs, codec, **extra):
    """Two halves, flushed separately: at least two batches. Sets r["offset"] from the reports."""
    conf = {
        "bootstrap.servers": BOOT,
        "compression.type": codec,
        "enable.idempotence": False,
        "acks": "all",
        "linger.ms": 20,
        "message.timeout.ms": TIMEOUT * 1000,
    }
    conf.update(extra)
    p = Producer(conf)
    errors = []

    def on_delivery(r):
        def cb(err, msg):
            if err is not None:
                errors.append(err)
            else:
                r["offset"] = msg.offset()

        return cb

    half = (len(recs) + 1) // 2
    for chunk in (recs[:half], recs[half:]):
        for r in chunk:
            p.produce(topic, partition=0, key=r["key"], value=r["value"], headers=r["headers"], on_delivery=on_delivery(r))
        assert p.flush(BIG_TIMEOUT) == 0, "records still queued after flush"
    assert not errors, errors


def produce_kcat(topic, recs, codec):
    """kcat -P -z CODEC: one `key:value` line per record; kcat sets the same headers (-H) on every
    record, so the records' own headers are replaced by src=kcat, codec=CODEC. At most 15 records
    per batch (batch.num.messages), so the topic gets several compressed batches."""
    for r in recs:
        assert b":" not in r["key"] and b"\n" not in r["value"]
        r["headers"] = [("src", b"kcat"), ("codec", codec.encode())]
    data = b"".join(r["key"] + b":" + r["value"] + b"\n" for r in recs)
    args = [kcat_bin(), "-b", BOOT, "-X", "socket.timeout.ms=5000", "-P", "-t", topic, "-p", "0", "-K:",
            "-H", "src=kcat", "-H", f"codec={codec}", "-X", "linger.ms=50", "-X", "batch.num.messages=15"]
    if codec != "none":
        args += ["-z", codec]
    res = subprocess.run(args, input=data, capture_output=True, timeout=30)
    assert res.returncode == 0, f"kcat -P exited {res.returncode}: {res.stderr.decode(errors='replace')}"
    assert b"ERROR" not in res.stderr, res.stderr.decode(errors="replace")


def consume_kafka_python(topic, expected, timeout=TIMEOUT, **extra):
    conf = dict(
        bootstrap_servers=BOOT,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
        fetch_max_wait_ms=100,
    )
    conf.update(extra)
    c = KafkaConsumer(**conf)
    out = []
    try:
        tp = KTopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        deadline = time.time() + timeout
        while len(out) < expected and time.time() < deadline:
            for msgs in c.poll(timeout_ms=200).values():
                for m in msgs:
                    out.append(dict(offset=m.offset, key=m.key, value=m.value, headers=[(k, v) for k, v in m.headers]))
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


def consume_confluent(topic, expected, timeout=TIMEOUT, **extra):
    c = confluent_consumer(**extra)
    out = []
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.time() + timeout
        while len(out) < expected and time.time() < deadline:
            for m in c.consume(num_messages=100, timeout=0.2):
                if m.error():
                    raise KafkaException(m.error())
                out.append(dict(offset=m.offset(), key=m.key(), value=m.value(), headers=list(m.headers() or [])))
    finally:
        c.close()
    return out


def consume_kcat(topic, expected):
    """kcat -C -J -e (stops at the end of the partition), CRCs checked."""
    res = subprocess.run(
        [kcat_bin(), "-b", BOOT, "-X", "socket.timeout.ms=5000", "-X", "check.crcs=true", "-C", "-t", topic,
         "-p", "0", "-o", "beginning", "-e", "-J", "-q"],
        capture_output=True, timeout=30,
    )
    assert res.returncode == 0, f"kcat -C exited {res.returncode}: {res.stderr.decode(errors='replace')}"
    out = []
    for line in res.stdout.decode().splitlines():
        if not line.strip():
            continue
        m = json.loads(line)
        h = m.get("headers") or []
        out.append(
            dict(
                offset=m["offset"],
                key=None if m["key"] is None else m["key"].encode(),
                value=None if m["payload"] is None else m["payload"].encode(),
                headers=[(h[i], h[i + 1].encode()) for i in range(0, len(h), 2)],
            )
        )
    return out


PRODUCERS = {"kafka-python": produce_kafka_python, "confluent": produce_confluent, "kcat": produce_kcat}
CONSUMERS = {"kafka-python": consume_kafka_python, "confluent": consume_confluent, "kcat": consume_kcat}


def check_in_order(produced, consumed):
    """Every produced record read exactly once, in production order at offsets 0..n-1, with its key,
    value and headers (order and values of the headers included)."""
    assert len(consumed) == len(produced), f"read {len(consumed)} records, produced {len(produced)}"
    assert [r["offset"] for r in consumed] == list(range(len(produced))), [r["offset"] for r in consumed]
    for i, (want, got) in enumerate(zip(produced, consumed)):
        if "offset" in want:
            assert want["offset"] == i, f"record {want['key']!r} acked at offset {want['offset']}, read at {i}"
        for f in ("key", "value", "headers"):
            assert got[f] == want[f], f"{f} at offset {i}: read {got[f]!r:.200}, sent {want[f]!r:.200}"


def kafka_python_client():
    from kafka.client_async import KafkaClient

    client = KafkaClient(bootstrap_servers=BOOT, request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
    node = client.least_loaded_node()
    deadline = time.time() + TIMEOUT
    while not client.ready(node) and time.time() < deadline:
        client.poll(timeout_ms=100)
    assert client.ready(node), "kafka-python low-level client did not connect"
    return client, node


def raw_batches(topic):
    """The record batches of partition 0 exactly as the broker serves them (Fetch v4 through
    kafka-python's low-level client, no decompression on the way): a list of
    (base_offset, codec id, record count, [(offset, key, value, headers)])."""
    from kafka.protocol.fetch import FetchRequest
    from kafka.record import MemoryRecords

    client, node = kafka_python_client()
    batches = []
    try:
        offset, hw = 0, None
        deadline = time.time() + TIMEOUT
        while (hw is None or offset < hw) and time.time() < deadline:
            req = FetchRequest[4](replica_id=-1, max_wait_time=100, min_bytes=1, max_bytes=50 * 1024 * 1024,
                                  isolation_level=0, topics=[(topic, [(0, offset, 50 * 1024 * 1024)])])
            fut = client.send(node, req)
            client.poll(future=fut, timeout_ms=TIMEOUT * 1000)
            assert fut.succeeded(), fut.exception
            ((_, parts),) = fut.value.topics
            ((_, err, hw, _, _, data),) = parts
            assert err == 0, f"Fetch error {err}"
            mr = MemoryRecords(data)
            while True:
                b = mr.next_batch()
                if b is None:
                    break
                recs = [(r.offset, r.key, r.value, [(k, v) for k, v in r.headers]) for r in b]
                if b.base_offset + b.last_offset_delta < offset:
                    continue
                batches.append((b.base_offset, b.compression_type, len(recs), recs))
                offset = b.base_offset + b.last_offset_delta + 1
    finally:
        client.close()
    return batches


def end_offset(topic):
    c = confluent_consumer()
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT, cached=False)
    finally:
        c.close()


# ------------------------------------------------------------------------------------------------
# codec libraries


def test_codec_libraries_available():
    """kafka-python needs python-snappy (cramjam), lz4 and zstandard for the codecs (gzip is zlib);
    without them it refuses compression_type=... instead of testing it. confluent-kafka's wheel and
    Debian's kcat build in all four."""
    missing = [n for n, ok in [("snappy", kafka.codec.has_snappy()), ("lz4", kafka.codec.has_lz4()),
                               ("zstd", kafka.codec.has_zstd()), ("gzip", kafka.codec.has_gzip())] if not ok]
    assert not missing, f"kafka-python codec libraries missing: {missing} (pip install -r tests/compat/requirements.txt)"
    kcat_bin()
    res = subprocess.run([kcat_bin(), "-V"], capture_output=True, timeout=10)
    print(res.stdout.decode())


# ------------------------------------------------------------------------------------------------
# producer-compressed batches: stored as sent, read by every other client

_produced = {}


def produced_topic(producer, codec):
    """Produces NREC records once per (producer, codec) into a new 1-partition topic with the
    default compression.type (producer); returns (topic, records)."""
    if (producer, codec) not in _produced:
        topic = create_topic(uniq(f"{producer}-{codec}"))
        recs = make_records(producer, codec)
        PRODUCERS[producer](topic, recs, codec)
        _produced[(producer, codec)] = (topic, recs)
    return _produced[(producer, codec)]


PAIRS = [(p, c) for p in PRODUCERS for c in CONSUMERS if p != c]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("producer,consumer", PAIRS, ids=[f"{p}-to-{c}" for p, c in PAIRS])
def test_compressed_roundtrip(producer, consumer, codec):
    topic, recs = produced_topic(producer, codec)
    check_in_order(recs, CONSUMERS[consumer](topic, len(recs)))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_batches_stored_as_sent(producer, codec):
    """compression.type=producer (the default): the broker keeps each batch in the producer's codec
    (as Kafka does when the codecs match); at least two batches (two flushes; kcat: 15 per batch),
    every batch compressed with CODEC, the records inside as produced."""
    topic, recs = produced_topic(producer, codec)
    batches = raw_batches(topic)
    summary = [(base, codec_id, n) for base, codec_id, n, _ in batches]
    assert len(batches) >= 2, f"{len(batches)} batch(es): {summary}"
    assert all(codec_id == CODEC_IDS[codec] for _, codec_id, _, _ in batches), (
        f"batches (base offset, codec id, records) {summary}; the producer sent codec {CODEC_IDS[codec]} ({codec})"
    )
    flat = [r for _, _, _, rs in batches for r in rs]
    assert [(o, k, v, h) for o, k, v, h in flat] == [
        (i, r["key"], r["value"], r["headers"]) for i, r in enumerate(recs)
    ]


# ------------------------------------------------------------------------------------------------
# topic-level compression.type: the broker may recompress, every client still reads every record

# (producer, codec it sends); none of them is the topic's codec except the last, which Kafka keeps as is
TOPIC_CODEC_WRITES = [("kafka-python", "none"), ("confluent", "lz4"), ("kcat", "snappy"), ("kafka-python", "gzip"),
                      ("confluent", "none"), ("confluent", "TOPIC")]
# compression.type=uncompressed: every write compressed (all four codecs, all three clients) but the first
UNCOMPRESSED_WRITES = [("kafka-python", "none"), ("confluent", "lz4"), ("kcat", "snappy"), ("kafka-python", "gzip"),
                       ("confluent", "gzip"), ("kcat", "zstd")]
TOPIC_CODECS = ["zstd", "gzip", "lz4", "snappy", "uncompressed"]
# the codec id a topic's batches are stored with (compression.type=uncompressed: no compression, 0)
TOPIC_CODEC_IDS = dict(CODEC_IDS, uncompressed=0)

_topic_codec = {}


def topic_codec_topic(topic_codec):
    """A 1-partition topic created with compression.type=TOPIC_CODEC, written by all three clients
    with other codecs (and once with the topic's own; compression.type=uncompressed: uncompressed
    once, then gzip, lz4, snappy and zstd); returns (topic, records in offset order)."""
    if topic_codec not in _topic_codec:
        topic = create_topic(uniq(f"topic-{topic_codec}"), config={"compression.type": topic_codec})
        cfg = admin().describe_configs([ConfigResource(ResourceType.TOPIC, topic)], request_timeout=TIMEOUT)
        ((_, fut),) = cfg.items()
        assert fut.result(TIMEOUT)["compression.type"].value == topic_codec
        all_recs = []
        writes = UNCOMPRESSED_WRITES if topic_codec == "uncompressed" else TOPIC_CODEC_WRITES
        for n, (producer, codec) in enumerate(writes):
            codec = topic_codec if codec == "TOPIC" else codec
            recs = make_records(f"{producer}{n}", codec, n=12)
            PRODUCERS[producer](topic, recs, codec)
            for i, r in enumerate(recs):
                want = len(all_recs) + i
                assert r.get("offset", want) == want, f"{producer}/{codec} record {i} acked at {r['offset']}, want {want}"
                r.pop("offset", None)
            all_recs += recs
        _topic_codec[topic_codec] = (topic, all_recs)
    return _topic_codec[topic_codec]


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@pytest.mark.parametrize("topic_codec", TOPIC_CODECS)
def test_topic_compression_type_all_records(topic_codec, consumer):
    """Whatever the broker does with batches in a compression.type=zstd/gzip/lz4/snappy/uncompressed
    topic (keep or recompress), every client reads every record, in order, with key, value and headers."""
    topic, recs = topic_codec_topic(topic_codec)
    check_in_order(recs, CONSUMERS[consumer](topic, len(recs)))


@pytest.mark.parametrize("topic_codec", TOPIC_CODECS)
def test_topic_compression_type_recompresses(topic_codec):
    """Kafka stores every batch of a compression.type=zstd/gzip/lz4/snappy topic in that codec
    (LogValidator.validateMessagesAndAssignOffsetsCompressed): batches sent uncompressed or in another
    codec are recompressed on write, offsets and records unchanged. compression.type=uncompressed:
    batches sent with gzip, lz4, snappy or zstd are stored uncompressed (codec 0)."""
    topic, recs = topic_codec_topic(topic_codec)
    batches = raw_batches(topic)
    summary = [(base, codec_id, n) for base, codec_id, n, _ in batches]
    flat = [r for _, _, _, rs in batches for r in rs]
    assert [(o, k, v, h) for o, k, v, h in flat] == [(i, r["key"], r["value"], r["headers"]) for i, r in enumerate(recs)]
    assert all(codec_id == TOPIC_CODEC_IDS[topic_codec] for _, codec_id, _, _ in batches), (
        f"batches (base offset, codec id, records) {summary}; topic compression.type={topic_codec} "
        f"(codec id {TOPIC_CODEC_IDS[topic_codec]})"
    )


# ------------------------------------------------------------------------------------------------
# large records: topic max.message.bytes=15 MiB, a 10 MiB record; default topic refuses 2 MiB

BIG = 10 * 1024 * 1024
BIG_TOPIC_MAX = 15 * 1024 * 1024  # 15728640
CLIENT_MAX = 16 * 1024 * 1024


def random_ish(n, seed):
    """n bytes: random 4 KiB blocks and repeated ones (so neither all-random nor trivially compressible)."""
    rnd = random.Random(seed)
    blocks = [rnd.randbytes(4096) for _ in range(64)]
    out = bytearray()
    while len(out) < n:
        out += blocks[rnd.randrange(64)] if rnd.random() < 0.5 else rnd.randbytes(4096)
    return bytes(out[:n])


BIG_PRODUCE = {
    "confluent": lambda topic, recs: produce_confluent(
        topic, recs, "none", **{"message.max.bytes": CLIENT_MAX, "message.timeout.ms": BIG_TIMEOUT * 1000,
                                "request.timeout.ms": BIG_TIMEOUT * 1000, "linger.ms": 0}
    ),
    "kafka-python": lambda topic, recs: produce_kafka_python(
        topic, recs, "none", max_request_size=CLIENT_MAX, request_timeout_ms=BIG_TIMEOUT * 1000, linger_ms=0,
        max_block_ms=BIG_TIMEOUT * 1000,
    ),
}
BIG_CONSUME = {
    # librdkafka: receive.message.max.bytes must be >= fetch.max.bytes + 512
    "confluent": lambda topic, n: consume_confluent(
        topic, n, timeout=BIG_TIMEOUT, **{"fetch.max.bytes": CLIENT_MAX, "max.partition.fetch.bytes": CLIENT_MAX,
                                          "receive.message.max.bytes": CLIENT_MAX + 1024 * 1024,
                                          "socket.timeout.ms": BIG_TIMEOUT * 1000}
    ),
    "kafka-python": lambda topic, n: consume_kafka_python(
        topic, n, timeout=BIG_TIMEOUT, max_partition_fetch_bytes=CLIENT_MAX, fetch_max_bytes=CLIENT_MAX,
        request_timeout_ms=BIG_TIMEOUT * 1000,
    ),
}


@pytest.mark.parametrize("producer", list(BIG_PRODUCE))
def test_10mib_record(producer):
    """A 10 MiB record (with a small one before and after it) in a topic with max.message.bytes=15 MiB
    (below socket.request.max.bytes 100 MiB and fetch.max.bytes 55 MiB of the broker): produced by
    PRODUCER with its request limit raised to 16 MiB, read back intact by both Python clients with
    their fetch limits raised to 16 MiB."""
    topic = create_topic(uniq(f"big-{producer}"), config={"max.message.bytes": str(BIG_TOPIC_MAX)})
    recs = [
        dict(key=b"before", value=b"small-1", headers=[("n", b"1")]),
        dict(key=b"big", value=random_ish(BIG, producer), headers=[("n", b"2"), ("size", str(BIG).encode())]),
        dict(key=b"after", value=b"small-3", headers=[("n", b"3")]),
    ]
    BIG_PRODUCE[producer](topic, recs)
    assert [r["offset"] for r in recs] == [0, 1, 2]
    assert end_offset(topic) == (0, 3)
    for consumer, consume in BIG_CONSUME.items():
        got = consume(topic, len(recs))
        assert [len(r["value"]) for r in got] == [len(r["value"]) for r in recs], f"{consumer}: record sizes"
        check_in_order(recs, got)


@pytest.mark.parametrize("producer", ["confluent", "kafka-python"])
def test_2mib_record_refused_by_default_topic(producer):
    """A topic with the default max.message.bytes (1048588): a 2 MiB record (the client's own limit
    raised so that it sends it) is refused with MESSAGE_TOO_LARGE (10) and nothing is written; a
    small record afterwards lands at offset 0."""
    topic = create_topic(uniq(f"toolarge-{producer}"))
    res = ConfigResource(ResourceType.TOPIC, topic)
    assert admin().describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)["max.message.bytes"].value == "1048588"
    value = os.urandom(2 * 1024 * 1024)
    if producer == "confluent":
        p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": False, "compression.type": "none",
                      "message.max.bytes": 3 * 1024 * 1024, "retries": 0, "linger.ms": 0,
                      "message.timeout.ms": BIG_TIMEOUT * 1000})
        errs = []
        p.produce(topic, partition=0, value=value, on_delivery=lambda err, msg: errs.append(err))
        assert p.flush(BIG_TIMEOUT) == 0
        assert len(errs) == 1 and errs[0] is not None, f"2 MiB record: delivery report {errs}"
        assert errs[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, f"2 MiB record refused with {errs[0]}, want MSG_SIZE_TOO_LARGE (10)"
    else:
        p = KafkaProducer(bootstrap_servers=BOOT, max_request_size=3 * 1024 * 1024, retries=0, linger_ms=0,
                          request_timeout_ms=BIG_TIMEOUT * 1000, max_block_ms=BIG_TIMEOUT * 1000, enable_idempotence=False)
        try:
            with pytest.raises(MessageSizeTooLargeError):
                p.send(topic, partition=0, value=value).get(timeout=BIG_TIMEOUT)
        finally:
            p.close(timeout=5)
    assert end_offset(topic) == (0, 0), "the refused record was written"
    recs = [dict(key=b"k", value=b"fits", headers=[])]
    produce_confluent(topic, recs, "none")
    assert recs[0]["offset"] == 0
    assert end_offset(topic) == (0, 1)


def words_text(n, seed):
    """n bytes of lines of words from a 64-word vocabulary: compresses about 4-5:1 (gzip, zstd)."""
    rnd = random.Random(seed)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(64)]
    out = bytearray()
    while len(out) < n:
        out += (" ".join(rnd.choice(words) for _ in range(12)) + "\n").encode()
    return bytes(out[:n])


def produce_compressed_2mib(topic, codec, value):
    recs = [dict(key=b"zip", value=value, headers=[("codec", codec.encode())])]
    produce_confluent(topic, recs, codec, **{"message.max.bytes": 3 * 1024 * 1024})
    assert recs[0]["offset"] == 0
    batches = raw_batches(topic)
    assert [(b, c, n) for b, c, n, _ in batches] == [(0, CODEC_IDS[codec], 1)]
    check_in_order(recs, consume_confluent(topic, 1))
    check_in_order(recs, consume_kafka_python(topic, 1))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_2mib_compressible_record_accepted_by_default_topic(codec):
    """max.message.bytes limits the batch as sent (compressed), as in Kafka: a 2 MiB record of text
    that compresses about 4:1 (to ~450 kB) is accepted by a topic with the default 1048588 and read
    back whole by both clients (fetch limits at their defaults: they count compressed bytes)."""
    topic = create_topic(uniq(f"compressible-{codec}"))
    produce_compressed_2mib(topic, codec, words_text(2 * 1024 * 1024, codec))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_2mib_highly_compressible_record_accepted(codec):
    """A 2 MiB record of one repeated 16-byte pattern compresses to a few kB (over 256:1); Kafka
    accepts it (max.message.bytes counts the compressed batch) and serves it back."""
    topic = create_topic(uniq(f"compressible-hi-{codec}"))
    produce_compressed_2mib(topic, codec, b"0123456789abcdef" * 131072)
