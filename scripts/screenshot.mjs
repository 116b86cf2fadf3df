#!/usr/bin/env node
// `pnpm screenshot`: Redis + 3 nodes through the testkit (as scripts/cluster.mjs starts them), a
// little traffic so the numbers mean something, then the console in Debian's chromium: sign in,
// flush a user from the page, and write what a person sees to docs/console.png.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const out = join(root, 'docs', 'console.png');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function fail(line) {
  process.stderr.write(`screenshot: ${line}\n`);
  process.exit(1);
}

for (const built of ['packages/testkit/dist/index.js', 'packages/node/dist/main.js']) {
  if (!existsSync(join(root, built))) fail(`${built} is missing: build first (pnpm build), or run pnpm screenshot, which builds`);
}
if (!existsSync(CHROMIUM)) fail(`chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);

const { startRedis, startNode, freePort } = require('../packages/testkit/dist');
const { chromium } = require('playwright-core');

const token = 'screenshot-admin-token';
const secret = 'screenshot-cluster-secret-0123456789';
const ops = { name: 'ops', password: 'ops-console-pw' };
const admin = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

async function call(url, method, path, body, headers = admin) {
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return res.status;
}

let redis;
const nodes = [];
let browser;
try {
  redis = await startRedis();
  for (const id of ['node1', 'node2', 'node3']) {
    nodes.push(await startNode({ redisUrl: redis.url, cluster: 'authcache', secret, token, id, port: await freePort(), env: { LOG_LEVEL: 'warn' } }));
  }
  const [n1, n2, n3] = nodes.map((n) => n.url);

  // Roles, logins on every node (cache entries, hits and misses), and a few admin calls for the trail.
  await call(n1, 'PUT', `/v1/roles/${ops.name}`, { password: ops.password, login: true, superuser: true });
  for (const user of ['alice', 'bob', 'carol', 'dave']) await call(n1, 'PUT', `/v1/roles/${user}`, { password: `${user}-pw`, login: true });
  for (let round = 0; round < 4; round++) {
    for (const url of [n1, n2, n3]) {
      for (const user of ['alice', 'bob', 'carol', 'dave'].slice(0, 2 + (round % 3))) {
        await call(url, 'POST', '/v1/login', { username: user, password: `${user}-pw` }, { 'content-type': 'application/json' });
      }
    }
  }
  await call(n2, 'PUT', '/v1/cache/settings', { cache: 'roles', ttl_ms: 1_800_000 });
  await call(n3, 'DELETE', '/v1/cache', undefined, { authorization: 'Bearer a-wrong-token' });

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${n1}/console`);
  await page.check('input[name=mode][value=basic]');
  await page.fill('#username', ops.name);
  await page.fill('#password', ops.password);
  await page.click('#signin-button');
  for (const n of nodes) await page.locator(`#members tbody tr[data-node="${n.id}"] td.status`, { hasText: 'UP' }).waitFor({ timeout: 15_000 });

  await page.fill('#flush-user', 'bob');
  await page.click('#flush-user-form button');
  await page.locator('#confirm[open]').waitFor();
  await page.click('#confirm-ok');
  await page.locator('#result', { hasText: '3/3 nodes' }).waitFor({ timeout: 10_000 });
  await page.locator('#audit tbody tr', { hasText: 'bob (all caches)' }).waitFor({ timeout: 10_000 });
  // Other members' numbers come with their next heartbeat: wait until every row shows the flush applied.
  await page.waitForFunction(
    () => new Set([...document.querySelectorAll('#members tbody td.seq')].map((td) => td.textContent)).size === 1,
    undefined,
    { timeout: 10_000 },
  );

  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  process.stdout.write(`screenshot: wrote ${out}\n`);
} catch (err) {
  process.stderr.write(`screenshot: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => undefined);
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await redis?.stop().catch(() => undefined);
}
