/**
 * The PostgreSQL client side, in one place: connection settings (bounded pool, statement
 * timeout, TLS), the quoted names of our objects in the configured schema, and how a driver
 * error is read (did the database answer at all?). SQL text only ever holds these names, which
 * come from a validated schema identifier; every value travels as a parameter.
 */
import { Pool, type ClientConfig, type PoolConfig } from 'pg';
import { SCHEMA_NAME, type PostgresConfig } from './config';

export interface SqlNames {
  /** The schema, quoted: `"authcache"`. */
  schema: string;
  /** The bare schema name, as a parameter for catalog queries. */
  schemaName: string;
  roles: string;
  changes: string;
  version: string;
  changeFunction: string;
  truncateFunction: string;
  /** Grants of permissions (Cassandra's system_auth.role_permissions shape) and their triggers' functions. */
  permissions: string;
  permissionFunction: string;
  permissionsTruncateFunction: string;
  /** NOTIFY channel of the change trigger (unquoted: it is passed to pg_notify as a value). */
  channel: string;
}

export function sqlNames(schema: string): SqlNames {
  // Checked again here: these names are spliced into SQL text, so nothing unchecked may reach them.
  if (!SCHEMA_NAME.test(schema)) throw new RangeError(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
  const q = `"${schema}"`;
  return {
    schema: q,
    schemaName: schema,
    roles: `${q}.roles`,
    changes: `${q}.role_changes`,
    version: `${q}.authcache_schema_version`,
    changeFunction: `${q}.authcache_record_role_change`,
    truncateFunction: `${q}.authcache_record_roles_truncate`,
    permissions: `${q}.role_permissions`,
    permissionFunction: `${q}.authcache_record_permission_change`,
    permissionsTruncateFunction: `${q}.authcache_record_permissions_truncate`,
    channel: `${schema}_changes`,
  };
}

/** Settings of every connection we open, pooled or not. */
export function clientConfig(c: PostgresConfig): ClientConfig {
  const base: ClientConfig = {
    connectionString: c.url,
    connectionTimeoutMillis: c.connectTimeoutMs,
    statement_timeout: c.statementTimeoutMs,
    // The driver's own bound, for a server that stopped answering without closing the socket.
    query_timeout: c.statementTimeoutMs + 1000,
    application_name: 'authcache',
    keepAlive: true,
  };
  if (!c.tls) return base;
  // The URL's own ssl* parameters would replace the object below (the driver merges the parsed URL last).
  const url = new URL(c.url);
  for (const p of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey']) url.searchParams.delete(p);
  return { ...base, connectionString: url.toString(), ssl: { ...c.tls, rejectUnauthorized: true } };
}

export function createPool(c: PostgresConfig): Pool {
  const config: PoolConfig = { ...clientConfig(c), max: c.poolMax, idleTimeoutMillis: 30_000 };
  return new Pool(config);
}

/**
 * True when `err` shows that PostgreSQL answered (a SQLSTATE outside the connection, resource and
 * shutdown classes): the database is up, the statement was refused.
 */
export function databaseAnswered(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false;
  // 08: connection exception, 53: insufficient resources, 57: operator intervention (shutdown,
  // statement timeout), 58: system error, XX: internal error.
  return !['08', '53', '57', '58', 'XX'].includes(code.slice(0, 2));
}

export const UNIQUE_VIOLATION = '23505';

export function errorMessage(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  const m = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  return typeof e?.code === 'string' && !m.includes(e.code) ? `${m} (${e.code})` : m;
}
