/**
 * Runs scenario commands against a real cluster, judging every answer by the model
 * (./scenario-model). The staged faults (cut races, probes, write stalls, changes behind the
 * API, a misconfigured node) are in ./scenario-faults.
 */

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { clusterNames } from '@authcache/protocol';
import { repoRoot, waitFor, type NodeHandle, type TcpProxy } from '@authcache/testkit';
import { pause, redisGet, redisRole, request, ScenarioModel, Violation, type Command, type Reply, type Stats, type Timing } from './scenario';
import { badNode, outside, probe, stageCut, writeStall } from './scenario-faults';

// The tests do not depend on bcrypt themselves; the node's copy reads the hashes it wrote.
const bcrypt = createRequire(join(repoRoot(), 'packages/node/package.json'))('@node-rs/bcrypt') as { verify(password: string, hash: string): Promise<boolean> };

export interface ScenarioSetup {
  nodes: NodeHandle[];
  proxies: TcpProxy[];
  token: string;
  redisPort: number;
  cluster: string;
  timing: Timing;
  requestTimeoutMs: number;
  convergeTimeoutMs: number;
  /** the user changed only directly in Redis, and the (refreshing) node it logs in on */
  outsideUser?: { name: string; node: number };
  /** starts a node of the cluster with the wrong cluster secret (not waiting for it to be healthy) */
  startBadNode?: () => Promise<NodeHandle>;
}

export class Scenario {
  readonly model: ScenarioModel;
  readonly history: string[] = [];
  readonly stats: Stats = {
    steps: 0, logins: 0, byStatus: {}, staleAccepted: 0, mustAccept: 0, mustRefuse: 0, failClosed: 0, maybeApplied: 0, resolved: 0,
    cuts: 0, heals: 0, passwordChanges: 0, writeStalls: 0, outsideChanges: 0, badNodeJoins: 0,
  };
  /** Admin calls sent until then may fail for the write stall alone. */
  stallUntil = -Infinity;
  bad: NodeHandle | undefined;
  /** The permission half's part in the staged faults (scenario-authz.ts): warm before a race's cut or a write stall, then a revoke beside it. */
  hooks: { warm?(k: number): Promise<void>; race?(k: number, via: number): Promise<void>; stall?(k: number): Promise<() => Promise<void>> } = {};
  private readonly t0 = Date.now();
  private serial = 0;
  private readonly resolving = new Map<string, Promise<void>>();
  /** Nodes healed since they were last seen caught up, with their command-connection reconnects before the heal. */
  private readonly reconnectsAtHeal = new Map<number, number>();

  constructor(readonly setup: ScenarioSetup) {
    this.model = new ScenarioModel(setup.timing, setup.nodes.map((n) => n.id));
  }

  get nodes(): NodeHandle[] {
    return this.setup.nodes;
  }

  /** ms since the scenario started: the model's clock, and the times in every message. */
  now(): number {
    return Date.now() - this.t0;
  }

  get startedAt(): number {
    return this.t0;
  }

  nextPassword(user: string): string {
    return `${user}-pw-${++this.serial}`;
  }

  note(line: string): void {
    this.history.push(`[${String(this.now()).padStart(6)}] ${line}`);
  }

  request(base: string, method: string, path: string, opts: { json?: unknown; token?: string } = {}): Promise<Reply> {
    return request(base, method, path, this.setup.requestTimeoutMs, opts);
  }

