/**
 * The PostgreSQL role store against a real PostgreSQL (testkit startPostgres) and a real Redis
 * (for the relay lease): the shared contract, the migration, the outbox and the change relay.
 * Each test gets a schema of its own, so the suite also runs against a shared server.
 */
import type { Propagation } from '@authcache/protocol';
import { waitFor } from '@authcache/testkit';
import { describeRoleStore } from './support/role-store-contract';
import { usePostgresStores } from './support/postgres-role-stores';
import { migrate } from '../src/roles/postgres/migrations';
import { createPool, sqlNames } from '../src/roles/postgres/pg';

const HASH = '$2b$04$abcdefghijklmnopqrstuu5Hq8DzYl1uMqmXJv1cWcZpRvZg9Q0Ba';

const suite = usePostgresStores('t_');
const { freshSchema } = suite;

interface Recorder {
  calls: string[][];
  /** When set, the next publishes throw this (a Redis error between the write and the publish). */
  failWith?: Error;
  invalidate(usernames: string[]): Promise<Propagation>;
}

function recorder(): Recorder {
  const r: Recorder = {
    calls: [],
    async invalidate(usernames) {
      if (r.failWith) throw r.failWith;
      r.calls.push([...usernames]);
      return { seq: r.calls.length, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [] };
    },
  };
  return r;
}

/** A store as a node builds it; `redis: false` gives it a Redis it never connects (no relay). */
async function makeStore(schema: string, opts: { redis?: boolean; rec?: Recorder; nodeId?: string; extra?: Record<string, string> } = {}) {
  const rec = opts.rec ?? recorder();
  const { store, close } = await suite.openStore(schema, { ...opts, invalidate: (u) => rec.invalidate(u) });
  return { store, rec, close };
}

describeRoleStore('postgres', async () => {
  const h = await makeStore(freshSchema(), { redis: false });
  await h.store.start();
  return { store: h.store, invalidations: async () => h.rec.calls, close: () => h.close() };
});

