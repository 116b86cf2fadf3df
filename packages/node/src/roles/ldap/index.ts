import type { BackendDeps } from '../backends';
import type { RoleStore } from '../role-store';
import type { LdapConfig } from './config';

/** The LDAP role store (placeholder until it lands). */
export function createLdapStore(_config: LdapConfig, _deps: BackendDeps): RoleStore {
  throw new Error('the LDAP backend is not available in this build yet');
}
