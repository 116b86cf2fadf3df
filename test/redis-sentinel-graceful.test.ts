/**
 * A graceful Sentinel failover (`SENTINEL FAILOVER`), with real processes (issue 16;
 * docs/architecture.md, "Redis topologies"). Unlike a crash, the old master stays up and is demoted
 * to a replica: a node still connected to it reaches a live server that answers writes with
 * READONLY, and nothing but a reconnect helps. Two things move the nodes: ioredis' failover
 * detector (the sentinels' +switch-master) and, behind it, redis.ts's reconnect on a READONLY
 * answer. This test checks the outcome, not which of the two did it (with the READONLY reconnect
 * removed it still passes: the detector is first): afterwards every node takes writes as origin,
 * each change is acked by all three, the old passwords are refused everywhere, the epoch turned
 * once, and no node restarted.
 */
import { startCluster, startSentinel, waitFor, type ClusterHandle, type SentinelHandle } from '@authcache/testkit';
import { metricOnAll, readHealth, trySetPassword, tryLogin, withRedis } from './support/faults';

let sentinel: SentinelHandle;
let cluster: ClusterHandle;

beforeAll(async () => {
  sentinel = await startSentinel({ replicas: 1 });
  cluster = await startCluster({
    // Not used in sentinel mode: the sentinels name the master.
    redisUrl: 'redis://127.0.0.1:1',
    cluster: 'sentinel-graceful',
    env: { ...sentinel.env, AUTHCACHE_HEARTBEAT_MS: '250', AUTHCACHE_MAX_STALENESS_MS: '3000' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await sentinel?.stop();
}, 60_000);

const ok = (status: number) => status === 200 || status === 201;

it('follows a graceful failover: every node writes to the promoted master, the demoted one stays a replica', async () => {
  const pids = cluster.nodes.map((n) => n.pid);
  const first = await trySetPassword(cluster.nodes[0]!, cluster.token, 'gina', 'gina-pw-0');
  expect(ok(first.status)).toBe(true);
  for (const node of cluster.nodes) expect((await tryLogin(node, 'gina', 'gina-pw-0')).status).toBe(200);
  const resetsBefore = await metricOnAll(cluster.nodes, 'authcache_resets_total');

  const old = await sentinel.master();
  const startedAt = Date.now();
  await withRedis(sentinel.sentinels[0]!.url, (r) => r.call('SENTINEL', 'FAILOVER', sentinel.masterName));
  const promoted = await sentinel.awaitMaster({ not: old, timeoutMs: 30_000 });
  // The point of the case: the old master is alive, and now a replica.
  await waitFor(async () => old.alive && /^role:slave\r?$/m.test(await withRedis(old.url, (r) => r.info('replication'))), {
    timeoutMs: 30_000,
    message: `the old master :${old.port} did not turn replica`,
  });
  const promotedMs = Date.now() - startedAt;

  // Every node as origin: its command connection must have left the demoted master.
  const passwords = ['gina-pw-0'];
  const firstOkMs: number[] = [];
  for (const [i, node] of cluster.nodes.entries()) {
    const password = `gina-pw-${i + 1}`;
    await waitFor(
      async () => {
        const r = await trySetPassword(node, cluster.token, 'gina', password);
        const nodes = (r.json as { nodes?: { total: number; successful: number } } | undefined)?.nodes;
        if (ok(r.status) && nodes?.total === 3 && nodes.successful === 3) return true;
        // Kept by waitFor: the deadline error shows the last answer.
        throw new Error(`last answer ${r.status} ${r.body.slice(0, 300)}`);
      },
      { timeoutMs: 20_000, intervalMs: 100, message: `node ${i} never wrote through the promoted master :${promoted.port}` },
    );
    firstOkMs.push(Date.now() - startedAt);
    passwords.push(password);
  }

  const final = passwords[passwords.length - 1]!;
  for (const node of cluster.nodes) {
    expect((await tryLogin(node, 'gina', final)).status).toBe(200);
    for (const p of passwords.slice(0, -1)) expect((await tryLogin(node, 'gina', p)).status).toBe(401);
    expect((await readHealth(node))?.status).toBe('UP');
  }
  // No restart: the same processes, still running.
  expect(cluster.nodes.map((n) => n.pid)).toEqual(pids);
  for (const pid of pids) expect(() => process.kill(pid!, 0)).not.toThrow();
  // A new master is a new epoch: each node flushed once for it (twice at most), not per heartbeat.
  const resetsAfter = await metricOnAll(cluster.nodes, 'authcache_resets_total');
  resetsAfter.forEach((v, i) => expect(v - resetsBefore[i]!).toBeGreaterThanOrEqual(1));
  resetsAfter.forEach((v, i) => expect(v - resetsBefore[i]!).toBeLessThanOrEqual(2));

  process.stdout.write(
    `graceful failover: :${old.port} demoted, :${promoted.port} promoted and the old master a replica after ${promotedMs} ms; ` +
      `each node's first fully acked write after ${firstOkMs.join(', ')} ms\n`,
  );
}, 150_000);
