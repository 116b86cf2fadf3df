#!/usr/bin/env node
// `pnpm start -- --nodes N --backend redis|postgres|ldap --redis single|sentinel|cluster` (docs/architecture.md):
// a local cluster of N nodes (default 3) on ports 7001.. against Redis, until Ctrl-C. Each dependency
// comes from its variable if set (REDIS_URL, AUTHCACHE_REDIS_SENTINELS, AUTHCACHE_REDIS_CLUSTER,
// AUTHCACHE_POSTGRES_URL, AUTHCACHE_LDAP_URL), else from a binary on PATH in a temp dir on free
// ports (the testkit), else (single Redis, PostgreSQL, LDAP) a container. See docs/architecture.md,
// "Redis topologies".
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scriptArgs } from './lib/script-args.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const USAGE = 'usage: pnpm start -- [--nodes N] [--backend redis|postgres|ldap] [--redis single|sentinel|cluster]';

function fail(line) {
  process.stderr.write(`cluster: ${line}\n`);
  process.exit(1);
}

let opts;
try {
  opts = parseArgs({
    args: scriptArgs(),
    options: { nodes: { type: 'string', default: '3' }, backend: { type: 'string', default: 'redis' }, redis: { type: 'string', default: 'single' } },
  }).values;
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
const count = Number(opts.nodes);
if (!Number.isInteger(count) || count < 1 || count > 200) fail(`--nodes must be an integer from 1 to 200, got "${opts.nodes}"\n${USAGE}`);
if (!['redis', 'postgres', 'ldap'].includes(opts.backend)) fail(`--backend must be redis, postgres or ldap, got "${opts.backend}"\n${USAGE}`);
if (!['single', 'sentinel', 'cluster'].includes(opts.redis)) fail(`--redis must be single, sentinel or cluster, got "${opts.redis}"\n${USAGE}`);
// The shell's topology variables reach every node (passThrough below): they must match --redis.
for (const [name, mode] of [['AUTHCACHE_REDIS_SENTINELS', 'sentinel'], ['AUTHCACHE_REDIS_CLUSTER', 'cluster']]) {
  if (process.env[name] && opts.redis !== mode) fail(`${name} is set in this shell: use --redis ${mode}, or unset it`);
}
const NODES = Array.from({ length: count }, (_, i) => ({ id: `node${i + 1}`, port: 7001 + i }));

for (const built of ['packages/testkit/dist/index.js', 'packages/node/dist/main.js']) {
  if (!existsSync(join(root, built))) fail(`${built} is missing: build first (npx -y pnpm@10 build), or run npx -y pnpm@10 start, which builds`);
}
const testkit = require('../packages/testkit/dist');
const { startNode, portInUse } = testkit;
const { operatorExports } = require('./lib/shell-env.cjs');

const token = process.env.AUTHCACHE_ADMIN_TOKEN || randomBytes(18).toString('base64url');
const secret = process.env.AUTHCACHE_CLUSTER_SECRET || randomBytes(18).toString('base64url');
const clusterName = process.env.AUTHCACHE_CLUSTER || 'authcache';

// Cache settings and the like from this shell reach every node; identity and address are ours to set.
// AUTHCACHE_URL is authctl's target (the line printed at the end), not a node setting.
const passThrough = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => key.startsWith('AUTHCACHE_') && !['AUTHCACHE_NODE_ID', 'AUTHCACHE_PORT', 'AUTHCACHE_CLUSTER', 'AUTHCACHE_URL'].includes(key),
  ),
);
const nodeEnv = {
  ...passThrough,
  LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
  // The real bcrypt cost (default 10) unless this shell sets one; the testkit's fast cost is for tests.
  AUTHCACHE_BCRYPT_COST: process.env.AUTHCACHE_BCRYPT_COST,
  // Production throttling defaults too, unless this shell sets them.
  AUTHCACHE_LOGIN_MAX_FAILURES: process.env.AUTHCACHE_LOGIN_MAX_FAILURES,
  AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS: process.env.AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS,
};

for (const { id, port } of NODES) {
  if (await portInUse(port)) fail(`port ${port} (for ${id}) is already in use; stop whatever listens there and try again`);
}

/**
 * Redis in the chosen topology and the backend, each from its variable when set, else started by
 * the testkit; resolves to the nodes' environment, a line per dependency and how to stop them.
 */
