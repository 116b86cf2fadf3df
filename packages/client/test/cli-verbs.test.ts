import { type FakeNode, propagation, startFakeNode } from './fake-node';
import { runAuthctl } from './run-authctl';

/**
 * authctl in-process against a fake node: the target from $AUTHCACHE_URL, contradicting flags,
 * `help VERB`, and removenode. Every usage error must leave the node untouched.
 */
describe('authctl target, contradictions, help, removenode', () => {
  let fake: FakeNode;
  let port: string;

  beforeEach(async () => {
    fake = await startFakeNode();
    port = new URL(fake.url).port;
  });
  afterEach(() => fake.close());

  const authctl = (args: string[], env: Record<string, string> = {}) => runAuthctl(args, { env });

  test('AUTHCACHE_URL is the default target; -p and -h override it', async () => {
    fake.setHandler(() => ({ status: 200, body: [] }));
    expect((await authctl(['status'], { AUTHCACHE_URL: fake.url })).code).toBe(0);
    expect(fake.requests).toHaveLength(1);
    // -p replaces the port of AUTHCACHE_URL; -h replaces its host and port
    expect((await authctl(['-p', port, 'status'], { AUTHCACHE_URL: 'http://127.0.0.1:1' })).code).toBe(0);
    expect((await authctl(['-h', `127.0.0.1:${port}`, 'status'], { AUTHCACHE_URL: 'http://192.0.2.1:1' })).code).toBe(0);
    expect(fake.requests).toHaveLength(3);
  });

  test('AUTHCACHE_HOST / AUTHCACHE_PORT (a node’s listen address) do not redirect authctl', async () => {
    fake.setHandler(() => ({ status: 200, body: [] }));
    const r = await authctl(['-p', port, 'status'], { AUTHCACHE_HOST: '192.0.2.1', AUTHCACHE_PORT: '1' });
    expect(r.code).toBe(0);
    expect(fake.requests).toHaveLength(1);
  });

  test('an invalid AUTHCACHE_URL is a usage error naming the variable', async () => {
    const r = await authctl(['status'], { AUTHCACHE_URL: 'ftp://x' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('AUTHCACHE_URL');
  });

  test.each([
    [['role', 'create', 'dave', '--login', '--no-login'], '--login and --no-login'],
    [['role', 'create', 'dave', '--no-login', '--login'], '--login and --no-login'],
    [['role', 'alter', 'carol', '--superuser', '--no-superuser'], '--superuser and --no-superuser'],
    [['role', 'alter', 'carol', '--revoke', 'readers', '--grant', 'readers'], '--grant and --revoke both name readers'],
    [['role', 'alter', 'carol', '--password', 'x', '--password-stdin'], '--password and --password-stdin'],
    [['setauthcacheconfig', '--enable-active-update', '--disable-active-update'], '--enable-active-update and --disable-active-update'],
    [['setauthcacheconfig', '--ttl-ms', '1', '--validity-period', '1'], '--ttl-ms and --validity-period'],
    [['setauthcacheconfig', '--ttl-minutes', '1', '--ttl-ms', '1'], '--ttl-ms and --ttl-minutes'],
    [['setauthcacheconfig', '--refresh-ms', '1', '--update-interval', '1'], '--refresh-ms and --update-interval'],
    [['role', 'create', 'x'.repeat(257), '--login'], 'longer than 256'],
    [['setauthcacheconfig', '--ttl-ms', '1', '--ttl-ms', '2'], '--ttl-ms given twice with different values (1, 2)'],
    [['setauthcacheconfig', '--cache-name', 'roles', '--cache-name', 'CredentialsCache', '--ttl-ms', '1'], '--cache-name given twice'],
    [['role', 'alter', 'carol', '--password', 'a', '--password', 'b'], '--password given twice'],
  ])('%j: exit 2, says %s, sends nothing', async (args, message) => {
    const r = await authctl(['-p', port, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(fake.requests).toHaveLength(0);
  });

  test('help VERB prints that verb’s help; help nosuchverb names it and exits 2', async () => {
    const ok = await authctl(['help', 'role', 'alter']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Usage: authctl role alter');
    const top = await authctl(['help']);
    expect(top).toMatchObject({ code: 0 });
    expect(top.stdout).toContain('Usage: authctl');
    for (const words of [['nosuchverb'], ['role', 'nosuchverb']]) {
      const bad = await authctl(['help', ...words]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`unknown verb '${words.join(' ')}'`);
      expect(bad.stderr.split('\n').filter(Boolean).length).toBeLessThanOrEqual(2);
    }
  });

  test('removenode: DELETE /v1/cluster/nodes/{id}, prints the message; 404 exits 1', async () => {
    fake.setHandler(() => ({ status: 200, body: { message: 'Node removed: node 3' } }));
    const r = await authctl(['-p', port, 'removenode', 'node 3']);
    expect(r).toMatchObject({ code: 0, stdout: 'Node removed: node 3\n' });
    expect(fake.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['DELETE /v1/cluster/nodes/node%203']);
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer tok');

    fake.setHandler(() => ({ status: 404, body: { error: 'unknown node: nope' } }));
    const missing = await authctl(['-p', port, '--json', 'removenode', 'nope']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ error: 'unknown node: nope' });
    expect(missing.stderr).toContain('unknown node: nope');
    expect((await authctl(['-p', port, 'removenode'])).code).toBe(2);
  });

  test('https:// against a plain-HTTP node: exit 3 and one clear line, no OpenSSL dump', async () => {
    const r = await authctl(['-h', `https://127.0.0.1:${port}`, 'status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`authctl: cannot reach https://127.0.0.1:${port}: TLS handshake failed: the node does not speak HTTPS on this port (use an http:// address)\n`);
  });

  test('role alter with distinct grants and revokes still goes through', async () => {
    fake.setHandler((req) =>
      req.method === 'GET'
        ? { status: 200, body: { name: 'carol', login: true, superuser: false, roles: ['readers'], has_password: true } }
        : { status: 200, body: { role: { name: 'carol', login: true, superuser: false, roles: ['writers'], has_password: true }, created: false, ...propagation } },
    );
    const r = await authctl(['-p', port, 'role', 'alter', 'carol', '--grant', 'writers', '--revoke', 'readers']);
    expect(r.code).toBe(0);
    expect(JSON.parse(fake.requests[1]!.body)).toEqual({ grant: ['writers'], revoke: ['readers'] });
  });
});
