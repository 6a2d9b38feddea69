"""Topic and broker configs, DeleteRecords, retention and compaction through third-party clients:
confluent-kafka's AdminClient (librdkafka 2.16) and kafka-python's KafkaAdminClient (2.3.3) against a
running Tributary broker.

Run by tests/compat/run.sh in the same pytest invocation as test_python.py (COMPAT_BOOTSTRAP set).
The retention test needs a broker that checks retention often: run.sh starts it with
`-o log.retention.check.interval.ms=500 -o log.cleaner.backoff.ms=200` (Kafka's defaults are 5 min
and 15 s); the retention test is skipped when the broker checks less often than every 5 s.
By hand:  COMPAT_BOOTSTRAP=127.0.0.1:9092 $COMPAT_VENV/bin/pytest -v tests/compat/test_configs.py

What is checked (what Kafka answers, unless a test says otherwise):
- DescribeConfigs of a topic and of broker "1" (both clients, with and without synonyms): values,
  sources, read-only flags, synonyms in Kafka's order (topic override, then the broker's settings
  from the most to the least specific), only the names asked for;
- IncrementalAlterConfigs (confluent-kafka; SET, DELETE, APPEND, SUBTRACT) on a topic, validate_only,
  one refused operation refusing the whole resource, INVALID_CONFIG (40) with a message naming the
  key for bad values, unknown keys and APPEND/SUBTRACT on a non-list key, UNKNOWN_TOPIC_OR_PARTITION;
- AlterConfigs (the legacy API; kafka-python and confluent-kafka): the given configs become the
  topic's whole set of overrides;
- dynamic broker configs: log.retention.ms on broker "1" (DYNAMIC_BROKER_CONFIG) and on the cluster
  default "" (DYNAMIC_DEFAULT_BROKER_CONFIG) reach the topics without an override of their own, and
  go again when deleted (the broker is shared with the other tests: every change is undone in a
  finally); non-dynamic keys (node.id, num.partitions) are refused;
- DeleteRecords (both clients, and raw requests for the errors): the low watermark moves (also inside a
  compressed batch), consumers positioned below it restart at the new start, beyond the high
  watermark OFFSET_OUT_OF_RANGE (1), compact-only topic POLICY_VIOLATION (44), __consumer_offsets
  INVALID_TOPIC_EXCEPTION (17), unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION (3);
- retention.ms and retention.bytes on topics with tiny segments: old segments go, the log start
  moves, what is left is read back intact;
- compaction (cleanup.policy=compact, tiny segments, min.cleanable.dirty.ratio=0.01,
  delete.retention.ms=0): keyed records and tombstones from both clients in several codecs; the
  cleaned log keeps exactly the latest record of every key at its original offset, tombstones go;
  records without a key are refused with INVALID_RECORD (87).
"""
import os
import time
import uuid
import warnings

import pytest

from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition
from kafka.admin import ConfigResource as KConfigResource
from kafka.admin import ConfigResourceType as KConfigResourceType
from kafka.admin import KafkaAdminClient
from kafka.protocol.admin import DeleteRecordsRequest, DescribeConfigsRequest

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

BOOT = os.environ.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
TIMEOUT = 10  # seconds, for any single wait on the broker
RETENTION_WAIT = 20  # seconds for retention to delete what it should
COMPACTION_WAIT = 30  # seconds for the cleaner to compact a topic

# ConfigSource ids (DescribeConfigsResponse)
DYNAMIC_TOPIC = ConfigSource.DYNAMIC_TOPIC_CONFIG.value  # 1
DYNAMIC_BROKER = ConfigSource.DYNAMIC_BROKER_CONFIG.value  # 2
DYNAMIC_DEFAULT = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value  # 3
STATIC = ConfigSource.STATIC_BROKER_CONFIG.value  # 4
DEFAULT = ConfigSource.DEFAULT_CONFIG.value  # 5

SET, DELETE, APPEND, SUBTRACT = (AlterConfigOpType.SET, AlterConfigOpType.DELETE, AlterConfigOpType.APPEND,
                                 AlterConfigOpType.SUBTRACT)

# Kafka error codes not in confluent_kafka.KafkaError under these names
INVALID_CONFIG = 40
INVALID_REQUEST = 42
POLICY_VIOLATION = 44
INVALID_RECORD = 87

# Kafka's defaults for the topic configs these tests look at
RETENTION_MS_DEFAULT = "604800000"  # log.retention.hours=168
SEGMENT_BYTES_DEFAULT = "1073741824"

# topic configs every Kafka broker describes (TopicConfig), with their broker synonym
# (ServerTopicConfigSynonyms: the first of the broker keys, e.g. log.retention.ms before .minutes and .hours)
KAFKA_TOPIC_CONFIGS = {
    "cleanup.policy": "log.cleanup.policy",
    "compression.type": "compression.type",
    "delete.retention.ms": "log.cleaner.delete.retention.ms",
    "file.delete.delay.ms": "log.segment.delete.delay.ms",
    "flush.messages": "log.flush.interval.messages",
    "flush.ms": "log.flush.interval.ms",
    "index.interval.bytes": "log.index.interval.bytes",
    "max.compaction.lag.ms": "log.cleaner.max.compaction.lag.ms",
    "max.message.bytes": "message.max.bytes",
    "message.timestamp.type": "log.message.timestamp.type",
    "min.cleanable.dirty.ratio": "log.cleaner.min.cleanable.ratio",
    "min.compaction.lag.ms": "log.cleaner.min.compaction.lag.ms",
    "min.insync.replicas": "min.insync.replicas",
    "preallocate": "log.preallocate",
    "retention.bytes": "log.retention.bytes",
    "retention.ms": "log.retention.ms",
    "segment.bytes": "log.segment.bytes",
    "segment.index.bytes": "log.index.size.max.bytes",
    "segment.jitter.ms": "log.roll.jitter.ms",
    "segment.ms": "log.roll.ms",
    "unclean.leader.election.enable": "unclean.leader.election.enable",
}


def uniq(what):
    return f"compat-cfg-{what}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------------------------
# helpers

_admin = None


def admin():
    """One confluent AdminClient for the module: its futures fail with _DESTROY if the handle is freed."""
    global _admin
    if _admin is None:
        _admin = AdminClient({"bootstrap.servers": BOOT, "socket.timeout.ms": 5000})
    return _admin


@pytest.fixture(scope="module")
def kadmin():
    a = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=5000)
    yield a
    a.close()


def create_topic(name, partitions=1, config=None):
    futs = admin().create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=TIMEOUT,
        request_timeout=TIMEOUT,
    )
    futs[name].result(TIMEOUT)
    return name


def describe(restype, name):
    """confluent-kafka describe_configs: {name: ConfigEntry}. librdkafka always asks for synonyms;
    ConfigEntry.synonyms is a dict by name, so it shows a name set at two levels only once (the
    kafka-python helper below keeps the whole list)."""
    res = ConfigResource(restype, name)
    return admin().describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)


