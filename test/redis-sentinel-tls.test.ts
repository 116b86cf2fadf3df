/**
 * Redis Sentinel over TLS (issue 16 point 1, "plus sentinel password/TLS"; docs/architecture.md,
 * "Redis topologies"): data nodes, replication and sentinels speak TLS only (no plain port), with a
 * CA of the suite's own. Nodes configured with a rediss:// REDIS_URL and AUTHCACHE_REDIS_TLS_CA find
 * the master through the sentinels over TLS, apply changes everywhere, and follow a failover
 * (master SIGKILLed) without a restart, still over TLS: changes through each node acked by both.
 */
import { startCluster, startSentinel, waitFor, withConnection, type ClusterHandle, type NodeHandle, type SentinelHandle } from '@authcache/testkit';
import { readHealth, trySetPassword, tryLogin } from './support/faults';

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

/** The nodes' warnings and errors, for a failure message. */
const warnings = () => cluster.nodes.map((n) => `${n.id}: ${n.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-8).join(' | ')}`).join('\n');

const putRole = (node: NodeHandle, user: string, password: string) => trySetPassword(node, cluster.token, user, password);
const putPassword = async (node: NodeHandle, user: string, password: string) => (await putRole(node, user, password)).status;

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

it('applies a change on every node, and follows a failover over TLS without a restart', async () => {
  expect([200, 201]).toContain(await putPassword(cluster.nodes[0]!, 'tina', 'tina-pw-1'));
  await inForce('tina', 'tina-pw-1');
  expect(await putPassword(cluster.nodes[1]!, 'tina', 'tina-pw-2')).toBe(200);
  // Answered 200 through node 1: in force on both nodes now, no waiting.
  for (const node of cluster.nodes) {
    expect((await tryLogin(node, 'tina', 'tina-pw-1')).status).toBe(401);
    expect((await tryLogin(node, 'tina', 'tina-pw-2')).status).toBe(200);
  }

  const old = await sentinel.master();
  await old.kill();
  const promoted = await sentinel.awaitMaster({ not: old });
  expect(promoted.url.startsWith('rediss://')).toBe(true);
  // The nodes move to the new master by themselves: a change through each, acked by both, succeeds
  // (bounded retries). Once in CI a node never did: ioredis had ended its client for good when a
  // reconnect raced the failover detector (redis.ts, reconnectWhenEnded).
  const last = new Map<string, string>();
  for (const [i, password] of [[0, 'tina-pw-3'], [1, 'tina-pw-4']] as const) {
    await waitFor(
      async () => {
        const r = await putRole(cluster.nodes[i]!, 'tina', password);
        last.set(cluster.nodes[i]!.id, `${r.status} ${JSON.stringify(r.json?.nodes ?? r.json)}`);
        return r.status === 200 && r.json?.nodes?.successful === 2;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((err: Error) => {
      // Built at the deadline, not when waitFor is called: the last answers and the warnings then.
      throw new Error(`no change through node ${i} was acked by both nodes after the failover (${[...last].join('; ')}); warnings: ${warnings()}\n${err.message}`);
    });
  }
  await inForce('tina', 'tina-pw-4', 'tina-pw-3');
  await waitFor(async () => (await readHealth(cluster.nodes[1]!))?.status === 'UP', { timeoutMs: 15_000, message: 'node 1 not UP after the failover' });
}, 90_000);
