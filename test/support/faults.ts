/**
 * What the fault suites share: a Redis and nodes of their own (optionally each node behind its own
 * TCP proxy to Redis, so that one node can be cut off), short timings, probes of /health, /metrics and
 * Redis, frames built by hand for the bus, and the check of the staleness promise against the clock.
 * This module is the cluster fixture and the one import of the suites; the rest lives in
 * fault-env.ts, fault-probes.ts, staleness-promise.ts and bus-frames.ts.
 */

import { randomBytes } from 'node:crypto';
import { AuthcacheClient } from '@authcache/client';
import { clusterNames } from '@authcache/protocol';
import { startNode, startRedis, startTcpProxy } from '@authcache/testkit';
// ioredis is a dependency of the testkit, not of the workspace root, so it is reached through the testkit.
import { Redis } from 'ioredis';
import { FAULT_ENV, SETUP_TIMEOUT_MS, type FaultCluster, type FaultClusterOptions } from './fault-env';

export { Redis };
export * from './fault-env';
export * from './fault-probes';
export * from './staleness-promise';
export * from './bus-frames';

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
