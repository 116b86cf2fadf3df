import { describeCall, entryFor, propagationOf, shouldAudit, type AnsweredCall } from '../src/audit/audit-entry';

const call = (over: Partial<AnsweredCall>): AnsweredCall => ({
  method: 'DELETE',
  route: '/v1/cache',
  path: '/v1/cache',
  params: {},
  query: {},
  body: undefined,
  status: 200,
  payload: undefined,
  actor: 'token',
  address: '10.0.0.7',
  at: new Date('2026-12-02T06:00:00.000Z'),
  ...over,
});

describe('which admin calls are recorded', () => {
  it('records every change whatever its outcome', () => {
    for (const status of [200, 201, 400, 404, 409, 500, 503, 504]) {
      expect(shouldAudit('DELETE', '/v1/cache', status)).toBe(true);
      expect(shouldAudit('PUT', '/v1/roles/:name', status)).toBe(true);
    }
  });

  it('records reads only when refused, on every admin route, the audit included', () => {
    expect(shouldAudit('GET', '/v1/cluster/nodes', 200)).toBe(false);
    expect(shouldAudit('GET', '/v1/cache/settings', 503)).toBe(false);
    for (const status of [401, 403, 429]) {
      expect(shouldAudit('GET', '/v1/cluster/nodes', status)).toBe(true);
      expect(shouldAudit('GET', '/v1/audit', status)).toBe(true);
    }
  });

  it('never records a read of the audit itself', () => {
    expect(shouldAudit('GET', '/v1/audit', 200)).toBe(false);
    expect(shouldAudit('GET', '/v1/audit', 400)).toBe(false);
    expect(entryFor(call({ method: 'GET', route: '/v1/audit', path: '/v1/audit' }))).toBeUndefined();
  });
});

describe('what an entry says', () => {
  it('has the fields of docs/architecture.md, "Audit and events" in order, from the answer\'s propagation', () => {
    const e = entryFor(call({ payload: { message: 'Cache flushed successfully.', seq: 12, nodes: { total: 3, successful: 3, failed: 0 }, failures: [], members: [] } }))!;
    expect(Object.keys(e)).toEqual(['ts', 'actor', 'address', 'action', 'target', 'seq', 'status', 'nodes']);
    expect(e).toEqual({
      ts: '2026-12-02T06:00:00.000Z',
      actor: 'token',
      address: '10.0.0.7',
      action: 'flush_all',
      target: 'all caches',
      seq: 12,
      status: 200,
      nodes: { total: 3, successful: 3, failed: 0 },
    });
  });

  it('names the failed nodes, and the error of a failed call', () => {
    const p = propagationOf({ seq: 3, nodes: { total: 3, successful: 2, failed: 1 }, failures: [{ node: 'n3', reason: 'down', last_seen_ms: 4000 }] });
    expect(p).toEqual({ seq: 3, nodes: { total: 3, successful: 2, failed: 1 }, failures: [{ node: 'n3', reason: 'down' }] });
    expect(propagationOf('{"error":"admin access denied"}')).toEqual({ seq: null, nodes: null, error: 'admin access denied' });
    expect(propagationOf({ error: { root_cause: [], type: 'security_exception', reason: 'admin access denied' }, status: 403 }).error).toBe('admin access denied');
    expect(propagationOf(undefined)).toEqual({ seq: null, nodes: null });
    expect(propagationOf('not json')).toEqual({ seq: null, nodes: null });
    expect(propagationOf({ seq: -1, nodes: { total: 'x' } })).toEqual({ seq: null, nodes: null });
  });

  it('describes each known change', () => {
    const d = (over: Partial<AnsweredCall>) => describeCall(call(over));
    expect(d({ route: '/_plugins/_security/api/cache', query: { caches: 'roles' } })).toEqual({ action: 'flush_all', target: 'roles' });
    expect(d({ route: '/v1/cache/users/:username', params: { username: 'alice' } })).toEqual({ action: 'flush_user', target: 'alice (all caches)' });
    expect(d({ route: '/_plugins/_security/api/cache/user/:username', params: { username: 'bob' }, query: { local: 'true' } })).toEqual({
      action: 'flush_user',
      target: 'bob (all caches) [local]',
    });
    expect(d({ method: 'PUT', route: '/v1/cache/settings', body: { cache: 'roles', ttl_ms: 60000, persistent: true } })).toEqual({
      action: 'set_settings',
      target: 'roles ttl_ms=60000 persistent',
    });
    expect(d({ method: 'PUT', route: '/_cluster/settings', body: { transient: { 'plugins.security.cache.ttl_minutes': '120' } } })).toEqual({
      action: 'set_cluster_settings',
      target: 'transient plugins.security.cache.ttl_minutes=120',
    });
    expect(d({ route: '/v1/roles/:name', params: { name: 'old' } })).toEqual({ action: 'drop_role', target: 'old' });
    expect(d({ route: '/v1/cluster/nodes/:id', params: { id: 'node3' } })).toEqual({ action: 'remove_node', target: 'node3' });
    expect(d({ method: 'PUT', route: '/v1/roles/:name/permissions', params: { name: 'app' }, body: { resource: 'data/ks', permissions: ['SELECT'] } })).toEqual({
      action: 'grant',
      target: 'app: SELECT on data/ks',
    });
    expect(d({ method: 'GET', route: '/v1/cluster/nodes', path: '/v1/cluster/nodes' })).toEqual({ action: 'read', target: '/v1/cluster/nodes' });
    expect(d({ method: 'POST', route: '/v1/new/:x', path: '/v1/new/1' })).toEqual({ action: 'POST /v1/new/:x', target: '/v1/new/1' });
  });

  it('never carries a secret: a password shows as "password set", unknown values as "?"', () => {
    const body = { password: 'hunter2-very-secret', login: true, superuser: true, grant: ['dba'] };
    const e = entryFor(call({ method: 'PUT', route: '/v1/roles/:name', params: { name: 'alice' }, body, status: 201 }))!;
    expect(e.target).toBe('alice (password set, login=true, superuser=true, grant=[dba])');
    expect(JSON.stringify(e)).not.toContain('hunter2');
    const s = describeCall(call({ method: 'PUT', route: '/_cluster/settings', body: { transient: { 'x.y': 'my password', 'bad key!': 1 } }, status: 400 }));
    expect(s.target).toBe('transient x.y=?, transient ?=1');
  });

  it('keeps targets one bounded line, and says anonymous without credentials', () => {
    const e = entryFor(call({ route: '/v1/cache/users/:username', params: { username: 'a\nb' + 'x'.repeat(1000) }, actor: undefined, status: 401 }))!;
    expect(e.target).not.toContain('\n');
    expect(e.target!.length).toBeLessThanOrEqual(300);
    expect(e.actor).toBe('anonymous');
  });
});
