/**
 * The staged faults of the randomized scenario: the cut race the promise is about, probes across
 * a staleness bound, Redis stalling writes, a change made behind the API, a misconfigured node.
 * Each drives the cluster through the Scenario, so every answer is judged by the model.
 */

import { clusterNames } from '@authcache/protocol';
import { pause, redisCommand, Violation } from './scenario';
import type { Scenario } from './scenario-runner';

/** Probes go on this long past a bound, to see the answers turn. */
const PROBE_PAST_MS = 300;
/** After CLIENT PAUSE ends, the writes it queued run at once; this covers the queue draining on a busy machine. */
const STALL_DRAIN_MS = 200;
/** How long a misconfigured node is watched for claiming to be healthy. */
const BAD_NODE_WATCH_MS = 3000;

/**
 * Cuts a node that holds `user` in its cache (preferably `preferred`) while another settled node
 * stays to take the revoking call; returns it. Without 2 settled nodes, heals all and waits for
 * them to converge first (itself a check: nodes must converge once they reach Redis). A user left
 * ambiguous by a failed call is settled first, so that there is a current password to revoke.
 */
export async function stageCut(sc: Scenario, preferred: number, mode: 'blackhole' | 'reset', user: string, via: number): Promise<number> {
  const settledNodes = () => [0, 1, 2].map((i) => (preferred + i) % sc.nodes.length).filter((i) => sc.model.settled(i, sc.now()));
  if (settledNodes().length < 2) {
    for (const c of sc.model.cutNodes()) await sc.heal(c);
    const seq = await sc.converge();
    sc.note(`  converged at seq ${seq}`);
  }
  const k = settledNodes()[0]!;
  if (sc.model.current(user) === undefined) await sc.changeUser(user, { password: sc.nextPassword(user), login: true }, sc.route(via === k ? k + 1 : via, false));
  const current = sc.model.current(user);
  // Twice: the second login stores the password's verifier, the hottest entry to go stale.
  if (current !== undefined) for (let i = 0; i < 2; i++) await sc.login(user, current, k);
  await sc.hooks.warm?.(k);
  sc.cut(k, mode);
  return k;
}

/**
 * Logs in with `password` (default: the user's most recently revoked one) on node `k` again and
 * again until `until` (default: its staleness bound) has passed: the answers must turn from
 * (maybe) 200 to 401/503 in time. The pauses only spread the probes over the window.
 */
export async function probe(sc: Scenario, user: string, k: number, password?: string, until?: () => number): Promise<void> {
  const target = sc.model.revoked(user)[0];
  const pw = password ?? target?.password ?? sc.model.current(user) ?? sc.model.user(user).hashes[0]!;
  const end = until ?? (() => (target?.at ?? 0) + sc.setup.timing.maxStalenessMs + PROBE_PAST_MS);
  for (let i = 0; i < 40 && (i === 0 || sc.now() < end()); i++) {
    await sc.login(user, pw, k);
    await pause(100);
  }
}

/**
 * Redis pauses writes (what FAILOVER does) while the user's password is changed: the call may
 * succeed late, fail, or not know (504, timeout), and its write may land after it returned. The
 * old password is then probed on every node until max_staleness after the call returned, and
 * beyond: whatever the call answered, once Redis holds the new hash no node may accept the old
 * one later than that (the model reads Redis to know).
 */
export async function writeStall(sc: Scenario, user: string, ms: number, via: number): Promise<void> {
  const old = sc.model.current(user);
  const k = sc.route(via, false);
  // Cached with its verifier wherever a node can hold it: what would be served stale if the
  // change landed without its invalidation.
  const warm = sc.nodes.map((_, i) => i).filter((i) => old !== undefined && sc.model.settled(i, sc.now()));
  for (const i of warm) for (let n = 0; n < 2; n++) await sc.login(user, old!, i);
  // A permission's checks are warmed too; its revoke goes through the same node, stalled alike.
  const perm = await sc.hooks.stall?.(k);
  await redisCommand(sc.setup.redisPort, ['CLIENT', 'PAUSE', ms, 'WRITE']);
  const from = sc.now();
  sc.stallUntil = from + ms + STALL_DRAIN_MS;
  sc.model.writeStall(sc.stallUntil);
  sc.stats.writeStalls++;
  sc.note(`  redis: CLIENT PAUSE ${ms} WRITE`);
  const revoke = perm?.() ?? Promise.resolve();
  revoke.catch(() => undefined); // surfaces below
  await sc.changeUser(user, { password: sc.nextPassword(user) }, k);
  const returnedAt = sc.now();
  const end = () => Math.max(returnedAt + sc.setup.timing.maxStalenessMs, sc.stallUntil) + PROBE_PAST_MS;
  await Promise.all([revoke, ...(old === undefined ? [] : sc.nodes.map((_, i) => probe(sc, user, i, old, end)))]);
}

/**
 * can_login of the outside user set directly in Redis: no call, no ConfigUpdate, no invalidation.
 * Only the refreshing node's reload can see it; its answers are probed across that bound.
 */
export async function outside(sc: Scenario, value: boolean): Promise<void> {
  const o = sc.setup.outsideUser;
  if (!o) throw new Error('scenario: the outside command needs an outside user');
  await redisCommand(sc.setup.redisPort, ['HSET', clusterNames(sc.setup.cluster).role(o.name), 'can_login', String(value)]);
  const at = sc.now();
  sc.model.changeOutside(o.name, value, at);
  sc.stats.outsideChanges++;
  sc.note(`  redis: HSET ${o.name} can_login ${String(value)}`);
  const password = sc.model.user(o.name).history[0]!;
  await probe(sc, o.name, o.node, password, () => at + sc.setup.timing.outsideBoundMs + PROBE_PAST_MS);
}

/**
 * A node with the wrong cluster secret joins: it must not report itself healthy, and a flush sent
 * through it must not disturb the others (its frames are rejected; the model judges the good
 * nodes as ever). The next badNode command stops it.
 */
export async function badNode(sc: Scenario): Promise<void> {
  const start = sc.setup.startBadNode;
  if (!start) throw new Error('scenario: the badNode command needs startBadNode');
  if (sc.bad) {
    await sc.close();
    sc.note('  misconfigured node stopped');
    return;
  }
  const bad = await start();
  sc.bad = bad;
  sc.stats.badNodeJoins++;
  let exited = false;
  void bad.exited.then(() => (exited = true));
  // A good node is healthy within a second or two of starting: watch this one for longer than that.
  const seen: string[] = [];
  const until = sc.now() + BAD_NODE_WATCH_MS;
  for (let i = 0; i < 100 && sc.now() < until && !exited; i++) {
    const r = await sc.request(bad.url, 'GET', '/health');
    seen.push(`${r.status} ${String(r.json?.status)}`);
    if (r.status === 200 || r.json?.status === 'UP') {
      throw new Violation(`a node with the wrong cluster secret reports itself healthy: ${r.status} ${JSON.stringify(r.json)} (seen: ${seen.join(', ')})`);
    }
    await pause(100);
  }
  sc.note(`  misconfigured node ${bad.id} joined${exited ? ' and exited' : ''}: /health ${[...new Set(seen)].join(', ')}`);
  if (exited) return;
  const flush = await sc.request(bad.url, 'DELETE', '/_plugins/_security/api/cache', { token: sc.setup.token });
  sc.note(`  flush all through the misconfigured node -> ${flush.status} ${JSON.stringify(flush.json)}`);
}
