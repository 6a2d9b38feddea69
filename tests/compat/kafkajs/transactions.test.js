// kafkajs 2.x idempotent and transactional producers against a running Tributary broker. Run with
// `node --test` (tests/compat/run.sh does).
//
//   COMPAT_BOOTSTRAP  127.0.0.1:PORT of the broker (required)
//   COMPAT_NODE       folder whose node_modules holds kafkajs (default $HOME/.cache/tributary/node)
//
// Covered: an idempotent producer (InitProducerId, sequence numbers; kafkajs requires
// maxInFlightRequests: 1) writes every record once, in order; a transactional producer
// (InitProducerId with a transactional id, AddPartitionsToTxn, EndTxn) commits and aborts
// transactions over 3 partitions and commits consumer offsets inside them (sendOffsets:
// AddOffsetsToTxn, TxnOffsetCommit), visible to admin.fetchOffsets only after the commit and never
// after an abort; kafkajs consumers with readUncommitted: false (READ_COMMITTED fetches: the aborted
// transactions list, control batches) read exactly the committed records in order, with
// readUncommitted: true every record; admin.fetchTopicOffsets counts the transaction markers.
//
// Consumers join a new group each (group.initial.rebalance.delay.ms=3000: ~3 s before the first
// records), the committed and the uncommitted reader side by side.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');

const NODE_DIR = process.env.COMPAT_NODE || path.join(os.homedir(), '.cache', 'tributary', 'node');
const { Kafka, Partitioners, logLevel } = require(require.resolve('kafkajs', { paths: [NODE_DIR, __dirname] }));

const BOOT = process.env.COMPAT_BOOTSTRAP;
if (!BOOT) throw new Error('COMPAT_BOOTSTRAP (127.0.0.1:PORT) is not set');

const uniq = (what) => `compat-js-txn-${what}-${crypto.randomBytes(5).toString('hex')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const kafka = new Kafka({
  clientId: 'tributary-compat-kafkajs-transactions',
  brokers: [BOOT],
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  logLevel: logLevel.WARN,
});

let admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  if (admin) await admin.disconnect();
});

async function createTopic(topic, numPartitions) {
  assert.equal(
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 5000 }),
    true,
  );
  return topic;
}

async function highWatermarks(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return Object.fromEntries(offsets.map((o) => [o.partition, Number(o.high)]));
}

/**
 * Reads `topic` from the beginning with a kafkajs consumer in a new group until `expected` records
 * arrived, then 1 s more (nothing else may come); { partition: [value, ...] } in the order read.
 */
async function readTopic(topic, { readUncommitted, expected, timeoutMs = 20000 }) {
  const consumer = kafka.consumer({
    groupId: uniq(readUncommitted ? 'ru' : 'rc'),
    readUncommitted,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  });
  const got = {};
  let n = 0;
  const crashed = [];
  consumer.on(consumer.events.CRASH, (e) => crashed.push(String(e.payload.error)));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        (got[partition] = got[partition] || []).push(message.value.toString());
        n += 1;
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (n < expected && Date.now() < deadline && crashed.length === 0) await sleep(100);
    await sleep(1000);
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual(crashed, []);
  return got;
}

const byPartition = (values, nparts) =>
  Object.fromEntries(
    Array.from({ length: nparts }, (_, p) => [p, values.filter((v) => v.p === p).map((v) => v.value)]).filter(
      ([, vs]) => vs.length > 0,
    ),
  );

test('idempotent producer: every record once, in order', async () => {
  const topic = await createTopic(uniq('idem'), 2);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const sent = [];
  try {
    for (let b = 0; b < 10; b++) {
      const messages = [];
      for (let i = 0; i < 20; i++) {
        const n = b * 20 + i;
        messages.push({ partition: n % 2, key: `k${n}`, value: `v${n}` });
        sent.push({ p: n % 2, value: `v${n}` });
      }
      const md = await producer.send({ topic, acks: -1, messages });
      for (const r of md) assert.equal(r.errorCode, 0, JSON.stringify(r));
    }
  } finally {
    await producer.disconnect();
  }
  assert.deepEqual(await highWatermarks(topic), { 0: 100, 1: 100 });
  const got = await readTopic(topic, { readUncommitted: false, expected: 200 });
  assert.deepEqual(got, byPartition(sent, 2));
});

test('transactional producer: commit, abort, sendOffsets; read_committed and read_uncommitted consumers', async () => {
  const topic = await createTopic(uniq('out'), 3);
  const src = await createTopic(uniq('in'), 1);
  const groupId = uniq('ctp');
  const producer = kafka.producer({
    transactionalId: uniq('txid'),
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 30000,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const committed = [];
  const all = [];
  const fetchGroupOffset = async () => {
    const [t] = await admin.fetchOffsets({ groupId, topics: [src] });
    return t.partitions[0].offset;
  };
  const inTxn = async (tag, end, offset) => {
    const txn = await producer.transaction();
    const messages = [];
    for (let i = 0; i < 12; i++) {
      messages.push({ partition: i % 3, key: `${tag}-${i}`, value: `${tag}-${i}` });
    }
    // two sends: the second adds no partition (AddPartitionsToTxn only for new ones)
    await txn.send({ topic, acks: -1, messages: messages.slice(0, 6) });
    await txn.send({ topic, acks: -1, messages: messages.slice(6) });
    if (offset !== undefined) {
      await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: src, partitions: [{ partition: 0, offset: String(offset) }] }] });
    }
    const vals = messages.map((m) => ({ p: m.partition, value: m.value }));
    all.push(...vals);
    if (end === 'commit') committed.push(...vals);
    return txn;
  };
  try {
    let txn = await inTxn('c1', 'commit');
    await txn.commit();
    txn = await inTxn('a1', 'abort', 7);
    await txn.abort();
    assert.equal(await fetchGroupOffset(), '-1', 'offsets of an aborted transaction were committed');
    txn = await inTxn('c2', 'commit', 5);
    assert.equal(await fetchGroupOffset(), '-1', 'offsets visible before the transaction committed');
    await txn.commit();
    assert.equal(await fetchGroupOffset(), '5');
    txn = await inTxn('a2', 'abort', 9);
    await txn.abort();
    assert.equal(await fetchGroupOffset(), '5', 'an aborted transaction changed the committed offset');
  } finally {
    await producer.disconnect();
  }
  // per partition: 4 records and a marker per transaction, 4 transactions
  assert.deepEqual(await highWatermarks(topic), { 0: 20, 1: 20, 2: 20 });
  const [rc, ru] = await Promise.all([
    readTopic(topic, { readUncommitted: false, expected: committed.length }),
    readTopic(topic, { readUncommitted: true, expected: all.length }),
  ]);
  assert.deepEqual(rc, byPartition(committed, 3));
  assert.deepEqual(ru, byPartition(all, 3));
});
