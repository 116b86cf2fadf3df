/**
 * The permission half of the scenario (issue 15.5): grants at setup, revokes and grants again
 * through random nodes during the run, `POST /v1/authorize` on every node, a revoke in each staged
 * cut race and write stall (Scenario.hooks), and the final exact check; every answer judged by
 * ./scenario-permissions, every admin call by the scenario's judge. Failed and unknown-outcome
 * calls are read back from Redis once nothing of them can land any more, as password changes are.
 */

import { clusterNames } from '@authcache/protocol';
import { pause, redisCommand, Violation, type AuthzStats, type PermCommand, type Reply } from './scenario';
import { PermissionModel, type CheckSpec, type GrantSpec } from './scenario-permissions';
import type { Scenario } from './scenario-runner';

/** Probes go on this long past a bound, to see the answers turn (as the login probes). */
const PROBE_PAST_MS = 300;

export class Authz {
  readonly model: PermissionModel;
  readonly stats: AuthzStats = { authorizes: 0, byAnswer: {}, staleAllowed: 0, mustAllow: 0, mustDeny: 0, failClosed: 0, grants: 0, revokes: 0, maybeApplied: 0, resolved: 0, races: 0, stalls: 0 };
  private readonly resolving = new Map<number, Promise<void>>();
  /** the slot warmed for the cut race under way */
  private racing: number | undefined;
  private serial = 0;

  constructor(
    private readonly sc: Scenario,
    grants: GrantSpec[],
    readonly checks: CheckSpec[],
  ) {
    this.model = new PermissionModel(sc.model, grants);
    sc.stats.authz = this.stats;
    sc.hooks = { warm: (k) => this.warm(k), race: (k, via) => this.race(k, via), stall: (k) => this.stall(k) };
  }

  /** Grants every slot through node 0. */
  async setUp(): Promise<void> {
    for (let i = 0; i < this.model.size; i++) {
      if (!(await this.change(i, true, 0))) throw new Error(`setup: granting slot ${i} failed`);
    }
  }

  async step(cmd: PermCommand | null): Promise<void> {
    if (cmd === null) return;
    await this.resolveDue();
    if (cmd.kind === 'toggle') {
      await this.change(cmd.slot, this.model.granted(cmd.slot) === false, this.sc.route(cmd.via, cmd.anyNode));
      return;
    }
    const { maxStalenessMs } = this.sc.setup.timing;
    const known = (k: number) => this.sc.model.nodes[k]!.cutSince !== undefined && this.sc.now() > this.sc.model.nodes[k]!.cutSince! + maxStalenessMs;
    await Promise.all(this.sc.nodes.map((_, k) => (cmd.stay || !known(k) ? this.authorize(cmd.check, k) : undefined)));
  }

  /** A grant or revoke of slot `i` through node `k`; recorded as done only if the call said so. */
  async change(i: number, grant: boolean, k: number): Promise<boolean> {
    const { role, resource, permission } = this.model.slot(i).spec;
    const { reply, returnedAt } = await this.sc.admin(`${grant ? 'grant' : 'revoke'} ${permission} on ${resource} to ${role}`, k, grant ? 'PUT' : 'DELETE', `/v1/roles/${role}/permissions`, { resource, permissions: [permission] });
    const ok = reply.status === 200;
    const acked = ok && Array.isArray(reply.json?.members) ? (reply.json.members as Array<{ node: string; result: string }>).filter((m) => m.result === 'applied').map((m) => m.node) : [];
    this.model.change(i, grant, ok ? { ok: true, returnedAt, acked } : { ok: false, returnedAt });
    if (!ok) this.stats.maybeApplied++;
    if (grant) this.stats.grants++;
    else this.stats.revokes++;
    return ok;
  }

