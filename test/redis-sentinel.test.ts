/**
 * Redis Sentinel, with real processes (issue 16; docs/architecture.md, "Redis topologies"): a master,
 * two replicas and three sentinels started by the testkit, three nodes on AUTHCACHE_REDIS_SENTINELS
 * (password-protected) with AUTHCACHE_REDIS_MIN_REPLICAS=1. A stream of password changes runs while
 *  1. replication is cut (the replicas reach the master through TCP proxies, blackholed): changes
 *     are applied and broadcast by the master but no replica confirms them, so they answer 504,
 *     never a silent 200 — and they are the tail the failover loses;
 *  2. the master is SIGKILLed: Sentinel promotes a replica, every node follows without a restart.
 * Afterwards every change that answered 200 is in force on every node (older passwords refused),
 * the lost tail is gone from every node (each flushed once: applied seq ahead of the new master),
 * and no revoked password was accepted later than max staleness after its revoking call returned.
 */
import { startCluster, startSentinel, startTcpProxy, waitFor, type ClusterHandle, type NodeHandle, type SentinelHandle, type TcpProxy } from '@authcache/testkit';
import { metricOnAll, readHealth, trySetPassword, tryLogin, withRedis, type LoginSample } from './support/faults';

const MAX_STALENESS_MS = 3000;
const USERS = ['ann', 'bob', 'cyd', 'dee'];

let sentinel: SentinelHandle;
let cluster: ClusterHandle;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  sentinel = await startSentinel({
    replicas: 2,
    // The nodes authenticate to the sentinels (AUTHCACHE_REDIS_SENTINEL_PASSWORD, in sentinel.env).
    sentinelPassword: 'sentinel-secret',
    replicateVia: async (masterPort) => {
      const p = await startTcpProxy({ targetPort: masterPort });
      proxies.push(p);
      return p.port;
    },
  });
  cluster = await startCluster({
    // Not used in sentinel mode: the sentinels name the master.
    redisUrl: 'redis://127.0.0.1:1',
    cluster: 'sentinel-suite',
    env: {
      ...sentinel.env,
      AUTHCACHE_REDIS_MIN_REPLICAS: '1',
      AUTHCACHE_REDIS_REPLICA_WAIT_MS: '200',
      AUTHCACHE_HEARTBEAT_MS: '250',
      AUTHCACHE_MAX_STALENESS_MS: String(MAX_STALENESS_MS),
    },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await Promise.all(proxies.map((p) => p.close()));
  await sentinel?.stop();
}, 60_000);

interface Change {
  user: string;
  password: string;
  status: number;
  body: string;
  sentAt: number;
  returnedAt: number;
}

async function change(node: NodeHandle, user: string, password: string): Promise<Change> {
  const r = await trySetPassword(node, cluster.token, user, password);
  return { user, password, status: r.status, body: r.body, sentAt: r.sentAt, returnedAt: r.returnedAt };
}

