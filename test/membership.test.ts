/**
 * Membership by heartbeats: a node that leaves cleanly (SIGTERM) or dies (SIGKILL) is reported DOWN by
 * the others, admin calls then answer for the live nodes only, and a restarted node is UP again.
 */

import type { NodeInfo } from '@authcache/client';
import { ALL_OK, useCluster, waitFor, type Suite } from './support';

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

it('a SIGKILLed node is DOWN once its heartbeat is stale; flushes then answer for the 2 live ones', async () => {
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

  const flushed = await s.clients[2]!.flushAll();
  expect(flushed.nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  const role = await s.clients[0]!.putRole('vic', { password: 'vic-pw-2' });
  expect(role.nodes).toEqual({ total: 2, successful: 2, failed: 0 });

  await victim.restart();
  await awaitStatus(s, 2, victim.id, 'UP', 5000);
  expect((await s.clients[0]!.flushUser('vic')).nodes).toEqual(ALL_OK);
  // The restarted node reads the role store as it is now: the change made while it was dead holds.
  await expect(s.clients[1]!.login('vic', 'vic-pw')).rejects.toMatchObject({ status: 401 });
  expect((await s.clients[1]!.login('vic', 'vic-pw-2')).node).toBe(victim.id);
});
