/**
 * The permissions service on fakes: checks through the role hierarchy and both caches, the
 * invalidation every grant and revoke publishes with its write, the load race, staleness
 * (an untrusted node caches nothing), impersonation and its cache, settings.
 */
import type { CacheSettings } from '@authcache/protocol';
import { PermissionService, invalidation, type InvalidationChange } from '../src/permissions';
import type { StoreOp } from '../src/bus/transport';
import type { ResolvedRoles } from '../src/roles/role-store';
import { resolveGrants } from '../src/roles/grant-graph';
import { FakeClock, deferred, silentLog } from './fakes';
import { MemoryPermissionStore, describePermissionStore, propagation } from './permissions-support';
import { HttpError } from '../src/errors';

const SETTINGS: CacheSettings = { ttl_ms: 60_000, max_entries: 100, refresh_ms: 0, active_update: false, enabled: true };

describePermissionStore('memory', async () => {
  const published: StoreOp[][] = [];
  let seq = 0;
  return { store: new MemoryPermissionStore(), published, publish: async (ops) => (published.push(ops), propagation(++seq)), close: async () => {} };
});

interface Harness {
  svc: PermissionService;
  store: MemoryPermissionStore;
  memberOf: Map<string, string[]>;
  superusers: Set<string>;
  published: Array<{ change: InvalidationChange; ops: StoreOp[] }>;
  rolesReads: number;
  trusted: boolean;
  clock: FakeClock;
  /** the roles cache as the node's: held entries answer synchronously */
  rolesCache: Map<string, ResolvedRoles>;
  apply(change: InvalidationChange): void;
}

function harness(settings: Partial<CacheSettings> = {}): Harness {
  const clock = new FakeClock();
  const store = new MemoryPermissionStore();
  const h = { store, memberOf: new Map<string, string[]>(), superusers: new Set<string>(), published: [], rolesReads: 0, trusted: true, clock, rolesCache: new Map() } as unknown as Harness;
  const resolve = (u: string): ResolvedRoles | null => resolveGrants(u, (n) => (h.memberOf.has(n) ? { memberOf: h.memberOf.get(n)!, superuser: h.superusers.has(n) } : undefined));
  let seq = 0;
  h.svc = new PermissionService({
    store,
    roles: (u, trusted) => {
      const hit = trusted ? h.rolesCache.get(u) : undefined;
      if (hit) return hit;
      h.rolesReads++;
      return Promise.resolve(resolve(u)).then((r) => {
        if (r && trusted) h.rolesCache.set(u, r);
        return r;
      });
    },
    holdersOf: async (role) => [...h.memberOf.keys()].filter((u) => u !== role && (resolve(u)?.roles ?? []).includes(role)).sort(),
    roleExists: async (role) => h.memberOf.has(role),
    publish: async (change, ops) => {
      h.published.push({ change, ops });
      // The bus applies it on every node before the call returns: here, this one.
      h.apply(change);
      return propagation(++seq);
    },
    trusted: () => h.trusted,
    settings: { permissions: { ...SETTINGS, ...settings }, impersonation: { ...SETTINGS, ...settings } },
    log: silentLog,
    now: clock.now,
  });
  h.apply = (c) => (c.kind === 'flush_all' ? h.svc.invalidateAll(c.body.caches) : h.svc.invalidateUsers(c.body.usernames, c.body.caches));
  return h;
}

function roles(h: Harness, spec: Record<string, string[]>): void {
  for (const [name, memberOf] of Object.entries(spec)) h.memberOf.set(name, memberOf);
}

afterEach(() => jest.useRealTimers());

describe('authorize', () => {
  test('through the role hierarchy: the second check is answered synchronously from both caches', async () => {
    const h = harness();
    roles(h, { readers: [], staff: ['readers'], alice: ['staff'] });
    await h.svc.grant('readers', 'data/ks', ['SELECT']);
    const first = await h.svc.authorize('alice', 'data/ks/t', 'SELECT');
    expect(first).toEqual({ allowed: true, via: 'readers', cached: false });
    const second = h.svc.authorize('alice', 'data/ks/t', 'select');
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual({ allowed: true, via: 'readers', cached: true });
    expect(h.svc.authorize('alice', 'data/other', 'SELECT')).toEqual({ allowed: false, via: null, cached: true });
    expect(h.svc.stats().permissions).toMatchObject({ size: 1, loads: 1 });
  });

  test('an unknown user is refused, never an error', async () => {
    const h = harness();
    expect(await h.svc.authorize('ghost', 'data', 'SELECT')).toEqual({ allowed: false, via: null, cached: false });
  });

  test('a superuser is allowed everything', async () => {
    const h = harness();
    roles(h, { admin: [], root: ['admin'] });
    h.superusers.add('admin');
    expect(await h.svc.authorize('root', 'data/x', 'DROP')).toMatchObject({ allowed: true, via: null });
  });

  test('batch: one resolution, results in order', async () => {
    const h = harness();
    roles(h, { bob: [] });
    await h.svc.grant('bob', 'data', ['SELECT']);
    const r = await h.svc.authorizeMany('bob', [
      { resource: 'data/a', permission: 'SELECT' },
      { resource: 'data/a', permission: 'MODIFY' },
    ]);
    expect(r.map((x) => x.allowed)).toEqual([true, false]);
    expect(h.store.reads).toBe(1);
  });
});

