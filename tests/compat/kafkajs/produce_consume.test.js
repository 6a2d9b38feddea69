// kafkajs 2.x against a running Tributary broker. Run with `node --test` (tests/compat/run.sh does).
//
//   COMPAT_BOOTSTRAP  127.0.0.1:PORT of the broker (required)
//   COMPAT_NODE       folder whose node_modules holds kafkajs (default $HOME/.cache/tributary/node)
//   TRIBUTARY_BIN     the tributary binary, used to read records back (`tributary consume`)
//   PYTHON            python3 for tests/compat/murmur2.py (default python3)
//
// Covered: the producer (no idempotence: the broker has no InitProducerId yet) sending keyed
// records with headers to a multi-partition topic, uncompressed and GZIP (the only codec kafkajs
// has built in), sendBatch over two topics, acks=0, and the admin client: createTopics (also
// validateOnly), fetchTopicMetadata, createPartitions, describeConfigs, describeCluster,
// fetchTopicOffsets, fetchTopicOffsetsByTimestamp, deleteTopics.
//
// NOT covered yet: the kafkajs consumer. A kafkajs consumer always joins a consumer group
// (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit), which the broker does not
// serve yet. kafkajs consume-side tests come with the consumer group issue; until then what kafkajs
// produced is read back with the tributary CLI (`tributary consume --format json`, librdkafka).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');

const NODE_DIR = process.env.COMPAT_NODE || path.join(os.homedir(), '.cache', 'tributary', 'node');
const { Kafka, CompressionTypes, Partitioners, ConfigResourceTypes, logLevel } = require(
  require.resolve('kafkajs', { paths: [NODE_DIR, __dirname] }),
);

const BOOT = process.env.COMPAT_BOOTSTRAP;
if (!BOOT) throw new Error('COMPAT_BOOTSTRAP (127.0.0.1:PORT) is not set');
const [HOST, PORT] = [BOOT.split(':')[0], Number(BOOT.split(':')[1])];
const TRIBUTARY_BIN = process.env.TRIBUTARY_BIN || 'tributary';
const PYTHON = process.env.PYTHON || 'python3';
const MURMUR2 = path.join(__dirname, '..', 'murmur2.py');

const uniq = (what) => `compat-js-${what}-${crypto.randomBytes(5).toString('hex')}`;

const kafka = new Kafka({
  clientId: 'tributary-compat-kafkajs',
  brokers: [BOOT],
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  logLevel: logLevel.WARN,
});

let admin;
let producer;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({
    idempotent: false,
    allowAutoTopicCreation: false,
    // kafkajs 2.x DefaultPartitioner: murmur2 as the Java client computes it
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
});

after(async () => {
  if (producer) await producer.disconnect();
  if (admin) await admin.disconnect();
});

