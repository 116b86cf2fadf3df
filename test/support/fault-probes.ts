/**
 * Probes of a fault cluster: logins, /health, /metrics, Redis's seq, convergence and membership.
 */

import type { NodeInfo, Propagation } from '@authcache/client';
import { waitFor, withConnection, type NodeHandle } from '@authcache/testkit';
import { Redis } from 'ioredis';
import type { FaultCluster } from './fault-env';

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

export interface PasswordChange {
  /** 0: no answer (refused, reset, timed out); `body` then says why. */
  status: number;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  sentAt: number;
  returnedAt: number;
}

/** One `PUT /v1/roles/{user}` setting a password (login on) that never throws: failover suites see 503s and dead nodes alike. */
export async function trySetPassword(node: NodeHandle, token: string, user: string, password: string, timeoutMs = 5000): Promise<PasswordChange> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${node.url}/v1/roles/${user}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ password, login: true }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body, json, sentAt, returnedAt: Date.now() };
  } catch (err) {
    const body = (err as Error).message;
    return { status: 0, body, json: { error: body }, sentAt, returnedAt: Date.now() };
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
