/**
 * AUTHCACHE_BACKEND and the chosen backend's own variables, read with the rest of the
 * configuration so that a missing one stops the node at start with one line naming it.
 */
import { ConfigError, str, type Env } from '../config';
import { loadPostgresConfig, type PostgresConfig } from './postgres/config';
import { loadLdapConfig, type LdapConfig } from './ldap/config';

export type BackendConfig = { kind: 'redis' } | { kind: 'postgres'; postgres: PostgresConfig } | { kind: 'ldap'; ldap: LdapConfig };

export const BACKENDS = ['redis', 'postgres', 'ldap'] as const;

export function loadBackendConfig(env: Env): BackendConfig {
  const kind = str(env, 'AUTHCACHE_BACKEND', 'redis')!;
  switch (kind) {
    case 'redis':
      return { kind };
    case 'postgres':
      return { kind, postgres: loadPostgresConfig(env) };
    case 'ldap':
      return { kind, ldap: loadLdapConfig(env) };
    default:
      throw new ConfigError('AUTHCACHE_BACKEND', `must be one of ${BACKENDS.join(', ')}, got "${kind}"`);
  }
}
