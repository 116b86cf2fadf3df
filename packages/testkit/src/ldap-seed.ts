/**
 * The directory's layout and seed, shared by every way the testkit gets a directory: the suffix,
 * the accounts, the users and groups tests rely on, and the AUTHCACHE_LDAP_* a node needs for them.
 */

export const LDAP_SUFFIX = 'dc=authcache,dc=test';
export const LDAP_ADMIN_DN = `cn=admin,${LDAP_SUFFIX}`;
export const LDAP_ADMIN_PASSWORD = 'admin-secret';
export const LDAP_SERVICE_DN = `cn=authcache,ou=services,${LDAP_SUFFIX}`;
export const LDAP_SERVICE_PASSWORD = 'service-secret';
export const LDAP_USER_BASE = `ou=people,${LDAP_SUFFIX}`;
export const LDAP_GROUP_BASE = `ou=groups,${LDAP_SUFFIX}`;

/**
 * The seed: users (password = `<uid>-pw`) and groups.
 * - alice ∈ developers; developers ∈ engineering (nested); engineering ∈ staff (two levels)
 * - bob ∈ readers; carol ∈ admins (the admin group) and readers
 * - dave ∈ developers, locked (pwdAccountLockedTime set; ppolicy defines the attribute, no policy enforces it)
 * - erin has no group
 */
export const LDAP_SEED_USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;

export const userDn = (uid: string) => `uid=${uid},${LDAP_USER_BASE}`;
export const groupDn = (cn: string) => `cn=${cn},${LDAP_GROUP_BASE}`;

export function ldapSeed(): string {
  const s = LDAP_SUFFIX;
  const user = (uid: string, extra = '') =>
    `dn: ${userDn(uid)}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${uid}-pw\n${extra}`;
  const group = (cn: string, members: string[]) =>
    `dn: ${groupDn(cn)}\nobjectClass: groupOfNames\ncn: ${cn}\n${members.map((m) => `member: ${m}`).join('\n')}\n`;
  return [
    `dn: ${s}\nobjectClass: dcObject\nobjectClass: organization\ndc: authcache\no: authcache test\n`,
    `dn: ou=people,${s}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${s}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=services,${s}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: ${LDAP_SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: authcache\nuserPassword: ${LDAP_SERVICE_PASSWORD}\n`,
    ...LDAP_SEED_USERS.map((u) => user(u)),
    group('developers', [userDn('alice'), userDn('dave')]),
    group('engineering', [groupDn('developers')]),
    group('staff', [groupDn('engineering')]),
    group('readers', [userDn('bob'), userDn('carol')]),
    group('admins', [userDn('carol')]),
  ].join('\n');
}

/** The lock of dave, applied after the seed (pwdAccountLockedTime is operational: ldapadd as the manager). */
export const SEED_LOCK = `dn: ${userDn('dave')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`;

/** AUTHCACHE_LDAP_* for a node using the directory at `url` with the seed's layout. */
export function envFor(url: string): Record<string, string> {
  return {
    AUTHCACHE_BACKEND: 'ldap',
    AUTHCACHE_LDAP_URL: url,
    AUTHCACHE_LDAP_BIND_DN: LDAP_SERVICE_DN,
    AUTHCACHE_LDAP_BIND_PASSWORD: LDAP_SERVICE_PASSWORD,
    AUTHCACHE_LDAP_USER_BASE: LDAP_USER_BASE,
    AUTHCACHE_LDAP_GROUP_BASE: LDAP_GROUP_BASE,
    AUTHCACHE_LDAP_ADMIN_GROUP: 'admins',
    AUTHCACHE_LDAP_DISABLED_FILTER: '(pwdAccountLockedTime=*)',
  };
}
