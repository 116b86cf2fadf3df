/**
 * Permissions against 3 real node processes and a real Redis (docs/architecture.md, "Permissions and impersonation"): a grant or revoke made
 * through ONE node is enforced by EVERY node when the call returns (nothing here waits after an
 * admin call), the caches are named everywhere (flush, settings, metrics), and a dropped role's
 * grants go with it.
 */
import { NotFoundError } from '@authcache/client';
import { ALL_OK, call, useCluster } from './support';

const s = useCluster();

async function user(name: string, roles: string[] = []) {
  await s.clients[0]!.putRole(name, { password: `${name}-pw-1`, login: true, roles });
}

const authorizeAll = (username: string, resource: string, permission: string) => Promise.all(s.clients.map((c) => c.authorize(username, resource, permission)));

describe('permissions across the cluster', () => {
  beforeAll(async () => {
    await s.clients[0]!.putRole('readers', {});
    await s.clients[0]!.putRole('staff', { roles: ['readers'] });
    await user('alice', ['staff']);
  });

  it('a grant through one node is allowed on every node, via the granting role, then from cache', async () => {
    const g = await s.clients[1]!.grantPermissions('readers', 'data/ks', ['SELECT']);
    expect(g).toMatchObject({ role: 'readers', resource: 'data/ks', permissions: ['SELECT'], nodes: ALL_OK, failures: [] });
    expect((await authorizeAll('alice', 'data/ks/orders', 'SELECT')).map((r) => [r.allowed, r.via])).toEqual([
      [true, 'readers'],
      [true, 'readers'],
      [true, 'readers'],
    ]);
    expect((await authorizeAll('alice', 'data/ks/orders', 'SELECT')).every((r) => r.cached)).toBe(true);
    expect((await authorizeAll('alice', 'data/other', 'SELECT')).every((r) => !r.allowed)).toBe(true);
  });

  it('a revoke through one node is refused on every node by the time it returns', async () => {
    await s.clients[0]!.grantPermissions('staff', 'data/ks/orders', ['MODIFY']);
    expect((await authorizeAll('alice', 'data/ks/orders', 'MODIFY')).every((r) => r.allowed && r.cached === false)).toBe(true);
    expect((await authorizeAll('alice', 'data/ks/orders', 'MODIFY')).every((r) => r.allowed && r.cached)).toBe(true);
    const r = await s.clients[2]!.revokePermissions('staff', 'data/ks/orders', ['MODIFY']);
    expect(r).toMatchObject({ permissions: [], nodes: ALL_OK });
    expect((await authorizeAll('alice', 'data/ks/orders', 'MODIFY')).map((x) => x.allowed)).toEqual([false, false, false]);
  });

  it('a role change (losing a role) is enforced on permissions too', async () => {
    await user('carl', ['readers']);
    expect((await authorizeAll('carl', 'data/ks', 'SELECT')).every((x) => x.allowed)).toBe(true);
    await s.clients[1]!.putRole('carl', { roles: [] });
    expect((await authorizeAll('carl', 'data/ks', 'SELECT')).map((x) => x.allowed)).toEqual([false, false, false]);
  });

  it('list shows direct grants; a grant to a missing role is 404; bad input 400', async () => {
    expect(await s.clients[0]!.listPermissions('readers')).toEqual([{ resource: 'data/ks', permissions: ['SELECT'] }]);
    expect(await s.clients[1]!.listAllPermissions()).toContainEqual({ role: 'readers', resource: 'data/ks', permissions: ['SELECT'] });
    await expect(s.clients[0]!.grantPermissions('ghost', 'data', ['SELECT'])).rejects.toBeInstanceOf(NotFoundError);
    const bad = await call(s.nodes[0]!.url, 'PUT', '/v1/roles/readers/permissions', { token: s.token, json: { resource: 'data//x', permissions: ['SELECT'] } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toContain('empty segment');
    const noAdmin = await call(s.nodes[0]!.url, 'PUT', '/v1/roles/readers/permissions', { json: { resource: 'data', permissions: ['SELECT'] } });
    expect(noAdmin.status).toBe(401);
    const batch = await call(s.nodes[2]!.url, 'POST', '/v1/authorize/batch', {
      json: { username: 'alice', checks: [{ resource: 'data/ks', permission: 'SELECT' }, { resource: 'data', permission: 'SELECT' }] },
    });
    expect(batch.json.results.map((x: { allowed: boolean }) => x.allowed)).toEqual([true, false]);
  });

  it('the caches are named everywhere: flush ?caches=permissions, settings, metrics', async () => {
    const f = await call(s.nodes[0]!.url, 'DELETE', '/v1/cache?caches=permissions,impersonation', { token: s.token });
    expect(f.status).toBe(200);
    expect(f.json.nodes).toEqual(ALL_OK);
    const set = await s.clients[1]!.putSettings({ cache: 'permissions', ttl_ms: 120_000 });
    expect(set.nodes).toEqual(ALL_OK);
    for (const c of s.clients) {
      const v = await c.getSettings();
      expect(v.settings.permissions!.ttl_ms).toBe(120_000);
      expect(v.settings.impersonation).toBeDefined();
    }
    await authorizeAll('alice', 'data/ks', 'SELECT');
    const m = await call(s.nodes[0]!.url, 'GET', '/metrics');
    expect(m.text).toMatch(/authcache_cache\{cache="permissions",stat="size"\} [1-9]/);
    expect(m.text).toContain('cache="impersonation"');
    const nodes = await s.clients[0]!.nodes();
    expect(nodes[0]!.cache.permissions).toBeDefined();
  });

  it('a dropped role takes its grants with it: created again, it holds none', async () => {
    await s.clients[0]!.putRole('temp', {});
    await s.clients[0]!.grantPermissions('temp', 'data', ['ALL']);
    await user('dora', ['temp']);
    expect((await authorizeAll('dora', 'data/x', 'DROP')).every((x) => x.allowed)).toBe(true);
    await s.clients[1]!.dropRole('temp');
    expect((await authorizeAll('dora', 'data/x', 'DROP')).map((x) => x.allowed)).toEqual([false, false, false]);
    await s.clients[0]!.putRole('temp', {});
    expect(await s.clients[0]!.listPermissions('temp')).toEqual([]);
  });
});
