/**
 * authctl run as a process, as an operator runs it, against 3 real node processes and a real Redis:
 * every verb, every exit code, --json, the nodetool loop of the Cassandra runbooks through bash,
 * and the membership seen through a node that was SIGKILLed and one that was stopped.
 */

import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidCredentialsError } from '@authcache/client';
import { freePort } from '@authcache/testkit';
import { useCluster } from './support';
import { CLI, execIn, type Run, shellEnv, statusRows } from './support/cli';

// Heartbeats every 2 s (DOWN after 6.5 s without one) leave a SIGKILLed node UP in the membership long
// enough to see a partial propagation; a 1 s ack wait keeps each partial call short.
const s = useCluster({ env: { AUTHCACHE_HEARTBEAT_MS: '2000', AUTHCACHE_ACK_TIMEOUT_MS: '1000' } });

function exec(file: string, args: string[], opts: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  return execIn(shellEnv(s.token, opts.env), file, args, opts.stdin);
}

/** `authctl -p <port of node i> ...` */
const authctl = (node: number, args: string[], opts?: { stdin?: string; env?: Record<string, string | undefined> }) =>
  exec(process.execPath, [CLI, '-p', String(s.nodes[node]!.port), ...args], opts);

const address = (i: number) => `127.0.0.1:${s.nodes[i]!.port}`;

/**
 * Logs in on node i through the SDK, pinned to that node: the evidence of what the node enforces. (The
 * login verb itself is run as a process below; spawning it for every check would only add seconds.)
 */
async function loginOn(i: number, user: string, password: string): Promise<{ cached: boolean; roles: string[]; node: string } | null> {
  try {
    return await s.clients[i]!.login(user, password);
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return null;
    throw err;
  }
}