  /** One authorize of check `ci` on node `k`, judged. */
  async authorize(ci: number, k: number): Promise<Reply> {
    const c = this.checks[ci]!;
    const slots = this.model.covering(c);
    await this.resolveDue(slots);
    const sent = this.sc.now();
    if (this.model.mustAllow(c, k, sent)) this.stats.mustAllow++;
    if (!this.model.allowable(c, k, sent)) this.stats.mustDeny++;
    const reply = await this.sc.request(this.sc.nodes[k]!.url, 'POST', '/v1/authorize', { json: { username: c.username, resource: c.resource, permission: c.permission } });
    const answered = this.sc.now();
    await this.resolveDue(slots);
    const answer = reply.status === 200 ? `allowed=${String(reply.json?.allowed)}` : String(reply.status);
    this.stats.authorizes++;
    this.stats.byAnswer[answer] = (this.stats.byAnswer[answer] ?? 0) + 1;
    const revoked = !c.superuser && slots.length > 0 && slots.every((i) => this.model.granted(i) === false);
    this.sc.note(`  authorize ${c.username} ${c.permission} ${c.resource} @${this.sc.nodes[k]!.id} -> ${answer}${reply.status === 200 ? ` cached=${String(reply.json?.cached)} via=${String(reply.json?.via)}` : ''}${revoked ? ' (revoked)' : ''} ${answered - sent}ms`);
    const violation = this.model.judge(c, k, { sent, answered }, reply);
    if (violation) throw new Violation(violation);
    if (reply.status === 200 && reply.json?.allowed === true && revoked) this.stats.staleAllowed++;
    if (reply.status === 503 && this.sc.model.isCut(k)) this.stats.failClosed++;
    return reply;
  }

  /** Check `ci` on every node at once. */
  async everywhere(ci: number): Promise<void> {
    await Promise.all(this.sc.nodes.map((_, k) => this.authorize(ci, k)));
  }

  /** Every check on every node. */
  async sweep(): Promise<void> {
    await Promise.all(this.checks.map((_, ci) => this.everywhere(ci)));
  }

  /** The next slot granted for sure (round robin), or undefined. */
  private nextGranted(): number | undefined {
    for (let d = 0; d < this.model.size; d++) {
      const i = (this.serial + d) % this.model.size;
      if (this.model.granted(i) === true) {
        this.serial = i + 1;
        return i;
      }
    }
    return undefined;
  }

  /** Non-superuser checks slot `i` covers. */
  private checksOf(i: number): number[] {
    return this.checks.flatMap((c, ci) => (!c.superuser && this.model.covering(c).includes(i) ? [ci] : []));
  }

  /** Repeats the checks on node `k` until `end` (bounded); the pauses only spread them over the window. */
  private async probe(checks: number[], k: number, end: () => number): Promise<void> {
    for (let n = 0; n < 40 && (n === 0 || this.sc.now() < end()); n++) {
      await Promise.all(checks.map((ci) => this.authorize(ci, k)));
      await pause(100);
    }
  }

  /**
   * Before a cut race cuts settled node `k`: a slot granted for sure (granted through `k` when none
   * is), its checks answered twice on `k` (the second from the permissions cache, the entry to go
   * stale).
   */
  private async warm(k: number): Promise<void> {
    await this.resolveDue();
    let i = this.nextGranted();
    if (i === undefined) {
      i = this.serial++ % this.model.size;
      if (!(await this.change(i, true, k))) return;
    }
    this.racing = i;
    for (const ci of this.checksOf(i)) for (let n = 0; n < 2; n++) await this.authorize(ci, k);
  }

  /**
   * The race itself, beside the password's change and probe: the warmed slot revoked through
   * another node, its checks probed on the cut node `k` until max_staleness after the revoke
   * returned, and beyond.
   */
  private async race(k: number, via: number): Promise<void> {
    const i = this.racing;
    this.racing = undefined;
    if (i === undefined) return;
    this.stats.races++;
    await this.change(i, false, this.sc.route(via, false));
    const end = this.sc.now() + this.sc.setup.timing.maxStalenessMs + PROBE_PAST_MS;
    await this.probe(this.checksOf(i), k, () => end);
  }

