// kafkajs 2.x admin: configs and DeleteRecords against a running Tributary broker. Run with
// `node --test` (tests/compat/run.sh does).
//
//   COMPAT_BOOTSTRAP  127.0.0.1:PORT of the broker (required)
//   COMPAT_NODE       folder whose node_modules holds kafkajs (default $HOME/.cache/tributary/node)
//
// Covered: describeConfigs (DescribeConfigs v2) of a topic and of broker "1" with and without
// synonyms: values, sources, isDefault, readOnly, synonyms, configNames; alterConfigs (kafkajs only
// has the legacy AlterConfigs: the entries sent become the resource's whole set of overrides) on a
// topic, validateOnly, INVALID_CONFIG for bad values and unknown keys, UNKNOWN_TOPIC_OR_PARTITION,
// and on broker "1" (log.retention.ms as a dynamic broker config that topics inherit; removed again
// at the end, the broker is shared); deleteTopicRecords (DeleteRecords): low watermarks move, -1 means
// the high watermark, a consumer group from the beginning starts at the new start,
// OFFSET_OUT_OF_RANGE beyond the high watermark, POLICY_VIOLATION on a compact-only topic.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');

const NODE_DIR = process.env.COMPAT_NODE || path.join(os.homedir(), '.cache', 'tributary', 'node');
const { Kafka, Partitioners, ConfigResourceTypes, ConfigSource, logLevel } = require(
  require.resolve('kafkajs', { paths: [NODE_DIR, __dirname] }),
);

const BOOT = process.env.COMPAT_BOOTSTRAP;
if (!BOOT) throw new Error('COMPAT_BOOTSTRAP (127.0.0.1:PORT) is not set');

