/**
 * Heartbeats are signed under the cluster secret: a node started with another secret, or a heartbeat
 * written into the members hash by anyone without the secret, is no member. It is not listed, an
 * admin call does not wait for it, and the misconfigured node does not become healthy.
 */

import { randomBytes } from 'node:crypto';
import { startNode, waitFor, type NodeHandle } from '@authcache/testkit';
import { ACK_TIMEOUT_MS, awaitAllMembersUp, readHealth, useFaultCluster, withRedis } from './support/faults';

const fc = useFaultCluster({ size: 2 });

it('a node with the wrong cluster secret is not a member and is not healthy', async () => {
  await awaitAllMembersUp(fc);
  let wrong: NodeHandle | undefined;
  try {
    wrong = await startNode({
      redisUrl: fc.redis.url,
      cluster: fc.cluster,
      secret: randomBytes(24).toString('base64url'),
      token: fc.token,
      id: 'wrong',
      waitHealthy: false,
      env: { AUTHCACHE_HEARTBEAT_MS: '200' },
    });
    const w = wrong;
    await waitFor(() => /AUTHCACHE_CLUSTER_SECRET/.test(w.logs()), { timeoutMs: 20_000, message: 'the wrong-secret node never said why it refuses' });
    expect((await readHealth(w))?.httpStatus).not.toBe(200);
    expect((await fc.clients[0]!.nodes()).map((n) => n.id)).toEqual(['n0', 'n1']);
    const t0 = Date.now();
    const flushed = await fc.clients[0]!.flushAll();
    expect(flushed.nodes).toEqual({ total: 2, successful: 2, failed: 0 });
    expect(Date.now() - t0).toBeLessThan(ACK_TIMEOUT_MS);
  } finally {
    await wrong?.stop();
  }
});

it('a fresh heartbeat forged without the secret is ignored: not listed, not waited for, no failure', async () => {
  await awaitAllMembersUp(fc);
  const forged = (signature: string) =>
    withRedis(fc.redis.url, async (r) => {
      const [s, us] = await r.time();
      const ms = Number(s) * 1000 + Math.floor(Number(us) / 1000);
      const body = JSON.stringify({ id: 'intruder', address: '127.0.0.1:1', applied_seq: 0, started: 0, cache: {} });
      await r.hset(fc.names.members, 'intruder', `ac1|${ms}|0|${signature}|${body}`);
    });
  await forged('0'.repeat(64));
  expect((await fc.clients[1]!.nodes()).map((n) => n.id)).toEqual(['n0', 'n1']);
  const t0 = Date.now();
  const flushed = await fc.clients[1]!.flushAll();
  expect(flushed.nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  expect(Date.now() - t0).toBeLessThan(ACK_TIMEOUT_MS);
  // The old, unsigned JSON form is no member either.
  await withRedis(fc.redis.url, (r) => r.hset(fc.names.members, 'legacy', JSON.stringify({ id: 'legacy', address: 'x', applied_seq: 0, ts: Date.now(), started: 0, cache: {} })));
  expect((await fc.clients[0]!.nodes()).map((n) => n.id)).toEqual(['n0', 'n1']);
  expect((await fc.clients[0]!.flushAll()).nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  // Each node says so in its log (at most once per 10 s).
  await waitFor(() => fc.nodes.every((n) => n.logs().includes('ignoring heartbeats that are not signed')), { timeoutMs: 5000 });
});
