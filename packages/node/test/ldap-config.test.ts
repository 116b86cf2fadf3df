import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilterParser } from 'ldapts';
import { ConfigError } from '../src/config';
import { loadLdapConfig } from '../src/roles/ldap/config';
import { and, dnKey, escapeFilterValue, fillFilter, formatGeneralizedTime, isUnder, parseGeneralizedTime, presenceFilter } from '../src/roles/ldap/filters';

const BASE = {
  AUTHCACHE_LDAP_URL: 'ldap://127.0.0.1:389',
  AUTHCACHE_LDAP_USER_BASE: 'ou=people,dc=x',
  AUTHCACHE_LDAP_GROUP_BASE: 'ou=groups,dc=x',
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadLdapConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('RFC 4515 escaping', () => {
  test.each([
    ['*', '\\2a'],
    ['(', '\\28'],
    [')', '\\29'],
    ['\\', '\\5c'],
    ['\0', '\\00'],
    [')(uid=*', '\\29\\28uid=\\2a'],
    ['admin)(|(uid=*', 'admin\\29\\28|\\28uid=\\2a'],
    ['josé', 'josé'],
  ])('%j → %s', (raw, escaped) => {
    expect(escapeFilterValue(raw)).toBe(escaped);
  });

  test.each(['*', ')(uid=*', 'admin)(|(uid=*', '\0', 'a\\', '*)(objectClass=*'])('an injected username stays one equality assertion: %j', (name) => {
    const f = FilterParser.parseString(fillFilter('(uid={username})', { username: name }));
    expect(f.constructor.name).toBe('EqualityFilter');
    expect((f as unknown as { value: string }).value).toBe(name);
  });

  test('templates, presence and AND', () => {
    expect(fillFilter('(&(objectClass=user)(sAMAccountName={username}))', { username: 'a*' })).toBe('(&(objectClass=user)(sAMAccountName=a\\2a))');
    expect(fillFilter('(member={dn})', { dn: 'cn=a\\,b,dc=x' })).toBe('(member=cn=a\\5c,b,dc=x)');
    expect(presenceFilter('(&(objectClass=groupOfNames)(member={dn}))')).toBe('(&(objectClass=groupOfNames)(member=*))');
    expect(and('(a=1)', undefined, '(b=2)')).toBe('(&(a=1)(b=2))');
    expect(and('(a=1)')).toBe('(a=1)');
  });
});

describe('GeneralizedTime and DNs', () => {
  test('parses OpenLDAP, AD and offset forms; formats at second precision', () => {
    const ms = Date.UTC(2026, 11, 2, 6, 43, 14);
    expect(parseGeneralizedTime('20261202064314Z')).toBe(ms);
    expect(parseGeneralizedTime('20261202064314.0Z')).toBe(ms);
    expect(parseGeneralizedTime('20261202074314+0100')).toBe(ms);
    expect(parseGeneralizedTime('garbage')).toBeUndefined();
    expect(formatGeneralizedTime(ms + 999)).toBe('20261202064314Z');
  });
  test('DN keys and bases', () => {
    expect(dnKey('UID=Alice, OU=People,dc=X')).toBe('uid=alice,ou=people,dc=x');
    expect(isUnder('cn=a,ou=groups,dc=x', 'OU=Groups, dc=x')).toBe(true);
    expect(isUnder('cn=a,ou=evilgroups,dc=x', 'ou=groups,dc=x')).toBe(false);
  });
});

describe('loadLdapConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'authcache-ldapcfg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('defaults (docs/architecture.md, "Backends")', () => {
    expect(loadLdapConfig(BASE)).toEqual({
      url: 'ldap://127.0.0.1:389',
      startTls: false,
      ca: undefined,
      bindDn: undefined,
      bindPassword: undefined,
      userBase: 'ou=people,dc=x',
      userFilter: '(uid={username})',
      usernameAttr: 'uid',
      groupBase: 'ou=groups,dc=x',
      groupFilter: '(member={dn})',
      groupMemberAttr: 'member',
      groupNameAttr: 'cn',
      memberOfAttr: undefined,
      groupDepth: 8,
      adminGroup: undefined,
      disabledFilter: undefined,
      pollMs: 5000,
      rescanMs: 60000,
      timeoutMs: 5000,
      poolSize: 4,
    });
  });

  test('Active Directory: sAMAccountName, memberOf, LDAPS with a CA file, password from a file', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const pw = join(dir, 'pw');
    writeFileSync(pw, 's3cret\n');
    const c = loadLdapConfig({
      ...BASE,
      AUTHCACHE_LDAP_URL: 'ldaps://dc1.corp.example:636',
      AUTHCACHE_LDAP_CA_FILE: ca,
      AUTHCACHE_LDAP_BIND_DN: 'CN=svc,DC=corp',
      AUTHCACHE_LDAP_BIND_PASSWORD_FILE: pw,
      AUTHCACHE_LDAP_USER_FILTER: '(&(objectClass=user)(sAMAccountName={username}))',
      AUTHCACHE_LDAP_MEMBEROF_ATTR: 'memberOf',
      AUTHCACHE_LDAP_DISABLED_FILTER: '(userAccountControl:1.2.840.113556.1.4.803:=2)',
      AUTHCACHE_LDAP_ADMIN_GROUP: 'Domain Admins',
    });
    expect(c.usernameAttr).toBe('sAMAccountName');
    expect(c.bindPassword).toBe('s3cret');
    expect(c.ca).toContain('BEGIN CERTIFICATE');
    expect(c.memberOfAttr).toBe('memberOf');
    expect(c.adminGroup).toBe('Domain Admins');
  });

  test('posixGroup memberUid: the member attribute follows the filter', () => {
    expect(loadLdapConfig({ ...BASE, AUTHCACHE_LDAP_GROUP_FILTER: '(memberUid={username})' }).groupMemberAttr).toBe('memberUid');
  });

  test.each([
    [{ AUTHCACHE_LDAP_URL: undefined }, 'AUTHCACHE_LDAP_URL'],
    [{ AUTHCACHE_LDAP_URL: 'http://x' }, 'AUTHCACHE_LDAP_URL'],
    [{ AUTHCACHE_LDAP_URL: 'ldaps://x', AUTHCACHE_LDAP_STARTTLS: 'true' }, 'AUTHCACHE_LDAP_STARTTLS'],
    [{ AUTHCACHE_LDAP_USER_BASE: undefined }, 'AUTHCACHE_LDAP_USER_BASE'],
    [{ AUTHCACHE_LDAP_GROUP_BASE: undefined }, 'AUTHCACHE_LDAP_GROUP_BASE'],
    [{ AUTHCACHE_LDAP_USER_FILTER: '(uid=fixed)' }, 'AUTHCACHE_LDAP_USER_FILTER'],
    [{ AUTHCACHE_LDAP_USER_FILTER: 'uid={username}' }, 'AUTHCACHE_LDAP_USER_FILTER'],
    [{ AUTHCACHE_LDAP_USER_FILTER: '(uid={user})' }, 'AUTHCACHE_LDAP_USER_FILTER'],
    [{ AUTHCACHE_LDAP_GROUP_FILTER: '(member={dn}' }, 'AUTHCACHE_LDAP_GROUP_FILTER'],
    [{ AUTHCACHE_LDAP_BIND_DN: 'cn=svc' }, 'AUTHCACHE_LDAP_BIND_PASSWORD'],
    [{ AUTHCACHE_LDAP_BIND_PASSWORD: 'x' }, 'AUTHCACHE_LDAP_BIND_DN'],
    [{ AUTHCACHE_LDAP_GROUP_NAME_ATTR: 'c n' }, 'AUTHCACHE_LDAP_GROUP_NAME_ATTR'],
    [{ AUTHCACHE_LDAP_POLL_MS: 'soon' }, 'AUTHCACHE_LDAP_POLL_MS'],
    [{ AUTHCACHE_LDAP_GROUP_DEPTH: '0' }, 'AUTHCACHE_LDAP_GROUP_DEPTH'],
    [{ AUTHCACHE_LDAP_CA_FILE: '/nonexistent/ca.pem', AUTHCACHE_LDAP_URL: 'ldaps://x' }, 'AUTHCACHE_LDAP_CA_FILE'],
  ])('%j is refused naming %s', (over, variable) => {
    expect(configError({ ...BASE, ...over }).variable).toBe(variable);
  });
});
