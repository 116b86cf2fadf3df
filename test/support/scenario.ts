/**
 * The oracle and the command generator of the randomized fault scenario (test/scenario.test.ts).
 *
 * The model knows what the cluster was TOLD (admin calls and how they ended) and where the faults
 * are; from that alone it judges every answer a node gives. It never looks inside a node.
 */

import fc from 'fast-check';
import { withConnection } from '@authcache/testkit';

/** The clock rules the judge applies; all in ms. */
export interface Timing {
  /** AUTHCACHE_MAX_STALENESS_MS of the nodes */
  maxStalenessMs: number;
  /** Slack for scheduling on a busy 2-core machine, added to every bound the node promises. */
  marginMs: number;
  /** After a heal, how long a node may still be reconnecting and catching up (503 and stale 401 allowed). */
  settleMs: number;
  /** After a successful change a healthy member did not acknowledge, how long it may still miss it. */
  ackGraceMs: number;
}

export interface UserSpec {
  name: string;
  /** roles granted at setup (they never change during the scenario) */
  grants: string[];
  superuser: boolean;
  /** what a 200 must carry: every role held, transitively, and whether any of them is superuser */
  expect: { roles: string[]; superuser: boolean };
}

interface UserState {
  spec: UserSpec;
  /** every password ever set or attempted, oldest first */
  history: string[];
  /** passwords the stored hash may be: one after a successful change, more after a failed (maybe applied) one */
  hashes: string[];
  /** values can_login may have, by the same rule */
  login: Set<boolean>;
  /** password -> when the admin call that revoked it returned (R), and the nodes that acknowledged that call */
  revokedAt: Map<string, { at: number; ackedBy: Set<string> }>;
  /** when the last successful change of this user returned */
  changedAt: number;
  /** node ids that acknowledged that change before the call returned */
  ackedBy: Set<string>;
}

interface NodeState {
  id: string;
  cutSince: number | undefined;
  cutMode: 'blackhole' | 'reset' | undefined;
  healedAt: number | undefined;
  /** when the node was seen caught up (UP, at Redis's seq) after its last heal */
  caughtUpAt: number | undefined;
}

export interface Reply {
  status: number;
  json: any;
}

export type ChangeOutcome = { ok: true; returnedAt: number; acked: string[] } | { ok: false };

export class ScenarioModel {
  private readonly users = new Map<string, UserState>();
  readonly nodes: NodeState[];

  constructor(
    readonly timing: Timing,
    nodeIds: string[],
  ) {
    this.nodes = nodeIds.map((id) => ({ id, cutSince: undefined, cutMode: undefined, healedAt: undefined, caughtUpAt: undefined }));
  }

  addUser(spec: UserSpec, password: string, createdAt: number): void {
    this.users.set(spec.name, {
      spec,
      history: [password],
      hashes: [password],
      login: new Set([true]),
      revokedAt: new Map(),
      changedAt: createdAt,
      ackedBy: new Set(this.nodes.map((n) => n.id)),
    });
  }

  user(name: string): Readonly<UserState> {
    const u = this.users.get(name);
    if (!u) throw new Error(`model: no user ${name}`);
    return u;
  }

  /** The one password that must work, or undefined while a failed call left the state ambiguous or login is off. */
  current(name: string): string | undefined {
    const u = this.user(name);
    return u.hashes.length === 1 && u.login.size === 1 && u.login.has(true) ? u.hashes[0] : undefined;
  }

  /** Passwords of `name` that are no longer (possibly) valid, most recently revoked first. */
  revoked(name: string): Array<{ password: string; at: number }> {
    return [...this.user(name).revokedAt].map(([password, r]) => ({ password, at: r.at })).sort((a, b) => b.at - a.at);
  }

