import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { loadPostgresConfig } from '../src/roles/postgres/config';
import { clientConfig, sqlNames } from '../src/roles/postgres/pg';

const URL_OK = 'postgres://app:pw@db.example:5432/auth?sslmode=require';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadPostgresConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('AUTHCACHE_POSTGRES_*', () => {
  test('defaults', () => {
    expect(loadPostgresConfig({ AUTHCACHE_POSTGRES_URL: URL_OK })).toEqual({
      url: URL_OK,
      schema: 'authcache',
      poolMax: 10,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 3000,
      pollMs: 500,
      retentionMs: 3_600_000,
      relayLeaseMs: 3000,
      tls: undefined,
    });
  });

  test('AUTHCACHE_BACKEND=postgres without a URL stops the node with one line naming the variable', () => {
    let err: unknown;
    try {
      loadConfig({ AUTHCACHE_CLUSTER_SECRET: 's', AUTHCACHE_BACKEND: 'postgres' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('AUTHCACHE_POSTGRES_URL');
    expect((err as Error).message).not.toContain('\n');
  });

  test('the URL may come from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgcfg-'));
    writeFileSync(join(dir, 'url'), `${URL_OK}\n`);
    expect(loadPostgresConfig({ AUTHCACHE_POSTGRES_URL_FILE: join(dir, 'url') }).url).toBe(URL_OK);
  });

  test.each<[string, Record<string, string>]>([
    ['AUTHCACHE_POSTGRES_URL', { AUTHCACHE_POSTGRES_URL: 'mysql://x' }],
    ['AUTHCACHE_POSTGRES_URL', { AUTHCACHE_POSTGRES_URL: 'postgres://[::1' }],
    ['AUTHCACHE_POSTGRES_SCHEMA', { AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_SCHEMA: 'a"; DROP TABLE x; --' }],
    ['AUTHCACHE_POSTGRES_SCHEMA', { AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_SCHEMA: 'Auth' }],
    ['AUTHCACHE_POSTGRES_SCHEMA', { AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_SCHEMA: 'x'.repeat(49) }],
    ['AUTHCACHE_POSTGRES_POOL_MAX', { AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_POOL_MAX: '0' }],
    ['AUTHCACHE_POSTGRES_POLL_MS', { AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_POLL_MS: '5000' }],
    ['AUTHCACHE_POSTGRES_TLS_CA', { AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_TLS_CA: '/nonexistent/ca.pem' }],
  ])('%s is refused: %j', (variable, env) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message).not.toContain('pw@');
  });

  test('TLS files replace the URL ssl parameters; the pool is bounded with a statement timeout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgtls-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    const c = loadPostgresConfig({ AUTHCACHE_POSTGRES_URL: URL_OK, AUTHCACHE_POSTGRES_TLS_CA: join(dir, 'ca.pem'), AUTHCACHE_POSTGRES_STATEMENT_TIMEOUT_MS: '700' });
    const cc = clientConfig(c);
    expect(cc.ssl).toEqual({ ca: 'CA', rejectUnauthorized: true });
    expect(cc.connectionString).not.toContain('sslmode');
    expect(cc.statement_timeout).toBe(700);
  });

  test('SQL names come only from a validated schema', () => {
    expect(sqlNames('authcache').roles).toBe('"authcache".roles');
    expect(() => sqlNames('x"y')).toThrow(RangeError);
  });
});
