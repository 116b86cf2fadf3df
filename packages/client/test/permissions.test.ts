/**
 * The SDK methods and authctl verbs of docs/architecture.md, "Permissions and impersonation" against a fake node: what goes on the wire
 * (paths, bodies, the impersonation header), typed errors, usage errors that send nothing, and
 * the exit codes of authorize.
 */
import { AuthcacheClient, ForbiddenError, NotFoundError } from '../src';
import { parsePermissionWords } from '../src/cli/commands/permissions';
import { UsageError } from '../src/cli/exit-codes';
import { permissionResources } from '../src/cli/permission-resources';
import { type FakeNode, startFakeNode } from './fake-node';
import { runAuthctl } from './run-authctl';

const propagation = (seq: number) => ({ seq, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [{ node: 'n1', result: 'applied' }] });


let fake: FakeNode;
let port: string;
beforeEach(async () => {
  fake = await startFakeNode();
  port = new URL(fake.url).port;
});
afterEach(() => fake.close());

const authctl = (args: string[]) => runAuthctl(['-p', port, ...args]);

const result = (o: object = {}) => ({ role: 'readers', resource: 'data/ks', permissions: ['SELECT'], ...propagation(3), ...o });

describe('SDK', () => {
  test('grant, revoke, list: admin calls with the bodies of §10', async () => {
    fake.setHandler(() => ({ status: 200, body: result() }));
    const c = new AuthcacheClient({ nodes: fake.url, token: 'tok' });
    expect(await c.grantPermissions('readers', 'data/ks', ['SELECT'])).toMatchObject({ permissions: ['SELECT'], seq: 3 });
    await c.revokePermissions('read ers', 'data/ks', ['SELECT']);
    fake.setHandler(() => ({ status: 200, body: [] }));
    await c.listPermissions('readers');
    await c.listAllPermissions();
    expect(fake.requests.map((r) => [r.method, r.url, r.body, r.headers.authorization])).toEqual([
      ['PUT', '/v1/roles/readers/permissions', '{"resource":"data/ks","permissions":["SELECT"]}', 'Bearer tok'],
      ['DELETE', '/v1/roles/read%20ers/permissions', '{"resource":"data/ks","permissions":["SELECT"]}', 'Bearer tok'],
      ['GET', '/v1/roles/readers/permissions', '', 'Bearer tok'],
      ['GET', '/v1/permissions', '', 'Bearer tok'],
    ]);
  });

  test('authorize sends no credentials; impersonation goes in security_impersonate_as', async () => {
    fake.setHandler(() => ({ status: 200, body: { allowed: true, cached: true, via: 'readers' } }));
    const c = new AuthcacheClient({ nodes: fake.url, token: 'tok' });
    expect(await c.authorize('alice', 'data/ks/t', 'SELECT')).toEqual({ allowed: true, cached: true, via: 'readers' });
    await c.authorize('eve', 'data', 'SELECT', { impersonateAs: 'bob' });
    await c.authorizeBatch('eve', [{ resource: 'data', permission: 'SELECT' }], { impersonateAs: 'bob' });
    await c.login('eve', 'pw', { impersonateAs: 'bob' });
    const [a, b, batch, login] = fake.requests;
    expect(a!.headers.authorization).toBeUndefined();
    expect(a!.headers.security_impersonate_as).toBeUndefined();
    expect(JSON.parse(a!.body)).toEqual({ username: 'alice', resource: 'data/ks/t', permission: 'SELECT' });
    expect(b!.headers.security_impersonate_as).toBe('bob');
    expect(batch!.url).toBe('/v1/authorize/batch');
    expect(JSON.parse(batch!.body)).toEqual({ username: 'eve', checks: [{ resource: 'data', permission: 'SELECT' }] });
    expect(login!.headers.security_impersonate_as).toBe('bob');
  });

  test('403 is a ForbiddenError, 404 a NotFoundError', async () => {
    const c = new AuthcacheClient({ nodes: fake.url, token: 'tok' });
    fake.setHandler(() => ({ status: 403, body: { error: 'eve is not allowed to impersonate bob' } }));
    await expect(c.authorize('eve', 'data', 'SELECT', { impersonateAs: 'bob' })).rejects.toBeInstanceOf(ForbiddenError);
    fake.setHandler(() => ({ status: 404, body: { error: 'role ghost does not exist' } }));
    await expect(c.grantPermissions('ghost', 'data', ['SELECT'])).rejects.toBeInstanceOf(NotFoundError);
  });

  test.each([
    [(c: AuthcacheClient) => c.grantPermissions('r', 'data//x', ['SELECT'])],
    [(c: AuthcacheClient) => c.grantPermissions('r', 'data', [])],
    [(c: AuthcacheClient) => c.grantPermissions('r', 'data', ['SEL ECT'])],
    [(c: AuthcacheClient) => c.grantPermissions('..', 'data', ['SELECT'])],
    [(c: AuthcacheClient) => c.authorize('u', '/data', 'SELECT')],
    [(c: AuthcacheClient) => c.authorizeBatch('u', [])],
    [(c: AuthcacheClient) => c.authorize('u', 'data', 'SELECT', { impersonateAs: 'a\r\nx: y' })],
    [(c: AuthcacheClient) => c.authorize('u', 'data', 'SELECT', { impersonateAs: 'a/b' })],
  ])('bad input #%# is a TypeError and sends nothing', async (f) => {
    const c = new AuthcacheClient({ nodes: fake.url, token: 'tok' });
    await expect(f(c)).rejects.toBeInstanceOf(TypeError);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('authctl', () => {
  test('grant PERM ON RESOURCE TO ROLE', async () => {
    fake.setHandler(() => ({ status: 200, body: result({ permissions: ['MODIFY', 'SELECT'] }) }));
    const r = await authctl(['grant', 'select,MODIFY', 'on', 'data/ks', 'TO', 'readers']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Granted SELECT,MODIFY ON data/ks TO readers (now: MODIFY,SELECT)');
    expect(r.stdout).toContain('Applied on 1/1 nodes (seq 3)');
    expect(fake.requests[0]).toMatchObject({ method: 'PUT', url: '/v1/roles/readers/permissions' });
    expect(JSON.parse(fake.requests[0]!.body)).toEqual({ resource: 'data/ks', permissions: ['SELECT', 'MODIFY'] });
  });

  test('revoke PERM ON RESOURCE FROM ROLE; a partial propagation exits 1', async () => {
    const partial = { ...propagation(4), nodes: { total: 2, successful: 1, failed: 1 }, failures: [{ node: 'n2', reason: 'timeout' }] };
    fake.setHandler(() => ({ status: 200, body: { role: 'readers', resource: 'data', permissions: [], ...partial } }));
    const r = await authctl(['revoke', 'ALL', 'PERMISSIONS', 'ON', 'data', 'FROM', 'readers']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Revoked ALL ON data FROM readers (now: -)');
    expect(r.stderr).toContain('n2');
    expect(fake.requests[0]!.method).toBe('DELETE');
  });

  test('list permissions [ROLE]', async () => {
    fake.setHandler((req) => ({
      status: 200,
      body: req.url === '/v1/permissions' ? [{ role: 'readers', resource: 'data', permissions: ['SELECT', 'DESCRIBE'] }] : [{ resource: 'data/x', permissions: ['DROP'] }],
    }));
    const all = await authctl(['list', 'permissions']);
    expect(all.stdout.split('\n')).toEqual(['role     resource  permission', 'readers  data      SELECT', 'readers  data      DESCRIBE', '']);
    const one = await authctl(['list', 'permissions', 'of', 'ops']);
    expect(one.stdout).toContain('ops   data/x    DROP');
    expect(fake.requests.map((r) => r.url)).toEqual(['/v1/permissions', '/v1/roles/ops/permissions']);
  });

  test('invalidatepermissionscache: cluster-wide by default, --local for one node, a role for its entries', async () => {
    fake.setHandler(() => ({ status: 200, body: { message: 'ok', ...propagation(5) } }));
    expect((await authctl(['invalidatepermissionscache'])).code).toBe(0);
    expect((await authctl(['invalidatepermissionscache', 'readers', '--resource', 'data/ks'])).code).toBe(0);
    const local = await authctl(['invalidatepermissionscache', '--local']);
    expect(local.stdout).toContain('--local');
    expect(fake.requests.map((r) => [r.method, r.url])).toEqual([
      ['DELETE', '/v1/cache?caches=permissions'],
      ['DELETE', '/v1/cache/users/readers?caches=permissions'],
      ['DELETE', '/v1/cache?local=true&caches=permissions'],
    ]);
  });

  test('authorize USER PERM ON RESOURCE: exit 0 allowed, 1 denied; --as impersonates', async () => {
    fake.setHandler(() => ({ status: 200, body: { allowed: true, cached: true, via: 'readers' } }));
    const ok = await authctl(['authorize', 'alice', 'select', 'on', 'data/ks']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Allowed: alice SELECT ON data/ks (via readers; from cache)');
    fake.setHandler(() => ({ status: 200, body: { allowed: false, cached: false, via: null, username: 'bob', impersonated_by: 'eve' } }));
    const no = await authctl(['authorize', 'eve', 'DROP', 'ON', 'data', '--as', 'bob']);
    expect(no.code).toBe(1);
    expect(no.stdout).toContain('Denied: bob (as eve) DROP ON data');
    expect(fake.requests[1]!.headers.security_impersonate_as).toBe('bob');
  });

  test('getauthcacheconfig / setauthcacheconfig accept --cache-name PermissionsCache', async () => {
    const s = { ttl_ms: 1000, max_entries: 5, refresh_ms: 0, active_update: false, enabled: true };
    fake.setHandler((req) =>
      req.method === 'GET'
        ? { status: 200, body: { node: 'n1', settings: { credentials: s, roles: s, permissions: { ...s, ttl_ms: 7 }, impersonation: s }, transient: {}, persistent: {} } }
        : { status: 200, body: { message: 'ok', settings: {}, ...propagation(2) } },
    );
    const get = await authctl(['getauthcacheconfig', '--cache-name', 'PermissionsCache']);
    expect(get.stdout).toBe('Validity Period: 7\nUpdate Interval: 0\nMax Entries: 5\nActive Update: false\n');
    const all = await authctl(['getauthcacheconfig']);
    expect(all.stdout).toContain('PermissionsCache:\n  Validity Period: 7');
    expect(all.stdout).toContain('ImpersonationCache:');
    const set = await authctl(['setauthcacheconfig', '--cache-name', 'permissionscache', '--validity-period', '2000']);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('Changed Validity Period to 2000\nFor PermissionsCache, transient\n');
    expect(JSON.parse(fake.requests[2]!.body)).toEqual({ cache: 'permissions', ttl_ms: 2000 });
  });

  test.each([
    [['grant', 'SELECT', 'data', 'TO', 'r']],
    [['grant', 'SELECT', 'ON', 'data', 'r']],
    [['grant', 'SELECT', 'ON', 'data//x', 'TO', 'r']],
    [['grant', 'SEL;ECT', 'ON', 'data', 'TO', 'r']],
    [['revoke', 'SELECT', 'ON', 'data', 'TO', 'r']],
    [['list', 'permissions', 'a', 'b']],
    [['invalidatepermissionscache', 'readers', '--resource', '/x']],
    // nodetool's checks (InvalidatePermissionsCache): a resource needs a role; --table/--all-tables need --keyspace, --function --functions-in-keyspace
    [['invalidatepermissionscache', '--resource', 'data']],
    [['invalidatepermissionscache', '--all-keyspaces']],
    [['invalidatepermissionscache', 'readers', '--table', 't']],
    [['invalidatepermissionscache', 'readers', '--all-tables']],
    [['invalidatepermissionscache', 'readers', '--function', 'f']],
    [['invalidatepermissionscache', 'readers', '--keyspace', 'a/../b']],
    [['authorize', 'alice', 'SELECT', 'data']],
  ])('usage error, nothing sent: %j', async (args) => {
    const r = await authctl(args);
    expect(r.code).toBe(2);
    expect(fake.requests).toHaveLength(0);
  });

  test("invalidatepermissionscache takes nodetool's resource options and 4.0's <role> <resource>...: the role's entries go", async () => {
    fake.setHandler(() => ({ status: 200, body: { message: 'ok', ...propagation(5) } }));
    for (const args of [
      ['readers', '--keyspace', 'ks', '--table', 'orders'],
      ['readers', '--all-keyspaces', '--all-roles', '--all-functions', '--all-mbeans'],
      ['readers', '--functions-in-keyspace', 'ks', '--function', 'foo[Int32Type^DoubleType]', '--role', 'bob', '--mbean', 'org.apache.cassandra.db:type=Tables'],
      ['readers', 'data', 'data/ks'],
    ]) {
      const r = await authctl(['invalidatepermissionscache', ...args]);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
    expect(fake.requests.map((r) => r.url)).toEqual(Array(4).fill('/v1/cache/users/readers?caches=permissions'));
  });

  test("nodetool's resource options as resource paths, in nodetool's words when refused", () => {
    expect(permissionResources('r', [], { keyspace: 'ks', table: 't' })).toEqual(['data/ks/t']);
    expect(permissionResources('r', [], { keyspace: 'ks' })).toEqual(['data/ks']);
    expect(permissionResources('r', [], { keyspace: 'ks', allTables: true })).toEqual(['data/ks']);
    expect(permissionResources('r', ['data'], { allKeyspaces: true, allRoles: true, role: 'bob', allMbeans: true, mbean: 'm' })).toEqual([
      'data',
      'roles',
      'roles/bob',
      'mbean',
      'mbean/m',
    ]);
    expect(permissionResources('r', [], { functionsInKeyspace: 'ks' })).toEqual(['functions/ks']);
    expect(permissionResources('r', [], { functionsInKeyspace: 'ks', function: 'f' })).toEqual(['functions/ks/f']);
    expect(permissionResources(undefined, [], {})).toEqual([]);
    expect(() => permissionResources(undefined, [], { allKeyspaces: true })).toThrow('No resource options allowed without a <role> being specified');
    expect(() => permissionResources('r', [], { table: 't' })).toThrow('--table option should be passed along with --keyspace option');
    expect(() => permissionResources('r', [], { allTables: true })).toThrow('--all-tables option should be passed along with --keyspace option');
    expect(() => permissionResources('r', [], { function: 'f' })).toThrow('--function option should be passed along with --functions-in-keyspace option');
    expect(() => permissionResources('r', [], { keyspace: '..' })).toThrow(UsageError);
  });

  test('parsePermissionWords', () => {
    expect(parsePermissionWords(['all', 'permissions', 'on', 'data', 'to', 'dba'], 'to')).toEqual({ permissions: ['ALL'], resource: 'data', role: 'dba' });
    expect(parsePermissionWords(['SELECT,', 'MODIFY', 'ON', 'a/b', 'TO', 'r'], 'to').permissions).toEqual(['SELECT', 'MODIFY']);
  });
});
