/**
 * The membership against a real Redis, in process (several Membership instances, each on its own
 * connection, as several nodes would be): stamps and ages by Redis's TIME only, signed heartbeats,
 * the secret marker, silent members reported until removed or forgotten, and live values for self.
 */

import { randomBytes } from 'node:crypto';
import { clusterNames, type ClusterNames } from '@authcache/protocol';
import { disconnectUnlessEnded, startRedis, waitFor, type RedisHandle } from '@authcache/testkit';
import { Redis } from 'ioredis';
import { Membership, type MembershipOptions } from '../packages/node/src/membership';
import type { HeartbeatContent } from '../packages/node/src/membership/heartbeat-codec';
import { secretMarker } from '../packages/node/src/membership/heartbeat-codec';
import { versionKey } from '../packages/node/src/membership/scripts';

const HEARTBEAT_MS = 100;
const DOWN_AFTER_MS = 3 * HEARTBEAT_MS + 500;
const FORGET_MS = 2500;
const SECRET = 'the-cluster-secret';

let redis: RedisHandle;
const connections: Redis[] = [];
const started: Membership[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(started.splice(0).map((m) => m.stop().catch(() => undefined)));
  // Some tests disconnect their own on purpose.
  for (const c of connections.splice(0)) disconnectUnlessEnded(c);
});
afterAll(async () => {
  await redis?.stop();
});

function fakeLog() {
  return { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() };
}

interface TestMember {
  m: Membership;
  conn: Redis;
  log: ReturnType<typeof fakeLog>;
  content: HeartbeatContent;
}

function member(names: ClusterNames, id: string, opts: { secret?: string; forgetMs?: number; heartbeatMs?: number } = {}): TestMember {
  const conn = new Redis(redis.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 1000, lazyConnect: false });
  conn.on('error', () => undefined);
  connections.push(conn);
  const log = fakeLog();
  const content: HeartbeatContent = { address: `addr-${id}`, applied_seq: 0, started: 0, cache: {} };
  const o: MembershipOptions = {
    redis: conn,
    names,
    config: { nodeId: id, heartbeatMs: opts.heartbeatMs ?? HEARTBEAT_MS, clusterSecret: opts.secret ?? SECRET, memberForgetMs: opts.forgetMs ?? FORGET_MS },
    log: log as unknown as MembershipOptions['log'],
    content: () => ({ ...content, cache: { ...content.cache } }),
  };
  return { m: new Membership(o), conn, log, content };
}

async function ready(...ms: TestMember[]): Promise<void> {
  await Promise.all(ms.map((x) => waitFor(() => x.conn.status === 'ready', { timeoutMs: 5000 })));
}

async function start(...ms: TestMember[]): Promise<void> {
  await ready(...ms);
  for (const x of ms) {
    await x.m.start();
    started.push(x.m);
  }
}

const fresh = () => clusterNames(`mr${randomBytes(4).toString('hex')}`);

async function redisNowMs(conn: Redis): Promise<number> {
  const [s, us] = await conn.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

it('stamps each heartbeat with Redis TIME and judges by it: a wall clock 45 s off changes nothing', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const b = member(names, 'b');
  await start(a, b);
  const before = await redisNowMs(a.conn);
  const stored = (await a.conn.hget(names.members, 'a'))!;
  const stamp = Number(stored.split('|')[1]);
  expect(Math.abs(stamp - before)).toBeLessThan(2 * HEARTBEAT_MS + 200);

  for (const skew of [45_000, -45_000]) {
    const real = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => real() + skew);
    expect((await a.m.expected()).live).toEqual(['a', 'b']);
    expect((await b.m.list()).map((x) => [x.id, x.status])).toEqual([['a', 'UP'], ['b', 'UP']]);
    jest.restoreAllMocks();
  }
});

it('a member that goes silent is DOWN after the bound, reported with its Redis age, and forgotten after the forget time', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const b = member(names, 'b');
  await start(a, b);
  // Silent: its connection is gone, its heartbeats fail (and must not throw out of the loop).
  b.conn.disconnect();
  const down = await waitFor(
    async () => {
      const e = await a.m.expected();
      return e.down.length > 0 ? e : undefined;
    },
    { timeoutMs: DOWN_AFTER_MS + 3000, intervalMs: 20 },
  );
  expect(down.live).toEqual(['a']);
  expect(down.down).toEqual([{ node: 'b', last_seen_ms: expect.any(Number) }]);
  expect(down.down[0]!.last_seen_ms).toBeGreaterThanOrEqual(DOWN_AFTER_MS);
  expect(down.down[0]!.last_seen_ms).toBeLessThan(DOWN_AFTER_MS + 1500);
  const listed = (await a.m.list()).find((x) => x.id === 'b');
  expect(listed).toMatchObject({ status: 'DOWN', address: 'addr-b' });
  expect(listed!.left).toBeUndefined();
  expect(b.log.debug).toHaveBeenCalledWith(expect.anything(), 'heartbeat not written');

  // Past the forget time it is no longer a member, and its entry is deleted from Redis.
  await waitFor(async () => (await a.m.list()).every((x) => x.id !== 'b'), { timeoutMs: FORGET_MS + 3000, intervalMs: 50 });
  expect(await a.m.expected()).toEqual({ live: ['a'], down: [] });
  await waitFor(async () => (await a.conn.hexists(names.members, 'b')) === 0, { timeoutMs: 3000 });
  expect(a.log.info).toHaveBeenCalledWith(expect.objectContaining({ member: 'b' }), expect.stringMatching(/^member forgotten/));
});

