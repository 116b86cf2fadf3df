/**
 * AUTHCACHE_METRICS_EVENTLOOP_MS reaches the event-loop monitor (metrics.ts): an idle node wakes
 * about once per sample, so its main thread's voluntary context switches per second show the
 * resolution in force — ~100/s at the default 10 ms, a handful at 1000 ms (heartbeats beside).
 * Counted from /proc, where Linux keeps them; the thresholds are far apart so load cannot blur them.
 */
import { readFileSync } from 'node:fs';
import { startNode, startRedis, waitFor, type NodeHandle, type RedisHandle } from '@authcache/testkit';

const wakeups = (pid: number) => Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function idleWakeupsPerSecond(node: NodeHandle): Promise<number> {
  const pid = node.pid!;
  const before = wakeups(pid);
  const t0 = performance.now();
  // Two seconds of the node doing nothing but its timers.
  await waitFor(() => performance.now() - t0 >= 2000, { timeoutMs: 5000, intervalMs: 100 });
  return ((wakeups(pid) - before) * 1000) / (performance.now() - t0);
}

let redis: RedisHandle;
const nodes: NodeHandle[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await redis?.stop();
});

const start = async (env: Record<string, string>) => {
  const n = await startNode({ redisUrl: redis.url, cluster: `el-${nodes.length}`, secret: 's'.repeat(24), token: 'tok-tok-tok', env: { AUTHCACHE_CACHE_WARMING: 'false', ...env } });
  nodes.push(n);
  return n;
};

it('samples the event loop as often as configured, and no more', async () => {
  const [byDefault, slow] = await Promise.all([start({}), start({ AUTHCACHE_METRICS_EVENTLOOP_MS: '1000' })]);
  const [d, s] = [await idleWakeupsPerSecond(byDefault), await idleWakeupsPerSecond(slow)];
  process.stdout.write(`idle wake-ups per second: ${d.toFixed(0)} at 10 ms (default), ${s.toFixed(0)} at 1000 ms\n`);
  expect(d).toBeGreaterThan(60);
  expect(s).toBeLessThan(30);
  // The metric is still there, from fewer samples.
  const metrics = await (await fetch(`${slow.url}/metrics`)).text();
  expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \S+$/m);
}, 60_000);
