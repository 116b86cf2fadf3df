import { ConfigError, type Env } from '../../config';

/** AUTHCACHE_POSTGRES_* (placeholder until the PostgreSQL backend lands). */
export interface PostgresConfig {
  url: string;
}

export function loadPostgresConfig(_env: Env): PostgresConfig {
  throw new ConfigError('AUTHCACHE_BACKEND', 'postgres is not available in this build yet');
}