it('a member that left cleanly is listed DOWN (left) but is neither waited for nor a failure', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const b = member(names, 'b');
  await start(a, b);
  await b.m.stop();
  expect(await a.m.expected()).toEqual({ live: ['a'], down: [] });
  expect((await a.m.list()).find((x) => x.id === 'b')).toMatchObject({ status: 'DOWN', left: true });
});

it('expected() reads the whole hash again only when the members version changed (a join, a leave, a removal), not on plain beats', async () => {
  const names = fresh();
  // The observer's own read stays fresh for a minute (its heartbeat): only a version change makes it read again.
  const a = member(names, 'a', { heartbeatMs: 60_000 });
  const b = member(names, 'b');
  await start(a, b);
  const reads = jest.spyOn(a.conn as unknown as { authcacheMemberRead: () => Promise<unknown> }, 'authcacheMemberRead');
  const version = () => a.conn.get(versionKey(names.members));
  expect((await a.m.expected()).live).toEqual(['a', 'b']);
  expect(reads).toHaveBeenCalledTimes(1);
  // b beats on (two more heartbeats land): the version stays, and the read is reused.
  const v0 = await version();
  for (let i = 0; i < 2; i++) {
    const seen = await a.conn.hget(names.members, 'b');
    await waitFor(async () => (await a.conn.hget(names.members, 'b')) !== seen, { timeoutMs: 5000, intervalMs: 10 });
  }
  expect(await version()).toBe(v0);
  expect((await a.m.expected()).live).toEqual(['a', 'b']);
  expect(reads).toHaveBeenCalledTimes(1);

  const c = member(names, 'c');
  await start(c);
  expect(await version()).not.toBe(v0);
  expect((await a.m.expected()).live).toEqual(['a', 'b', 'c']);
  expect(reads).toHaveBeenCalledTimes(2);
  await c.m.stop();
  expect(await a.m.expected()).toEqual({ live: ['a', 'b'], down: [] });
  expect(reads).toHaveBeenCalledTimes(3);
  const v1 = await version();
  expect(await a.m.remove('c')).toBe('removed');
  expect(await version()).not.toBe(v1);
});

it('expected(version) takes the members version a publish read: no GET when it matches the last read, a new read when it does not', async () => {
  const names = fresh();
  const a = member(names, 'a', { heartbeatMs: 60_000 });
  const b = member(names, 'b');
  await start(a, b);
  const conn = a.conn as unknown as { authcacheMemberRead: () => Promise<unknown>; get: () => Promise<unknown> };
  const reads = jest.spyOn(conn, 'authcacheMemberRead');
  const gets = jest.spyOn(conn, 'get');
  expect((await a.m.expected()).live).toEqual(['a', 'b']);
  expect([reads.mock.calls.length, gets.mock.calls.length]).toEqual([1, 0]);
  const current = (await a.conn.get(versionKey(names.members))) as string;
  gets.mockClear();
  expect((await a.m.expected(current)).live).toEqual(['a', 'b']);
  expect([reads.mock.calls.length, gets.mock.calls.length]).toEqual([1, 0]);
  // A version the node has not read (a join it has not seen): the whole hash again, still no GET.
  expect((await a.m.expected('a version from after a join')).live).toEqual(['a', 'b']);
  expect([reads.mock.calls.length, gets.mock.calls.length]).toEqual([2, 0]);
  // Without one (a transport that keeps none), the membership asks Redis itself.
  expect((await a.m.expected()).live).toEqual(['a', 'b']);
  expect(gets).toHaveBeenCalledTimes(1);
});

it('remove(): unknown id, a live member refused, a silent one removed at once', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const b = member(names, 'b');
  await start(a, b);
  expect(await a.m.remove('nobody')).toBe('unknown');
  expect(await a.m.remove('b')).toBe('live');
  b.conn.disconnect();
  await waitFor(async () => (await a.m.expected()).down.length === 1, { timeoutMs: DOWN_AFTER_MS + 3000, intervalMs: 20 });
  expect(await a.m.remove('b')).toBe('removed');
  expect((await a.m.list()).map((x) => x.id)).toEqual(['a']);
  expect(await a.m.expected()).toEqual({ live: ['a'], down: [] });
  expect(await a.m.remove('b')).toBe('unknown');
});

