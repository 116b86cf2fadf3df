/**
 * Three real node processes on AUTHCACHE_BACKEND=postgres: the admin API writes PostgreSQL, and
 * changes made directly in SQL (as a user would in psql) reach every node by themselves, through
 * the trigger, NOTIFY and the change relay. Nothing waits with a sleep: each check polls every
 * node until it holds, within a deadline.
 */
import { randomBytes } from 'node:crypto';
import { waitFor } from '@authcache/testkit';
import { Passwords } from '../packages/node/src/roles/passwords';
import { call } from './support';
import { changesPublished, usePostgresCluster } from './support/postgres-cluster';

/** Refused everywhere within this after the SQL COMMIT (docs/architecture.md, "Backends" target: 1 s). */
const DEADLINE_MS = 2000;

const schema = `c_${randomBytes(4).toString('hex')}`;
const roles = `${schema}.roles`;
const passwords = new Passwords(4, 1);
const delays: number[] = [];
const suite = usePostgresCluster(schema);

afterAll(() => {
  if (delays.length === 0) return;
  const sorted = [...delays].sort((a, b) => a - b);
  // The measured delay of "SQL change -> refused on every node", for the report.
  console.log(`SQL change -> refused on all 3 nodes: n=${sorted.length} p50=${sorted[Math.floor(sorted.length / 2)]} ms max=${sorted.at(-1)} ms samples=${sorted.join(',')}`);
});

async function statuses(username: string, password: string): Promise<number[]> {
  const replies = await Promise.all(suite.cluster.nodes.map((n) => call(n.url, 'POST', '/v1/login', { json: { username, password } })));
  return replies.map((r) => r.status);
}

/** Logs in twice on every node: afterwards each node answers from its cache. */
async function warm(username: string, password: string): Promise<void> {
  for (let i = 0; i < 2; i++) await Promise.all(suite.clients.map((c) => c.login(username, password)));
  const again = await Promise.all(suite.clients.map((c) => c.login(username, password)));
  expect(again.map((r) => r.cached)).toEqual([true, true, true]);
}

/** Polls every node until `holds`; resolves to the time it took from `since`. */
async function everywhere(since: number, what: string, holds: () => Promise<boolean>): Promise<number> {
  await waitFor(holds, { timeoutMs: DEADLINE_MS, intervalMs: 10, message: what });
  return Date.now() - since;
}

async function sqlUser(name: string, password: string, memberOf: string[] = []): Promise<void> {
  await suite.pg.query(`INSERT INTO ${roles} (role, salted_hash, can_login, member_of) VALUES ($1, $2, true, $3)`, [name, await passwords.hash(password), memberOf]);
  await changesPublished(suite.pg, schema);
}

test('the admin API writes the roles table; the role logs in on every node', async () => {
  const r = await suite.clients[0]!.putRole('api-user', { password: 'api-pw', login: true });
  expect(r.created).toBe(true);
  expect(r.nodes).toEqual({ total: 3, successful: 3, failed: 0 });
  const rows = await suite.pg.query<{ can_login: boolean; salted_hash: string }>(`SELECT can_login, salted_hash FROM ${roles} WHERE role = 'api-user'`);
  expect(rows[0]!.can_login).toBe(true);
  expect(rows[0]!.salted_hash).toMatch(/^\$2[ab]\$04\$/);
  expect(await statuses('api-user', 'api-pw')).toEqual([200, 200, 200]);
  // The write was published by the writing node and marked so: nothing left for the relay.
  expect(await suite.pg.query(`SELECT 1 FROM ${schema}.role_changes WHERE published_at IS NULL`)).toEqual([]);
});

test('a role created in SQL with a bcrypt hash logs in on every node', async () => {
  await sqlUser('sql-alice', 'alice-pw');
  const first = await Promise.all(suite.clients.map((c) => c.login('sql-alice', 'alice-pw')));
  expect(first.map((r) => r.username)).toEqual(['sql-alice', 'sql-alice', 'sql-alice']);
  expect(await statuses('sql-alice', 'wrong')).toEqual([401, 401, 401]);
});

test('UPDATE roles SET can_login = false in SQL is refused on every node within the deadline', async () => {
  for (let i = 0; i < 7; i++) {
    const name = `sql-login-${i}`;
    await sqlUser(name, 'pw');
    await warm(name, 'pw');
    const t0 = Date.now();
    await suite.pg.query(`UPDATE ${roles} SET can_login = false WHERE role = $1`, [name]);
    delays.push(await everywhere(t0, `${name} still logs in somewhere`, async () => (await statuses(name, 'pw')).every((s) => s === 401)));
  }
  expect(Math.max(...delays)).toBeLessThan(DEADLINE_MS);
});

test('a password changed in SQL: the old one is refused and the new one accepted on every node', async () => {
  await sqlUser('sql-bob', 'bob-old');
  await warm('sql-bob', 'bob-old');
  const hash = await passwords.hash('bob-new');
  const t0 = Date.now();
  await suite.pg.query(`UPDATE ${roles} SET salted_hash = $1 WHERE role = 'sql-bob'`, [hash]);
  delays.push(await everywhere(t0, 'old password still accepted', async () => (await statuses('sql-bob', 'bob-old')).every((s) => s === 401)));
  expect(await statuses('sql-bob', 'bob-new')).toEqual([200, 200, 200]);
});

test("a grant revoked in SQL changes the holder's roles on every node", async () => {
  await suite.pg.query(`INSERT INTO ${roles} (role, is_superuser) VALUES ('sql-admin', true)`);
  await suite.pg.query(`INSERT INTO ${roles} (role, member_of) VALUES ('sql-staff', '{sql-admin}')`);
  await changesPublished(suite.pg, schema);
  await sqlUser('sql-carol', 'carol-pw', ['sql-staff']);
  await warm('sql-carol', 'carol-pw');
  const before = await Promise.all(suite.clients.map((c) => c.login('sql-carol', 'carol-pw')));
  expect(before.map((r) => [r.roles, r.superuser])).toEqual(Array(3).fill([['sql-admin', 'sql-staff'], true]));
  // Revoked from the role carol holds, not from carol: she is invalidated as its holder.
  const t0 = Date.now();
  await suite.pg.query(`UPDATE ${roles} SET member_of = '{}' WHERE role = 'sql-staff'`);
  await everywhere(t0, "carol's roles did not change everywhere", async () => {
    const now = await Promise.all(suite.clients.map((c) => c.login('sql-carol', 'carol-pw')));
    return now.every((r) => !r.superuser && r.roles.join() === 'sql-staff');
  });
});

test('a role deleted in SQL is refused on every node; the admin API sees what SQL wrote', async () => {
  await sqlUser('sql-dave', 'dave-pw');
  await warm('sql-dave', 'dave-pw');
  const t0 = Date.now();
  await suite.pg.query(`DELETE FROM ${roles} WHERE role = 'sql-dave'`);
  delays.push(await everywhere(t0, 'a deleted role still logs in', async () => (await statuses('sql-dave', 'dave-pw')).every((s) => s === 401)));
  const carol = await call(suite.cluster.nodes[1]!.url, 'GET', '/v1/roles/sql-carol', { token: suite.cluster.token });
  expect(carol.status).toBe(200);
  expect(carol.json).toMatchObject({ name: 'sql-carol', login: true, roles: ['sql-staff'], has_password: true });
});