  async login(user: string, password: string, k: number): Promise<Reply> {
    await this.resolveIfDue(user);
    const sent = this.now();
    if (this.model.mustAccept(user, password, k, sent)) this.stats.mustAccept++;
    if (!this.model.acceptable(user, password, k, sent)) this.stats.mustRefuse++;
    const reply = await this.request(this.nodes[k]!.url, 'POST', '/v1/login', { json: { username: user, password } });
    const answered = this.now();
    // An answer after an unresolved failure's bound is judged by what Redis says was applied.
    await this.resolveIfDue(user);
    this.stats.logins++;
    this.stats.byStatus[reply.status] = (this.stats.byStatus[reply.status] ?? 0) + 1;
    const revoked = this.model.user(user).revokedAt.has(password);
    this.note(`  login ${user}/${password} @${this.nodes[k]!.id} -> ${reply.status}${reply.status === 200 ? ` cached=${String(reply.json?.cached)}` : ''}${revoked ? ' (revoked)' : ''} ${answered - sent}ms`);
    const violation = this.model.judgeLogin(user, password, k, { sent, answered }, reply);
    if (violation) throw new Violation(violation);
    if (reply.status === 200 && revoked) this.stats.staleAccepted++;
    if (reply.status === 503 && this.model.isCut(k)) this.stats.failClosed++;
    return reply;
  }

  /** An admin call, judged; returns the reply and when it returned. */
  async admin(what: string, k: number, method: string, path: string, json: unknown, local = false): Promise<{ reply: Reply; returnedAt: number }> {
    const t = this.now();
    const reply = await this.request(this.nodes[k]!.url, method, path, { json, token: this.setup.token });
    const returnedAt = this.now();
    const failed = Array.isArray(reply.json?.failures) && reply.json.failures.length > 0 ? ` failures=${JSON.stringify(reply.json.failures)}` : '';
    this.note(`  ${what} @${this.nodes[k]!.id} -> ${reply.status} seq=${String(reply.json?.seq)}${failed}${reply.status >= 300 ? ` ${JSON.stringify(reply.json)}` : ''} ${returnedAt - t}ms`);
    const violation = this.model.judgeAdmin(what, k, t, reply, local, t <= this.stallUntil);
    if (violation) throw new Violation(violation);
    return { reply, returnedAt };
  }

  /** A role change of a user; the model records it as done only if the call said so, else as maybe applied. */
  async changeUser(user: string, change: { password?: string; login?: boolean }, k: number): Promise<boolean> {
    const { reply, returnedAt } = await this.admin(`PUT role ${user} ${JSON.stringify(change)}`, k, 'PUT', `/v1/roles/${user}`, change);
    const ok = reply.status === 200;
    const acked = ok && Array.isArray(reply.json?.members) ? (reply.json.members as Array<{ node: string; result: string }>).filter((m) => m.result === 'applied').map((m) => m.node) : [];
    this.model.change(user, change, ok ? { ok: true, returnedAt, acked } : { ok: false, returnedAt });
    if (!ok) this.stats.maybeApplied++;
    if (change.password !== undefined) this.stats.passwordChanges++;
    return ok;
  }

  /** Reads from Redis which state a failed call left, once nothing of it can land any more. */
  resolveIfDue(user: string): Promise<void> {
    if (!this.model.needsResolution(user, this.now())) return Promise.resolve();
    let p = this.resolving.get(user);
    if (!p) {
      p = this.resolveNow(user).finally(() => this.resolving.delete(user));
      this.resolving.set(user, p);
    }
    return p;
  }

  private async resolveNow(user: string): Promise<void> {
    const stored = await redisRole(this.setup.redisPort, clusterNames(this.setup.cluster).role(user));
    let password: string | undefined;
    for (const p of this.model.user(user).hashes) if (stored.hash !== null && (await bcrypt.verify(p, stored.hash))) password = p;
    this.model.resolve(user, { password, canLogin: stored.canLogin === 'true' });
    this.stats.resolved++;
    this.note(`  resolved ${user} from Redis: password ${String(password)}, can_login ${String(stored.canLogin)}`);
  }

  /**
   * `via` itself, or with !anyNode the first node from it on that is settled (reaches Redis and has
   * caught up since its last heal), else the first that is not cut (one always is: at most 2 of 3).
   */
  route(via: number, anyNode: boolean): number {
    if (anyNode) return via;
    const t = this.now();
    const order = [0, 1, 2].map((i) => (via + i) % this.nodes.length);
    const k = order.find((i) => this.model.settled(i, t)) ?? order.find((i) => !this.model.isCut(i));
    if (k === undefined) throw new Error('every node is cut: the scenario keeps at most 2 of 3 cut');
    return k;
  }

