// kafkajs 2.x consumer groups against a running Tributary broker. Run with `node --test`
// (tests/compat/run.sh does).
//
//   COMPAT_BOOTSTRAP  127.0.0.1:PORT of the broker (required)
//   COMPAT_NODE       folder whose node_modules holds kafkajs (default $HOME/.cache/tributary/node)
//
// Covered: three kafkajs consumers in one group (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// OffsetCommit, OffsetFetch, LeaveGroup) over a 6-partition topic read every record exactly once,
// with disjoint assignments covering all partitions; the admin client's listGroups, describeGroups
// (members and their assignments), fetchOffsets, deleteGroups (refused while the group has
// members, GROUP_ID_NOT_FOUND for an unknown group); a member in a child process (member.js) killed
// with SIGKILL: the other two take its partitions over once its session expired, every record read
// at least once. Not admin.setOffsets: kafkajs implements it with a throwaway consumer that joins
// the group (3 s initial delay + a 5 s fetch wait).
//
// The broker runs with group.initial.rebalance.delay.ms=3000: the first generation of a new group
// forms 3 s after the last of the members started together joined, so expect ~6 s per group.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const NODE_DIR = process.env.COMPAT_NODE || path.join(os.homedir(), '.cache', 'tributary', 'node');
const { Kafka, Partitioners, AssignerProtocol, logLevel } = require(
  require.resolve('kafkajs', { paths: [NODE_DIR, __dirname] }),
);

const BOOT = process.env.COMPAT_BOOTSTRAP;
if (!BOOT) throw new Error('COMPAT_BOOTSTRAP (127.0.0.1:PORT) is not set');