it('a heartbeat signed with another secret is no member: not listed, not waited for, counted and logged once per 10 s', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const wrong = member(names, 'w', { secret: 'another-secret' });
  await start(a, wrong);
  await a.conn.hset(names.members, 'junk', 'not a heartbeat at all');
  for (let i = 0; i < 5; i++) {
    expect((await a.m.expected()).live).toEqual(['a']);
    expect((await a.m.list()).map((x) => x.id)).toEqual(['a']);
  }
  const warned = a.log.warn.mock.calls.filter(([, msg]) => typeof msg === 'string' && msg.startsWith('ignoring heartbeats'));
  expect(warned).toHaveLength(1);
  expect(warned[0]![0]).toMatchObject({ rejected: expect.arrayContaining([{ member: 'w', reason: 'bad signature' }, { member: 'junk', reason: 'garbled' }]) });
  // The junk entry is counted once however often it is read; w's counts once per heartbeat it wrote.
  expect(a.m.rejectedHeartbeats()).toBeGreaterThanOrEqual(2);
  // The misconfigured node sees only itself as a member, but is not "alone": a fresh foreign heartbeat is there.
  expect((await wrong.m.expected()).live).toEqual(['w']);
  expect(await wrong.m.isAlone()).toBe(false);
});

it('the secret marker: set by the first node (never the secret), a different secret is refused, restored by heartbeats after Redis lost it', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const wrong = member(names, 'w', { secret: 'another-secret' });
  await ready(a, wrong);
  expect(await a.m.verifySecret()).toBe(true);
  expect(await wrong.m.verifySecret()).toBe(false);
  expect(wrong.m.secretMatches()).toBe(false);
  const key = `${names.cluster}:secret-marker`;
  const marker = await a.conn.get(key);
  expect(marker).toBe(secretMarker(SECRET));
  expect(marker).not.toContain(SECRET);

  await a.conn.del(key);
  await start(a);
  expect(await a.conn.get(key)).toBe(secretMarker(SECRET));
  expect(await a.m.verifySecret()).toBe(true);
  await start(wrong);
  expect(wrong.m.secretMatches()).toBe(false);
  expect(wrong.log.warn).toHaveBeenCalledWith(expect.stringMatching(/AUTHCACHE_CLUSTER_SECRET differs/));
});

it('isAlone: alone with no one, with a silent or departed member; not alone beside a live one', async () => {
  const names = fresh();
  const a = member(names, 'a');
  const b = member(names, 'b');
  const c = member(names, 'c');
  await ready(a, b, c);
  expect(await a.m.isAlone()).toBe(true);
  await start(b, c);
  expect(await a.m.isAlone()).toBe(false);
  await c.m.stop();
  b.conn.disconnect();
  await waitFor(async () => (await a.m.isAlone()) === true, { timeoutMs: DOWN_AFTER_MS + 3000, intervalMs: 20 });
  expect(await a.m.expected()).toEqual({ live: [], down: [{ node: 'b', last_seen_ms: expect.any(Number) }] });
});

it("list(): the answering node's own line is live; the others' say how old they are and what their lag is measured against", async () => {
  const names = fresh();
  const a = member(names, 'a');
  const b = member(names, 'b');
  await ready(a, b);
  await a.conn.set(names.seq, '5');
  a.content.applied_seq = 5;
  b.content.applied_seq = 3;
  await start(a, b);
  // Changes after the last heartbeat: a's own line shows them at once.
  a.content.applied_seq = 6;
  a.content.cache = { credentials: { size: 1, hits: 0, misses: 1, evictions: 0, loads: 1, load_failures: 0 } };
  await a.conn.set(names.seq, '6');
  const [self, other] = await a.m.list();
  expect(self).toMatchObject({ id: 'a', self: true, status: 'UP', applied_seq: 6, lag: 0, cluster_seq: 6, cache: { credentials: { size: 1 } } });
  expect(other).toMatchObject({ id: 'b', status: 'UP', applied_seq: 3 });
  expect(other!.self).toBeUndefined();
  // b's lag is as of its heartbeat: the seq Redis held when it was written (5 or, after its next beat, 6).
  expect(other!.lag).toBe(other!.cluster_seq - 3);
  expect([5, 6]).toContain(other!.cluster_seq);
  expect(other!.heartbeat_age_ms).toBeGreaterThanOrEqual(0);
  expect(other!.heartbeat_age_ms).toBeLessThan(DOWN_AFTER_MS);
  const now = await redisNowMs(a.conn);
  expect(Math.abs(Date.parse(other!.last_seen) - (now - other!.heartbeat_age_ms))).toBeLessThan(200);
});

it('bad input never throws out of the heartbeat loop: content() throwing, Redis gone', async () => {
  const names = fresh();
  const a = member(names, 'a');
  await ready(a);
  let calls = 0;
  const o = (a.m as unknown as { o: MembershipOptions }).o;
  o.content = () => {
    calls++;
    throw new Error('boom');
  };
  await a.m.start();
  started.push(a.m);
  await waitFor(() => calls >= 3, { timeoutMs: 3000 });
  expect(a.log.debug).toHaveBeenCalledWith({ err: 'boom' }, 'heartbeat not written');
});