  cut(k: number, mode: 'blackhole' | 'reset'): void {
    this.setup.proxies[k]!.cut(mode);
    // Recorded after the cut: the node's last confirmed sync is before this instant.
    this.model.cut(k, mode, this.now());
    this.stats.cuts++;
    this.note(`  cut ${this.nodes[k]!.id} (${mode})`);
  }

  /**
   * Heals the node's link. Its Redis connections are reset by the heal (a blackhole's were left
   * half-dead), so it is not caught up before it has reconnected: converge() waits for its
   * reconnect counter to move past the value read here, before the heal.
   */
  async heal(k: number): Promise<void> {
    const before = await this.reconnects(k);
    this.setup.proxies[k]!.heal();
    this.reconnectsAtHeal.set(k, before);
    this.model.heal(k, this.now());
    this.stats.heals++;
    this.note(`  heal ${this.nodes[k]!.id}`);
  }

  async step(cmd: Command, users: string[]): Promise<void> {
    for (const u of users) await this.resolveIfDue(u);
    switch (cmd.kind) {
      case 'login': {
        const user = users[cmd.user]!;
        const since = this.model.nodes[cmd.node]!.cutSince;
        const known = since !== undefined && this.now() > since + this.setup.timing.maxStalenessMs;
        await this.login(user, this.pickPassword(user, cmd.pick, cmd.idx), known && !cmd.stay ? this.route(cmd.node, false) : cmd.node);
        return;
      }
      case 'password':
        await this.changeUser(users[cmd.user]!, { password: this.nextPassword(users[cmd.user]!) }, this.route(cmd.via, cmd.anyNode));
        return;
      case 'setLogin':
        await this.changeUser(users[cmd.user]!, { login: cmd.value }, this.route(cmd.via, cmd.anyNode));
        return;
      case 'flushUser': {
        const user = users[cmd.user]!;
        const path = cmd.local ? `/v1/cache/users/${user}?local=true` : `/_plugins/_security/api/cache/user/${user}`;
        await this.admin(`flush ${user}${cmd.local ? ' (local)' : ''}`, cmd.local ? cmd.via : this.route(cmd.via, false), 'DELETE', path, undefined, cmd.local);
        return;
      }
      case 'flushAll': {
        const path = cmd.local ? '/v1/cache?local=true' : '/_plugins/_security/api/cache';
        await this.admin(`flush all${cmd.local ? ' (local)' : ''}`, cmd.local ? cmd.via : this.route(cmd.via, false), 'DELETE', path, undefined, cmd.local);
        return;
      }
      case 'fault': {
        const cut = this.model.cutNodes();
        if (this.model.isCut(cmd.node)) await this.heal(cmd.node);
        else if (cut.length < 2) this.cut(cmd.node, cmd.mode);
        else await this.heal(cut.sort((a, b) => this.model.nodes[a]!.cutSince! - this.model.nodes[b]!.cutSince!)[0]!);
        return;
      }
      case 'ttl': {
        const layer = cmd.persistent ? 'persistent' : 'transient';
        await this.admin(`settings ${layer} ${cmd.value.key}=${cmd.value.value}`, this.route(cmd.via, false), 'PUT', '/_cluster/settings', { [layer]: { [cmd.value.key]: cmd.value.value } });
        return;
      }
      case 'probe': {
        const cut = this.model.cutNodes();
        await probe(this, users[cmd.user]!, cut.length > 0 ? cut[cmd.node % cut.length]! : cmd.node);
        return;
      }
      case 'wait':
        this.note(`  wait ${cmd.ms} ms`);
        await pause(cmd.ms);
        return;
      case 'staleRace': {
        const user = users[cmd.user]!;
        const k = await stageCut(this, cmd.node, cmd.mode, user, cmd.via);
        // A permission revoked beside the password, its checks probed beside the login's.
        const race = this.hooks.race?.(k, cmd.via) ?? Promise.resolve();
        race.catch(() => undefined); // surfaces below
        await this.changeUser(user, { password: this.nextPassword(user) }, this.route(cmd.via, false));
        await Promise.all([probe(this, user, k), race]);
        return;
      }
      case 'writeStall':
        return writeStall(this, users[cmd.user]!, cmd.ms, cmd.via);
      case 'outside':
        return outside(this, cmd.value);
      case 'badNode':
        return badNode(this);
    }
  }

