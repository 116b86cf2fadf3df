#!/usr/bin/env node
// The operator runbooks of Cassandra's nodetool invalidatecredentialscache page — rotate a password,
// lock a user out, respond to a compromised password — done with authctl, one call each, against a
// running cluster (AUTHCACHE_NODES=host:port,... and AUTHCACHE_ADMIN_TOKEN) or one started here.
// For every step it prints what was run and how long it took until EVERY node enforced it, measured
// by logging in on every node (polled, with a deadline), not assumed from the admin call's answer.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const CLI = join(root, 'packages/client/dist/cli.js');

/** A change not seen on a node within this long is reported as not enforced (docs/architecture.md, "The staleness bound, and why it holds": the bound is 5 s). */
const DEADLINE_MS = 10_000;
const POLL_MS = 20;

function fail(line) {
  process.stderr.write(`demo: ${line}\n`);
  process.exit(2);
}

for (const built of ['packages/client/dist/cli.js', 'packages/client/dist/index.js']) {
  if (!existsSync(join(root, built))) fail(`${built} is missing: build first (npx -y pnpm@10 build)`);
}
const { AuthcacheClient, InvalidCredentialsError } = require('../packages/client/dist');

const say = (line = '') => process.stdout.write(`${line}\n`);
const indent = (text) => text.trimEnd().split('\n').filter(Boolean).map((l) => `    ${l}`).join('\n');
const ms = (n) => `${Math.round(n)} ms`;

// ---------------------------------------------------------------- the cluster

let addresses;
let token;
let stopOwn = async () => undefined;

if (process.env.AUTHCACHE_NODES) {
  addresses = process.env.AUTHCACHE_NODES.split(',').map((a) => a.trim()).filter(Boolean);
  token = process.env.AUTHCACHE_ADMIN_TOKEN;
  if (!token) fail('AUTHCACHE_NODES is set but AUTHCACHE_ADMIN_TOKEN is not: the admin steps need the token');
  say(`Cluster: ${addresses.join(', ')} (from AUTHCACHE_NODES)`);
} else {
  if (!existsSync(join(root, 'packages/testkit/dist/index.js'))) fail('packages/testkit/dist is missing: build first (npx -y pnpm@10 build)');
  const { startRedis, startCluster } = require('../packages/testkit/dist');
  say('No AUTHCACHE_NODES given: starting Redis and a 3-node cluster for this demo...');
  let redis;
  try {
    redis = await startRedis();
  } catch (err) {
    fail(err.message);
  }
  let cluster;
  try {
    // The real bcrypt cost (the node's default, 10): timings as an operator would see them.
    cluster = await startCluster({ redisUrl: redis.url, size: 3, env: { AUTHCACHE_BCRYPT_COST: undefined, LOG_LEVEL: 'warn' } });
  } catch (err) {
    await redis.stop().catch(() => undefined);
    fail(err.message);
  }
  stopOwn = async () => {
    await cluster.stop().catch(() => undefined);
    await redis.stop().catch(() => undefined);
  };
  addresses = cluster.urls.map((u) => new URL(u).host);
  token = cluster.token;
  say(`Cluster: ${addresses.join(', ')} (Redis ${redis.url}; stopped again at the end)`);
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write('\ndemo: interrupted, cleaning up...\n');
  void cleanup().finally(() => process.exit(130));
});

// ---------------------------------------------------------------- authctl, as an operator runs it

/** -h/-p as nodetool takes them, when the address is plain host:port. */
function targetArgs(address) {
  const m = /^([^:/[\]]+):(\d+)$/.exec(address);
  return m ? ['-h', m[1], '-p', m[2]] : ['-h', address];
}
const adminNode = addresses[0];

