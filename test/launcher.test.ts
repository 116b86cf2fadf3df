/**
 * The launcher's command line (`pnpm start -- ...`, scripts/cluster.mjs) as pnpm 10 hands it over,
 * and its one clear error when a mode's dependency is missing (docs/architecture.md, "Redis
 * topologies"). Nothing here starts a cluster: each case fails before the first node.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
let onlyNode: string;

beforeAll(() => {
  // A PATH with node and nothing else: no redis-server to find.
  onlyNode = mkdtempSync(join(tmpdir(), 'authcache-launcher-'));
  symlinkSync(process.execPath, join(onlyNode, 'node'));
});
afterAll(() => rmSync(onlyNode, { recursive: true, force: true }));

function launch(args: string[], path = process.env.PATH ?? '') {
  const r = spawnSync(process.execPath, ['scripts/cluster.mjs', ...args], { cwd: root, env: { PATH: path, HOME: process.env.HOME ?? '/tmp' }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

it('reads the options after the `--` that pnpm 10 passes on (pnpm start -- --backend ...)', () => {
  const r = launch(['--', '--nodes', '2', '--backend', 'bogus']);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^cluster: --backend must be redis, postgres or ldap, got "bogus"\n/);
});

it('still refuses a stray argument', () => {
  const r = launch(['--', 'bogus']);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/Unexpected argument 'bogus'/);
});

it.each(['sentinel', 'cluster'])('--redis %s without redis-server on PATH: one line saying what to install or set', (mode) => {
  const r = launch(['--redis', mode, '--nodes', '1'], onlyNode);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(
    'cluster: redis-server is not on PATH: Sentinel and Redis Cluster deployments are started from the binary (e.g. apt-get install redis-server), not from a container; or set AUTHCACHE_REDIS_SENTINELS / AUTHCACHE_REDIS_CLUSTER to a deployment of your own.\n',
  );
});
