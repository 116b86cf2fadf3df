/**
 * The READONLY reconnect of redis.ts in Sentinel mode, alone (docs/architecture.md, "Redis
 * topologies"). A Sentinel failover moves the nodes by two paths: ioredis' failover detector (the
 * sentinels' +switch-master) and redis.ts's reconnectOnError on READONLY / MASTERDOWN / LOADING.
 * redis-sentinel-graceful.test.ts passes with either; here only the second can work. The sentinel
 * is a fake that never publishes (support/fake-sentinel.ts), and the "failover" is done by hand
 * with REPLICAOF on two real redis-servers: B promoted, A demoted. A demoted Redis keeps its
 * clients, so a node's command connection stays on A, answered READONLY, until it reconnects by
 * itself, asks the (fake) Sentinel again and lands on B. With `reconnectOnError: () => false` for
 * Sentinel mode this test fails: the nodes never leave A; without subscriberFollows (redis.ts), their
 * subscribers stay on A.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterNames } from '@authcache/protocol';
import { freePort, spawnRedisServer, startCluster, waitFor, type ClusterHandle, type NodeHandle, type RedisProcess } from '@authcache/testkit';
import { startFakeSentinel, type FakeSentinel } from './support/fake-sentinel';
import { withRedis } from './support/faults';

const NAME = 'sentinel-readonly';
const MASTER_NAME = 'fakemaster';
/** From the demotion to every node's first fully acked flush. */
const RECOVERY_BOUND_MS = 15_000;
const dirs: string[] = [];
let a: RedisProcess;
let b: RedisProcess;
let fake: FakeSentinel;
let cluster: ClusterHandle;

async function dataNode(port: number): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'authcache-sentinel-readonly-'));
  dirs.push(dir);
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'];
  return spawnRedisServer(args, port, 'redis-server', undefined);
}

const linkUp = (replica: RedisProcess) =>
  waitFor(async () => (await withRedis(replica.url, (r) => r.info('replication'))).includes('master_link_status:up'), {
    timeoutMs: 15_000,
    message: `:${replica.port} did not sync with its master`,
  });

/** How many connections of each name `server` holds (CLIENT LIST). */
async function clientNames(server: RedisProcess): Promise<Record<string, number>> {
  const list = (await withRedis(server.url, (r) => r.call('CLIENT', 'LIST'))) as string;
  const counts: Record<string, number> = {};
  for (const m of list.matchAll(/ name=(\S*)/g)) if (m[1]) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  return counts;
}

const seqOn = (server: RedisProcess) => withRedis(server.url, async (r) => Number((await r.get(clusterNames(NAME).seq)) ?? 0));

