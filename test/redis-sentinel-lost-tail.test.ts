/**
 * The lost tail after a Sentinel failover, for a node that comes back late (docs/architecture.md,
 * "Redis topologies"). The old master applied and broadcast an update no replica confirmed (504);
 * a node applied it and cached what it wrote. That node is frozen (SIGSTOP) across the failover while
 * the new master — which never saw that update — reuses its seq for another change. On resume, the
 * seqs alone look in sync (or merely behind), so only the epoch tied to the master tells the node
 * that its applied seq belongs to another history: it must flush, and the password the lost update
 * had set must be refused once max staleness has passed since the change that replaced it returned.
 */
import { startCluster, startSentinel, startTcpProxy, waitFor, type ClusterHandle, type SentinelHandle, type TcpProxy } from '@authcache/testkit';
import { metric, readHealth, trySetPassword, tryLogin, withRedis } from './support/faults';

const MAX_STALENESS_MS = 3000;
const NAME = 'lost-tail-suite';

let sentinel: SentinelHandle;
let cluster: ClusterHandle;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  sentinel = await startSentinel({
    replicas: 2,
    replicateVia: async (masterPort) => {
      const p = await startTcpProxy({ targetPort: masterPort });
      proxies.push(p);
      return p.port;
    },
  });
  cluster = await startCluster({
    redisUrl: 'redis://127.0.0.1:1',
    cluster: NAME,
    env: { ...sentinel.env, AUTHCACHE_REDIS_MIN_REPLICAS: '1', AUTHCACHE_REDIS_REPLICA_WAIT_MS: '200', AUTHCACHE_HEARTBEAT_MS: '250', AUTHCACHE_MAX_STALENESS_MS: String(MAX_STALENESS_MS) },
  });
}, 120_000);

afterAll(async () => {
  const late = cluster?.nodes[2];
  if (late?.pid) process.kill(late.pid, 'SIGCONT');
  await cluster?.stop();
  await Promise.all(proxies.map((p) => p.close()));
  await sentinel?.stop();
}, 60_000);

async function put(i: number, user: string, password: string): Promise<{ status: number; at: number }> {
  const r = await trySetPassword(cluster.nodes[i]!, cluster.token, user, password);
  return { status: r.status, at: r.returnedAt };
}

it('a node frozen across the failover flushes the tail the new master lost, and refuses its password', async () => {
  const [n0, , late] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
  expect((await put(0, 'ann', 'ann-kept')).status).toBe(201);
  expect((await put(0, 'bob', 'bob-kept')).status).toBe(201);

  // The lost update: applied and broadcast by the master, confirmed by no replica.
  for (const p of proxies) p.cut('blackhole');
  expect((await put(0, 'ann', 'ann-lost')).status).toBe(504);
  const appliedSeq = (await readHealth(n0))!.applied_seq;
  await waitFor(async () => (await readHealth(late))?.applied_seq === appliedSeq, { timeoutMs: 5000, message: 'the late node did not apply the lost update' });
  // The late node caches what the lost update wrote.
  expect((await tryLogin(late, 'ann', 'ann-lost')).status).toBe(200);
  expect((await tryLogin(late, 'ann', 'ann-lost')).cached).toBe(true);
  const resetsBefore = await metric(late, 'authcache_resets_total');

  process.kill(late.pid!, 'SIGSTOP');
  const old = await sentinel.master();
  await old.kill();
  const master = await sentinel.awaitMaster({ not: old });

  // On the new master: ann's change takes the seq the lost update had; then one for bob (bounded retries).
  let annChanged: { status: number; at: number } | undefined;
  for (let i = 0; i < 200 && !annChanged; i++) {
    const r = await put(0, 'ann', 'ann-new');
    if (r.status === 200) annChanged = r;
    else await new Promise((res) => setTimeout(res, 50));
  }
  expect(annChanged).toBeDefined();
  await waitFor(async () => (await put(1, 'bob', 'bob-new')).status === 200, { timeoutMs: 10_000, intervalMs: 50, message: 'bob could not be changed on the new master' });
  const masterSeq = await withRedis(master.url, async (r) => Number(await r.get(`${NAME}:seq`)));
  expect(masterSeq).toBeGreaterThanOrEqual(appliedSeq);

  process.kill(late.pid!, 'SIGCONT');
  await waitFor(
    async () => {
      const h = await readHealth(late);
      return h?.httpStatus === 200 && h.status === 'UP' && h.applied_seq === masterSeq;
    },
    { timeoutMs: 15_000, message: 'the late node did not come back on the new master' },
  );

  // Past the bound of the change that replaced it, the lost password is refused, the new one accepted.
  await waitFor(() => Date.now() > annChanged!.at + MAX_STALENESS_MS, { timeoutMs: MAX_STALENESS_MS + 1000, intervalMs: 50 });
  expect((await tryLogin(late, 'ann', 'ann-lost')).status).toBe(401);
  expect((await tryLogin(late, 'ann', 'ann-new')).status).toBe(200);
  expect((await tryLogin(late, 'bob', 'bob-new')).status).toBe(200);
  expect(await metric(late, 'authcache_resets_total')).toBeGreaterThan(resetsBefore);
  process.stdout.write(`lost tail: the late node had applied seq ${appliedSeq}; the new master reached ${masterSeq}; the late node flushed and refuses the lost password\n`);
}, 120_000);
