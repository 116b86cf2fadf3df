/**
 * The versioned schema of the PostgreSQL backend, applied at start in one transaction under an
 * advisory lock, so that nodes starting at once apply it exactly once and every node sees the
 * same schema afterwards. Idempotent: a node finding the current version does nothing.
 *
 * Version 1:
 * - `roles`, Cassandra's system_auth.roles shape (docs/architecture.md, "Backends"). A table that already exists with
 *   these columns (roles imported with COPY) is used as it is; one missing a column is refused.
 * - `role_changes`, the change record: one row per inserted, updated or deleted role, written by
 *   a trigger on `roles` in the writer's own transaction, whoever the writer is (authcache or
 *   psql), then NOTIFY on `<schema>_changes`. A row is published once (`published_at`), and
 *   pruned after a retention.
 *
 * Version 2 (permissions-schema.ts): `role_permissions`, Cassandra's system_auth.role_permissions
 * shape, recorded in `role_changes` by its own trigger.
 */
import type { Pool } from 'pg';
import type { SqlNames } from './pg';
import { PERMISSION_COLUMNS, version2 } from './permissions-schema';

export const SCHEMA_VERSION = 2;

const MIGRATION_LOCK = 'authcache.migrate';

/** The columns authcache reads and writes, with the catalog's name of their type. */
const ROLE_COLUMNS: Record<string, string> = { role: 'text', salted_hash: 'text', can_login: 'bool', is_superuser: 'bool', member_of: '_text' };