const uniq = (what) => `compat-js-cfg-${what}-${crypto.randomBytes(5).toString('hex')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// DescribeConfigs config_source ids
const TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DEFAULT_CONFIG = 5;
const RETENTION_MS_DEFAULT = '604800000';

const kafka = new Kafka({
  clientId: 'tributary-compat-kafkajs-configs',
  brokers: [BOOT],
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  logLevel: logLevel.ERROR, // deleteTopicRecords warns about offsets below the low watermark
});

let admin;
let producer;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({
    idempotent: false,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
});

after(async () => {
  if (producer) await producer.disconnect();
  if (admin) await admin.disconnect();
});

async function createTopic(topic, numPartitions, configEntries = []) {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }],
    waitForLeaders: true,
    timeout: 5000,
  });
  assert.equal(created, true, `createTopics(${topic}) returned ${created}`);
}

/** describeConfigs of one resource: Map name -> entry. */
async function describe(type, name, { includeSynonyms = true, configNames } = {}) {
  const res = await admin.describeConfigs({ includeSynonyms, resources: [{ type, name, configNames }] });
  assert.equal(res.resources.length, 1);
  const r = res.resources[0];
  assert.equal(r.errorCode, 0, JSON.stringify(r));
  assert.equal(r.resourceName, name);
  return new Map(r.configEntries.map((e) => [e.configName, e]));
}

const describeTopic = (topic, opts) => describe(ConfigResourceTypes.TOPIC, topic, opts);
const synonyms = (e) => e.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource]);
const overrides = (cfg) =>
  Object.fromEntries([...cfg.values()].filter((e) => e.configSource === TOPIC_CONFIG).map((e) => [e.configName, e.configValue]));

/** The kafkajs error a rejected promise carries (kafkajs wraps some in KafkaJSNumberOfRetriesExceeded). */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e.cause || e.originalError || e;
  }
  assert.fail('expected the request to be refused');
}

async function produce(topic, messages) {
  await producer.send({ topic, acks: -1, timeout: 5000, messages });
}

async function lowHigh(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.sort((a, b) => a.partition - b.partition).map((o) => [o.partition, o.low, o.high]);
}

test('describeConfigs: topic overrides and defaults, synonyms, configNames, broker 1, unknown topic', async () => {
  const topic = uniq('describe');
  await createTopic(topic, 1, [
    { name: 'retention.ms', value: '3600000' },
    { name: 'cleanup.policy', value: 'compact,delete' },
  ]);
  const cfg = await describeTopic(topic);
  for (const name of ['cleanup.policy', 'compression.type', 'delete.retention.ms', 'max.message.bytes',
    'min.cleanable.dirty.ratio', 'min.insync.replicas', 'retention.bytes', 'retention.ms', 'segment.bytes', 'segment.ms']) {
    assert.ok(cfg.has(name), `topic config ${name} not described`);
  }
  for (const e of cfg.values()) {
    assert.equal(e.readOnly, false, e.configName);
    assert.equal(e.isSensitive, false, e.configName);
    assert.equal(e.isDefault, e.configSource === DEFAULT_CONFIG, e.configName);
  }
  assert.deepEqual(overrides(cfg), { 'retention.ms': '3600000', 'cleanup.policy': 'compact,delete' });
  const policy = cfg.get('cleanup.policy');
  assert.deepEqual(synonyms(policy), [
    ['cleanup.policy', 'compact,delete', TOPIC_CONFIG],
    ['log.cleanup.policy', 'delete', DEFAULT_CONFIG],
  ]);
  assert.deepEqual(synonyms(cfg.get('retention.ms'))[0], ['retention.ms', '3600000', TOPIC_CONFIG]);
  const seg = cfg.get('segment.bytes');
  assert.deepEqual([seg.configValue, seg.configSource, seg.isDefault], ['1073741824', DEFAULT_CONFIG, true]);
  assert.deepEqual(synonyms(seg), [['log.segment.bytes', '1073741824', DEFAULT_CONFIG]]);

  // without synonyms (DescribeConfigs v1+ include_synonyms=false): none
  const bare = await describeTopic(topic, { includeSynonyms: false });
  assert.deepEqual([...bare.keys()].sort(), [...cfg.keys()].sort());
  assert.ok([...bare.values()].every((e) => e.configSynonyms.length === 0));
  // only the names asked for
  const some = await describeTopic(topic, { configNames: ['retention.ms', 'segment.bytes'] });
  assert.deepEqual([...some.keys()].sort(), ['retention.ms', 'segment.bytes']);

  // broker "1" (sent to that broker)
  const broker = await describe(ConfigResourceTypes.BROKER, '1');
  assert.deepEqual([broker.get('node.id').configValue, broker.get('node.id').readOnly], ['1', true]);
  const hours = broker.get('log.retention.hours');
  // as in Kafka, only the .ms form of a time config changes at runtime: the hours form is read-only
  assert.deepEqual([hours.configValue, hours.configSource, hours.readOnly], ['168', DEFAULT_CONFIG, true]);
  const hb = broker.get('group.consumer.heartbeat.interval.ms'); // run.sh: -o ...=500
  assert.deepEqual([hb.configValue, hb.configSource, hb.readOnly], ['500', ConfigSource.STATIC_BROKER_CONFIG, true]);
  assert.deepEqual(synonyms(hb), [
    ['group.consumer.heartbeat.interval.ms', '500', ConfigSource.STATIC_BROKER_CONFIG],
    ['group.consumer.heartbeat.interval.ms', '5000', DEFAULT_CONFIG],
  ]);

  const e = await rejection(admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: uniq('ghost') }] }));
  assert.equal(e.type, 'UNKNOWN_TOPIC_OR_PARTITION', String(e));
});

test('alterConfigs (legacy AlterConfigs) on a topic: replaces the overrides, validateOnly, errors', async () => {
  const topic = uniq('alter');
  await createTopic(topic, 1, [
    { name: 'retention.ms', value: '3600000' },
    { name: 'segment.bytes', value: '2097152' },
  ]);
  const alter = (configEntries, extra = {}) =>
    admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries }], ...extra });

  // validateOnly: nothing changes
  const v = await alter([{ name: 'cleanup.policy', value: 'compact' }], { validateOnly: true });
  assert.deepEqual(v.resources.map((r) => [r.errorCode, r.resourceType, r.resourceName]), [[0, ConfigResourceTypes.TOPIC, topic]]);
  assert.deepEqual(overrides(await describeTopic(topic)), { 'retention.ms': '3600000', 'segment.bytes': '2097152' });

  // the entries sent become the whole set: retention.ms and segment.bytes go back to their defaults
  const r = await alter([
    { name: 'cleanup.policy', value: 'compact' },
    { name: 'max.message.bytes', value: '2000000' },
  ]);
  assert.deepEqual(r.resources.map((x) => x.errorCode), [0]);
  let cfg = await describeTopic(topic);
  assert.deepEqual(overrides(cfg), { 'cleanup.policy': 'compact', 'max.message.bytes': '2000000' });
  assert.deepEqual([cfg.get('retention.ms').configValue, cfg.get('retention.ms').configSource], [RETENTION_MS_DEFAULT, DEFAULT_CONFIG]);
  assert.deepEqual([cfg.get('segment.bytes').configValue, cfg.get('segment.bytes').isDefault], ['1073741824', true]);

  // refused: bad value, unknown key (INVALID_CONFIG), nothing changed
  for (const entries of [
    [{ name: 'retention.ms', value: 'abc' }],
    [{ name: 'cleanup.policy', value: 'bogus' }],
    [{ name: 'compression.type', value: 'brotli' }],
    [{ name: 'no.such.config', value: '1' }],
  ]) {
    const e = await rejection(alter(entries));
    assert.equal(e.type, 'INVALID_CONFIG', `${JSON.stringify(entries)}: ${e}`);
  }
  cfg = await describeTopic(topic);
  assert.deepEqual(overrides(cfg), { 'cleanup.policy': 'compact', 'max.message.bytes': '2000000' });

  const e = await rejection(
    admin.alterConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: uniq('ghost'), configEntries: [{ name: 'retention.ms', value: '1000' }] }],
    }),
  );
  assert.equal(e.type, 'UNKNOWN_TOPIC_OR_PARTITION', String(e));

  // an empty set removes every override
  await alter([]);
  assert.deepEqual(overrides(await describeTopic(topic)), {});
});

test('alterConfigs on broker 1: log.retention.ms as a dynamic broker config, inherited by topics; node.id refused', async () => {
  const topic = uniq('broker');
  await createTopic(topic, 1);
  const own = uniq('broker-own');
  await createTopic(own, 1, [{ name: 'retention.ms', value: '3600000' }]);
  const alterBroker = (configEntries) =>
    admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries }] });
  try {
    await alterBroker([{ name: 'log.retention.ms', value: '123456789' }]);
    const b = (await describe(ConfigResourceTypes.BROKER, '1', { configNames: ['log.retention.ms'] })).get('log.retention.ms');
    assert.deepEqual([b.configValue, b.configSource, b.readOnly, b.isDefault], ['123456789', DYNAMIC_BROKER_CONFIG, false, false]);
    const t = (await describeTopic(topic)).get('retention.ms');
    assert.deepEqual([t.configValue, t.configSource], ['123456789', DYNAMIC_BROKER_CONFIG]);
    assert.deepEqual(synonyms(t)[0], ['log.retention.ms', '123456789', DYNAMIC_BROKER_CONFIG]);
    const o = (await describeTopic(own)).get('retention.ms');
    assert.deepEqual([o.configValue, o.configSource], ['3600000', TOPIC_CONFIG]);
    assert.deepEqual(synonyms(o).slice(0, 2), [
      ['retention.ms', '3600000', TOPIC_CONFIG],
      ['log.retention.ms', '123456789', DYNAMIC_BROKER_CONFIG],
    ]);

    // not dynamic: refused (Tributary INVALID_CONFIG; Kafka INVALID_REQUEST, see test_configs.py), nothing changed
    const e = await rejection(alterBroker([{ name: 'node.id', value: '7' }]));
    assert.ok(['INVALID_CONFIG', 'INVALID_REQUEST'].includes(e.type), String(e));
    const b2 = await describe(ConfigResourceTypes.BROKER, '1', { configNames: ['node.id', 'log.retention.ms'] });
    assert.equal(b2.get('node.id').configValue, '1');
    assert.equal(b2.get('log.retention.ms').configValue, '123456789');
  } finally {
    await alterBroker([]); // the legacy API: no entries = no dynamic overrides on broker 1
  }
  const b = await describe(ConfigResourceTypes.BROKER, '1', { configNames: ['log.retention.ms'] });
  assert.ok(!b.has('log.retention.ms') || b.get('log.retention.ms').configSource === DEFAULT_CONFIG, JSON.stringify([...b]));
  const t = (await describeTopic(topic)).get('retention.ms');
  assert.deepEqual([t.configValue, t.configSource], [RETENTION_MS_DEFAULT, DEFAULT_CONFIG]);
});

test('deleteTopicRecords: low watermarks move, -1 = high watermark, a group from the beginning starts there, errors', async () => {
  const topic = uniq('delrec');
  await createTopic(topic, 2);
  const mk = (p, n) => Array.from({ length: n }, (_, i) => ({ partition: p, key: `p${p}-${i}`, value: `value ${p}/${i}` }));
  for (let i = 0; i < 5; i++) await produce(topic, [...mk(0, 10), ...mk(1, 10)].map((m, j) => ({ ...m, key: `${m.key}-${i}-${j}` })));
  assert.deepEqual(await lowHigh(topic), [[0, '0', '50'], [1, '0', '50']]);

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '20' }, { partition: 1, offset: '-1' }] });
  assert.deepEqual(await lowHigh(topic), [[0, '20', '50'], [1, '50', '50']]);
  // below the low watermark: kafkajs warns, the broker keeps the start
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '5' }] });
  assert.deepEqual(await lowHigh(topic), [[0, '20', '50'], [1, '50', '50']]);

  // beyond the high watermark: OFFSET_OUT_OF_RANGE, nothing changes
  const e = await rejection(admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '51' }] }));
  assert.equal(e.name, 'KafkaJSDeleteTopicRecordsError', String(e));
  assert.deepEqual(e.partitions.map((p) => [p.partition, p.error.type]), [[0, 'OFFSET_OUT_OF_RANGE']]);
  assert.deepEqual(await lowHigh(topic), [[0, '20', '50'], [1, '50', '50']]);

  // a new group reading from the beginning: partition 0 from offset 20, partition 1 only what comes next
  await produce(topic, [{ partition: 1, key: 'later', value: 'after delete' }]);
  const consumer = kafka.consumer({ groupId: uniq('group'), sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const seen = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => { seen.push([partition, Number(message.offset)]); } });
    const deadline = Date.now() + 20000;
    while (seen.length < 31 && Date.now() < deadline) await sleep(100);
    await sleep(300); // nothing more comes
  } finally {
    await consumer.disconnect();
  }
  seen.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  assert.deepEqual(seen, [...Array.from({ length: 30 }, (_, i) => [0, 20 + i]), [1, 50]]);

  // compact-only topic: POLICY_VIOLATION
  const compact = uniq('delrec-compact');
  await createTopic(compact, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  await produce(compact, mk(0, 10));
  // kafkajs looks the partition leaders up in the admin's metadata cache before anything else
  // (KafkaJSBrokerNotFound otherwise); fetchTopicOffsets puts the topic there
  assert.deepEqual(await lowHigh(compact), [[0, '0', '10']]);
  const pv = await rejection(admin.deleteTopicRecords({ topic: compact, partitions: [{ partition: 0, offset: '5' }] }));
  assert.deepEqual(pv.partitions.map((p) => [p.partition, p.error.type]), [[0, 'POLICY_VIOLATION']], String(pv));
  assert.deepEqual(await lowHigh(compact), [[0, '0', '10']]);
});
