/**
 * Logins and cluster-wide propagation against 3 real node processes and a real Redis: a change made
 * through ONE node must be enforced by EVERY node by the time the admin call returns, so nothing here
 * waits after an admin call.
 */

import { InvalidCredentialsError } from '@authcache/client';
import { ALL_OK, call, loginAll, loginStatuses, useCluster, warm } from './support';

const s = useCluster();

async function createUser(name: string, password: string, extra: { roles?: string[]; superuser?: boolean } = {}) {
  const r = await s.clients[0]!.putRole(name, { password, login: true, ...extra });
  expect(r.created).toBe(true);
  return r;
}

describe('login on every node', () => {
  it('answers on each of the 3 nodes, from the cache the second time', async () => {
    await createUser('alice', 'alice-pw-1');
    for (const [i, client] of s.clients.entries()) {
      const first = await client.login('alice', 'alice-pw-1');
      expect(first).toEqual({ username: 'alice', roles: [], superuser: false, cached: false, node: s.nodes[i]!.id });
      const second = await client.login('alice', 'alice-pw-1');
      expect(second).toEqual({ ...first, cached: true });
    }
  });

  it('refuses a wrong password and an unknown user alike with 401 {"error":"invalid credentials"}', async () => {
    await createUser('bob', 'bob-pw-1');
    // Warm first: a cached entry must not let a wrong password through either.
    await warm(s, 'bob', 'bob-pw-1');
    for (const node of s.nodes) {
      for (const [username, password] of [['bob', 'not-bob-pw'], ['nobody-here', 'whatever']]) {
        const r = await call(node.url, 'POST', '/v1/login', { json: { username, password } });
        expect({ node: node.id, username, status: r.status, body: r.json }).toEqual({
          node: node.id,
          username,
          status: 401,
          body: { error: 'invalid credentials' },
        });
      }
    }
    await expect(s.clients[1]!.login('bob', 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
  });
});

describe('a role change through one node is enforced by every node when the call returns', () => {
  it('password change: old password 401 and new password 200 on all 3 nodes at once', async () => {
    await createUser('carol', 'carol-old');
    await warm(s, 'carol', 'carol-old');

    const r = await s.clients[1]!.putRole('carol', { password: 'carol-new' });
    expect(r.created).toBe(false);
    expect(r.nodes).toEqual(ALL_OK);
    expect(r.failures).toEqual([]);

    expect(await loginStatuses(s, 'carol', 'carol-old')).toEqual([401, 401, 401]);
    const fresh = await loginAll(s, 'carol', 'carol-new');
    expect(fresh.map((l) => [l.node, l.username])).toEqual(s.nodes.map((n) => [n.id, 'carol']));
  });

  it('login: false refuses the right password on all 3 nodes', async () => {
    await createUser('dave', 'dave-pw');
    await warm(s, 'dave', 'dave-pw');

    const r = await s.clients[2]!.putRole('dave', { login: false });
    expect(r.nodes).toEqual(ALL_OK);
    expect(r.role.login).toBe(false);

    expect(await loginStatuses(s, 'dave', 'dave-pw')).toEqual([401, 401, 401]);

    // And back: proves the 401s came from login=false, not from a broken account.
    await s.clients[0]!.putRole('dave', { login: true });
    expect((await loginAll(s, 'dave', 'dave-pw')).map((l) => l.cached)).toEqual([false, false, false]);
  });

  it('a dropped user is refused on all 3 nodes', async () => {
    await createUser('erin', 'erin-pw');
    await warm(s, 'erin', 'erin-pw');

    const d = await s.clients[1]!.dropRole('erin');
    expect(d.message).toBe('Role dropped: erin');
    expect(d.nodes).toEqual(ALL_OK);

    expect(await loginStatuses(s, 'erin', 'erin-pw')).toEqual([401, 401, 401]);
  });

  it('a dropped granted role disappears from the user\'s roles on all 3 nodes', async () => {
    await s.clients[0]!.putRole('auditors', {});
    await createUser('frank', 'frank-pw', { roles: ['auditors'] });
    await warm(s, 'frank', 'frank-pw');
    expect((await loginAll(s, 'frank', 'frank-pw')).map((l) => l.roles)).toEqual([['auditors'], ['auditors'], ['auditors']]);

    const d = await s.clients[2]!.dropRole('auditors');
    expect(d.nodes).toEqual(ALL_OK);

    const after = await loginAll(s, 'frank', 'frank-pw');
    expect(after.map((l) => l.roles)).toEqual([[], [], []]);
  });

  it('a granted role shows in the roles of every node right after the call, sorted, without the user', async () => {
    await s.clients[0]!.putRole('zeta', {});
    await s.clients[0]!.putRole('alpha', {});
    await createUser('grace', 'grace-pw');
    await warm(s, 'grace', 'grace-pw');

    const g = await s.clients[1]!.putRole('grace', { grant: ['zeta', 'alpha'] });
    expect(g.nodes).toEqual(ALL_OK);
    expect(g.role.roles).toEqual(['alpha', 'zeta']);

    const after = await loginAll(s, 'grace', 'grace-pw');
    expect(after.map((l) => l.roles)).toEqual([['alpha', 'zeta'], ['alpha', 'zeta'], ['alpha', 'zeta']]);

    const revoked = await s.clients[2]!.putRole('grace', { revoke: ['zeta'] });
    expect(revoked.nodes).toEqual(ALL_OK);
    expect((await loginAll(s, 'grace', 'grace-pw')).map((l) => l.roles)).toEqual([['alpha'], ['alpha'], ['alpha']]);
  });

  it('transitive grants (user <- r1 <- r2) show both roles on every node', async () => {
    await s.clients[0]!.putRole('r2', {});
    await s.clients[0]!.putRole('r1', { roles: ['r2'] });
    await createUser('heidi', 'heidi-pw');
    await warm(s, 'heidi', 'heidi-pw');

    await s.clients[1]!.putRole('heidi', { grant: ['r1'] });
    expect((await loginAll(s, 'heidi', 'heidi-pw')).map((l) => l.roles)).toEqual([['r1', 'r2'], ['r1', 'r2'], ['r1', 'r2']]);
  });

  it('a grant to a role the user already holds reaches the holder on every node (p1 gains r3)', async () => {
    await s.clients[0]!.putRole('r3', {});
    await s.clients[0]!.putRole('p1', {});
    await createUser('ivan', 'ivan-pw', { roles: ['p1'] });
    await warm(s, 'ivan', 'ivan-pw');

    // The change names p1 only: the node has to find ivan as a holder and invalidate him too.
    const r = await s.clients[2]!.putRole('p1', { grant: ['r3'] });
    expect(r.nodes).toEqual(ALL_OK);
    expect((await loginAll(s, 'ivan', 'ivan-pw')).map((l) => l.roles)).toEqual([['p1', 'r3'], ['p1', 'r3'], ['p1', 'r3']]);
  });

  it('a superuser grant is visible on every node, directly and through a role made superuser', async () => {
    await s.clients[0]!.putRole('admins', { superuser: true });
    await s.clients[0]!.putRole('ops', {});
    await createUser('judy', 'judy-pw');
    await createUser('ken', 'ken-pw', { roles: ['ops'] });
    await warm(s, 'judy', 'judy-pw');
    await warm(s, 'ken', 'ken-pw');

    await s.clients[1]!.putRole('judy', { grant: ['admins'] });
    const judy = await loginAll(s, 'judy', 'judy-pw');
    expect(judy.map((l) => [l.superuser, l.roles])).toEqual([[true, ['admins']], [true, ['admins']], [true, ['admins']]]);

    await s.clients[2]!.putRole('ops', { superuser: true });
    expect((await loginAll(s, 'ken', 'ken-pw')).map((l) => l.superuser)).toEqual([true, true, true]);
  });
});

describe('flush', () => {
  const FLUSH_USER_PATHS = ['/v1/cache/users/', '/_plugins/_security/api/cache/user/'];
  const FLUSH_ALL_PATHS = ['/v1/cache', '/_plugins/_security/api/cache'];

  beforeAll(async () => {
    await createUser('louis', 'louis-pw');
    await createUser('mallory', 'mallory-pw');
  });

  it.each(FLUSH_USER_PATHS)('DELETE %s{user} answers for 3 nodes and the next login on every node is cached:false', async (path) => {
    await warm(s, 'louis', 'louis-pw');
    await warm(s, 'mallory', 'mallory-pw');

    const r = await call(s.nodes[1]!.url, 'DELETE', `${path}louis`, { token: s.token });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ message: 'Cache invalidated for user: louis', nodes: ALL_OK, failures: [] });
    expect(r.json.seq).toEqual(expect.any(Number));

    expect((await loginAll(s, 'louis', 'louis-pw')).map((l) => l.cached)).toEqual([false, false, false]);
    // Only that user went.
    expect((await loginAll(s, 'mallory', 'mallory-pw')).map((l) => l.cached)).toEqual([true, true, true]);
  });

  it.each(FLUSH_ALL_PATHS)('DELETE %s answers for 3 nodes and every user\'s next login on every node is cached:false', async (path) => {
    await warm(s, 'louis', 'louis-pw');
    await warm(s, 'mallory', 'mallory-pw');

    const r = await call(s.nodes[2]!.url, 'DELETE', path, { token: s.token });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ message: 'Cache flushed successfully.', nodes: ALL_OK, failures: [] });

    expect((await loginAll(s, 'louis', 'louis-pw')).map((l) => l.cached)).toEqual([false, false, false]);
    expect((await loginAll(s, 'mallory', 'mallory-pw')).map((l) => l.cached)).toEqual([false, false, false]);
  });

  it('each flush gets a higher cluster seq', async () => {
    const a = await s.clients[0]!.flushAll();
    const b = await s.clients[1]!.flushUser('louis');
    const c = await s.clients[2]!.flushAll();
    expect(b.seq).toBeGreaterThan(a.seq);
    expect(c.seq).toBeGreaterThan(b.seq);
  });

  it('?local=true on a user flush acts on the receiving node only', async () => {
    await warm(s, 'louis', 'louis-pw');

    const r = await call(s.nodes[0]!.url, 'DELETE', '/v1/cache/users/louis?local=true', { token: s.token });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ message: 'Cache invalidated for user: louis', nodes: { total: 1, successful: 1, failed: 0 } });

    expect((await loginAll(s, 'louis', 'louis-pw')).map((l) => l.cached)).toEqual([false, true, true]);
  });

  it('?local=true on a flush all acts on the receiving node only', async () => {
    await warm(s, 'mallory', 'mallory-pw');

    const r = await call(s.nodes[2]!.url, 'DELETE', '/_plugins/_security/api/cache?local=true', { token: s.token });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ message: 'Cache flushed successfully.', nodes: { total: 1, successful: 1, failed: 0 } });

    expect((await loginAll(s, 'mallory', 'mallory-pw')).map((l) => l.cached)).toEqual([true, true, false]);
  });
});
