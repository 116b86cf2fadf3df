/**
 * Grants of permissions in PostgreSQL (docs/architecture.md, "Permissions and impersonation"),
 * against a real PostgreSQL and a real Redis (the relay lease): the shared permission-store
 * contract, the `role_permissions` table of schema version 2 (Cassandra's shape), its trigger and
 * the relay's ONE invalidation per batch of SQL changes, limited to the authorization caches.
 */
import { Redis } from 'ioredis';
import { clusterNames, type Propagation } from '@authcache/protocol';
import pino from 'pino';
import { waitFor } from '@authcache/testkit';
import type { StoreOp } from '../src/bus/transport';
import type { Config } from '../src/config';
import { loadPostgresConfig } from '../src/roles/postgres/config';
import { PostgresRoleStore } from '../src/roles/postgres/index';
import { describePermissionStore, propagation } from './permissions-support';
import { usePostgresStores } from './support/postgres-role-stores';

const log = pino({ level: 'silent' });
const suite = usePostgresStores('p_');
const { freshSchema } = suite;

interface Invalidation {
  users: string[];
  caches: string[] | undefined;
}

/** A store as a node builds it, recording what it invalidates; `redis: false`: no relay. */
async function makeStore(schema: string, opts: { redis?: boolean; nodeId?: string } = {}) {
  const calls: Invalidation[] = [];
  const { store, close } = await suite.openStore(schema, {
    ...opts,
    invalidate: async (users, _ops, caches) => {
      calls.push({ users: [...users], caches });
      return propagation(calls.length);
    },
  });
  await store.start();
  const published: StoreOp[][] = [];
  const publish = async (ops: StoreOp[]): Promise<Propagation> => {
    published.push(ops);
    return propagation(published.length);
  };
  return { store, perms: store.permissionStore, calls, published, publish, close };
}

const pending = (schema: string) => suite.pg.query(`SELECT 1 FROM ${schema}.role_changes WHERE published_at IS NULL`);

describePermissionStore(
  'postgres',
  async () => {
    const h = await makeStore(freshSchema(), { redis: false });
    return { store: h.perms, published: h.published, publish: h.publish, close: () => h.close() };
  },
  { outbox: true },
);

