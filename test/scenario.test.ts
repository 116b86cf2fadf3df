/**
 * Randomized fault scenario (issue 4, item 8): several hundred seeded steps of logins, password and
 * login changes, flushes, TTL changes, and cuts and heals of each node's link to Redis, with every
 * answer judged against a model of what the cluster was told (test/support/scenario.ts).
 *
 * The promise under test (DESIGN §4): no node accepts a revoked credential later than
 * max_staleness after the revoking call returned, and every node converges once it reaches Redis.
 *
 * Reproduce a run: SCENARIO_SEED=<seed> SCENARIO_STEPS=<n> npx jest test/scenario.test.ts
 * (the command sequence is a pure function of seed and step count; the timings of a run are not).
 * A failure names the seed and step and writes the step history and node logs to a temp dir;
 * SCENARIO_HISTORY=<file> writes the history of a passing run too.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterNames } from '@authcache/protocol';
import { startNode, startRedis, startTcpProxy, waitFor, type NodeHandle, type RedisHandle, type TcpProxy } from '@authcache/testkit';
import { STACK_TRACE } from './support';
import { redisGet, scenarioCommands, ScenarioModel, type Command, type Reply, type Timing, type UserSpec } from './support/scenario';

// Chosen among seeds 1-7 and 424242 (all pass): this one reaches every command kind, both cut modes,
// a few failed (maybe applied) admin calls and ~50 stale-but-allowed answers in under a minute.
const DEFAULT_SEED = 7;
const DEFAULT_STEPS = 300;
const SEED = intFromEnv('SCENARIO_SEED', DEFAULT_SEED);
const STEPS = intFromEnv('SCENARIO_STEPS', DEFAULT_STEPS);

const HEARTBEAT_MS = 200;
const MAX_STALENESS_MS = 1500;
const ACK_TIMEOUT_MS = 600;
/** Scheduling slack on 2 busy cores, added to every bound the node promises. */
const MARGIN_MS = 300;
/**
 * The longest pause between reconnect attempts of the node's Redis client (retryStrategy in
 * packages/node/src/redis.ts). Seen in runs: the last 503 after a heal came ~700 ms after it.
 */
const RECONNECT_MAX_MS = 1000;

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
  marginMs: MARGIN_MS,
  settleMs: RECONNECT_MAX_MS + 2 * HEARTBEAT_MS + MARGIN_MS,
  ackGraceMs: 2 * HEARTBEAT_MS + MARGIN_MS,
};

const NODE_ENV = {
  AUTHCACHE_HEARTBEAT_MS: String(HEARTBEAT_MS),
  AUTHCACHE_MAX_STALENESS_MS: String(MAX_STALENESS_MS),
  AUTHCACHE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
  AUTHCACHE_BCRYPT_COST: '4',
  // Per-update debug lines make a failure report readable against the step history.
  LOG_LEVEL: 'debug',
};

/** Every SWEEP_EVERY steps every user's current and last revoked password is tried on every node. */
const SWEEP_EVERY = 25;
const REQUEST_TIMEOUT_MS = 5000;
const SETUP_TIMEOUT_MS = 90_000;
const CONVERGE_TIMEOUT_MS = 20_000;