/** Runs `authctl <args>` against the first node; resolves to its exit code, output and duration. */
function authctl(args, { stdin, shown } = {}) {
  const full = [...targetArgs(adminNode), ...args];
  const prefix = stdin === undefined ? '' : `printf '%s' "${shown ?? '$PASSWORD'}" | `;
  say(`  $ ${prefix}authctl ${full.join(' ')}`);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...full], {
      env: { ...process.env, AUTHCACHE_ADMIN_TOKEN: token },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.stdin.end(stdin ?? '');
    child.on('close', (code) => {
      const took = performance.now() - t0;
      if (out.trim()) say(indent(out));
      if (err.trim()) say(indent(err));
      say(`    -> exit ${code} after ${ms(took)}`);
      resolve({ code, out, err, t0, took });
    });
  });
}

// ---------------------------------------------------------------- logging in on every node

const clients = addresses.map((a) => new AuthcacheClient({ nodes: [a], timeoutMs: 5000 }));
const nodeName = new Map(addresses.map((a) => [a, a]));

/** 'accepted' (with the answer), 'refused' (401), or 'error' (anything else: not evidence either way). */
async function tryLogin(i, user, password) {
  try {
    const r = await clients[i].login(user, password);
    nodeName.set(addresses[i], r.node);
    return { outcome: 'accepted', cached: r.cached };
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return { outcome: 'refused' };
    return { outcome: 'error', error: err.message };
  }
}

/** Logs in twice on every node, so each holds the credential in its cache; says whether it did. */
async function warmEverywhere(user, password) {
  const states = [];
  for (let i = 0; i < addresses.length; i++) {
    await tryLogin(i, user, password);
    const second = await tryLogin(i, user, password);
    states.push(`${nodeName.get(addresses[i])}: ${second.outcome === 'accepted' ? (second.cached ? 'accepted, from cache' : 'accepted') : second.outcome}`);
  }
  say(`    logged in on every node: ${states.join('; ')}`);
}

/**
 * Polls every node, from t0, until `enforced(i)` holds there or the deadline passes; resolves to the
 * times since t0 at which each node was first seen enforcing, {answered, sent} (null: not within the deadline).
 */
