/**
 * The caches in front of the LDAP store (real AuthCache, real slapd): the login check is a bind,
 * the fast verifier is kept after it, so a repeated login makes no LDAP round trip; a dead or
 * hung directory never blocks a cached login. The cache asks RoleStore.verifyPassword
 * (a bind) instead of bcrypt.
 */
import { startSlapd, type LdapHandle } from '@authcache/testkit';
import { AuthCache, type LoginOutcome } from '../src/cache/auth-cache';
import { loadLdapConfig } from '../src/roles/ldap/config';
import { Directory } from '../src/roles/ldap/directory';
import { LdapRoleStore } from '../src/roles/ldap/store';
import { SpyPasswords, settingsFor, silentLog } from './fakes';

describe('AuthCache over the LDAP store (slapd)', () => {
  let ldap: LdapHandle;
  let store: LdapRoleStore;
  let cache: AuthCache;
  let pw: SpyPasswords;
  let binds = 0;

  beforeAll(async () => {
    ldap = await startSlapd({ preferOwn: true });
    const cfg = loadLdapConfig({ ...ldap.env, AUTHCACHE_LDAP_POLL_MS: '0', AUTHCACHE_LDAP_TIMEOUT_MS: '400' });
    store = new LdapRoleStore(cfg, new Directory(cfg, silentLog), silentLog);
    const verify = store.verifyPassword.bind(store);
    store.verifyPassword = (n, p) => {
      binds++;
      return verify(n, p);
    };
    await store.start();
    pw = new SpyPasswords();
    cache = new AuthCache(store, pw, settingsFor(), silentLog);
  });
  afterAll(async () => {
    cache?.close();
    await store?.stop();
    await ldap?.stop();
  });

  test('first login binds; the repeat is answered from the cache without LDAP and without a promise', async () => {
    const first = await cache.login('alice', 'alice-pw');
    expect(first).toEqual({ ok: true, roles: ['developers', 'engineering', 'staff'], superuser: false, cached: false });
    const before = binds;
    const again = cache.login('alice', 'alice-pw');
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toEqual({ ok: true, roles: ['developers', 'engineering', 'staff'], superuser: false, cached: true });
    expect(binds).toBe(before);
    expect(await cache.login('carol', 'carol-pw')).toMatchObject({ ok: true, superuser: true });
    // never bcrypt: the directory checks the password
    expect(pw.verifies).toBe(0);
  });

  test('wrong, empty, unknown, disabled, injected: the same "no", each paying a directory round trip, never bcrypt', async () => {
    for (const [u, p] of [['alice', 'nope'], ['alice', ''], ['ghost', 'x'], ['dave', 'dave-pw'], [')(uid=*', 'x'], ['*', 'alice-pw']] as const) {
      const before = binds;
      expect(await cache.login(u, p)).toEqual({ ok: false });
      expect(binds).toBe(before + 1);
    }
    expect(pw.verifies + pw.burns).toBe(0);
  });

  test('a password changed in the directory: after the invalidation the old one is refused', async () => {
    expect(await cache.login('bob', 'bob-pw')).toMatchObject({ ok: true });
    await ldap.passwd('bob', 'bob-new');
    cache.invalidateUsers(['bob']); // what the poller's ConfigUpdate does on every node
    expect(await cache.login('bob', 'bob-pw')).toEqual({ ok: false });
    expect(await cache.login('bob', 'bob-new')).toMatchObject({ ok: true, cached: false });
  });

  test('LDAP down or hung: cached logins answer at once; uncached ones fail (503 at the node)', async () => {
    await cache.login('erin', 'erin-pw');
    ldap.pause();
    try {
      const uncached = Promise.resolve(cache.login('carol', 'wrong-so-not-cached')).then(
        (o: LoginOutcome) => o,
        (e: unknown) => e,
      );
      const t0 = process.hrtime.bigint();
      const hot = cache.login('erin', 'erin-pw');
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      expect(hot).toEqual({ ok: true, roles: [], superuser: false, cached: true });
      expect(us).toBeLessThan(5000);
      cache.invalidateUsers(['alice']);
      await expect(Promise.resolve(cache.login('alice', 'alice-pw'))).rejects.toMatchObject({ kind: 'unavailable' });
      await uncached;
    } finally {
      ldap.resume();
    }
  });
});
