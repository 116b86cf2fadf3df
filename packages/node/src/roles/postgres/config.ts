/**
 * AUTHCACHE_POSTGRES_*: where the roles table lives and how hard the node may lean on it. Read
 * with the rest of the configuration, so a missing or bad variable stops the node at start with
 * one line naming it (docs/architecture.md, "Backends").
 */
import { ConfigError, int, readPem, str, type Env } from '../../config';

export interface PostgresConfig {
  /** postgres:// or postgresql:// URL; sslmode and friends go in it. */
  url: string;
  /** Schema of the roles table, the change record and the migration bookkeeping. */
  schema: string;
  /** Upper bound of the connection pool (the relay's LISTEN connection comes on top). */
  poolMax: number;
  /** statement_timeout of every pooled connection. */
  statementTimeoutMs: number;
  /** How long to wait for a new connection before the call counts as "PostgreSQL down". */
  connectTimeoutMs: number;
  /** How often the relay reads the change record besides waking on NOTIFY (≤ 1 s). */
  pollMs: number;
  /** Published change records are pruned once older than this. */
  retentionMs: number;
  /** Lifetime of the relay lease in Redis: a dead relay is replaced within about this long. */
  relayLeaseMs: number;
  /** TLS material beyond the URL's sslmode: a private CA, a client certificate. */
  tls: { ca?: string; cert?: string; key?: string } | undefined;
}

/** Lower-case identifier, short enough that `<schema>_changes` stays a valid NOTIFY channel (< 64 bytes). */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

const HOUR_MS = 3_600_000;

export function loadPostgresConfig(env: Env): PostgresConfig {
  const url = str(env, 'AUTHCACHE_POSTGRES_URL');
  if (url === undefined) throw new ConfigError('AUTHCACHE_POSTGRES_URL', 'is required with AUTHCACHE_BACKEND=postgres (postgres://user:password@host:5432/database)');
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError('AUTHCACHE_POSTGRES_URL', 'must start with postgres:// or postgresql://');
  try {
    new URL(url);
  } catch {
    // The URL may hold a password: never echo it.
    throw new ConfigError('AUTHCACHE_POSTGRES_URL', 'is not a valid URL');
  }
  const schema = str(env, 'AUTHCACHE_POSTGRES_SCHEMA', 'authcache')!;
  if (!SCHEMA_NAME.test(schema)) {
    throw new ConfigError('AUTHCACHE_POSTGRES_SCHEMA', `must be 1-48 characters of a-z, 0-9 and "_", not starting with a digit, got "${schema}"`);
  }
  return {
    url,
    schema,
    poolMax: int(env, 'AUTHCACHE_POSTGRES_POOL_MAX', 10, 1, 1000),
    statementTimeoutMs: int(env, 'AUTHCACHE_POSTGRES_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000),
    connectTimeoutMs: int(env, 'AUTHCACHE_POSTGRES_CONNECT_TIMEOUT_MS', 3000, 100, 600_000),
    pollMs: int(env, 'AUTHCACHE_POSTGRES_POLL_MS', 500, 20, 1000),
    retentionMs: int(env, 'AUTHCACHE_POSTGRES_CHANGE_RETENTION_MS', HOUR_MS, 0, 30 * 24 * HOUR_MS),
    relayLeaseMs: int(env, 'AUTHCACHE_POSTGRES_RELAY_LEASE_MS', 3000, 300, 600_000),
    tls: loadTls(env, url),
  };
}

function loadTls(env: Env, url: string): PostgresConfig['tls'] {
  const out: NonNullable<PostgresConfig['tls']> = {};
  for (const [key, name] of [['ca', 'AUTHCACHE_POSTGRES_TLS_CA'], ['cert', 'AUTHCACHE_POSTGRES_TLS_CERT'], ['key', 'AUTHCACHE_POSTGRES_TLS_KEY']] as const) {
    const path = str(env, name);
    if (path !== undefined) out[key] = readPem(name, path);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ConfigError(out.cert === undefined ? 'AUTHCACHE_POSTGRES_TLS_CERT' : 'AUTHCACHE_POSTGRES_TLS_KEY', 'client certificate and key go together');
  }
  if (Object.keys(out).length === 0) return undefined;
  if (/[?&]sslmode=disable\b/.test(url)) throw new ConfigError('AUTHCACHE_POSTGRES_TLS_CA', 'TLS files were given but AUTHCACHE_POSTGRES_URL says sslmode=disable');
  return out;
}
