// One kafkajs consumer-group member in a process of its own, started by groups.test.js so that it
// can be killed with SIGKILL. Not a test file (node --test is given the test files by name).
//
//   node member.js '{"boot": "127.0.0.1:PORT", "groupId": "...", "topic": "...", "perRecordMs": 10,
//                    "autoCommitThreshold": 5}'
//
// Prints one JSON line per event on stdout, written synchronously before the member goes on (a
// record is on the pipe before its offset can be committed, so a SIGKILL loses no record the
// broker counts as consumed):
//   {"ev": "started"}                                   connected and subscribed
//   {"ev": "join", "parts": [..], "memberId": ..}       GROUP_JOIN: the member's assignment
//   {"ev": "rec", "p": .., "o": .., "k": .., "v": ..}  a record handed to eachMessage
//   {"ev": "commit", "offsets": {"p": offset}}          COMMIT_OFFSETS: the broker accepted a commit
//   {"ev": "crash", "err": ..}                          CRASH
// each with "t" (ms since the epoch). SIGTERM disconnects (LeaveGroup) and exits.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const NODE_DIR = process.env.COMPAT_NODE || path.join(os.homedir(), '.cache', 'tributary', 'node');
const { Kafka, logLevel } = require(require.resolve('kafkajs', { paths: [NODE_DIR, __dirname] }));

const cfg = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function emit(ev) {
  const buf = Buffer.from(JSON.stringify({ ...ev, t: Date.now() }) + '\n');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

const kafka = new Kafka({
  clientId: cfg.clientId || 'tributary-compat-kafkajs-member',
  brokers: [cfg.boot],
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  logLevel: logLevel.WARN, // console.warn/console.error: stderr
});

const consumer = kafka.consumer({
  groupId: cfg.groupId,
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  rebalanceTimeout: 10000,
  maxWaitTimeInMs: 100,
  retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
});
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  const parts = [...(e.payload.memberAssignment[cfg.topic] || [])].sort((a, b) => a - b);
  emit({ ev: 'join', parts, memberId: e.payload.memberId });
});
consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
  const offsets = {};
  for (const t of e.payload.topics) {
    if (t.topic !== cfg.topic) continue;
    for (const p of t.partitions) offsets[p.partition] = Number(p.offset);
  }
  emit({ ev: 'commit', offsets });
});
consumer.on(consumer.events.CRASH, (e) => emit({ ev: 'crash', err: String(e.payload.error) }));

process.on('SIGTERM', () => {
  consumer.disconnect().finally(() => process.exit(0));
});

(async () => {
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
  emit({ ev: 'started', pid: process.pid });
  await consumer.run({
    autoCommitThreshold: cfg.autoCommitThreshold || null,
    eachMessage: async ({ partition, message }) => {
      emit({ ev: 'rec', p: partition, o: Number(message.offset), k: message.key.toString(), v: message.value.toString() });
      if (cfg.perRecordMs) await sleep(cfg.perRecordMs);
    },
  });
})().catch((e) => {
  emit({ ev: 'crash', err: String(e && e.stack) });
  process.exit(1);
});
