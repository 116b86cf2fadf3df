/**
 * What the fault suites share: a Redis and nodes of their own (optionally each node behind its own
 * TCP proxy to Redis, so that one node can be cut off), short timings, probes of /health, /metrics and
 * Redis, frames built by hand for the bus, and the check of the staleness promise against the clock.
 */

import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { AuthcacheClient, type NodeInfo, type Propagation } from '@authcache/client';
import { clusterNames, createCodec, withSeq, type ClusterNames, type UnsignedUpdate } from '@authcache/protocol';
import { startNode, startRedis, startTcpProxy, waitFor, withConnection, type NodeHandle, type RedisHandle, type TcpProxy } from '@authcache/testkit';
// ioredis is a dependency of the testkit, not of the workspace root, so it is reached through the testkit.
import { Redis, type ChainableCommander } from 'ioredis';

export { Redis };

/** Short timings so that a fault plays out in seconds (defaults: 1000 / 5000 / 2000). */
export const HEARTBEAT_MS = 200;
export const MAX_STALENESS_MS = 1500;
export const ACK_TIMEOUT_MS = 800;
/** A member is DOWN once its heartbeat is older than this (the node's rule: 3 heartbeats + 500 ms). */
export const DOWN_AFTER_MS = 3 * HEARTBEAT_MS + 500;
/**
 * Scheduling slack on top of max_staleness: timers firing late and the test's own event loop on two
 * busy cores. Anything accepted later than R + MAX_STALENESS_MS + MARGIN_MS breaks the promise.
 */
export const MARGIN_MS = 250;

export const FAULT_ENV: Record<string, string> = {
  AUTHCACHE_HEARTBEAT_MS: String(HEARTBEAT_MS),
  AUTHCACHE_MAX_STALENESS_MS: String(MAX_STALENESS_MS),
  AUTHCACHE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
  // These suites log in with revoked passwords hundreds of times on purpose.
  AUTHCACHE_LOGIN_MAX_FAILURES: '0',
  AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
};

/** Starting Redis and 3 node processes on 2 busy cores takes longer than jest's default timeout. */
export const SETUP_TIMEOUT_MS = 90_000;

export interface FaultCluster {
  redis: RedisHandle;
  nodes: NodeHandle[];
  /** proxies[i] sits between nodes[i] and Redis (undefined when the suite is not proxied) */
  proxies: Array<TcpProxy | undefined>;
  /** one client per node, pinned to it, so a call proves what THAT node does */
  clients: AuthcacheClient[];
  cluster: string;
  secret: string;
  token: string;
  names: ClusterNames;
}

export interface FaultClusterOptions {
  size?: number;
  /** put every node behind its own TCP proxy to Redis */
  proxied?: boolean;
  env?: Record<string, string>;
}

/**
 * Registers beforeAll/afterAll for a Redis of the suite's own (it gets killed and restarted) and
 * `size` nodes named n0, n1, ...; the returned object is filled in by beforeAll.
 */
