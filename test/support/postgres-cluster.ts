/**
 * What the cross-process suites on AUTHCACHE_BACKEND=postgres share: a PostgreSQL, a Redis and three
 * nodes using one schema of the suite's own (the PostgreSQL may be shared, so the schema is dropped
 * at the end), and the wait for the change relay to have published every change made in SQL.
 */
import { startPostgres, startRedis, waitFor, type PostgresHandle } from '@authcache/testkit';
import { SETUP_TIMEOUT_MS, startSuiteCluster, type Suite } from '../support';

export interface PostgresSuite extends Suite {
  pg: PostgresHandle;
}

/**
 * Registers beforeAll/afterAll for the servers and the cluster, like useCluster(); the returned
 * object is filled in by beforeAll. afterAll stops whatever did start, also when beforeAll or the
 * tests failed.
 */
export function usePostgresCluster(schema: string): PostgresSuite {
  const suite = {} as PostgresSuite;
  beforeAll(async () => {
    [suite.pg, suite.redis] = await Promise.all([startPostgres(), startRedis()]);
    await startSuiteCluster(suite, { env: { AUTHCACHE_BACKEND: 'postgres', AUTHCACHE_POSTGRES_URL: suite.pg.url, AUTHCACHE_POSTGRES_SCHEMA: schema } });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    try {
      await suite.cluster?.stop();
    } finally {
      await Promise.all([suite.redis?.stop(), suite.pg?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)]);
      await suite.pg?.stop();
    }
  }, SETUP_TIMEOUT_MS);
  return suite;
}

/**
 * Until the relay has published every recorded change (it waits for the nodes' acks before marking
 * one published): a cache warmed before that could be invalidated by the change's own update.
 */
export async function changesPublished(pg: PostgresHandle, schema: string): Promise<void> {
  await waitFor(async () => (await pg.query(`SELECT 1 FROM ${schema}.role_changes WHERE published_at IS NULL`)).length === 0, {
    timeoutMs: 5000,
    intervalMs: 10,
    message: 'changes left unpublished',
  });
}
