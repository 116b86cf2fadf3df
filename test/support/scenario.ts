/**
 * The command generator of the randomized fault scenario (test/scenario.test.ts), and Redis read
 * directly as the reference. The judge is in ./scenario-model, the runner in ./scenario-runner.
 */

import fc from 'fast-check';
import { withConnection } from '@authcache/testkit';
import { STACK_TRACE } from '../support';
import type { Reply } from './scenario-model';

export * from './scenario-model';

// ---------------------------------------------------------------------------------------------
// Commands

export type NodeIndex = 0 | 1 | 2;

export type Command =
  /**
   * `pick` chooses among the user's passwords: the current one, an old one (`idx` into them), one
   * never set. Unless `stay`, a login aimed at a node cut for longer than max_staleness goes to the
   * next node instead: that node's answer (503) is known, and asking again only costs time.
   */
  | { kind: 'login'; user: number; node: NodeIndex; pick: 'current' | 'old' | 'never'; idx: number; stay: boolean }
  /** `anyNode`: go through `via` even when it is cut (else the next node that reaches Redis) */
  | { kind: 'password'; user: number; via: NodeIndex; anyNode: boolean }
  | { kind: 'setLogin'; user: number; value: boolean; via: NodeIndex; anyNode: boolean }
  | { kind: 'flushUser'; user: number; via: NodeIndex; local: boolean }
  | { kind: 'flushAll'; via: NodeIndex; local: boolean }
  /** cut `node` if it is open (and fewer than 2 are cut), heal it if cut; else heal the longest cut */
  | { kind: 'fault'; node: NodeIndex; mode: 'blackhole' | 'reset' }
  | { kind: 'ttl'; value: TtlChoice; persistent: boolean; via: NodeIndex }
  /** login again and again with the user's most recently revoked password, across its staleness bound */
  | { kind: 'probe'; user: number; node: NodeIndex }
  /**
   * The case the promise is about, staged: warm `user` on `node`, cut it from Redis, change the
   * password through another node, then probe the cut node with the old one across the bound.
   * When fewer than 2 nodes are settled it first heals every node and waits for all to converge.
   */
  | { kind: 'staleRace'; user: number; node: NodeIndex; mode: 'blackhole' | 'reset'; via: NodeIndex }
  /**
   * Time passes with nothing asked: steps are otherwise milliseconds apart, and a cut, a heal or a
   * revocation must also be looked at from further away than the next step.
   */
  | { kind: 'wait'; ms: 100 | 300 | 700 | 1500 }
  /**
   * Redis stalls writes for `ms` (CLIENT PAUSE ... WRITE, what FAILOVER does) while `user`'s
   * password is changed through `via`; then the old one is probed on every node across its bound.
   */
  | { kind: 'writeStall'; ms: 600 | 1300; user: number; via: NodeIndex }
  /** can_login of the outside user set directly in Redis (no call, no invalidation), then probed on its refreshing node */
  | { kind: 'outside'; value: boolean }
  /** a node with the wrong cluster secret joins (and a flush is sent through it), or leaves */
  | { kind: 'badNode' };

/** Which of the optional faults a run draws from (each adds its command kinds to the menu). */
export interface Menu {
  writeStall: boolean;
  outside: boolean;
  badNode: boolean;
}

export type TtlChoice = { key: 'plugins.security.cache.ttl_minutes'; value: '0' | '1' | '60' } | { key: 'authcache.cache.all.ttl_ms'; value: '800' | '3000' };

const nodeIndex = fc.constantFrom<NodeIndex>(0, 1, 2);

