/**
 * Membership by heartbeats: a node that leaves cleanly (SIGTERM) or dies (SIGKILL) is reported DOWN by
 * the others. A clean leave drops out of admin answers; a dead node stays in them as failed
 * (`reason: "down"`) until an operator removes it (DELETE /v1/cluster/nodes/{id}); a restarted node
 * is UP again.
 */

import type { NodeInfo } from '@authcache/client';
import { hostname } from 'node:os';
import { ALL_OK, call, startNodeOf, useCluster, waitFor, type Suite } from './support';

// A short heartbeat so that a killed node goes stale quickly: DOWN after 3 x 500 + 500 = 2000 ms.
const HEARTBEAT_MS = 500;
const DOWN_AFTER_MS = 3 * HEARTBEAT_MS + 500;
// How long an admin call waits for a member that does not acknowledge (default 2000).
const ACK_TIMEOUT_MS = 1000;

const s = useCluster({ env: { AUTHCACHE_HEARTBEAT_MS: String(HEARTBEAT_MS), AUTHCACHE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS) } });

function statusOf(list: NodeInfo[], id: string): string | undefined {
  return list.find((n) => n.id === id)?.status;
}

/** Polls GET /v1/cluster/nodes on node `from` until `id` has `status`. */
function awaitStatus(suite: Suite, from: number, id: string, status: 'UP' | 'DOWN', timeoutMs: number): Promise<NodeInfo[]> {
  return waitFor(
    async () => {
      const list = await suite.clients[from]!.nodes();
      return statusOf(list, id) === status ? list : undefined;
    },
    { timeoutMs, intervalMs: 100, message: `${suite.nodes[from]!.id} never reported ${id} ${status}` },
  );
}

