/**
 * What one admin flush costs Redis (docs/architecture.md, "Membership"): the members version comes
 * back with the publish script, so the origin sends no GET of its own to learn whom to wait for —
 * before, every publish sent one. Watched with MONITOR on the suite's own Redis over 100 flushes of
 * a 2-node cluster (commandstats would count the script's own GET too); the heartbeats and
 * position reads in that time send no GET.
 */
import { Redis } from 'ioredis';
import { startCluster, startRedis, waitFor, type ClusterHandle, type RedisHandle } from '@authcache/testkit';

let redis: RedisHandle;
let cluster: ClusterHandle;

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster({ redisUrl: redis.url, size: 2, env: { AUTHCACHE_CACHE_WARMING: 'false' } });
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});


it('a flush acked by every node sends Redis no members read of its own', async () => {
  const auth = { authorization: `Bearer ${cluster.token}` };
  const flush = async () => (await (await fetch(`${cluster.urls[0]}/v1/cache`, { method: 'DELETE', headers: auth })).json()) as { nodes: { successful: number } };
  await waitFor(async () => (await flush()).nodes.successful === 2, { timeoutMs: 20_000, message: 'both nodes acking a flush' });
  const conn = new Redis(redis.url);
  const monitor = await conn.monitor();
  const sent: Record<string, number> = {};
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const key = `${source === 'lua' ? 'lua ' : ''}${String(args[0]).toLowerCase()}`;
    sent[key] = (sent[key] ?? 0) + 1;
  });
  try {
    for (let i = 0; i < 100; i++) expect((await flush()).nodes.successful).toBe(2);
    // MONITOR lags a little behind: wait for the last script's own GET to show.
    await waitFor(() => (sent['lua get'] ?? 0) >= 100, { timeoutMs: 5000, message: `the scripts' GETs in MONITOR (${JSON.stringify(sent)})` });
  } finally {
    monitor.disconnect();
    conn.disconnect();
  }
  expect(sent.evalsha).toBeGreaterThanOrEqual(100);
  expect(sent.get ?? 0).toBeLessThan(10);
}, 90_000);