export function commandArbitrary(users: number, menu: Menu = { writeStall: false, outside: false, badNode: false }): fc.Arbitrary<Command> {
  const user = fc.integer({ min: 0, max: users - 1 });
  // Admin calls mostly go through a node that reaches Redis: through a cut one they fail and leave
  // the user's state ambiguous, which weakens what the judge can demand of the logins after.
  const anyNode = fc.constantFrom(true, false, false, false, false, false);
  return fc.oneof(
    {
      weight: 45,
      arbitrary: fc.record({
        kind: fc.constant('login' as const),
        user,
        node: nodeIndex,
        pick: fc.constantFrom('current' as const, 'current' as const, 'current' as const, 'old' as const, 'old' as const, 'never' as const),
        idx: fc.nat(50),
        stay: fc.constantFrom(true, false, false),
      }),
    },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant('password' as const), user, via: nodeIndex, anyNode }) },
    // Mostly back on: a user with login off has no password to accept, which tests less.
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('setLogin' as const), user, value: fc.constantFrom(true, true, false), via: nodeIndex, anyNode }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('flushUser' as const), user, via: nodeIndex, local: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('flushAll' as const), via: nodeIndex, local: fc.boolean() }) },
    { weight: 10, arbitrary: fc.record({ kind: fc.constant('fault' as const), node: nodeIndex, mode: fc.constantFrom('blackhole' as const, 'reset' as const) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('ttl' as const),
        value: fc.constantFrom<TtlChoice>(
          { key: 'plugins.security.cache.ttl_minutes', value: '60' },
          { key: 'plugins.security.cache.ttl_minutes', value: '60' },
          { key: 'plugins.security.cache.ttl_minutes', value: '1' },
          { key: 'plugins.security.cache.ttl_minutes', value: '0' },
          { key: 'authcache.cache.all.ttl_ms', value: '800' },
          { key: 'authcache.cache.all.ttl_ms', value: '3000' },
        ),
        persistent: fc.boolean(),
        via: nodeIndex,
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('probe' as const), user, node: nodeIndex }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('staleRace' as const), user, node: nodeIndex, mode: fc.constantFrom('blackhole' as const, 'reset' as const), via: nodeIndex }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom<100 | 300 | 700 | 1500>(100, 300, 700, 1500) }) },
    ...optional(menu, user),
  );
}

function optional(menu: Menu, user: fc.Arbitrary<number>): Array<fc.WeightedArbitrary<Command>> {
  const out: Array<fc.WeightedArbitrary<Command>> = [];
  if (menu.writeStall) {
    out.push({ weight: 2, arbitrary: fc.record({ kind: fc.constant('writeStall' as const), ms: fc.constantFrom<600 | 1300>(600, 1300), user, via: nodeIndex }) });
  }
  // Mostly off: turning it off is the case the refresh must catch; on again brings it back.
  if (menu.outside) out.push({ weight: 3, arbitrary: fc.record({ kind: fc.constant('outside' as const), value: fc.constantFrom(false, false, true) }) });
  if (menu.badNode) out.push({ weight: 1, arbitrary: fc.constant({ kind: 'badNode' as const }) });
  return out;
}

/** The same `steps` commands for the same seed and menu, on every machine. */
export function scenarioCommands(seed: number, steps: number, users: number, menu?: Menu): Command[] {
  const [commands] = fc.sample(fc.array(commandArbitrary(users, menu), { minLength: steps, maxLength: steps }), { seed, numRuns: 1 });
  if (!commands) throw new Error('fast-check produced no sample');
  return commands;
}

/**
 * The permission commands (issue 15.5), drawn from their own stream so that a seed's commands
 * above stay what they were: at most one after each step, run after it. (The staged cut race and
 * the write stall also revoke a permission each: ./scenario-authz, Scenario.hooks.)
 *  - authorize: check `check` on every node; unless `stay`, not on a node cut for longer than
 *    max_staleness (its answer, 503, is known, and a blackholed one takes a second to give it);
 *  - toggle: revoke slot `slot` if it is (or may be) granted, else grant it, through `via` (as
 *    password changes: `anyNode` goes through a cut node too).
 */
export type PermCommand = { kind: 'authorize'; check: number; stay: boolean } | { kind: 'toggle'; slot: number; via: NodeIndex; anyNode: boolean };

export function permissionArbitrary(slots: number, checks: number): fc.Arbitrary<PermCommand | null> {
  return fc.oneof(
    { weight: 155, arbitrary: fc.constant(null) },
    { weight: 30, arbitrary: fc.record({ kind: fc.constant('authorize' as const), check: fc.integer({ min: 0, max: checks - 1 }), stay: fc.constantFrom(true, false, false, false, false, false, false, false) }) },
    { weight: 15, arbitrary: fc.record({ kind: fc.constant('toggle' as const), slot: fc.integer({ min: 0, max: slots - 1 }), via: nodeIndex, anyNode: fc.constantFrom(true, false, false, false, false, false) }) },
  );
}

