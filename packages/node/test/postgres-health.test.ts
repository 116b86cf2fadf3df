/**
 * The PostgreSQL store while its database goes away and comes back (a server of this suite's own):
 * health 'down', reads and writes 'unavailable' (nothing written), then recovery without any
 * call, and the change record read from where it stopped.
 */
import { clusterNames } from '@authcache/protocol';
import pino from 'pino';
import { Redis } from 'ioredis';
import type { Propagation } from '@authcache/protocol';
import { startPostgres, startRedis, waitFor, type PostgresHandle, type RedisHandle } from '@authcache/testkit';
import { loadPostgresConfig } from '../src/roles/postgres/config';
import { PostgresRoleStore } from '../src/roles/postgres/index';
import type { Config } from '../src/config';

let pg: PostgresHandle;
let redisServer: RedisHandle;
let redis: Redis;
let store: PostgresRoleStore;
const calls: string[][] = [];

beforeAll(async () => {
  [pg, redisServer] = await Promise.all([startPostgres({ preferOwn: true }), startRedis()]);
  redis = new Redis(redisServer.url);
  store = new PostgresRoleStore(
    loadPostgresConfig({ AUTHCACHE_POSTGRES_URL: pg.url, AUTHCACHE_POSTGRES_POLL_MS: '100', AUTHCACHE_POSTGRES_RELAY_LEASE_MS: '600', AUTHCACHE_POSTGRES_CONNECT_TIMEOUT_MS: '1000' }),
    {
      config: { nodeId: 'n0', ackTimeoutMs: 500 } as Config,
      log: pino({ level: 'silent' }),
      redis,
      names: clusterNames('health'),
      invalidate: async (u): Promise<Propagation> => {
        calls.push(u);
        return { seq: calls.length, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [] };
      },
    },
  );
  await store.start();
}, 60_000);

afterAll(async () => {
  await store?.stop();
  redis?.disconnect();
  await pg?.stop();
  await redisServer?.stop();
}, 60_000);

test('PostgreSQL killed: health down, reads and writes unavailable; back: up again, changes made meanwhile published', async () => {
  await store.upsert('alice', { canLogin: true });
  await waitFor(() => store.relay.isRelaying, { timeoutMs: 5000 });
  expect(store.health()).toBe('up');

  await pg.kill();
  await waitFor(() => store.health() === 'down', { timeoutMs: 5000, message: 'health stayed up with PostgreSQL dead' });
  await expect(store.getCredentials('alice')).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/PostgreSQL unreachable/) });
  await expect(store.upsert('bob', {})).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/nothing was written/) });

  await pg.restart();
  await waitFor(() => store.health() === 'up', { timeoutMs: 5000, message: 'health did not recover by itself' });
  expect(await store.getCredentials('alice')).toEqual({ hash: undefined, canLogin: true });
  expect(await store.get('bob')).toBeNull();

  // A change made in SQL right after the restart reaches the relay (LISTEN reconnected or the poll).
  const before = calls.length;
  await pg.query(`UPDATE authcache.roles SET can_login = false WHERE role = 'alice'`);
  await waitFor(() => calls.length > before, { timeoutMs: 5000, message: 'no publish after the restart' });
  expect(calls.at(-1)).toEqual(['alice']);
}, 30_000);

test('PostgreSQL stopped (fast shutdown) and restarted: the next SQL change is published, nothing left pending', async () => {
  const before = calls.length;
  await pg.stop();
  await pg.restart();
  await pg.query(`INSERT INTO authcache.roles (role, can_login) VALUES ('carol', true)`);
  await waitFor(() => calls.slice(before).some((c) => c.includes('carol')), { timeoutMs: 5000 });
  expect(await pg.query(`SELECT count(*)::int AS n FROM authcache.role_changes WHERE published_at IS NULL`)).toEqual([{ n: 0 }]);
}, 30_000);
