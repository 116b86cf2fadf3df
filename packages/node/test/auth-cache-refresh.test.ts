/** AuthCache: refresh_ms and active update, the reloads that see changes made outside our API. */
import { drain, settingsFor } from './fakes';
import { NEW, OLD, clock, newHash, oldHash, open, pw, store, until, useAuthCache } from './auth-cache-harness';
useAuthCache();

describe('AuthCache', () => {
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

    it('a refresh that finds the same hash but LOGIN=false drops the verifier: the old password is refused from then on', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: true });
      clock.advance(10_000);
      // A change made outside our API: nothing invalidates the entry, only the reload sees it.
      store.put({ name: 'alice', hash: oldHash, memberOf: ['staff'], canLogin: false });
      await c.login('alice', OLD);
      await until(() => c.stats().credentials.loads === 2, 'background reload');
      // The merge itself must not carry the verifier over (fails if the reload keeps it)...
      expect(c.credentials.peek('alice')).toMatchObject({ hash: oldHash, canLogin: false });
      expect(c.credentials.peek('alice')!.verifier).toBeUndefined();
      const burnsBefore = pw.burns;
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
      // ...and the refusal looks like any other: one dummy bcrypt.
      expect(pw.burns).toBe(burnsBefore + 1);
      // Re-enabled (outside the API again): the password must pass bcrypt once more before it is cached.
      clock.advance(10_000);
      store.put({ name: 'alice', hash: oldHash, memberOf: ['staff'], canLogin: true });
      await c.login('alice', OLD);
      await until(() => c.stats().credentials.loads === 3, 'second background reload');
      const verifiesBefore = pw.verifies;
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: false });
      expect(pw.verifies).toBe(verifiesBefore + 1);
    });

    it('the cached path checks LOGIN itself: an entry holding a verifier that can no longer log in is refused', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      const held = c.credentials.peek('alice')!;
      expect(held.verifier).toBeDefined();
      // However an entry came to be like this (another backend's loader, a merge gone wrong), the
      // verifier alone must not let it in: fails if login() stops checking canLogin.
      c.credentials.set('alice', { ...held, canLogin: false });
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
      expect(c.syncLogin('alice', OLD)).toBeInstanceOf(Promise);
    });

    it('a refresh that finds LOGIN=false and a new hash refuses both passwords', async () => {
      const c = open(refreshing());
      await c.login('alice', OLD);
      clock.advance(10_000);
      store.put({ name: 'alice', hash: newHash, memberOf: ['staff'], canLogin: false });
      await c.login('alice', OLD);
      await until(() => c.stats().credentials.loads === 2, 'background reload');
      expect(c.credentials.peek('alice')!.verifier).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
      await expect(c.login('alice', NEW)).resolves.toEqual({ ok: false });
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

    it('an active update that finds LOGIN=false drops the verifier, and the next login is refused', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date'] });
      const c = open(settingsFor({ ttl_ms: 60_000, refresh_ms: 1000, active_update: true }));
      await c.login('alice', OLD);
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, cached: true });
      store.put({ name: 'alice', hash: oldHash, memberOf: ['staff'], canLogin: false });
      jest.advanceTimersByTime(1000);
      await until(() => c.stats().credentials.loads === 2, 'active update');
      expect(c.credentials.peek('alice')).toMatchObject({ canLogin: false });
      expect(c.credentials.peek('alice')!.verifier).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toEqual({ ok: false });
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
