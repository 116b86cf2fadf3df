/**
 * Start-up refusals of `node packages/node/dist/main.js` (the README's Configuration): missing or invalid required
 * configuration exits non-zero with ONE line naming the variable. No Redis or cluster is needed: the
 * node must refuse before it connects anywhere.
 */

import { spawn } from 'node:child_process';
import { defaultNodeEntry, freePort } from '@authcache/testkit';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs the node with exactly `env` (plus PATH); kills it if it has not exited within 10 s. */
function runNode(env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [defaultNodeEntry()], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // A node that does not refuse would serve forever: that is a failure, not a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

async function minimalEnv(): Promise<Record<string, string>> {
  // A port nobody listens on: if the node did try Redis it would not find one by accident.
  return {
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    AUTHCACHE_PORT: String(await freePort()),
    AUTHCACHE_ADMIN_TOKEN: 'tok',
  };
}

function lines(output: string): string[] {
  return output.split('\n').filter((l) => l.trim() !== '');
}

it('a missing AUTHCACHE_CLUSTER_SECRET: exit non-zero with one line naming it', async () => {
  const r = await runNode(await minimalEnv());
  expect(r.signal).toBeNull();
  expect(r.code).not.toBe(0);
  expect(lines(r.output)).toEqual([expect.stringContaining('AUTHCACHE_CLUSTER_SECRET')]);
});

it('an empty AUTHCACHE_CLUSTER_SECRET counts as missing', async () => {
  const r = await runNode({ ...(await minimalEnv()), AUTHCACHE_CLUSTER_SECRET: '' });
  expect(r.code).not.toBe(0);
  expect(r.signal).toBeNull();
  expect(lines(r.output)).toEqual([expect.stringContaining('AUTHCACHE_CLUSTER_SECRET')]);
});

it('an invalid AUTHCACHE_PORT: exit non-zero with one line naming it', async () => {
  const r = await runNode({ ...(await minimalEnv()), AUTHCACHE_CLUSTER_SECRET: 'a-long-enough-secret-value', AUTHCACHE_PORT: 'seventy' });
  expect(r.code).not.toBe(0);
  expect(r.signal).toBeNull();
  expect(lines(r.output)).toEqual([expect.stringContaining('AUTHCACHE_PORT')]);
});
