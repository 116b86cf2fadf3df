/** AuthCache: a backend read racing an invalidation, and cache warming. */
import { settingsFor } from './fakes';
import { NEW, OLD, newHash, oldHash, open, pw, store, useAuthCache } from './auth-cache-harness';
useAuthCache();

/**
 * Starts `start()` and waits until its backend read of `kind` has taken its snapshot, then holds it
 * there: whatever the test does before `release()` races that read.
 */
async function holdRead<T>(kind: 'credentials' | 'roles' | 'loginRoles', start: () => Promise<T>): Promise<{ pending: Promise<T>; release: () => void }> {
  const release = store.hold(kind);
  const pending = start();
  await store.readStarted(kind);
  return { pending, release };
}

describe('AuthCache', () => {
  describe('the load race', () => {
    it('a read that began before invalidateUsers is not cached, and the next login reads the backend again', async () => {
      const c = open();
      const { pending: racing, release } = await holdRead('credentials', () => c.login('alice', OLD));
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
      const { pending: racing, release } = await holdRead('credentials', () => c.login('alice', OLD));
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
      const { pending: racing, release } = await holdRead('credentials', () => c.login('alice', OLD));
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
      const { pending: racing, release } = await holdRead('credentials', () => c.login('alice', OLD));
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
      const { pending: racing, release } = await holdRead('roles', () => c.login('alice', OLD));
      store.put({ name: 'alice', hash: oldHash, memberOf: [] });
      c.invalidateUsers(['alice'], ['roles']);
      release();
      await racing;
      expect(c.roles.peek('alice')).toBeUndefined();
      await expect(c.login('alice', OLD)).resolves.toMatchObject({ ok: true, roles: [], superuser: false });
    });

    it('an invalidation of another user does not stop the read from being cached', async () => {
      const c = open();
      const { pending: racing, release } = await holdRead('credentials', () => c.login('alice', OLD));
      c.invalidateUsers(['bob']);
      release();
      await racing;
      expect(c.credentials.peek('alice')).toBeDefined();
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
      const { pending: warming, release } = await holdRead('loginRoles', () => c.warm());
      c.invalidateUsers(['bob']);
      c.invalidateUsers(['alice'], ['roles']);
      release();
      await warming;
      expect(c.credentials.peek('bob')).toBeUndefined();
      expect(c.roles.peek('bob')).toBeUndefined();
      expect(c.credentials.peek('alice')).toBeDefined();
      expect(c.roles.peek('alice')).toBeUndefined();
      expect(c.credentials.peek('nopass')).toBeDefined();
    });

    it('stores nothing when everything was invalidated while warming', async () => {
      const c = open();
      const { pending: warming, release } = await holdRead('loginRoles', () => c.warm());
      c.invalidateAll();
      release();
      await warming;
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
      const { pending: warming, release } = await holdRead('loginRoles', () => c.warm());
      c.invalidateUsers(['bob']);
      release();
      await warming;
      await c.login('bob', OLD);
      expect(c.credentials.peek('bob')).toBeDefined();
    });
  });
});
