/**
 * A silent member: node 2's TCP proxy to Redis is cut in blackhole mode (the socket stays open,
 * nothing is delivered), so it stops heartbeating without leaving. It must stay in every admin
 * answer as failed (`reason: "down"`, with its last-seen age by Redis's clock) and be listed DOWN
 * until it is forgotten (AUTHCACHE_MEMBER_FORGET_MS), and come back UP once the cut heals.
 */

import { clusterNames } from '@authcache/protocol';
import { Membership } from '../packages/node/src/membership';
import { DOWN_AFTER_MS, HEARTBEAT_MS, Redis, awaitAllMembersUp, awaitConvergence, awaitMembers, useFaultCluster } from './support/faults';
import { waitFor } from './support';

// Short, so that the suite also sees the member forgotten; it must exceed the DOWN bound (1100 ms).
const FORGET_MS = 6000;

const fc = useFaultCluster({ proxied: true, env: { AUTHCACHE_MEMBER_FORGET_MS: String(FORGET_MS) } });
afterEach(() => {
  for (const p of fc.proxies) p?.heal();
});

/** The membership as a node of this cluster reads it, in this process (what the replicator is given). */
async function observer<T>(f: (m: Membership) => Promise<T>): Promise<T> {
  const conn = new Redis(fc.redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    const log = { warn: () => undefined, info: () => undefined, debug: () => undefined };
    const m = new Membership({
      redis: conn,
      names: clusterNames(fc.cluster),
      config: { nodeId: 'observer', heartbeatMs: HEARTBEAT_MS, clusterSecret: fc.secret, memberForgetMs: FORGET_MS },
      log: log as never,
      content: () => ({ address: '', applied_seq: 0, started: 0, cache: {} }),
    });
    return await f(m);
  } finally {
    conn.disconnect();
  }
}

it('a blackholed node is DOWN, still listed, and reported as down in a flush made after the DOWN bound; UP again once healed', async () => {
  await awaitAllMembersUp(fc);
  await awaitConvergence(fc);
  const cut = fc.nodes[2]!;
  fc.proxies[2]!.cut('blackhole');
  const cutAt = Date.now();

  const list = await awaitMembers(fc, 0, [cut.id], 'DOWN', DOWN_AFTER_MS + 5000);
  const line = list.find((n) => n.id === cut.id) as unknown as { status: string; heartbeat_age_ms: number; left?: boolean; last_seen: string };
  expect(line.status).toBe('DOWN');
  expect(line.left).toBeUndefined();
  expect(line.heartbeat_age_ms).toBeGreaterThanOrEqual(DOWN_AFTER_MS);
  expect(Date.parse(line.last_seen)).not.toBeNaN();
  // Node 1 sees the same, by the same (Redis's) clock.
  await awaitMembers(fc, 1, [cut.id], 'DOWN', 2000);

  const expected = await observer((m) => m.expected());
  expect(expected.live).toEqual([fc.nodes[0]!.id, fc.nodes[1]!.id]);
  expect(expected.down).toEqual([{ node: cut.id, last_seen_ms: expect.any(Number) }]);
  expect(expected.down[0]!.last_seen_ms).toBeGreaterThanOrEqual(DOWN_AFTER_MS);

  // The flush of issue 10.9, made after the DOWN bound: node 2 is not waited for, but it is in the answer.
  const flushed = await fc.clients[0]!.flushAll();
  expect(Date.now() - cutAt).toBeLessThan(FORGET_MS);
  expect(flushed.nodes.total).toBe(3);
  expect(flushed.nodes.failed).toBeGreaterThanOrEqual(1);
  expect(flushed.failures).toContainEqual({ node: cut.id, reason: 'down', last_seen_ms: expect.any(Number) });
  const down = flushed.failures.find((f) => f.node === cut.id) as { last_seen_ms: number };
  expect(down.last_seen_ms).toBeGreaterThanOrEqual(DOWN_AFTER_MS);

  fc.proxies[2]!.heal();
  await awaitMembers(fc, 0, [cut.id], 'UP', 10_000);
  await awaitConvergence(fc);
  expect((await fc.clients[0]!.flushAll()).nodes).toEqual({ total: 3, successful: 3, failed: 0 });
});

it('a node silent for longer than AUTHCACHE_MEMBER_FORGET_MS is forgotten: no longer listed nor reported; it rejoins when it can beat again', async () => {
  await awaitAllMembersUp(fc);
  const cut = fc.nodes[2]!;
  fc.proxies[2]!.cut('blackhole');
  await awaitMembers(fc, 0, [cut.id], 'DOWN', DOWN_AFTER_MS + 5000);
  await waitFor(async () => (await fc.clients[0]!.nodes()).every((n) => n.id !== cut.id), {
    timeoutMs: FORGET_MS + 5000,
    intervalMs: 100,
    message: `${cut.id} was never forgotten`,
  });
  expect(await observer((m) => m.expected())).toEqual({ live: [fc.nodes[0]!.id, fc.nodes[1]!.id], down: [] });
  expect((await fc.clients[1]!.flushAll()).nodes).toEqual({ total: 2, successful: 2, failed: 0 });

  fc.proxies[2]!.heal();
  await awaitMembers(fc, 0, [cut.id], 'UP', 10_000);
});
