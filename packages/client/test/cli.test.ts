import { Readable } from 'node:stream';
import type { NodeInfo, RoleInfo, SettingsView } from '@authcache/client';
import { main } from '../src/cli/main';
import type { CliIO } from '../src/cli/io';
import { closedPortUrl, type FakeNode, propagation, type Recorded, type Reply, startFakeNode } from './fake-node';
import { runAuthctl } from './run-authctl';

/** authctl run in-process against a fake node: what it sends, what it prints, how it exits. */
describe('authctl (in-process, fake node)', () => {
  let fake: FakeNode;
  let port: string;

  beforeEach(async () => {
    fake = await startFakeNode();
    port = new URL(fake.url).port;
  });
  afterEach(() => fake.close());

  const authctl = (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) => runAuthctl(['-p', port, ...args], opts);

  const answer = (f: (r: Recorded) => Reply) => fake.setHandler(f);
  const requests = () => fake.requests.map((r) => `${r.method} ${r.url}`);
  const body = (i: number): unknown => JSON.parse(fake.requests[i]!.body);

  const stats = (size: number) => ({ size, hits: 0, misses: 0, evictions: 0, loads: 0, load_failures: 0 });
  const members: NodeInfo[] = [
    { id: 'node1', address: '127.0.0.1:7001', status: 'UP', applied_seq: 12, lag: 0, cluster_seq: 12, last_seen: '2026-01-01T00:00:00.000Z', heartbeat_age_ms: 0, cache: { credentials: stats(3), roles: stats(4) } },
    { id: 'node-two', address: '127.0.0.1:7002', status: 'DOWN', applied_seq: 9, lag: 3, cluster_seq: 12, last_seen: '2026-01-01T00:00:00.000Z', heartbeat_age_ms: 9000, cache: { credentials: stats(0), roles: stats(0) } },
  ];

  describe('status', () => {
    test('one nodetool-like line per member; awk $2 is the address', async () => {
      answer(() => ({ status: 200, body: members }));
      const r = await authctl(['status']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines).toEqual([
        'UN  127.0.0.1:7001  node1     seq=12  entries=7',
        'DN  127.0.0.1:7002  node-two  seq=9  entries=0',
      ]);
      expect(lines.filter((l) => l.startsWith('UN')).map((l) => l.split(/\s+/)[1])).toEqual(['127.0.0.1:7001']);
      expect(fake.requests[0]!.headers.authorization).toBe('Bearer tok');
      expect(requests()).toEqual(['GET /v1/cluster/nodes']);
    });

    test('--json prints the answer as it came', async () => {
      answer(() => ({ status: 200, body: members }));
      const r = await authctl(['--json', 'status']);
      expect(JSON.parse(r.stdout)).toEqual(members);
    });

    test('--token beats $AUTHCACHE_ADMIN_TOKEN', async () => {
      answer(() => ({ status: 200, body: [] }));
      await authctl(['--token', 'other', 'status']);
      expect(fake.requests[0]!.headers.authorization).toBe('Bearer other');
    });

    test('-h is the host, as in nodetool, and takes host:port from the status column', async () => {
      answer(() => ({ status: 200, body: [] }));
      const r = await authctl(['-h', `127.0.0.1:${port}`, 'status']);
      expect(r.code).toBe(0);
      expect(fake.requests).toHaveLength(1);
    });
  });

  describe('invalidate verbs', () => {
    test('whole cache, cluster-wide, per verb', async () => {
      answer(() => ({ status: 200, body: { message: 'Cache flushed successfully.', ...propagation } }));
      for (const verb of ['invalidatecredentialscache', 'invalidaterolescache', 'invalidateauthcaches']) {
        const r = await authctl([verb]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain('Applied on 3/3 nodes (seq 42)');
      }
      expect(requests()).toEqual(['DELETE /v1/cache?caches=credentials', 'DELETE /v1/cache?caches=roles', 'DELETE /v1/cache']);
    });

    test('users: one call each, named in the output; --local goes to the target node only', async () => {
      answer((req) => ({ status: 200, body: { message: `Cache invalidated for user: ${req.url}`, ...propagation } }));
      const r = await authctl(['invalidatecredentialscache', 'alice', 'bob', 'alice', '--local']);
      expect(r.code).toBe(0);
      expect(requests()).toEqual([
        'DELETE /v1/cache/users/alice?local=true&caches=credentials',
        'DELETE /v1/cache/users/bob?local=true&caches=credentials',
      ]);
      expect(r.stdout).toContain('Invalidated CredentialsCache for alice');
      expect(r.stdout).toContain('Invalidated CredentialsCache for bob');
    });

    test('partial propagation: exit 1, the failed node named on stdout and stderr', async () => {
      const partial = {
        message: 'Cache flushed successfully.',
        seq: 7,
        nodes: { total: 3, successful: 2, failed: 1 },
        failures: [{ node: 'node3', reason: 'timeout' }],
      };
      answer(() => ({ status: 200, body: partial }));
      const r = await authctl(['invalidateauthcaches']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('Applied on 2/3 nodes (seq 7); FAILED on 1:');
      expect(r.stdout).toMatch(/FAILED\s+node3\s+timeout/);
      expect(r.stderr).toContain('node3 did not confirm');

      const j = await authctl(['--json', 'invalidateauthcaches']);
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout)).toEqual(partial);
    });

    test("'--' ends the options, as in nodetool's synopsis ([--] [<role>...]): a user named like a flag", async () => {
      answer(() => ({ status: 200, body: { message: 'ok', ...propagation } }));
      const r = await authctl(['invalidaterolescache', '--', '-alice', '--local']);
      expect(r.code).toBe(0);
      expect(requests()).toEqual(['DELETE /v1/cache/users/-alice?caches=roles', 'DELETE /v1/cache/users/--local?caches=roles']);
    });

    test("nodetool's verbs for caches authcache lacks are refused by name, exit 2, nothing sent", async () => {
      for (const [verb, cache] of [
        ['invalidatenetworkpermissionscache', 'NetworkPermissionsCache'],
        ['invalidatejmxpermissionscache', 'JmxPermissionsCache'],
        ['invalidatecidrpermissionscache', 'CIDRPermissionsCache'],
      ]) {
        const r = await authctl([verb!, 'alice']);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`${verb}: authcache has no ${cache}`);
      }
      expect(fake.requests).toHaveLength(0);
      // not listed among the verbs
      expect((await authctl(['--help'])).stdout).not.toContain('invalidatenetworkpermissionscache');
    });

    test('--json with users prints one answer per user, in order', async () => {
      answer((req) => ({ status: 200, body: { message: req.url, ...propagation } }));
      const r = await authctl(['--json', 'invalidaterolescache', 'a', 'b']);
      const parsed = JSON.parse(r.stdout) as Array<{ message: string }>;
      expect(parsed.map((p) => p.message)).toEqual(['/v1/cache/users/a?caches=roles', '/v1/cache/users/b?caches=roles']);
    });
  });

  describe('settings', () => {
    const view: SettingsView = {
      node: 'node1',
      settings: {
        credentials: { ttl_ms: 2000, max_entries: 1000, refresh_ms: 1000, active_update: true, enabled: true },
        roles: { ttl_ms: 3600000, max_entries: 100000, refresh_ms: 0, active_update: false, enabled: true },
      },
      transient: {},
      persistent: {},
    };

    test("getauthcacheconfig --cache-name prints Cassandra's four lines", async () => {
      answer(() => ({ status: 200, body: view }));
      const r = await authctl(['getauthcacheconfig', '--cache-name', 'CredentialsCache']);
      expect(r.stdout).toBe('Validity Period: 2000\nUpdate Interval: 1000\nMax Entries: 1000\nActive Update: true\n');
      const all = await authctl(['getauthcacheconfig']);
      expect(all.stdout).toContain('CredentialsCache:\n  Validity Period: 2000');
      expect(all.stdout).toContain('RolesCache:\n  Validity Period: 3600000');
    });

    test("setauthcacheconfig with Cassandra's flags sends one change for that cache", async () => {
      answer(() => ({ status: 200, body: { message: 'Settings updated.', settings: view.settings, ...propagation } }));
      const r = await authctl([
        'setauthcacheconfig', '--cache-name', 'RolesCache', '--validity-period', '5000', '--update-interval', '100',
        '--max-entries', '10', '--disable-active-update',
      ]);
      expect(r.code).toBe(0);
      expect(requests()).toEqual(['PUT /v1/cache/settings']);
      expect(body(0)).toEqual({ cache: 'roles', ttl_ms: 5000, refresh_ms: 100, max_entries: 10, active_update: false });
      // nodetool's lines exactly (SetAuthCacheConfigTest.assertSetConfig), then the cache and the propagation
      expect(r.stdout).toBe(
        'Changed Validity Period to 5000\nChanged Update Interval to 100\nChanged Max Entries to 10\nChanged Active Update to false\n' +
          'For RolesCache, transient\nApplied on 3/3 nodes (seq 42)\n',
      );
    });

    test("--update-interval -1 is Cassandra's 'no separate refresh': refresh off", async () => {
      answer(() => ({ status: 200, body: { message: 'Settings updated.', settings: view.settings, ...propagation } }));
      const r = await authctl(['setauthcacheconfig', '--cache-name', 'CredentialsCache', '--update-interval', '-1']);
      expect(r.code).toBe(0);
      expect(body(0)).toEqual({ cache: 'credentials', refresh_ms: 0 });
      // printed as nodetool prints it (SetAuthCacheConfigTest.assertSetConfigDisabled)
      expect(r.stdout.split('\n')[0]).toBe('Changed Update Interval to -1');
      expect((await authctl(['setauthcacheconfig', '--update-interval', '-2'])).code).toBe(2);
    });

    test('--ttl-minutes, --persistent, no cache name: every cache', async () => {
      answer(() => ({ status: 200, body: { message: 'Settings updated.', settings: view.settings, ...propagation } }));
      const r = await authctl(['setauthcacheconfig', '--ttl-minutes', '120', '--persistent']);
      expect(body(0)).toEqual({ ttl_ms: 7_200_000, persistent: true });
      expect(r.stdout.split('\n').slice(0, 2)).toEqual([
        'Changed Validity Period to 7200000',
        'For every cache (CredentialsCache, RolesCache, PermissionsCache and ImpersonationCache), persistent',
      ]);
    });

    test('--local is a query parameter', async () => {
      answer(() => ({ status: 200, body: { message: 'Settings updated.', settings: view.settings, ...propagation } }));
      await authctl(['setauthcacheconfig', '--max-entries', '5', '--local']);
      expect(requests()).toEqual(['PUT /v1/cache/settings?local=true']);
    });

    test("nodetool's refusals (Get/SetAuthCacheConfigTest): its words on stderr, exit 2 (usage), nothing sent", async () => {
      const cases: Array<[string[], string]> = [
        [['getauthcacheconfig', '--cache-name'], "option '--cache-name <name>' argument missing"],
        [['getauthcacheconfig', '--cache-name', 'wrong'], 'Unknown cache name: wrong;'],
        [['setauthcacheconfig', '--cache-name', 'wrong', '--validity-period', '1'], 'Unknown cache name: wrong;'],
        [['getauthcacheconfig', '--cache-name', 'NetworkPermissionsCache'], 'Unknown cache name: NetworkPermissionsCache (a Cassandra cache authcache does not have)'],
        [['setauthcacheconfig', '--cache-name', 'PermissionsCache'], 'At least one optional parameter need to be passed'],
        [['setauthcacheconfig', '--cache-name', 'RolesCache', '--enable-active-update', '--disable-active-update'], 'contradict each other'],
      ];
      for (const [args, message] of cases) {
        const r = await authctl(args);
        expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
        expect(r.stderr).toContain(message);
        // nodetool's second line, with our name
        expect(r.stderr.trimEnd().split('\n').pop()).toBe("See 'authctl help' or 'authctl help <command>'.");
      }
      expect(fake.requests).toHaveLength(0);
    });

    test('usage errors send nothing', async () => {
      for (const args of [
        ['setauthcacheconfig'],
        ['setauthcacheconfig', '--ttl-ms', '1', '--ttl-minutes', '1'],
        ['setauthcacheconfig', '--cache-name', 'CountersCache', '--ttl-ms', '1'],
        ['setauthcacheconfig', '--max-entries', 'lots'],
        ['setauthcacheconfig', '--enable-active-update', '--disable-active-update'],
      ]) {
        const r = await authctl(args);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.stderr).not.toBe('');
      }
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('role', () => {
    const alice: RoleInfo = { name: 'alice', login: true, superuser: false, roles: ['reader'], has_password: true };

    test('create: checks absence, then PUTs what was asked, password from stdin', async () => {
      answer((req) =>
        req.method === 'GET' ? { status: 404, body: { error: 'role alice does not exist' } } : { status: 201, body: { role: alice, created: true, ...propagation } },
      );
      const r = await authctl(['role', 'create', 'alice', '--password-stdin', '--login', '--grant', 'reader', '--grant', 'app'], { stdin: 's3cret\n' });
      expect(r.code).toBe(0);
      expect(requests()).toEqual(['GET /v1/roles/alice', 'PUT /v1/roles/alice']);
      expect(body(1)).toEqual({ password: 's3cret', login: true, grant: ['reader', 'app'] });
      expect(r.stdout).toContain('Role alice created: login=yes superuser=no password=set roles=reader');
      expect(r.stderr).toBe('');
    });

    test('create an existing role: exit 1, nothing written', async () => {
      answer(() => ({ status: 200, body: alice }));
      const r = await authctl(['role', 'create', 'alice', '--login']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('already exists');
      expect(requests()).toEqual(['GET /v1/roles/alice']);
    });

    test('alter: --no-login, --no-superuser, --revoke; --password warns', async () => {
      answer((req) => (req.method === 'GET' ? { status: 200, body: alice } : { status: 200, body: { role: alice, created: false, ...propagation } }));
      const r = await authctl(['role', 'alter', 'alice', '--no-login', '--no-superuser', '--revoke', 'reader', '--password', 'pw2']);
      expect(r.code).toBe(0);
      expect(body(1)).toEqual({ login: false, superuser: false, revoke: ['reader'], password: 'pw2' });
      expect(r.stderr).toContain('warning');
      expect(r.stdout).toContain('Role alice altered');
    });

    test('alter a missing role: exit 1; alter with nothing to change: exit 2', async () => {
      answer(() => ({ status: 404, body: { error: 'role bob does not exist' } }));
      expect((await authctl(['role', 'alter', 'bob', '--login'])).code).toBe(1);
      expect((await authctl(['role', 'alter', 'bob'])).code).toBe(2);
    });

    test('drop and list', async () => {
      answer((req) => (req.method === 'DELETE' ? { status: 200, body: { message: 'Role dropped: alice', ...propagation } } : { status: 200, body: [alice] }));
      const d = await authctl(['role', 'drop', 'alice']);
      expect(d.code).toBe(0);
      expect(d.stdout).toContain('Role alice dropped');
      const l = await authctl(['role', 'list']);
      expect(l.stdout.split('\n')[0]).toMatch(/^role\s+login\s+superuser\s+password\s+member_of$/);
      expect(l.stdout.split('\n')[1]).toMatch(/^alice\s+yes\s+no\s+set\s+reader$/);
      expect(JSON.parse((await authctl(['role', 'list', '--json'])).stdout)).toEqual([alice]);
    });

    test('names that cannot be a path segment are usage errors', async () => {
      expect((await authctl(['role', 'drop', '..'])).code).toBe(2);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('login', () => {
    test('accepted: exit 0; rejected: exit 1 with the answer on stdout', async () => {
      answer((req) =>
        (JSON.parse(req.body) as { password: string }).password === 'good'
          ? { status: 200, body: { username: 'alice', roles: ['reader'], superuser: false, cached: true, node: 'node1' } }
          : { status: 401, body: { error: 'invalid credentials' } },
      );
      const ok = await authctl(['login', 'alice', '--password-stdin'], { stdin: 'good' });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('Login accepted: alice on node1');
      expect(fake.requests[0]!.headers.authorization).toBeUndefined();

      const bad = await authctl(['login', 'alice', '--password-stdin'], { stdin: 'bad' });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain('Login rejected: alice (invalid credentials)');

      const json = await authctl(['--json', 'login', 'alice', '--password-stdin'], { stdin: 'bad' });
      expect(JSON.parse(json.stdout)).toEqual({ error: 'invalid credentials' });
    });

    test('no password source off a terminal: exit 2 without a request', async () => {
      const r = await authctl(['login', 'alice']);
      expect(r.code).toBe(2);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('exit codes', () => {
    test('401 without a token: exit 1 and a hint', async () => {
      answer(() => ({ status: 401, body: { error: 'admin credentials required' } }));
      const r = await authctl(['status'], { env: { AUTHCACHE_ADMIN_TOKEN: '' } });
      expect(r.code).toBe(1);
      expect(fake.requests[0]!.headers.authorization).toBeUndefined();
      expect(r.stderr).toContain('set AUTHCACHE_ADMIN_TOKEN or pass --token');
    });

    test('403: exit 1 with the server message; --json also prints the answer', async () => {
      answer(() => ({ status: 403, body: { error: 'admin access denied' } }));
      const r = await authctl(['--json', 'invalidateauthcaches']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('HTTP 403');
      expect(r.stderr).toContain('admin access denied');
      expect(JSON.parse(r.stdout)).toEqual({ error: 'admin access denied' });
    });

    test('400: exit 1 with the server message', async () => {
      answer(() => ({ status: 400, body: { error: 'ttl_ms must be at most 31536000000' } }));
      const r = await authctl(['setauthcacheconfig', '--ttl-ms', '99999999999999']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ttl_ms must be at most');
    });

    test('503: exit 3', async () => {
      answer(() => ({ status: 503, body: { error: 'node out of sync' } }));
      const r = await authctl(['status']);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('node out of sync');
    });

    test('nothing listening: exit 3', async () => {
      const closed = new URL(await closedPortUrl()).port;
      let stderr = '';
      const code = await main(['-p', closed, 'status'], {
        stdout: { write: () => true },
        stderr: { write: (s: string) => (stderr += s) },
        stdin: Readable.from([]),
        env: {},
      });
      expect(code).toBe(3);
      expect(stderr).toContain(`cannot reach 127.0.0.1:${closed}`);
    });

    test('usage: unknown verb, unknown option, missing argument, bad port, extra argument: exit 2', async () => {
      for (const args of [['bogus'], ['status', '--bogus'], ['login'], ['role'], ['-p', 'x', 'status'], ['status', 'extra'], []]) {
        const r = await authctl(args);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
      }
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe("nodetool's connection flags (StatusTest runs `nodetool -pp status`)", () => {
    test('-pp / --print-port: accepted before or after the verb, nothing else changes', async () => {
      answer(() => ({ status: 200, body: members }));
      for (const args of [['-pp', 'status'], ['status', '-pp'], ['--print-port', 'status']]) {
        const r = await authctl(args);
        expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
        expect(r.stdout.split('\n')[0]).toMatch(/^UN\s+127\.0\.0\.1:7001\s+node1\s+seq=12\s+entries=7$/);
      }
      expect(fake.requests).toHaveLength(3);
    });

    test('-u, -pw, -pwf (JMX credentials) are refused with the reason, exit 2, nothing sent; not misread as -p w', async () => {
      for (const args of [['-u', 'cassandra', '-pw', 'cassandra', 'status'], ['-pw', 'secret', 'status'], ['status', '-pwf', '/etc/jmx.pw'], ['--username', 'x', 'status']]) {
        const r = await authctl(args);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.stderr).toContain("nodetool's JMX credentials; authctl authenticates with --token");
        expect(r.stderr).not.toContain('port');
      }
      expect(fake.requests).toHaveLength(0);
    });

    test('an option value that looks like -pp is left as it is', async () => {
      answer(() => ({ status: 200, body: members }));
      const r = await authctl(['--token', '-pp', 'status']);
      expect(r.code).toBe(0);
      expect(fake.requests[0]!.headers.authorization).toBe('Bearer -pp');
    });
  });

  describe('--help', () => {
    const verbs = [
      ['status'],
      ['invalidatecredentialscache'],
      ['invalidaterolescache'],
      ['invalidateauthcaches'],
      ['getauthcacheconfig'],
      ['setauthcacheconfig'],
      ['role'],
      ['role', 'create'],
      ['role', 'alter'],
      ['role', 'drop'],
      ['role', 'list'],
      ['login'],
      ['removenode'],
    ];

    test.each(verbs.map((v) => [v.join(' ')]))('%s --help: usage on stdout, exit 0, nothing sent', async (verb) => {
      const r = await authctl([...verb.split(' '), '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: authctl ${verb}`);
      expect(r.stdout).toContain('-h, --host <host>');
      expect(fake.requests).toHaveLength(0);
    });

    test('the top-level help lists every verb and the exit codes', async () => {
      const r = await authctl(['--help']);
      for (const v of ['status', 'invalidatecredentialscache', 'invalidaterolescache', 'invalidateauthcaches', 'getauthcacheconfig', 'setauthcacheconfig', 'role', 'login', 'removenode', 'help']) {
        expect(r.stdout).toContain(`  ${v}`);
      }
      expect(r.stdout).toContain('Exit codes');
    });
  });
});
