/**
 * Membership with one node's wall clock 45 s off (libfaketime, Debian's `faketime` package, preloaded
 * into that node process only). Liveness is judged by Redis's clock alone, so the skewed node must
 * not take the others for DOWN at start, must not clear the cluster's transient settings while others
 * are live, must not report a stopped node live (or count it out of answers wrongly), and a SIGKILLed
 * node, skewed or not, must turn DOWN within 3 heartbeats + 500 ms as every node sees it.
 */

import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { AuthcacheClient } from '@authcache/client';
import { clusterNames } from '@authcache/protocol';
import { startNode, startRedis, type NodeHandle, type RedisHandle } from '@authcache/testkit';
import { DOWN_AFTER_MS, FAULT_ENV, SETUP_TIMEOUT_MS, awaitMembers, readHealth, withRedis, type FaultCluster } from './support/faults';
import { call } from './support';

const LIBFAKETIME = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
].find((p) => existsSync(p));

/** Polling every 50 ms on two busy cores: how late after the bound a DOWN may be observed. */
const OBSERVE_SLACK_MS = 2500;
const TTL_KEY = 'plugins.security.cache.ttl_minutes';

function skewEnv(offset: string): Record<string, string> {
  if (!LIBFAKETIME) throw new Error('libfaketime not found: install Debian\'s faketime package (apt-get install -y faketime); .ci/run does');
  // Only the wall clock is skewed: timers and performance.now() run on the monotonic clock, as on a real host.
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
}

describe.each(['+45s', '-45s'])('one node with its clock %s off', (offset) => {
  let redis: RedisHandle;
  const nodes: NodeHandle[] = [];
  let clients: AuthcacheClient[] = [];
  const cluster = `c${randomBytes(5).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  const token = randomBytes(18).toString('base64url');
  const names = clusterNames(cluster);
  const node = (i: number, env: Record<string, string> = {}) =>
    startNode({ redisUrl: redis.url, cluster, secret, token, id: `n${i}`, env: { ...FAULT_ENV, ...env } });
  /** Polls GET /v1/cluster/nodes on node `from` until each of `ids` has `status`. */
  const awaitStatus = (from: number, ids: string[], status: 'UP' | 'DOWN', timeoutMs: number) =>
    awaitMembers({ nodes, clients } as unknown as FaultCluster, from, ids, status, timeoutMs);

  beforeAll(async () => {
    redis = await startRedis({ preferOwn: true });
    nodes.push(...(await Promise.all([node(0), node(1)])));
    clients = nodes.map((n) => new AuthcacheClient({ nodes: [n.url], token }));
    const r = await call(nodes[0]!.url, 'PUT', '/_cluster/settings', { token, json: { transient: { [TTL_KEY]: '7' } } });
    expect(r.status).toBe(200);
    // The skewed node joins a running cluster: with wall clocks it took the others for DOWN here.
    nodes.push(await node(2, skewEnv(offset)));
    clients.push(new AuthcacheClient({ nodes: [nodes[2]!.url], token }));
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    try {
      await Promise.all(nodes.map((n) => n.stop()));
    } finally {
      await redis?.stop();
    }
  }, SETUP_TIMEOUT_MS);

  it('its clock really is off, and at start it sees the others UP and keeps the transient settings', async () => {
    const health = await fetch(`${nodes[2]!.url}/health`);
    const skewMs = Date.parse(health.headers.get('date')!) - Date.now();
    expect(Math.abs(Math.abs(skewMs) - 45_000)).toBeLessThan(3000);

    // Right after it answered healthy, without waiting: every member UP as it sees them, and as the others see it.
    const seen = await clients[2]!.nodes();
    expect(seen.map((n) => [n.id, n.status])).toEqual([['n0', 'UP'], ['n1', 'UP'], ['n2', 'UP']]);
    expect((await clients[0]!.nodes()).map((n) => [n.id, n.status])).toEqual([['n0', 'UP'], ['n1', 'UP'], ['n2', 'UP']]);

    expect(nodes[2]!.logs()).not.toContain('transient settings cleared');
    expect(await withRedis(redis.url, (r) => r.hgetall(names.settingsTransient))).not.toEqual({});
    // 7 minutes, the transient value, is in force on the skewed node.
    expect((await readHealth(nodes[2]!))?.settings.credentials.ttl_ms).toBe(7 * 60_000);
  });

  it('a stopped node is DOWN as the skewed node sees it at once, and its answers count the 2 live members', async () => {
    const stopped = nodes[1]!;
    expect(await stopped.stop()).toBe(0);
    await awaitStatus(2, [stopped.id], 'DOWN', 3000);
    const flushed = await clients[2]!.flushAll();
    expect(flushed.nodes.total).toBe(2);
    expect(flushed.members.map((m) => m.node)).toEqual(['n0', 'n2']);
    await stopped.restart();
    await awaitStatus(2, [stopped.id], 'UP', 5000);
  });

  it('admin calls from and to the skewed node are acknowledged by every member', async () => {
    await awaitStatus(0, ['n0', 'n1', 'n2'], 'UP', 5000);
    for (const from of [0, 2]) {
      const flushed = await clients[from]!.flushAll();
      expect({ from, nodes: flushed.nodes, failures: flushed.failures }).toEqual({ from, nodes: { total: 3, successful: 3, failed: 0 }, failures: [] });
    }
  });

  it('a SIGKILLed node turns DOWN within the bound, as the skewed node sees it', async () => {
    const victim = nodes[1]!;
    await victim.kill();
    const killedAt = Date.now();
    await awaitStatus(2, [victim.id], 'DOWN', DOWN_AFTER_MS + OBSERVE_SLACK_MS);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(DOWN_AFTER_MS + OBSERVE_SLACK_MS);
    await victim.restart();
    await awaitStatus(2, [victim.id], 'UP', 5000);
  });

  it('the skewed node, SIGKILLed, turns DOWN within the bound as the others see it', async () => {
    const victim = nodes[2]!;
    await victim.kill();
    const killedAt = Date.now();
    await Promise.all([0, 1].map((from) => awaitStatus(from, [victim.id], 'DOWN', DOWN_AFTER_MS + OBSERVE_SLACK_MS)));
    expect(Date.now() - killedAt).toBeLessThanOrEqual(DOWN_AFTER_MS + OBSERVE_SLACK_MS);
    await victim.restart();
    await awaitStatus(0, [victim.id], 'UP', 5000);
  });
});