def describe_topic(topic):
    return describe(ResourceType.TOPIC, topic)


def syn(entry):
    """A confluent ConfigEntry's synonyms as [(name, value, source id)], in the broker's order."""
    return [(s.name, s.value, s.source) for s in entry.synonyms.values()]


def kp_describe(kadmin, restype, name, keys=None, synonyms=True):
    """kafka-python describe_configs (DescribeConfigs v2): {name: (value, read_only, source, sensitive,
    [(synonym name, value, source)])}; raises on a resource error."""
    (resp,) = kadmin.describe_configs([KConfigResource(restype, name, configs=keys and dict.fromkeys(keys))],
                                      include_synonyms=synonyms)
    ((code, message, _, rname, entries),) = resp.resources
    assert code == 0, f"DescribeConfigs {restype} {name!r}: error {code} {message!r}"
    assert rname == name
    return {n: (v, ro, src, sens, [tuple(s) for s in syns]) for n, v, ro, src, sens, syns in entries}


def alter(restype, name, ops, validate_only=False):
    """confluent-kafka incremental_alter_configs with [(key, AlterConfigOpType, value)]; returns None
    or the KafkaError of the resource."""
    res = ConfigResource(restype, name, incremental_configs=[ConfigEntry(k, v, incremental_operation=op) for k, op, v in ops])
    fut = admin().incremental_alter_configs([res], request_timeout=TIMEOUT, validate_only=validate_only)[res]
    try:
        fut.result(TIMEOUT)
        return None
    except KafkaException as e:
        return e.args[0]


def alter_topic(topic, ops, **kw):
    return alter(ResourceType.TOPIC, topic, ops, **kw)


def check_refused(err, code, key):
    assert err is not None, f"{key}: accepted, want error {code}"
    assert err.code() == code, f"{key}: error {err.code()} ({err.name()}: {err.str()}), want {code}"
    assert key in err.str(), f"error message {err.str()!r} does not name {key}"


def values(cfg, keys):
    return {k: cfg[k].value for k in keys}


def watermarks(topic, partition=0):
    tp = TopicPartition(topic, partition)
    a = admin()
    lo = a.list_offsets({tp: OffsetSpec.earliest()}, request_timeout=TIMEOUT)[tp].result(TIMEOUT).offset
    hi = a.list_offsets({tp: OffsetSpec.latest()}, request_timeout=TIMEOUT)[tp].result(TIMEOUT).offset
    return lo, hi


def produce_confluent(topic, recs, codec="none", **extra):
    """recs: dicts with key, value, headers (optional); sets r["offset"] from the delivery reports.
    Flushes after every `batch` records (default all at once)."""
    batch = extra.pop("batch", len(recs) or 1)
    conf = {"bootstrap.servers": BOOT, "compression.type": codec, "enable.idempotence": False, "acks": "all",
            "linger.ms": 20, "message.timeout.ms": TIMEOUT * 1000}
    conf.update(extra)
    p = Producer(conf)
    errors = []

    def report(r):
        def cb(err, msg):
            if err is not None:
                errors.append(err)
            else:
                r["offset"] = msg.offset()

        return cb

    for i in range(0, len(recs), batch):
        for r in recs[i:i + batch]:
            p.produce(topic, partition=0, key=r["key"], value=r["value"], headers=r.get("headers"), on_delivery=report(r))
        assert p.flush(TIMEOUT) == 0, "records still queued after flush"
    assert not errors, errors


def produce_kafka_python(topic, recs, codec="none"):
    p = KafkaProducer(bootstrap_servers=BOOT, compression_type=None if codec == "none" else codec, acks="all",
                      linger_ms=20, request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000, enable_idempotence=False)
    try:
        futs = [p.send(topic, partition=0, key=r["key"], value=r["value"], headers=r.get("headers") or []) for r in recs]
        p.flush(timeout=TIMEOUT)
        for r, f in zip(recs, futs):
            r["offset"] = f.get(timeout=TIMEOUT).offset
    finally:
        p.close(timeout=5)


def confluent_consumer(**extra):
    conf = {
        "bootstrap.servers": BOOT,
        "group.id": uniq("group"),  # required by librdkafka even with assign(); never used
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
        "socket.timeout.ms": 5000,
        "check.crcs": True,
    }
    conf.update(extra)
    return Consumer(conf)


def read_confluent(topic, start=OFFSET_BEGINNING, until=None, timeout=TIMEOUT):
    """Records of partition 0 from `start` up to offset `until` - 1 (default: the high watermark):
    [(offset, key, value, headers)]."""
    c = confluent_consumer()
    out = []
    try:
        if until is None:
            until = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT, cached=False)[1]
        c.assign([TopicPartition(topic, 0, start)])
        deadline = time.time() + timeout
        while (not out or out[-1][0] < until - 1) and time.time() < deadline:
            for m in c.consume(num_messages=500, timeout=0.2):
                if m.error():
                    raise KafkaException(m.error())
                out.append((m.offset(), m.key(), m.value(), list(m.headers() or [])))
    finally:
        c.close()
    return out


def read_kafka_python(topic, start=None, until=None, timeout=TIMEOUT):
    """Like read_confluent; start None = seek_to_beginning, else seek(start) (auto_offset_reset=earliest)."""
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                      request_timeout_ms=5000, fetch_max_wait_ms=100)
    out = []
    tp = KTopicPartition(topic, 0)
    try:
        c.assign([tp])
        if until is None:
            until = c.end_offsets([tp])[tp]
        if start is None:
            c.seek_to_beginning(tp)
        else:
            c.seek(tp, start)
        deadline = time.time() + timeout
        while (not out or out[-1][0] < until - 1) and time.time() < deadline:
            for msgs in c.poll(timeout_ms=200).values():
                out += [(m.offset, m.key, m.value, [(k, v) for k, v in m.headers]) for m in msgs]
    finally:
        c.close(autocommit=False)
    return out


# ------------------------------------------------------------------------------------------------
# DescribeConfigs