describe('grant and revoke invalidate what they affect, with the write', () => {
  test('a revoke on a parent role is refused at once to every holder', async () => {
    const h = harness();
    roles(h, { readers: [], staff: ['readers'], alice: ['staff'], other: [] });
    await h.svc.grant('readers', 'data', ['SELECT']);
    await h.svc.authorize('alice', 'data/ks', 'SELECT');
    await h.svc.authorize('other', 'data/ks', 'SELECT');
    const r = await h.svc.revoke('readers', 'data', ['SELECT']);
    expect(r).toMatchObject({ role: 'readers', resource: 'data', permissions: [], seq: 2, nodes: { total: 1, successful: 1, failed: 0 }, failures: [] });
    const last = h.published.at(-1)!;
    expect(last.change).toEqual({ kind: 'flush_users', body: { usernames: ['readers', 'alice', 'staff'], caches: ['permissions', 'impersonation'] } });
    expect(last.ops.length).toBeGreaterThan(0);
    expect(h.svc.authorize('alice', 'data/ks', 'SELECT')).toBeInstanceOf(Promise);
    expect(await h.svc.authorize('alice', 'data/ks', 'SELECT')).toMatchObject({ allowed: false });
    // Untouched entries stay cached.
    expect(h.svc.authorize('other', 'data/ks', 'SELECT')).toEqual({ allowed: false, via: null, cached: true });
  });

  test('bad input is a 400 naming the problem; a missing role a 404; nothing is published', async () => {
    const h = harness();
    roles(h, { r: [] });
    await expect(h.svc.grant('r', 'data//x', ['SELECT'])).rejects.toMatchObject({ status: 400, message: expect.stringContaining('empty segment') });
    await expect(h.svc.grant('r', 'data', [])).rejects.toMatchObject({ status: 400 });
    await expect(h.svc.grant('r', 'data', ['DROP TABLE'])).rejects.toMatchObject({ status: 400 });
    await expect(h.svc.grant('nope', 'data', ['SELECT'])).rejects.toMatchObject({ status: 404 });
    await expect(h.svc.list('nope')).rejects.toMatchObject({ status: 404 });
    expect(h.published).toHaveLength(0);
  });

  test('a store failure is a 503', async () => {
    const h = harness();
    roles(h, { r: [] });
    h.store.failNext = new Error('connection lost');
    roles(h, { u: ['r'] });
    await expect(h.svc.authorizeMany('u', [{ resource: 'data', permission: 'SELECT' }])).rejects.toMatchObject({ status: 503 });
  });

  test('past 5000 affected users the update flushes the authorization caches instead', () => {
    const many = Array.from({ length: 5001 }, (_, i) => `u${i}`);
    expect(invalidation(many)).toEqual({ kind: 'flush_all', body: { caches: ['permissions', 'impersonation'] } });
  });

  test('list shows direct grants by resource', async () => {
    const h = harness();
    roles(h, { r: [] });
    await h.svc.grant('r', 'data/b', ['SELECT']);
    await h.svc.grant('r', 'data/a', ['modify', 'select']);
    expect(await h.svc.list('r')).toEqual([
      { resource: 'data/a', permissions: ['MODIFY', 'SELECT'] },
      { resource: 'data/b', permissions: ['SELECT'] },
    ]);
  });
});