it('survives a master SIGKILLed mid-stream: no acknowledged change lost, no revoked password accepted late', async () => {
  const changes: Change[] = [];
  /** password -> when the first 200 call that replaced it returned */
  const revokedAt = new Map<string, { user: string; at: number }>();
  let n = 0;
  const next = async (): Promise<Change> => {
    const user = USERS[n % USERS.length]!;
    const c = await change(cluster.nodes[n % cluster.nodes.length]!, user, `${user}-pw-${n}`);
    n++;
    changes.push(c);
    if (c.status === 200 || c.status === 201) {
      for (const earlier of changes) if (earlier.user === user && earlier !== c && !revokedAt.has(earlier.password)) revokedAt.set(earlier.password, { user, at: c.returnedAt });
    }
    return c;
  };

  // A sampler, concurrent with the stream: revoked passwords tried on every node (bounded in time).
  const samples: LoginSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    const until = Date.now() + 90_000;
    for (let i = 0; sampling && Date.now() < until; i++) {
      const revoked = [...revokedAt.entries()];
      if (revoked.length > 0) {
        const [password, { user }] = revoked[i % revoked.length]!;
        samples.push(...(await Promise.all(cluster.nodes.map((node) => tryLogin(node, user, password, 2000)))));
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  })();

  // 1. Healthy: every change is confirmed by a replica.
  for (let i = 0; i < 8; i++) expect([200, 201]).toContain((await next()).status);

  // 2. Replication cut: the master applies and broadcasts, no replica confirms. 504, with the seq.
  for (const p of proxies) p.cut('blackhole');
  const unconfirmed: Change[] = [];
  for (let i = 0; i < USERS.length; i++) unconfirmed.push(await next());
  for (const c of unconfirmed) {
    expect(c.status).toBe(504);
    expect(JSON.parse(c.body).error).toMatch(/^outcome unknown: .*0 of 1 required replicas confirmed update \d+/);
  }
  const appliedBefore = Math.max(...(await Promise.all(cluster.nodes.map(readHealth))).map((h) => h?.applied_seq ?? 0));
  const resetsBefore = await metricOnAll(cluster.nodes, 'authcache_resets_total');

  // 3. The master dies; the stream goes on until 12 changes succeed on the new master (bounded).
  const old = await sentinel.master();
  await old.kill();
  const killedAt = Date.now();
  let firstSuccessAt = 0;
  let successes = 0;
  for (let i = 0; i < 400 && successes < 12 && Date.now() - killedAt < 45_000; i++) {
    const c = await next();
    if (c.status === 200) {
      successes++;
      firstSuccessAt ||= c.returnedAt;
    } else {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  expect(successes).toBe(12);
  const master = await sentinel.awaitMaster({ not: old });
  const promotedMs = Date.now() - killedAt;

  // Every node on the new master, at its seq, UP (no restart).
  const seq = await waitFor(
    async () => {
      const s = await withRedis(master.url, async (r) => Number(await r.get('sentinel-suite:seq')));
      const hs = await Promise.all(cluster.nodes.map(readHealth));
      return hs.every((h) => h?.httpStatus === 200 && h.status === 'UP' && h.applied_seq === s) ? s : undefined;
    },
    { timeoutMs: 15_000, message: 'nodes did not converge on the new master' },
  );
  const convergedMs = Date.now() - killedAt;
  // The subscriber connections followed too: once every member heartbeats again, a change is acked by all.
  const acked = await waitFor(
    async () => {
      const c = await next();
      return c.status === 200 && JSON.parse(c.body).nodes.successful === 3 ? JSON.parse(c.body).nodes : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 100, message: 'no change was acked by every node after the failover' },
  );
  expect(acked).toMatchObject({ total: 3, successful: 3, failed: 0 });
  // The lost tail: nodes had applied seqs the new master never saw; each detected it and flushed.
  const resetsAfter = await metricOnAll(cluster.nodes, 'authcache_resets_total');
  // Once per node, not a flush per heartbeat: the new epoch is adopted after the first one.
  resetsAfter.forEach((v, i) => expect(v - resetsBefore[i]!).toBeGreaterThanOrEqual(1));
  resetsAfter.forEach((v, i) => expect(v - resetsBefore[i]!).toBeLessThanOrEqual(2));

  // Past the bound for the last revocation, stop sampling.
  const lastRevocation = Math.max(...[...revokedAt.values()].map((r) => r.at));
  await waitFor(() => Date.now() > lastRevocation + MAX_STALENESS_MS + 500, { timeoutMs: 10_000, intervalMs: 100 });
  sampling = false;
  await sampler;

  // Every change that answered 200 is in force everywhere: per user, the last 200, or a later change
  // whose outcome was unknown (it may stand); every password a 200 replaced is refused everywhere.
  for (const user of USERS) {
    const mine = changes.filter((c) => c.user === user);
    const lastOk = mine.map((c) => c.status === 200 || c.status === 201).lastIndexOf(true);
    const allowed = new Set(mine.slice(lastOk).map((c) => c.password));
    for (const node of cluster.nodes) {
      const results = await Promise.all(mine.map((c) => tryLogin(node, user, c.password)));
      const accepted = results.filter((r) => r.status === 200).map((r) => r.password);
      expect(results.filter((r) => r.status !== 200 && r.status !== 401)).toEqual([]);
      expect(accepted).toHaveLength(1);
      expect(allowed).toContain(accepted[0]);
    }
  }
  for (const c of unconfirmed) expect(revokedAt.has(c.password)).toBe(true);

  // No revoked password accepted later than max staleness after its revoking call returned.
  const late = samples.filter((s) => s.status === 200 && s.sentAt > revokedAt.get(s.password)!.at + MAX_STALENESS_MS);
  expect(late).toEqual([]);

  process.stdout.write(
    `sentinel failover: killed master :${old.port}; promoted :${master.port} agreed by all sentinels after ${promotedMs} ms; ` +
      `first 200 after ${firstSuccessAt - killedAt} ms; all nodes converged at seq ${seq} after ${convergedMs} ms; ` +
      `${changes.length} changes (${changes.filter((c) => c.status === 200 || c.status === 201).length} ok, ${changes.filter((c) => c.status === 504).length} 504, ` +
      `${changes.filter((c) => c.status === 503).length} 503, ${changes.filter((c) => c.status === 0).length} no answer); applied seq before the kill ${appliedBefore}; ` +
      `${samples.length} revoked-password probes, ${samples.filter((s) => s.status === 200).length} accepted within the bound, 0 late\n`,
  );
}, 150_000);
