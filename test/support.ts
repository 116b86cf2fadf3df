/** What every cross-process suite shares: its own Redis and 3-node cluster, per-node clients, raw HTTP. */

import { AuthcacheClient, type LoginResult } from '@authcache/client';
import { startCluster, startNode, startRedis, waitFor, type ClusterHandle, type NodeHandle, type RedisHandle } from '@authcache/testkit';

export interface Suite {
  redis: RedisHandle;
  cluster: ClusterHandle;
  nodes: NodeHandle[];
  /** one client per node, pinned to it (no failover), so a call proves what THAT node does */
  clients: AuthcacheClient[];
  token: string;
}

export interface SuiteOptions {
  size?: number;
  env?: Record<string, string>;
}

/** Starting Redis and 3 node processes on 2 busy cores takes longer than jest's 30 s test timeout allows. */
export const SETUP_TIMEOUT_MS = 90_000;

/**
 * Registers beforeAll/afterAll for one Redis and one cluster; the returned object is filled in by
 * beforeAll. afterAll stops whatever did start, also when beforeAll or the tests failed.
 */
export function useCluster(opts: SuiteOptions = {}): Suite {
  const suite = {} as Suite;
  beforeAll(async () => {
    suite.redis = await startRedis();
    await startSuiteCluster(suite, opts);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    try {
      await suite.cluster?.stop();
    } finally {
      await suite.redis?.stop();
    }
  }, SETUP_TIMEOUT_MS);
  return suite;
}

/** Starts the suite's nodes on its Redis (`suite.redis`, already started) and fills in the rest of `suite`. */
export async function startSuiteCluster(suite: Suite, opts: SuiteOptions = {}): Promise<void> {
  suite.cluster = await startCluster({ redisUrl: suite.redis.url, size: opts.size ?? 3, env: opts.env });
  suite.nodes = suite.cluster.nodes;
  suite.token = suite.cluster.token;
  suite.clients = suite.nodes.map((n) => new AuthcacheClient({ nodes: [n.url], token: suite.cluster.token }));
}

/** One more node of the suite's cluster (its Redis, cluster name, secret and token) with `env` of its own. */
export function startNodeOf(s: Suite, env: Record<string, string>): Promise<NodeHandle> {
  return startNode({ redisUrl: s.redis.url, cluster: s.cluster.cluster, secret: s.cluster.secret, token: s.token, env });
}

/** A node's answer read off the wire: status, headers, body text and (when it is JSON) the parsed body. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface RequestOptions {
  token?: string;
  /** serialised with JSON.stringify and sent as application/json */
  json?: unknown;
  /** sent as is; set contentType yourself */
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Text of a stack frame or a source location: never something a client should see. */
export const STACK_TRACE = /\n\s*at\s|\bat\s+\S+\s+\([^)]*:\d+:\d+\)|node_modules|\/work\/|\.[cm]?[jt]s:\d+/;

/**
 * One raw HTTP request. Every answer is checked for leaked stack traces here, so each test that uses
 * it covers that rule for whatever it sends.
 */
export async function call(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  }
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  expect(text).not.toMatch(STACK_TRACE);
  return { status: res.status, headers: res.headers, text, json };
}

/** The same login on every node at once. */
export function loginAll(s: Suite, username: string, password: string): Promise<LoginResult[]> {
  return Promise.all(s.clients.map((c) => c.login(username, password)));
}

/** Raw login statuses on every node at once (the SDK throws on 401; here we want to see it). */
export async function loginStatuses(s: Suite, username: string, password: string): Promise<number[]> {
  const replies = await Promise.all(s.nodes.map((n) => call(n.url, 'POST', '/v1/login', { json: { username, password } })));
  return replies.map((r) => r.status);
}

/** Fills every node's cache for the user: after this, the next login on each node is cached:true. */
export async function warm(s: Suite, username: string, password: string): Promise<void> {
  await loginAll(s, username, password);
  const second = await loginAll(s, username, password);
  expect(second.map((r) => r.cached)).toEqual(s.nodes.map(() => true));
}

export const ALL_OK = { total: 3, successful: 3, failed: 0 };

export { waitFor };