def test_describe_topic_configs(kadmin):
    """A topic with three overrides: every Kafka topic config is described, none read-only or
    sensitive; overrides are DYNAMIC_TOPIC_CONFIG with the override first among the synonyms and
    then the broker's default (Kafka's ConfigHelper.createTopicConfigEntry), the rest DEFAULT_CONFIG
    with the broker synonym only (for keys whose broker synonym has a default: see
    test_config_synonyms_as_kafka for retention.ms and segment.ms). kafka-python sees the same,
    with and without synonyms, and only the keys it asks for."""
    topic = create_topic(uniq("describe"), config={"retention.ms": "3600000", "cleanup.policy": "compact,delete",
                                                   "max.message.bytes": "2000000"})
    cfg = describe_topic(topic)
    missing = sorted(set(KAFKA_TOPIC_CONFIGS) - set(cfg))
    assert not missing, f"topic configs not described: {missing}"
    for name, e in cfg.items():
        assert not e.is_read_only and not e.is_sensitive, (name, e.is_read_only, e.is_sensitive)
        assert e.is_default == (e.source == DEFAULT), (name, e.source, e.is_default)
        assert e.value is not None, name
    overrides = {"cleanup.policy": ("compact,delete", "log.cleanup.policy", "delete"),
                 "max.message.bytes": ("2000000", "message.max.bytes", "1048588")}
    for name, (value, broker_key, broker_default) in overrides.items():
        e = cfg[name]
        assert (e.value, e.source, e.is_default) == (value, DYNAMIC_TOPIC, False), (name, e.value, e.source)
        assert syn(e) == [(name, value, DYNAMIC_TOPIC), (broker_key, broker_default, DEFAULT)], (name, syn(e))
    e = cfg["retention.ms"]
    assert (e.value, e.source, e.is_default) == ("3600000", DYNAMIC_TOPIC, False)
    assert syn(e)[0] == ("retention.ms", "3600000", DYNAMIC_TOPIC), syn(e)
    defaults = {"segment.bytes": SEGMENT_BYTES_DEFAULT, "delete.retention.ms": "86400000",
                "min.cleanable.dirty.ratio": "0.5", "retention.bytes": "-1",
                "compression.type": "producer", "min.insync.replicas": "1", "message.timestamp.type": "CreateTime"}
    for name, value in defaults.items():
        e = cfg[name]
        assert (e.value, e.source) == (value, DEFAULT), (name, e.value, e.source)
        assert [(n, s) for n, _, s in syn(e)] == [(KAFKA_TOPIC_CONFIGS[name], DEFAULT)], (name, syn(e))
    assert sorted(n for n, e in cfg.items() if e.source != DEFAULT) == sorted([*overrides, "retention.ms"])

    # kafka-python: the same entries (DescribeConfigs v2, synonyms asked for)
    kp = kp_describe(kadmin, KConfigResourceType.TOPIC, topic)
    assert sorted(kp) == sorted(cfg)
    for name, (value, ro, src, sens, syns) in kp.items():
        e = cfg[name]
        assert (value, ro, src, sens, syns) == (e.value, e.is_read_only, e.source, e.is_sensitive, syn(e)), name
    # without synonyms: none sent
    kp = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, synonyms=False)
    assert all(syns == [] for *_, syns in kp.values()), {n: s for n, (*_, s) in kp.items() if s}
    # only the names asked for (a name the broker does not know is left out, as Kafka does)
    kp = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, keys=["retention.ms", "segment.bytes", "no.such.config"])
    assert {n: (v, src) for n, (v, _, src, _, _) in kp.items()} == {
        "retention.ms": ("3600000", DYNAMIC_TOPIC), "segment.bytes": (SEGMENT_BYTES_DEFAULT, DEFAULT)}


def test_describe_unknown_topic(kadmin):
    ghost = uniq("ghost")
    res = ConfigResource(ResourceType.TOPIC, ghost)
    with pytest.raises(KafkaException) as e:
        admin().describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
    assert e.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    (resp,) = kadmin.describe_configs([KConfigResource(KConfigResourceType.TOPIC, ghost)])
    assert [r[0] for r in resp.resources] == [KafkaError.UNKNOWN_TOPIC_OR_PART]


def test_describe_broker_configs(kadmin):
    """Broker "1": the broker-level defaults of the topic configs are DEFAULT_CONFIG and not read-only
    (they can be changed dynamically); node.id, num.partitions and log.dirs are read-only, listeners is not
    (Kafka lets it change per broker);
    run.sh's -o group.consumer.heartbeat.interval.ms=500 is STATIC_BROKER_CONFIG with Kafka's default
    as its second synonym. kafka-python sees the same entries."""
    cfg = describe(ResourceType.BROKER, "1")
    for name in ["node.id", "num.partitions", "listeners", "log.dirs", "log.retention.hours", "log.segment.bytes",
                 "message.max.bytes", "log.cleaner.delete.retention.ms", "compression.type", "log.cleanup.policy",
                 "min.insync.replicas", "auto.create.topics.enable", "log.retention.check.interval.ms"]:
        assert name in cfg, f"broker config {name} not described"
    for name, e in cfg.items():
        assert not e.is_sensitive, name
        assert e.is_default == (e.source == DEFAULT), (name, e.source, e.is_default)
    assert (cfg["node.id"].value, cfg["node.id"].is_read_only) == ("1", True)
    for name in ["node.id", "num.partitions", "log.dirs"]:
        assert cfg[name].is_read_only, f"{name} described as dynamically updatable"
    assert not cfg["listeners"].is_read_only, "Kafka describes listeners as dynamically updatable"
    # Kafka changes only the .ms form of a time config at runtime: log.retention.hours is read-only
    e = cfg["log.retention.hours"]
    assert (e.value, e.source, e.is_read_only) == ("168", DEFAULT, True)
    for name, value in [("log.segment.bytes", SEGMENT_BYTES_DEFAULT),
                        ("message.max.bytes", "1048588"), ("log.cleaner.delete.retention.ms", "86400000"),
                        ("compression.type", "producer"), ("log.cleanup.policy", "delete")]:
        e = cfg[name]
        assert (e.value, e.source, e.is_read_only) == (value, DEFAULT, False), (name, e.value, e.source, e.is_read_only)
    hb = cfg["group.consumer.heartbeat.interval.ms"]
    assert (hb.value, hb.source, hb.is_read_only) == ("500", STATIC, True), "run.sh sets it with -o"

    kp = kp_describe(kadmin, KConfigResourceType.BROKER, "1")
    assert sorted(kp) == sorted(cfg)
    for name, (value, ro, src, sens, syns) in kp.items():
        e = cfg[name]
        assert (value, ro, src, sens) == (e.value, e.is_read_only, e.source, e.is_sensitive), name
        if value is None:
            # set nowhere and no default: Kafka lists it with a null value and no synonyms
            assert (syns, src) == ([], DEFAULT), (name, syns)
        else:
            assert syns and syns[0] == (name, value, src), (name, syns)
    assert kp["group.consumer.heartbeat.interval.ms"][4] == [
        ("group.consumer.heartbeat.interval.ms", "500", STATIC), ("group.consumer.heartbeat.interval.ms", "5000", DEFAULT)]
    assert kp["log.retention.hours"][4] == [("log.retention.hours", "168", DEFAULT)]
    kp = kp_describe(kadmin, KConfigResourceType.BROKER, "1", keys=["node.id", "log.segment.bytes"])
    assert sorted(kp) == ["log.segment.bytes", "node.id"]


SYNONYM_CASES = ["topic-override", "topic-defaults", "broker-dynamic"]