const ALL = [0, 1, 2];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx -y pnpm@10 build)`);
});

describe('authctl against a 3-node cluster', () => {
  test('status: one UN line per node, with the address and id the membership gives; --json parses', async () => {
    const r = await authctl(0, ['status']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const rows = statusRows(r.stdout);
    expect(rows.map((x) => x.state)).toEqual(['UN', 'UN', 'UN']);
    expect(rows.map((x) => x.address).sort()).toEqual(ALL.map(address).sort());
    expect(rows.map((x) => x.id).sort()).toEqual(s.nodes.map((n) => n.id).sort());

    // nodetool's -pp (StatusTest): accepted, the same lines (addresses always carry their port)
    const pp = await authctl(0, ['-pp', 'status']);
    expect(pp).toMatchObject({ code: 0, stderr: '' });
    expect(statusRows(pp.stdout).map((x) => x.address).sort()).toEqual(ALL.map(address).sort());

    const j = await authctl(2, ['--json', 'status']);
    expect(j.code).toBe(0);
    const nodes = JSON.parse(j.stdout) as Array<{ id: string; status: string; address: string }>;
    expect(nodes.map((n) => [n.id, n.status, n.address]).sort()).toEqual(s.nodes.map((n, i) => [n.id, 'UP', address(i)]).sort());
  });

  test('role create, list, login: a created user logs in on every node', async () => {
    expect((await authctl(0, ['role', 'create', 'reader'])).code).toBe(0);
    const c = await authctl(0, ['role', 'create', 'alice', '--password-stdin', '--login', '--grant', 'reader'], { stdin: 'alice-pw-1\n' });
    expect(c).toMatchObject({ code: 0, stderr: '' });
    expect(c.stdout).toContain('Role alice created: login=yes superuser=no password=set roles=reader');
    expect(c.stdout).toContain('Applied on 3/3 nodes');

    const again = await authctl(1, ['role', 'create', 'alice', '--login']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('role alice already exists');

    const list = await authctl(1, ['--json', 'role', 'list']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([{ name: 'alice', login: true, superuser: false, roles: ['reader'], has_password: true }]),
    );
    const table = await authctl(2, ['role', 'list']);
    expect(table.stdout).toMatch(/^alice\s+yes\s+no\s+set\s+reader$/m);

    for (const i of ALL) {
      const ok = await authctl(i, ['login', 'alice', '--password-stdin'], { stdin: 'alice-pw-1' });
      expect(ok).toMatchObject({ code: 0 });
      expect(ok.stdout).toContain(`Login accepted: alice on ${s.nodes[i]!.id}`);
      expect(await loginOn(i, 'alice', 'alice-pw-1')).toMatchObject({ cached: true, roles: ['reader'], node: s.nodes[i]!.id });
    }
    const okJson = await authctl(1, ['--json', 'login', 'alice', '--password-stdin'], { stdin: 'alice-pw-1\n' });
    expect(okJson.code).toBe(0);
    expect(JSON.parse(okJson.stdout)).toEqual({ username: 'alice', roles: ['reader'], superuser: false, cached: true, node: s.nodes[1]!.id });
    const bad = await authctl(0, ['login', 'alice', '--password-stdin'], { stdin: 'wrong' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('Login rejected: alice (invalid credentials)');
    const badJson = await authctl(0, ['--json', 'login', 'alice', '--password-stdin'], { stdin: 'wrong' });
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toEqual({ error: 'invalid credentials' });
  });

  test('role alter is enforced on every node by the time authctl returns: rotate, lock out, revoke', async () => {
    // Every node holds the old password in its cache before the change.
    for (const i of ALL) expect(await loginOn(i, 'alice', 'alice-pw-1')).toMatchObject({ cached: true });

    const rotate = await authctl(1, ['role', 'alter', 'alice', '--password-stdin'], { stdin: 'alice-pw-2\n' });
    expect(rotate).toMatchObject({ code: 0, stderr: '' });
    expect(rotate.stdout).toContain('Role alice altered');
    for (const i of ALL) {
      expect(await loginOn(i, 'alice', 'alice-pw-1')).toBeNull();
      expect(await loginOn(i, 'alice', 'alice-pw-2')).not.toBeNull();
    }

    expect((await authctl(2, ['role', 'alter', 'alice', '--no-login'])).code).toBe(0);
    for (const i of ALL) expect(await loginOn(i, 'alice', 'alice-pw-2')).toBeNull();

    const reenable = await authctl(0, ['role', 'alter', 'alice', '--login', '--revoke', 'reader', '--password', 'alice-pw-3']);
    expect(reenable.code).toBe(0);
    expect(reenable.stderr).toContain('warning: a password on the command line');
    for (const i of ALL) expect(await loginOn(i, 'alice', 'alice-pw-3')).toMatchObject({ roles: [] });

    expect((await authctl(0, ['role', 'alter', 'nobody', '--login'])).code).toBe(1);
  });

  test('role drop: the user is refused everywhere; dropping again is refused', async () => {
    expect((await authctl(0, ['role', 'create', 'temp', '--login', '--password-stdin'], { stdin: 'temp-pw' })).code).toBe(0);
    for (const i of ALL) expect(await loginOn(i, 'temp', 'temp-pw')).not.toBeNull();
    const d = await authctl(2, ['--json', 'role', 'drop', 'temp']);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ message: 'Role dropped: temp', nodes: { total: 3, successful: 3, failed: 0 } });
    for (const i of ALL) expect(await loginOn(i, 'temp', 'temp-pw')).toBeNull();
    const again = await authctl(0, ['role', 'drop', 'temp']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('HTTP 404');
  });

  test('invalidate verbs: cluster-wide by default, --local for the target node; --json parses', async () => {
    const warm = async () => {
      for (const i of ALL) {
        await loginOn(i, 'alice', 'alice-pw-3');
        expect(await loginOn(i, 'alice', 'alice-pw-3')).toMatchObject({ cached: true });
      }
    };

    await warm();
    const one = await authctl(0, ['invalidatecredentialscache', 'alice']);
    expect(one).toMatchObject({ code: 0, stderr: '' });
    expect(one.stdout).toMatch(/^Invalidated CredentialsCache for alice\nApplied on 3\/3 nodes \(seq \d+\)\n$/);
    // Invalidated through node 0, gone from node 2's cache too.
    for (const i of ALL) expect(await loginOn(i, 'alice', 'alice-pw-3')).toMatchObject({ cached: false });

    await warm();
    const local = await authctl(0, ['--json', 'invalidateauthcaches', '--local']);
    expect(local.code).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ nodes: { total: 1, successful: 1, failed: 0 } });
    expect(await loginOn(0, 'alice', 'alice-pw-3')).toMatchObject({ cached: false });
    expect(await loginOn(2, 'alice', 'alice-pw-3')).toMatchObject({ cached: true });

    for (const verb of ['invalidatecredentialscache', 'invalidaterolescache', 'invalidateauthcaches']) {
      const all = await authctl(1, ['--json', verb]);
      expect({ verb, code: all.code }).toEqual({ verb, code: 0 });
      expect(JSON.parse(all.stdout)).toMatchObject({ message: 'Cache flushed successfully.', nodes: { total: 3, successful: 3, failed: 0 }, failures: [] });
      const users = await authctl(2, ['--json', verb, 'alice', 'bob']);
      expect(users.code).toBe(0);
      expect((JSON.parse(users.stdout) as Array<{ message: string }>).map((x) => x.message)).toEqual([
        'Cache invalidated for user: alice',
        'Cache invalidated for user: bob',
      ]);
    }
  });

  test("getauthcacheconfig / setauthcacheconfig, our flags and Cassandra's, reach every node", async () => {
    const set = await authctl(0, ['setauthcacheconfig', '--cache-name', 'CredentialsCache', '--ttl-minutes', '30']);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toMatch(/^Changed Validity Period to 1800000\nFor CredentialsCache, transient\nApplied on 3\/3 nodes \(seq \d+\)\n$/);
    const get = await authctl(2, ['getauthcacheconfig', '--cache-name', 'credentials']);
    expect(get.stdout).toBe('Validity Period: 1800000\nUpdate Interval: 0\nMax Entries: 100000\nActive Update: false\n');

    const cassandra = await authctl(1, [
      'setauthcacheconfig', '--cache-name', 'RolesCache', '--validity-period', '120000', '--update-interval', '60000',
      '--max-entries', '500', '--enable-active-update',
    ]);
    expect(cassandra.code).toBe(0);
    // nodetool's own lines, in its order (SetAuthCacheConfigTest), then which cache and what it reached
    expect(cassandra.stdout.split('\n').slice(0, 5)).toEqual([
      'Changed Validity Period to 120000',
      'Changed Update Interval to 60000',
      'Changed Max Entries to 500',
      'Changed Active Update to true',
      'For RolesCache, transient',
    ]);
    for (const i of ALL) {
      const j = await authctl(i, ['--json', 'getauthcacheconfig']);
      const view = JSON.parse(j.stdout) as { node: string; settings: Record<string, Record<string, unknown>> };
      expect(view.node).toBe(s.nodes[i]!.id);
      expect(view.settings.roles).toMatchObject({ ttl_ms: 120000, refresh_ms: 60000, max_entries: 500, active_update: true });
      expect(view.settings.credentials).toMatchObject({ ttl_ms: 1800000, refresh_ms: 0, max_entries: 100000, active_update: false });
    }
    const both = await authctl(0, ['getauthcacheconfig']);
    expect(both.stdout).toContain('RolesCache:\n  Validity Period: 120000\n  Update Interval: 60000\n  Max Entries: 500\n  Active Update: true');

    // No --cache-name: every cache.
    expect((await authctl(2, ['setauthcacheconfig', '--ttl-ms', '3600000', '--refresh-ms', '0', '--disable-active-update'])).code).toBe(0);
    const reset = JSON.parse((await authctl(0, ['--json', 'getauthcacheconfig'])).stdout) as { settings: Record<string, Record<string, unknown>> };
    for (const c of ['credentials', 'roles']) expect(reset.settings[c]).toMatchObject({ ttl_ms: 3600000, refresh_ms: 0, active_update: false });

    // Cassandra's -1 (update interval = validity: no separate refresh) is printed as nodetool prints it, and is refresh off.
    await authctl(1, ['setauthcacheconfig', '--cache-name', 'RolesCache', '--update-interval', '60000']);
    const minus = await authctl(1, ['setauthcacheconfig', '--cache-name', 'RolesCache', '--update-interval', '-1']);
    expect(minus).toMatchObject({ code: 0, stderr: '' });
    expect(minus.stdout.split('\n').slice(0, 2)).toEqual(['Changed Update Interval to -1', 'For RolesCache, transient']);
    expect((await authctl(2, ['getauthcacheconfig', '--cache-name', 'RolesCache'])).stdout).toContain('\nUpdate Interval: 0\n');

    const conflicting = await authctl(0, ['setauthcacheconfig', '--ttl-ms', '1', '--validity-period', '1']);
    expect(conflicting.code).toBe(2);
    expect((await authctl(0, ['setauthcacheconfig'])).code).toBe(2);
  });

  test('exit 1 refused: a wrong token (403) and no token (401)', async () => {
    const wrong = await authctl(0, ['--token', 'not-the-token', 'invalidateauthcaches']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('HTTP 403');
    const none = await authctl(1, ['status'], { env: { AUTHCACHE_ADMIN_TOKEN: undefined } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('HTTP 401');
    expect(none.stderr).toContain('AUTHCACHE_ADMIN_TOKEN');
  });

  test('exit 2 usage, without touching the cluster; --help exits 0', async () => {
    for (const args of [
      ['bogus'], ['status', '--bogus'], ['login'], ['login', 'alice'], ['role', 'alter', 'alice'], ['-p', 'port', 'status'], ['help', 'nosuchverb'],
      ['role', 'create', 'dave', '--login', '--no-login'], ['role', 'alter', 'alice', '--revoke', 'reader', '--grant', 'reader'],
    ]) {
      const r = await exec(process.execPath, [CLI, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).not.toBe('');
    }
    const help = await exec(process.execPath, [CLI, 'invalidatecredentialscache', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: authctl invalidatecredentialscache');
  });

  test('AUTHCACHE_URL is the default target, -p overrides it; a node\'s AUTHCACHE_PORT is not read', async () => {
    const viaEnv = await exec(process.execPath, [CLI, 'status'], { env: { AUTHCACHE_URL: s.nodes[1]!.url, AUTHCACHE_PORT: '1' } });
    expect(viaEnv).toMatchObject({ code: 0, stderr: '' });
    expect(statusRows(viaEnv.stdout)).toHaveLength(3);
    const port = await freePort();
    const override = await exec(process.execPath, [CLI, '-p', String(s.nodes[2]!.port), '--json', 'status'], { env: { AUTHCACHE_URL: `http://127.0.0.1:${port}` } });
    expect(override.code).toBe(0);
  });

  test('exit 3: nothing listens on the port', async () => {
    const port = await freePort();
    const r = await exec(process.execPath, [CLI, '-h', '127.0.0.1', '-p', String(port), 'status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach 127.0.0.1:${port}`);
  });

  test("the runbooks' nodetool loop works through bash", async () => {
    const bin = mkdtempSync(join(tmpdir(), 'authctl-bin-'));
    try {
      const wrapper = join(bin, 'authctl');
      writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
      chmodSync(wrapper, 0o755);
      const P = s.nodes[0]!.port;
      const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };

      // As the README writes it: host and port apart.
      const loop = `set -o pipefail; for node in $(authctl -p ${P} status | grep '^UN' | awk '{print $2}'); do authctl -h \${node%:*} -p \${node#*:} invalidatecredentialscache || exit 1; done`;
      const r = await exec('bash', ['-c', loop], { env });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout.match(/^Applied on 3\/3 nodes/gm)).toHaveLength(3);

      // As the Cassandra runbook writes it (-h $node), per node with --local: each node names itself.
      for (const i of ALL) await loginOn(i, 'alice', 'alice-pw-3');
      const literal = `set -o pipefail; for node in $(authctl -p ${P} status | grep "^UN" | awk '{print $2}'); do authctl -h $node invalidatecredentialscache --local || exit 1; done`;
      const l = await exec('bash', ['-c', literal], { env });
      expect(l).toMatchObject({ code: 0, stderr: '' });
      const reached = [...l.stdout.matchAll(/^Applied on (\S+) only \(--local\)$/gm)].map((m) => m[1]);
      expect(reached.sort()).toEqual(s.nodes.map((n) => n.id).sort());
      for (const i of ALL) expect(await loginOn(i, 'alice', 'alice-pw-3')).toMatchObject({ cached: false });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test('a SIGKILLed node still UP in the membership: partial propagation exits 1 and names it; the node itself exits 3', async () => {
    const dead = s.nodes[2]!;
    await dead.kill();
    const status = await authctl(0, ['status']);
    // Its last heartbeat is still fresh: this is the window where an update cannot reach every member.
    expect(statusRows(status.stdout).find((x) => x.id === dead.id)?.state).toBe('UN');

    const r = await authctl(0, ['invalidatecredentialscache']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Applied on 2/3 nodes');
    expect(r.stdout).toMatch(new RegExp(`FAILED\\s+${dead.id}\\s+timeout`));
    expect(r.stderr).toContain(`${dead.id} did not confirm`);

    const j = await authctl(1, ['--json', 'invalidateauthcaches', 'alice']);
    expect(j.code).toBe(1);
    const [answer] = JSON.parse(j.stdout) as Array<{ nodes: unknown; failures: Array<{ node: string }> }>;
    expect(answer!.nodes).toEqual({ total: 3, successful: 2, failed: 1 });
    expect(answer!.failures.map((f) => f.node)).toEqual([dead.id]);

    const direct = await authctl(2, ['status']);
    expect(direct.code).toBe(3);
  });

  test('status shows DN for a stopped node, and the UN filter leaves it out', async () => {
    const stopped = s.nodes[1]!;
    await stopped.stop();
    const r = await authctl(0, ['status']);
    expect(r.code).toBe(0);
    const rows = statusRows(r.stdout);
    expect(rows.find((x) => x.id === stopped.id)).toEqual({ state: 'DN', address: address(1), id: stopped.id });
    expect(rows.find((x) => x.id === s.nodes[0]!.id)?.state).toBe('UN');

    const live = await exec('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} -p ${s.nodes[0]!.port} status | grep '^UN' | awk '{print $2}'`]);
    expect(live.stdout.split('\n')).toContain(address(0));
    expect(live.stdout.split('\n')).not.toContain(address(1));
  });

  test('removenode: refused for a live member (exit 1), forgets a stopped one, unknown ids exit 1', async () => {
    const live = await authctl(0, ['removenode', s.nodes[0]!.id]);
    expect(live.code).toBe(1);
    expect(live.stderr).toContain('HTTP 409');
    const gone = s.nodes[1]!.id; // stopped by the test above
    const r = await authctl(0, ['removenode', gone]);
    expect(r).toMatchObject({ code: 0, stdout: `Node removed: ${gone}\n` });
    expect(statusRows((await authctl(0, ['status'])).stdout).map((x) => x.id)).not.toContain(gone);
    const unknown = await authctl(0, ['removenode', 'no-such-node']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('HTTP 404');
  });
});
