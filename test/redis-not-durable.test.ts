/**
 * The 504 of a change no replica confirmed (issue 16 point 2; docs/architecture.md, "Redis
 * topologies"), with real processes: a Redis master and one replica started by the testkit, two
 * nodes with AUTHCACHE_REDIS_MIN_REPLICAS=1. While the replica is there, changes answer 200. Once it
 * is SIGKILLed, WAIT finds none: the master still applies and broadcasts each change, so every node
 * applies and acks it, and the answer is a 504 that says so — the seq, how many replicas confirmed
 * (0) and every node's result — for a flush and for a role write alike (the role store passes it on).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterNames, type NotDurableBody } from '@authcache/protocol';
import { freePort, spawnRedisServer, startCluster, waitFor, type ClusterHandle, type RedisProcess } from '@authcache/testkit';
import { readHealth, tryLogin, withRedis } from './support/faults';

const NAME = 'not-durable-suite';
const dirs: string[] = [];
let master: RedisProcess;
let replica: RedisProcess;
let cluster: ClusterHandle;

async function dataNode(port: number, extra: string[] = []): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'authcache-not-durable-'));
  dirs.push(dir);
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0', ...extra];
  return spawnRedisServer(args, port, 'redis-server', undefined);
}

beforeAll(async () => {
  const masterPort = await freePort();
  master = await dataNode(masterPort);
  replica = await dataNode(await freePort(), ['--replicaof', '127.0.0.1', String(masterPort)]);
  await waitFor(async () => (await withRedis(replica.url, (r) => r.info('replication'))).includes('master_link_status:up'), {
    timeoutMs: 15_000,
    intervalMs: 50,
    message: 'the replica did not sync with the master',
  });
  // WAIT's bound: 100 ms was once too short for the live replica while the rest of the suite loaded
  // both cores (a 504 in the first test); each 504 below waits this long.
  cluster = await startCluster({
    redisUrl: master.url,
    size: 2,
    cluster: NAME,
    env: { AUTHCACHE_REDIS_MIN_REPLICAS: '1', AUTHCACHE_REDIS_REPLICA_WAIT_MS: '1000' },
  });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  await replica?.kill();
  await master?.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: NotDurableBody & Record<string, unknown> }> {
  const res = await fetch(`${cluster.nodes[0]!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, json: (await res.json()) as NotDurableBody & Record<string, unknown> };
}

const seqInRedis = () => withRedis(master.url, async (r) => Number((await r.get(clusterNames(NAME).seq)) ?? 0));

/** The body of a 504 for a change published as `seq` and applied by both nodes. */
function expectNotDurable(json: NotDurableBody, seq: number): void {
  expect(json.error).toMatch(/^outcome unknown: not confirmed by any replica — 0 of 1 required replicas confirmed update \d+/);
  expect([json.seq, json.replicated, json.required]).toEqual([seq, 0, 1]);
  expect(json.nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  expect(json.failures).toEqual([]);
  expect(json.members.map((m) => m.result)).toEqual(['applied', 'applied']);
}

it('answers 200 while the replica confirms each change', async () => {
  const r = await call('DELETE', '/v1/cache');
  expect([r.status, r.json.nodes]).toEqual([200, { total: 2, successful: 2, failed: 0 }]);
  const p = await call('PUT', '/v1/roles/ann', { password: 'ann-1', login: true });
  expect(p.status).toBe(201);
});

it('with no replica, a flush answers 504 with its seq, replicated 0 and every node applied', async () => {
  await replica.kill();
  const before = await seqInRedis();
  const r = await call('DELETE', '/v1/cache');
  expect(r.status).toBe(504);
  // The master applied and broadcast it: a seq was assigned, and both nodes are at it.
  expect(await seqInRedis()).toBe(before + 1);
  expectNotDurable(r.json, before + 1);
  const healths = await Promise.all(cluster.nodes.map(readHealth));
  expect(healths.map((h) => h?.applied_seq)).toEqual([before + 1, before + 1]);
});

it('with no replica, a role write answers the same 504, and the change stands on every node', async () => {
  const before = await seqInRedis();
  const r = await call('PUT', '/v1/roles/ann', { password: 'ann-2', login: true });
  expect(r.status).toBe(504);
  expectNotDurable(r.json, before + 1);
  // Written with its invalidation, applied everywhere before the answer: the old password is refused.
  for (const node of cluster.nodes) {
    expect((await tryLogin(node, 'ann', 'ann-2')).status).toBe(200);
    expect((await tryLogin(node, 'ann', 'ann-1')).status).toBe(401);
  }
});