it('every node lists all 3 members UP with their addresses', async () => {
  const expected = s.nodes.map((n) => ({ id: n.id, address: `127.0.0.1:${n.port}`, status: 'UP' })).sort((a, b) => a.id.localeCompare(b.id));
  for (const client of s.clients) {
    const list = await client.nodes();
    expect(list.map(({ id, address, status }) => ({ id, address, status })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(expected);
    for (const n of list) {
      expect(n.cache.credentials).toEqual(expect.objectContaining({ size: expect.any(Number), hits: expect.any(Number) }));
      expect(n.lag).toBeGreaterThanOrEqual(0);
    }
  }
});

it('right after a change, the answering node reports its own lag and cache sizes as they are; the others say how old theirs are', async () => {
  await s.clients[0]!.putRole('fresh', { password: 'fresh-pw', login: true });
  await s.clients[0]!.flushAll();
  await s.clients[0]!.login('fresh', 'fresh-pw');
  const metrics = await (await fetch(`${s.nodes[0]!.url}/metrics`)).text();
  const size = Number(/^authcache_cache\{cache="credentials",stat="size"\} (\d+)$/m.exec(metrics)?.[1]);
  const health = (await (await fetch(`${s.nodes[0]!.url}/health`)).json()) as { applied_seq: number };
  // No wait for a heartbeat: the answering node's own line is read live.
  const list = (await s.clients[0]!.nodes()) as unknown as Array<NodeInfo & { self?: boolean; cluster_seq: number; heartbeat_age_ms: number; last_seen: string }>;
  const self = list.find((n) => n.id === s.nodes[0]!.id)!;
  expect(self).toMatchObject({ self: true, lag: 0, applied_seq: health.applied_seq, cluster_seq: health.applied_seq });
  expect(self.cache.credentials.size).toBe(size);
  expect(size).toBeGreaterThanOrEqual(1);
  for (const other of list.filter((n) => n !== self)) {
    expect(other.self).toBeUndefined();
    expect(other.lag).toBe(other.cluster_seq - other.applied_seq);
    expect(other.heartbeat_age_ms).toBeGreaterThanOrEqual(0);
    expect(other.heartbeat_age_ms).toBeLessThan(DOWN_AFTER_MS);
    expect(Date.parse(other.last_seen)).not.toBeNaN();
  }
});

it('a stopped node (SIGTERM) is DOWN, flushes answer for the 2 live ones, and it is UP again after a restart', async () => {
  const gone = s.nodes[2]!;
  expect(await gone.stop()).toBe(0);

  // A clean shutdown leaves the membership itself, so this does not need the heartbeat to go stale.
  const list = await awaitStatus(s, 0, gone.id, 'DOWN', DOWN_AFTER_MS + 3000);
  expect(list.filter((n) => n.status === 'UP').map((n) => n.id).sort()).toEqual([s.nodes[0]!.id, s.nodes[1]!.id].sort());

  const flushed = await s.clients[1]!.flushAll();
  expect(flushed.nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  expect(flushed.failures).toEqual([]);
  const user = await s.clients[0]!.flushUser('someone');
  expect(user.nodes).toEqual({ total: 2, successful: 2, failed: 0 });

  await gone.restart();
  await awaitStatus(s, 0, gone.id, 'UP', 5000);
  expect((await s.clients[0]!.flushAll()).nodes).toEqual(ALL_OK);
});

it('a SIGKILLed node is DOWN once its heartbeat is stale, stays in admin answers as down until removed, and is UP again after a restart', async () => {
  const victim = s.nodes[1]!;
  await s.clients[0]!.putRole('vic', { password: 'vic-pw', login: true });
  await victim.kill();

  // Its heartbeat is still fresh, so it still counts as a member: the call waits for its ack, gives up,
  // and answers 200 with the failure named (a partial result is not an error).
  const partial = await s.clients[2]!.flushAll();
  expect(partial.nodes).toEqual({ total: 3, successful: 2, failed: 1 });
  expect(partial.failures).toEqual([{ node: victim.id, reason: 'timeout' }]);

  const list = await awaitStatus(s, 0, victim.id, 'DOWN', DOWN_AFTER_MS + 5000);
  expect(statusOf(list, s.nodes[2]!.id)).toBe('UP');

  // It never left: once DOWN it is not waited for, but it is still reported, as down with its age.
  const flushed = await s.clients[2]!.flushAll();
  expect(flushed.nodes).toEqual({ total: 3, successful: 2, failed: 1 });
  expect(flushed.failures).toEqual([{ node: victim.id, reason: 'down', last_seen_ms: expect.any(Number) }]);
  expect((flushed.failures[0] as { last_seen_ms: number }).last_seen_ms).toBeGreaterThanOrEqual(DOWN_AFTER_MS);
  const role = await s.clients[0]!.putRole('vic', { password: 'vic-pw-2' });
  expect(role.nodes).toEqual({ total: 3, successful: 2, failed: 1 });

  // An operator removes it (nodetool removenode): a live node cannot be removed, an unknown id is a 404.
  const live = await call(s.nodes[0]!.url, 'DELETE', `/v1/cluster/nodes/${encodeURIComponent(s.nodes[2]!.id)}`, { token: s.token });
  expect(live.status).toBe(409);
  const unknown = await call(s.nodes[0]!.url, 'DELETE', '/v1/cluster/nodes/no-such-node', { token: s.token });
  expect([unknown.status, unknown.json]).toEqual([404, { error: 'node no-such-node is not a member' }]);
  const removed = await call(s.nodes[0]!.url, 'DELETE', `/v1/cluster/nodes/${encodeURIComponent(victim.id)}`, { token: s.token });
  expect([removed.status, removed.json]).toEqual([200, { message: `Node removed: ${victim.id}` }]);
  expect((await s.clients[2]!.nodes()).map((n) => n.id)).not.toContain(victim.id);
  expect((await s.clients[2]!.flushAll()).nodes).toEqual({ total: 2, successful: 2, failed: 0 });

  await victim.restart();
  await awaitStatus(s, 2, victim.id, 'UP', 5000);
  expect((await s.clients[0]!.flushUser('vic')).nodes).toEqual(ALL_OK);
  // The restarted node reads the role store as it is now: the change made while it was dead holds.
  await expect(s.clients[1]!.login('vic', 'vic-pw')).rejects.toMatchObject({ status: 401 });
  expect((await s.clients[1]!.login('vic', 'vic-pw-2')).node).toBe(victim.id);
});

it('the admin routes of the membership need the admin token', async () => {
  const r = await call(s.nodes[0]!.url, 'DELETE', '/v1/cluster/nodes/whoever');
  expect(r.status).toBe(401);
});

it('a node listening on every interface (AUTHCACHE_HOST=0.0.0.0, as in a container) is listed at its hostname, not at 0.0.0.0', async () => {
  const wide = await startNodeOf(s, { AUTHCACHE_HOST: '0.0.0.0', AUTHCACHE_HEARTBEAT_MS: String(HEARTBEAT_MS), AUTHCACHE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS) });
  try {
    const list = await awaitStatus(s, 0, wide.id, 'UP', 5000);
    expect(list.find((n) => n.id === wide.id)?.address).toBe(`${hostname()}:${wide.port}`);
  } finally {
    await wide.stop();
  }
});
