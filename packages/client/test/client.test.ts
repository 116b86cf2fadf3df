import { AuthcacheClient, AuthcacheError, type NodeInfo, NotFoundError, type RoleInfo } from '@authcache/client';
import { type FakeNode, type Recorded, type Reply, propagation, startFakeNode } from './fake-node';

/** One fake node per test; the handler is swapped per call so each test states what the node answers. */
describe('AuthcacheClient routes', () => {
  let fake: FakeNode;
  let client: AuthcacheClient;
  const answer = (reply: Reply) => fake.setHandler(() => reply);
  const last = (): Recorded => fake.requests[fake.requests.length - 1]!;
  const json = (r: Recorded): unknown => JSON.parse(r.body);

  beforeEach(async () => {
    fake = await startFakeNode();
    client = new AuthcacheClient({ nodes: fake.url, token: 'admin-token' });
  });
  afterEach(() => fake.close());

  test('login posts JSON without the admin token and returns the body', async () => {
    const body = { username: 'alice', roles: ['app', 'reader'], superuser: false, cached: true, node: 'n1' };
    answer({ status: 200, body });
    await expect(client.login('alice', 's3cret')).resolves.toEqual(body);
    const r = last();
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/v1/login');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.authorization).toBeUndefined();
    expect(json(r)).toEqual({ username: 'alice', password: 's3cret' });
  });

  test('authinfo sends HTTP Basic', async () => {
    const body = { user_name: 'alice', roles: ['app'], backend_roles: ['app'] };
    answer({ status: 200, body });
    await expect(client.authinfo('alice', 'pä:ss')).resolves.toEqual(body);
    const r = last();
    expect(r.method).toBe('GET');
    expect(r.url).toBe('/_plugins/_security/authinfo');
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from('alice:pä:ss', 'utf8').toString('base64')}`);
  });

  test('authinfo refuses a username with a colon before sending anything', async () => {
    await expect(client.authinfo('a:b', 'pw')).rejects.toThrow(TypeError);
    expect(fake.requests).toHaveLength(0);
  });

  test('admin routes carry the bearer token; none is sent when no token is set', async () => {
    answer({ status: 200, body: [] });
    await client.listRoles();
    expect(last().headers.authorization).toBe('Bearer admin-token');
    await new AuthcacheClient({ nodes: fake.url }).listRoles();
    expect(last().headers.authorization).toBeUndefined();
  });

  test('flushAll: plain, local, and with selected caches', async () => {
    const body = { message: 'Cache flushed successfully.', ...propagation };
    answer({ status: 200, body });
    await expect(client.flushAll()).resolves.toEqual(body);
    expect(last().method).toBe('DELETE');
    expect(last().url).toBe('/v1/cache');
    await client.flushAll({ local: true, caches: ['credentials'] });
    expect(last().url).toBe('/v1/cache?local=true&caches=credentials');
    await client.flushAll({ caches: ['credentials', 'roles', 'roles'] });
    expect(last().url).toBe('/v1/cache?caches=credentials,roles');
  });

  test('flush options are checked before sending', async () => {
    await expect(client.flushAll({ caches: [] })).rejects.toThrow(TypeError);
    await expect(client.flushAll({ caches: ['counters' as never] })).rejects.toThrow(/unknown cache/);
    expect(fake.requests).toHaveLength(0);
  });

  test('flushUser encodes the username as one path segment', async () => {
    answer({ status: 200, body: { message: 'Cache invalidated for user: x', ...propagation } });
    await client.flushUser('a b/c?d%e#f', { caches: ['roles'], local: true });
    expect(last().url).toBe('/v1/cache/users/a%20b%2Fc%3Fd%25e%23f?local=true&caches=roles');
    await client.flushUser('Zoë');
    expect(last().url).toBe('/v1/cache/users/Zo%C3%AB');
  });

  test('path segments "." and ".." are refused: the URL parser would resolve them to another route', async () => {
    await expect(client.flushUser('..')).rejects.toThrow(TypeError);
    await expect(client.getRole('.')).rejects.toThrow(TypeError);
    await expect(client.dropRole('')).rejects.toThrow(TypeError);
    expect(fake.requests).toHaveLength(0);
  });

  test('flushUsers makes one call per user, in order', async () => {
    fake.setHandler((r) => ({ status: 200, body: { message: `for ${r.url}`, ...propagation } }));
    const results = await client.flushUsers(['u1', 'u/2'], { caches: ['credentials'] });
    expect(fake.requests.map((r) => r.url)).toEqual([
      '/v1/cache/users/u1?caches=credentials',
      '/v1/cache/users/u%2F2?caches=credentials',
    ]);
    expect(results.map((r) => r.message)).toEqual([
      'for /v1/cache/users/u1?caches=credentials',
      'for /v1/cache/users/u%2F2?caches=credentials',
    ]);
    await expect(client.flushUsers([])).resolves.toEqual([]);
  });

  test('settings: get, and put with local moved to the query string', async () => {
    const cs = { ttl_ms: 1000, max_entries: 10, refresh_ms: 0, active_update: false, enabled: true };
    const view = { node: 'n1', settings: { credentials: cs, roles: cs }, transient: { all: { ttl_ms: 1000 } }, persistent: {} };
    answer({ status: 200, body: view });
    await expect(client.getSettings()).resolves.toEqual(view);
    expect(last().url).toBe('/v1/cache/settings');

    answer({ status: 200, body: { message: 'Settings updated.', settings: view.settings, ...propagation } });
    const res = await client.putSettings({ cache: 'roles', ttl_ms: 500, persistent: true, local: true });
    expect(res.seq).toBe(42);
    expect(last().method).toBe('PUT');
    expect(last().url).toBe('/v1/cache/settings?local=true');
    expect(json(last())).toEqual({ cache: 'roles', ttl_ms: 500, persistent: true });
    await client.putSettings({ max_entries: 5 });
    expect(last().url).toBe('/v1/cache/settings');
    expect(json(last())).toEqual({ max_entries: 5 });
  });

  test('cluster settings: get and put', async () => {
    answer({ status: 200, body: { persistent: {}, transient: { 'plugins.security.cache.ttl_minutes': '120' } } });
    await expect(client.getClusterSettings()).resolves.toEqual({
      persistent: {},
      transient: { 'plugins.security.cache.ttl_minutes': '120' },
    });
    expect(last().url).toBe('/_cluster/settings');
    const change = { transient: { 'plugins.security.cache.ttl_minutes': 60 } };
    answer({ status: 200, body: { acknowledged: true, persistent: {}, ...change, ...propagation } });
    const res = await client.putClusterSettings(change);
    expect(res.acknowledged).toBe(true);
    expect(last().method).toBe('PUT');
    expect(json(last())).toEqual(change);
  });

  test("cluster settings: OpenSearch's flat_settings and include_defaults flags", async () => {
    answer({ status: 200, body: { persistent: {}, transient: {}, defaults: {} } });
    await client.getClusterSettings({ flat: true, includeDefaults: true });
    expect(last().url).toBe('/_cluster/settings?flat_settings=true&include_defaults=true');
    await client.putClusterSettings({ transient: { plugins: { security: { cache: { ttl_minutes: null } } } } }, { flat: true });
    expect(last().url).toBe('/_cluster/settings?flat_settings=true');
  });

  test('roles: put (201 created), get, list, drop, with encoded names', async () => {
    const role: RoleInfo = { name: 'ops team', login: true, superuser: false, roles: ['reader'], has_password: true };
    answer({ status: 201, body: { role, created: true, ...propagation } });
    const put = await client.putRole('ops team', { password: 'pw', login: true, grant: ['reader'] });
    expect(put.created).toBe(true);
    expect(put.role).toEqual(role);
    expect(last().method).toBe('PUT');
    expect(last().url).toBe('/v1/roles/ops%20team');
    expect(json(last())).toEqual({ password: 'pw', login: true, grant: ['reader'] });

    answer({ status: 200, body: role });
    await expect(client.getRole('ops team')).resolves.toEqual(role);
    expect(last().method).toBe('GET');

    answer({ status: 200, body: [role] });
    await expect(client.listRoles()).resolves.toEqual([role]);
    expect(last().url).toBe('/v1/roles');

    answer({ status: 200, body: { message: 'Role dropped: ops team', ...propagation } });
    await expect(client.dropRole('ops team')).resolves.toMatchObject({ message: 'Role dropped: ops team' });
    expect(last().method).toBe('DELETE');
    expect(last().url).toBe('/v1/roles/ops%20team');
  });

  test('nodes lists the cluster members', async () => {
    const stats = { size: 1, hits: 2, misses: 3, evictions: 0, loads: 3, load_failures: 0 };
    const members: NodeInfo[] = [
      {
        id: 'n1',
        address: '127.0.0.1:7001',
        status: 'UP',
        applied_seq: 7,
        lag: 0,
        cluster_seq: 7,
        last_seen: '2026-01-01T00:00:00.000Z',
        heartbeat_age_ms: 120,
        cache: { credentials: stats, roles: stats },
      },
    ];
    answer({ status: 200, body: members });
    await expect(client.nodes()).resolves.toEqual(members);
    expect(last().url).toBe('/v1/cluster/nodes');
  });

  test('removeNode: DELETE /v1/cluster/nodes/{id}, the id encoded; 404 is NotFoundError', async () => {
    answer({ status: 200, body: { message: 'Node removed: node 3' } });
    await expect(client.removeNode('node 3')).resolves.toEqual({ message: 'Node removed: node 3' });
    expect(last()).toMatchObject({ method: 'DELETE', url: '/v1/cluster/nodes/node%203' });
    expect(last().headers.authorization).toMatch(/^Bearer /);
    answer({ status: 404, body: { error: 'unknown node: x' } });
    await expect(client.removeNode('x')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.removeNode('..')).rejects.toBeInstanceOf(TypeError);
  });

  test('health returns the body for 503 as for 200, without the token', async () => {
    const up = { status: 'UP', node: 'n1', cluster: 'authcache', redis: 'UP', applied_seq: 3, settings: {} };
    answer({ status: 200, body: up });
    await expect(client.health()).resolves.toEqual(up);
    expect(last().url).toBe('/health');
    expect(last().headers.authorization).toBeUndefined();
    const degraded = { ...up, status: 'DEGRADED' };
    answer({ status: 503, body: degraded });
    await expect(client.health()).resolves.toEqual(degraded);
  });

  test('a closed client refuses further calls', async () => {
    client.close();
    await expect(client.listRoles()).rejects.toThrow(AuthcacheError);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('AuthcacheClient options', () => {
  test('node addresses are normalised; host:port gets http://, a bare host the default port', () => {
    const c = new AuthcacheClient({ nodes: ['127.0.0.1:7001', 'http://h2:7002/', 'https://h3/prefix/', 'h4', 'h4:7070'] });
    expect(c.nodeUrls).toEqual(['http://127.0.0.1:7001', 'http://h2:7002', 'https://h3/prefix', 'http://h4:7070']);
    expect(new AuthcacheClient({ nodes: 'a:1, b:2' }).nodeUrls).toEqual(['http://a:1', 'http://b:2']);
    expect(new AuthcacheClient({ nodes: '[::1]:7001' }).nodeUrls).toEqual(['http://[::1]:7001']);
  });

  test('bad options are rejected at construction, without echoing secrets', () => {
    expect(() => new AuthcacheClient({ nodes: [] })).toThrow(TypeError);
    expect(() => new AuthcacheClient({ nodes: 'ftp://h:1' })).toThrow(/scheme/);
    expect(() => new AuthcacheClient({ nodes: 'h:1', timeoutMs: 0 })).toThrow(/timeoutMs/);
    let err: unknown;
    try {
      new AuthcacheClient({ nodes: 'http://admin:topsecret@h:1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect(String(err)).not.toContain('topsecret');
    try {
      new AuthcacheClient({ nodes: 'h:1', token: 'bad token\n' });
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/token/);
    expect(String(err)).not.toContain('bad token');
  });
});
