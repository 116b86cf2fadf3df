/**
 * The permission half of the scenario's oracle (issue 15.5): what `POST /v1/authorize` may and
 * must answer, judged by the same rules as logins (./scenario-model). A grant is a slot (role,
 * resource, permission) that the scenario revokes and grants again; a check (user, resource,
 * permission) is covered by a slot when the user holds the slot's role (itself, or transitively)
 * and the slot's resource is the check's or a parent of it (a grant on `data/ks` covers
 * `data/ks/t`, never `data`).
 *
 * Safety, by when the answer ARRIVED, with no slack: `allowed:true` only for a check some covering
 * slot may grant now, or one revoked by a call this node did not acknowledge, answered no later
 * than max_staleness after that call returned. A failed or unknown-outcome call is "maybe applied"
 * until Redis is read after max_staleness (`resolve`), and a revoke found applied is bounded from
 * when that call returned. Liveness, by when the request was SENT: `allowed:false` is wrong for a
 * check a slot grants for sure, on a settled node that acknowledged the grant or had ackGraceMs to
 * get it. 503 only while the node is cut or settling, or Redis stalls writes; beyond max_staleness
 * into a cut only 503.
 */

import type { ScenarioModel } from './scenario-model';
import type { ChangeOutcome, Reply, Timed } from './scenario-types';

export interface GrantSpec {
  role: string;
  resource: string;
  permission: string;
}

export interface CheckSpec {
  username: string;
  resource: string;
  permission: string;
  /** every role the user holds, transitively, itself included */
  roles: string[];
  /** a superuser is allowed everything, whatever is granted (via null) */
  superuser: boolean;
}

interface Revocation {
  at: number;
  ackedBy: Set<string>;
}

interface SlotState {
  spec: GrantSpec;
  /** what Redis may hold: one value after a successful call, both while a failed one is unresolved */
  states: Set<boolean>;
  /** the last time the slot went from granted to revoked, while it stays revoked */
  revoked: Revocation | undefined;
  /** when the last successful (or resolved) change returned, and who acknowledged it */
  changedAt: number;
  ackedBy: Set<string>;
  unresolvedSince: number | undefined;
}

/** A grant on `parent` covers `resource` when it is the resource or one of its parents. */
export function resourceCovers(parent: string, resource: string): boolean {
  return resource === parent || resource.startsWith(`${parent}/`);
}

export function covers(g: GrantSpec, c: CheckSpec): boolean {
  const p = c.permission.toUpperCase();
  return c.roles.includes(g.role) && resourceCovers(g.resource, c.resource) && (g.permission.toUpperCase() === p || g.permission.toUpperCase() === 'ALL');
}

export class PermissionModel {
  private readonly slots: SlotState[];

  /** Every slot starts not granted (setup grants them through `change`). */
  constructor(
    private readonly base: ScenarioModel,
    grants: GrantSpec[],
  ) {
    const all = base.nodes.map((n) => n.id);
    this.slots = grants.map((spec) => ({ spec, states: new Set([false]), revoked: undefined, changedAt: 0, ackedBy: new Set(all), unresolvedSince: undefined }));
  }

  get size(): number {
    return this.slots.length;
  }

  slot(i: number): Readonly<SlotState> {
    const s = this.slots[i];
    if (!s) throw new Error(`permission model: no slot ${i}`);
    return s;
  }

  /** true / false when Redis holds that for sure, undefined while a failed call is unresolved. */
  granted(i: number): boolean | undefined {
    const s = this.slot(i);
    return s.states.size === 1 ? s.states.has(true) : undefined;
  }

  /** Slots covering `c`. */
  covering(c: CheckSpec): number[] {
    return this.slots.flatMap((s, i) => (covers(s.spec, c) ? [i] : []));
  }

  /** A grant (`granted` true) or revoke of slot `i` and how the call ended. */
  change(i: number, granted: boolean, outcome: ChangeOutcome): void {
    const s = this.mutable(i);
    const before = s.states.has(true);
    if (outcome.ok) {
      s.states = new Set([granted]);
      s.changedAt = outcome.returnedAt;
      s.ackedBy = new Set(outcome.acked);
    } else {
      s.states.add(granted);
      s.unresolvedSince = outcome.returnedAt;
    }
    if (s.states.has(true)) s.revoked = undefined;
    else if (before) s.revoked = { at: outcome.returnedAt, ackedBy: new Set(outcome.ok ? outcome.acked : []) };
  }

  /** Has slot `i` a failed call whose outcome must be read from Redis before an answer at `t` is judged? */
  needsResolution(i: number, t: number): boolean {
    const s = this.slot(i);
    return s.unresolvedSince !== undefined && t >= s.unresolvedSince + this.base.timing.maxStalenessMs && t >= this.base.writesMayLandUntil;
  }

  /**
   * Settles slot `i` by what Redis holds, read once nothing can land any more. Found revoked while
   * it may have been granted: revoked as of the failed call's return (a revoke that landed was in
   * force by then + max_staleness; a grant that never landed was never in force, so this errs on
   * the lenient side only for an answer within that bound).
   */
  resolve(i: number, granted: boolean): void {
    const s = this.mutable(i);
    if (s.unresolvedSince === undefined) return;
    const at = s.unresolvedSince;
    const before = s.states.has(true);
    s.states = new Set([granted]);
    s.unresolvedSince = undefined;
    s.changedAt = at;
    s.ackedBy = new Set();
    if (granted) s.revoked = undefined;
    else if (before) s.revoked = { at, ackedBy: new Set() };
  }

