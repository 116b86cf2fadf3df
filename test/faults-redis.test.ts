/**
 * Redis itself fails under the whole cluster: killed (SIGKILL) and restarted with its data, or
 * restarted empty. During the outage every node fails closed once max_staleness has passed; after
 * it every node reconnects and converges to the seq in Redis; an empty Redis is detected as a reset
 * (flush, adopt Redis's seq), so no node serves what it cached before.
 */

import {
  MARGIN_MS,
  MAX_STALENESS_MS,
  awaitAllMembersUp,
  awaitConvergence,
  boundOf,
  cachedAfter,
  checkRevoked,
  metricOnAll,
  redisSeq,
  tryLogin,
  useFaultCluster,
  waitForHealth,
  warmAll,
  watchLogins,
  type FaultCluster,
} from './support/faults';
import { waitFor } from '@authcache/testkit';

const fc = useFaultCluster();

const ALL_3 = { total: 3, successful: 3, failed: 0 };

/** Changes the password and asserts the promise in its strongest form: every node acknowledged, so
 *  from the moment the call returned no node accepts the old password, and none does later. */
async function revokeEverywhereAtReturn(c: FaultCluster, username: string, oldPassword: string, newPassword: string): Promise<number> {
  const p = await c.clients[1]!.putRole(username, { password: newPassword });
  const revokedAt = Date.now();
  expect(p.nodes).toEqual(ALL_3);
  const atReturn = await Promise.all(c.nodes.map((n) => tryLogin(n, username, oldPassword)));
  expect(atReturn.map((s) => s.status)).toEqual([401, 401, 401]);
  const samples = await checkRevoked(c.nodes, [{ username, password: oldPassword, revokedAt }], { afterBound: [401] });
  expect(samples.filter((s) => s.status !== 401)).toEqual([]);
  const fresh = await Promise.all(c.nodes.map((n) => tryLogin(n, username, newPassword)));
  expect(fresh.map((s) => s.status)).toEqual([200, 200, 200]);
  return p.seq;
}

it('Redis killed and restarted with its data: nodes fail closed during the outage, then reconnect and converge', async () => {
  await fc.clients[0]!.putRole('dora', { password: 'dora-pw', login: true });
  await awaitConvergence(fc);
  await warmAll(fc.nodes, 'dora', 'dora-pw');
  const seqBefore = await redisSeq(fc);
  const commandsBefore = await metricOnAll(fc.nodes, 'authcache_redis_reconnects_total', { connection: 'commands' });
  const subscriberBefore = await metricOnAll(fc.nodes, 'authcache_redis_reconnects_total', { connection: 'subscriber' });

  await fc.redis.kill();
  // Redis is dead by now: no node can confirm its sync after this instant.
  const downAt = Date.now();
  const bound = downAt + MAX_STALENESS_MS + MARGIN_MS;
  const [samples] = await Promise.all([
    watchLogins(fc.nodes, [{ username: 'dora', password: 'dora-pw', sampleAfter: bound }], bound + 600),
    ...fc.nodes.map((n) => waitForHealth(n, (h) => h.httpStatus === 503 && h.status === 'DEGRADED' && h.redis === 'disconnected', 5000)),
  ]);
  expect(cachedAfter(samples, bound, downAt)).toEqual([]);
  const late = samples.filter((s) => s.sentAt > bound);
  expect(new Set(late.map((s) => s.node))).toEqual(new Set(fc.nodes.map((n) => n.id)));
  for (const s of late) {
    expect(s.status).toBe(503);
    expect(s.error).toMatch(/^node out of sync with the cluster for \d+ ms and the backend is unreachable$/);
  }
  // Nothing can be revoked meanwhile: an admin call is refused, not half done.
  await expect(fc.clients[0]!.putRole('dora', { password: 'never-set' })).rejects.toMatchObject({ status: 503 });

  await fc.redis.restart({ keepData: true });
  expect(await awaitConvergence(fc)).toBe(seqBefore);
  const commandsAfter = await metricOnAll(fc.nodes, 'authcache_redis_reconnects_total', { connection: 'commands' });
  const subscriberAfter = await metricOnAll(fc.nodes, 'authcache_redis_reconnects_total', { connection: 'subscriber' });
  fc.nodes.forEach((_, i) => {
    expect(commandsAfter[i]).toBeGreaterThan(commandsBefore[i]!);
    expect(subscriberAfter[i]).toBeGreaterThan(subscriberBefore[i]!);
  });
  expect((await tryLogin(fc.nodes[2]!, 'dora', 'dora-pw')).status).toBe(200);

  await awaitAllMembersUp(fc);
  const seq = await revokeEverywhereAtReturn(fc, 'dora', 'dora-pw', 'dora-pw-2');
  expect(await awaitConvergence(fc)).toBe(seq);
}, 45_000);

it('Redis restarted without its data: every node detects the reset, flushes, and follows the new seq', async () => {
  await fc.clients[0]!.putRole('ghost', { password: 'ghost-pw', login: true });
  await fc.clients[1]!.flushAll();
  await awaitConvergence(fc);
  await warmAll(fc.nodes, 'ghost', 'ghost-pw');
  const seqBefore = await redisSeq(fc);
  expect(seqBefore).toBeGreaterThan(1);
  const resetsBefore = await metricOnAll(fc.nodes, 'authcache_resets_total');

  await fc.redis.restart({ keepData: false });
  // The old Redis was gone before this instant, so no node confirmed its sync against it after it.
  const upAt = Date.now();
  const bound = boundOf(upAt);
  const [samples] = await Promise.all([
    watchLogins(fc.nodes, [{ username: 'ghost', password: 'ghost-pw', sampleAfter: bound }], bound + 600),
    waitFor(async () => (await metricOnAll(fc.nodes, 'authcache_resets_total')).every((v, i) => v > resetsBefore[i]!), {
      timeoutMs: 5000,
      message: 'not every node counted a reset of Redis',
    }),
  ]);
  // The user exists no more: past the bound no node may accept it, from its cache or otherwise.
  expect(samples.filter((s) => s.status === 200 && s.sentAt > bound)).toEqual([]);

  // A node counts the reset before it has flushed; UP at Redis's seq means the resync is complete.
  const seq = await awaitConvergence(fc);
  expect(seq).toBeLessThan(seqBefore);
  const afterReset = await Promise.all(fc.nodes.map((n) => tryLogin(n, 'ghost', 'ghost-pw')));
  expect(afterReset.map((s) => s.status)).toEqual([401, 401, 401]);

  await awaitAllMembersUp(fc);
  const created = await fc.clients[2]!.putRole('phoenix', { password: 'phoenix-pw', login: true });
  expect(created.nodes).toEqual(ALL_3);
  expect(created.seq).toBe(seq + 1);
  await warmAll(fc.nodes, 'phoenix', 'phoenix-pw');
  const last = await revokeEverywhereAtReturn(fc, 'phoenix', 'phoenix-pw', 'phoenix-pw-2');
  expect(await awaitConvergence(fc)).toBe(last);
}, 45_000);