function version1(n: SqlNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${n.roles} (
       role text PRIMARY KEY,
       salted_hash text,
       can_login boolean NOT NULL DEFAULT false,
       is_superuser boolean NOT NULL DEFAULT false,
       member_of text[] NOT NULL DEFAULT '{}')`,
    `CREATE TABLE IF NOT EXISTS ${n.changes} (
       id bigserial PRIMARY KEY,
       ts timestamptz NOT NULL DEFAULT clock_timestamp(),
       txid bigint NOT NULL DEFAULT txid_current(),
       who text NOT NULL DEFAULT current_user,
       origin text DEFAULT nullif(current_setting('authcache.origin', true), ''),
       op text NOT NULL,
       role text NOT NULL,
       old_role text,
       old_can_login boolean,
       new_can_login boolean,
       password_changed boolean NOT NULL DEFAULT false,
       old_superuser boolean,
       new_superuser boolean,
       old_member_of text[],
       new_member_of text[],
       claimed_until timestamptz,
       published_at timestamptz)`,
    `CREATE INDEX IF NOT EXISTS role_changes_unpublished ON ${n.changes} (id) WHERE published_at IS NULL`,
    `CREATE INDEX IF NOT EXISTS role_changes_txid ON ${n.changes} (txid) WHERE published_at IS NULL`,
    `CREATE INDEX IF NOT EXISTS role_changes_published ON ${n.changes} (published_at) WHERE published_at IS NOT NULL`,
    `CREATE OR REPLACE FUNCTION ${n.changeFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         INSERT INTO ${n.changes} (op, role, new_can_login, new_superuser, new_member_of, password_changed)
           VALUES ('INSERT', NEW.role, NEW.can_login, NEW.is_superuser, NEW.member_of, NEW.salted_hash IS NOT NULL);
       ELSIF TG_OP = 'UPDATE' THEN
         IF NEW.role IS NOT DISTINCT FROM OLD.role AND NEW.salted_hash IS NOT DISTINCT FROM OLD.salted_hash
            AND NEW.can_login IS NOT DISTINCT FROM OLD.can_login AND NEW.is_superuser IS NOT DISTINCT FROM OLD.is_superuser
            AND NEW.member_of IS NOT DISTINCT FROM OLD.member_of THEN
           RETURN NULL; -- nothing authcache reads changed
         END IF;
         INSERT INTO ${n.changes} (op, role, old_role, old_can_login, new_can_login, password_changed,
                                   old_superuser, new_superuser, old_member_of, new_member_of)
           VALUES ('UPDATE', NEW.role, CASE WHEN NEW.role IS DISTINCT FROM OLD.role THEN OLD.role END,
                   OLD.can_login, NEW.can_login, NEW.salted_hash IS DISTINCT FROM OLD.salted_hash,
                   OLD.is_superuser, NEW.is_superuser, OLD.member_of, NEW.member_of);
       ELSE
         INSERT INTO ${n.changes} (op, role, old_can_login, old_superuser, old_member_of, password_changed)
           VALUES ('DELETE', OLD.role, OLD.can_login, OLD.is_superuser, OLD.member_of, OLD.salted_hash IS NOT NULL);
       END IF;
       -- One payload for every row: PostgreSQL folds identical notifications of a transaction into
       -- one, so a statement changing 10 000 rows wakes the relay once (it reads the record anyway).
       PERFORM pg_notify('${n.channel}', 'change');
       RETURN NULL;
     END $fn$`,
    // TRUNCATE fires no row trigger: record every role it removes, before it removes them.
    `CREATE OR REPLACE FUNCTION ${n.truncateFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       INSERT INTO ${n.changes} (op, role, old_can_login, old_superuser, old_member_of, password_changed)
         SELECT 'DELETE', role, can_login, is_superuser, member_of, salted_hash IS NOT NULL FROM ${n.roles};
       PERFORM pg_notify('${n.channel}', 'change');
       RETURN NULL;
     END $fn$`,
    `DROP TRIGGER IF EXISTS authcache_role_change ON ${n.roles}`,
    `CREATE TRIGGER authcache_role_change AFTER INSERT OR UPDATE OR DELETE ON ${n.roles}
       FOR EACH ROW EXECUTE FUNCTION ${n.changeFunction}()`,
    `DROP TRIGGER IF EXISTS authcache_roles_truncate ON ${n.roles}`,
    `CREATE TRIGGER authcache_roles_truncate BEFORE TRUNCATE ON ${n.roles}
       FOR EACH STATEMENT EXECUTE FUNCTION ${n.truncateFunction}()`,
  ];
}

const MIGRATIONS: Array<{ version: number; statements: (n: SqlNames) => string[] }> = [
  { version: 1, statements: version1 },
  { version: 2, statements: version2 },
];

/** Thrown when the database holds something authcache cannot use as it is; the node does not start. */
export class SchemaError extends Error {}

/** Brings the schema to SCHEMA_VERSION; resolves to the versions applied now (empty when none). */
export async function migrate(pool: Pool, n: SqlNames): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('BEGIN');
    // Transaction-scoped: released at COMMIT/ROLLBACK, also when this node dies mid-way.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [MIGRATION_LOCK, n.schemaName]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${n.schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${n.version} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${n.version}`);
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new SchemaError(`schema ${n.schemaName} is at version ${current}, newer than this node knows (${SCHEMA_VERSION}): upgrade the node`);
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const sql of m.statements(n)) await client.query(sql);
      await client.query(`INSERT INTO ${n.version} (version) VALUES ($1)`, [m.version]);
      applied.push(m.version);
    }
    await checkColumns(client, n, 'roles', ROLE_COLUMNS, "authcache's roles table");
    await checkColumns(client, n, 'role_permissions', PERMISSION_COLUMNS, "authcache's permissions table");
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * An existing table (created by someone else: roles imported with COPY, grants copied from
 * Cassandra) must have the columns authcache uses, of the types it reads them as.
 */
async function checkColumns(client: { query: Pool['query'] }, n: SqlNames, table: string, columns: Record<string, string>, usedAs: string): Promise<void> {
  const { rows } = await client.query<{ column_name: string; udt_name: string }>(
    `SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
    [n.schemaName, table],
  );
  const found = new Map(rows.map((r) => [r.column_name, r.udt_name]));
  const problems = Object.entries(columns)
    .filter(([col, type]) => found.get(col) !== type)
    .map(([col, type]) => (found.has(col) ? `${col} is ${found.get(col)}, not ${type}` : `no column ${col}`));
  if (problems.length > 0) {
    throw new SchemaError(`table ${n.schemaName}.${table} cannot be used as ${usedAs}: ${problems.join(', ')}`);
  }
}