describe('postgres backend', () => {
  test('migration: nodes starting at once migrate once; a restart finds the schema up to date', async () => {
    const n = sqlNames(freshSchema());
    const pools = Array.from({ length: 4 }, () => createPool(suite.config(n.schemaName)));
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p, n)));
      expect(applied.flat()).toEqual([1, 2]);
      expect(await migrate(pools[0]!, n)).toEqual([]);
      const rows = await suite.pg.query(`SELECT version FROM ${n.version}`);
      expect(rows).toEqual([{ version: 1 }, { version: 2 }]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test('an existing roles table (imported from Cassandra) is used as it is; one missing a column is refused', async () => {
    const schema = freshSchema();
    await suite.pg.query(`CREATE SCHEMA ${schema}`);
    // The shape a COPY from system_auth.roles lands in: no defaults, NULLs allowed.
    await suite.pg.query(`CREATE TABLE ${schema}.roles (role text PRIMARY KEY, can_login boolean, is_superuser boolean, member_of text[], salted_hash text)`);
    await suite.pg.query(`INSERT INTO ${schema}.roles VALUES ('cassandra', true, true, NULL, $1), ('app', true, NULL, '{readers}', $1), ('readers', false, false, '{}', NULL)`, [HASH]);
    const h = await makeStore(schema, { redis: false });
    await h.store.start();
    expect(await h.store.getCredentials('cassandra')).toEqual({ hash: HASH, canLogin: true });
    expect(await h.store.resolveRoles('app')).toEqual({ roles: ['readers'], superuser: false });
    expect(await h.store.get('cassandra')).toEqual({ name: 'cassandra', hash: HASH, canLogin: true, superuser: true, memberOf: [] });

    const bad = freshSchema();
    await suite.pg.query(`CREATE SCHEMA ${bad}`);
    await suite.pg.query(`CREATE TABLE ${bad}.roles (role text PRIMARY KEY, salted_hash text, can_login boolean)`);
    const b = await makeStore(bad, { redis: false });
    await expect(b.store.start()).rejects.toThrow(/cannot be used as authcache's roles table: no column is_superuser, no column member_of/);
  });

  test('start fails with one clear error when PostgreSQL is unreachable; reads are unavailable', async () => {
    const h = await makeStore(freshSchema(), { redis: false, extra: { AUTHCACHE_POSTGRES_URL: 'postgres://authcache:secret@127.0.0.1:1/postgres', AUTHCACHE_POSTGRES_CONNECT_TIMEOUT_MS: '500' } });
    const err = await h.store.start().catch((e: Error) => e);
    expect(String(err)).toMatch(/PostgreSQL unreachable at postgres:\/\/authcache:\*\*\*@127\.0\.0\.1:1\/postgres/);
    expect(String(err)).not.toContain('secret');
    expect(h.store.health()).toBe('down');
    await expect(h.store.getCredentials('x')).rejects.toMatchObject({ kind: 'unavailable' });
  });

  test('the trigger records who changed what, with old/new login, password changed or not, grants', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema, { redis: false });
    await h.store.start();
    await h.store.upsert('g', {});
    await suite.pg.query(`INSERT INTO ${schema}.roles (role, salted_hash, can_login, member_of) VALUES ('u', $1, true, '{g}')`, [HASH]);
    await suite.pg.query(`UPDATE ${schema}.roles SET can_login = false WHERE role = 'u'`);
    await suite.pg.query(`UPDATE ${schema}.roles SET can_login = false WHERE role = 'u'`); // changes nothing: no record
    await suite.pg.query(`UPDATE ${schema}.roles SET salted_hash = 'x', member_of = '{}' WHERE role = 'u'`);
    await suite.pg.query(`DELETE FROM ${schema}.roles WHERE role = 'u'`);
    const rows = await suite.pg.query(`SELECT who, origin, op, role, old_can_login, new_can_login, password_changed, old_member_of, new_member_of, published_at IS NOT NULL AS published FROM ${schema}.role_changes ORDER BY id`);
    expect(rows).toEqual([
      { who: 'authcache', origin: 'n0', op: 'INSERT', role: 'g', old_can_login: null, new_can_login: false, password_changed: false, old_member_of: null, new_member_of: [], published: true },
      { who: 'authcache', origin: null, op: 'INSERT', role: 'u', old_can_login: null, new_can_login: true, password_changed: true, old_member_of: null, new_member_of: ['g'], published: false },
      { who: 'authcache', origin: null, op: 'UPDATE', role: 'u', old_can_login: true, new_can_login: false, password_changed: false, old_member_of: ['g'], new_member_of: ['g'], published: false },
      { who: 'authcache', origin: null, op: 'UPDATE', role: 'u', old_can_login: false, new_can_login: false, password_changed: true, old_member_of: ['g'], new_member_of: [], published: false },
      { who: 'authcache', origin: null, op: 'DELETE', role: 'u', old_can_login: false, new_can_login: null, password_changed: true, old_member_of: [], new_member_of: null, published: false },
    ]);
  });

  test('a change made in SQL becomes ONE invalidation of the role and its holders, published by the relay', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema);
    await h.store.start();
    await h.store.upsert('admin', { superuser: true });
    await h.store.upsert('staff', { memberOf: ['admin'] });
    await h.store.upsert('carol', { canLogin: true, hash: HASH, memberOf: ['staff'] });
    await waitFor(() => h.store.relay.isRelaying, { timeoutMs: 5000 });
    const before = h.rec.calls.length;
    await suite.pg.query(`UPDATE ${schema}.roles SET is_superuser = false WHERE role = 'admin'`);
    await waitFor(() => h.rec.calls.length > before, { timeoutMs: 5000, message: 'relay did not publish' });
    expect(h.rec.calls.slice(before)).toEqual([['admin', 'carol', 'staff']]);
    // Several statements in one transaction: still one invalidation.
    const n = h.rec.calls.length;
    await suite.pg.query(`BEGIN; UPDATE ${schema}.roles SET salted_hash = 'y' WHERE role = 'carol'; UPDATE ${schema}.roles SET can_login = true WHERE role = 'staff'; COMMIT`);
    await waitFor(() => h.rec.calls.length > n, { timeoutMs: 5000 });
    expect(h.rec.calls.slice(n)).toEqual([['carol', 'staff']]);
    await waitFor(async () => (await suite.pg.query(`SELECT 1 FROM ${schema}.role_changes WHERE published_at IS NULL`)).length === 0, { timeoutMs: 3000 });
  });

  test('a rename in SQL invalidates both names and the holders of the old one; TRUNCATE invalidates every role', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema);
    await h.store.start();
    await h.store.upsert('ops', {});
    await h.store.upsert('frank', { canLogin: true, hash: HASH, memberOf: ['ops'] });
    await h.store.upsert('gina', { canLogin: true, hash: HASH });
    await waitFor(() => h.store.relay.isRelaying, { timeoutMs: 5000 });
    let n = h.rec.calls.length;
    await suite.pg.query(`UPDATE ${schema}.roles SET role = 'operators' WHERE role = 'ops'`);
    await waitFor(() => h.rec.calls.length > n, { timeoutMs: 5000 });
    expect(h.rec.calls.slice(n)).toEqual([['frank', 'operators', 'ops']]);
    n = h.rec.calls.length;
    await suite.pg.query(`TRUNCATE ${schema}.roles`);
    await waitFor(() => h.rec.calls.length > n, { timeoutMs: 5000 });
    expect(h.rec.calls.slice(n)).toEqual([['frank', 'gina', 'operators']]);
  });

  test('publish fails after COMMIT: the answer says the change stands (504), and the relay publishes it later', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema);
    await h.store.start();
    await waitFor(() => h.store.relay.isRelaying, { timeoutMs: 5000 });
    await h.store.upsert('dave', { canLogin: true, hash: HASH });
    h.rec.failWith = new Error('Connection is closed.');
    const err = await h.store.upsert('dave', { canLogin: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'outcome_unknown', message: expect.stringMatching(/committed in PostgreSQL and stands.*Connection is closed/) });
    expect((await h.store.get('dave'))!.canLogin).toBe(false);
    const before = h.rec.calls.length;
    h.rec.failWith = undefined; // Redis is back
    await waitFor(() => h.rec.calls.length > before, { timeoutMs: 5000, message: 'the relay never published the change' });
    expect(h.rec.calls.at(-1)).toEqual(['dave']);
    expect(await suite.pg.query(`SELECT 1 FROM ${schema}.role_changes WHERE published_at IS NULL`)).toEqual([]);
  });

  test('the writer dies between COMMIT and publish: its claim runs out and the relay publishes', async () => {
    const schema = freshSchema();
    const relayNode = await makeStore(schema, { nodeId: 'relay' });
    await relayNode.store.start();
    await waitFor(() => relayNode.store.relay.isRelaying, { timeoutMs: 5000 });
    // A writer on a node without the lease whose publish never returns (the process froze, then died).
    const frozen = recorder();
    frozen.invalidate = () => new Promise<Propagation>(() => undefined);
    const writer = await makeStore(schema, { redis: false, rec: frozen, nodeId: 'writer' });
    await writer.store.start();
    const t0 = Date.now();
    void writer.store.upsert('erin', { canLogin: true, hash: HASH }).catch(() => undefined);
    await waitFor(() => relayNode.rec.calls.some((c) => c.includes('erin')), { timeoutMs: 8000, message: 'a dead writer\'s change was never published' });
    // The claim (ack timeout 500 ms + 1 s) kept the relay off it, then the relay took it.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  });

  test('relay takeover: changes made while no relay ran are published by the next one, nothing lost or doubled', async () => {
    const schema = freshSchema();
    const a = await makeStore(schema, { nodeId: 'a' });
    await a.store.start();
    await waitFor(() => a.store.relay.isRelaying, { timeoutMs: 5000 });
    await a.store.upsert('x', {});
    await a.close(); // releases the lease
    for (let i = 0; i < 30; i++) await suite.pg.query(`INSERT INTO ${schema}.roles (role) VALUES ($1)`, [`y${String(i).padStart(2, '0')}`]);
    const b = await makeStore(schema, { nodeId: 'b' });
    await b.store.start();
    await waitFor(() => b.rec.calls.flat().length >= 30, { timeoutMs: 5000 });
    expect(b.rec.calls.flat().sort()).toEqual(Array.from({ length: 30 }, (_, i) => `y${String(i).padStart(2, '0')}`));
    expect(b.rec.calls.length).toBeLessThanOrEqual(2);
  });

  test('published records are pruned after the retention', async () => {
    const schema = freshSchema();
    const h = await makeStore(schema, { extra: { AUTHCACHE_POSTGRES_CHANGE_RETENTION_MS: '0' } });
    await h.store.start();
    await waitFor(() => h.store.relay.isRelaying, { timeoutMs: 5000 });
    await suite.pg.query(`INSERT INTO ${schema}.roles (role) VALUES ('p')`);
    await waitFor(async () => (await suite.pg.query(`SELECT 1 FROM ${schema}.role_changes`)).length === 0, { timeoutMs: 5000, message: 'records not pruned' });
    expect(h.rec.calls.flat()).toContain('p');
  });
});