/** The permission command after each of `steps` steps (null: none), the same for the same seed on every machine. */
export function permissionCommands(seed: number, steps: number, slots: number, checks: number): Array<PermCommand | null> {
  const [commands] = fc.sample(fc.array(permissionArbitrary(slots, checks), { minLength: steps, maxLength: steps }), { seed, numRuns: 1 });
  if (!commands) throw new Error('fast-check produced no sample');
  return commands;
}

// ---------------------------------------------------------------------------------------------
// Redis, read directly (not through any node or proxy): the reference the nodes must converge to.

/** GET `key` on a short-lived connection that fails fast; null when the key does not exist. */
export function redisGet(port: number, key: string, timeoutMs = 2000): Promise<string | null> {
  return withConnection(`redis://127.0.0.1:${port}`, (redis) => redis.get(key), timeoutMs);
}

/** salted_hash and can_login of a role, read directly (no node, no proxy). */
export function redisRole(port: number, key: string, timeoutMs = 2000): Promise<{ hash: string | null; canLogin: string | null }> {
  return withConnection(`redis://127.0.0.1:${port}`, async (redis) => {
    const [hash, canLogin] = await redis.hmget(key, 'salted_hash', 'can_login');
    return { hash: hash ?? null, canLogin: canLogin ?? null };
  }, timeoutMs);
}

/** A direct write to Redis, behind every node's back. */
export function redisCommand(port: number, args: [string, ...Array<string | number>], timeoutMs = 2000): Promise<unknown> {
  return withConnection(`redis://127.0.0.1:${port}`, (redis) => redis.call(...args), timeoutMs);
}

/** One HTTP request with a deadline; no answer is status 0, which the judge never accepts for a login. */
export async function request(base: string, method: string, path: string, timeoutMs: number, opts: { json?: unknown; token?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(base + path, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (STACK_TRACE.test(text)) return { status: -1, json: { leaked: text.slice(0, 300) } };
    try {
      return { status: res.status, json: JSON.parse(text) };
    } catch {
      return { status: res.status, json: text.slice(0, 300) };
    }
  } catch (err) {
    return { status: 0, json: { error: `no answer: ${(err as Error).message}` } };
  }
}

/** Spreads requests over a window, or lets time pass: never used to wait for a state (waitFor does that). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Violation extends Error {}

export interface Stats {
  steps: number;
  logins: number;
  byStatus: Record<string, number>;
  /** 200s for a revoked password, inside its staleness window */
  staleAccepted: number;
  /** logins the judge required to be 200 (current password, settled node that has the change) */
  mustAccept: number;
  /** logins a 200 would fail when sent: a password never set, or revoked beyond its bound or by a call this node acknowledged */
  mustRefuse: number;
  /** 503s from cut nodes (the fail-closed path) */
  failClosed: number;
  /** admin calls that failed or whose outcome is unknown, and the ambiguities read back from Redis */
  maybeApplied: number;
  resolved: number;
  cuts: number;
  heals: number;
  passwordChanges: number;
  writeStalls: number;
  outsideChanges: number;
  badNodeJoins: number;
  /** the permission half (issue 15.5), when the run grants and revokes */
  authz?: AuthzStats;
}

export interface AuthzStats {
  /** authorize answers judged, by status and answer */
  authorizes: number;
  byAnswer: Record<string, number>;
  /** allowed:true for a revoked permission, inside its staleness window */
  staleAllowed: number;
  /** answers the judge required to be allowed:true, and ones an allowed:true would fail when sent */
  mustAllow: number;
  mustDeny: number;
  /** 503s from cut nodes */
  failClosed: number;
  grants: number;
  revokes: number;
  maybeApplied: number;
  resolved: number;
  /** revokes staged in a cut race (probed on the cut node) and in a write stall (probed on every node) */
  races: number;
  stalls: number;
}