  /**
   * Before a write stall (CLIENT PAUSE ... WRITE): a slot's checks warmed on every settled node;
   * what it returns, started once the stall has begun, revokes the slot through `k` (the call may
   * succeed late, fail, or not know, and land after it returned) and probes its checks on every
   * node until max_staleness after the revoke returned or the stall's writes may land, and beyond.
   */
  private async stall(k: number): Promise<() => Promise<void>> {
    const sc = this.sc;
    await this.resolveDue();
    const i = this.nextGranted();
    if (i === undefined) return () => Promise.resolve();
    const checks = this.checksOf(i);
    const warm = sc.nodes.map((_, n) => n).filter((n) => sc.model.settled(n, sc.now()));
    await Promise.all(warm.map(async (n) => {
      for (const ci of checks) for (let r = 0; r < 2; r++) await this.authorize(ci, n);
    }));
    return async () => {
      this.stats.stalls++;
      await this.change(i, false, k);
      const returnedAt = sc.now();
      const end = () => Math.max(returnedAt + sc.setup.timing.maxStalenessMs, sc.stallUntil) + PROBE_PAST_MS;
      await Promise.all(sc.nodes.map((_, n) => this.probe(checks, n, end)));
    };
  }

  /** Reads from Redis what failed calls left on slots (all, or `only`), once nothing of them can land any more. */
  async resolveDue(only?: number[]): Promise<void> {
    const due = (only ?? [...Array(this.model.size).keys()]).filter((i) => this.model.needsResolution(i, this.sc.now()));
    await Promise.all(
      due.map((i) => {
        let p = this.resolving.get(i);
        if (!p) {
          p = this.resolveNow(i).finally(() => this.resolving.delete(i));
          this.resolving.set(i, p);
        }
        return p;
      }),
    );
  }

  private async resolveNow(i: number): Promise<void> {
    const { role, resource, permission } = this.model.slot(i).spec;
    const key = clusterNames(this.sc.setup.cluster).rolePermissions(role);
    const held = (await redisCommand(this.sc.setup.redisPort, ['HGET', key, `${resource}\x1f${permission.toUpperCase()}`])) !== null;
    this.model.resolve(i, held);
    this.stats.resolved++;
    this.sc.note(`  resolved ${permission} on ${resource} to ${role} from Redis: ${held ? 'granted' : 'not granted'}`);
  }

  /**
   * After the scenario's finish (every node healed and converged): slots a failed call left
   * ambiguous are granted again through a converged node, then every check on every node must
   * answer exactly what is granted now.
   */
  async finish(progress: { at: string }): Promise<void> {
    const sc = this.sc;
    progress.at = 'final: settle grants left ambiguous by failed calls';
    sc.note(progress.at);
    for (let i = 0; i < this.model.size; i++) {
      if (this.model.granted(i) === undefined && !(await this.change(i, true, 0))) throw new Violation(`final: a grant of slot ${i} through a healed, converged node failed`);
    }
    sc.note(`  converged at seq ${await sc.converge()}`);
    progress.at = 'final: exactly what is granted, on every node';
    sc.note(progress.at);
    const checks: Array<Promise<void>> = [];
    for (const [ci, c] of this.checks.entries()) {
      const want = c.superuser || this.model.covering(c).some((i) => this.model.granted(i) === true);
      for (let k = 0; k < sc.nodes.length; k++) {
        checks.push(
          this.authorize(ci, k).then((r) => {
            // Converged: every revoke is applied everywhere, whatever its staleness window.
            if (r.status !== 200 || r.json?.allowed !== want) throw new Violation(`after convergence ${c.username} ${c.permission} on ${c.resource} at ${sc.nodes[k]!.id}: ${r.status} ${JSON.stringify(r.json)}, expected allowed=${String(want)}`);
          }),
        );
      }
    }
    await Promise.all(checks);
  }
}
