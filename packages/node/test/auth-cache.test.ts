import { AuthCache, type LoginOutcome } from '../src/cache/auth-cache';
import { Passwords } from '../src/roles/passwords';
import type { CacheSettings } from '../src/cache/settings';
import type { CacheName } from '@authcache/protocol';
import { FakeClock, FakeRoleStore, SpyPasswords, drain, settingsFor, silentLog } from './fakes';

const OLD = 'correct horse';
const NEW = 'battery staple';
let oldHash: string;
let newHash: string;

beforeAll(async () => {
  const p = new Passwords(4);
  [oldHash, newHash] = await Promise.all([p.hash(OLD), p.hash(NEW)]);
});

/** Runs queued work until `done()` holds; a bounded loop over the event queue, not a timer. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await drain();
  if (!done()) throw new Error(`never happened: ${what}`);
}

describe('AuthCache', () => {
  let clock: FakeClock;
  let store: FakeRoleStore;
  let pw: SpyPasswords;
  let cache: AuthCache | undefined;

  // The hot path answers without a promise; the tests await every answer alike.
  class AwaitableAuthCache extends AuthCache {
    override login(username: string, password: string, trustCache?: boolean): Promise<LoginOutcome> {
      return Promise.resolve(super.login(username, password, trustCache));
    }
    syncLogin(username: string, password: string) {
      return super.login(username, password);
    }
  }
  const open = (s: Record<CacheName, CacheSettings> = settingsFor()) => {
    const c = new AwaitableAuthCache(store, pw, s, silentLog, clock.now);
    cache = c;
    return c;
  };

  beforeEach(() => {
    clock = new FakeClock();
    store = new FakeRoleStore();
    pw = new SpyPasswords();
    store.put({ name: 'admin', superuser: true, canLogin: false });
    store.put({ name: 'staff', memberOf: ['admin'], canLogin: false });
    store.put({ name: 'alice', hash: oldHash, memberOf: ['staff'] });
    store.put({ name: 'bob', hash: oldHash });
    store.put({ name: 'svc', hash: oldHash, canLogin: false });
    store.put({ name: 'nopass' });
  });
  afterEach(() => {
    cache?.close();
    cache = undefined;
  });

  describe('login', () => {
    it('a first login reads the backend, runs bcrypt and resolves roles transitively', async () => {
      const c = open();
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: true, roles: ['admin', 'staff'], superuser: true, cached: false });
      expect(store.reads).toMatchObject({ credentials: 1, roles: 1 });
      expect(pw.verifies).toBe(1);
      expect(c.stats().credentials).toMatchObject({ size: 1, misses: 1, loads: 1 });
      expect(c.stats().roles).toMatchObject({ size: 1, misses: 1, loads: 1 });
    });

    it('a second login with the same password is served from the cache without bcrypt', async () => {
      const c = open();
      await c.login('alice', OLD);
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: true, roles: ['admin', 'staff'], superuser: true, cached: true });
      expect(pw.verifies).toBe(1);
      expect(store.reads).toMatchObject({ credentials: 1, roles: 1 });
      expect(c.stats().credentials).toMatchObject({ hits: 1, misses: 1 });
    });

    it('never keeps the password itself in an entry', async () => {
      const c = open();
      await c.login('alice', OLD);
      const e = c.credentials.peek('alice')!;
      expect(JSON.stringify(e)).not.toContain(OLD);
      expect(e.verifier).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(e.verifier).not.toContain(OLD);
    });

    it('concurrent checks of the same password share one bcrypt', async () => {
      const c = open();
      await c.login('alice', OLD);
      c.invalidateUsers(['alice'], ['credentials']);
      await c.login('bob-does-not-exist', OLD); // settles nothing for alice
      const before = pw.verifies;
      const answers = await Promise.all([c.login('alice', OLD), c.login('alice', OLD), c.login('alice', OLD)]);
      expect(answers.every((a) => a.ok)).toBe(true);
      expect(pw.verifies - before).toBe(1);
    });

    it('a login the caches answer whole comes back without a promise', async () => {
      const c = open();
      await c.login('alice', OLD);
      const r = c.syncLogin('alice', OLD);
      expect(r).not.toBeInstanceOf(Promise);
      expect(r).toEqual({ ok: true, roles: ['admin', 'staff'], superuser: true, cached: true });
      expect(c.syncLogin('alice', 'wrong')).toBeInstanceOf(Promise);
    });

    it('a wrong password is rejected even when the user is cached, and does not replace the verifier', async () => {
      const c = open();
      await c.login('alice', OLD);
      await expect(c.login('alice', NEW)).resolves.toEqual({ ok: false });
      // The wrong password had to go through bcrypt: it does not match the verifier.
      expect(pw.verifies).toBe(2);
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: true });
      expect(pw.verifies).toBe(2);
    });

    it('a role with LOGIN=false is rejected, at the cost of one dummy bcrypt', async () => {
      const c = open();
      await expect(c.login('svc', OLD)).resolves.toEqual({ ok: false });
      expect(pw.burns).toBe(1);
      expect(pw.verifies).toBe(0);
    });

    it('an unknown user is rejected, at the cost of one dummy bcrypt', async () => {
      const c = open();
      await expect(c.login('mallory', OLD)).resolves.toEqual({ ok: false });
      expect(pw.burns).toBe(1);
      expect(store.reads.roles).toBe(0);
    });

    it('a role without a password is rejected', async () => {
      const c = open();
      await expect(c.login('nopass', '')).resolves.toEqual({ ok: false });
      await expect(c.login('nopass', 'x')).resolves.toEqual({ ok: false });
      expect(pw.burns).toBe(2);
    });

    it('a role whose roles read finds it gone is rejected, even with cached credentials', async () => {
      const c = open();
      await c.login('bob', OLD);
      store.roles.delete('bob');
      c.invalidateUsers(['bob'], ['roles']);
      await expect(c.login('bob', OLD)).resolves.toEqual({ ok: false });
      expect(store.reads.credentials).toBe(1);
    });

    it('concurrent misses for one user share one backend read', async () => {
      const c = open();
      const release = store.hold('credentials');
      const logins = [c.login('alice', OLD), c.login('alice', OLD), c.login('alice', OLD)];
      await store.readStarted('credentials');
      release();
      const results = await Promise.all(logins);
      for (const r of results) expect(r).toMatchObject({ ok: true, roles: ['admin', 'staff'] });
      expect(store.reads.credentials).toBe(1);
      expect(store.reads.roles).toBe(1);
      expect(c.stats().credentials).toMatchObject({ misses: 3, loads: 1 });
    });

    it('a failed backend read rejects the login, is counted, and the next login reads again', async () => {
      const c = open();
      store.failNext.credentials = new Error('backend down');
      await expect(c.login('alice', OLD)).rejects.toThrow('backend down');
      expect(c.stats().credentials).toMatchObject({ load_failures: 1, loads: 0, size: 0 });
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true });
      expect(store.reads.credentials).toBe(2);
    });
  });

  describe('the load race', () => {
    it('a read that began before invalidateUsers is not cached, and the next login reads the backend again', async () => {
      const c = open();
      const release = store.hold('credentials');
      const racing = c.login('alice', OLD);
      await store.readStarted('credentials');
      // The password changes and the invalidation is applied while the old read is still out.
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'] });
      c.invalidateUsers(['alice']);
      release();
      // The racing login began before the change; what matters is that its result is not kept.
      await racing;
      expect(c.credentials.peek('alice')).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
      expect(store.reads.credentials).toBe(2);
      await expect(c.login('alice', NEW)).resolves.toMatchObject({ ok: true, cached: false });
    });

    it('a read that began before invalidateAll is not cached, and the next login reads the backend again', async () => {
      const c = open();
      const release = store.hold('credentials');
      const racing = c.login('alice', OLD);
      await store.readStarted('credentials');
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'] });
      c.invalidateAll();
      release();
      await racing;
      expect(c.credentials.peek('alice')).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
      expect(store.reads.credentials).toBe(2);
    });

    it('a login that starts after the invalidation does not join the older read still in flight', async () => {
      const c = open();
      const release = store.hold('credentials');
      const racing = c.login('alice', OLD);
      await store.readStarted('credentials');
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'] });
      c.invalidateUsers(['alice']);
      // Starts while the old read is still held: it must make its own read, which sees the new hash.
      const after = c.login('alice', OLD);
      release();
      await racing;
      await expect(after).resolves.toEqual({ ok: false });
      expect(store.reads.credentials).toBe(2);
      expect(c.credentials.peek('alice')!.hash).toBe(newHash);
    });

    it('after invalidateAll, a new login does not join the older read still in flight', async () => {
      const c = open();
      const release = store.hold('credentials');
      const racing = c.login('alice', OLD);
      await store.readStarted('credentials');
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'] });
      c.invalidateAll();
      const after = c.login('alice', OLD);
      release();
      await racing;
      await expect(after).resolves.toEqual({ ok: false });
      expect(store.reads.credentials).toBe(2);
    });

    it('a roles read that began before an invalidation is not cached', async () => {
      const c = open();
      const release = store.hold('roles');
      const racing = c.login('alice', OLD);
      await store.readStarted('roles');
      store.put({ name: 'alice', hash: oldHash, memberOf: [] });
      c.invalidateUsers(['alice'], ['roles']);
      release();
      await racing;
      expect(c.roles.peek('alice')).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, roles: [], superuser: false });
    });

    it('an invalidation of another user does not stop the read from being cached', async () => {
      const c = open();
      const release = store.hold('credentials');
      const p = c.login('alice', OLD);
      await store.readStarted('credentials');
      c.invalidateUsers(['bob']);
      release();
      await p;
      expect(c.credentials.peek('alice')).toBeDefined();
    });
  });

  describe('invalidation', () => {
    it('invalidateUsers with caches=[roles] leaves the credentials (and their verifier)', async () => {
      const c = open();
      await c.login('alice', OLD);
      c.invalidateUsers(['alice'], ['roles']);
      expect(c.credentials.peek('alice')).toBeDefined();
      expect(c.roles.peek('alice')).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: false });
      expect(pw.verifies).toBe(1);
      expect(store.reads).toMatchObject({ credentials: 1, roles: 2 });
    });

    it('invalidateUsers with caches=[credentials] leaves the roles', async () => {
      const c = open();
      await c.login('alice', OLD);
      c.invalidateUsers(['alice'], ['credentials']);
      expect(c.credentials.peek('alice')).toBeUndefined();
      expect(c.roles.peek('alice')).toBeDefined();
    });

    it('invalidateUsers touches only the users named', async () => {
      const c = open();
      await c.login('alice', OLD);
      await c.login('bob', OLD);
      c.invalidateUsers(['alice']);
      expect(c.credentials.keys()).toEqual(['bob']);
      expect(c.roles.keys()).toEqual(['bob']);
    });

    it('invalidateAll with caches=[credentials] keeps the roles cache', async () => {
      const c = open();
      await c.login('alice', OLD);
      await c.login('bob', OLD);
      c.invalidateAll(['credentials']);
      expect(c.credentials.size).toBe(0);
      expect(c.roles.size).toBe(2);
    });
  });

  describe('refresh_ms', () => {
    const refreshing = () => settingsFor({ ttl_ms: 60_000, refresh_ms: 10_000 });

    it('serves the old value and reloads in the background; a refresh that finds the same hash keeps the verifier', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      clock.advance(10_000);
      const releaseCred = store.hold('credentials');
      const releaseRoles = store.hold('roles');
      store.put({ name: 'alice', hash: oldHash, memberOf: [] });
      // Served from the cache while the reloads are held.
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: true, roles: ['admin', 'staff'], superuser: true, cached: true });
      expect(store.reads).toMatchObject({ credentials: 2, roles: 2 });
      // A second access while the refresh is out does not start another one.
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ cached: true });
      expect(store.reads).toMatchObject({ credentials: 2, roles: 2 });
      releaseCred();
      releaseRoles();
      await until(() => c.stats().credentials.loads === 2 && c.stats().roles.loads === 2, 'background reloads');
      expect(c.credentials.peek('alice')!.loadedAt).toBe(clock.t);
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: true, roles: [], superuser: false, cached: true });
      expect(pw.verifies).toBe(1);
    });

    it('a refresh that finds a new hash drops the verifier', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      clock.advance(10_000);
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'] });
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: true });
      await until(() => c.stats().credentials.loads === 2, 'background reload');
      expect(c.credentials.peek('alice')!.verifier).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
      await expect(c.login('alice', NEW)).resolves.toMatchObject({ ok: true, cached: false });
    });

    it('before refresh_ms has passed nothing is reloaded', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      clock.advance(9_999);
      await c.login('alice', OLD);
      await drain();
      expect(store.reads).toMatchObject({ credentials: 1, roles: 1 });
    });

    it('a failed background refresh keeps serving the cached value', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      clock.advance(10_000);
      store.failNext.credentials = new Error('backend down');
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: true });
      await until(() => c.stats().credentials.load_failures === 1, 'refresh failure');
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: true });
    });

    it('without refresh_ms an entry is served until its TTL, then read again', async () => {
      const c = open(settingsFor({ ttl_ms: 60_000 }));
      await c.login('alice', OLD);
      clock.advance(59_999);
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ cached: true });
      clock.advance(1);
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: false });
      expect(store.reads.credentials).toBe(2);
    });
  });

  describe('trustCache=false', () => {
    it('reads the backend every time and caches nothing', async () => {
      const c = open();
      await expect(c.login('alice', OLD, false)).resolves.toMatchObject({ ok: true, cached: false, roles: ['admin', 'staff'] });
      await expect(c.login('alice', OLD, false)).resolves.toMatchObject({ ok: true, cached: false });
      expect(store.reads).toMatchObject({ credentials: 2, roles: 2 });
      expect(pw.verifies).toBe(2);
      expect(c.credentials.size).toBe(0);
      expect(c.roles.size).toBe(0);
    });

    it('ignores what the cache holds: a revocation the node missed is seen', async () => {
      const c = open();
      await c.login('alice', OLD);
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'] });
      await expect(c.login('alice', OLD, false)).resolves.toEqual({ ok: false });
      // ...and it did not overwrite the cache either.
      expect(c.credentials.peek('alice')!.hash).toBe(oldHash);
    });
  });

  describe('settings', () => {
    it('ttl 0 caches nothing: every login reads the backend and runs bcrypt', async () => {
      const c = open(settingsFor({ ttl_ms: 0 }));
      await c.login('alice', OLD);
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: false });
      expect(store.reads).toMatchObject({ credentials: 2, roles: 2 });
      expect(pw.verifies).toBe(2);
    });

    it('configure keeps entries still valid, and disabling one cache leaves the other', async () => {
      const c = open();
      await c.login('alice', OLD);
      c.configure(settingsFor({ ttl_ms: 120_000 }));
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ cached: true });
      c.configure(settingsFor({ ttl_ms: 120_000 }, { roles: { ttl_ms: 0 } }));
      expect(c.roles.size).toBe(0);
      expect(c.credentials.size).toBe(1);
      expect(c.currentSettings().roles.enabled).toBe(false);
    });
  });

  describe('warm', () => {
    it('loads stored hashes and roles of the login roles, bounded by max_entries; the first login still runs bcrypt', async () => {
      const c = open(settingsFor({}, { credentials: { max_entries: 50 }, roles: { max_entries: 20 } }));
      // nopass can log in (it just has no password yet), so it is warmed too.
      await expect(c.warm()).resolves.toBe(3);
      expect(store.lastLoginRolesLimit).toBe(20);
      expect(c.credentials.keys().sort()).toEqual(['alice', 'bob', 'nopass']);
      expect(c.roles.keys().sort()).toEqual(['alice', 'bob', 'nopass']);
      expect(c.credentials.peek('svc')).toBeUndefined();

      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: true, roles: ['admin', 'staff'], superuser: true, cached: false });
      expect(pw.verifies).toBe(1);
      expect(store.reads).toMatchObject({ credentials: 0, roles: 0 });
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ cached: true });
      expect(pw.verifies).toBe(1);
    });

    it('skips users invalidated while warming', async () => {
      const c = open();
      const release = store.hold('loginRoles');
      const w = c.warm();
      await store.readStarted('loginRoles');
      c.invalidateUsers(['bob']);
      c.invalidateUsers(['alice'], ['roles']);
      release();
      await w;
      expect(c.credentials.peek('bob')).toBeUndefined();
      expect(c.roles.peek('bob')).toBeUndefined();
      expect(c.credentials.peek('alice')).toBeDefined();
      expect(c.roles.peek('alice')).toBeUndefined();
      expect(c.credentials.peek('nopass')).toBeDefined();
    });

    it('stores nothing when everything was invalidated while warming', async () => {
      const c = open();
      const release = store.hold('loginRoles');
      const w = c.warm();
      await store.readStarted('loginRoles');
      c.invalidateAll();
      release();
      await w;
      expect(c.credentials.size).toBe(0);
      expect(c.roles.size).toBe(0);
    });

    it('does not read the backend when both caches are disabled', async () => {
      const c = open(settingsFor({ ttl_ms: 0 }));
      await expect(c.warm()).resolves.toBe(0);
      expect(store.reads.loginRoles).toBe(0);
    });

    it('a load that began after warming ended is cached normally', async () => {
      const c = open();
      const release = store.hold('loginRoles');
      const w = c.warm();
      await store.readStarted('loginRoles');
      c.invalidateUsers(['bob']);
      release();
      await w;
      await c.login('bob', OLD);
      expect(c.credentials.peek('bob')).toBeDefined();
    });
  });

  describe('active_update', () => {
    afterEach(() => jest.useRealTimers());

    it('reloads every held entry at each refresh interval and drops roles deleted since', async () => {
      // Only the interval timers are faked: bcrypt and the event queue must keep running.
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date'] });
      const c = open(settingsFor({ ttl_ms: 60_000, refresh_ms: 1000, active_update: true }));
      await c.login('alice', OLD);
      await c.login('bob', OLD);
      store.put({ name: 'alice', hash: oldHash, memberOf: [] });
      store.roles.delete('bob');
      jest.advanceTimersByTime(1000);
      await until(() => c.stats().credentials.loads === 4 && c.stats().roles.loads === 4, 'active update');
      await until(() => c.credentials.peek('bob') === undefined && c.roles.peek('bob') === undefined, 'bob dropped');
      expect(c.roles.peek('alice')!.roles).toEqual([]);
      // The verifier survived the reload of an unchanged hash.
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: true, roles: [], superuser: false, cached: true });
      expect(pw.verifies).toBe(2);
    });

    it('stops when active_update is turned off', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date'] });
      const c = open(settingsFor({ ttl_ms: 60_000, refresh_ms: 1000, active_update: true }));
      await c.login('alice', OLD);
      c.configure(settingsFor({ ttl_ms: 60_000, refresh_ms: 1000, active_update: false }));
      jest.advanceTimersByTime(5000);
      await drain();
      expect(store.reads).toMatchObject({ credentials: 1, roles: 1 });
    });
  });
});
