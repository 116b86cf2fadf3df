/**
 * The LDAP role store against a real slapd (testkit startSlapd): login by bind, groups as roles,
 * nested groups, the admin group, locks, password changes, injection, read-only writes, outages.
 * The store is driven directly: the cache's verifyPassword wiring is not in this build yet.
 */
// ldapts is a dependency of packages/node only.
import { Client } from '../packages/node/node_modules/ldapts';
import { startSlapd, userDn, groupDn, waitFor, type LdapHandle } from '@authcache/testkit';
import { loadLdapConfig, type LdapConfig } from '../packages/node/src/roles/ldap/config';
import { Directory } from '../packages/node/src/roles/ldap/directory';

/** pino's Logger, as the store takes it (pino is a dependency of packages/node only). */
type Logger = ConstructorParameters<typeof Directory>[1];
import { LdapRoleStore, READ_ONLY_MESSAGE } from '../packages/node/src/roles/ldap/store';
import { RoleStoreError } from '../packages/node/src/roles/role-store';

export function quietLog(lines: string[] = []): Logger {
  const rec = (level: string) => (obj: unknown, msg?: string) => void lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  const log = { info: rec('info'), warn: rec('warn'), error: rec('error'), debug: () => undefined, trace: () => undefined, child: () => log };
  return log as unknown as Logger;
}

function storeFor(ldap: LdapHandle, over: Record<string, string> = {}): { store: LdapRoleStore; cfg: LdapConfig; logs: string[] } {
  const cfg = loadLdapConfig({ ...ldap.env, AUTHCACHE_LDAP_POLL_MS: '0', AUTHCACHE_LDAP_TIMEOUT_MS: '1500', ...over });
  const logs: string[] = [];
  const log = quietLog(logs);
  return { store: new LdapRoleStore(cfg, new Directory(cfg, log), log), cfg, logs };
}