@pytest.mark.parametrize("case", SYNONYM_CASES)
def test_config_synonyms_as_kafka(kadmin, case):
    if case == "topic-override":
        topic = create_topic(uniq("syn"), config={"retention.ms": "3600000"})
        e = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, keys=["retention.ms"])["retention.ms"]
        assert e[4] == [("retention.ms", "3600000", DYNAMIC_TOPIC)], e
    elif case == "topic-defaults":
        topic = create_topic(uniq("syn"))
        cfg = kp_describe(kadmin, KConfigResourceType.TOPIC, topic)
        got = {k: cfg[k][4] for k in ["retention.ms", "segment.ms", "segment.jitter.ms", "flush.ms"]}
        assert got == {k: [] for k in got}, got
    else:
        try:
            assert alter(ResourceType.BROKER, "1", [("log.retention.ms", SET, "123456789")]) is None
            e = kp_describe(kadmin, KConfigResourceType.BROKER, "1", keys=["log.retention.ms"])["log.retention.ms"]
        finally:
            assert alter(ResourceType.BROKER, "1", [("log.retention.ms", DELETE, None)]) is None
        assert e[4] == [("log.retention.ms", "123456789", DYNAMIC_BROKER), ("log.retention.hours", "168", DEFAULT)], e


# ------------------------------------------------------------------------------------------------
# IncrementalAlterConfigs on topics (confluent-kafka)

KEYS = ["retention.ms", "segment.bytes", "cleanup.policy", "max.message.bytes"]


def test_incremental_alter_topic():
    """SET, DELETE, APPEND and SUBTRACT, each checked with describe_configs: SET overrides; DELETE
    goes back to the default (also for a key with no override); APPEND adds list items once;
    SUBTRACT removes them; validate_only changes nothing; the other overrides stay."""
    topic = create_topic(uniq("incr"), config={"retention.ms": "3600000"})

    assert alter_topic(topic, [("segment.bytes", SET, "2097152"), ("max.message.bytes", SET, "500000")]) is None
    cfg = describe_topic(topic)
    assert values(cfg, KEYS) == {"retention.ms": "3600000", "segment.bytes": "2097152", "cleanup.policy": "delete",
                                 "max.message.bytes": "500000"}
    assert [cfg[k].source for k in KEYS] == [DYNAMIC_TOPIC, DYNAMIC_TOPIC, DEFAULT, DYNAMIC_TOPIC]

    # APPEND to a list: the default "delete" plus "compact"; appending an item already there adds nothing
    assert alter_topic(topic, [("cleanup.policy", APPEND, "compact")]) is None
    e = describe_topic(topic)["cleanup.policy"]
    assert (e.value, e.source) == ("delete,compact", DYNAMIC_TOPIC)
    assert alter_topic(topic, [("cleanup.policy", APPEND, "compact")]) is None
    assert describe_topic(topic)["cleanup.policy"].value == "delete,compact"
    # SUBTRACT
    assert alter_topic(topic, [("cleanup.policy", SUBTRACT, "delete")]) is None
    e = describe_topic(topic)["cleanup.policy"]
    assert (e.value, e.source) == ("compact", DYNAMIC_TOPIC)

    # DELETE: back to the broker's default, source DEFAULT_CONFIG, the other overrides unchanged
    assert alter_topic(topic, [("retention.ms", DELETE, None), ("max.message.bytes", DELETE, None)]) is None
    cfg = describe_topic(topic)
    assert values(cfg, KEYS) == {"retention.ms": RETENTION_MS_DEFAULT, "segment.bytes": "2097152",
                                 "cleanup.policy": "compact", "max.message.bytes": "1048588"}
    assert [cfg[k].source for k in KEYS] == [DEFAULT, DYNAMIC_TOPIC, DYNAMIC_TOPIC, DEFAULT]
    # deleting a key that has no override is not an error
    assert alter_topic(topic, [("retention.ms", DELETE, None)]) is None

    # validate_only: accepted, nothing changes; an invalid value is still refused
    assert alter_topic(topic, [("retention.ms", SET, "1000"), ("segment.bytes", DELETE, None)], validate_only=True) is None
    check_refused(alter_topic(topic, [("retention.ms", SET, "x")], validate_only=True), INVALID_CONFIG, "retention.ms")
    assert values(describe_topic(topic), KEYS) == values(cfg, KEYS)

    # SET and DELETE of different keys in one request
    assert alter_topic(topic, [("segment.bytes", DELETE, None), ("retention.ms", SET, "86400000")]) is None
    cfg = describe_topic(topic)
    assert values(cfg, ["segment.bytes", "retention.ms"]) == {"segment.bytes": SEGMENT_BYTES_DEFAULT, "retention.ms": "86400000"}


ERRORS = [
    # (key, op, value): INVALID_CONFIG with a message naming the key
    ("retention.ms", SET, "abc"),
    ("segment.bytes", SET, "-5"),
    ("cleanup.policy", SET, "bogus"),
    ("cleanup.policy", APPEND, "bogus"),
    ("compression.type", SET, "brotli"),
    ("min.cleanable.dirty.ratio", SET, "1.5"),
    ("message.timestamp.type", SET, "WallClock"),
    ("no.such.config", SET, "1"),
    ("retention.ms", APPEND, "5"),  # APPEND/SUBTRACT only on list configs
    ("max.message.bytes", SUBTRACT, "5"),
]


@pytest.mark.parametrize("key,op,value", ERRORS, ids=[f"{k}-{op.name}-{v}" for k, op, v in ERRORS])
def test_incremental_alter_topic_invalid(key, op, value):
    """A bad value, an unknown key, APPEND/SUBTRACT on a non-list key: INVALID_CONFIG (40) with a
    message naming the key, and the topic's configs unchanged."""
    topic = create_topic(uniq("bad"), config={"retention.ms": "3600000"})
    before = {k: (e.value, e.source) for k, e in describe_topic(topic).items()}
    check_refused(alter_topic(topic, [(key, op, value)]), INVALID_CONFIG, key)
    assert {k: (e.value, e.source) for k, e in describe_topic(topic).items()} == before


def test_incremental_alter_topic_one_bad_op_refuses_all():
    """The operations on one resource are applied together or not at all: a valid SET next to an
    invalid one is not applied."""
    topic = create_topic(uniq("atomic"))
    err = alter_topic(topic, [("segment.bytes", SET, "2097152"), ("retention.ms", SET, "soon"),
                              ("cleanup.policy", APPEND, "compact")])
    check_refused(err, INVALID_CONFIG, "retention.ms")
    cfg = describe_topic(topic)
    assert values(cfg, ["segment.bytes", "retention.ms", "cleanup.policy"]) == {
        "segment.bytes": SEGMENT_BYTES_DEFAULT, "retention.ms": RETENTION_MS_DEFAULT, "cleanup.policy": "delete"}


def test_incremental_alter_unknown_topic():
    err = alter_topic(uniq("ghost"), [("retention.ms", SET, "1000")])
    assert err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, err


