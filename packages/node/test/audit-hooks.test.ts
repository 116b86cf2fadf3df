import Fastify from 'fastify';
import { installAuditHooks } from '../src/audit/audit-hooks';
import type { AuditEntry } from '../src/audit/audit-entry';

/** The hooks on a bare fastify: which answers become entries, with what the guard found. */
function server() {
  const entries: AuditEntry[] = [];
  const app = Fastify();
  app.decorateRequest('adminActor', null);
  const guard = async (req: any, reply: any) => {
    req.adminActor = req.headers.authorization ? 'token' : 'anonymous';
    if (req.headers.authorization !== 'Bearer ok') return reply.code(req.headers.authorization ? 403 : 401).send({ error: 'no' });
  };
  installAuditHooks(app, guard, { record: (e: AuditEntry) => void entries.push(e) });
  const hooked: string[] = [];
  app.addHook('onRoute', (r) => {
    if ([r.onResponse].flat().filter(Boolean).length > 0) hooked.push(`${r.method} ${r.url}`);
  });
  app.register(async (scope) => {
    scope.delete('/v1/cache/users/:username', { onRequest: guard }, async () => ({ message: 'ok', seq: 9, nodes: { total: 3, successful: 2, failed: 1 }, failures: [{ node: 'n3', reason: 'down' }] }));
    scope.get('/v1/roles', { onRequest: guard }, async () => []);
    scope.post('/v1/login', async () => ({ ok: true }));
  });
  return { app, entries, hooked };
}

describe('the audit hooks', () => {
  it('attach to admin routes only: the login route pays nothing', async () => {
    const { app, hooked } = server();
    await app.ready();
    expect(hooked.sort()).toEqual(['DELETE /v1/cache/users/:username', 'GET /v1/roles', 'HEAD /v1/roles']);
  });

  it('record a change with its propagation, a refused read, and nothing for a good read or a login', async () => {
    const { app, entries } = server();
    // Over a real socket: fastify's inject() needs an ES module jest cannot load here.
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const ok = await fetch(`${base}/v1/cache/users/alice?caches=roles`, { method: 'DELETE', headers: { authorization: 'Bearer ok' } });
      expect(ok.status).toBe(200);
      await fetch(`${base}/v1/roles`, { headers: { authorization: 'Bearer ok' } });
      await fetch(`${base}/v1/roles`, { headers: { authorization: 'Bearer bad' } });
      await fetch(`${base}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"u","password":"p"}' });
    } finally {
      await app.close();
    }
    expect(entries.map((e) => [e.actor, e.action, e.target, e.status, e.seq])).toEqual([
      ['token', 'flush_user', 'alice (roles)', 200, 9],
      ['token', 'read', '/v1/roles', 403, null],
    ]);
    expect(entries[0]).toMatchObject({ address: '127.0.0.1', nodes: { total: 3, successful: 2, failed: 1 }, failures: [{ node: 'n3', reason: 'down' }] });
  });
});