describe('LDAP role store (slapd)', () => {
  let ldap: LdapHandle;
  let store: LdapRoleStore;
  const extra: LdapRoleStore[] = [];
  const open = async (over: Record<string, string>) => {
    const s = storeFor(ldap, over).store;
    extra.push(s);
    await s.start();
    return s;
  };

  beforeAll(async () => {
    ldap = await startSlapd({ preferOwn: true });
    store = storeFor(ldap).store;
    await store.start();
  });
  afterAll(async () => {
    await Promise.all([store, ...extra].map((s) => s.stop()));
    await ldap?.stop();
  });

  test('login is a bind: right password yes; wrong, empty, unknown no', async () => {
    expect(store.health()).toBe('up');
    expect(await store.verifyPassword('alice', 'alice-pw')).toBe(true);
    expect(await store.verifyPassword('alice', 'wrong')).toBe(false);
    expect(await store.verifyPassword('alice', '')).toBe(false);
    expect(await store.verifyPassword('ghost', 'alice-pw')).toBe(false);
    expect(await store.getCredentials('alice')).toEqual({ hash: expect.stringMatching(/^\{LDAP\}\d{14}Z$/), canLogin: true });
    expect(await store.getCredentials('ghost')).toBeNull();
  });

  test('an empty password never binds, even where the server allows unauthenticated binds', async () => {
    // The testkit's slapd has `allow bind_anon_dn`: a DN with no password binds (RFC 4513 §5.1.2).
    const raw = new Client({ url: ldap.url });
    await expect(raw.bind(userDn('erin'), '')).resolves.toBeUndefined();
    await raw.unbind();
    expect(await store.verifyPassword('erin', '')).toBe(false);
  });

  test('roles are group names, nested transitively; the admin group makes a superuser', async () => {
    expect(await store.resolveRoles('alice')).toEqual({ roles: ['developers', 'engineering', 'staff'], superuser: false });
    expect(await store.resolveRoles('bob')).toEqual({ roles: ['readers'], superuser: false });
    expect(await store.resolveRoles('carol')).toEqual({ roles: ['admins', 'readers'], superuser: true });
    expect(await store.resolveRoles('erin')).toEqual({ roles: [], superuser: false });
    expect(await store.resolveRoles('ghost')).toBeNull();
  });

  test('nesting is followed to AUTHCACHE_LDAP_GROUP_DEPTH levels', async () => {
    expect((await (await open({ AUTHCACHE_LDAP_GROUP_DEPTH: '1' })).resolveRoles('alice'))?.roles).toEqual(['developers']);
    expect((await (await open({ AUTHCACHE_LDAP_GROUP_DEPTH: '2' })).resolveRoles('alice'))?.roles).toEqual(['developers', 'engineering']);
  });

  test('memberOf mode (AUTHCACHE_LDAP_MEMBEROF_ATTR) gives the same roles', async () => {
    const m = await open({ AUTHCACHE_LDAP_MEMBEROF_ATTR: 'memberOf' });
    expect(await m.resolveRoles('alice')).toEqual({ roles: ['developers', 'engineering', 'staff'], superuser: false });
    expect(await m.resolveRoles('carol')).toEqual({ roles: ['admins', 'readers'], superuser: true });
    expect((await m.get('alice'))?.memberOf).toEqual(['developers']);
  });

  test('a disabled account (AUTHCACHE_LDAP_DISABLED_FILTER) is refused like a wrong password', async () => {
    expect(await store.verifyPassword('dave', 'dave-pw')).toBe(false);
    expect(await store.getCredentials('dave')).toEqual({ hash: expect.any(String), canLogin: false });
    // without the filter, the same entry binds: the refusal is the store's, not slapd's
    const noFilter = await open({ AUTHCACHE_LDAP_DISABLED_FILTER: '' });
    expect(await noFilter.verifyPassword('dave', 'dave-pw')).toBe(true);
    // locking and unlocking a user with ldapmodify
    await ldap.modify(`dn: ${userDn('erin')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`);
    expect(await store.verifyPassword('erin', 'erin-pw')).toBe(false);
    await ldap.modify(`dn: ${userDn('erin')}\nchangetype: modify\ndelete: pwdAccountLockedTime\n`);
    expect(await store.verifyPassword('erin', 'erin-pw')).toBe(true);
  });

  test.each(['*', ')(uid=*', '\0', 'alice\0', 'admin)(|(uid=*', 'alice)(uid=*', '*)(|(objectClass=*', 'ali*', 'ALICE', '\\', 'x'.repeat(5000)].map((n) => [JSON.stringify(n).slice(0, 30), n]))(
    'injection / odd username %s: refused without error',
    async (_label, name) => {
      expect(await store.verifyPassword(name, 'alice-pw')).toBe(false);
      expect(await store.getCredentials(name)).toBeNull();
      expect(await store.resolveRoles(name)).toBeNull();
      expect(await store.get(name)).toBeNull();
    },
  );

  test('a password changed with ldappasswd, then with ldapmodify: the old one is refused', async () => {
    const before = await store.getCredentials('bob');
    await ldap.passwd('bob', 'bob-new');
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(false);
    expect(await store.verifyPassword('bob', 'bob-new')).toBe(true);
    await ldap.modify(`dn: ${userDn('bob')}\nchangetype: modify\nreplace: userPassword\nuserPassword: bob-pw\n`);
    expect(await store.verifyPassword('bob', 'bob-new')).toBe(false);
    expect(await store.verifyPassword('bob', 'bob-pw')).toBe(true);
    // the credentials token changes with the entry (when a second has passed), so a refresh drops a fast verifier
    await new Promise((r) => setTimeout(r, 1100));
    await ldap.passwd('bob', 'bob-pw');
    expect((await store.getCredentials('bob'))?.hash).not.toBe(before?.hash);
  });

  test('a user removed from a group loses its role (and the nested ones)', async () => {
    await ldap.modify(`dn: ${groupDn('developers')}\nchangetype: modify\ndelete: member\nmember: ${userDn('alice')}\n`);
    try {
      expect(await store.resolveRoles('alice')).toEqual({ roles: [], superuser: false });
    } finally {
      await ldap.modify(`dn: ${groupDn('developers')}\nchangetype: modify\nadd: member\nmember: ${userDn('alice')}\n`);
    }
    expect((await store.resolveRoles('alice'))?.roles).toEqual(['developers', 'engineering', 'staff']);
  });

  test('reads: get, list, holdersOf; loginRoles is empty (no hashes to warm with)', async () => {
    expect(await store.get('alice')).toEqual({ name: 'alice', hash: undefined, canLogin: true, superuser: false, memberOf: ['developers'] });
    expect(await store.get('dave')).toMatchObject({ canLogin: false });
    expect(await store.get('developers')).toEqual({ name: 'developers', hash: undefined, canLogin: false, superuser: false, memberOf: ['engineering'] });
    expect(await store.get('admins')).toMatchObject({ superuser: true, memberOf: [] });
    const all = await store.list();
    expect(all.map((r) => r.name)).toEqual(['admins', 'alice', 'bob', 'carol', 'dave', 'developers', 'engineering', 'erin', 'readers', 'staff']);
    expect(all.find((r) => r.name === 'carol')?.memberOf).toEqual(['admins', 'readers']);
    expect((await store.list({ after: 'dave', limit: 2 })).map((r) => r.name)).toEqual(['developers', 'engineering']);
    expect(await store.holdersOf('staff')).toEqual(['alice', 'dave', 'developers', 'engineering']);
    expect(await store.holdersOf('admins')).toEqual(['carol']);
    expect(await store.holdersOf('alice')).toEqual([]);
    expect(await store.loginRoles(100)).toEqual([]);
  });

  test('read-only: every write is RoleStoreError read_only with the docs/architecture.md, "Backends" message', async () => {
    expect(store.capabilities.writable).toBe(false);
    for (const write of [() => store.upsert(), () => store.drop()]) {
      const err = await write().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RoleStoreError);
      expect(err).toMatchObject({ kind: 'read_only', message: READ_ONLY_MESSAGE });
    }
    expect(READ_ONLY_MESSAGE).toBe('roles are managed by the LDAP directory');
  });

  test('a wrong service account stops the start with a line naming the variable', async () => {
    const bad = storeFor(ldap, { AUTHCACHE_LDAP_BIND_PASSWORD: 'nope' }).store;
    await expect(bad.start()).rejects.toThrow(/AUTHCACHE_LDAP_BIND_DN: the directory refused the service account/);
    await bad.stop();
  });
});