  /** Covering slots an `allowed:true` from node `index` arriving at `answered` may stand on. */
  allowingSlots(c: CheckSpec, index: number, answered: number): number[] {
    const id = this.base.nodes[index]!.id;
    return this.covering(c).filter((i) => {
      const s = this.slot(i);
      if (s.states.has(true)) return true;
      return s.revoked !== undefined && !s.revoked.ackedBy.has(id) && answered <= s.revoked.at + this.base.timing.maxStalenessMs;
    });
  }

  /** May node `index` allow `c` in an answer that arrived at `answered`? */
  allowable(c: CheckSpec, index: number, answered: number): boolean {
    return c.superuser || this.allowingSlots(c, index, answered).length > 0;
  }

  /** Must node `index` allow `c` for a request sent at `t`? (liveness: judged by when it was sent) */
  mustAllow(c: CheckSpec, index: number, t: number): boolean {
    if (!this.base.settled(index, t)) return false;
    if (c.superuser) return true;
    const id = this.base.nodes[index]!.id;
    return this.covering(c).some((i) => {
      const s = this.slot(i);
      return this.granted(i) === true && (s.ackedBy.has(id) || t >= s.changedAt + this.base.timing.ackGraceMs);
    });
  }

  /** Judges one authorize answer of node `index`; returns what is wrong with it, or undefined. */
  judge(c: CheckSpec, index: number, at: Timed, reply: Reply): string | undefined {
    const n = this.base.nodes[index]!;
    const { maxStalenessMs } = this.base.timing;
    const what = `authorize ${c.username} ${c.permission} on ${c.resource} at ${n.id} (sent at ${at.sent}, answered at ${at.answered})`;
    if (n.cutSince !== undefined && at.sent > n.cutSince + maxStalenessMs && reply.status !== 503) {
      return `${what}: answered ${reply.status} ${JSON.stringify(reply.json)} to a request sent ${at.sent - n.cutSince} ms into a ${String(n.cutMode)} cut from Redis; beyond max_staleness ${maxStalenessMs} ms only 503 is right`;
    }
    switch (reply.status) {
      case 200: {
        const allowed: unknown = reply.json?.allowed;
        if (allowed === false) {
          if (this.mustAllow(c, index, at.sent)) return `${what}: denied a permission ${c.superuser ? 'a superuser holds' : `granted for sure since ${this.stableSince(c)}`} on a node that reaches Redis (healed at ${String(n.healedAt)})`;
          return undefined;
        }
        if (allowed !== true) return `${what}: 200 without a boolean "allowed": ${JSON.stringify(reply.json)}`;
        if (!this.allowable(c, index, at.answered)) return `${what}: ${this.whyNot(c, index, at.answered)}`;
        const via: unknown = reply.json?.via;
        const roles: Array<string | null> = c.superuser ? [null] : this.allowingSlots(c, index, at.answered).map((i) => this.slot(i).spec.role);
        if (!roles.includes(via as string | null)) return `${what}: allowed via ${JSON.stringify(via)}, expected one of ${JSON.stringify(roles)}`;
        return undefined;
      }
      case 503:
        // Redis pausing writes holds up the reads queued behind a node's own stalled write (its
        // heartbeat, a change through it): failing closed then is right.
        if (this.base.settled(index, at.sent) && at.sent > this.base.writesMayLandUntil) return `${what}: 503 ${JSON.stringify(reply.json)} from a node that reaches Redis (healed at ${String(n.healedAt)})`;
        if (typeof reply.json?.error !== 'string' || reply.json.error === '') return `${what}: 503 without an {"error"} body: ${JSON.stringify(reply.json)}`;
        return undefined;
      default:
        return `${what}: unexpected status ${reply.status} ${JSON.stringify(reply.json)}`;
    }
  }

  private stableSince(c: CheckSpec): string {
    return this.covering(c).filter((i) => this.granted(i) === true).map((i) => `${this.slot(i).changedAt} (${this.slot(i).spec.role})`).join(', ');
  }

  private whyNot(c: CheckSpec, index: number, answered: number): string {
    const id = this.base.nodes[index]!.id;
    const revoked = this.covering(c).map((i) => this.slot(i).revoked).filter((r): r is Revocation => r !== undefined);
    if (revoked.length === 0) return 'allowed a permission no covering grant ever held';
    const r = revoked.sort((a, b) => b.at - a.at)[0]!;
    if (r.ackedBy.has(id)) return `allowed a permission revoked at ${r.at} by a call this node acknowledged (${answered - r.at} ms after it returned)`;
    return `allowed a permission revoked at ${r.at}, answered ${answered - r.at} ms after (bound ${this.base.timing.maxStalenessMs} ms)`;
  }

  private mutable(i: number): SlotState {
    const s = this.slots[i];
    if (!s) throw new Error(`permission model: no slot ${i}`);
    return s;
  }
}