const uniq = (what) => `compat-js-${what}-${crypto.randomBytes(5).toString('hex')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const kafka = new Kafka({
  clientId: 'tributary-compat-kafkajs-groups',
  brokers: [BOOT],
  connectionTimeout: 5000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  logLevel: logLevel.WARN,
});

const NPART = 6;
const NREC = 600;

let admin;
let producer;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

after(async () => {
  if (producer) await producer.disconnect();
  if (admin) await admin.disconnect();
});

async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** A 6-partition topic with NREC keyed records; returns [topic, Map(key -> value), end offsets]. */
async function keyedTopic() {
  const topic = uniq('grp');
  assert.equal(
    await admin.createTopics({ topics: [{ topic, numPartitions: NPART, replicationFactor: 1 }], waitForLeaders: true, timeout: 5000 }),
    true,
  );
  const messages = Array.from({ length: NREC }, (_, i) => ({ key: `k-${String(i).padStart(4, '0')}`, value: `v-${i}` }));
  const want = new Map();
  const ends = new Array(NPART).fill(0);
  for (let i = 0; i < NREC; i += 100) {
    const md = await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 100) });
    for (const r of md) assert.equal(r.errorCode, 0, JSON.stringify(r));
  }
  // Where each record landed is the producer's business (murmur2 is checked elsewhere): the test
  // checks the keys read back against the produced set and the offsets against the end offsets.
  const offsets = await admin.fetchTopicOffsets(topic);
  let sum = 0;
  for (const o of offsets) {
    ends[o.partition] = Number(o.high);
    sum += Number(o.high);
  }
  assert.equal(sum, NREC, `end offsets ${JSON.stringify(offsets)}`);
  assert.ok(ends.every((n) => n > 0), `some partition got no records: ${ends}`);
  for (const m of messages) want.set(m.key, m.value);
  return [topic, want, ends];
}

function startMember(i, groupId, topic, got, assignments, joins = []) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10000,
    maxWaitTimeInMs: 100,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assignments[i] = [...(e.payload.memberAssignment[topic] || [])].sort((a, b) => a - b);
    joins.push({ member: i, parts: assignments[i], t: Date.now() });
  });
  const crashed = [];
  consumer.on(consumer.events.CRASH, (e) => crashed.push(String(e.payload.error)));
  const run = (async () => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({
          member: i,
          partition,
          offset: Number(message.offset),
          key: message.key.toString(),
          value: message.value.toString(),
          t: Date.now(),
        });
      },
    });
  })();
  return { consumer, run, crashed };
}

test('three consumers in one group read every record exactly once; admin list/describe/fetchOffsets/deleteGroups', async () => {
  const [topic, want, ends] = await keyedTopic();
  const groupId = uniq('grp');
  const got = [];
  const assignments = {};
  const members = [0, 1, 2].map((i) => startMember(i, groupId, topic, got, assignments));
  let disconnected = false;
  try {
    await Promise.all(members.map((m) => m.run));
    await waitFor(() => new Set(got.map((r) => `${r.partition}/${r.offset}`)).size >= NREC, 30000, 'all records read');
    await sleep(1000); // duplicates would show up now
    for (const m of members) assert.deepEqual(m.crashed, []);

    // exactly once, and the keys/values produced
    const seen = new Map();
    for (const r of got) {
      const pos = `${r.partition}/${r.offset}`;
      assert.ok(!seen.has(pos), `record ${pos} (${r.key}) read twice`);
      seen.set(pos, r);
    }
    assert.equal(seen.size, NREC);
    assert.deepEqual(new Set(got.map((r) => r.key)), new Set(want.keys()));
    for (const r of got) assert.equal(r.value, want.get(r.key));
    for (let p = 0; p < NPART; p++) {
      const offs = got.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual([...offs].sort((a, b) => a - b), [...Array(ends[p]).keys()], `partition ${p}`);
    }

    // assignments: disjoint, covering, 2 each; every member read only its own partitions
    assert.deepEqual(Object.keys(assignments).sort(), ['0', '1', '2'], JSON.stringify(assignments));
    assert.deepEqual(Object.values(assignments).flat().sort(), [0, 1, 2, 3, 4, 5], JSON.stringify(assignments));
    for (const [i, parts] of Object.entries(assignments)) {
      assert.equal(parts.length, 2, JSON.stringify(assignments));
      const from = new Set(got.filter((r) => r.member === Number(i)).map((r) => r.partition));
      for (const p of from) assert.ok(parts.includes(p), `member ${i} read partition ${p}, assigned ${parts}`);
    }

    // admin: the group is listed and described with its three members and their assignments
    const { groups } = await admin.listGroups();
    assert.deepEqual(
      groups.filter((g) => g.groupId === groupId),
      [{ groupId, protocolType: 'consumer' }],
      JSON.stringify(groups),
    );
    const desc = await admin.describeGroups([groupId]);
    assert.equal(desc.groups.length, 1);
    const g = desc.groups[0];
    assert.equal(g.errorCode, 0);
    assert.equal(g.groupId, groupId);
    assert.equal(g.state, 'Stable');
    assert.equal(g.protocolType, 'consumer');
    assert.equal(g.protocol, 'RoundRobinAssigner');
    assert.equal(g.members.length, 3);
    const described = g.members
      .map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment[topic].sort((a, b) => a - b))
      .map((ps) => JSON.stringify(ps))
      .sort();
    assert.deepEqual(described, Object.values(assignments).map((ps) => JSON.stringify(ps)).sort());
    for (const m of g.members) {
      assert.ok(m.memberId.startsWith('tributary-compat-kafkajs-groups'), m.memberId);
      assert.equal(m.clientId, 'tributary-compat-kafkajs-groups');
      const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
      assert.deepEqual(meta.topics, [topic]);
    }

    // committed offsets = the end offsets
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(fetched.topic, topic);
    assert.deepEqual(
      fetched.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => a[0] - b[0]),
      ends.map((n, p) => [p, String(n)]),
    );

    // deleteGroups refuses a group with members
    await assert.rejects(admin.deleteGroups([groupId]), (e) => {
      assert.deepEqual(
        (e.groups || []).map((x) => [x.groupId, x.error && x.error.type]),
        [[groupId, 'NON_EMPTY_GROUP']],
        String(e),
      );
      return true;
    });

    await Promise.all(members.map((m) => m.consumer.disconnect()));
    disconnected = true;

    // all left: Empty, no members, offsets kept
    const empty = (await admin.describeGroups([groupId])).groups[0];
    assert.equal(empty.state, 'Empty');
    assert.deepEqual(empty.members, []);
    const [kept] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(kept.partitions.map((p) => p.offset).sort(), ends.map(String).sort());

    // deleteGroups: gone from the list, its offsets gone too
    const deleted = await admin.deleteGroups([groupId]);
    assert.deepEqual(deleted.map((d) => [d.groupId, d.errorCode]), [[groupId, 0]]);
    const after = await admin.listGroups();
    assert.ok(!after.groups.some((x) => x.groupId === groupId), JSON.stringify(after.groups));
    const [gone] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(gone.partitions.map((p) => p.offset), new Array(NPART).fill('-1'));

    // and once more: the group does not exist any more
    await assert.rejects(admin.deleteGroups([groupId]), (e) => {
      assert.deepEqual((e.groups || []).map((x) => x.error && x.error.type), ['GROUP_ID_NOT_FOUND'], String(e));
      return true;
    });
  } finally {
    if (!disconnected) await Promise.allSettled(members.map((m) => m.consumer.disconnect()));
  }
});

/** A member.js child process (a group member of its own, so that it can be SIGKILLed) and the events it printed. */
function startChildMember(groupId, topic, opts) {
  const proc = spawn(process.execPath, [path.join(__dirname, 'member.js'), JSON.stringify({ boot: BOOT, groupId, topic, ...opts })], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, COMPAT_NODE: NODE_DIR },
  });
  const child = { proc, events: [], stderr: [], garbage: [] };
  child.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  child.outClosed = new Promise((resolve) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      try {
        child.events.push(JSON.parse(line));
      } catch {
        child.garbage.push(line);
      }
    });
    rl.on('close', resolve);
  });
  readline.createInterface({ input: proc.stderr }).on('line', (line) => child.stderr.push(line));
  child.evs = (kind) => child.events.filter((e) => e.ev === kind);
  child.owned = () => {
    const joins = child.evs('join');
    return joins.length ? joins[joins.length - 1].parts : [];
  };
  child.describe = () =>
    `child member: ${child.evs('rec').length} records, events ${JSON.stringify(child.events.filter((e) => e.ev !== 'rec'))}, ` +
    `other stdout ${JSON.stringify(child.garbage.slice(-5))}, stderr ${JSON.stringify(child.stderr.slice(-10))}`;
  return child;
}

test('a member killed with SIGKILL: after its session expires the other two take its partitions over; every record read at least once', async () => {
  const [topic, want, ends] = await keyedTopic();
  const groupId = uniq('grp-kill');
  const got = [];
  const assignments = {};
  const joins = [];
  // the victim (a child process) reads slowly and commits every 5 records; the survivors (in this
  // process) at full speed, committing after each batch
  const victim = startChildMember(groupId, topic, { perRecordMs: 10, autoCommitThreshold: 5 });
  const survivors = [1, 2].map((i) => startMember(i, groupId, topic, got, assignments, joins));
  const sorted = (a) => [...a].sort((x, y) => x - y);
  let tKill;
  let tTakeover;
  let victimOwned;
  try {
    await Promise.all(survivors.map((m) => m.run));
    const settled = () =>
      victim.owned().length === 2 &&
      [1, 2].every((i) => (assignments[i] || []).length === 2) &&
      JSON.stringify(sorted([...victim.owned(), ...assignments[1], ...assignments[2]])) === '[0,1,2,3,4,5]';
    await waitFor(settled, 20000, '2 partitions each');
    await waitFor(() => victim.evs('rec').length >= 20, 20000, 'the victim reading 20 records');
    victimOwned = victim.owned();
    tKill = Date.now();
    victim.proc.kill('SIGKILL');
    assert.deepEqual(await victim.exited, { code: null, signal: 'SIGKILL' });
    await victim.outClosed; // every line it wrote before it died
    const victimRecs = victim.evs('rec');
    const victimTotal = victimOwned.reduce((n, p) => n + ends[p], 0);
    assert.ok(victimRecs.length < victimTotal, `killed after reading all its partitions: ${victim.describe()}`);

    // the survivors end up with all 6 partitions, 3 each
    await waitFor(
      () => JSON.stringify(sorted([...(assignments[1] || []), ...(assignments[2] || [])])) === '[0,1,2,3,4,5]',
      6000 + 15000,
      'the survivors owning all partitions',
    );
    assert.deepEqual([assignments[1].length, assignments[2].length], [3, 3], JSON.stringify(assignments));
    tTakeover = Math.min(...joins.filter((j) => j.t > tKill && j.parts.some((p) => victimOwned.includes(p))).map((j) => j.t));
    assert.ok(Number.isFinite(tTakeover), 'no survivor was assigned a partition of the victim after the kill');
    const readPositions = () => new Set([...got, ...victimRecs.map((r) => ({ partition: r.p, offset: r.o }))].map((r) => `${r.partition}/${r.offset}`));
    await waitFor(() => readPositions().size >= NREC, 30000, 'every record read at least once');
    await sleep(500); // a late duplicate would show up now
    for (const m of survivors) assert.deepEqual(m.crashed, []);
    console.log(`takeover ${((tTakeover - tKill) / 1000).toFixed(1)} s after the kill; the victim read ${victimRecs.length} records`);
    assert.ok(
      tTakeover - tKill >= 6000 - 1500,
      `partitions taken over ${tTakeover - tKill} ms after the kill, before the victim's session (6 s) could expire`,
    );

    // at least once: every produced record, with its key and value; offsets 0..end-1 per partition
    const all = [...got, ...victimRecs.map((r) => ({ member: 0, partition: r.p, offset: r.o, key: r.k, value: r.v }))];
    assert.deepEqual(new Set(all.map((r) => r.key)), new Set(want.keys()));
    for (const r of all) assert.equal(r.value, want.get(r.key));
    for (let p = 0; p < NPART; p++) {
      const offs = new Set(all.filter((r) => r.partition === p).map((r) => r.offset));
      assert.deepEqual(sorted(offs), [...Array(ends[p]).keys()], `partition ${p}`);
    }
    // the survivors' own partitions: exactly once (committed before the rebalance)
    const own = got.filter((r) => !victimOwned.includes(r.partition)).map((r) => `${r.partition}/${r.offset}`);
    assert.equal(new Set(own).size, own.length, 'a survivor re-read records of a partition the victim never had');
    // each of the victim's partitions resumed at its last commit: between the last commit it
    // reported and the offset after the last record it read
    const committed = {};
    for (const e of victim.evs('commit')) Object.assign(committed, e.offsets);
    assert.ok(Object.keys(committed).length > 0, `the victim never committed: ${victim.describe()}`);
    for (const p of victimOwned) {
      const last = Math.max(-1, ...victimRecs.filter((r) => r.p === p).map((r) => r.o));
      const firsts = got.filter((r) => r.partition === p && r.t > tKill).map((r) => r.offset);
      assert.ok(firsts.length > 0, `no survivor read partition ${p}`);
      const first = Math.min(...firsts);
      const low = committed[p] === undefined ? 0 : committed[p];
      console.log(`partition ${p}: the victim read up to ${last}, last reported commit ${committed[p]}, survivors resumed at ${first}`);
      assert.ok(
        low <= first && first <= last + 1,
        `partition ${p}: the victim committed ${committed[p]} (last reported) and read up to ${last}, survivors resumed at ${first}`,
      );
    }

    // the group's committed offsets = the end offsets
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.deepEqual(
      fetched.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => a[0] - b[0]),
      ends.map((n, p) => [p, String(n)]),
    );
  } catch (e) {
    e.message += `\n${victim.describe()}\nsurvivor joins ${JSON.stringify(joins)}`;
    throw e;
  } finally {
    if (victim.proc.exitCode === null && victim.proc.signalCode === null) victim.proc.kill('SIGKILL');
    await Promise.allSettled(survivors.map((m) => m.consumer.disconnect()));
  }
});
