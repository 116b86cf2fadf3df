/**
 * TLS to the directory: ldaps:// and StartTLS with a private CA (AUTHCACHE_LDAP_CA_FILE), and a
 * server the CA does not vouch for refused (unavailable, never a plain-text fallback). And the
 * deadline over the whole opening of a connection (StartTLS, handshake, bind), which no single
 * step's timeout gives.
 */
import { startSlapd, startTcpProxy, type LdapHandle } from '@authcache/testkit';
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

  test('StartTLS where every step answers within the timeout but the opening as a whole does not: the call gives up at the timeout', async () => {
    // 150 ms each way on every chunk: StartTLS, the TLS handshake and the bind take >= 300 ms each,
    // under the 500 ms that ldapts bounds each step by, ~900 ms in all.
    const proxy = await startTcpProxy({ targetPort: ldap.port });
    proxy.setDelay(150);
    const over = { AUTHCACHE_LDAP_URL: `ldap://127.0.0.1:${proxy.port}`, AUTHCACHE_LDAP_STARTTLS: 'true', AUTHCACHE_LDAP_CA_FILE: ldap.tls!.caFile };
    try {
      const slow = await open({ ...over, AUTHCACHE_LDAP_TIMEOUT_MS: '500' });
      const t0 = Date.now();
      const err = await slow.verifyPassword('alice', 'alice-pw').catch((e: unknown) => e);
      const took = Date.now() - t0;
      expect(err).toBeInstanceOf(RoleStoreError);
      expect((err as RoleStoreError).kind).toBe('unavailable');
      // Given up at the 500 ms deadline, not after the ~900 ms the steps add up to.
      expect(took).toBeLessThan(800);
      // The same path with room for the whole opening: it does answer, so the deadline cut it above.
      const patient = await open({ ...over, AUTHCACHE_LDAP_TIMEOUT_MS: '5000' });
      expect(await patient.verifyPassword('alice', 'alice-pw')).toBe(true);
    } finally {
      await proxy.close();
    }
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
