/**
 * The bus seen from Redis: frames published twice, out of order, with a gap the log no longer holds,
 * and frames that are forged, garbled, truncated, oversized, of another version or of the wrong type (an ack).
 * Each is written straight into Redis (as a node's publish script, or an attacker, would) and judged
 * by what two real nodes then do: their applied seq, their caches, their settings, their counters.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { createCodec, MAX_FRAME_BYTES, withSeq, type RejectReason } from '@authcache/protocol';
import { waitFor } from '@authcache/testkit';
import {
  Redis,
  awaitConvergence,
  metricOnAll,
  rawSignedFrame,
  readHealth,
  redisSeq,
  reserveInLog,
  signedFrame,
  tryLogin,
  useFaultCluster,
  warmAll,
} from './support/faults';

let redis: Redis;
// Declared before the cluster's hooks: jest runs afterAll hooks in order, so this one closes the
// connection while Redis is still there to say goodbye to.
afterAll(async () => {
  await redis?.quit();
});
const fc = useFaultCluster({ size: 2 });
beforeAll(() => {
  redis = new Redis(fc.redis.url);
});

const ALL_2 = { total: 2, successful: 2, failed: 0 };

/**
 * An admin call both nodes acknowledge. Each node handles frames in the order Redis delivered them,
 * so once it applied this one it had handled every frame published before it.
 */
async function barrier(): Promise<number> {
  const p = await fc.clients[0]!.flushUser(`nobody-${randomUUID()}`);
  expect(p.nodes).toEqual(ALL_2);
  return p.seq;
}

async function appliedSeqs(): Promise<Array<number | undefined>> {
  return (await Promise.all(fc.nodes.map(readHealth))).map((h) => h?.applied_seq);
}

function awaitApplied(seq: number): Promise<unknown> {
  return waitFor(async () => (await appliedSeqs()).every((s) => s === seq), {
    timeoutMs: 5000,
    message: `not every node reached applied_seq ${seq}`,
  });
}

async function cachedOnAll(username: string, password: string): Promise<Array<[number, boolean | undefined]>> {
  return (await Promise.all(fc.nodes.map((n) => tryLogin(n, username, password)))).map((s) => [s.status, s.cached]);
}

it('a frame published twice is applied once: same seq, no second effect', async () => {
  await fc.clients[0]!.putRole('twice', { password: 'twice-pw', login: true });
  const flushed = await fc.clients[0]!.flushUser('twice');
  expect(flushed.nodes).toEqual(ALL_2);
  const n = flushed.seq;
  // Cached after the flush: applying that flush again would show as cached:false.
  await warmAll(fc.nodes, 'twice', 'twice-pw');
  const entries = await redis.xrangeBuffer(fc.names.log, `${n}-0`, `${n}-0`);
  expect(entries).toHaveLength(1);
  const frame = entries[0]![1][1]!;
  const appliedBefore = await metricOnAll(fc.nodes, 'authcache_updates_applied_total', { kind: 'flush_users' });

  await redis.publish(fc.names.updates, frame);
  await redis.publish(fc.names.updates, frame);
  const b = await barrier();

  expect(b).toBe(n + 1);
  expect(await appliedSeqs()).toEqual([b, b]);
  expect(await cachedOnAll('twice', 'twice-pw')).toEqual([[200, true], [200, true]]);
  // Only the barrier's flush_users was applied since.
  const appliedAfter = await metricOnAll(fc.nodes, 'authcache_updates_applied_total', { kind: 'flush_users' });
  expect(appliedAfter.map((v, i) => v - appliedBefore[i]!)).toEqual([1, 1]);
});

it('frames published out of order (n+2 before n+1) are applied once each, in seq order', async () => {
  const secret = fc.secret;
  const setTtl = (ttl_ms: number) => ({ kind: 'set_settings' as const, body: { scope: 'credentials' as const, values: { ttl_ms }, persistent: false } });
  // Two settings of the same value: the one that stays tells the order they were applied in.
  const ttls = [111_000, 222_000];
  const appliedBefore = await metricOnAll(fc.nodes, 'authcache_updates_applied_total', { kind: 'set_settings' });
  const catchUpsBefore = await metricOnAll(fc.nodes, 'authcache_catchups_total');
  const { seqs, frames } = await reserveInLog(
    redis,
    fc.names,
    2,
    (seq, i) => signedFrame(secret, setTtl(ttls[i]!), seq),
    // What the publish script writes with a set_settings, so Redis agrees with the nodes afterwards.
    (tx) => tx.hset(fc.names.settingsTransient, 'credentials.ttl_ms', JSON.stringify(ttls[1])),
  );
  const [first, second] = seqs as [number, number];

  await redis.publish(fc.names.updates, frames[1]!);
  await redis.publish(fc.names.updates, frames[0]!);
  await awaitApplied(second);
  // The late n+1 frame must have been handled too before counting.
  const b = await barrier();
  expect(b).toBe(second + 1);

  const healths = await Promise.all(fc.nodes.map(readHealth));
  expect(healths.map((h) => h?.settings.credentials.ttl_ms)).toEqual([ttls[1], ttls[1]]);
  const appliedAfter = await metricOnAll(fc.nodes, 'authcache_updates_applied_total', { kind: 'set_settings' });
  expect(appliedAfter.map((v, i) => v - appliedBefore[i]!)).toEqual([2, 2]);
  // n+1 came from the log (or a heartbeat found the counter ahead): a catch-up either way.
  const catchUpsAfter = await metricOnAll(fc.nodes, 'authcache_catchups_total');
  catchUpsAfter.forEach((v, i) => expect(v).toBeGreaterThan(catchUpsBefore[i]!));
  expect(first).toBe(second - 1);
  expect(await awaitConvergence(fc)).toBe(b);
});