def test_incremental_alter_several_resources():
    """Two topics in one request, one of them refused: each resource gets its own answer."""
    good, bad = create_topic(uniq("multi-good")), create_topic(uniq("multi-bad"))
    rg = ConfigResource(ResourceType.TOPIC, good, incremental_configs=[ConfigEntry("retention.ms", "7200000", incremental_operation=SET)])
    rb = ConfigResource(ResourceType.TOPIC, bad, incremental_configs=[ConfigEntry("retention.ms", "x", incremental_operation=SET)])
    futs = admin().incremental_alter_configs([rg, rb], request_timeout=TIMEOUT)
    assert futs[rg].result(TIMEOUT) is None
    with pytest.raises(KafkaException) as e:
        futs[rb].result(TIMEOUT)
    check_refused(e.value.args[0], INVALID_CONFIG, "retention.ms")
    assert describe_topic(good)["retention.ms"].value == "7200000"
    assert describe_topic(bad)["retention.ms"].value == RETENTION_MS_DEFAULT


# ------------------------------------------------------------------------------------------------
# AlterConfigs, the legacy API: the given configs replace the resource's overrides


def test_legacy_alter_configs_kafka_python(kadmin):
    """kafka-python's KafkaAdminClient.alter_configs (AlterConfigs v1): the configs sent become the
    topic's whole set of overrides, the ones not named go back to their defaults; an invalid value
    refuses the resource (INVALID_CONFIG, message naming the key) and changes nothing; an unknown
    topic is UNKNOWN_TOPIC_OR_PARTITION; an empty set removes every override."""
    topic = create_topic(uniq("legacy-kp"), config={"retention.ms": "3600000", "segment.bytes": "2097152"})

    def alter_legacy(configs, name=topic):
        resp = kadmin.alter_configs([KConfigResource(KConfigResourceType.TOPIC, name, configs=configs)])
        ((code, message, rtype, rname),) = resp.resources
        assert (rtype, rname) == (KConfigResourceType.TOPIC.value, name)
        return code, message

    code, message = alter_legacy({"cleanup.policy": "compact", "max.message.bytes": "2000000"})
    assert code == 0, (code, message)
    cfg = describe_topic(topic)
    assert values(cfg, KEYS) == {"retention.ms": RETENTION_MS_DEFAULT, "segment.bytes": SEGMENT_BYTES_DEFAULT,
                                 "cleanup.policy": "compact", "max.message.bytes": "2000000"}
    assert sorted(k for k, e in cfg.items() if e.source == DYNAMIC_TOPIC) == ["cleanup.policy", "max.message.bytes"]

    code, message = alter_legacy({"cleanup.policy": "compact", "retention.ms": "abc"})
    assert code == INVALID_CONFIG and "retention.ms" in message, (code, message)
    assert sorted(k for k, e in describe_topic(topic).items() if e.source == DYNAMIC_TOPIC) == ["cleanup.policy", "max.message.bytes"]

    code, message = alter_legacy({"no.such.config": "1"})
    assert code == INVALID_CONFIG and "no.such.config" in message, (code, message)

    code, _ = alter_legacy({"retention.ms": "1000"}, name=uniq("ghost"))
    assert code == KafkaError.UNKNOWN_TOPIC_OR_PART

    assert alter_legacy({})[0] == 0
    assert [k for k, e in describe_topic(topic).items() if e.source != DEFAULT] == []