describe('cache rules', () => {
  test('load race: a read that began before an invalidation does not store its older result', async () => {
    const h = harness();
    roles(h, { u: [] });
    await h.svc.grant('u', 'data', ['SELECT']);
    h.rolesCache.set('u', { roles: [], superuser: false });
    const gate = deferred<void>();
    h.store.gate = gate.promise;
    const pending = h.svc.authorize('u', 'data', 'SELECT');
    h.store.gate = undefined;
    await h.svc.revoke('u', 'data', ['SELECT']);
    gate.resolve();
    expect(await pending).toMatchObject({ allowed: true });
    // Its result was not kept: the next check reads again and sees the revoke.
    expect(await h.svc.authorize('u', 'data', 'SELECT')).toMatchObject({ allowed: false, cached: false });
  });

  test('an out-of-sync node reads the backend and caches nothing', async () => {
    const h = harness();
    roles(h, { u: [] });
    await h.svc.grant('u', 'data', ['SELECT']);
    h.trusted = false;
    expect(await h.svc.authorize('u', 'data', 'SELECT')).toEqual({ allowed: true, via: 'u', cached: false });
    h.store.grants.clear();
    expect(await h.svc.authorize('u', 'data', 'SELECT')).toMatchObject({ allowed: false, cached: false });
    expect(h.svc.stats().permissions.size).toBe(0);
  });

  test('TTL: an entry expires, and a shortened TTL applies to entries held; a flush of other caches keeps it', async () => {
    const h = harness();
    roles(h, { u: [] });
    await h.svc.authorize('u', 'data', 'SELECT');
    expect(h.svc.authorize('u', 'data', 'SELECT')).not.toBeInstanceOf(Promise);
    h.svc.invalidateAll(['credentials', 'roles']);
    expect(h.svc.authorize('u', 'data', 'SELECT')).not.toBeInstanceOf(Promise);
    h.clock.advance(10_000);
    h.svc.configure({ permissions: { ...SETTINGS, ttl_ms: 5_000 }, impersonation: SETTINGS });
    expect(h.svc.authorize('u', 'data', 'SELECT')).toBeInstanceOf(Promise);
  });

  test('ttl 0 disables the cache; max_entries bounds it by eviction', async () => {
    const h = harness({ max_entries: 2 });
    roles(h, { a: [], b: [], c: [] });
    for (const u of ['a', 'b', 'c']) await h.svc.authorize(u, 'data', 'SELECT');
    expect(h.svc.stats().permissions).toMatchObject({ size: 2, evictions: 1 });
    h.svc.configure({ permissions: { ...SETTINGS, ttl_ms: 0, enabled: false }, impersonation: SETTINGS });
    await h.svc.authorize('a', 'data', 'SELECT');
    expect(h.svc.stats().permissions.size).toBe(0);
  });

  test('refresh: a due entry is served and reloaded in the background', async () => {
    const h = harness({ refresh_ms: 1_000 });
    roles(h, { u: [] });
    await h.svc.authorize('u', 'data', 'SELECT');
    await h.svc.grant('u', 'data', ['SELECT']); // invalidates u
    await h.svc.authorize('u', 'data', 'SELECT');
    h.store.grants.clear(); // changed behind our back (no invalidation)
    h.clock.advance(1_500);
    expect(h.svc.authorize('u', 'data', 'SELECT')).toMatchObject({ allowed: true, cached: true });
    await new Promise((r) => setImmediate(r));
    expect(h.svc.authorize('u', 'data', 'SELECT')).toMatchObject({ allowed: false, cached: true });
  });

  test('active update reloads held entries at each refresh interval', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    const h = harness({ refresh_ms: 1_000, active_update: true });
    roles(h, { u: [] });
    await h.svc.grant('u', 'data', ['SELECT']);
    await h.svc.authorize('u', 'data', 'SELECT');
    const reads = h.store.reads;
    jest.advanceTimersByTime(1_000);
    await new Promise((r) => setImmediate(r));
    expect(h.store.reads).toBe(reads + 1);
    h.svc.close();
  });
});

describe('impersonation', () => {
  test('allowed with IMPERSONATE on roles/TARGET or on roles; cached; refused otherwise with a 403', async () => {
    const h = harness();
    roles(h, { ops: [], eve: ['ops'], mallory: [], bob: [] });
    await h.svc.grant('ops', 'roles/bob', ['IMPERSONATE']);
    expect(await h.svc.impersonation.allowed('eve', 'bob')).toBe(true);
    expect(h.svc.impersonation.allowed('eve', 'bob')).toBe(true);
    expect(h.svc.stats().impersonation).toMatchObject({ size: 1, hits: 1 });
    await expect(h.svc.impersonation.require('mallory', 'bob')).rejects.toBeInstanceOf(HttpError);
    await expect(h.svc.impersonation.require('mallory', 'bob')).rejects.toMatchObject({ status: 403 });
    await expect(h.svc.impersonation.require('eve', 'ops/x')).rejects.toMatchObject({ status: 400 });
    expect(await h.svc.impersonation.resolve('eve', 'bob')).toEqual({ roles: [], superuser: false });
  });

  test('a revoke drops the decision on every entry involving the caller; a user flush drops entries of the target', async () => {
    const h = harness();
    roles(h, { ops: [], eve: ['ops'], bob: [] });
    await h.svc.grant('ops', 'roles', ['IMPERSONATE']);
    expect(await h.svc.impersonation.allowed('eve', 'bob')).toBe(true);
    await h.svc.revoke('ops', 'roles', ['IMPERSONATE']);
    expect(await h.svc.impersonation.allowed('eve', 'bob')).toBe(false);
    expect(h.svc.impersonation.allowed('eve', 'bob')).toBe(false);
    h.svc.invalidateUsers(['bob']);
    expect(h.svc.impersonation.allowed('eve', 'bob')).toBeInstanceOf(Promise);
  });

  test('login impersonation of a user that does not exist is a 403', async () => {
    const h = harness();
    roles(h, { admin: [], root: ['admin'] });
    h.superusers.add('admin');
    await expect(h.svc.impersonation.resolve('root', 'nobody')).rejects.toMatchObject({ status: 403 });
  });
});
