/**
 * AUTHCACHE_BACKEND=ldap with 3 real node processes, a real Redis and a real slapd: login by
 * bind, groups as roles, the read-only role API, and directory changes reaching every node
 * within the stated bound (AUTHCACHE_LDAP_POLL_MS + one poll round + the bus).
 */
import { startCluster, startRedis, startSlapd, groupDn, userDn, waitFor, type ClusterHandle, type LdapHandle, type RedisHandle } from '@authcache/testkit';
import { call } from './support';

const POLL_MS = 500;
const SETUP_MS = 90_000;

describe('LDAP backend across 3 nodes', () => {
  let ldap: LdapHandle;
  let redis: RedisHandle;
  let cluster: ClusterHandle;
  const delays: number[] = [];

  const login = (url: string, username: string, password: string) => call(url, 'POST', '/v1/login', { json: { username, password } });
  const statuses = async (username: string, password: string) => Promise.all(cluster.urls.map((u) => login(u, username, password).then((r) => r.status)));
  /**
   * Cached on every node. Polled, not asserted on the second login: CI once saw the second login
   * right after a slapd restart answer cached:false, as if an invalidation of the user had dropped
   * the entry in between (not pinned down; a late duplicate of an earlier change's invalidation,
   * which the poller may send, would do it). Each login that misses caches it again. The first test
   * asserts that the repeat is cached.
   */
  const warm = async (username: string, password: string) => {
    for (const u of cluster.urls) {
      await waitFor(async () => (await login(u, username, password)).json?.cached === true, { timeoutMs: 10_000, intervalMs: 25, message: `${username} never cached on ${u}` });
    }
  };
  /** Waits until `check` holds on every node; records the delay since `t0`. */
  const everywhere = async (t0: number, check: () => Promise<boolean>, what: string) => {
    await waitFor(check, { timeoutMs: 10_000, intervalMs: 25, message: what });
    delays.push(Date.now() - t0);
  };

  beforeAll(async () => {
    [ldap, redis] = await Promise.all([startSlapd({ preferOwn: true }), startRedis()]);
    cluster = await startCluster({ redisUrl: redis.url, size: 3, env: { ...ldap.env, AUTHCACHE_LDAP_POLL_MS: String(POLL_MS), AUTHCACHE_LDAP_RESCAN_MS: '2000' } });
  }, SETUP_MS);
  afterAll(async () => {
    await cluster?.stop();
    await Promise.all([redis?.stop(), ldap?.stop()]);
    if (delays.length) {
      const s = [...delays].sort((a, b) => a - b);
      // eslint-disable-next-line no-console
      console.log(`LDAP change -> refused on all 3 nodes (poll ${POLL_MS} ms, n=${s.length}): p50 ${s[Math.floor(s.length / 2)]} ms, max ${s.at(-1)} ms`);
    }
  }, SETUP_MS);

  test('login by bind on every node; roles are groups (nested), the admin group a superuser; the repeat is cached', async () => {
    for (const u of cluster.urls) {
      const first = await login(u, 'alice', 'alice-pw');
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ username: 'alice', roles: ['developers', 'engineering', 'staff'], superuser: false, cached: false });
      expect((await login(u, 'alice', 'alice-pw')).json).toMatchObject({ cached: true });
      expect((await login(u, 'carol', 'carol-pw')).json).toMatchObject({ roles: ['admins', 'readers'], superuser: true });
    }
  });

  test('wrong password, unknown user, locked account, empty password, injections: the same 401 everywhere', async () => {
    for (const [user, pw] of [['alice', 'nope'], ['ghost', 'x'], ['dave', 'dave-pw'], ['alice', ''], ['*', 'alice-pw'], [')(uid=*', 'x'], ['admin)(|(uid=*', 'x'], ['alice\u0000', 'alice-pw']]) {
      for (const u of cluster.urls) {
        const r = await login(u, user!, pw!);
        if (r.status === 400) continue; // refused by the body schema before the backend (an empty password, a NUL)
        expect({ user, status: r.status, body: r.json }).toEqual({ user, status: 401, body: { error: 'invalid credentials' } });
      }
    }
  });

  test('the role write API answers 409: roles are managed by the LDAP directory; reads list the directory', async () => {
    const put = await call(cluster.urls[0]!, 'PUT', '/v1/roles/newrole', { token: cluster.token, json: { login: true, password: 'x-very-long-pw' } });
    expect(put.status).toBe(409);
    expect(put.json).toEqual({ error: 'roles are managed by the LDAP directory' });
    const del = await call(cluster.urls[1]!, 'DELETE', '/v1/roles/alice', { token: cluster.token });
    expect(del.status).toBe(409);
    const list = await call(cluster.urls[2]!, 'GET', '/v1/roles', { token: cluster.token });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.json)).toContain('engineering');
  });

  test('a password changed with ldappasswd is refused on every node within the bound', async () => {
    await warm('bob', 'bob-pw');
    const t0 = Date.now();
    await ldap.passwd('bob', 'bob-new');
    await everywhere(t0, async () => (await statuses('bob', 'bob-pw')).every((s) => s === 401), 'old password still accepted somewhere');
    expect(Date.now() - t0).toBeLessThan(POLL_MS + 2000);
    expect(await statuses('bob', 'bob-new')).toEqual([200, 200, 200]);
  });

  test('a user removed from a group loses the role (and the nested ones) everywhere', async () => {
    await warm('alice', 'alice-pw');
    const t0 = Date.now();
    await ldap.modify(`dn: ${groupDn('developers')}\nchangetype: modify\ndelete: member\nmember: ${userDn('alice')}\n`);
    await everywhere(
      t0,
      async () => (await Promise.all(cluster.urls.map((u) => login(u, 'alice', 'alice-pw')))).every((r) => r.status === 200 && r.json.roles.length === 0),
      'alice still has her roles somewhere',
    );
  });

  test('a locked account is refused everywhere', async () => {
    await warm('erin', 'erin-pw');
    const t0 = Date.now();
    await ldap.modify(`dn: ${userDn('erin')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`);
    await everywhere(t0, async () => (await statuses('erin', 'erin-pw')).every((s) => s === 401), 'locked erin still logs in somewhere');
  });

  test('directory change -> refused on every node, 10 times (the measured delay)', async () => {
    for (let i = 0; i < 10; i++) {
      await warm('carol', `carol-pw${i === 0 ? '' : i}`);
      const t0 = Date.now();
      await ldap.passwd('carol', `carol-pw${i + 1}`);
      await everywhere(t0, async () => (await statuses('carol', `carol-pw${i === 0 ? '' : i}`)).every((s) => s === 401), `round ${i}: old password still accepted`);
    }
    await ldap.passwd('carol', 'carol-pw');
    // Its invalidation must be in before the next tests stop slapd: published after the restart, it
    // would land in the middle of their warm-up and flush what they have just cached.
    await waitFor(async () => (await statuses('carol', 'carol-pw10')).every((s) => s === 401), { timeoutMs: 10_000, intervalMs: 25, message: 'carol-pw10 still accepted' });
    const s = [...delays].sort((a, b) => a - b);
    expect(s.at(-1)).toBeLessThan(POLL_MS + 2000);
  });

  test('/health names the backend: down (503) while slapd is, up again after', async () => {
    const h = await call(cluster.urls[0]!, 'GET', '/health');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ backend: 'ldap', dependencies: { redis: 'up', backend: 'up' } });
    await ldap.stop();
    try {
      await waitFor(async () => (await call(cluster.urls[1]!, 'GET', '/health')).json?.dependencies?.backend === 'down', { timeoutMs: 5000, message: 'backend still up' });
      expect((await call(cluster.urls[1]!, 'GET', '/health')).status).toBe(503);
    } finally {
      await ldap.restart();
    }
    await waitFor(async () => (await Promise.all(cluster.urls.map((u) => call(u, 'GET', '/health')))).every((r) => r.status === 200), { timeoutMs: 5000, message: 'health did not recover' });
  });

  test('slapd stopped: cached logins still answer, uncached ones 503; restarted: recovers', async () => {
    await warm('carol', 'carol-pw');
    await ldap.stop();
    try {
      expect(await statuses('carol', 'carol-pw')).toEqual([200, 200, 200]);
      const r = await login(cluster.urls[0]!, 'bob', 'bob-new-uncached');
      expect(r.status).toBe(503);
    } finally {
      await ldap.restart();
    }
    await waitFor(async () => (await statuses('bob', 'bob-new')).every((s) => s === 200), { timeoutMs: 10_000, message: 'no recovery' });
  });
});
