/**
 * Every example of README.md, run as a reader runs it: in README order, in bash, against a real
 * 3-node cluster (ids node1..node3 as in the README), after exactly the `export` lines `pnpm start`
 * prints (scripts/lib/shell-env.cjs). The only liberty taken: the README's ports 7001-7003 are
 * mapped to the free ports the nodes got, so the test never collides with a running `pnpm start`.
 * Conventions for blocks: test/support/readme.ts.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthcacheClient, InvalidCredentialsError } from '@authcache/client';
import { repoRoot, startNode, startRedis, type NodeHandle, type RedisHandle } from '@authcache/testkit';
import { loadConfig } from '../packages/node/src/config';
import { checkNotRun, fencedBlocks, missingAnswers, nodeEnvironments, readmeWideProblems, runbookName, type Block } from './support/readme';
import { SETUP_TIMEOUT_MS } from './support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { operatorExports } = require('../scripts/lib/shell-env.cjs') as { operatorExports(o: { url: string; token: string; root: string }): string[] };

const ROOT = repoRoot();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = fencedBlocks(README);
const runnable = blocks.filter((b) => b.lang === 'bash');

/** How each runbook is invoked, and what proves it did its job. */
const RUNBOOKS: Record<string, { args: string[]; stdin?: string; after?: (out: string) => Promise<void> }> = {
  'rotate_password.sh': { args: ['carol'], stdin: 'carol-pw-2\n', after: () => everyNode((c) => expectLogin(c, 'carol', 'carol-pw-2', true)) },
  'lockout_user.sh': { args: ['carol'], after: () => everyNode((c) => expectLogin(c, 'carol', 'carol-pw-2', false)) },
  'password_compromise_response.sh': {
    args: ['carol'],
    after: async (out) => {
      const printed = /^New temporary password for carol: (\S+)$/m.exec(out)?.[1];
      expect(printed).toBeDefined();
      expect(readFileSync(incidentLog, 'utf8')).toMatch(/password compromised for carol - password reset\n$/);
      // carol is locked out (the runbook before): let her in to prove the printed password is hers.
      await clients[0]!.putRole('carol', { login: true });
      await everyNode((c) => expectLogin(c, 'carol', printed!, true));
    },
  },
  'invalidate_credentials_cluster.sh': { args: [], after: async (out) => expect(out).toMatch(/^Applied on 3\/3 nodes/m) },
  'invalidate_each_node.sh': { args: [], after: async (out) => expect(out.match(/^Applied on node\d only \(--local\)$/gm)).toHaveLength(3) },
};

let redis: RedisHandle;
let nodes: NodeHandle[] = [];
let clients: AuthcacheClient[] = [];
let work: string;
let incidentLog: string;
const token = randomBytes(18).toString('base64url');

async function everyNode(f: (c: AuthcacheClient) => Promise<void>): Promise<void> {
  for (const c of clients) await f(c);
}

async function expectLogin(c: AuthcacheClient, user: string, password: string, accepted: boolean): Promise<void> {
  const ok = await c.login(user, password).then(
    () => true,
    (err: unknown) => {
      if (err instanceof InvalidCredentialsError) return false;
      throw err;
    },
  );
  expect({ node: c.nodeUrls[0], user, accepted: ok }).toEqual({ node: c.nodeUrls[0], user, accepted });
}