describe.each([
  ['never written to the log', false],
  ['trimmed from the log', true],
] as const)('a gap whose update was %s', (_what, trimmed) => {
  it('makes every node flush all its caches and go on from the new seq', async () => {
    const user = `gappy-${trimmed ? 'trimmed' : 'missing'}`;
    await fc.clients[0]!.putRole(user, { password: 'gappy-pw', login: true });
    await warmAll(fc.nodes, user, 'gappy-pw');
    const flushesBefore = await metricOnAll(fc.nodes, 'authcache_gap_flushes_total');

    // n+1 is lost: left out of the log, or written and trimmed away in the same MULTI, so that no
    // heartbeat can read it in between. n+2 flushes a user nobody cached: only a full flush touches `user`.
    const { seqs, frames } = await reserveInLog(
      redis,
      fc.names,
      2,
      (seq, i) => (i === 1 || trimmed ? signedFrame(fc.secret, { kind: 'flush_users', body: { usernames: ['bystander'] } }, seq) : undefined),
      (tx, s) => {
        if (trimmed) tx.xtrim(fc.names.log, 'MINID', `${s[1]}-0`);
      },
    );
    const last = seqs[1]!;
    expect(await redis.xrangeBuffer(fc.names.log, `${seqs[0]}-0`, `${seqs[0]}-0`)).toEqual([]);
    await redis.publish(fc.names.updates, frames[1]!);
    await awaitApplied(last);

    const flushesAfter = await metricOnAll(fc.nodes, 'authcache_gap_flushes_total');
    flushesAfter.forEach((v, i) => expect(v).toBeGreaterThan(flushesBefore[i]!));
    expect(await cachedOnAll(user, 'gappy-pw')).toEqual([[200, false], [200, false]]);
    expect(await awaitConvergence(fc)).toBe(last);
    expect(await redisSeq(fc)).toBe(last);
  });
});

it('forged, garbled, truncated, oversized, wrong-version and wrong-kind frames change nothing and are counted by reason', async () => {
  await fc.clients[0]!.putRole('steady', { password: 'steady-pw', login: true });
  await warmAll(fc.nodes, 'steady', 'steady-pw');
  const n = await redisSeq(fc);
  const pids = fc.nodes.map((node) => node.pid);
  // Every frame claims the next seq and, where it has a body, would flush every cache if accepted.
  const next = n + 1;
  const flushAll = { kind: 'flush_all' as const, body: {} };
  const valid = signedFrame(fc.secret, flushAll, next);
  const noise = randomBytes(200);
  noise[0] = 1;
  const wrongVersion = Buffer.from(valid);
  wrongVersion[0] = 2;
  const oversized = Buffer.alloc(MAX_FRAME_BYTES + 1, 0x90);
  oversized[0] = 1;
  const cases: Array<[string, Buffer, RejectReason]> = [
    ['signed with another secret', signedFrame(`another-${fc.secret}`, flushAll, next), 'signature'],
    ['unsigned (no HMAC)', valid.subarray(0, valid.length - 32), 'signature'],
    ['random bytes after a valid version byte', noise, 'signature'],
    ['correctly signed, not msgpack', rawSignedFrame(fc.secret, Buffer.from([0xc1, 0xc1, 0xc1]), next), 'malformed'],
    // fixmap {"a": 1}: valid msgpack, not a ConfigUpdate
    ['correctly signed msgpack that is not a ConfigUpdate', rawSignedFrame(fc.secret, Buffer.from([0x81, 0xa1, 0x61, 0x01]), next), 'invalid'],
    ['truncated to 20 bytes', valid.subarray(0, 20), 'too_short'],
    ['empty', Buffer.alloc(0), 'too_short'],
    ['larger than 64 KiB', oversized, 'too_large'],
    ['version 2', wrongVersion, 'version'],
  ];
  // What the node itself would decide, checked here so that each case is the fault its name says.
  const codec = createCodec(fc.secret);
  for (const [name, frame, reason] of cases) expect([name, codec.decode(frame)]).toEqual([name, expect.objectContaining({ ok: false, reason })]);
  // A well-signed ack: acks are their own message type, so on the updates channel it is invalid.
  const ack = withSeq(codec.encodeAck({ update_id: randomUUID(), node: fc.nodes[0]!.id, ok: true }), next);
  expect(codec.decodeAck(ack).ok).toBe(true);
  const all: Array<[string, Buffer, RejectReason]> = [...cases, ['an ack on the updates channel', ack, 'invalid']];

  const reasons = [...new Set(all.map(([, , r]) => r))];
  const before = await Promise.all(reasons.map((reason) => metricOnAll(fc.nodes, 'authcache_bus_rejected_total', { reason })));
  for (const [, frame] of all) await redis.publish(fc.names.updates, frame);
  const b = await barrier();

  // None took a seq or moved a node; none flushed a cache; none stopped a node.
  expect(b).toBe(next);
  expect(await appliedSeqs()).toEqual([b, b]);
  expect(await cachedOnAll('steady', 'steady-pw')).toEqual([[200, true], [200, true]]);
  expect(fc.nodes.map((node) => node.pid)).toEqual(pids);
  expect((await Promise.all(fc.nodes.map(readHealth))).map((h) => [h?.httpStatus, h?.status])).toEqual([[200, 'UP'], [200, 'UP']]);
  const after = await Promise.all(reasons.map((reason) => metricOnAll(fc.nodes, 'authcache_bus_rejected_total', { reason })));
  const counted = Object.fromEntries(reasons.map((r, i) => [r, after[i]!.map((v, j) => v - before[i]![j]!)]));
  const expected = Object.fromEntries(reasons.map((r) => [r, fc.nodes.map(() => all.filter(([, , x]) => x === r).length)]));
  expect(counted).toEqual(expected);
});
