/**
 * Who may call the admin API of a real node: the bearer token (any other token, whatever its
 * length, is 403), HTTP Basic of a role with superuser status held directly or through a grant
 * (another valid role is 403), and nobody else (401). A refusal must not tell whether a user exists.
 */

import { call, useCluster, type Reply } from './support';
import { basic, expectError, raw } from './support/security';

const s = useCluster({ size: 1 });
const url = () => s.nodes[0]!.url;

/** One read and one cluster-wide write: both must be guarded the same way. */
const listRoles = (headers: Record<string, string> = {}) => call(url(), 'GET', '/v1/roles', { headers });
const flushAll = (headers: Record<string, string> = {}) => call(url(), 'DELETE', '/v1/cache', { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  const c = s.clients[0]!;
  await c.putRole('root', { password: 'root-pw', login: true, superuser: true });
  await c.putRole('admins', { superuser: true, login: false });
  await c.putRole('alice', { password: 'alice-pw', login: true, roles: ['admins'] });
  await c.putRole('carol', { password: 'carol-pw', login: true, roles: ['admins'] });
  await c.putRole('bob', { password: 'bob-pw', login: true });
  await c.putRole('locked', { password: 'locked-pw', login: false, superuser: true });
});

describe('bearer token', () => {
  it('the admin token -> 200 on a read and on a cluster-wide write', async () => {
    expect((await listRoles(bearer(s.token))).status).toBe(200);
    const r = await flushAll(bearer(s.token));
    expect(r.status).toBe(200);
    expect(r.json.nodes).toEqual({ total: 1, successful: 1, failed: 0 });
  });

  it('no Authorization header -> 401 with a WWW-Authenticate challenge', async () => {
    for (const r of [await listRoles(), await flushAll()]) {
      expectError(r, 401);
      expect(r.headers.get('www-authenticate')).toMatch(/Bearer|Basic/);
    }
  });

  it('a wrong token of any length -> 403', async () => {
    const t = s.token;
    const last = t.at(-1) === 'a' ? 'b' : 'a';
    const wrong = [
      t.slice(0, -1) + last, // same length, last character differs
      t.slice(0, -1), // a prefix
      t + 'x', // the token and more
      t.toUpperCase() === t ? t.toLowerCase() : t.toUpperCase(),
      'x',
      t.repeat(3),
      'A'.repeat(8000), // very long: hashed before comparing, so no length error and no early exit
    ];
    for (const token of wrong) {
      expectError(await listRoles(bearer(token)), 403);
      expectError(await flushAll(bearer(token)), 403);
    }
  });

  it('an empty bearer token counts as no credentials -> 401', async () => {
    // raw() sends the header as written; fetch would trim the trailing spaces.
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer    ']) {
      expectError(await raw(`${url()}/v1/roles`, { headers: { authorization } }), 401);
    }
    expectError(await raw(`${url()}/v1/roles`, { headers: { authorization: '' } }), 401);
  });

  it('other schemes and unreadable headers -> 401', async () => {
    for (const authorization of ['Digest username="root"', 'Token abc', 'Basic !!!not-base64', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
      expectError(await listRoles({ authorization }), 401);
    }
  });

  it('credentials are checked before the body: no credentials -> 401 even for a malformed or oversized body', async () => {
    expectError(await call(url(), 'PUT', '/v1/roles/x', { body: '{"login": tru', contentType: 'application/json' }), 401);
    expectError(await call(url(), 'PUT', '/v1/roles/x', { body: JSON.stringify({ password: 'x'.repeat(70 * 1024) }), contentType: 'application/json' }), 401);
    expectError(await call(url(), 'PUT', '/v1/roles/x', { body: '{"login": tru', contentType: 'application/json', token: 'wrong' }), 403);
    // Nothing was created by any of them.
    expectError(await call(url(), 'GET', '/v1/roles/x', { token: s.token }), 404);
  });
});

describe('HTTP Basic', () => {
  it('a role with superuser status -> 200 on a read and on a cluster-wide write', async () => {
    const auth = { authorization: basic('root', 'root-pw') };
    const list = await listRoles(auth);
    expect(list.status).toBe(200);
    expect(list.json.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['root', 'alice', 'bob']));
    const flushed = await flushAll(auth);
    expect(flushed.status).toBe(200);
    expect(flushed.json.message).toBe('Cache flushed successfully.');
  });

  it('a role granted a superuser role -> 200', async () => {
    expect((await listRoles({ authorization: basic('alice', 'alice-pw') })).status).toBe(200);
    expect((await flushAll({ authorization: basic('alice', 'alice-pw') })).status).toBe(200);
  });

  it('a valid role without superuser status -> 403', async () => {
    const r = await listRoles({ authorization: basic('bob', 'bob-pw') });
    expectError(r, 403);
    expectError(await flushAll({ authorization: basic('bob', 'bob-pw') }), 403);
    // The same credentials are fine for a login: the refusal is about rights, not identity.
    expect((await call(url(), 'POST', '/v1/login', { json: { username: 'bob', password: 'bob-pw' } })).status).toBe(200);
  });

  it('losing superuser status through a revoked grant takes effect on the next call', async () => {
    const auth = { authorization: basic('carol', 'carol-pw') };
    expect((await listRoles(auth)).status).toBe(200);
    const revoked = await call(url(), 'PUT', '/v1/roles/carol', { token: s.token, json: { revoke: ['admins'] } });
    expect(revoked.status).toBe(200);
    expectError(await listRoles(auth), 403);
  });

  it('wrong password, unknown user, LOGIN=false -> the same 401 whether or not the user exists', async () => {
    const attempts: Array<[string, string]> = [
      ['root', 'not-root-pw'], // a superuser, wrong password
      ['bob', 'not-bob-pw'], // a non-superuser, wrong password: 401, not 403 (403 would confirm the user)
      ['nobody-of-that-name', 'root-pw'], // no such role
      ['locked', 'locked-pw'], // right password, LOGIN=false
      ['admins', 'anything'], // a role without a password
    ];
    const replies: Reply[] = [];
    for (const [u, p] of attempts) {
      const r = await listRoles({ authorization: basic(u, p) });
      expectError(r, 401);
      replies.push(r);
    }
    const shape = (r: Reply) => ({ status: r.status, body: r.text, challenge: r.headers.get('www-authenticate'), type: r.headers.get('content-type') });
    const first = shape(replies[0]!);
    for (const r of replies) expect(shape(r)).toEqual(first);
    for (const r of replies) for (const [u] of attempts) expect(r.text).not.toContain(u);
  });

  it('a password beyond the login limit -> 401, not an error', async () => {
    expectError(await listRoles({ authorization: basic('root', 'x'.repeat(2000)) }), 401);
  });
});
