/**
 * The oracle of the randomized fault scenario (test/scenario.test.ts).
 *
 * The model knows what the cluster was TOLD (admin calls and how they ended), what was changed
 * behind its back (direct writes to Redis), and where the faults are; from that alone it judges
 * every answer a node gives. It never looks inside a node. Its safety rule is exactly the
 * README's guarantee, with no slack: a revoked password may be accepted only by an answer that
 * ARRIVED no later than max_staleness after the revoking call returned, and never by a node that
 * acknowledged that call. A call that failed or whose outcome is unknown revoked the old password
 * too if its change is found in Redis afterwards (see `resolve`), with the same bound.
 */

import type { ChangeOutcome, Reply, Timed, Timing, Truth, UserSpec } from './scenario-types';

export type { ChangeOutcome, Reply, Timed, Timing, Truth, UserSpec } from './scenario-types';

interface Revocation {
  /** when the revoking call returned (or the direct write to Redis did) */
  at: number;
  /** nodes that acknowledged the revoking call: they must refuse at once */
  ackedBy: Set<string>;
  /** a direct write to Redis: bounded by the refresh, not by max_staleness */
  outside: boolean;
}

interface UserState {
  spec: UserSpec;
  /** every password ever set or attempted, oldest first */
  history: string[];
  /** passwords the stored hash may be: one after a successful change, more while a failed one is unresolved */
  hashes: string[];
  /** values can_login may have, by the same rule */
  login: Set<boolean>;
  revokedAt: Map<string, Revocation>;
  /** when the last successful change of this user returned */
  changedAt: number;
  /** node ids that acknowledged that change before the call returned */
  ackedBy: Set<string>;
  /** the latest failed (maybe applied) call not yet resolved against Redis: when it returned */
  unresolvedSince: number | undefined;
}

interface NodeState {
  id: string;
  cutSince: number | undefined;
  cutMode: 'blackhole' | 'reset' | undefined;
  healedAt: number | undefined;
  /** when the node was seen caught up (UP, at Redis's seq) after its last heal */
  caughtUpAt: number | undefined;
}