describe('postgres permissions', () => {
  test('a grant is a row of role_permissions (Cassandra shape), its change record published by the writer', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema, { redis: false });
    await h.perms.grant('readers', 'data/ks', ['select', 'DESCRIBE'], h.publish);
    expect(await suite.pg.query(`SELECT role, resource, permissions FROM ${schema}.role_permissions`)).toEqual([{ role: 'readers', resource: 'data/ks', permissions: ['DESCRIBE', 'SELECT'] }]);
    expect(await suite.pg.query(`SELECT op, role, resource, origin, new_permissions FROM ${schema}.role_changes WHERE resource IS NOT NULL`)).toEqual([
      { op: 'INSERT', role: 'readers', resource: 'data/ks', origin: 'n0', new_permissions: ['DESCRIBE', 'SELECT'] },
    ]);
    expect(await pending(schema)).toEqual([]);
    expect(h.published).toEqual([[]]);
  });

  test('an existing role_permissions table (copied from Cassandra) is used as it is; one with a wrong column is refused', async () => {
    const schema = freshSchema();
    await suite.pg.query(`CREATE SCHEMA ${schema}`);
    await suite.pg.query(`CREATE TABLE ${schema}.role_permissions (role text, resource text, permissions text[])`);
    await suite.pg.query(`INSERT INTO ${schema}.role_permissions VALUES ('app', 'data/ks', '{SELECT,modify}'), ('app', 'data/ks', '{DROP}'), ('app', 'roles/bob', NULL)`);
    const h = await makeStore(schema, { redis: false });
    const g = await h.perms.grantsOf(['app']);
    expect([...g.get('app')!]).toEqual([['data/ks', ['DROP', 'MODIFY', 'SELECT']]]);

    const bad = freshSchema();
    await suite.pg.query(`CREATE SCHEMA ${bad}`);
    await suite.pg.query(`CREATE TABLE ${bad}.role_permissions (role text, resource text, permissions text)`);
    const b = new PostgresRoleStore(loadPostgresConfig({ AUTHCACHE_POSTGRES_URL: suite.pg.url, AUTHCACHE_POSTGRES_SCHEMA: bad }), {
      config: { nodeId: 'b', ackTimeoutMs: 500 } as Config,
      log,
      redis: new Redis({ lazyConnect: true, enableOfflineQueue: false }),
      names: clusterNames(`c${bad}`),
      invalidate: async () => propagation(1),
    });
    await expect(b.start()).rejects.toThrow(/role_permissions cannot be used as authcache's permissions table: permissions is text, not _text/);
    await b.stop();
  });

  test('changes made in SQL: ONE invalidation per batch of the role and its holders, only the authorization caches', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema);
    await h.store.upsert('readers', {});
    await h.store.upsert('staff', { memberOf: ['readers'] });
    await h.store.upsert('alice', { canLogin: true, memberOf: ['staff'] });
    await waitFor(() => h.store.relay.isRelaying, { timeoutMs: 5000 });
    await waitFor(async () => (await pending(schema)).length === 0, { timeoutMs: 5000 });
    const since = () => h.calls.length;
    let n = since();
    await suite.pg.query(`INSERT INTO ${schema}.role_permissions (role, resource, permissions) VALUES ('readers', 'data/ks', '{SELECT}')`);
    await waitFor(() => h.calls.length > n, { timeoutMs: 5000, message: 'the relay did not publish the SQL grant' });
    expect(h.calls.slice(n)).toEqual([{ users: ['alice', 'readers', 'staff'], caches: ['permissions', 'impersonation'] }]);
    expect((await h.perms.grantsOf(['readers'])).get('readers')!.get('data/ks')).toEqual(['SELECT']);

    n = since();
    await suite.pg.query(`BEGIN; UPDATE ${schema}.role_permissions SET permissions = '{SELECT,MODIFY}' WHERE role = 'readers'; INSERT INTO ${schema}.role_permissions VALUES ('alice', 'data', '{ALL}'); COMMIT`);
    await waitFor(() => h.calls.length > n, { timeoutMs: 5000 });
    expect(h.calls.slice(n)).toEqual([{ users: ['alice', 'readers', 'staff'], caches: ['permissions', 'impersonation'] }]);

    n = since();
    await suite.pg.query(`UPDATE ${schema}.role_permissions SET permissions = permissions WHERE role = 'alice'`); // changes nothing: no record
    await suite.pg.query(`DELETE FROM ${schema}.role_permissions WHERE role = 'alice'`);
    await waitFor(() => h.calls.length > n, { timeoutMs: 5000 });
    expect(h.calls.slice(n)).toEqual([{ users: ['alice'], caches: ['permissions', 'impersonation'] }]);

    n = since();
    await suite.pg.query(`TRUNCATE ${schema}.role_permissions`);
    await waitFor(() => h.calls.length > n, { timeoutMs: 5000 });
    expect(h.calls.slice(n)).toEqual([{ users: ['alice', 'readers', 'staff'], caches: ['permissions', 'impersonation'] }]);
    expect(await h.perms.list()).toEqual([]);

    // A batch mixing a role change and a permission change: one invalidation of every cache.
    n = since();
    await suite.pg.query(`BEGIN; UPDATE ${schema}.roles SET can_login = false WHERE role = 'alice'; INSERT INTO ${schema}.role_permissions VALUES ('staff', 'data', '{SELECT}'); COMMIT`);
    await waitFor(() => h.calls.length > n, { timeoutMs: 5000 });
    expect(h.calls.slice(n)).toEqual([{ users: ['alice', 'staff'], caches: undefined }]);
    await waitFor(async () => (await pending(schema)).length === 0, { timeoutMs: 5000 });
  });

  test('a dropped role takes its grants with it, in the same transaction and the same invalidation', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema, { redis: false });
    await h.store.upsert('temp', {});
    await h.perms.grant('temp', 'data', ['ALL'], h.publish);
    const before = h.calls.length;
    await h.store.drop('temp');
    expect(h.calls.length).toBe(before + 1);
    expect(await h.perms.list('temp')).toEqual([]);
    // The trigger's records of the deleted grants were claimed and published with the drop.
    expect(await pending(schema)).toEqual([]);
  });

  test('concurrent grants on one role from two stores (two nodes) on one database: none is lost', async () => {
    const schema = freshSchema();
    const a = await makeStore(schema, { redis: false, nodeId: 'a' });
    const b = await makeStore(schema, { redis: false, nodeId: 'b' });
    const perms = Array.from({ length: 40 }, (_, i) => `P${String(i).padStart(2, '0')}`);
    await Promise.all(perms.map((p, i) => (i % 2 === 0 ? a : b).perms.grant('busy', 'data', [p], i % 2 === 0 ? a.publish : b.publish)));
    expect(await a.perms.list('busy')).toEqual([{ role: 'busy', resource: 'data', permissions: perms }]);
  });
});