export function useFaultCluster(opts: FaultClusterOptions = {}): FaultCluster {
  const fc = { proxies: [], nodes: [], clients: [] } as unknown as FaultCluster;
  beforeAll(async () => {
    fc.redis = await startRedis({ preferOwn: true });
    fc.cluster = `f${randomBytes(5).toString('hex')}`;
    fc.secret = randomBytes(24).toString('base64url');
    fc.token = randomBytes(18).toString('base64url');
    fc.names = clusterNames(fc.cluster);
    const size = opts.size ?? 3;
    for (let i = 0; i < size; i++) fc.proxies.push(opts.proxied ? await startTcpProxy({ targetPort: fc.redis.port }) : undefined);
    const started = await Promise.allSettled(
      fc.proxies.map((proxy, i) =>
        startNode({
          redisUrl: proxy?.url ?? fc.redis.url,
          cluster: fc.cluster,
          secret: fc.secret,
          token: fc.token,
          id: `n${i}`,
          env: { ...FAULT_ENV, ...opts.env },
        }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') fc.nodes.push(r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    fc.clients.push(...fc.nodes.map((n) => new AuthcacheClient({ nodes: [n.url], token: fc.token })));
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    // Healed first, so that every node can leave the membership cleanly instead of timing out.
    for (const p of fc.proxies) p?.heal();
    try {
      await Promise.all(fc.nodes.map((n) => n.stop()));
    } finally {
      await Promise.all(fc.proxies.map((p) => p?.close()));
      await fc.redis?.stop();
    }
  }, SETUP_TIMEOUT_MS);
  return fc;
}

// ---------------------------------------------------------------------------------------------
// Probes

export interface LoginSample {
  node: string;
  username: string;
  password: string;
  /** HTTP status; 0 when the node did not answer (dead, or the request timed out) */
  status: number;
  cached?: boolean;
  /** body of an error answer, or the socket error */
  error?: string;
  /** Date.now() just before the request left: the node decided no earlier than this */
  sentAt: number;
  doneAt: number;
}

/** One raw login that never throws: the fault suites want to see 401, 503 and dead nodes alike. */
export async function tryLogin(node: NodeHandle, username: string, password: string, timeoutMs = 3000): Promise<LoginSample> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${node.url}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const doneAt = Date.now();
    let body: { cached?: unknown; error?: unknown } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    const sample: LoginSample = { node: node.id, username, password, status: res.status, sentAt, doneAt };
    if (res.status === 200) sample.cached = body?.cached === true;
    else sample.error = typeof body?.error === 'string' ? body.error : text.slice(0, 200);
    return sample;
  } catch (err) {
    return { node: node.id, username, password, status: 0, error: (err as Error).message, sentAt, doneAt: Date.now() };
  }
}

export interface HealthReply {
  httpStatus: number;
  status: string;
  redis: string;
  applied_seq: number;
  sync_age_ms: number | null;
  max_staleness_ms: number;
  settings: Record<'credentials' | 'roles', { ttl_ms: number }>;
}

/** GET /health, or undefined when the node does not answer. */
export async function readHealth(node: NodeHandle): Promise<HealthReply | undefined> {
  try {
    const res = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as Omit<HealthReply, 'httpStatus'>;
    return { ...body, httpStatus: res.status };
  } catch {
    return undefined;
  }
}

/** Polls GET /health until `ok` holds; resolves to that answer. */
export async function waitForHealth(node: NodeHandle, ok: (h: HealthReply) => boolean, timeoutMs = 10_000): Promise<HealthReply> {
  let last: HealthReply | undefined;
  try {
    return await waitFor(
      async () => {
        last = await readHealth(node);
        return last && ok(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 50, message: `GET ${node.id}/health never showed the expected state` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last answer: ${JSON.stringify(last)}`);
  }
}

/** Sum of the samples of `name` whose labels include `labels` (all of its samples without labels). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function readMetrics(node: NodeHandle): Promise<string> {
  const res = await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(2000) });
  if (res.status !== 200) throw new Error(`GET ${node.url}/metrics answered ${res.status}`);
  return res.text();
}

export async function metric(node: NodeHandle, name: string, labels?: Record<string, string>): Promise<number> {
  return metricValue(await readMetrics(node), name, labels);
}

/** The same metric on every node, in node order. */
export function metricOnAll(nodes: NodeHandle[], name: string, labels?: Record<string, string>): Promise<number[]> {
  return Promise.all(nodes.map((n) => metric(n, name, labels)));
}

/** A short-lived connection that fails fast: the Redis under test may be dead or restarting. */
export function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  return withConnection(url, fn, 1000);
}

/** The cluster's seq as Redis holds it (a missing key is 0, as the nodes read it). */
export function redisSeq(fc: FaultCluster): Promise<number> {
  return withRedis(fc.redis.url, async (r) => Number((await r.get(fc.names.seq)) ?? 0));
}

/**
 * Polls until every node answers /health 200 (UP) with the same applied_seq as Redis's `${cluster}:seq`;
 * resolves to that seq.
 */
export async function awaitConvergence(fc: FaultCluster, timeoutMs = 10_000, nodes: NodeHandle[] = fc.nodes): Promise<number> {
  let last = '';
  try {
    const converged = await waitFor(
      async () => {
        const [seq, healths] = await Promise.all([redisSeq(fc), Promise.all(nodes.map(readHealth))]);
        last = `redis seq ${seq}; ${healths.map((h, i) => `${nodes[i]!.id}: ${h ? `${h.httpStatus} ${h.status} seq=${h.applied_seq}` : 'no answer'}`).join(', ')}`;
        // Boxed: seq 0 (an empty Redis) is a valid answer, and waitFor takes a falsy value for "not yet".
        return healths.every((h) => h?.httpStatus === 200 && h.status === 'UP' && h.applied_seq === seq) ? { seq } : undefined;
      },
      { timeoutMs, intervalMs: 50, message: 'nodes did not converge to the seq in Redis, UP' },
    );
    return converged.seq;
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${last}`);
  }
}

/** Polls GET /v1/cluster/nodes on `from` until each of `ids` has `status`. */
export async function awaitMembers(fc: FaultCluster, from: number, ids: string[], status: 'UP' | 'DOWN', timeoutMs = 10_000): Promise<NodeInfo[]> {
  return waitFor(
    async () => {
      const list = await fc.clients[from]!.nodes();
      return ids.every((id) => list.find((m) => m.id === id)?.status === status) ? list : undefined;
    },
    { timeoutMs, intervalMs: 50, message: `${fc.nodes[from]!.id} never listed ${ids.join(', ')} ${status}` },
  );
}

/** Every node UP in the membership (as node 0 sees it), so an admin call waits for all of them. */
export function awaitAllMembersUp(fc: FaultCluster, timeoutMs = 10_000): Promise<NodeInfo[]> {
  return awaitMembers(fc, 0, fc.nodes.map((n) => n.id), 'UP', timeoutMs);
}

/** Loads the user into every node's cache; afterwards the next login on each is cached:true. */
export async function warmAll(nodes: NodeHandle[], username: string, password: string): Promise<void> {
  const first = await Promise.all(nodes.map((n) => tryLogin(n, username, password)));
  expect(first.map((s) => s.status)).toEqual(nodes.map(() => 200));
  const second = await Promise.all(nodes.map((n) => tryLogin(n, username, password)));
  expect(second.map((s) => [s.status, s.cached])).toEqual(nodes.map(() => [200, true]));
}

/** An admin answer in which every node but `failed` applied the update and `failed` timed out. */
export function expectTimedOut(p: Propagation, all: NodeHandle[], failed: NodeHandle): void {
  expect(p.nodes).toEqual({ total: all.length, successful: all.length - 1, failed: 1 });
  expect(p.failures).toEqual([{ node: failed.id, reason: 'timeout' }]);
  expect(p.members).toEqual(
    all.map((n) => ({ node: n.id, result: n === failed ? 'timeout' : 'applied' })).sort((a, b) => a.node.localeCompare(b.node)),
  );
}

// ---------------------------------------------------------------------------------------------
// The promise: no node accepts a revoked credential later than max_staleness after the revoking
// call returned.

export interface Credential {
  username: string;
  password: string;
}

export interface Revocation extends Credential {
  /** Date.now() when the revoking admin call's promise resolved (R) */
  revokedAt: number;
}

/** R + max_staleness + margin: from then on no node may accept the credential. */
export function boundOf(revokedAt: number): number {
  return revokedAt + MAX_STALENESS_MS + MARGIN_MS;
}

export interface Watched extends Credential {
  /** keep going past `untilMs` until one login of this credential on each node was sent after this */
  sampleAfter?: number;
}

/**
 * Logs in with each credential on each node, over and over, until `untilMs` (Date.now() scale). A node
 * that takes a second to answer (its Redis blackholed) is still asked once more after `sampleAfter`.
 * The pause between two logins of one loop is the poll interval, not a synchronisation.
 */
export async function watchLogins(nodes: NodeHandle[], creds: Watched[], untilMs: number, intervalMs = 25): Promise<LoginSample[]> {
  const samples: LoginSample[] = [];
  await Promise.all(
    nodes.flatMap((node) =>
      creds.map(async (c) => {
        let lastSent = -Infinity;
        while (Date.now() < untilMs || (c.sampleAfter !== undefined && lastSent <= c.sampleAfter)) {
          const s = await tryLogin(node, c.username, c.password);
          lastSent = s.sentAt;
          samples.push(s);
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
        }
      }),
    ),
  );
  return samples.sort((a, b) => a.sentAt - b.sentAt);
}

function describeSample(s: LoginSample, origin: number): string {
  const what = s.status === 200 ? `200 cached=${String(s.cached)}` : `${s.status} ${s.error ?? ''}`.trim();
  return `${s.node} ${s.username}/${s.password}: ${what}, sent R+${s.sentAt - origin} ms, answered R+${s.doneAt - origin} ms`;
}

/** The last lines of a node's log, for a failure report. */
export function logTail(node: NodeHandle, lines = 15): string {
  return node.logs().trimEnd().split('\n').slice(-lines).join('\n');
}

export interface PromiseCheck {
  /** statuses a node may answer after the bound (default 401 and 503) */
  afterBound?: number[];
  /** keep checking this long after the last bound (default 600 ms) */
  watchAfterMs?: number;
}

/**
 * Watches every revoked credential on every node until past its bound, then asserts the promise:
 * the last accept (a 200, timed when its request was sent, the earliest the node can have decided)
 * is at most R + max_staleness + margin, and every node was asked at least once after the bound and
 * answered only an allowed status. Violations are reported with their timings and the node's log.
 */
export async function checkRevoked(nodes: NodeHandle[], revocations: Revocation[], opts: PromiseCheck = {}): Promise<LoginSample[]> {
  const allowed = opts.afterBound ?? [401, 503];
  const until = Math.max(...revocations.map((r) => boundOf(r.revokedAt))) + (opts.watchAfterMs ?? 600);
  const samples = await watchLogins(nodes, revocations.map((r) => ({ ...r, sampleAfter: boundOf(r.revokedAt) })), until);
  const violations: string[] = [];
  for (const r of revocations) {
    const bound = boundOf(r.revokedAt);
    const mine = samples.filter((s) => s.username === r.username && s.password === r.password);
    const accepted = mine.filter((s) => s.status === 200);
    const lastAccept = accepted.length ? Math.max(...accepted.map((s) => s.sentAt)) : -Infinity;
    if (lastAccept > bound) {
      for (const s of accepted.filter((a) => a.sentAt > bound)) {
        violations.push(`ACCEPTED after the bound R+${bound - r.revokedAt} ms: ${describeSample(s, r.revokedAt)}`);
      }
    }
    for (const node of nodes) {
      const after = mine.filter((s) => s.node === node.id && s.sentAt > bound);
      if (after.length === 0) violations.push(`${node.id} ${r.username}/${r.password}: never asked after the bound (the check would be vacuous)`);
      for (const s of after) {
        if (s.status !== 200 && !allowed.includes(s.status)) violations.push(`unexpected answer after the bound: ${describeSample(s, r.revokedAt)}`);
      }
    }
  }
  if (violations.length > 0) {
    const offenders = new Set(violations.map((v) => nodes.find((n) => v.includes(`${n.id} `))).filter((n): n is NodeHandle => n !== undefined));
    const logs = [...offenders].map((n) => `--- last log lines of ${n.id} ---\n${logTail(n)}`);
    expect([`${violations.length} violation(s) of the promise; the first ones:`, ...violations.slice(0, 20), ...logs]).toEqual([]);
  }
  return samples;
}

/** Samples answered from the cache whose request left after `bound`: each one breaks the staleness bound. */
export function cachedAfter(samples: LoginSample[], bound: number, origin: number): string[] {
  return samples.filter((s) => s.status === 200 && s.cached === true && s.sentAt > bound).map((s) => describeSample(s, origin));
}

// ---------------------------------------------------------------------------------------------
// Frames for the bus, built the way the publishing node builds them.

export type UpdateSpec = Pick<UnsignedUpdate, 'kind' | 'body'>;

/** A frame signed under `secret` carrying `update` at `seq`, with a fresh id. */
export function signedFrame(secret: string, update: UpdateSpec, seq: number): Buffer {
  const full = { ...update, id: randomUUID(), origin: 'fault-test', ts: Date.now() } as UnsignedUpdate;
  return withSeq(createCodec(secret).encode(full), seq);
}

/**
 * A frame around an arbitrary payload, signed as the codec signs (HMAC-SHA256 over the version
 * byte and the payload): lets a test send a correctly signed frame whose content is garbage.
 */
export function rawSignedFrame(secret: string, payload: Buffer, seq: number, version = 1): Buffer {
  const head = Buffer.alloc(9);
  head[0] = version;
  const mac = createHmac('sha256', secret).update(head.subarray(0, 1)).update(payload).digest();
  return withSeq(Buffer.concat([head, payload, mac]), seq);
}

/**
 * Reserves the next `count` seqs the way the publish script does (INCR) and appends to the log the
 * frames `frameAt` returns (undefined: leave that seq out of the log), in one MULTI so that no
 * heartbeat sees the counter ahead of the log; `also` adds commands to the same MULTI (the settings
 * write that goes with a set_settings, an XTRIM). Resolves to the reserved seqs and their frames.
 */
export async function reserveInLog(
  redis: Redis,
  names: ClusterNames,
  count: number,
  frameAt: (seq: number, index: number) => Buffer | undefined,
  also?: (tx: ChainableCommander, seqs: number[]) => void,
): Promise<{ seqs: number[]; frames: Array<Buffer | undefined> }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await redis.watch(names.seq);
    const n = Number((await redis.get(names.seq)) ?? 0);
    const seqs = Array.from({ length: count }, (_, i) => n + 1 + i);
    const frames = seqs.map((s, i) => frameAt(s, i));
    const tx = redis.multi();
    for (let i = 0; i < count; i++) tx.incr(names.seq);
    seqs.forEach((s, i) => {
      const f = frames[i];
      if (f) tx.xadd(names.log, `${s}-0`, 'm', f);
    });
    also?.(tx, seqs);
    const result = await tx.exec();
    // null: someone published in between; take fresh seqs.
    if (result) return { seqs, frames };
  }
  throw new Error('reserveInLog: the seq kept changing under WATCH');
}