def test_legacy_alter_configs_confluent():
    """confluent-kafka's (deprecated) AdminClient.alter_configs: the same replace semantics."""
    topic = create_topic(uniq("legacy-ck"), config={"retention.ms": "3600000", "segment.bytes": "2097152"})
    res = ConfigResource(ResourceType.TOPIC, topic, set_config={"segment.bytes": "4194304", "min.insync.replicas": "1"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "use incremental_alter_configs instead"
        futs = admin().alter_configs([res], request_timeout=TIMEOUT)
    assert futs[res].result(TIMEOUT) is None
    cfg = describe_topic(topic)
    assert {k: e.value for k, e in cfg.items() if e.source == DYNAMIC_TOPIC} == {"segment.bytes": "4194304",
                                                                                "min.insync.replicas": "1"}
    assert cfg["retention.ms"].value == RETENTION_MS_DEFAULT


# ------------------------------------------------------------------------------------------------
# dynamic broker configs (broker "1" and the cluster default ""): shared broker, always undone


BROKER_RETENTION = "123456789"  # ~34 h: shorter than Kafka's 7 days, longer than any test's records
DEFAULT_RETENTION = "234567890"  # ~65 h


def alter_broker(name, ops):
    return alter(ResourceType.BROKER, name, ops)


def legacy_alter_cluster_default(kadmin, configs):
    """kafka-python's legacy alter_configs on the cluster-default broker resource "" (librdkafka
    refuses an empty resource name): replaces every cluster-wide default."""
    resp = kadmin.alter_configs([KConfigResource(KConfigResourceType.BROKER, "", configs=configs)])
    ((code, message, _, rname),) = resp.resources
    assert rname == ""
    return code, message


def describe_cluster_default(kadmin):
    """DescribeConfigs v1 of the broker resource "" (kafka-python's describe_configs insists on an
    integer broker id): only the dynamic cluster-wide defaults."""
    resp = kadmin.send_request(DescribeConfigsRequest[1](resources=[(KConfigResourceType.BROKER.value, "", None)],
                                                        include_synonyms=True))
    ((code, message, _, _, entries),) = resp.resources
    assert code == 0, (code, message)
    return {n: (v, ro, src, [tuple(s) for s in syns]) for n, v, ro, src, _, syns in entries}


def test_broker_dynamic_log_retention_ms(kadmin):
    """log.retention.ms set on broker "1" with IncrementalAlterConfigs: DYNAMIC_BROKER_CONFIG on the
    broker; topics without their own retention.ms (created before or after) report it as
    DYNAMIC_BROKER_CONFIG with synonyms log.retention.ms, log.retention.hours; a topic override still
    wins. Deleted again: every topic is back to Kafka's default."""
    old = create_topic(uniq("dyn-before"))
    own = create_topic(uniq("dyn-own"), config={"retention.ms": "3600000"})
    topics = [old]
    try:
        assert alter_broker("1", [("log.retention.ms", SET, BROKER_RETENTION)]) is None
        b = kp_describe(kadmin, KConfigResourceType.BROKER, "1", keys=["log.retention.ms", "log.retention.hours"])
        assert b["log.retention.ms"][:4] == (BROKER_RETENTION, False, DYNAMIC_BROKER, False), b["log.retention.ms"]
        # (Kafka adds ("log.retention.hours", "168", DEFAULT): test_config_synonyms_as_kafka)
        assert b["log.retention.ms"][4][0] == ("log.retention.ms", BROKER_RETENTION, DYNAMIC_BROKER), b["log.retention.ms"]
        assert b["log.retention.hours"][:3] == ("168", True, DEFAULT)
        e = describe(ResourceType.BROKER, "1")["log.retention.ms"]
        assert (e.value, e.source, e.is_read_only, e.is_default) == (BROKER_RETENTION, DYNAMIC_BROKER, False, False)

        topics.append(create_topic(uniq("dyn-after")))
        want = (BROKER_RETENTION, DYNAMIC_BROKER, [("log.retention.ms", BROKER_RETENTION, DYNAMIC_BROKER),
                                                   ("log.retention.hours", "168", DEFAULT)])
        for topic in topics:
            e = describe_topic(topic)["retention.ms"]
            assert (e.value, e.source, syn(e)) == want, (topic, e.value, e.source, syn(e))
            assert not e.is_default
            kp = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, keys=["retention.ms"])
            assert (kp["retention.ms"][0], kp["retention.ms"][2], kp["retention.ms"][4]) == want
        e = describe_topic(own)["retention.ms"]
        assert (e.value, e.source, syn(e)) == ("3600000", DYNAMIC_TOPIC, [
            ("retention.ms", "3600000", DYNAMIC_TOPIC), ("log.retention.ms", BROKER_RETENTION, DYNAMIC_BROKER),
            ("log.retention.hours", "168", DEFAULT)])
    finally:
        err = alter_broker("1", [("log.retention.ms", DELETE, None)])
        assert err is None, f"could not remove log.retention.ms from broker 1: {err}"
    # gone from the broker (described with value null, as Kafka does)
    entry = kp_describe(kadmin, KConfigResourceType.BROKER, "1", keys=["log.retention.ms"]).get("log.retention.ms")
    assert entry is None or entry[:3] == (None, False, DEFAULT), entry
    for topic in topics:
        e = describe_topic(topic)["retention.ms"]
        # as Kafka: log.retention.hours alone is dropped from retention.ms's synonyms
        assert (e.value, e.source, syn(e)) == (RETENTION_MS_DEFAULT, DEFAULT, [])


def test_broker_dynamic_cluster_default(kadmin):
    """log.retention.ms as a cluster-wide default (resource "", legacy AlterConfigs through
    kafka-python): DYNAMIC_DEFAULT_BROKER_CONFIG on broker "1" and on topics; a per-broker value
    set on top of it wins and both appear among the synonyms, most specific first; the resource ""
    describes only the dynamic defaults, each with only its own level as synonym. Both removed at
    the end."""
    topic = create_topic(uniq("dyn-default"))
    try:
        code, message = legacy_alter_cluster_default(kadmin, {"log.retention.ms": DEFAULT_RETENTION})
        assert code == 0, (code, message)
        # the cluster-default resource lists only its own level among the synonyms, as Kafka does
        assert describe_cluster_default(kadmin) == {
            "log.retention.ms": (DEFAULT_RETENTION, False, DYNAMIC_DEFAULT,
                                 [("log.retention.ms", DEFAULT_RETENTION, DYNAMIC_DEFAULT)])}
        b = kp_describe(kadmin, KConfigResourceType.BROKER, "1", keys=["log.retention.ms"])
        assert b["log.retention.ms"][:3] == (DEFAULT_RETENTION, False, DYNAMIC_DEFAULT)
        t = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, keys=["retention.ms"])["retention.ms"]
        assert (t[0], t[2], t[4]) == (DEFAULT_RETENTION, DYNAMIC_DEFAULT, [
            ("log.retention.ms", DEFAULT_RETENTION, DYNAMIC_DEFAULT), ("log.retention.hours", "168", DEFAULT)])

        # per-broker on top of the cluster default
        assert alter_broker("1", [("log.retention.ms", SET, BROKER_RETENTION)]) is None
        b = kp_describe(kadmin, KConfigResourceType.BROKER, "1", keys=["log.retention.ms"])
        assert b["log.retention.ms"][:4] == (BROKER_RETENTION, False, DYNAMIC_BROKER, False)
        assert b["log.retention.ms"][4][:2] == [
            ("log.retention.ms", BROKER_RETENTION, DYNAMIC_BROKER), ("log.retention.ms", DEFAULT_RETENTION, DYNAMIC_DEFAULT)]
        t = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, keys=["retention.ms"])["retention.ms"]
        assert (t[0], t[2], t[4]) == (BROKER_RETENTION, DYNAMIC_BROKER, [
            ("log.retention.ms", BROKER_RETENTION, DYNAMIC_BROKER), ("log.retention.ms", DEFAULT_RETENTION, DYNAMIC_DEFAULT),
            ("log.retention.hours", "168", DEFAULT)])
        assert alter_broker("1", [("log.retention.ms", DELETE, None)]) is None
        t = kp_describe(kadmin, KConfigResourceType.TOPIC, topic, keys=["retention.ms"])["retention.ms"]
        assert (t[0], t[2]) == (DEFAULT_RETENTION, DYNAMIC_DEFAULT)
    finally:
        alter_broker("1", [("log.retention.ms", DELETE, None)])
        code, message = legacy_alter_cluster_default(kadmin, {})
        assert code == 0, (code, message)
    assert describe_cluster_default(kadmin) == {}
    e = describe_topic(topic)["retention.ms"]
    assert (e.value, e.source) == (RETENTION_MS_DEFAULT, DEFAULT)


@pytest.mark.parametrize("key,value", [("node.id", "7"), ("num.partitions", "3"), ("log.dirs", "/tmp/elsewhere"),
                                       ("log.retention.ms", "abc")])
def test_broker_config_refused(kadmin, key, value):
    """Keys that cannot change at runtime (node.id, num.partitions, log.dirs) and a bad value of a
    dynamic key are refused on broker "1" with INVALID_REQUEST (42), as Kafka answers, with a
    message naming the key, and nothing changes."""
    before = kp_describe(kadmin, KConfigResourceType.BROKER, "1")
    err = alter_broker("1", [(key, SET, value)])
    assert err is not None, f"{key}={value} accepted on broker 1"
    assert err.code() == INVALID_REQUEST, f"{key}: {err.code()} {err.name()} {err.str()}"
    assert key in err.str(), f"error message {err.str()!r} does not name {key}"
    assert kp_describe(kadmin, KConfigResourceType.BROKER, "1") == before


@pytest.mark.parametrize("key,value", [("sasl.kerberos.min.time.before.relogin", "1000"),
                                       ("num.io.threads", "4"), ("some.plugin.setting", "x")])
def test_broker_config_kafka_accepts_is_stored(kadmin, key, value):
    """A broker config Kafka accepts at runtime, even one Tributary does not act on or a name Kafka
    does not know, is accepted and stored, described with its source, and removed again."""
    assert alter_broker("1", [(key, SET, value)]) is None
    try:
        described = kp_describe(kadmin, KConfigResourceType.BROKER, "1")
        assert key in described, f"{key} not described after it was set"
    finally:
        assert alter_broker("1", [(key, DELETE, None)]) is None
    assert key not in kp_describe(kadmin, KConfigResourceType.BROKER, "1")


# ------------------------------------------------------------------------------------------------
# DeleteRecords


def hundred_records(topic, codec="gzip"):
    """100 keyed records in batches of 10 (compressed), offsets 0..99."""
    recs = [dict(key=f"k{i}".encode(), value=f"value {i} ".encode() * 5, headers=[("i", str(i).encode())])
            for i in range(100)]
    produce_confluent(topic, recs, codec, batch=10)
    assert [r["offset"] for r in recs] == list(range(100))
    return recs


