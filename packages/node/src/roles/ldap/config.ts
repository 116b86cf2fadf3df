/**
 * AUTHCACHE_LDAP_* (docs/architecture.md, "Backends"), read once at start; a bad one stops the node with one line naming it.
 */
import { bool, ConfigError, int, readPem, str, type Env } from '../../config';
import { checkTemplate } from './filters';

export interface LdapConfig {
  url: string;
  startTls: boolean;
  /** PEM of AUTHCACHE_LDAP_CA_FILE: a private CA for ldaps:// or StartTLS. */
  ca: string | undefined;
  /** Service account for searches; undefined: anonymous searches. */
  bindDn: string | undefined;
  bindPassword: string | undefined;
  userBase: string;
  /** `{username}` is replaced by the RFC 4515-escaped username. */
  userFilter: string;
  /** The attribute holding the username (what the cache is keyed by, and what list() names). */
  usernameAttr: string;
  groupBase: string;
  /** `{dn}` (the member's DN) and `{username}` are replaced, escaped. */
  groupFilter: string;
  /** The group attribute listing members (`member`, `uniqueMember`, `memberUid`): for listing and change detection. */
  groupMemberAttr: string;
  groupNameAttr: string;
  /** When set (`memberOf`), an entry's groups are read from this attribute instead of a group search. */
  memberOfAttr: string | undefined;
  /** How many levels of groups are followed (1: direct groups only). */
  groupDepth: number;
  adminGroup: string | undefined;
  /** A user entry that also matches this filter is disabled: e.g. `(pwdAccountLockedTime=*)`, `(nsAccountLock=TRUE)`. */
  disabledFilter: string | undefined;
  pollMs: number;
  /** Full directory reconciliation (deleted or renamed entries the modifyTimestamp poll cannot see); 0: off. */
  rescanMs: number;
  timeoutMs: number;
  poolSize: number;
}

const ATTR = /^[A-Za-z][A-Za-z0-9-]*$|^\d+(\.\d+)+$/;

function attr(env: Env, name: string, fallback: string | undefined): string | undefined {
  const v = str(env, name, fallback);
  if (v !== undefined && !ATTR.test(v)) throw new ConfigError(name, `must be an attribute name, got "${v}"`);
  return v;
}

/** `(uid={username})` → uid; `(&(objectClass=user)(sAMAccountName={username}))` → sAMAccountName. */
function placeholderAttr(filter: string, placeholder: string): string | undefined {
  const m = new RegExp(`\\(([A-Za-z][A-Za-z0-9-]*)=\\{${placeholder}\\}\\)`).exec(filter);
  return m?.[1];
}

export function loadLdapConfig(env: Env): LdapConfig {
  const url = str(env, 'AUTHCACHE_LDAP_URL');
  if (url === undefined) throw new ConfigError('AUTHCACHE_LDAP_URL', 'is required with AUTHCACHE_BACKEND=ldap');
  if (!/^ldaps?:\/\/[^/]+\/?$/i.test(url)) throw new ConfigError('AUTHCACHE_LDAP_URL', `must be ldap://host[:port] or ldaps://host[:port], got "${url}"`);
  const startTls = bool(env, 'AUTHCACHE_LDAP_STARTTLS', false);
  if (startTls && /^ldaps:/i.test(url)) throw new ConfigError('AUTHCACHE_LDAP_STARTTLS', 'is for ldap:// URLs; ldaps:// is TLS already');
  const caPath = str(env, 'AUTHCACHE_LDAP_CA_FILE');
  const ca = caPath === undefined ? undefined : readPem('AUTHCACHE_LDAP_CA_FILE', caPath);
  if (ca !== undefined && !startTls && !/^ldaps:/i.test(url)) throw new ConfigError('AUTHCACHE_LDAP_CA_FILE', 'needs ldaps:// or AUTHCACHE_LDAP_STARTTLS=true');

  const bindDn = str(env, 'AUTHCACHE_LDAP_BIND_DN');
  const bindPassword = str(env, 'AUTHCACHE_LDAP_BIND_PASSWORD');
  if (bindDn !== undefined && bindPassword === undefined) throw new ConfigError('AUTHCACHE_LDAP_BIND_PASSWORD', 'is required with AUTHCACHE_LDAP_BIND_DN');
  if (bindDn === undefined && bindPassword !== undefined) throw new ConfigError('AUTHCACHE_LDAP_BIND_DN', 'is required with AUTHCACHE_LDAP_BIND_PASSWORD');

  const userBase = str(env, 'AUTHCACHE_LDAP_USER_BASE');
  if (userBase === undefined) throw new ConfigError('AUTHCACHE_LDAP_USER_BASE', 'is required with AUTHCACHE_BACKEND=ldap');
  const userFilter = str(env, 'AUTHCACHE_LDAP_USER_FILTER', '(uid={username})')!;
  checkTemplate('AUTHCACHE_LDAP_USER_FILTER', userFilter, ['username'], true);
  const usernameAttr = attr(env, 'AUTHCACHE_LDAP_USERNAME_ATTR', placeholderAttr(userFilter, 'username') ?? 'uid')!;

  const groupBase = str(env, 'AUTHCACHE_LDAP_GROUP_BASE');
  if (groupBase === undefined) throw new ConfigError('AUTHCACHE_LDAP_GROUP_BASE', 'is required with AUTHCACHE_BACKEND=ldap');
  const groupFilter = str(env, 'AUTHCACHE_LDAP_GROUP_FILTER', '(member={dn})')!;
  checkTemplate('AUTHCACHE_LDAP_GROUP_FILTER', groupFilter, ['dn', 'username'], false);
  const groupMemberAttr = attr(env, 'AUTHCACHE_LDAP_GROUP_MEMBER_ATTR', placeholderAttr(groupFilter, 'dn') ?? placeholderAttr(groupFilter, 'username') ?? 'member')!;
  const groupNameAttr = attr(env, 'AUTHCACHE_LDAP_GROUP_NAME_ATTR', 'cn')!;
  const memberOfAttr = attr(env, 'AUTHCACHE_LDAP_MEMBEROF_ATTR', undefined);

  const disabledFilter = str(env, 'AUTHCACHE_LDAP_DISABLED_FILTER');
  if (disabledFilter !== undefined) checkTemplate('AUTHCACHE_LDAP_DISABLED_FILTER', disabledFilter, [], false);

  return {
    url,
    startTls,
    ca,
    bindDn,
    bindPassword,
    userBase,
    userFilter,
    usernameAttr,
    groupBase,
    groupFilter,
    groupMemberAttr,
    groupNameAttr,
    memberOfAttr,
    groupDepth: int(env, 'AUTHCACHE_LDAP_GROUP_DEPTH', 8, 1, 64),
    adminGroup: str(env, 'AUTHCACHE_LDAP_ADMIN_GROUP'),
    disabledFilter,
    pollMs: int(env, 'AUTHCACHE_LDAP_POLL_MS', 5000, 0, 3_600_000),
    rescanMs: int(env, 'AUTHCACHE_LDAP_RESCAN_MS', 60_000, 0, 86_400_000),
    timeoutMs: int(env, 'AUTHCACHE_LDAP_TIMEOUT_MS', 5000, 50, 120_000),
    poolSize: int(env, 'AUTHCACHE_LDAP_POOL_SIZE', 4, 1, 64),
  };
}