/** Granted roles first; the users hold them (transitively) and must see them in every 200. */
const ROLES: Array<{ name: string; superuser?: boolean }> = [{ name: 'reader' }, { name: 'writer' }, { name: 'ops' }, { name: 'admins', superuser: true }];
const USERS: UserSpec[] = [
  { name: 'ana', grants: ['reader'], superuser: false, expect: { roles: ['reader'], superuser: false } },
  { name: 'ben', grants: ['writer', 'reader'], superuser: false, expect: { roles: ['reader', 'writer'], superuser: false } },
  { name: 'cy', grants: [], superuser: true, expect: { roles: [], superuser: true } },
  { name: 'dee', grants: ['admins', 'ops'], superuser: false, expect: { roles: ['admins', 'ops'], superuser: true } },
];

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** One HTTP request with a deadline; no answer is status 0, which the judge never accepts. */
async function request(base: string, method: string, path: string, opts: { json?: unknown; token?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(base + path, {
      method,
      headers,
      body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (STACK_TRACE.test(text)) return { status: -1, json: { leaked: text.slice(0, 300) } };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text.slice(0, 300);
    }
    return { status: res.status, json };
  } catch (err) {
    return { status: 0, json: { error: `no answer: ${(err as Error).message}` } };
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Violation extends Error {}

interface Stats {
  steps: number;
  logins: number;
  byStatus: Record<string, number>;
  /** 200s for a revoked password, inside its staleness window */
  staleAccepted: number;
  /** logins the judge required to be 200 (current password, settled node that has the change) */
  mustAccept: number;
  /** logins a 200 would fail: a password never set, or revoked beyond its bound or by a call this node acknowledged */
  mustRefuse: number;
  /** 503s from cut nodes (the fail-closed path) */
  failClosed: number;
  /** admin calls that failed and left a user's state ambiguous */
  maybeApplied: number;
  cuts: number;
  heals: number;
  passwordChanges: number;
}

/** Runs the commands against the real cluster, judging every answer by the model. */
class Scenario {
  readonly model: ScenarioModel;
  readonly history: string[] = [];
  readonly stats: Stats = { steps: 0, logins: 0, byStatus: {}, staleAccepted: 0, mustAccept: 0, mustRefuse: 0, failClosed: 0, maybeApplied: 0, cuts: 0, heals: 0, passwordChanges: 0 };
  private readonly t0 = Date.now();
  private serial = 0;

  constructor(
    private readonly nodes: NodeHandle[],
    private readonly proxies: TcpProxy[],
    private readonly token: string,
    private readonly redisPort: number,
    private readonly cluster: string,
  ) {
    this.model = new ScenarioModel(TIMING, nodes.map((n) => n.id));
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

  async login(user: string, password: string, k: number): Promise<Reply> {
    const t = this.now();
    if (this.model.mustAccept(user, password, k, t)) this.stats.mustAccept++;
    if (!this.model.acceptable(user, password, k, t)) this.stats.mustRefuse++;
    const reply = await request(this.nodes[k]!.url, 'POST', '/v1/login', { json: { username: user, password } });
    const took = this.now() - t;
    this.stats.logins++;
    this.stats.byStatus[reply.status] = (this.stats.byStatus[reply.status] ?? 0) + 1;
    const revoked = this.model.user(user).revokedAt.has(password);
    this.note(`  login ${user}/${password} @${this.nodes[k]!.id} -> ${reply.status}${reply.status === 200 ? ` cached=${String(reply.json?.cached)}` : ''}${revoked ? ' (revoked)' : ''} ${took}ms`);
    const violation = this.model.judgeLogin(user, password, k, t, reply);
    if (violation) throw new Violation(violation);
    if (reply.status === 200 && revoked) this.stats.staleAccepted++;
    if (reply.status === 503 && this.model.isCut(k)) this.stats.failClosed++;
    return reply;
  }

  /** An admin call, judged; returns the reply and when it returned. */
  async admin(what: string, k: number, method: string, path: string, json: unknown, local = false): Promise<{ reply: Reply; returnedAt: number }> {
    const t = this.now();
    const reply = await request(this.nodes[k]!.url, method, path, { json, token: this.token });
    const returnedAt = this.now();
    const failed = Array.isArray(reply.json?.failures) && reply.json.failures.length > 0 ? ` failures=${JSON.stringify(reply.json.failures)}` : '';
    this.note(`  ${what} @${this.nodes[k]!.id} -> ${reply.status} seq=${String(reply.json?.seq)}${failed} ${returnedAt - t}ms`);
    const violation = this.model.judgeAdmin(what, k, t, reply, local);
    if (violation) throw new Violation(violation);
    return { reply, returnedAt };
  }

  /** A role change of a user; the model records it as done only if the call said so. */
  async changeUser(user: string, change: { password?: string; login?: boolean }, k: number): Promise<boolean> {
    const { reply, returnedAt } = await this.admin(`PUT role ${user} ${JSON.stringify(change)}`, k, 'PUT', `/v1/roles/${user}`, change);
    const ok = reply.status === 200;
    const acked = ok && Array.isArray(reply.json?.members) ? (reply.json.members as Array<{ node: string; result: string }>).filter((m) => m.result === 'applied').map((m) => m.node) : [];
    this.model.change(user, change, ok ? { ok: true, returnedAt, acked } : { ok: false });
    if (!ok) this.stats.maybeApplied++;
    if (change.password !== undefined) this.stats.passwordChanges++;
    return ok;
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
    this.proxies[k]!.cut(mode);
    // Recorded after the cut: the node's last confirmed sync is before this instant.
    this.model.cut(k, mode, this.now());
    this.stats.cuts++;
    this.note(`  cut ${this.nodes[k]!.id} (${mode})`);
  }

  heal(k: number): void {
    this.proxies[k]!.heal();
    this.model.heal(k, this.now());
    this.stats.heals++;
    this.note(`  heal ${this.nodes[k]!.id}`);
  }

  async step(cmd: Command, users: string[]): Promise<void> {
    switch (cmd.kind) {
      case 'login': {
        const user = users[cmd.user]!;
        const since = this.model.nodes[cmd.node]!.cutSince;
        const known = since !== undefined && this.now() > since + MAX_STALENESS_MS + MARGIN_MS;
        await this.login(user, this.pickPassword(user, cmd.pick, cmd.idx), known && !cmd.stay ? this.route(cmd.node, false) : cmd.node);
        return;
      }
      case 'password': {
        const user = users[cmd.user]!;
        await this.changeUser(user, { password: this.nextPassword(user) }, this.route(cmd.via, cmd.anyNode));
        return;
      }
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
        if (this.model.isCut(cmd.node)) this.heal(cmd.node);
        else if (cut.length < 2) this.cut(cmd.node, cmd.mode);
        else this.heal(cut.sort((a, b) => this.model.nodes[a]!.cutSince! - this.model.nodes[b]!.cutSince!)[0]!);
        return;
      }
      case 'ttl': {
        const layer = cmd.persistent ? 'persistent' : 'transient';
        await this.admin(`settings ${layer} ${cmd.value.key}=${cmd.value.value}`, this.route(cmd.via, false), 'PUT', '/_cluster/settings', {
          [layer]: { [cmd.value.key]: cmd.value.value },
        });
        return;
      }
      case 'probe': {
        const cut = this.model.cutNodes();
        await this.probe(users[cmd.user]!, cut.length > 0 ? cut[cmd.node % cut.length]! : cmd.node);
        return;
      }
      case 'wait':
        this.note(`  wait ${cmd.ms} ms`);
        await pause(cmd.ms);
        return;
      case 'staleRace': {
        const user = users[cmd.user]!;
        const k = await this.stageCut(cmd.node, cmd.mode, user, cmd.via);
        await this.changeUser(user, { password: this.nextPassword(user) }, this.route(cmd.via, false));
        await this.probe(user, k);
        return;
      }
    }
  }

  /**
   * Cuts a node that holds `user` in its cache (preferably `preferred`) while another settled node
   * stays to take the revoking call; returns it. Without 2 settled nodes, heals all and waits for
   * them to converge first (itself a check: nodes must converge once they reach Redis). A user left
   * ambiguous by a failed call is settled first, so that there is a current password to revoke.
   */
  private async stageCut(preferred: number, mode: 'blackhole' | 'reset', user: string, via: number): Promise<number> {
    const settledNodes = () => [0, 1, 2].map((i) => (preferred + i) % this.nodes.length).filter((i) => this.model.settled(i, this.now()));
    if (settledNodes().length < 2) {
      for (const c of this.model.cutNodes()) this.heal(c);
      const seq = await this.converge();
      this.note(`  converged at seq ${seq}`);
    }
    const k = settledNodes()[0]!;
    if (this.model.current(user) === undefined) await this.changeUser(user, { password: this.nextPassword(user), login: true }, this.route(via === k ? k + 1 : via, false));
    const current = this.model.current(user);
    // Twice: the second login stores the password's verifier, the hottest entry to go stale.
    if (current !== undefined) for (let i = 0; i < 2; i++) await this.login(user, current, k);
    this.cut(k, mode);
    return k;
  }

  /**
   * Logs in with the user's most recently revoked password, preferably on a cut node, again and
   * again until its staleness bound has passed: the answers must turn from (maybe) 200 to 401/503
   * in time. The pauses only spread the probes over the window; nothing waits on them.
   */
  private async probe(user: string, k: number): Promise<void> {
    const target = this.model.revoked(user)[0];
    const password = target?.password ?? this.model.current(user) ?? this.model.user(user).hashes[0]!;
    const until = (target?.at ?? 0) + MAX_STALENESS_MS + MARGIN_MS + 300;
    for (let i = 0; i < 30 && (i === 0 || this.now() < until); i++) {
      await this.login(user, password, k);
      await pause(100);
    }
  }

  private pickPassword(user: string, pick: 'current' | 'old' | 'never', idx: number): string {
    const u = this.model.user(user);
    const revoked = this.model.revoked(user);
    if (pick === 'never') return `${user}-never-${idx}`;
    if (pick === 'old' && revoked.length > 0) return (idx < 25 ? revoked[0] : revoked[idx % revoked.length])!.password;
    const old = u.history.filter((p) => !u.hashes.includes(p));
    if (pick === 'old' && old.length > 0) return old[idx % old.length]!;
    return this.model.current(user) ?? u.hashes[idx % u.hashes.length]!;
  }

  /** Every user's possible passwords and last revoked one, on every node at once. */
  async sweep(users: string[]): Promise<void> {
    const probes: Array<Promise<Reply>> = [];
    for (let k = 0; k < this.nodes.length; k++) {
      for (const user of users) {
        const u = this.model.user(user);
        const passwords = new Set([...u.hashes, ...this.model.revoked(user).slice(0, 1).map((r) => r.password)]);
        for (const p of passwords) probes.push(this.login(user, p, k));
      }
    }
    await Promise.all(probes);
  }

  /** Waits until every node reaches Redis, applied Redis's seq and is an UP member; they are settled from then on. */
  async converge(): Promise<number> {
    const names = clusterNames(this.cluster);
    let last = '';
    try {
      const seq = await waitFor(
        async () => {
          const seq = Number((await redisGet(this.redisPort, names.seq)) ?? 0);
          const health = await Promise.all(this.nodes.map((n) => request(n.url, 'GET', '/health')));
          const members = await request(this.nodes[0]!.url, 'GET', '/v1/cluster/nodes', { token: this.token });
          const up = Array.isArray(members.json) ? (members.json as Array<{ status: string }>).filter((m) => m.status === 'UP').length : 0;
          last = `redis seq ${seq}; nodes ${health.map((h, i) => `${this.nodes[i]!.id}: ${h.status} ${String(h.json?.status)} applied=${String(h.json?.applied_seq)}`).join(', ')}; UP members ${up}`;
          return health.every((h) => h.status === 200 && h.json?.status === 'UP' && h.json?.applied_seq === seq) && up === this.nodes.length ? seq : undefined;
        },
        { timeoutMs: CONVERGE_TIMEOUT_MS, intervalMs: 100, message: 'nodes did not converge on Redis' },
      );
      for (let k = 0; k < this.nodes.length; k++) this.model.caughtUp(k, this.now());
      return seq;
    } catch (err) {
      throw new Violation(`${(err as Error).message}; last reading: ${last}`);
    }
  }
}

describe('the model the scenario judges by', () => {
  const timing: Timing = { maxStalenessMs: 1000, marginMs: 100, settleMs: 500, ackGraceMs: 300 };
  const spec: UserSpec = { name: 'u', grants: [], superuser: false, expect: { roles: [], superuser: false } };
  const ok = (json: object = {}): Reply => ({ status: 200, json: { username: 'u', roles: [], superuser: false, node: 'a', ...json } });
  const fresh = () => {
    const m = new ScenarioModel(timing, ['a', 'b']);
    m.addUser(spec, 'p1', 0);
    return m;
  };

  it('allows a revoked password on a node that did not ack only up to max_staleness + margin after the call returned', () => {
    const m = fresh();
    m.change('u', { password: 'p2' }, { ok: true, returnedAt: 1000, acked: ['b'] });
    expect(m.judgeLogin('u', 'p1', 0, 2100, ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, 2101, ok())).toMatch(/revoked at 1000, 1101 ms after/);
    // b acknowledged the change: it must refuse the old password at once.
    expect(m.judgeLogin('u', 'p1', 1, 1001, ok({ node: 'b' }))).toMatch(/acknowledged/);
    expect(m.judgeLogin('u', 'p2', 1, 1001, ok({ node: 'b' }))).toBeUndefined();
  });

  it('treats a failed change as maybe applied: both passwords pass until a later change succeeds', () => {
    const m = fresh();
    m.change('u', { password: 'p2' }, { ok: false });
    expect(m.current('u')).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, 50_000, ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p2', 0, 50_000, ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, 50_000, { status: 401, json: {} })).toBeUndefined();
    m.change('u', { password: 'p3' }, { ok: true, returnedAt: 60_000, acked: [] });
    expect(m.judgeLogin('u', 'p2', 0, 61_200, ok())).toMatch(/revoked at 60000/);
    expect(m.judgeLogin('u', 'p1', 0, 61_200, ok())).toMatch(/revoked at 60000/);
  });

  it('login false revokes every password; login true brings the current one back', () => {
    const m = fresh();
    m.change('u', { login: false }, { ok: true, returnedAt: 100, acked: ['a', 'b'] });
    expect(m.judgeLogin('u', 'p1', 0, 150, ok())).toMatch(/acknowledged/);
    m.change('u', { login: true }, { ok: true, returnedAt: 200, acked: ['a', 'b'] });
    expect(m.judgeLogin('u', 'p1', 0, 250, ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, 250, { status: 401, json: {} })).toMatch(/401 for the current password/);
  });

  it('demands 503 from a node cut longer than max_staleness, and allows 503 only while cut or settling', () => {
    const m = fresh();
    m.cut(0, 'blackhole', 10_000);
    expect(m.judgeLogin('u', 'p1', 0, 11_000, ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, 11_101, ok())).toMatch(/only 503 is right/);
    expect(m.judgeLogin('u', 'p1', 0, 11_101, { status: 503, json: { error: 'out of sync' } })).toBeUndefined();
    m.heal(0, 12_000);
    expect(m.judgeLogin('u', 'p1', 0, 12_499, { status: 503, json: { error: 'out of sync' } })).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, 12_500, { status: 503, json: { error: 'out of sync' } })).toMatch(/from a node that reaches Redis/);
    expect(m.judgeLogin('u', 'p1', 1, 12_000, ok({ roles: ['x'], node: 'b' }))).toMatch(/expected/);
  });

  it('derives the same commands from the same seed', () => {
    expect(scenarioCommands(7, 50, 4)).toEqual(scenarioCommands(7, 50, 4));
    expect(scenarioCommands(7, 50, 4)).not.toEqual(scenarioCommands(8, 50, 4));
  });
});

describe(`randomized faults (SCENARIO_SEED=${SEED} SCENARIO_STEPS=${STEPS})`, () => {
  let redis: RedisHandle | undefined;
  const proxies: TcpProxy[] = [];
  let nodes: NodeHandle[] = [];
  const cluster = `sc${randomBytes(4).toString('hex')}`;
  const token = randomBytes(18).toString('base64url');
  const secret = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    redis = await startRedis({ preferOwn: true });
    for (let i = 0; i < 3; i++) proxies.push(await startTcpProxy({ targetPort: redis.port }));
    const started = await Promise.allSettled(
      proxies.map((p, i) => startNode({ redisUrl: p.url, cluster, secret, token, id: `sc-n${i}`, env: NODE_ENV })),
    );
    nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await redis?.stop();
  }, SETUP_TIMEOUT_MS);

  it('keeps the staleness promise at every step and converges at the end', async () => {
    const sc = new Scenario(nodes, proxies, token, redis!.port, cluster);
    const users = USERS.map((u) => u.name);
    const commands = scenarioCommands(SEED, STEPS, users.length);
    let at = 'setup';
    try {
      for (const r of ROLES) await sc.admin(`create role ${r.name}`, 0, 'PUT', `/v1/roles/${r.name}`, { login: false, superuser: r.superuser ?? false });
      for (const u of USERS) {
        const password = sc.nextPassword(u.name);
        const { reply, returnedAt } = await sc.admin(`create user ${u.name}`, 0, 'PUT', `/v1/roles/${u.name}`, { password, login: true, superuser: u.superuser, roles: u.grants });
        expect(reply.status).toBe(201);
        sc.model.addUser(u, password, returnedAt);
      }

      for (const [i, cmd] of commands.entries()) {
        at = `step ${i + 1}/${STEPS} ${JSON.stringify(cmd)}`;
        sc.note(`step ${i + 1} ${JSON.stringify(cmd)}`);
        await sc.step(cmd, users);
        sc.stats.steps++;
        if ((i + 1) % SWEEP_EVERY === 0) {
          at = `sweep after step ${i + 1}`;
          sc.note(at);
          await sc.sweep(users);
        }
      }

      at = 'final: heal all and converge';
      sc.note(at);
      for (const k of sc.model.cutNodes()) sc.heal(k);
      const seq = await sc.converge();
      sc.note(`  converged at seq ${seq}`);

      at = 'final: settle users left ambiguous by failed calls';
      sc.note(at);
      for (const user of users) {
        if (sc.model.current(user) !== undefined) continue;
        const ok = await sc.changeUser(user, { password: sc.nextPassword(user), login: true }, 0);
        expect({ user, ok }).toEqual({ user, ok: true });
      }
      const finalSeq = await sc.converge();
      sc.note(`  converged at seq ${finalSeq}`);

      at = 'final: exactly the current password, on every node';
      sc.note(at);
      const checks: Array<Promise<void>> = [];
      for (let k = 0; k < nodes.length; k++) {
        for (const user of users) {
          const current = sc.model.current(user)!;
          for (const p of [...sc.model.user(user).history, `${user}-never`]) {
            checks.push(
              sc.login(user, p, k).then((r) => {
                // Converged: every revocation is applied everywhere, whatever its staleness window.
                const want = p === current ? 200 : 401;
                if (r.status !== want) throw new Violation(`after convergence ${user}/${p} on ${nodes[k]!.id}: ${r.status}, expected ${want}`);
              }),
            );
          }
        }
      }
      await Promise.all(checks);
    } catch (err) {
      throw new Error(report(sc, nodes, at, err));
    }
    if (process.env.SCENARIO_HISTORY) writeFileSync(process.env.SCENARIO_HISTORY, sc.history.join('\n') + '\n');
    // eslint-disable-next-line no-console
    console.log(`scenario seed=${SEED} steps=${STEPS} in ${sc.now()} ms: ${JSON.stringify(sc.stats)}`);
    expect(sc.stats.steps).toBe(STEPS);
  }, 240_000);
});

/** The failure message: how to reproduce, what broke, what led to it; full history and node logs on disk. */
function report(sc: Scenario, nodes: NodeHandle[], at: string, err: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), `authcache-scenario-${SEED}-`));
  writeFileSync(join(dir, 'history.log'), sc.history.join('\n') + '\n');
  for (const n of nodes) writeFileSync(join(dir, `${n.id}.log`), n.logs());
  const tails = nodes.map((n) => `--- ${n.id} (last lines) ---\n${n.logs().trimEnd().split('\n').slice(-12).join('\n')}`).join('\n');
  return [
    `scenario failed: SCENARIO_SEED=${SEED} SCENARIO_STEPS=${STEPS} at ${at}`,
    `${err instanceof Violation ? 'VIOLATION' : 'ERROR'}: ${err instanceof Error ? err.message : String(err)}`,
    `clock: scenario ms since ${sc.startedAt} (${new Date(sc.startedAt).toISOString()}); node log "time" fields are epoch ms`,
    `stats: ${JSON.stringify(sc.stats)}`,
    `full history and node logs: ${dir}`,
    '--- last steps ---',
    sc.history.slice(-40).join('\n'),
    tails,
  ].join('\n');
}