def delete_records(topic, offset, partition=0):
    """confluent-kafka delete_records; returns the new low watermark or the KafkaError."""
    tp = TopicPartition(topic, partition, offset)
    fut = admin().delete_records([tp], request_timeout=TIMEOUT, operation_timeout=TIMEOUT)
    ((_, f),) = fut.items()
    try:
        return f.result(TIMEOUT).low_watermark
    except KafkaException as e:
        return e.args[0]


def test_confluent_version_has_delete_records():
    assert tuple(int(x) for x in confluent_kafka.version().split(".")[:2]) >= (2, 4), confluent_kafka.version()


def test_delete_records():
    """100 records in gzip batches of 10: DeleteRecords up to offset 35 (inside a batch) moves the low
    watermark to 35 exactly (ListOffsets earliest too); consumers of both clients positioned at 0
    with auto.offset.reset=earliest restart at 35 and read 35..99 intact; an offset below the log
    start changes nothing and answers the current one; beyond the high watermark is
    OFFSET_OUT_OF_RANGE (1) and changes nothing; OFFSET_END (-1) deletes up to the high watermark;
    the next record lands at offset 100."""
    topic = create_topic(uniq("delrec"))
    recs = hundred_records(topic)
    assert watermarks(topic) == (0, 100)

    assert delete_records(topic, 35) == 35
    assert watermarks(topic) == (35, 100)
    want = [(i, r["key"], r["value"], r["headers"]) for i, r in enumerate(recs)][35:]
    got = read_confluent(topic, start=0)
    assert got == want, f"confluent from 0: offsets {[g[0] for g in got][:5]}..."
    got = read_kafka_python(topic, start=0)
    assert got == want, f"kafka-python from 0: offsets {[g[0] for g in got][:5]}..."
    assert read_confluent(topic) == want  # from the beginning

    assert delete_records(topic, 20) == 35, "an offset below the log start answers the current start"
    err = delete_records(topic, 101)
    assert isinstance(err, KafkaError) and err.code() == KafkaError.OFFSET_OUT_OF_RANGE, err
    assert watermarks(topic) == (35, 100)
    assert delete_records(topic, 100) == 100  # up to the high watermark itself: allowed
    assert watermarks(topic) == (100, 100)
    assert read_confluent(topic, start=0, until=100, timeout=1) == []

    more = [dict(key=b"after", value=b"v", headers=[])]
    produce_confluent(topic, more)
    assert more[0]["offset"] == 100
    assert [g[0] for g in read_kafka_python(topic, start=0)] == [100]
    assert delete_records(topic, OFFSET_END) == 101
    assert watermarks(topic) == (101, 101)


def test_delete_records_kafka_python(kadmin):
    """kafka-python's KafkaAdminClient.delete_records over two partitions; beyond the high watermark
    it raises OffsetOutOfRangeError."""
    from kafka.errors import OffsetOutOfRangeError

    topic = create_topic(uniq("delrec-kp"), partitions=2)
    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": False, "linger.ms": 5})
    for i in range(60):
        p.produce(topic, partition=i % 2, value=b"v%d" % i)
    assert p.flush(TIMEOUT) == 0
    res = kadmin.delete_records({KTopicPartition(topic, 0): 10, KTopicPartition(topic, 1): 30})
    assert {tp.partition: (r["low_watermark"], r["error_code"]) for tp, r in res.items()} == {0: (10, 0), 1: (30, 0)}
    assert watermarks(topic, 0) == (10, 30) and watermarks(topic, 1) == (30, 30)
    with pytest.raises(OffsetOutOfRangeError):
        kadmin.delete_records({KTopicPartition(topic, 0): 31})
    assert watermarks(topic, 0) == (10, 30)


def test_delete_records_errors(kadmin):
    """A compact-only topic: POLICY_VIOLATION (44); compact,delete is allowed. Raw DeleteRecords v0
    (librdkafka and kafka-python look partitions up first and never send these): an unknown
    partition and an unknown topic UNKNOWN_TOPIC_OR_PARTITION (3), __consumer_offsets
    INVALID_TOPIC_EXCEPTION (17), low watermark -1 for each."""
    compact = create_topic(uniq("delrec-compact"), config={"cleanup.policy": "compact"})
    produce_confluent(compact, [dict(key=b"k%d" % i, value=b"v") for i in range(10)])
    err = delete_records(compact, 5)
    assert isinstance(err, KafkaError) and err.code() == POLICY_VIOLATION, err
    assert watermarks(compact) == (0, 10)
    both = create_topic(uniq("delrec-both"), config={"cleanup.policy": "compact,delete"})
    produce_confluent(both, [dict(key=b"k%d" % i, value=b"v") for i in range(10)])
    assert delete_records(both, 5) == 5

    topic = create_topic(uniq("delrec-raw"))
    produce_confluent(topic, [dict(key=None, value=b"v") for _ in range(5)])
    ghost = uniq("ghost")
    req = DeleteRecordsRequest[0](topics=[(topic, [(0, 2), (7, 1)]), (ghost, [(0, 1)]), ("__consumer_offsets", [(0, 0)])],
                                  timeout_ms=5000)
    resp = kadmin.send_request(req)
    got = {name: sorted(tuple(p) for p in parts) for name, parts in resp.topics}
    assert got == {
        topic: [(0, 2, 0), (7, -1, KafkaError.UNKNOWN_TOPIC_OR_PART)],
        ghost: [(0, -1, KafkaError.UNKNOWN_TOPIC_OR_PART)],
        "__consumer_offsets": [(0, -1, KafkaError.TOPIC_EXCEPTION)],
    }, resp


# ------------------------------------------------------------------------------------------------
# retention (topic configs; the broker checks every log.retention.check.interval.ms)


def retention_check_interval_ms():
    return int(describe(ResourceType.BROKER, "1")["log.retention.check.interval.ms"].value)


@pytest.fixture
def fast_retention_checks():
    interval = retention_check_interval_ms()
    if interval > 5000:
        pytest.skip(f"the broker checks retention every {interval} ms; run.sh starts it with "
                    "-o log.retention.check.interval.ms=500")


def wait_for_low_watermark(topic, done, wait):
    deadline = time.time() + wait
    seen = []
    while True:
        lo, hi = watermarks(topic)
        if not seen or seen[-1] != (lo, hi):
            seen.append((lo, hi))
        if done(lo, hi) or time.time() > deadline:
            return lo, hi, seen
        time.sleep(0.25)


