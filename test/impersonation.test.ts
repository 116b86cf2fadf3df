/**
 * OpenSearch's impersonation against 3 real node processes (docs/architecture.md, "Permissions and impersonation"): header
 * `security_impersonate_as: TARGET` on login, authinfo and authorize; allowed by IMPERSONATE on
 * `roles/TARGET`, 403 otherwise; a revoke of it is enforced on every node when it returns.
 */
import { ForbiddenError, InvalidCredentialsError } from '@authcache/client';
import { ALL_OK, call, useCluster } from './support';

const s = useCluster();
const H = 'security_impersonate_as';

describe('impersonation', () => {
  beforeAll(async () => {
    await s.clients[0]!.putRole('support', {});
    await s.clients[0]!.putRole('eve', { password: 'eve-pw-1', login: true, roles: ['support'] });
    await s.clients[0]!.putRole('mallory', { password: 'mallory-pw-1', login: true });
    await s.clients[0]!.putRole('bobs', {});
    await s.clients[0]!.putRole('bob', { password: 'bob-pw-1', login: true, roles: ['bobs'] });
    await s.clients[0]!.grantPermissions('bobs', 'data/bob', ['SELECT']);
    await s.clients[1]!.grantPermissions('support', 'roles/bob', ['IMPERSONATE']);
  });

  it('login as the caller answers as the target on every node', async () => {
    for (const [i, c] of s.clients.entries()) {
      const r = await c.login('eve', 'eve-pw-1', { impersonateAs: 'bob' });
      expect(r).toMatchObject({ username: 'bob', roles: ['bobs'], superuser: false, node: s.nodes[i]!.id, impersonated_by: 'eve' });
    }
  });

  it('authinfo with Basic of the caller and the header answers as the target', async () => {
    const basic = `Basic ${Buffer.from('eve:eve-pw-1').toString('base64')}`;
    const r = await call(s.nodes[2]!.url, 'GET', '/_plugins/_security/authinfo', { headers: { authorization: basic, [H]: 'bob' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ user_name: 'bob', roles: ['bobs'], impersonated_by: 'eve' });
  });

  it('refused: not allowed (403), wrong password (401), unknown target (403), malformed header (400)', async () => {
    await expect(s.clients[0]!.login('mallory', 'mallory-pw-1', { impersonateAs: 'bob' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(s.clients[1]!.login('eve', 'wrong', { impersonateAs: 'bob' })).rejects.toBeInstanceOf(InvalidCredentialsError);
    await s.clients[0]!.grantPermissions('support', 'roles/ghost', ['IMPERSONATE']);
    await expect(s.clients[2]!.login('eve', 'eve-pw-1', { impersonateAs: 'ghost' })).rejects.toBeInstanceOf(ForbiddenError);
    const bad = await call(s.nodes[0]!.url, 'POST', '/v1/login', { json: { username: 'eve', password: 'eve-pw-1' }, headers: { [H]: 'x'.repeat(300) } });
    expect(bad.status).toBe(400);
  });

  it("authorize with the header answers the target's permission", async () => {
    const r = await s.clients[0]!.authorize('eve', 'data/bob/t', 'SELECT', { impersonateAs: 'bob' });
    expect(r).toMatchObject({ allowed: true, via: 'bobs', username: 'bob', impersonated_by: 'eve' });
    await expect(s.clients[1]!.authorize('mallory', 'data/bob/t', 'SELECT', { impersonateAs: 'bob' })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('a revoke of IMPERSONATE is enforced on every node when it returns (the impersonation cache included)', async () => {
    for (const c of s.clients) await c.login('eve', 'eve-pw-1', { impersonateAs: 'bob' });
    const r = await s.clients[2]!.revokePermissions('support', 'roles/bob', ['IMPERSONATE']);
    expect(r.nodes).toEqual(ALL_OK);
    for (const c of s.clients) await expect(c.login('eve', 'eve-pw-1', { impersonateAs: 'bob' })).rejects.toBeInstanceOf(ForbiddenError);
  });
});
