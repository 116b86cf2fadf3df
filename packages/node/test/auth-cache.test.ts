/** AuthCache: logins, invalidation, trustCache=false and settings (races: auth-cache-races, refresh: auth-cache-refresh). */
import { settingsFor } from './fakes';
import { NEW, OLD, newHash, oldHash, open, pw, store, useAuthCache } from './auth-cache-harness';
useAuthCache();

describe('AuthCache', () => {
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
});
