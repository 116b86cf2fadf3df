/**
 * Randomized fault scenario (issue 4, item 8; issue 11, item 7; issue 15, item 5): several hundred
 * seeded steps of logins, password and login changes, flushes, TTL changes, cuts and heals of each
 * node's link to Redis, changes made behind the API, and permission grants, revokes and authorize
 * checks, with every answer judged against a model of what the cluster was told
 * (test/support/scenario-model.ts and scenario-permissions.ts, tested in scenario-model.test.ts).
 *
 * The promise under test is the README's, exactly: no node accepts a revoked credential or allows
 * a revoked permission later than max_staleness after the revoking call returned (judged by when
 * the answer arrived, with no slack), and every node converges once it reaches Redis.
 *
 * Permissions: setup grants the SLOTS below (on hierarchical resources, to a user's own role, to
 * roles it holds and to a role it holds through another); after each step the permission stream
 * (its own seeded sequence, so the steps above stay the seed's) may check one of CHECKS on every
 * node, revoke or grant again a slot through a random node, or stage a cut race for a slot. Every
 * sweep checks every CHECK on every node; the end demands exactly what is granted.
 *
 * Reproduce a run: SCENARIO_SEED=<seed> SCENARIO_STEPS=<n> npx jest test/scenario.test.ts
 * (the command sequence is a pure function of seed, step count and menu; the timings of a run are
 * not). A failure names the seed and step and writes the step history and node logs to a temp
 * dir; SCENARIO_HISTORY=<file> writes the history of a passing run too.
 *
 * The fault menu beyond cuts (each a flag, `1` on, `0` off):
 *  - SCENARIO_OUTSIDE (default on): node 2 refreshes (refresh_ms + active update) and the outside
 *    user's can_login is changed directly in Redis; node 2 must refuse within the refresh bound.
 *  - SCENARIO_WRITE_STALL (default on): CLIENT PAUSE <ms> WRITE while a password is changed.
 *    Before atomic change-and-invalidate (issue 11.1) a 503 "role store unreachable" change
 *    landed after the pause without its invalidation and the old password stayed accepted.
 *  - SCENARIO_BAD_NODE (default on; each join costs a node start, ~25 s of the run): a node with
 *    the wrong cluster secret joins, must not report itself healthy, and sends a flush (before
 *    issue 11.5 it reported UP).
 *  - SCENARIO_CLOCK_SKEW=+45s|-45s|none (default: +45s for odd seeds, -45s for even ones): node 1
 *    runs under libfaketime with its wall clock that far off (monotonic clock untouched). Before
 *    issue 11.3, at -45s the others never listed node 1 as UP and the run failed to converge.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startNode, startRedis, startTcpProxy, type NodeHandle, type RedisHandle, type TcpProxy } from '@authcache/testkit';
import { permissionCommands, scenarioCommands, type Menu, type Timing, type UserSpec } from './support/scenario';
import { Authz } from './support/scenario-authz';
import type { CheckSpec, GrantSpec } from './support/scenario-permissions';
import { Scenario } from './support/scenario-runner';
import { finish, report, setUp, sweep } from './support/scenario-phases';

// Chosen among seeds 1-7 and 424242: this one reaches every command kind, both cut modes, a few
// failed (maybe applied) admin calls resolved from Redis, changes behind the API, and ~50
// stale-but-allowed answers in about a minute. Under the exact judge, 1, 3, 5, 7 and 424242 pass.
// With the permission half (issue 15.5) 1, 7 and 424242 were run again and pass (~100-107 s).
const DEFAULT_SEED = 7;
const DEFAULT_STEPS = 300;
const SEED = intFromEnv('SCENARIO_SEED', DEFAULT_SEED);
const STEPS = intFromEnv('SCENARIO_STEPS', DEFAULT_STEPS);
const MENU: Menu = { outside: flag('SCENARIO_OUTSIDE', true), writeStall: flag('SCENARIO_WRITE_STALL', true), badNode: flag('SCENARIO_BAD_NODE', true) };
const SKEW_SETTING = process.env.SCENARIO_CLOCK_SKEW ?? (SEED % 2 === 1 ? '+45s' : '-45s');
const CLOCK_SKEW = SKEW_SETTING === 'none' ? '' : SKEW_SETTING;
const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

const HEARTBEAT_MS = 200;
const MAX_STALENESS_MS = 1500;
const ACK_TIMEOUT_MS = 600;
/** Scheduling slack on 2 busy cores for what a node must DO (liveness); never added to what it must not. */
const LIVENESS_MARGIN_MS = 300;
/**
 * The longest pause between reconnect attempts of the node's Redis client (retryStrategy in
 * packages/node/src/redis.ts). Seen in runs: the last 503 after a heal came ~700 ms after it.
 */