export class ScenarioModel {
  private readonly users = new Map<string, UserState>();
  readonly nodes: NodeState[];
  /** Until when a write queued by a stalled Redis may still land (CLIENT PAUSE end, plus the queue draining). */
  writesMayLandUntil = 0;

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
      unresolvedSince: undefined,
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
    const u = this.mutable(name);
    const before = acceptableNow(u);
    if (change.password !== undefined && !u.history.includes(change.password)) u.history.push(change.password);
    if (outcome.ok) {
      if (change.password !== undefined) u.hashes = [change.password];
      if (change.login !== undefined) u.login = new Set([change.login]);
      u.changedAt = outcome.returnedAt;
      u.ackedBy = new Set(outcome.acked);
    } else {
      // Maybe applied (a stalled write may even land after the call returned): both states stay
      // allowed until `resolve` reads which one Redis holds.
      if (change.password !== undefined && !u.hashes.includes(change.password)) u.hashes.push(change.password);
      if (change.login !== undefined) u.login.add(change.login);
      u.unresolvedSince = outcome.returnedAt;
    }
    const after = acceptableNow(u);
    for (const p of after) u.revokedAt.delete(p);
    if (outcome.ok) for (const p of before) if (!after.has(p)) u.revokedAt.set(p, { at: outcome.returnedAt, ackedBy: new Set(outcome.acked), outside: false });
  }

  /** A direct write of can_login to Redis at `at` (no call, no invalidation): only a reload sees it. */
  changeOutside(name: string, canLogin: boolean, at: number): void {
    const u = this.mutable(name);
    const before = acceptableNow(u);
    u.login = new Set([canLogin]);
    u.changedAt = at + this.timing.outsideBoundMs;
    u.ackedBy = new Set();
    const after = acceptableNow(u);
    for (const p of after) u.revokedAt.delete(p);
    for (const p of before) if (!after.has(p)) u.revokedAt.set(p, { at, ackedBy: new Set(), outside: true });
  }

  /** A write stall (CLIENT PAUSE ... WRITE) until `until`: writes sent meanwhile may land until then. */
  writeStall(until: number): void {
    this.writesMayLandUntil = Math.max(this.writesMayLandUntil, until);
  }

  /** Has `name` a failed call whose outcome must be read from Redis before an answer at `t` can be judged? */
  needsResolution(name: string, t: number): boolean {
    const u = this.user(name);
    return u.unresolvedSince !== undefined && t >= u.unresolvedSince + this.timing.maxStalenessMs && t >= this.writesMayLandUntil;
  }

  /**
   * Settles an ambiguity by what Redis holds, read after nothing could land any more: a password
   * or login state found there is the user's; any other that was possible is revoked as of the
   * failed call's return (a change found applied had to be in force by then + max_staleness).
   */
  resolve(name: string, truth: Truth): void {
    const u = this.mutable(name);
    if (u.unresolvedSince === undefined) return;
    if (truth.password === undefined) throw new Error(`model: Redis holds a password for ${name} that none of its candidates ${JSON.stringify(u.hashes)} matches`);
    const at = u.unresolvedSince;
    const before = acceptableNow(u);
    // Still the oldest candidate: no failed call's password ever landed, so none was ever valid.
    const noneLanded = truth.password === u.hashes[0];
    u.hashes = [truth.password];
    u.login = new Set([truth.canLogin]);
    u.unresolvedSince = undefined;
    const after = acceptableNow(u);
    for (const p of after) u.revokedAt.delete(p);
    for (const p of before) {
      if (after.has(p) || (noneLanded && p !== truth.password)) continue;
      u.revokedAt.set(p, { at, ackedBy: new Set(), outside: false });
    }
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

  /** Reaches Redis and has caught up since its last heal: seen caught up, or settleMs have passed. */
  settled(index: number, t: number): boolean {
    const n = this.node(index);
    if (n.cutSince !== undefined) return false;
    if (n.healedAt === undefined) return true;
    return t >= n.healedAt + this.timing.settleMs || (n.caughtUpAt !== undefined && t >= n.caughtUpAt);
  }

  /** Until when node `index` may accept a revoked `r` (an answer arriving later breaks the promise). */
  acceptableUntil(r: Revocation, index: number): number {
    if (!r.outside) return r.at + this.timing.maxStalenessMs;
    // A reload needs the backend: while cut the node serves what it holds (the cut rule bounds
    // that), and after a heal it needs to settle before its next reload can see the change.
    const n = this.node(index);
    if (n.cutSince !== undefined) return Infinity;
    const from = n.healedAt !== undefined && n.healedAt > r.at ? n.healedAt + this.timing.settleMs : r.at;
    return from + this.timing.outsideBoundMs;
  }

  /** May node `index` accept `password` for `name` in an answer that arrived at `answered`? */
  acceptable(name: string, password: string, index: number, answered: number): boolean {
    const u = this.user(name);
    if (u.login.has(true) && u.hashes.includes(password)) return true;
    const r = u.revokedAt.get(password);
    return r !== undefined && !r.ackedBy.has(this.node(index).id) && answered <= this.acceptableUntil(r, index);
  }

  /** Must node `index` accept `password` for `name` for a request sent at `t`? (liveness: judged by when it was sent) */
  mustAccept(name: string, password: string, index: number, t: number): boolean {
    const u = this.user(name);
    if (this.current(name) !== password || !this.settled(index, t)) return false;
    const n = this.node(index);
    if (u.spec.outsideOn !== undefined && n.healedAt !== undefined && t < n.healedAt + this.timing.settleMs + this.timing.outsideBoundMs) return false;
    return u.ackedBy.has(n.id) || t >= u.changedAt + this.timing.ackGraceMs;
  }

  /**
   * Judges one login answer from node `index`; returns what is wrong with it, or undefined. Safety
   * by when the answer arrived, liveness by when the request was sent:
   *  - a request sent more than max_staleness after the node was cut from Redis reached a node
   *    that can neither trust its cache (its last sync was before the cut) nor reach the backend:
   *    only 503 is right;
   *  - 200: the password is valid, or revoked by a call this node did not acknowledge and the
   *    answer arrived no later than max_staleness after that call returned; the body names the
   *    user, the node and the roles/superuser the user holds;
   *  - 401: not for the current password on a settled node that has the latest change;
   *  - 503: only while the node is cut or settling after a heal;
   *  - nothing else.
   */
  judgeLogin(name: string, password: string, index: number, at: Timed, reply: Reply): string | undefined {
    const n = this.node(index);
    const { maxStalenessMs } = this.timing;
    const what = `login ${name}/${password} on ${n.id} (sent at ${at.sent}, answered at ${at.answered})`;
    if (n.cutSince !== undefined && at.sent > n.cutSince + maxStalenessMs && reply.status !== 503) {
      return `${what}: answered ${reply.status} ${JSON.stringify(reply.json)} to a request sent ${at.sent - n.cutSince} ms into a ${n.cutMode} cut from Redis; beyond max_staleness ${maxStalenessMs} ms only 503 is right`;
    }
    switch (reply.status) {
      case 200: {
        if (!this.acceptable(name, password, index, at.answered)) return `${what}: ${this.whyNot(name, password, index, at.answered)}`;
        const want = { username: name, roles: this.user(name).spec.expect.roles, superuser: this.user(name).spec.expect.superuser, node: n.id };
        const got = { username: reply.json?.username, roles: reply.json?.roles, superuser: reply.json?.superuser, node: reply.json?.node };
        if (JSON.stringify(got) !== JSON.stringify(want)) return `${what}: 200 with ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
        return undefined;
      }
      case 401:
        if (this.mustAccept(name, password, index, at.sent)) {
          return `${what}: 401 for the current password on a node that reaches Redis (healed at ${String(n.healedAt)}) and has the last change of ${name} (returned at ${this.user(name).changedAt})`;
        }
        return undefined;
      case 503:
        if (this.settled(index, at.sent)) return `${what}: 503 ${JSON.stringify(reply.json)} from a node that reaches Redis (healed at ${String(n.healedAt)})`;
        if (typeof reply.json?.error !== 'string' || reply.json.error === '') return `${what}: 503 without an {"error"} body: ${JSON.stringify(reply.json)}`;
        return undefined;
      default:
        return `${what}: unexpected status ${reply.status} ${JSON.stringify(reply.json)}`;
    }
  }

  /** Judges an admin answer from node `index` to a request sent at `t`; `stalled`: Redis was pausing writes meanwhile. */
  judgeAdmin(what: string, index: number, t: number, reply: Reply, local: boolean, stalled = false): string | undefined {
    if (reply.status === 200 || reply.status === 201) return undefined;
    // A local flush touches no Redis: it must work even on a cut node. 503 (not applied) and 504
    // or no answer (outcome unknown) are right while the node cannot write to Redis.
    const cannotWrite = !this.settled(index, t) || stalled;
    if (!local && cannotWrite && (reply.status === 503 || reply.status === 504 || reply.status === 0)) return undefined;
    return `${what} through ${this.node(index).id} (sent at ${t}, cut=${String(this.isCut(index))}, stalled=${String(stalled)}): ${reply.status} ${JSON.stringify(reply.json)}`;
  }

  private whyNot(name: string, password: string, index: number, answered: number): string {
    const r = this.user(name).revokedAt.get(password);
    if (r === undefined) return `accepted a password that was never valid for ${name}`;
    if (r.ackedBy.has(this.node(index).id)) return `accepted a password revoked at ${r.at} by a call this node acknowledged (${answered - r.at} ms after it returned)`;
    const bound = this.acceptableUntil(r, index) - r.at;
    return `accepted a password revoked at ${r.at}${r.outside ? ' (directly in Redis)' : ''}, answered ${answered - r.at} ms after (bound ${bound} ms)`;
  }

  private mutable(name: string): UserState {
    const u = this.users.get(name);
    if (!u) throw new Error(`model: no user ${name}`);
    return u;
  }

  private node(index: number): NodeState {
    const n = this.nodes[index];
    if (!n) throw new Error(`model: no node ${index}`);
    return n;
  }
}

function acceptableNow(u: UserState): Set<string> {
  return new Set(u.login.has(true) ? u.hashes : []);
}
