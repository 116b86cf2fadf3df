/**
 * The PostgreSQL backend under faults, with a PostgreSQL and a Redis of the suite's own and three
 * node processes with short timings: the node relaying SQL changes is SIGKILLed (another takes
 * over and nothing is lost), PostgreSQL stops (cached logins go on, uncached ones get 503) and
 * comes back (changes made in SQL propagate again, the node that was away catches up).
 */
import { randomBytes } from 'node:crypto';
import { AuthcacheClient } from '@authcache/client';
import { startCluster, startPostgres, startRedis, waitFor, withConnection, type ClusterHandle, type NodeHandle, type PostgresHandle, type RedisHandle } from '@authcache/testkit';
import { Passwords } from '../packages/node/src/roles/passwords';
import { call } from './support';

const SETUP_TIMEOUT_MS = 90_000;
const LEASE_MS = 1000;
/** Takeover: the lease runs out, the next renewal (lease/3) takes it, then one poll or NOTIFY. */
const TAKEOVER_DEADLINE_MS = LEASE_MS + 3000;

let pg: PostgresHandle;
let redis: RedisHandle;
let cluster: ClusterHandle;
const roles = 'authcache.roles';
const passwords = new Passwords(4, 1);
const RELAYS = 'this node relays changes made in PostgreSQL';

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres({ preferOwn: true }), startRedis({ preferOwn: true })]);
  cluster = await startCluster({
    redisUrl: redis.url,
    cluster: `pf${randomBytes(4).toString('hex')}`,
    env: {
      AUTHCACHE_BACKEND: 'postgres',
      AUTHCACHE_POSTGRES_URL: pg.url,
      AUTHCACHE_POSTGRES_RELAY_LEASE_MS: String(LEASE_MS),
      AUTHCACHE_POSTGRES_CONNECT_TIMEOUT_MS: '1000',
      AUTHCACHE_HEARTBEAT_MS: '200',
      AUTHCACHE_MAX_STALENESS_MS: '1500',
      AUTHCACHE_ACK_TIMEOUT_MS: '800',
    },
  });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  try {
    await cluster?.stop();
  } finally {
    await Promise.all([redis?.stop(), pg?.stop()]);
  }
}, SETUP_TIMEOUT_MS);

const clientOf = (n: NodeHandle) => new AuthcacheClient({ nodes: [n.url], token: cluster.token });

async function statuses(nodes: NodeHandle[], username: string, password: string): Promise<number[]> {
  const replies = await Promise.all(nodes.map((n) => call(n.url, 'POST', '/v1/login', { json: { username, password } })));
  return replies.map((r) => r.status);
}

async function warm(nodes: NodeHandle[], username: string, password: string): Promise<void> {
  for (let i = 0; i < 2; i++) await Promise.all(nodes.map((n) => clientOf(n).login(username, password)));
  expect((await Promise.all(nodes.map((n) => clientOf(n).login(username, password)))).map((r) => r.cached)).toEqual(nodes.map(() => true));
}

async function sqlUser(name: string, password: string): Promise<void> {
  await pg.query(`INSERT INTO ${roles} (role, salted_hash, can_login) VALUES ($1, $2, true)`, [name, await passwords.hash(password)]);
  await settled();
}

/**
 * Until the relay has published every recorded change (it waits for the nodes' acks before marking
 * one published): a login warmed before that could be invalidated by the creation's own update.
 */
async function settled(timeoutMs = 5000): Promise<void> {
  await waitFor(async () => (await pg.query(`SELECT 1 FROM authcache.role_changes WHERE published_at IS NULL`)).length === 0, { timeoutMs, intervalMs: 10, message: 'changes left unpublished' });
}

/** The node that said last that it relays (each node logs it when it takes the lease). */
function relayingNode(among: NodeHandle[]): NodeHandle | undefined {
  return among.find((n) => n.logs().split(RELAYS).length - 1 > (relayCounts.get(n.id) ?? 0));
}
const relayCounts = new Map<string, number>();

/** The id of the node whose log says last that it took the relay lease. */
function lastRelayer(): string | undefined {
  let best: { id: string; time: number } | undefined;
  for (const n of cluster.nodes) {
    for (const line of n.logs().split('\n')) {
      if (!line.includes(RELAYS)) continue;
      const time = Number(/"time":(\d+)/.exec(line)?.[1] ?? 0);
      if (!best || time > best.time) best = { id: n.id, time };
    }
  }
  return best?.id;
}

test('the relaying node is SIGKILLed: another node takes over and an SQL change still reaches every live node', async () => {
  const holder = await waitFor(() => relayingNode(cluster.nodes), { timeoutMs: 5000, message: 'no node took the relay lease' });
  for (const n of cluster.nodes) relayCounts.set(n.id, n.logs().split(RELAYS).length - 1);
  const others = cluster.nodes.filter((n) => n !== holder);
  await sqlUser('k-alice', 'pw');
  await warm(others, 'k-alice', 'pw');

  await holder.kill();
  const t0 = Date.now();
  await pg.query(`UPDATE ${roles} SET can_login = false WHERE role = 'k-alice'`);
  await waitFor(async () => (await statuses(others, 'k-alice', 'pw')).every((s) => s === 401), {
    timeoutMs: TAKEOVER_DEADLINE_MS,
    intervalMs: 20,
    message: 'the change made after the relay died never reached the live nodes',
  });
  const took = Date.now() - t0;
  expect(relayingNode(others)).toBeDefined();
  console.log(`relay takeover: SQL change refused on the 2 live nodes ${took} ms after the holder was SIGKILLed (lease ${LEASE_MS} ms)`);

  // The killed node comes back and sees the change too (its caches start empty).
  await holder.restart();
  expect(await statuses(cluster.nodes, 'k-alice', 'pw')).toEqual([401, 401, 401]);
}, 30_000);

