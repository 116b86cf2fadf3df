/**
 * Permissions on AUTHCACHE_BACKEND=postgres with three real node processes (docs/architecture.md,
 * "Permissions and impersonation"): grants through the API are rows of `role_permissions`, in
 * force on every node when the call returns; grants changed directly in SQL reach every node by
 * themselves (trigger, NOTIFY, the change relay's ONE invalidation of the authorization caches);
 * concurrent grants through two nodes are never lost. No sleeps: each check polls until it holds.
 */
import { randomBytes } from 'node:crypto';
import { waitFor } from '@authcache/testkit';
import { SETUP_TIMEOUT_MS } from './support';
import { changesPublished, usePostgresCluster } from './support/postgres-cluster';

const DEADLINE_MS = 2000;

const schema = `pc_${randomBytes(4).toString('hex')}`;
const perms = `${schema}.role_permissions`;
const suite = usePostgresCluster(schema);

beforeAll(async () => {
  await suite.clients[0]!.putRole('readers', {});
  await suite.clients[0]!.putRole('staff', { roles: ['readers'] });
  await suite.clients[0]!.putRole('alice', { password: 'alice-pw', login: true, roles: ['staff'] });
}, SETUP_TIMEOUT_MS);

const allowedEverywhere = async (resource: string, permission: string) => (await Promise.all(suite.clients.map((c) => c.authorize('alice', resource, permission)))).map((r) => r.allowed);

/** Asks every node twice: afterwards each answers from its caches. */
async function warm(resource: string, permission: string): Promise<boolean[]> {
  await allowedEverywhere(resource, permission);
  const again = await Promise.all(suite.clients.map((c) => c.authorize('alice', resource, permission)));
  expect(again.map((r) => r.cached)).toEqual([true, true, true]);
  return again.map((r) => r.allowed);
}

const settled = () => changesPublished(suite.pg, schema);

test('a grant through the API is a row of role_permissions, allowed on every node when the call returns', async () => {
  expect(await warm('data/ks/t', 'SELECT')).toEqual([false, false, false]);
  const g = await suite.clients[1]!.grantPermissions('readers', 'data/ks', ['SELECT']);
  expect(g).toMatchObject({ permissions: ['SELECT'], nodes: { total: 3, successful: 3, failed: 0 } });
  expect(await allowedEverywhere('data/ks/t', 'SELECT')).toEqual([true, true, true]);
  expect(await suite.pg.query(`SELECT role, resource, permissions FROM ${perms}`)).toEqual([{ role: 'readers', resource: 'data/ks', permissions: ['SELECT'] }]);
  // Published by the writing node, nothing left for the relay.
  expect(await suite.pg.query(`SELECT 1 FROM ${schema}.role_changes WHERE published_at IS NULL`)).toEqual([]);
  const r = await suite.clients[2]!.revokePermissions('readers', 'data/ks', ['SELECT']);
  expect(r.permissions).toEqual([]);
  expect(await allowedEverywhere('data/ks/t', 'SELECT')).toEqual([false, false, false]);
  expect(await suite.pg.query(`SELECT 1 FROM ${perms}`)).toEqual([]);
});

test('INSERT, UPDATE and DELETE of role_permissions in SQL reach every node by themselves; cached logins stay cached', async () => {
  await settled();
  for (let i = 0; i < 2; i++) await Promise.all(suite.clients.map((c) => c.login('alice', 'alice-pw')));
  expect(await warm('data/sql/t', 'MODIFY')).toEqual([false, false, false]);
  await suite.pg.query(`INSERT INTO ${perms} (role, resource, permissions) VALUES ('staff', 'data/sql', '{MODIFY,SELECT}')`);
  await waitFor(async () => (await allowedEverywhere('data/sql/t', 'MODIFY')).every(Boolean), { timeoutMs: DEADLINE_MS, intervalMs: 10, message: 'a grant made in SQL is not allowed everywhere' });
  // The relay invalidated only the authorization caches: logins still come from the cache.
  expect((await Promise.all(suite.clients.map((c) => c.login('alice', 'alice-pw')))).map((r) => r.cached)).toEqual([true, true, true]);

  expect(await warm('data/sql/t', 'MODIFY')).toEqual([true, true, true]);
  await suite.pg.query(`UPDATE ${perms} SET permissions = '{SELECT}' WHERE role = 'staff' AND resource = 'data/sql'`);
  await waitFor(async () => (await allowedEverywhere('data/sql/t', 'MODIFY')).every((a) => !a), { timeoutMs: DEADLINE_MS, intervalMs: 10, message: 'a permission revoked in SQL is still allowed somewhere' });
  expect(await allowedEverywhere('data/sql/t', 'SELECT')).toEqual([true, true, true]);

  expect(await warm('data/sql/t', 'SELECT')).toEqual([true, true, true]);
  await suite.pg.query(`DELETE FROM ${perms} WHERE role = 'staff'`);
  await waitFor(async () => (await allowedEverywhere('data/sql/t', 'SELECT')).every((a) => !a), { timeoutMs: DEADLINE_MS, intervalMs: 10, message: 'a grant deleted in SQL is still allowed somewhere' });
  expect(await suite.clients[0]!.listPermissions('staff')).toEqual([]);
});

test('60 concurrent grants and 10 revokes on one role through two nodes: every one lands', async () => {
  await suite.clients[0]!.putRole('busy', {});
  const doomed = Array.from({ length: 10 }, (_, i) => `GONE${i}`);
  await suite.clients[0]!.grantPermissions('busy', 'data/ks', doomed);
  const wanted = Array.from({ length: 60 }, (_, i) => `P${String(i).padStart(2, '0')}`);
  const results = await Promise.allSettled([
    ...wanted.map((p, i) => suite.clients[i % 2]!.grantPermissions('busy', 'data/ks', [p])),
    ...doomed.map((p, i) => suite.clients[(i + 1) % 2]!.revokePermissions('busy', 'data/ks', [p])),
  ]);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  for (const c of suite.clients) expect(await c.listPermissions('busy')).toEqual([{ resource: 'data/ks', permissions: wanted }]);
  expect(await suite.pg.query(`SELECT permissions FROM ${perms} WHERE role = 'busy'`)).toEqual([{ permissions: wanted }]);
});