  /** Records an admin change of a user's password and/or login flag and how the call ended. */
  change(name: string, change: { password?: string; login?: boolean }, outcome: ChangeOutcome): void {
    const u = this.users.get(name);
    if (!u) throw new Error(`model: no user ${name}`);
    const before = this.acceptableNow(u);
    if (change.password !== undefined && !u.history.includes(change.password)) u.history.push(change.password);
    if (outcome.ok) {
      if (change.password !== undefined) u.hashes = [change.password];
      if (change.login !== undefined) u.login = new Set([change.login]);
      u.changedAt = outcome.returnedAt;
      u.ackedBy = new Set(outcome.acked);
    } else {
      // A failed call may still have written Redis (the role is written before the update is
      // published): both the old and the new state stay allowed until a later call succeeds.
      if (change.password !== undefined && !u.hashes.includes(change.password)) u.hashes.push(change.password);
      if (change.login !== undefined) u.login.add(change.login);
    }
    const after = this.acceptableNow(u);
    for (const p of after) u.revokedAt.delete(p);
    if (outcome.ok) for (const p of before) if (!after.has(p)) u.revokedAt.set(p, { at: outcome.returnedAt, ackedBy: new Set(outcome.acked) });
  }

  cut(index: number, mode: 'blackhole' | 'reset', at: number): void {
    const n = this.node(index);
    n.cutSince = at;
    n.cutMode = mode;
  }

  heal(index: number, at: number): void {
    const n = this.node(index);
    n.cutSince = undefined;
    n.cutMode = undefined;
    n.healedAt = at;
    n.caughtUpAt = undefined;
  }

  /** The node was seen caught up at `at` (GET /health: UP, applied_seq == Redis's seq): settled from then on. */
  caughtUp(index: number, at: number): void {
    const n = this.node(index);
    if (n.cutSince === undefined) n.caughtUpAt = at;
  }

  isCut(index: number): boolean {
    return this.node(index).cutSince !== undefined;
  }

  cutNodes(): number[] {
    return this.nodes.flatMap((n, i) => (n.cutSince !== undefined ? [i] : []));
  }

  /**
   * Reaches Redis and has caught up since its last heal: it was seen caught up, or settleMs have
   * passed (time to reconnect and catch up).
   */
  settled(index: number, t: number): boolean {
    const n = this.node(index);
    if (n.cutSince !== undefined) return false;
    if (n.healedAt === undefined) return true;
    return t >= n.healedAt + this.timing.settleMs || (n.caughtUpAt !== undefined && t >= n.caughtUpAt);
  }

  /**
   * May node `index` accept `password` for `name` for a request sent at `t`? A valid password, yes;
   * a revoked one only within max_staleness (+ margin) of the revoking call's return, and never on
   * a node that acknowledged that call (an ack means the invalidation was applied).
   */
  acceptable(name: string, password: string, index: number, t: number): boolean {
    const u = this.user(name);
    if (u.login.has(true) && u.hashes.includes(password)) return true;
    const r = u.revokedAt.get(password);
    return r !== undefined && !r.ackedBy.has(this.node(index).id) && t <= r.at + this.timing.maxStalenessMs + this.timing.marginMs;
  }

  /** Must node `index` accept `password` for `name` for a request sent at `t`? */
  mustAccept(name: string, password: string, index: number, t: number): boolean {
    const u = this.user(name);
    if (this.current(name) !== password || !this.settled(index, t)) return false;
    return u.ackedBy.has(this.node(index).id) || t >= u.changedAt + this.timing.ackGraceMs;
  }

