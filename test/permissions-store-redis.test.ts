/**
 * The permission-store contract against the Redis store on a real Redis, writing through the real
 * publish script: a grant's rows and its invalidation are one atomic step, so a publish that fails
 * (the guard of another writer, Redis down) leaves no grant behind. Also: the key layout of
 * names.ts (`perms:ROLE` hash, `perms` index), which other nodes and operators read.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { clusterNames, createCodec, type ClusterNames } from '@authcache/protocol';
import { startRedis, type RedisHandle } from '@authcache/testkit';
import { RedisTransport } from '../packages/node/src/bus/redis-transport';
import type { StoreOp } from '../packages/node/src/bus/transport';
import { RedisPermissionStore } from '../packages/node/src/permissions/redis-permission-store';
import { describePermissionStore, propagation } from '../packages/node/test/permissions-support';
import { silentLog } from '../packages/node/test/fakes';
import { Metrics } from '../packages/node/src/metrics';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => redis?.stop());

function harness(): { names: ClusterNames; cmd: Redis; sub: Redis; transport: RedisTransport; publish: (ops: StoreOp[]) => Promise<ReturnType<typeof propagation>>; published: StoreOp[][] } {
  const names = clusterNames(`ps${randomBytes(4).toString('hex')}`);
  const codec = createCodec('contract-secret');
  const cmd = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  // Connected, though never subscribed: the transport publishes only while its subscriber is up (acks).
  const sub = new Redis(redis.url);
  const subReady = sub.ping();
  // Awaited by publish; a test that never publishes disconnects with the PING maybe in flight, and
  // its rejection must not land in whichever test runs then.
  subReady.catch(() => undefined);
  const transport = new RedisTransport({ cmd, sub, names, nodeId: 'contract', logMaxLen: 10_000, log: silentLog, metrics: new Metrics() });
  const published: StoreOp[][] = [];
  const publish = async (ops: StoreOp[]) => {
    await subReady;
    published.push(ops);
    const frame = codec.encode({ kind: 'flush_users', id: randomBytes(8).toString('hex'), origin: 'contract', ts: Date.now(), body: { usernames: ['x'] } });
    return propagation((await transport.publish(frame, ops)).seq);
  };
  return { names, cmd, sub, transport, publish, published };
}

describePermissionStore('redis', async () => {
  const h = harness();
  await h.cmd.ping();
  return {
    store: new RedisPermissionStore(h.cmd, h.names),
    published: h.published,
    publish: h.publish,
    close: async () => {
      h.cmd.disconnect();
      h.sub.disconnect();
    },
  };
});

describe('redis permission store: layout and atomicity', () => {
  let h: ReturnType<typeof harness>;
  let store: RedisPermissionStore;
  beforeEach(async () => {
    h = harness();
    store = new RedisPermissionStore(h.cmd, h.names);
    await h.cmd.ping();
  });
  afterEach(() => {
    h.cmd.disconnect();
    h.sub.disconnect();
  });

  test('keys of names.ts: a hash per role (one field per resource and permission) and the index of roles', async () => {
    await store.grant('readers', 'data/ks', ['SELECT', 'DESCRIBE'], h.publish);
    expect(await h.cmd.hgetall(h.names.rolePermissions('readers'))).toEqual({ 'data/ks\x1fDESCRIBE': '1', 'data/ks\x1fSELECT': '1' });
    expect(await h.cmd.smembers(h.names.permissionsIndex)).toEqual(['readers']);
    await store.revoke('readers', 'data/ks', ['ALL'], h.publish);
    expect(await h.cmd.exists(h.names.rolePermissions('readers'))).toBe(0);
    expect(await store.list()).toEqual([]);
    // The write and its frame are one script: every write appended one frame to the log.
    expect(Number(await h.cmd.get(h.names.seq))).toBe(2);
    expect(await h.cmd.xlen(h.names.log)).toBe(2);
  });

  test('the previous layout (resource -> JSON list) is read, and converted by the first write on the resource', async () => {
    const key = h.names.rolePermissions('old');
    await h.cmd.hset(key, 'data', '["MODIFY","SELECT"]', 'data/ks', '["DROP"]');
    await h.cmd.sadd(h.names.permissionsIndex, 'old');
    expect(await store.list('old')).toEqual([
      { role: 'old', resource: 'data', permissions: ['MODIFY', 'SELECT'] },
      { role: 'old', resource: 'data/ks', permissions: ['DROP'] },
    ]);
    expect((await store.revoke('old', 'data', ['SELECT'], h.publish)).permissions).toEqual(['MODIFY']);
    expect((await store.grant('old', 'data/ks', ['ALTER'], h.publish)).permissions).toEqual(['ALTER', 'DROP']);
    expect(await h.cmd.hgetall(key)).toEqual({ 'data\x1fMODIFY': '1', 'data/ks\x1fALTER': '1', 'data/ks\x1fDROP': '1' });
    expect(await store.list('old')).toEqual([
      { role: 'old', resource: 'data', permissions: ['MODIFY'] },
      { role: 'old', resource: 'data/ks', permissions: ['ALTER', 'DROP'] },
    ]);
  });

  test('a legacy field rewritten between the read and the write fails the value guard: planned again, nothing resurrected', async () => {
    const key = h.names.rolePermissions('race');
    await h.cmd.hset(key, 'data', '["MODIFY","SELECT"]');
    let first = true;
    // Another node converts the field and revokes SELECT while this write is planned on the old value.
    const racing = async (ops: StoreOp[]) => {
      if (first) {
        first = false;
        await h.cmd.hdel(key, 'data');
        await h.cmd.hset(key, 'data\x1fMODIFY', '1');
      }
      return h.publish(ops);
    };
    const r = await store.grant('race', 'data', ['DROP'], racing);
    expect(r.permissions).toEqual(['DROP', 'MODIFY']);
    expect(h.published.filter((ops) => ops.some((o) => o.op === 'expect_field'))).toHaveLength(1);
    expect(await store.list('race')).toEqual([{ role: 'race', resource: 'data', permissions: ['DROP', 'MODIFY'] }]);
  });

  test('a publish refused by a guard writes nothing', async () => {
    const guarded = (ops: StoreOp[]) => h.publish([{ op: 'expect', key: `${h.names.cluster}:nothing-here`, exists: true }, ...ops]);
    await expect(store.grant('g', 'data', ['SELECT'], guarded)).rejects.toMatchObject({ kind: 'conflict' });
    expect(await h.cmd.exists(h.names.rolePermissions('g'))).toBe(0);
    expect(await h.cmd.xlen(h.names.log)).toBe(0);
  });

  test('a hand-written unreadable value reads as no grant, and a grant repairs it', async () => {
    await h.cmd.hset(h.names.rolePermissions('r'), 'data', 'not json', 'data/ok', '["SELECT"]');
    const g = await store.grantsOf(['r']);
    expect([...g.get('r')!.keys()]).toEqual(['data/ok']);
    await store.grant('r', 'data', ['MODIFY'], h.publish);
    expect(await h.cmd.hgetall(h.names.rolePermissions('r'))).toEqual({ 'data\x1fMODIFY': '1', 'data/ok': '["SELECT"]' });
  });

  test('concurrent grants on one role from one node all land', async () => {
    await Promise.all(['A', 'B', 'C', 'D', 'E'].map((p) => store.grant('c', 'data', [p], h.publish)));
    expect(await store.list('c')).toEqual([{ role: 'c', resource: 'data', permissions: ['A', 'B', 'C', 'D', 'E'] }]);
  });

  test('concurrent grants and revokes on one role from two stores (two nodes) commute: none is lost', async () => {
    const other = new RedisPermissionStore(h.cmd, h.names);
    await store.grant('c2', 'data', ['KEEP0', 'KEEP1', 'GONE0', 'GONE1'], h.publish);
    const perms = Array.from({ length: 30 }, (_, i) => `P${i}`);
    await Promise.all([
      ...perms.map((p, i) => (i % 2 === 0 ? store : other).grant('c2', 'data', [p], h.publish)),
      other.revoke('c2', 'data', ['GONE0'], h.publish),
      store.revoke('c2', 'data', ['GONE1'], h.publish),
    ]);
    expect((await store.list('c2'))[0]!.permissions).toEqual(['KEEP0', 'KEEP1', ...perms].sort());
  });

  test('Redis down: unavailable, nothing written', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    const s = new RedisPermissionStore(dead, h.names);
    await expect(s.grant('r', 'data', ['SELECT'], h.publish)).rejects.toMatchObject({ kind: 'unavailable' });
    // Already ended (retryStrategy null): ioredis 5's disconnect() would arm a 2 s timer for a socket
    // that has closed already, which kept this worker alive past the run.
    expect(dead.status).toBe('end');
  });
});