function watchEnforcement(t0, enforced) {
  return Promise.all(
    addresses.map(async (_, i) => {
      const deadline = t0 + DEADLINE_MS;
      for (;;) {
        const sent = performance.now();
        // The answer's time is the bound we report; the login it answered was sent at `sent`
        // (a bcrypt check at cost 10 sits between the two).
        if (await enforced(i)) return { answered: performance.now() - t0, sent: sent - t0 };
        if (performance.now() > deadline) return null;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }),
  );
}

const summary = [];
let allGood = true;

/** Runs the scenario's commands while every node is being watched; prints when each node enforced it. */
async function scenario(title, condition, commands) {
  const t0 = performance.now();
  const watching = watchEnforcement(t0, condition.check);
  let returned = 0;
  let ok = true;
  for (const c of commands) {
    const r = await c();
    returned = r.t0 + r.took - t0;
    if (r.code !== 0) ok = false;
  }
  const times = await watching;
  say(`    ${condition.what}, observed by logging in on each node:`);
  times.forEach((t, i) => {
    const name = nodeName.get(addresses[i]).padEnd(Math.max(...addresses.map((a) => nodeName.get(a).length)));
    say(`      ${name}  ${t === null ? `NOT ENFORCED within ${ms(DEADLINE_MS)}` : `by ${ms(t.answered)} (the refusing login was sent at ${ms(t.sent)})`}`);
  });
  const worst = times.includes(null) ? null : Math.max(...times.map((t) => t.answered));
  if (worst === null || !ok) allGood = false;
  say(
    worst === null
      ? `    => NOT enforced everywhere within ${ms(DEADLINE_MS)}`
      : `    => every node enforced it ${ms(worst)} after the first command started; authctl was done after ${ms(returned)}`,
  );
  summary.push({ title, returned, worst, ok });
}

// ---------------------------------------------------------------- the runbooks

const user = `demo_${randomBytes(3).toString('hex')}`;
const password1 = `pw1-${randomBytes(6).toString('hex')}`;
const password2 = `pw2-${randomBytes(6).toString('hex')}`;
let created = false;

async function cleanup() {
  if (created) {
    say();
    say(`Clean-up: drop the demo role`);
    await authctl(['role', 'drop', user]);
    created = false;
  }
  await stopOwn();
}

const refused = async (i, pw) => (await tryLogin(i, user, pw)).outcome === 'refused';
const accepted = async (i, pw) => (await tryLogin(i, user, pw)).outcome === 'accepted';

try {
  say();
  say('Membership, as nodetool status shows it:');
  const st = await authctl(['status']);
  if (st.code !== 0) throw new Error('authctl status failed; is the token right?');

  say();
  say(`Setup: a user ${user} who can log in, and whose credentials every node has cached`);
  const c = await authctl(['role', 'create', user, '--password-stdin', '--login'], { stdin: password1, shown: '$PASSWORD' });
  if (c.code !== 0) throw new Error('could not create the demo role');
  created = true;
  await warmEverywhere(user, password1);

  say();
  say('1. Rotate a password (rotate_password.sh)');
  say('   Cassandra: ALTER ROLE ... WITH PASSWORD, then nodetool invalidatecredentialscache on every node in a loop.');
  say('   authcache: one call; the role change invalidates the user on every node and waits for each to confirm.');
  await scenario(
    'rotate a password',
    { what: 'old password refused and new one accepted', check: async (i) => (await refused(i, password1)) && (await accepted(i, password2)) },
    [() => authctl(['role', 'alter', user, '--password-stdin'], { stdin: password2, shown: '$NEW_PASSWORD' })],
  );

  say();
  say('2. Lock a user out (lockout_user.sh)');
  await warmEverywhere(user, password2);
  say('   Cassandra: ALTER ROLE ... WITH LOGIN = false, then the invalidation loop.');
  say('   authcache: one call.');
  await scenario('lock a user out', { what: 'login refused (with the right password)', check: (i) => refused(i, password2) }, [
    () => authctl(['role', 'alter', user, '--no-login']),
  ]);

  say();
  say('3. Respond to a compromised password (password_compromise_response.sh)');
  say('   (setup: the user may log in again with the password that is about to leak, cached on every node)');
  await authctl(['role', 'alter', user, '--login']);
  await warmEverywhere(user, password2);
  const temporary = randomBytes(24).toString('base64');
  say('   Cassandra: new random password, ALTER ROLE, the invalidation loop, log the incident.');
  say('   authcache: the same, each step one call; the explicit invalidation is the runbook\'s step 3, kept');
  say('   for parity (the role change already invalidated the user everywhere).');
  await scenario(
    'compromised password',
    { what: 'leaked password refused and the new one accepted', check: async (i) => (await refused(i, password2)) && (await accepted(i, temporary)) },
    [
      () => authctl(['role', 'alter', user, '--password-stdin'], { stdin: temporary, shown: '$NEW_PASS' }),
      () => authctl(['invalidatecredentialscache', user]),
    ],
  );
  say(`    ${new Date().toISOString()}: password compromised for ${user} - password reset (incident log line)`);
  say(`    new temporary password: ${temporary}`);

  say();
  say('Summary (times from the start of the first command of each runbook):');
  const w = Math.max(...summary.map((s) => s.title.length));
  say(`  ${'runbook'.padEnd(w)}  authctl done   every node enforced`);
  for (const s of summary) {
    say(`  ${s.title.padEnd(w)}  ${ms(s.returned).padStart(11)}    ${s.worst === null ? 'NOT within the deadline' : ms(s.worst).padStart(8)}`);
  }
} catch (err) {
  allGood = false;
  process.stderr.write(`demo: ${err.message}\n`);
} finally {
  await cleanup();
}
process.exit(allGood ? 0 : 1);