  /**
   * Judges one login answer from node `index` to a request sent at `t`; returns what is wrong with
   * it, or undefined. The rules, in order:
   *  - a node cut from Redis for longer than max_staleness (+ margin) can neither trust its cache
   *    nor reach the backend: only 503 is right;
   *  - 200: the password was valid, or revoked no more than max_staleness (+ margin) before `t`
   *    by a call this node did not acknowledge;
   *    the body names the user, the node and the roles/superuser the user holds;
   *  - 401: not for the current password on a settled node that has the latest change;
   *  - 503: only while the node is cut or settling after a heal;
   *  - nothing else.
   */
  judgeLogin(name: string, password: string, index: number, t: number, reply: Reply): string | undefined {
    const n = this.node(index);
    const { maxStalenessMs, marginMs } = this.timing;
    const what = `login ${name}/${password} on ${n.id} (sent at ${t})`;
    if (n.cutSince !== undefined && t > n.cutSince + maxStalenessMs + marginMs && reply.status !== 503) {
      return `${what}: answered ${reply.status} ${JSON.stringify(reply.json)} ${t - n.cutSince} ms into a ${n.cutMode} cut from Redis; beyond max_staleness ${maxStalenessMs} ms (+${marginMs} margin) only 503 is right`;
    }
    switch (reply.status) {
      case 200: {
        if (!this.acceptable(name, password, index, t)) {
          const r = this.user(name).revokedAt.get(password);
          if (r === undefined) return `${what}: accepted a password that was never valid for ${name}`;
          if (r.ackedBy.has(n.id)) return `${what}: accepted a password revoked at ${r.at} by a call this node acknowledged (${t - r.at} ms before this login)`;
          return `${what}: accepted a password revoked at ${r.at}, ${t - r.at} ms after the revoking call returned (bound ${maxStalenessMs} ms + ${marginMs} margin)`;
        }
        const want = { username: name, roles: this.user(name).spec.expect.roles, superuser: this.user(name).spec.expect.superuser, node: n.id };
        const got = { username: reply.json?.username, roles: reply.json?.roles, superuser: reply.json?.superuser, node: reply.json?.node };
        if (JSON.stringify(got) !== JSON.stringify(want)) return `${what}: 200 with ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
        return undefined;
      }
      case 401:
        if (this.mustAccept(name, password, index, t)) {
          return `${what}: 401 for the current password on a node that reaches Redis (healed at ${String(n.healedAt)}) and has the last change of ${name} (returned at ${this.user(name).changedAt})`;
        }
        return undefined;
      case 503:
        if (this.settled(index, t)) return `${what}: 503 ${JSON.stringify(reply.json)} from a node that reaches Redis (healed at ${String(n.healedAt)})`;
        if (typeof reply.json?.error !== 'string' || reply.json.error === '') return `${what}: 503 without an {"error"} body: ${JSON.stringify(reply.json)}`;
        return undefined;
      default:
        return `${what}: unexpected status ${reply.status} ${JSON.stringify(reply.json)}`;
    }
  }

  /** Judges an admin answer from node `index` to a request sent at `t`. */
  judgeAdmin(what: string, index: number, t: number, reply: Reply, local: boolean): string | undefined {
    if (reply.status === 200 || reply.status === 201) return undefined;
    // A local flush touches no Redis: it must work even on a cut node.
    if (reply.status === 503 && !local && !this.settled(index, t)) return undefined;
    return `${what} through ${this.node(index).id} (sent at ${t}, cut=${String(this.isCut(index))}): ${reply.status} ${JSON.stringify(reply.json)}`;
  }

  private node(index: number): NodeState {
    const n = this.nodes[index];
    if (!n) throw new Error(`model: no node ${index}`);
    return n;
  }

  private acceptableNow(u: UserState): Set<string> {
    return new Set(u.login.has(true) ? u.hashes : []);
  }
}

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
  | { kind: 'wait'; ms: 100 | 300 | 700 | 1500 };

export type TtlChoice = { key: 'plugins.security.cache.ttl_minutes'; value: '0' | '1' | '60' } | { key: 'authcache.cache.all.ttl_ms'; value: '800' | '3000' };

const nodeIndex = fc.constantFrom<NodeIndex>(0, 1, 2);

export function commandArbitrary(users: number): fc.Arbitrary<Command> {
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
  );
}

/** The same `steps` commands for the same seed, on every machine. */
export function scenarioCommands(seed: number, steps: number, users: number): Command[] {
  const [commands] = fc.sample(fc.array(commandArbitrary(users), { minLength: steps, maxLength: steps }), { seed, numRuns: 1 });
  if (!commands) throw new Error('fast-check produced no sample');
  return commands;
}

// ---------------------------------------------------------------------------------------------
// Redis, read directly (not through any node or proxy): the reference the nodes must converge to.

/** GET `key` on a short-lived connection that fails fast; null when the key does not exist. */
export function redisGet(port: number, key: string, timeoutMs = 2000): Promise<string | null> {
  return withConnection(`redis://127.0.0.1:${port}`, (redis) => redis.get(key), timeoutMs);
}