/** The README's ports, 7001-7003, are the test nodes' ports. */
const mapPorts = (text: string) => text.replace(/\b700([123])\b/g, (_m, i: string) => String(nodes[Number(i) - 1]!.port));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** bash -c SCRIPT in the repository's root, with the operator's environment: none of a node's variables. */
function bash(script: string, opts: { stdin?: string; url?: string } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHCACHE_')));
  env.INCIDENT_LOG = incidentLog;
  const exports = operatorExports({ url: opts.url ?? nodes[0]!.url, token, root: ROOT }).join('\n');
  return new Promise((resolve) => {
    const child = execFile('bash', ['-c', `${exports}\n${script}`], { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
    // A script that never reads stdin may exit before it is written: that is not an error.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.stdin ?? '');
  });
}

const has = (tool: string) => bash(`command -v ${tool} >/dev/null`).then((r) => r.code === 0);

/** A runbook as the README says to run it: saved as its file, `bash NAME.sh ARGS`. */
async function runRunbook(block: Block, name: string, url?: string): Promise<Run> {
  const file = join(work, name);
  writeFileSync(file, mapPorts(block.text));
  const spec = RUNBOOKS[name];
  if (spec === undefined) throw new Error(`README runbook ${name} (line ${block.line}) has no entry in RUNBOOKS: say how to run it and what it must do`);
  return bash(['bash', JSON.stringify(file), ...spec.args.map((a) => JSON.stringify(a))].join(' '), { stdin: spec.stdin, ...(url ? { url } : {}) });
}

/**
 * A plain block: errexit and pipefail, so a failing command fails the block; curl gets its HTTP status
 * on a line of its own, so an error answer is seen although curl exits 0 on it.
 */
async function runPlain(block: Block): Promise<Run> {
  const prelude = `set -eo pipefail\ncurl() { command curl -w '\\n=> HTTP %{http_code}\\n' "$@"; }\n`;
  return bash(prelude + mapPorts(block.text));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'readme-examples-'));
  incidentLog = join(work, 'security_incidents.log');
  redis = await startRedis();
  const cluster = `readme${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  const started = await Promise.allSettled(
    ['node1', 'node2', 'node3'].map((id) => startNode({ redisUrl: redis.url, cluster, secret, token, id })),
  );
  nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  clients = nodes.map((n) => new AuthcacheClient({ nodes: [n.url], token }));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, SETUP_TIMEOUT_MS);

describe('README.md', () => {
  test('commands run unattended and keep stdout clean (npx -y, pnpm -s); pnpm start prints what the README says', () => {
    expect(readmeWideProblems(README)).toEqual([]);
    const printed = operatorExports({ url: 'http://127.0.0.1:7001', token: 'T', root: '/path/to/authcache' });
    for (const line of printed) expect(README).toContain(line.split('=')[0]!);
    expect(README).toContain("export AUTHCACHE_URL='http://127.0.0.1:7001'");
    expect(printed).toContain("export AUTHCACHE_URL='http://127.0.0.1:7001'");
  });

  test('every not-run (```sh) block names scripts, files and services that exist', () => {
    expect(blocks.filter((b) => ['shell', 'console', 'zsh', 'sh-session'].includes(b.lang)).map((b) => b.line)).toEqual([]);
    expect(blocks.filter((b) => b.lang === 'sh').flatMap((b) => checkNotRun(b, ROOT))).toEqual([]);
  });

  test('the Sentinel and Redis Cluster examples give a node an environment it accepts, naming only variables it reads', () => {
    const started = blocks.filter((b) => b.lang === 'sh').flatMap((b) => nodeEnvironments(b));
    const verdicts = started.map(({ line, env }) => {
      // Every variable the configuration looks at, so a misspelt one (never read) is caught.
      const read = new Set<string>();
      const watched = new Proxy(env, { get: (t, k) => (typeof k === 'string' && read.add(k), t[k as string]) });
      try {
        return { line, mode: loadConfig(watched).redis.mode, unread: Object.keys(env).filter((k) => !read.has(k)) };
      } catch (err) {
        return { line, error: (err as Error).message };
      }
    });
    expect(verdicts.filter((v) => 'error' in v || v.unread.length > 0)).toEqual([]);
    expect(verdicts.map((v) => ('mode' in v ? v.mode : undefined)).sort()).toEqual(['cluster', 'sentinel']);
  });

  test('there are examples to run', () => expect(runnable.length).toBeGreaterThan(10));

  describe.each(runnable.map((b) => [`line ${b.line}: ${runbookName(b) ?? b.text.split('\n')[0]!.slice(0, 60)}`, b] as const))('%s', (_title, block) => {
    test('runs as written and prints what the README says', async () => {
      for (const tool of ['jq', 'openssl', 'curl']) {
        if (new RegExp(`\\b${tool}\\b`).test(block.text) && !(await has(tool))) {
          console.warn(`README line ${block.line} needs ${tool}, which is not installed here: not run`);
          return;
        }
      }
      const name = runbookName(block);
      const r = name !== undefined ? await runRunbook(block, name) : await runPlain(block);
      expect({ line: block.line, code: r.code, stderr: r.stderr }).toEqual({ line: block.line, code: 0, stderr: expect.any(String) });
      const lines = r.stdout.split('\n');
      const documented = { ...block, text: mapPorts(block.text) };
      expect({ line: block.line, missing: missingAnswers(documented, lines), stdout: r.stdout }).toEqual({ line: block.line, missing: [], stdout: r.stdout });
      // curl exits 0 on an error answer: every 4xx/5xx must be one the block documents as {"error":...}.
      const errors = lines.filter((l) => /^=> HTTP [45]\d\d$/.test(l)).length;
      const errorsDocumented = block.text.split('\n').filter((l) => /^\s*# \{"error"/.test(l)).length;
      expect({ line: block.line, errorAnswers: errors }).toEqual({ line: block.line, errorAnswers: errorsDocumented });
      if (name !== undefined) await RUNBOOKS[name]!.after?.(r.stdout);
    });
  });

  test('the nodetool loop, as documented, fails loudly when the node it asks is down', async () => {
    const loop = runnable.find((b) => runbookName(b) === 'invalidate_each_node.sh');
    expect(loop).toBeDefined();
    await nodes[0]!.stop();
    const r = await runRunbook(loop!, 'invalidate_each_node.sh');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`authctl: cannot reach 127.0.0.1:${nodes[0]!.port}`);
  });
});
