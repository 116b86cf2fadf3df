/**
 * TLS to the directory: ldaps:// and StartTLS with a private CA (AUTHCACHE_LDAP_CA_FILE), and a
 * server the CA does not vouch for refused (unavailable, never a plain-text fallback).
 */
import { startSlapd, type LdapHandle } from '@authcache/testkit';
import { loadLdapConfig } from '../packages/node/src/roles/ldap/config';
import { Directory } from '../packages/node/src/roles/ldap/directory';

/** pino's Logger, as the store takes it (pino is a dependency of packages/node only). */
type Logger = ConstructorParameters<typeof Directory>[1];
import { LdapRoleStore } from '../packages/node/src/roles/ldap/store';
import { RoleStoreError } from '../packages/node/src/roles/role-store';

function quietLog(): Logger {
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, trace: () => undefined, child: () => log };
  return log as unknown as Logger;
}

describe('LDAP over TLS (slapd with a private CA)', () => {
  let ldap: LdapHandle;
  const stores: LdapRoleStore[] = [];
  const open = async (over: Record<string, string | undefined>) => {
    const cfg = loadLdapConfig({ ...ldap.env, AUTHCACHE_LDAP_POLL_MS: '0', AUTHCACHE_LDAP_TIMEOUT_MS: '2000', ...over });
    const s = new LdapRoleStore(cfg, new Directory(cfg, quietLog()), quietLog());
    stores.push(s);
    await s.start();
    return s;
  };

  beforeAll(async () => {
    ldap = await startSlapd({ preferOwn: true, tls: true });
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.stop()));
    await ldap?.stop();
  });

  test('ldaps:// with AUTHCACHE_LDAP_CA_FILE', async () => {
    const s = await open({ AUTHCACHE_LDAP_URL: ldap.tls!.ldapsUrl, AUTHCACHE_LDAP_CA_FILE: ldap.tls!.caFile });
    expect(await s.verifyPassword('alice', 'alice-pw')).toBe(true);
    expect((await s.resolveRoles('carol'))?.superuser).toBe(true);
  });

  test('StartTLS on ldap:// with AUTHCACHE_LDAP_CA_FILE', async () => {
    const s = await open({ AUTHCACHE_LDAP_STARTTLS: 'true', AUTHCACHE_LDAP_CA_FILE: ldap.tls!.caFile });
    expect(await s.verifyPassword('alice', 'alice-pw')).toBe(true);
    expect(await s.verifyPassword('alice', 'wrong')).toBe(false);
  });

  test.each([
    ['ldaps://', () => ({ AUTHCACHE_LDAP_URL: ldap.tls!.ldapsUrl })],
    ['StartTLS', () => ({ AUTHCACHE_LDAP_STARTTLS: 'true' })],
  ])('%s without the CA: the certificate is refused and nothing is sent in the clear', async (_label, over) => {
    const s = await open(over());
    expect(s.health()).toBe('down');
    const err = await s.verifyPassword('alice', 'alice-pw').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoleStoreError);
    expect((err as RoleStoreError).kind).toBe('unavailable');
  });
});