const RECONNECT_MAX_MS = 1000;
/** refresh_ms of the refreshing node (with active update): how soon it sees a change behind the API. */
const REFRESH_MS = 500;
/** A reload is one Redis read per entry, a batch at a time; the slack covers it and the scheduling. */
const RELOAD_MARGIN_MS = 300;

/**
 * - settle: after a heal the node may wait up to RECONNECT_MAX_MS for its next reconnect attempt,
 *   then catches up on the reconnect and on the next heartbeat; until then it may answer 503 (out of
 *   sync, backend not yet reachable) or 401 for a password set while it was cut (stale but within
 *   max_staleness). After that window it must behave like a node that was never cut.
 * - ack grace: a healthy member that did not acknowledge a change in time must have it by the next
 *   heartbeats.
 */
const TIMING: Timing = {
  maxStalenessMs: MAX_STALENESS_MS,
  settleMs: RECONNECT_MAX_MS + 2 * HEARTBEAT_MS + LIVENESS_MARGIN_MS,
  ackGraceMs: 2 * HEARTBEAT_MS + LIVENESS_MARGIN_MS,
  outsideBoundMs: REFRESH_MS + RELOAD_MARGIN_MS,
};

const NODE_ENV: Record<string, string> = {
  AUTHCACHE_HEARTBEAT_MS: String(HEARTBEAT_MS),
  AUTHCACHE_MAX_STALENESS_MS: String(MAX_STALENESS_MS),
  AUTHCACHE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
  AUTHCACHE_BCRYPT_COST: '4',
  // Per-update debug lines make a failure report readable against the step history.
  LOG_LEVEL: 'debug',
};
const REFRESHING_NODE = 2;
const SKEWED_NODE = 1;

