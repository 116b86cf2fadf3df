/**
 * What the PostgreSQL backend suites share: a real PostgreSQL and a real Redis (for the relay
 * lease) for the suite, a schema of its own for each test (so a suite also runs against a shared
 * server), and PostgresRoleStores built as a node builds them, closed at the end of the suite.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Redis } from 'ioredis';
import { clusterNames } from '@authcache/protocol';
import { startPostgres, startRedis, waitFor, type PostgresHandle, type RedisHandle } from '@authcache/testkit';
import type { Config } from '../../src/config';
import type { BackendDeps } from '../../src/roles/backends';
import { loadPostgresConfig, type PostgresConfig } from '../../src/roles/postgres/config';
import { PostgresRoleStore } from '../../src/roles/postgres/index';

export interface StoreOptions {
  /** false: a Redis the store never connects (no relay). */
  redis?: boolean;
  nodeId?: string;
  /** More AUTHCACHE_POSTGRES_* settings, over the suite's. */
  extra?: Record<string, string>;
  invalidate: BackendDeps['invalidate'];
}

export interface OpenedStore {
  store: PostgresRoleStore;
  close(): Promise<void>;
}

export interface PostgresStoreSuite {
  /** The suite's PostgreSQL (set by beforeAll). */
  readonly pg: PostgresHandle;
  /** A schema name no other test uses, starting with `prefix`. */
  freshSchema(): string;
  /** The store's configuration on `schema`, with a short poll and relay lease so that tests are quick. */
  config(schema: string, extra?: Record<string, string>): PostgresConfig;
  /** A store (not started) as a node builds it, closed with the suite if the test does not. */
  openStore(schema: string, opts: StoreOptions): Promise<OpenedStore>;
}

/** Registers beforeAll/afterAll for the servers of one suite; `prefix` tells its schemas apart. */
export function usePostgresStores(prefix: string): PostgresStoreSuite {
  const log = pino({ level: 'silent' });
  let pg: PostgresHandle | undefined;
  let redisServer: RedisHandle | undefined;
  const opened: OpenedStore[] = [];

  beforeAll(async () => {
    [pg, redisServer] = await Promise.all([startPostgres(), startRedis()]);
  }, 60_000);
  afterAll(async () => {
    for (const o of opened.splice(0)) await o.close().catch(() => undefined);
    await pg?.stop();
    await redisServer?.stop();
  }, 60_000);

  const suite: PostgresStoreSuite = {
    get pg() {
      if (!pg) throw new Error('the suite has no PostgreSQL: beforeAll did not run or failed');
      return pg;
    },
    freshSchema: () => `${prefix}${randomBytes(5).toString('hex')}`,
    config: (schema, extra = {}) =>
      loadPostgresConfig({ AUTHCACHE_POSTGRES_URL: suite.pg.url, AUTHCACHE_POSTGRES_SCHEMA: schema, AUTHCACHE_POSTGRES_POLL_MS: '100', AUTHCACHE_POSTGRES_RELAY_LEASE_MS: '600', ...extra }),
    async openStore(schema, opts) {
      const redis = opts.redis === false ? new Redis({ lazyConnect: true, enableOfflineQueue: false }) : new Redis(redisServer!.url, { maxRetriesPerRequest: 1 });
      if (opts.redis !== false) await waitFor(() => redis.status === 'ready', { timeoutMs: 5000 });
      const store = new PostgresRoleStore(suite.config(schema, opts.extra), {
        config: { nodeId: opts.nodeId ?? 'n0', ackTimeoutMs: 500 } as Config,
        log,
        redis,
        names: clusterNames(`c${schema}`),
        invalidate: opts.invalidate,
      });
      let closed = false;
      const handle: OpenedStore = {
        store,
        // Once: a test may close its store and the suite closes every store again at the end, and
        // ioredis 5's disconnect() on an ended client arms a 2 s timer nothing clears.
        async close() {
          if (closed) return;
          closed = true;
          await store.stop();
          redis.disconnect();
        },
      };
      opened.push(handle);
      return handle;
    },
  };
  return suite;
}