  pickPassword(user: string, pick: 'current' | 'old' | 'never', idx: number): string {
    const u = this.model.user(user);
    const revoked = this.model.revoked(user);
    if (pick === 'never') return `${user}-never-${idx}`;
    if (pick === 'old' && revoked.length > 0) return (idx < 25 ? revoked[0] : revoked[idx % revoked.length])!.password;
    const old = u.history.filter((p) => !u.hashes.includes(p));
    if (pick === 'old' && old.length > 0) return old[idx % old.length]!;
    return this.model.current(user) ?? u.hashes[idx % u.hashes.length]!;
  }

  /** Waits until every node reaches Redis, applied Redis's seq and is an UP member; they are settled from then on. */
  async converge(): Promise<number> {
    const names = clusterNames(this.setup.cluster);
    let last = '';
    try {
      const seq = await waitFor(
        async () => {
          const seq = Number((await redisGet(this.setup.redisPort, names.seq)) ?? 0);
          const health = await Promise.all(this.nodes.map((n) => this.request(n.url, 'GET', '/health')));
          const members = await this.request(this.nodes[0]!.url, 'GET', '/v1/cluster/nodes', { token: this.setup.token });
          const upIds = Array.isArray(members.json) ? (members.json as Array<{ node?: string; id?: string; status: string }>).filter((m) => m.status === 'UP').map((m) => m.node ?? m.id) : [];
          const up = this.nodes.filter((n) => upIds.includes(n.id)).length;
          const reconnected = await Promise.all([...this.reconnectsAtHeal].map(async ([k, before]) => (await this.reconnects(k)) > before));
          last = `reconnected since heal: ${JSON.stringify(reconnected)}; redis seq ${seq}; nodes ${health.map((h, i) => `${this.nodes[i]!.id}: ${h.status} ${String(h.json?.status)} applied=${String(h.json?.applied_seq)}`).join(', ')}; UP members ${JSON.stringify(upIds)}`;
          const caughtUp = health.every((h) => h.status === 200 && h.json?.status === 'UP' && h.json?.applied_seq === seq) && up === this.nodes.length;
          return caughtUp && reconnected.every(Boolean) ? seq : undefined;
        },
        { timeoutMs: this.setup.convergeTimeoutMs, intervalMs: 100, message: 'nodes did not converge on Redis' },
      );
      for (let k = 0; k < this.nodes.length; k++) this.model.caughtUp(k, this.now());
      this.reconnectsAtHeal.clear();
      return seq;
    } catch (err) {
      throw new Violation(`${(err as Error).message}; last reading: ${last}`);
    }
  }

  /** authcache_redis_reconnects_total of the node's command connection (-1 if /metrics did not answer). */
  private async reconnects(k: number): Promise<number> {
    try {
      const res = await fetch(`${this.nodes[k]!.url}/metrics`, { signal: AbortSignal.timeout(this.setup.requestTimeoutMs) });
      const m = /^authcache_redis_reconnects_total\{connection="commands"\} (\d+)/m.exec(await res.text());
      return m ? Number(m[1]) : 0;
    } catch {
      return -1;
    }
  }

  /** Stops what the scenario started itself (the misconfigured node). */
  async close(): Promise<void> {
    await this.bad?.stop();
    this.bad = undefined;
  }
}