function envOf(i: number): Record<string, string> {
  const env = { ...NODE_ENV };
  if (MENU.outside && i === REFRESHING_NODE) Object.assign(env, { AUTHCACHE_CACHE_REFRESH_MS: String(REFRESH_MS), AUTHCACHE_CACHE_ACTIVE_UPDATE: 'true' });
  if (CLOCK_SKEW !== '' && i === SKEWED_NODE) Object.assign(env, { LD_PRELOAD: FAKETIME_LIB, FAKETIME: CLOCK_SKEW, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
  return env;
}

/** Every SWEEP_EVERY steps every user's current and last revoked password is tried on every node. */
const SWEEP_EVERY = 25;
const REQUEST_TIMEOUT_MS = 5000;
const SETUP_TIMEOUT_MS = 90_000;
const CONVERGE_TIMEOUT_MS = 20_000;

/** Granted roles first; the users hold them (transitively) and must see them in every 200. */
const ROLES: Array<{ name: string; superuser?: boolean; grants?: string[] }> = [{ name: 'analyst' }, { name: 'reader', grants: ['analyst'] }, { name: 'writer' }, { name: 'ops' }, { name: 'admins', superuser: true }];
const USERS: UserSpec[] = [
  { name: 'ana', grants: ['reader'], superuser: false, expect: { roles: ['analyst', 'reader'], superuser: false } },
  { name: 'ben', grants: ['writer', 'reader'], superuser: false, expect: { roles: ['analyst', 'reader', 'writer'], superuser: false } },
  { name: 'cy', grants: [], superuser: true, expect: { roles: [], superuser: true } },
  { name: 'dee', grants: ['admins', 'ops'], superuser: false, expect: { roles: ['admins', 'ops'], superuser: true } },
];
const OUTSIDE_USER: UserSpec = { name: 'rex', grants: ['reader'], superuser: false, expect: { roles: ['analyst', 'reader'], superuser: false }, outsideOn: REFRESHING_NODE };

/** The grants the scenario revokes and grants again: through two levels of roles, one, and the user's own. */
const SLOTS: GrantSpec[] = [
  { role: 'analyst', resource: 'data/ks', permission: 'SELECT' },
  { role: 'writer', resource: 'data/ks/t', permission: 'MODIFY' },
  { role: 'ana', resource: 'data/ks', permission: 'MODIFY' },
  { role: 'reader', resource: 'data', permission: 'DESCRIBE' },
];
const heldBy = (u: UserSpec) => [u.name, ...u.expect.roles];
const [ANA, BEN, , DEE] = USERS.map((u) => ({ username: u.name, roles: heldBy(u), superuser: u.expect.superuser }));
/** Children of the grants (a parent covers them), and two a grant on a child must not cover. */
const CHECKS: CheckSpec[] = [
  { ...ANA!, resource: 'data/ks/t', permission: 'SELECT' },
  { ...BEN!, resource: 'data/ks/t/p', permission: 'SELECT' },
  { ...BEN!, resource: 'data/ks/t/p', permission: 'MODIFY' },
  { ...ANA!, resource: 'data/ks/t', permission: 'MODIFY' },
  { ...BEN!, resource: 'data/ks', permission: 'DESCRIBE' },
  { ...ANA!, resource: 'data/ks/t', permission: 'DESCRIBE' },
  { ...ANA!, resource: 'data', permission: 'MODIFY' },
  { ...BEN!, resource: 'data/ks', permission: 'MODIFY' },
  { ...DEE!, resource: 'data/ks/t', permission: 'SELECT' },
];

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

function flag(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== '0' && raw !== '1') throw new Error(`${name} must be 0 or 1, got ${JSON.stringify(raw)}`);
  return raw === '1';
}

const title = `SCENARIO_SEED=${SEED} SCENARIO_STEPS=${STEPS} menu=${JSON.stringify(MENU)}${CLOCK_SKEW ? ` SCENARIO_CLOCK_SKEW=${CLOCK_SKEW}` : ''}`;

describe(`randomized faults (${title})`, () => {
  let redis: RedisHandle | undefined;
  const proxies: TcpProxy[] = [];
  let nodes: NodeHandle[] = [];
  let sc: Scenario | undefined;
  const cluster = `sc${randomBytes(4).toString('hex')}`;
  const token = randomBytes(18).toString('base64url');
  const secret = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    if (CLOCK_SKEW !== '' && !existsSync(FAKETIME_LIB)) throw new Error(`SCENARIO_CLOCK_SKEW needs libfaketime (Debian package faketime): ${FAKETIME_LIB} is missing`);
    redis = await startRedis({ preferOwn: true });
    for (let i = 0; i < 3; i++) proxies.push(await startTcpProxy({ targetPort: redis.port }));
    const started = await Promise.allSettled(proxies.map((p, i) => startNode({ redisUrl: p.url, cluster, secret, token, id: `sc-n${i}`, env: envOf(i) })));
    nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await sc?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await redis?.stop();
  }, SETUP_TIMEOUT_MS);

  it('keeps the staleness promise at every step and converges at the end', async () => {
    sc = new Scenario({
      nodes,
      proxies,
      token,
      redisPort: redis!.port,
      cluster,
      timing: TIMING,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      convergeTimeoutMs: CONVERGE_TIMEOUT_MS,
      ...(MENU.outside ? { outsideUser: { name: OUTSIDE_USER.name, node: REFRESHING_NODE } } : {}),
      // Straight to Redis, not through a proxy: it must be the wrong secret that keeps it out.
      startBadNode: () => startNode({ redisUrl: redis!.url, cluster, secret: randomBytes(24).toString('base64url'), token, id: 'sc-bad', env: NODE_ENV, waitHealthy: false }),
    });
    const users = USERS.map((u) => u.name);
    const commands = scenarioCommands(SEED, STEPS, users.length, MENU);
    const permCommands = permissionCommands(SEED, STEPS, SLOTS.length, CHECKS.length);
    const authz = new Authz(sc, SLOTS, CHECKS);
    const progress = { at: 'setup' };
    try {
      await setUp(sc, ROLES, MENU.outside ? [...USERS, OUTSIDE_USER] : USERS);
      await authz.setUp();
      for (const [i, cmd] of commands.entries()) {
        progress.at = `step ${i + 1}/${STEPS} ${JSON.stringify(cmd)}`;
        sc.note(`step ${i + 1} ${JSON.stringify(cmd)}`);
        await sc.step(cmd, users);
        const perm = permCommands[i] ?? null;
        if (perm !== null) {
          progress.at = `step ${i + 1}/${STEPS} then ${JSON.stringify(perm)}`;
          sc.note(`  then ${JSON.stringify(perm)}`);
          await authz.step(perm);
        }
        sc.stats.steps++;
        if ((i + 1) % SWEEP_EVERY === 0) {
          progress.at = `sweep after step ${i + 1}`;
          sc.note(progress.at);
          await Promise.all([sweep(sc, users), authz.sweep()]);
        }
      }
      await finish(sc, users, progress, () => authz.finish(progress));
    } catch (err) {
      throw new Error(report(sc, title, progress.at, err));
    }
    // eslint-disable-next-line no-console
    console.log(`scenario ${title} in ${sc.now()} ms: ${JSON.stringify(sc.stats)}`);
    expect(sc.stats.steps).toBe(STEPS);
  }, 240_000);
});