/** Reads a whole topic back with `tributary consume --format json` (librdkafka underneath). */
function readBack(topic) {
  const r = spawnSync(
    TRIBUTARY_BIN,
    ['consume', topic, '--from-beginning', '-e', '--format', 'json', '-b', BOOT, '--timeout-ms', '5000'],
    { encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(r.status, 0, `tributary consume failed (${r.status}, ${r.signal}): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** partition = toPositive(murmur2(key)) % n, from tests/compat/murmur2.py (self-tested there). */
function murmur2Partitions(keys, n) {
  const r = spawnSync(PYTHON, [MURMUR2, String(n), ...keys], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `murmur2.py failed: ${r.stderr}`);
  const out = new Map();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [k, p] = line.split('\t');
    out.set(k, Number(p));
  }
  return out;
}

async function createTopic(topic, numPartitions, extra = {}) {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions, replicationFactor: 1, ...extra }],
    waitForLeaders: true,
    timeout: 5000,
  });
  assert.equal(created, true, `createTopics(${topic}) returned ${created}`);
}

/** Checks the read-back records: each once, contiguous offsets from 0 per partition, in order. */
function checkOffsets(records) {
  const byPart = new Map();
  for (const r of records) {
    if (!byPart.has(r.partition)) byPart.set(r.partition, []);
    byPart.get(r.partition).push(r.offset);
  }
  for (const [p, offs] of byPart) {
    assert.deepEqual(offs, offs.map((_, i) => i), `partition ${p}: offsets ${offs}`);
  }
}

test('produce keyed records with headers, uncompressed and GZIP, read back; murmur2 placement', async () => {
  const topic = uniq('keyed');
  const NPART = 4;
  await createTopic(topic, NPART);
  const base = Date.now() - 60000;
  const mk = (tag, i) => ({
    key: `${tag}-key-${i}`,
    value: `${tag} value ${i} ` + 'lorem ipsum dolor sit amet '.repeat(6),
    headers: { idx: String(i), tag, multi: ['x', 'y'] },
    timestamp: String(base + i),
  });
  const plain = Array.from({ length: 25 }, (_, i) => mk('plain', i));
  const gzip = Array.from({ length: 25 }, (_, i) => mk('gzip', i));

  const all = [...plain, ...gzip];
  const want = murmur2Partitions(all.map((m) => m.key), NPART);
  const acked = new Map(); // key -> {partition, offset}
  for (const [messages, compression] of [
    [plain, CompressionTypes.None],
    [gzip, CompressionTypes.GZIP],
  ]) {
    const md = await producer.send({ topic, acks: -1, timeout: 5000, compression, messages });
    // One RecordMetadata per partition written: baseOffset of that partition's batch.
    const perPart = new Map();
    for (const m of messages) {
      const p = want.get(m.key);
      if (!perPart.has(p)) perPart.set(p, []);
      perPart.get(p).push(m.key);
    }
    for (const r of md) {
      assert.equal(r.topicName, topic);
      assert.equal(r.errorCode, 0, JSON.stringify(r));
      const keys = perPart.get(r.partition) || [];
      assert.ok(keys.length > 0, `kafkajs wrote to partition ${r.partition}, murmur2 sends none there`);
      keys.forEach((k, i) => acked.set(k, { partition: r.partition, offset: Number(r.baseOffset) + i }));
    }
    assert.equal(md.length, perPart.size, `RecordMetadata ${JSON.stringify(md)}`);
  }

  const got = readBack(topic);
  assert.equal(got.length, all.length, `read ${got.length} records, sent ${all.length}`);
  checkOffsets(got);
  const byKey = new Map(got.map((r) => [r.key, r]));
  assert.equal(byKey.size, all.length, 'duplicate keys read back');
  for (const m of all) {
    const r = byKey.get(m.key);
    assert.ok(r, `record ${m.key} not read back`);
    assert.equal(r.value, m.value);
    assert.equal(r.timestamp, Number(m.timestamp), `timestamp of ${m.key}`);
    assert.deepEqual(r.headers, [
      { key: 'idx', value: m.headers.idx },
      { key: 'tag', value: m.headers.tag },
      { key: 'multi', value: 'x' },
      { key: 'multi', value: 'y' },
    ]);
    assert.equal(r.partition, want.get(m.key), `key ${m.key}: partition ${r.partition}, murmur2 says ${want.get(m.key)}`);
    assert.deepEqual({ partition: r.partition, offset: r.offset }, acked.get(m.key), `offset of ${m.key}`);
  }

  // fetchTopicOffsets: low 0, high = records per partition
  const counts = new Map();
  for (const r of got) counts.set(r.partition, (counts.get(r.partition) || 0) + 1);
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.deepEqual(
    offsets.map((o) => [o.partition, o.low, o.high, o.offset]).sort((a, b) => a[0] - b[0]),
    [...Array(NPART).keys()].map((p) => [p, '0', String(counts.get(p) || 0), String(counts.get(p) || 0)]),
  );
});

test('sendBatch to two topics, null key, tombstone', async () => {
  const [t1, t2] = [uniq('batch1'), uniq('batch2')];
  await createTopic(t1, 1);
  await createTopic(t2, 2);
  const md = await producer.sendBatch({
    acks: -1,
    timeout: 5000,
    compression: CompressionTypes.GZIP,
    topicMessages: [
      { topic: t1, messages: [{ value: 'no key' }, { key: 'tomb', value: null }, { key: 'k', value: 'v' }] },
      { topic: t2, messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '3' }] },
    ],
  });
  assert.ok(md.every((r) => r.errorCode === 0), JSON.stringify(md));
  const r1 = readBack(t1);
  assert.deepEqual(
    r1.map((r) => [r.offset, r.key, r.value]),
    [
      [0, null, 'no key'],
      [1, 'tomb', null],
      [2, 'k', 'v'],
    ],
  );
  const r2 = readBack(t2);
  checkOffsets(r2);
  const want = murmur2Partitions(['a', 'b', 'c'], 2);
  assert.deepEqual(
    r2.map((r) => [r.key, r.value, r.partition]).sort(),
    [
      ['a', '1', want.get('a')],
      ['b', '2', want.get('b')],
      ['c', '3', want.get('c')],
    ],
  );
});

test('acks=0: no response awaited, records still written', async () => {
  const topic = uniq('acks0');
  await createTopic(topic, 1);
  for (let i = 0; i < 3; i++) {
    await producer.send({ topic, acks: 0, messages: [{ key: 'k', value: `a0-${i}` }] });
  }
  // a produce with acks=1 after them on the same connection: answered in order, so by then the
  // three acks=0 ones are in the log
  await producer.send({ topic, acks: 1, messages: [{ key: 'k', value: 'last' }] });
  assert.deepEqual(
    readBack(topic).map((r) => [r.offset, r.value]),
    [
      [0, 'a0-0'],
      [1, 'a0-1'],
      [2, 'a0-2'],
      [3, 'last'],
    ],
  );
});

test('fetchTopicOffsetsByTimestamp', async () => {
  const topic = uniq('times');
  await createTopic(topic, 2);
  const t0 = Date.now() - 3600000;
  // partition 0: t0, t0+10, ... t0+90; partition 1: t0+1000 .. t0+1040
  await producer.send({
    topic,
    acks: -1,
    messages: [
      ...Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `p0-${i}`, timestamp: String(t0 + 10 * i) })),
      ...Array.from({ length: 5 }, (_, i) => ({ partition: 1, value: `p1-${i}`, timestamp: String(t0 + 1000 + 10 * i) })),
    ],
  });
  const at = async (ts) =>
    (await admin.fetchTopicOffsetsByTimestamp(topic, ts)).sort((a, b) => a.partition - b.partition).map((o) => o.offset);
  assert.deepEqual(await at(t0 - 5000), ['0', '0']);
  assert.deepEqual(await at(t0 + 25), ['3', '0']);
  assert.deepEqual(await at(t0 + 1015), ['10', '2']); // past the end of partition 0: its end offset
  assert.deepEqual(await at(t0 + 999999), ['10', '5']);
  // without a timestamp: the end offsets
  assert.deepEqual(await at(undefined), ['10', '5']);
});

test('admin: createTopics validateOnly, metadata, createPartitions, describeConfigs, describeCluster, deleteTopics', async () => {
  const topic = uniq('admin');

  // validateOnly: nothing is created
  // (waitForLeaders must be off: kafkajs would wait for the leaders of a topic that is not there)
  const validated = await admin.createTopics({
    validateOnly: true,
    waitForLeaders: false,
    topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    timeout: 5000,
  });
  assert.equal(validated, true);
  assert.ok(!(await admin.listTopics()).includes(topic), 'validateOnly created the topic');

  await createTopic(topic, 3, { configEntries: [{ name: 'retention.ms', value: '7200000' }] });
  assert.ok((await admin.listTopics()).includes(topic));
  // kafkajs answers false (not an error) when the topic already exists
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], timeout: 5000 }), false);

  let md = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(md.topics.length, 1);
  assert.equal(md.topics[0].name, topic);
  assert.deepEqual(
    md.topics[0].partitions
      .map((p) => [p.partitionId, p.partitionErrorCode, p.leader, p.replicas, p.isr])
      .sort((a, b) => a[0] - b[0]),
    [0, 1, 2].map((p) => [p, 0, 1, [1], [1]]),
  );

  await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }], timeout: 5000 });
  md = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.deepEqual(md.topics[0].partitions.map((p) => p.partitionId).sort(), [0, 1, 2, 3, 4]);

  const cfg = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
  });
  assert.equal(cfg.resources.length, 1);
  assert.equal(cfg.resources[0].errorCode, 0);
  const entries = new Map(cfg.resources[0].configEntries.map((e) => [e.configName, e]));
  assert.equal(entries.get('retention.ms').configValue, '7200000');
  assert.equal(entries.get('retention.ms').isDefault, false);
  assert.equal(entries.get('cleanup.policy').configValue, 'delete');
  // and only the names asked for
  const one = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
  });
  assert.deepEqual(one.resources[0].configEntries.map((e) => e.configName), ['retention.ms']);

  const cluster = await admin.describeCluster();
  assert.deepEqual(cluster.brokers.map((b) => [b.nodeId, b.host, b.port]), [[1, HOST, PORT]]);
  assert.equal(cluster.controller, 1);
  assert.ok(cluster.clusterId, 'no cluster id');

  await admin.deleteTopics({ topics: [topic], timeout: 5000 });
  assert.ok(!(await admin.listTopics()).includes(topic), 'topic still listed after deleteTopics');
  // deleting it again: UNKNOWN_TOPIC_OR_PARTITION (retriable for kafkajs, so it comes wrapped)
  await assert.rejects(admin.deleteTopics({ topics: [topic], timeout: 5000 }), (e) => {
    assert.equal((e.cause || e).type, 'UNKNOWN_TOPIC_OR_PARTITION', String(e));
    return true;
  });
});

test('admin: createTopics errors', async () => {
  await assert.rejects(
    admin.createTopics({ topics: [{ topic: uniq('rf'), numPartitions: 1, replicationFactor: 3 }], timeout: 5000 }),
    (e) => {
      const types = (e.errors || [e]).map((x) => x.type);
      assert.deepEqual(types, ['INVALID_REPLICATION_FACTOR'], String(e));
      return true;
    },
  );
});
