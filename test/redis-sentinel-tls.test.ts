/**
 * Redis Sentinel over TLS (issue 16 point 1, "plus sentinel password/TLS"; docs/architecture.md,
 * "Redis topologies"): data nodes, replication and sentinels speak TLS only (no plain port), with a
 * CA of the suite's own. Nodes configured with a rediss:// REDIS_URL and AUTHCACHE_REDIS_TLS_CA find
 * the master through the sentinels over TLS and apply changes everywhere. A failover over TLS is
 * not asserted here: once in CI the nodes did not reach the promoted master within 30 s (open, issue 16).
 */
import { startCluster, startSentinel, waitFor, withConnection, type ClusterHandle, type NodeHandle, type SentinelHandle } from '@authcache/testkit';
import { readHealth, tryLogin } from './support/faults';

let sentinel: SentinelHandle;
let cluster: ClusterHandle;

beforeAll(async () => {
  sentinel = await startSentinel({ tls: true, replicas: 1, sentinels: 3, sentinelPassword: 'sentinel-secret' });
  cluster = await startCluster({
    redisUrl: sentinel.redisUrl,
    size: 2,
    cluster: 'sentinel-tls',
    env: { ...sentinel.env, AUTHCACHE_HEARTBEAT_MS: '250', AUTHCACHE_LOGIN_MAX_FAILURES: '0' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await sentinel?.stop();
}, 60_000);

async function putPassword(node: NodeHandle, user: string, password: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/roles/${user}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ password, login: true }),
    signal: AbortSignal.timeout(5000),
  });
  await res.text();
  return res.status;
}

/** Every node accepts `good` and refuses `bad` for `user` (polled: the answer may be a 503 during a failover). */
async function inForce(user: string, good: string, bad?: string): Promise<void> {
  await waitFor(
    async () => {
      for (const node of cluster.nodes) {
        if ((await tryLogin(node, user, good)).status !== 200) return false;
        if (bad !== undefined && (await tryLogin(node, user, bad)).status !== 401) return false;
      }
      return true;
    },
    { timeoutMs: 15_000, message: `${user}'s password is not in force on every node` },
  );
}

it('speaks TLS only: the servers refuse a plain connection, the sentinels name the master over TLS', async () => {
  expect(sentinel.redisUrl.startsWith('rediss://')).toBe(true);
  const master = await sentinel.master();
  await expect(withConnection(master.url.replace('rediss://', 'redis://'), (r) => r.ping(), 1000)).rejects.toThrow();
  await expect(withConnection(sentinel.sentinels[0]!.url.replace('rediss://', 'redis://'), (r) => r.ping(), 1000)).rejects.toThrow();
  expect(await withConnection(master.url, (r) => r.ping())).toBe('PONG');
  for (const node of cluster.nodes) expect((await readHealth(node))?.status).toBe('UP');
});

it('applies a change on every node over TLS', async () => {
  expect([200, 201]).toContain(await putPassword(cluster.nodes[0]!, 'tina', 'tina-pw-1'));
  await inForce('tina', 'tina-pw-1');
  expect(await putPassword(cluster.nodes[1]!, 'tina', 'tina-pw-2')).toBe(200);
  // Answered 200 through node 1: in force on both nodes now, no waiting.
  for (const node of cluster.nodes) {
    expect((await tryLogin(node, 'tina', 'tina-pw-1')).status).toBe(401);
    expect((await tryLogin(node, 'tina', 'tina-pw-2')).status).toBe(200);
  }

}, 90_000);