def test_retention_ms(fast_retention_checks):
    """segment.bytes=2048, retention.ms=1000: 300 records in many small segments are all deleted
    (the active segment too, as Kafka does once its newest record is past retention.ms): the low
    watermark reaches the end offset; nothing is left to read; the next record lands at offset 300
    and is read back."""
    topic = create_topic(uniq("retention-ms"), config={"internal.segment.bytes": "2048", "retention.ms": "1000"})
    recs = [dict(key=f"k{i}".encode(), value=f"value {i} ".encode() * 4) for i in range(300)]
    produce_confluent(topic, recs, batch=20)
    assert recs[-1]["offset"] == 299
    lo, hi, seen = wait_for_low_watermark(topic, lambda lo, hi: lo == hi, RETENTION_WAIT)
    assert (lo, hi) == (300, 300), f"after {RETENTION_WAIT}s: watermarks (low, high) went {seen}"
    assert read_confluent(topic, until=300, timeout=1) == []
    more = [dict(key=b"new", value=b"after retention", headers=[("h", b"1")])]
    produce_confluent(topic, more)
    assert more[0]["offset"] == 300
    assert read_confluent(topic) == [(300, b"new", b"after retention", [("h", b"1")])]
    assert read_kafka_python(topic) == [(300, b"new", b"after retention", [("h", b"1")])]


def test_retention_bytes(fast_retention_checks):
    """segment.bytes=2048, retention.bytes=4096: old segments go until the partition is about
    retention.bytes; the newest records stay and are read back intact from the new start."""
    topic = create_topic(uniq("retention-bytes"), config={"internal.segment.bytes": "2048", "retention.bytes": "4096"})
    recs = [dict(key=f"k{i}".encode(), value=f"value {i} ".encode() * 4, headers=[]) for i in range(300)]
    produce_confluent(topic, recs, batch=20)
    lo, hi, seen = wait_for_low_watermark(topic, lambda lo, hi: lo >= 200, RETENTION_WAIT)
    assert 200 <= lo < hi == 300, f"after {RETENTION_WAIT}s: watermarks (low, high) went {seen}"
    time.sleep(1.5)  # a few more checks: nothing more goes once the partition is under retention.bytes
    lo2, hi2 = watermarks(topic)
    assert hi2 == 300 and lo2 < 300, (lo2, hi2)
    want = [(i, r["key"], r["value"], r["headers"]) for i, r in enumerate(recs)][lo2:]
    assert read_confluent(topic) == want
    assert read_kafka_python(topic, start=0) == want


# ------------------------------------------------------------------------------------------------
# compaction


COMPACT_CONFIG = {"cleanup.policy": "compact", "internal.segment.bytes": "4096", "min.cleanable.dirty.ratio": "0.01",
                  "delete.retention.ms": "0"}
# (client, codec) of each round of writes
COMPACT_ROUNDS = [("kafka-python", "gzip"), ("confluent", "lz4"), ("kafka-python", "none"), ("confluent", "zstd"),
                  ("kafka-python", "snappy"), ("confluent", "none")]
COMPACT_KEYS = 30


def compaction_writes(topic):
    """Each round writes every key once (in order); from the second round on, some keys get a
    tombstone instead (different ones each round, so some keys come back after a tombstone and
    some end on one). Returns every write with its offset, in offset order."""
    writes = []
    for rnd, (client, codec) in enumerate(COMPACT_ROUNDS):
        recs = []
        for i in range(COMPACT_KEYS):
            key = f"key-{i:02d}".encode()
            tomb = rnd > 0 and (i + rnd) % 7 == 0
            value = None if tomb else f"{key.decode()} round {rnd} by {client}/{codec} ".encode() + b"#" * 40
            recs.append(dict(key=key, value=value, headers=[("round", str(rnd).encode()), ("client", client.encode())]))
        (produce_kafka_python if client == "kafka-python" else produce_confluent)(topic, recs, codec)
        writes += recs
    assert [w["offset"] for w in writes] == list(range(len(writes)))
    return writes


def test_compaction():
    """cleanup.policy=compact, segment.bytes=4096, min.cleanable.dirty.ratio=0.01,
    delete.retention.ms=0: six rounds of keyed writes with tombstones (kafka-python gzip, none,
    snappy; confluent lz4, zstd, none), then a record larger than a segment, which rolls the segment
    so that all the keyed records are in cleanable segments. Within COMPACTION_WAIT seconds a full
    read shows every key at most once and no tombstone (delete.retention.ms=0: they go in the
    cleaner's next pass, KIP-534); then: each surviving record is the key's latest write at that
    write's offset, with its headers; keys whose latest write is a tombstone are gone; offsets
    increase; the high watermark is unchanged; kafka-python reads the same."""
    topic = create_topic(uniq("compact"), config=COMPACT_CONFIG)
    writes = compaction_writes(topic)
    big = [dict(key=b"big", value=os.urandom(6000), headers=[])]
    produce_confluent(topic, big)
    end = big[0]["offset"] + 1
    assert end == len(writes) + 1

    latest = {}
    for w in writes + big:
        latest[w["key"]] = w
    want = sorted(((w["offset"], w["key"], w["value"], w["headers"]) for w in latest.values() if w["value"] is not None))

    deadline = time.time() + COMPACTION_WAIT
    history = []
    while True:
        got = read_confluent(topic)
        keys = [k for _, k, _, _ in got]
        tombstones = sum(1 for _, _, v, _ in got if v is None)
        history.append((len(got), len(set(keys)), tombstones))
        if (len(keys) == len(set(keys)) and tombstones == 0) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert len(keys) == len(set(keys)), f"after {COMPACTION_WAIT}s still duplicate keys; (records, keys, tombstones) {history}"
    assert tombstones == 0, f"after {COMPACTION_WAIT}s still tombstones; (records, keys, tombstones) {history}"
    offsets = [o for o, _, _, _ in got]
    assert offsets == sorted(set(offsets)), offsets
    assert got == want, "the compacted log is not the latest write of every key at its offset"
    state = {}
    for _, k, v, _ in got:
        state[k] = v
    assert state == {k: w["value"] for k, w in latest.items() if w["value"] is not None}
    assert watermarks(topic) == (0, end)
    assert read_kafka_python(topic) == want


def test_compaction_refuses_records_without_key():
    """A compacted topic refuses a record without key with INVALID_RECORD (87), through both clients;
    nothing is written."""
    from kafka.errors import InvalidRecordError

    topic = create_topic(uniq("compact-nokey"), config=COMPACT_CONFIG)
    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": False, "retries": 0, "linger.ms": 0,
                  "message.timeout.ms": TIMEOUT * 1000})
    errs = []
    p.produce(topic, partition=0, value=b"no key", on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(TIMEOUT) == 0
    assert len(errs) == 1 and errs[0] is not None and errs[0].code() == INVALID_RECORD, errs
    kp = KafkaProducer(bootstrap_servers=BOOT, retries=0, request_timeout_ms=5000, max_block_ms=TIMEOUT * 1000,
                       enable_idempotence=False, compression_type="gzip")
    try:
        with pytest.raises(InvalidRecordError):
            kp.send(topic, partition=0, value=b"no key").get(timeout=TIMEOUT)
    finally:
        kp.close(timeout=5)
    assert watermarks(topic) == (0, 0)
    recs = [dict(key=b"k", value=b"keyed")]
    produce_confluent(topic, recs)
    assert recs[0]["offset"] == 0
