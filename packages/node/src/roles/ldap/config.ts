import { ConfigError, type Env } from '../../config';

/** AUTHCACHE_LDAP_* (placeholder until the LDAP backend lands). */
export interface LdapConfig {
  url: string;
}

export function loadLdapConfig(_env: Env): LdapConfig {
  throw new ConfigError('AUTHCACHE_BACKEND', 'ldap is not available in this build yet');
}
