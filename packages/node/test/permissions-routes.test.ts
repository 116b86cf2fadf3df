/**
 * The routes of docs/architecture.md, "Permissions and impersonation" on fastify (inject), over the service on fakes: shapes, the admin guard
 * on grant/revoke/list only, impersonation by header, and clear 400s for bad input.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { HttpError } from '../src/errors';
import { authorizeRoutes } from '../src/http/routes/authorize';
import { permissionRoutes } from '../src/http/routes/permissions';
import { PermissionService } from '../src/permissions';
import type { AdminGuard } from '../src/http/admin-auth';
import { resolveGrants } from '../src/roles/grant-graph';
import type { ResolvedRoles } from '../src/roles/role-store';
import { silentLog } from './fakes';
import { MemoryPermissionStore, propagation } from './permissions-support';

const SETTINGS = { ttl_ms: 60_000, max_entries: 100, refresh_ms: 0, active_update: false, enabled: true };
const memberOf: Record<string, string[]> = { readers: [], ops: [], alice: ['readers'], eve: ['ops'], bob: [] };

let app: FastifyInstance;
let svc: PermissionService;
const admin: AdminGuard = async (req) => {
  if (req.headers.authorization !== 'Bearer t') throw new HttpError(req.headers.authorization ? 403 : 401, 'admin credentials required');
};
const ADMIN = { authorization: 'Bearer t' };

const rolesCache = new Map<string, ResolvedRoles>();
beforeEach(async () => {
  rolesCache.clear();
  svc = new PermissionService({
    store: new MemoryPermissionStore(),
    // A roles cache as the node's: a held entry answers synchronously.
    roles: (u) => {
      const hit = rolesCache.get(u);
      if (hit) return hit;
      const r = resolveGrants(u, (n) => (memberOf[n] ? { memberOf: memberOf[n]!, superuser: false } : undefined));
      if (r) rolesCache.set(u, r);
      return Promise.resolve(r);
    },
    holdersOf: async (r) => Object.keys(memberOf).filter((u) => memberOf[u]!.includes(r)),
    roleExists: async (r) => r in memberOf,
    publish: async (change, _ops) => {
      if (change.kind === 'flush_users') svc.invalidateUsers(change.body.usernames, change.body.caches);
      return propagation(1);
    },
    trusted: () => true,
    settings: { permissions: SETTINGS, impersonation: SETTINGS },
    log: silentLog,
  });
  app = Fastify({ ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } } });
  // The body parsing of http/server.ts: an empty body reads as undefined.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(String(body)));
    } catch {
      done(new HttpError(400, 'malformed JSON body'), undefined);
    }
  });
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err.validation) return reply.code(400).send({ error: err.message });
    return reply.code(err.statusCode ?? 500).send({ error: err.message });
  });
  authorizeRoutes(app, svc);
  permissionRoutes(app, svc, admin);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

let base = '';
/** light-my-request (app.inject) does not load under jest here: real HTTP instead. */
async function call(o: { method: string; url: string; payload?: object; headers?: Record<string, string> }) {
  const res = await fetch(base + o.url, {
    method: o.method,
    headers: { ...(o.payload !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
    ...(o.payload !== undefined ? { body: JSON.stringify(o.payload) } : {}),
  });
  const text = await res.text();
  return { statusCode: res.status, json: () => JSON.parse(text) };
}
afterEach(async () => {
  await app.close();
  svc.close();
});

const put = (role: string, body: unknown, headers: Record<string, string> = ADMIN) => call({ method: 'PUT', url: `/v1/roles/${role}/permissions`, payload: body as object, headers });

test('grant, list, authorize, revoke: the shapes of docs/architecture.md, "Permissions and impersonation"', async () => {
  const g = await put('readers', { resource: 'data/ks', permissions: ['SELECT', 'describe'] });
  expect(g.statusCode).toBe(200);
  expect(g.json()).toEqual({
    role: 'readers',
    resource: 'data/ks',
    permissions: ['DESCRIBE', 'SELECT'],
    seq: 1,
    nodes: { total: 1, successful: 1, failed: 0 },
    failures: [],
    members: [{ node: 'test', result: 'applied' }],
  });
  const list = await call({ method: 'GET', url: '/v1/roles/readers/permissions', headers: ADMIN });
  expect(list.json()).toEqual([{ resource: 'data/ks', permissions: ['DESCRIBE', 'SELECT'] }]);
  const all = await call({ method: 'GET', url: '/v1/permissions', headers: ADMIN });
  expect(all.json()).toEqual([{ role: 'readers', resource: 'data/ks', permissions: ['DESCRIBE', 'SELECT'] }]);

  const a = await call({ method: 'POST', url: '/v1/authorize', payload: { username: 'alice', resource: 'data/ks/t', permission: 'SELECT' } });
  expect(a.statusCode).toBe(200);
  expect(a.json()).toEqual({ allowed: true, cached: false, via: 'readers' });
  const again = await call({ method: 'POST', url: '/v1/authorize', payload: { username: 'alice', resource: 'data/ks/t', permission: 'SELECT' } });
  expect(again.json()).toEqual({ allowed: true, cached: true, via: 'readers' });

  const b = await call({
    method: 'POST',
    url: '/v1/authorize/batch',
    payload: { username: 'alice', checks: [{ resource: 'data/ks', permission: 'SELECT' }, { resource: 'data', permission: 'SELECT' }] },
  });
  expect(b.json()).toEqual({
    results: [
      { resource: 'data/ks', permission: 'SELECT', allowed: true, cached: true, via: 'readers' },
      { resource: 'data', permission: 'SELECT', allowed: false, cached: true, via: null },
    ],
  });

  const r = await call({ method: 'DELETE', url: '/v1/roles/readers/permissions', payload: { resource: 'data/ks', permissions: ['SELECT'] }, headers: ADMIN });
  expect(r.json()).toMatchObject({ role: 'readers', resource: 'data/ks', permissions: ['DESCRIBE'], seq: 1 });
  const after = await call({ method: 'POST', url: '/v1/authorize', payload: { username: 'alice', resource: 'data/ks/t', permission: 'SELECT' } });
  expect(after.json()).toEqual({ allowed: false, cached: false, via: null });
});

test('grant, revoke and list need admin rights; authorize does not', async () => {
  expect((await put('readers', { resource: 'data', permissions: ['SELECT'] }, {})).statusCode).toBe(401);
  expect((await put('readers', { resource: 'data', permissions: ['SELECT'] }, { authorization: 'Bearer nope' })).statusCode).toBe(403);
  expect((await call({ method: 'GET', url: '/v1/roles/readers/permissions' })).statusCode).toBe(401);
  expect((await call({ method: 'GET', url: '/v1/permissions' })).statusCode).toBe(401);
  expect((await call({ method: 'DELETE', url: '/v1/roles/readers/permissions', payload: { resource: 'data', permissions: ['SELECT'] } })).statusCode).toBe(401);
  expect((await call({ method: 'POST', url: '/v1/authorize', payload: { username: 'x', resource: 'data', permission: 'SELECT' } })).statusCode).toBe(200);
});

test.each([
  [{ resource: 'data//ks', permissions: ['SELECT'] }, 'empty segment'],
  [{ resource: '', permissions: ['SELECT'] }, 'resource'],
  [{ resource: 'data', permissions: [] }, 'permissions'],
  [{ resource: 'data', permissions: ['SEL ECT'] }, 'permission'],
  [{ resource: 'data', permissions: ['SELECT'], extra: 1 }, 'additional'],
  [{ resource: 'data' }, 'permissions'],
  [{ resource: 'x'.repeat(1025), permissions: ['SELECT'] }, 'resource'],
])('a bad grant body is a 400: #%# (%s)', async (body, word) => {
  const r = await put('readers', body);
  expect(r.statusCode).toBe(400);
  expect(r.json().error).toContain(word);
});

test('a grant to a role that does not exist is a 404', async () => {
  expect((await put('ghost', { resource: 'data', permissions: ['SELECT'] })).statusCode).toBe(404);
});

test.each([
  [{ username: 'alice', resource: 'data/', permission: 'SELECT' }],
  [{ username: 'alice', resource: 'data', permission: 'SEL;ECT' }],
  [{ username: '', resource: 'data', permission: 'SELECT' }],
  [{ username: 'alice', resource: 'data' }],
  [{ username: 'alice', resource: 'data', permission: 'SELECT', more: true }],
])('a bad authorize body is a 400: %j', async (body) => {
  const r = await call({ method: 'POST', url: '/v1/authorize', payload: body });
  expect(r.statusCode).toBe(400);
  expect(typeof r.json().error).toBe('string');
});

test('batch size is bounded', async () => {
  const checks = Array.from({ length: 257 }, () => ({ resource: 'data', permission: 'SELECT' }));
  const r = await call({ method: 'POST', url: '/v1/authorize/batch', payload: { username: 'alice', checks } });
  expect(r.statusCode).toBe(400);
  const bad = await call({ method: 'POST', url: '/v1/authorize/batch', payload: { username: 'alice', checks: [{ resource: 'a//b', permission: 'SELECT' }] } });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().error).toContain('checks[0]');
});

test('impersonation by header: the target answer when allowed, 403 otherwise', async () => {
  await put('ops', { resource: 'roles/bob', permissions: ['IMPERSONATE'] });
  await put('bob', { resource: 'data/b', permissions: ['SELECT'] });
  const ok = await call({
    method: 'POST',
    url: '/v1/authorize',
    payload: { username: 'eve', resource: 'data/b/t', permission: 'SELECT' },
    headers: { security_impersonate_as: 'bob' },
  });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toEqual({ allowed: true, cached: false, via: 'bob', username: 'bob', impersonated_by: 'eve' });
  const refused = await call({
    method: 'POST',
    url: '/v1/authorize',
    payload: { username: 'alice', resource: 'data/b/t', permission: 'SELECT' },
    headers: { security_impersonate_as: 'bob' },
  });
  expect(refused.statusCode).toBe(403);
  expect(refused.json()).toEqual({ error: 'alice is not allowed to impersonate bob' });
  const batch = await call({
    method: 'POST',
    url: '/v1/authorize/batch',
    payload: { username: 'eve', checks: [{ resource: 'data/b', permission: 'SELECT' }] },
    headers: { security_impersonate_as: 'bob' },
  });
  expect(batch.json()).toMatchObject({ username: 'bob', impersonated_by: 'eve', results: [{ allowed: true, via: 'bob' }] });
  const long = await call({
    method: 'POST',
    url: '/v1/authorize',
    payload: { username: 'eve', resource: 'data', permission: 'SELECT' },
    headers: { security_impersonate_as: 'x'.repeat(300) },
  });
  expect(long.statusCode).toBe(400);
});