async function startDependencies(topology, backend) {
  const started = [];
  const lines = [];
  const env = {};
  let redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const stop = async () => void (await Promise.allSettled(started.map((s) => s.stop())));
  try {
    if (topology === 'single') {
      const r = await testkit.startRedis();
      started.push(r);
      redisUrl = r.url;
      const from = { env: 'from REDIS_URL', binary: 'redis-server from PATH, started for this cluster (data in a temp dir, removed at exit)', container: 'redis:7-alpine container (Docker)' }[r.source];
      lines.push(`Redis: ${r.url}  (${from})`);
    } else if (topology === 'sentinel') {
      if (process.env.AUTHCACHE_REDIS_SENTINELS) {
        lines.push(`Redis Sentinel: ${process.env.AUTHCACHE_REDIS_SENTINELS}  (from AUTHCACHE_REDIS_SENTINELS)`);
      } else {
        const s = await testkit.startSentinel({ replicas: 2, sentinels: 3 });
        started.push(s);
        Object.assign(env, s.env, { AUTHCACHE_REDIS_MIN_REPLICAS: process.env.AUTHCACHE_REDIS_MIN_REPLICAS || '1' });
        const m = await s.master();
        lines.push(`Redis Sentinel: master "${s.masterName}" 127.0.0.1:${m.port}, replicas ${s.servers.filter((x) => x !== m).map((x) => x.port).join(', ')}; sentinels ${s.sentinelAddresses}  (redis-server from PATH, temp dir removed at exit; AUTHCACHE_REDIS_MIN_REPLICAS=${env.AUTHCACHE_REDIS_MIN_REPLICAS})`);
      }
    } else if (process.env.AUTHCACHE_REDIS_CLUSTER) {
      lines.push(`Redis Cluster: ${process.env.AUTHCACHE_REDIS_CLUSTER}  (from AUTHCACHE_REDIS_CLUSTER)`);
    } else {
      const c = await testkit.startRedisCluster({ masters: 3, replicas: 1 });
      started.push(c);
      Object.assign(env, c.env);
      lines.push(`Redis Cluster: 3 masters + 3 replicas on ${c.addresses}  (redis-server --cluster-enabled yes from PATH, temp dir removed at exit)`);
    }
    if (backend === 'postgres') {
      const pg = await testkit.startPostgres();
      started.push(pg);
      Object.assign(env, { AUTHCACHE_BACKEND: 'postgres', AUTHCACHE_POSTGRES_URL: pg.url });
      lines.push(`PostgreSQL: ${pg.url}  (${pg.source === 'env' ? 'from AUTHCACHE_POSTGRES_URL' : pg.source === 'binary' ? 'initdb/postgres from PATH, temp dir removed at exit' : 'container'})`);
    } else if (backend === 'ldap') {
      const ldap = await testkit.startSlapd();
      started.push(ldap);
      Object.assign(env, ldap.env);
      lines.push(`LDAP: ${ldap.url}  (${ldap.source === 'env' ? 'from AUTHCACHE_LDAP_URL' : ldap.source === 'binary' ? 'slapd from PATH, seeded, temp dir removed at exit' : 'container'})`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { env, lines, redisUrl, stop };
}

// What the nodes run against: Redis in the chosen topology, and the backend if not Redis.
let deps;
try {
  deps = await startDependencies(opts.redis, opts.backend);
} catch (err) {
  fail(err.message);
}
for (const line of deps.lines) process.stdout.write(`${line}\n`);
Object.assign(nodeEnv, deps.env);
const redis = { url: deps.redisUrl, stop: deps.stop };

let nodes = [];
let stopping = false;
let startup = Promise.resolve();
// Signal listeners do not hold the event loop open; this does, until shutdown.
const keepAlive = setInterval(() => undefined, 1 << 30);

async function shutdown(signal) {
  if (stopping) {
    process.stderr.write(`cluster: second ${signal}, killing everything\n`);
    await Promise.allSettled(nodes.map((n) => n.kill()));
    process.exit(1);
  }
  stopping = true;
  process.stdout.write(`\ncluster: ${signal}: stopping nodes...\n`);
  await startup; // a node still starting is stopped like the others, not left to the exit-time SIGKILL
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await redis.stop().catch(() => undefined);
  clearInterval(keepAlive);
  process.stdout.write('cluster: stopped\n');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

// A few at a time: 32 nodes starting at once on 2 cores would miss their health deadline.
const BATCH = 4;
startup = (async () => {
  const all = [];
  for (let i = 0; i < NODES.length && !stopping; i += BATCH) {
    const batch = NODES.slice(i, i + BATCH).map(({ id, port }) =>
      startNode({
        redisUrl: redis.url,
        cluster: clusterName,
        secret,
        token,
        id,
        port,
        env: nodeEnv,
        healthTimeoutMs: 60_000,
        onOutput: (line) => process.stdout.write(`${id} | ${line}\n`),
      }).then((node) => {
        nodes.push(node);
        return node;
      }),
    );
    all.push(...(await Promise.allSettled(batch)));
    if (all.some((r) => r.status === 'rejected')) break;
  }
  return all;
})();
const started = await startup;
nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
const failed = started.filter((r) => r.status === 'rejected');
if (failed.length > 0 && !stopping) {
  for (const r of failed) process.stderr.write(`cluster: ${String(r.reason?.message ?? r.reason).split('\n')[0]}\n`); // their output is already above
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await redis.stop().catch(() => undefined);
  process.exit(1);
}
if (stopping) await new Promise(() => undefined); // Ctrl-C during start-up: shutdown() exits

for (const node of nodes) {
  void node.exited.then((code) => {
    if (!stopping) process.stderr.write(`cluster: ${node.id} exited unexpectedly (code ${code}); the others keep running\n`);
  });
}

const tokenNote = process.env.AUTHCACHE_ADMIN_TOKEN ? 'from AUTHCACHE_ADMIN_TOKEN' : 'random; set AUTHCACHE_ADMIN_TOKEN to choose one';
process.stdout.write(
  [
    '',
    `authcache cluster "${clusterName}" is up (${nodes.length} node${nodes.length === 1 ? '' : 's'}, backend ${opts.backend}, redis ${opts.redis}):`,
    ...nodes.map((n) => `  ${n.id}  ${n.url}`),
    '',
    `In another shell, paste these (admin token ${tokenNote}); then every README example runs as written:`,
    ...operatorExports({ url: nodes[0].url, token, root }).map((line) => `  ${line}`),
    '',
    'Try:',
    '  authctl status',
    `  curl -s -X PUT localhost:7001/v1/roles/alice -H "Authorization: Bearer $AUTHCACHE_ADMIN_TOKEN" -H 'content-type: application/json' -d '{"password":"s3cret","login":true}'`,
    // The login goes to the last node: the write went through the first, so this shows it reached the others.
    `  curl -s -X POST localhost:${new URL(nodes.at(-1).url).port}/v1/login -H 'content-type: application/json' -d '{"username":"alice","password":"s3cret"}'`,
    '  authctl invalidatecredentialscache alice',
    '',
    'Ctrl-C stops the cluster.',
    '',
  ].join('\n'),
);