/** DELETE /v1/cache through `node`; never throws (0: no answer). */
async function flush(node: NodeHandle): Promise<{ status: number; body: string; nodes?: { total: number; successful: number } }> {
  try {
    const res = await fetch(`${node.url}/v1/cache`, { method: 'DELETE', headers: { authorization: `Bearer ${cluster.token}` }, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    let nodes: { total: number; successful: number } | undefined;
    try {
      nodes = (JSON.parse(body) as { nodes?: { total: number; successful: number } }).nodes;
    } catch {
      nodes = undefined;
    }
    return { status: res.status, body, ...(nodes ? { nodes } : {}) };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}

const fullyAcked = (r: Awaited<ReturnType<typeof flush>>) => r.status === 200 && r.nodes?.total === 2 && r.nodes.successful === 2;

beforeAll(async () => {
  a = await dataNode(await freePort());
  b = await dataNode(await freePort());
  await withRedis(b.url, (r) => r.call('REPLICAOF', '127.0.0.1', String(a.port)));
  await linkUp(b);
  fake = await startFakeSentinel(MASTER_NAME, { host: '127.0.0.1', port: a.port });
  cluster = await startCluster({
    // Not used in sentinel mode: the (fake) sentinel names the master.
    redisUrl: 'redis://127.0.0.1:1',
    size: 2,
    cluster: NAME,
    env: {
      AUTHCACHE_REDIS_SENTINELS: `127.0.0.1:${fake.port}`,
      AUTHCACHE_REDIS_SENTINEL_NAME: MASTER_NAME,
      // After the switch B has no replica: a WAIT for one would turn every flush into a 504.
      AUTHCACHE_REDIS_MIN_REPLICAS: '0',
      AUTHCACHE_CACHE_WARMING: 'false',
      // Heartbeats are writes: each node meets READONLY on its own within a beat.
      AUTHCACHE_HEARTBEAT_MS: '250',
      AUTHCACHE_MAX_STALENESS_MS: '3000',
    },
  });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  await fake?.stop();
  await b?.kill();
  await a?.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

it('a node whose master is demoted without +switch-master reconnects through Sentinel to the new master', async () => {
  // The failover detector is on and listening to the fake: 2 nodes x (commands, subscriber). Its
  // silence below is what makes the READONLY reconnect the only way out.
  await waitFor(() => fake.subscribedCount() >= 4, { timeoutMs: 10_000, message: `the failover detector did not subscribe (${fake.subscribedCount()})` });
  for (const node of cluster.nodes) expect(fullyAcked(await flush(node))).toBe(true);
  expect((await clientNames(a))['authcache-cmd']).toBe(2);
  const seqBefore = await seqOn(b);
  const pids = cluster.nodes.map((n) => n.pid);

  // The switch, by hand, with no notification: B promoted, A demoted to B's replica, the sentinel
  // answering B from now on. A keeps its clients: the nodes' connections are still there.
  const switchedAt = Date.now();
  await withRedis(b.url, (r) => r.call('REPLICAOF', 'NO', 'ONE'));
  await withRedis(a.url, (r) => r.call('REPLICAOF', '127.0.0.1', String(b.port)));
  fake.setMaster('127.0.0.1', b.port);
  const askedAtSwitch = fake.askedCount();
  const subscribedAtSwitch = fake.subscribedCount();
  await linkUp(a);
  const linkedMs = Date.now() - switchedAt;

  // Every node as origin, until a flush through it is applied by both (bounded, polled).
  const statuses = new Set<number>();
  const answers = new Map<string, number>();
  const recoveredMs: number[] = [];
  for (const [i, node] of cluster.nodes.entries()) {
    await waitFor(
      async () => {
        const r = await flush(node);
        statuses.add(r.status);
        const label = r.nodes ? `${r.status} ${r.nodes.successful}/${r.nodes.total}` : String(r.status);
        answers.set(label, (answers.get(label) ?? 0) + 1);
        if (fullyAcked(r)) return true;
        // Kept by waitFor: the deadline error shows the last answer.
        throw new Error(`last answer ${r.status} ${r.body.slice(0, 300)}`);
      },
      { timeoutMs: Math.max(1, switchedAt + RECOVERY_BOUND_MS - Date.now()), intervalMs: 100, message: `node ${i} never flushed through the promoted master :${b.port}` },
    );
    recoveredMs.push(Date.now() - switchedAt);
  }

  // Through Sentinel: the only address of B a node can have is the fake's answer after the switch.
  expect(fake.askedCount()).toBeGreaterThan(askedAtSwitch);
  // The commands left A for B, and the subscribers followed them (redis.ts, subscriberFollows):
  // A subscriber never writes, so no READONLY ever tells it A was demoted.
  await waitFor(async () => ((await clientNames(b))['authcache-sub'] ?? 0) === 2, {
    timeoutMs: Math.max(1, switchedAt + RECOVERY_BOUND_MS - Date.now()),
    message: 'the subscribers did not follow the commands to the promoted master',
  });
  const onA = await clientNames(a);
  const onB = await clientNames(b);
  expect(onA['authcache-cmd'] ?? 0).toBe(0);
  expect(onB['authcache-cmd']).toBe(2);
  expect(onA['authcache-sub'] ?? 0).toBe(0);
  expect(await seqOn(b)).toBeGreaterThan(seqBefore);
  // A flush refused on the demoted master is a 503 (READONLY: nothing written); one whose
  // connection dropped with the publish in flight may be a 504 (outcome unknown). Never a 500.
  expect([...statuses].filter((s) => s !== 200 && s !== 503 && s !== 504)).toEqual([]);
  // Same processes: no restart did it.
  expect(cluster.nodes.map((n) => n.pid)).toEqual(pids);

  process.stdout.write(
    `READONLY reconnect: A replicating from B after ${linkedMs} ms; nodes fully acked ${recoveredMs.join(', ')} ms after the switch; ` +
      `sentinel asked ${fake.askedCount() - askedAtSwitch} more times (detector re-subscribed ${fake.subscribedCount() - subscribedAtSwitch}); ` +
      `answers ${[...answers].map(([k, n]) => `${k} x${n}`).join(', ')}; subscribers on A ${onA['authcache-sub'] ?? 0}, on B ${onB['authcache-sub'] ?? 0}\n`,
  );
}, 60_000);
