/**
 * A node started with another cluster secret (a one-line misconfiguration, or anyone with write
 * access to Redis) publishes a flush. Its frame takes a seq that no good node can verify: they skip
 * it and count it — no gap flush, no reset — keep their cached entries and stay in sync. The node
 * itself says in one log line that its secret is wrong and never reports itself UP.
 */
import { startNode, waitFor, type NodeHandle } from '@authcache/testkit';
import { FAULT_ENV, awaitConvergence, metricOnAll, readHealth, redisSeq, tryLogin, useFaultCluster, warmAll } from './support/faults';

let wrong: NodeHandle | undefined;
// Declared before the cluster's hooks: jest runs afterAll hooks in order, so it stops while Redis is up.
afterAll(async () => {
  await wrong?.stop();
});
const fc = useFaultCluster({ size: 2 });

it('the good nodes skip its frame, keep their caches, do not flush and stay in sync', async () => {
  await fc.clients[0]!.putRole('keeper', { password: 'keeper-pw', login: true });
  await awaitConvergence(fc);
  await warmAll(fc.nodes, 'keeper', 'keeper-pw');
  const gapsBefore = await metricOnAll(fc.nodes, 'authcache_gap_flushes_total');
  const resetsBefore = await metricOnAll(fc.nodes, 'authcache_resets_total');
  const signatureBefore = await metricOnAll(fc.nodes, 'authcache_bus_rejected_total', { reason: 'signature' });
  const seqBefore = await redisSeq(fc);

  const bad = await startNode({ redisUrl: fc.redis.url, cluster: fc.cluster, secret: `wrong-${fc.secret}`, token: fc.token, id: 'nx', env: FAULT_ENV, waitHealthy: false });
  wrong = bad;
  // Until its Redis connection is up a publish is refused (503, nothing written): retried until it went out.
  const status = await waitFor(
    async () => {
      const res = await fetch(`${bad.url}/v1/cache`, { method: 'DELETE', headers: { authorization: `Bearer ${fc.token}` } }).catch(() => undefined);
      return res && res.status !== 503 ? res.status : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, message: 'the misconfigured node never published its flush' },
  );
  expect(status).toBe(200);
  expect(await redisSeq(fc)).toBe(seqBefore + 1);

  // The good nodes skip the unverifiable entry (the heartbeat finds the counter ahead) and confirm their sync at it.
  expect(await awaitConvergence(fc)).toBe(seqBefore + 1);
  expect(await Promise.all(fc.nodes.map((n) => tryLogin(n, 'keeper', 'keeper-pw').then((s) => [s.status, s.cached])))).toEqual([
    [200, true],
    [200, true],
  ]);
  expect(await metricOnAll(fc.nodes, 'authcache_gap_flushes_total')).toEqual(gapsBefore);
  expect(await metricOnAll(fc.nodes, 'authcache_resets_total')).toEqual(resetsBefore);
  const signatureAfter = await metricOnAll(fc.nodes, 'authcache_bus_rejected_total', { reason: 'signature' });
  signatureAfter.forEach((v, i) => expect(v).toBeGreaterThan(signatureBefore[i]!));

  // A later update from a good node goes through as usual.
  const p = await fc.clients[1]!.flushUser('nobody-in-particular');
  expect(p.members.filter((m) => m.node !== 'nx')).toEqual([
    { node: 'n0', result: 'applied' },
    { node: 'n1', result: 'applied' },
  ]);
  expect(await awaitConvergence(fc)).toBe(p.seq);

  // The misconfigured node says why, once, and never reports itself UP.
  const health = await readHealth(bad);
  expect([health?.httpStatus, health?.status]).toEqual([503, 'STARTING']);
  expect(bad.logs().split('\n').filter((l) => l.includes('AUTHCACHE_CLUSTER_SECRET') && l.includes('"level":50'))).toHaveLength(1);
}, 60_000);