test('the writing node dies between COMMIT and publish: the relay publishes the change when the claim runs out', async () => {
  const relayId = await waitFor(() => lastRelayer(), { timeoutMs: 5000 });
  const relay = cluster.nodes.find((n) => n.id === relayId)!;
  const writer = cluster.nodes.find((n) => n !== relay)!;
  await sqlUser('w-eve', 'pw');
  await warm(cluster.nodes, 'w-eve', 'pw');
  // Redis refuses writes for 2 s: the writer's publish stalls after its COMMIT, and we kill it then.
  await withConnection(redis.url, (r) => r.call('CLIENT', 'PAUSE', '2000', 'WRITE'));
  const put = call(writer.url, 'PUT', '/v1/roles/w-eve', { token: cluster.token, json: { login: false } }).catch(() => undefined);
  await waitFor(async () => (await pg.query<{ can_login: boolean }>(`SELECT can_login FROM ${roles} WHERE role = 'w-eve'`))[0]?.can_login === false, { timeoutMs: 3000, intervalMs: 5 });
  await writer.kill();
  await put;
  const pending = await pg.query<{ origin: string }>(`SELECT origin FROM authcache.role_changes WHERE role = 'w-eve' AND published_at IS NULL`);
  expect(pending).toEqual([{ origin: writer.id }]);
  // Published by the relay once Redis takes writes again and the dead writer's claim ran out.
  await settled(8000);
  await waitFor(() => relay.logs().split('\n').some((l) => l.includes('changes published') && l.includes('"w-eve"')), { timeoutMs: 3000, message: 'the relay did not publish the dead writer\'s change' });
  const live = cluster.nodes.filter((n) => n !== writer);
  expect(await statuses(live, 'w-eve', 'pw')).toEqual([401, 401]);
  await writer.restart();
}, 30_000);

test('PostgreSQL stopped: cached logins answered, uncached 503; restarted: SQL changes propagate again', async () => {
  await sqlUser('d-cached', 'pw');
  await sqlUser('d-uncached', 'pw');
  await sqlUser('d-later', 'pw');
  await warm(cluster.nodes, 'd-cached', 'pw');
  await warm(cluster.nodes, 'd-later', 'pw');

  await pg.stop();
  expect(await statuses(cluster.nodes, 'd-cached', 'pw')).toEqual([200, 200, 200]);
  const uncached = await Promise.all(cluster.nodes.map((n) => call(n.url, 'POST', '/v1/login', { json: { username: 'd-uncached', password: 'pw' } })));
  expect(uncached.map((r) => r.status)).toEqual([503, 503, 503]);
  expect(uncached[0]!.json).toEqual({ error: 'authentication backend unreachable' });
  // An admin write cannot be made either: 503, nothing written (checked once PostgreSQL is back).
  const put = await call(cluster.nodes[0]!.url, 'PUT', '/v1/roles/d-new', { token: cluster.token, json: { login: true } });
  expect(put.status).toBe(503);

  await pg.restart();
  expect(await pg.query(`SELECT 1 FROM ${roles} WHERE role = 'd-new'`)).toEqual([]);
  // Recovery needs no call: the uncached login works again once PostgreSQL answers.
  await waitFor(async () => (await statuses(cluster.nodes, 'd-uncached', 'pw')).every((s) => s === 200), { timeoutMs: 10_000, intervalMs: 50, message: 'logins did not recover' });
  const t0 = Date.now();
  await pg.query(`UPDATE ${roles} SET can_login = false WHERE role = 'd-later'`);
  await waitFor(async () => (await statuses(cluster.nodes, 'd-later', 'pw')).every((s) => s === 401), {
    timeoutMs: 3000,
    intervalMs: 20,
    message: 'an SQL change after the restart did not propagate',
  });
  console.log(`after PostgreSQL restart: SQL change refused on all 3 nodes in ${Date.now() - t0} ms`);
}, 45_000);

test('a node restarted while SQL changes happen catches up: nothing pending is left, every node refuses', async () => {
  const node = cluster.nodes[2]!;
  const names = Array.from({ length: 5 }, (_, i) => `r-${i}`);
  for (const n of names) await sqlUser(n, 'pw');
  for (const n of names) await warm(cluster.nodes, n, 'pw');
  const restarting = node.restart();
  for (const n of names) await pg.query(`UPDATE ${roles} SET can_login = false WHERE role = $1`, [n]);
  await restarting;
  await waitFor(
    async () => {
      for (const n of names) if (!(await statuses(cluster.nodes, n, 'pw')).every((s) => s === 401)) return false;
      return true;
    },
    { timeoutMs: 5000, intervalMs: 50, message: 'a change made while a node restarted was lost' },
  );
  await waitFor(async () => (await pg.query(`SELECT 1 FROM authcache.role_changes WHERE published_at IS NULL`)).length === 0, { timeoutMs: 3000 });
}, 45_000);