describe('LDAP role store: directory down, slow, back', () => {
  let ldap: LdapHandle;
  let store: LdapRoleStore;
  beforeAll(async () => {
    ldap = await startSlapd({ preferOwn: true });
    store = storeFor(ldap, { AUTHCACHE_LDAP_TIMEOUT_MS: '400', AUTHCACHE_LDAP_POOL_SIZE: '2' }).store;
    await store.start();
  });
  afterAll(async () => {
    await store?.stop();
    await ldap?.stop();
  });

  const unavailable = async (p: Promise<unknown>, logs?: string[]) => {
    // A call that answers while the directory cannot is the failure: say what it answered, and what the store logged meanwhile.
    const err = await p.then(
      (value: unknown) => ({ answered: value, logs }),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RoleStoreError);
    expect((err as RoleStoreError).kind).toBe('unavailable');
  };

  test('slapd stopped: unavailable and health down; restarted: recovers by itself', async () => {
    expect(await store.verifyPassword('alice', 'alice-pw')).toBe(true);
    await ldap.stop();
    await unavailable(store.verifyPassword('alice', 'alice-pw'));
    await unavailable(store.resolveRoles('alice'));
    await unavailable(store.list());
    expect(store.health()).toBe('down');
    await ldap.restart();
    // no traffic needed: the probe brings health back
    await waitFor(() => store.health() === 'up', { timeoutMs: 5000, message: 'health did not come back' });
    expect(await store.verifyPassword('alice', 'alice-pw')).toBe(true);
  });

  test('a restart between two requests (idle pooled connections dead, no probe in between): the next search is bound again', async () => {
    // A probe every 2 s (timeout 5 s) and 2 idle connections in each pool.
    const quiet = storeFor(ldap, { AUTHCACHE_LDAP_TIMEOUT_MS: '5000', AUTHCACHE_LDAP_POOL_SIZE: '2' }).store;
    await quiet.start();
    try {
      await Promise.all([quiet.verifyPassword('alice', 'alice-pw'), quiet.verifyPassword('bob', 'bob-pw'), quiet.resolveRoles('carol'), quiet.resolveRoles('erin')]);
      await ldap.restart();
      // an anonymous (rebound-less) reconnect would find nobody: the ACL lets anonymous only bind
      expect(await quiet.resolveRoles('alice')).toEqual({ roles: ['developers', 'engineering', 'staff'], superuser: false });
      expect(await quiet.verifyPassword('alice', 'alice-pw')).toBe(true);
    } finally {
      await quiet.stop();
    }
  });

  test('slapd hung (SIGSTOP) before any connection is open: the start goes on, calls give up within the timeout, then recover', async () => {
    // A store with no connection yet: the kernel still accepts the TCP connections (slapd's listen
    // backlog), the binds never answer. A hung directory does not stop the start (the node starts
    // and answers 503 for what needs it), and no call waits much longer than the timeout for it.
    // (What ldapts bounds per step already holds here; directory.ts's one deadline over the whole
    // opening matters where each step is slow but answers, which the unit tests cover.)
    ldap.pause();
    const { store: fresh, logs } = storeFor(ldap, { AUTHCACHE_LDAP_TIMEOUT_MS: '400', AUTHCACHE_LDAP_POOL_SIZE: '2' });
    try {
      const t0 = Date.now();
      await fresh.start();
      expect(Date.now() - t0).toBeLessThan(1500);
      for (const call of [() => fresh.verifyPassword('alice', 'alice-pw'), () => fresh.resolveRoles('bob')]) {
        const t1 = Date.now();
        await unavailable(call(), logs);
        expect(Date.now() - t1).toBeLessThan(1500);
      }
      expect(fresh.health()).toBe('down');
      ldap.resume();
      await waitFor(() => fresh.health() === 'up', { timeoutMs: 5000, message: 'health did not come back' });
      expect(await fresh.verifyPassword('alice', 'alice-pw')).toBe(true);
    } finally {
      ldap.resume();
      await fresh.stop();
    }
  });

  test('slapd hung (SIGSTOP): each operation gives up within the timeout; SIGCONT: recovers', async () => {
    ldap.pause();
    try {
      const t0 = Date.now();
      await unavailable(store.verifyPassword('alice', 'alice-pw'));
      expect(Date.now() - t0).toBeLessThan(1500);
      // more callers than the pool: they wait at most the timeout too
      const t1 = Date.now();
      await Promise.all([1, 2, 3, 4, 5].map(() => unavailable(store.resolveRoles('bob'))));
      expect(Date.now() - t1).toBeLessThan(1500);
      expect(store.health()).toBe('down');
    } finally {
      ldap.resume();
    }
    await waitFor(() => store.health() === 'up', { timeoutMs: 5000, message: 'health did not come back' });
    expect(await store.resolveRoles('bob')).toEqual({ roles: ['readers'], superuser: false });
  });
});
