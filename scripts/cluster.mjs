#!/usr/bin/env node
// `pnpm start`: a local cluster of three nodes on ports 7001-7003 against one Redis
// (REDIS_URL, else a redis-server from PATH, else a Docker container), until Ctrl-C.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const NODES = [
  { id: 'node1', port: 7001 },
  { id: 'node2', port: 7002 },
  { id: 'node3', port: 7003 },
];

function fail(line) {
  process.stderr.write(`cluster: ${line}\n`);
  process.exit(1);
}

for (const built of ['packages/testkit/dist/index.js', 'packages/node/dist/main.js']) {
  if (!existsSync(join(root, built))) fail(`${built} is missing: build first (npx -y pnpm@10 build), or run npx -y pnpm@10 start, which builds`);
}
const { startRedis, startNode, portInUse } = require('../packages/testkit/dist');
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

let redis;
try {
  redis = await startRedis();
} catch (err) {
  fail(err.message);
}
const from = {
  env: 'from REDIS_URL',
  binary: 'redis-server from PATH, started for this cluster (data in a temp dir, removed at exit)',
  container: 'redis:7-alpine container (Docker)',
}[redis.source];
process.stdout.write(`Redis: ${redis.url}  (${from})\n`);

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

startup = Promise.allSettled(
  NODES.map(({ id, port }) =>
    startNode({
      redisUrl: redis.url,
      cluster: clusterName,
      secret,
      token,
      id,
      port,
      env: nodeEnv,
      onOutput: (line) => process.stdout.write(`${id} | ${line}\n`),
    }).then((node) => {
      nodes.push(node);
      return node;
    }),
  ),
);
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
    `authcache cluster "${clusterName}" is up:`,
    ...nodes.map((n) => `  ${n.id}  ${n.url}`),
    '',
    `In another shell, paste these (admin token ${tokenNote}); then every README example runs as written:`,
    ...operatorExports({ url: nodes[0].url, token, root }).map((line) => `  ${line}`),
    '',
    'Try:',
    '  authctl status',
    `  curl -s -X PUT localhost:7001/v1/roles/alice -H "Authorization: Bearer $AUTHCACHE_ADMIN_TOKEN" -H 'content-type: application/json' -d '{"password":"s3cret","login":true}'`,
    `  curl -s -X POST localhost:7003/v1/login -H 'content-type: application/json' -d '{"username":"alice","password":"s3cret"}'`,
    '  authctl invalidatecredentialscache alice',
    '',
    'Ctrl-C stops the cluster.',
    '',
  ].join('\n'),
);
