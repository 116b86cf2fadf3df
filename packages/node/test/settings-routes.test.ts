/**
 * The settings and cache routes over HTTP, against a node whose bus is a SettingsState:
 * OpenSearch's bodies and errors on its paths, ours on /v1. The app around them does what
 * http/server.ts does for errors (its JSON parser's message, `{"error"}` bodies, 405 with Allow),
 * so that the routes are tested without Redis; test/opensearch-client.test.ts runs the real server.
 */
import pino from 'pino';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Propagation, SetSettingsBody } from '@authcache/protocol';
import type { AuthcacheNode } from '../src/node';
import { HttpError } from '../src/errors';
import { adminAuth } from '../src/http/admin-auth';
import { cacheRoutes } from '../src/http/routes/cache';
import { bodiesFor, settingsRoutes } from '../src/http/routes/settings';
import { PROTOCOL_CARRIES, settingsDefaults } from '../src/cache/settings';
import { SettingsState } from '../src/cache/settings-state';

const TOKEN = 'routes-test-token';
const TTL = 'plugins.security.cache.ttl_minutes';
const CACHE_CONFIG = { ttlMs: 3_600_000, maxEntries: 100, refreshMs: 0, activeUpdate: false };

let app: FastifyInstance;
let base: string;

/** The error plumbing of http/server.ts, which the routes rely on. */
function serverLike(node: AuthcacheNode): FastifyInstance {
  const a = Fastify({ ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } } });
  a.removeContentTypeParser(['application/json']);
  a.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(String(body)));
    } catch {
      done(new HttpError(400, 'malformed JSON body'), undefined);
    }
  });
  a.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err.validation) return reply.code(400).send({ error: err.message });
    return reply.code(err.statusCode ?? 500).send({ error: err.message });
  });
  const known: Array<{ method: string; url: string }> = [];
  a.addHook('onRoute', (r) => void known.push(...[r.method].flat().map((method) => ({ method, url: r.url }))));
  a.setNotFoundHandler((req, reply) => {
    const allowed = known.filter((k) => k.url === req.url.split('?')[0]).map((k) => k.method);
    return reply.code(allowed.length > 0 ? 405 : 404).header('allow', allowed.join(', ')).send({ error: 'no' });
  });
  const admin = adminAuth(node);
  void a.register(async (scope) => {
    cacheRoutes(scope, node, admin);
    settingsRoutes(scope, node, admin);
  });
  return a;
}
let state: SettingsState;
const published: SetSettingsBody[] = [];
const flushes: string[] = [];

function ok(seq: number): Propagation {
  return { seq, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [{ node: 'n1', result: 'applied' }] };
}

beforeAll(async () => {
  state = new SettingsState(settingsDefaults(CACHE_CONFIG));
  const node = {
    config: { nodeId: 'n1', cluster: 'c', adminToken: TOKEN, tls: undefined, cache: CACHE_CONFIG, maxStalenessMs: 5000 },
    log: pino({ level: 'silent' }),
    throttle: { enabled: false },
    admin: {
      setSettings: async (b: SetSettingsBody) => {
        published.push(b);
        state.applyUpdate(b);
        return ok(published.length);
      },
      flushAll: async () => (flushes.push('all'), ok(0)),
      flushUsers: async (users: string[]) => (flushes.push(users.join(',')), ok(0)),
    },
    settings: () => state.effective(),
    currentOverlays: () => state.overlays(),
  } as unknown as AuthcacheNode;
  app = serverLike(node);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());
beforeEach(() => {
  published.length = 0;
  flushes.length = 0;
  state.load({ transient: {}, persistent: {} });
});

const auth = { authorization: `Bearer ${TOKEN}` };
async function req(method: string, url: string, json?: unknown, headers: Record<string, string> = auth) {
  // fetch, not inject: light-my-request loads an ESM-only module that jest cannot require.
  const body = json === undefined ? undefined : typeof json === 'string' ? json : JSON.stringify(json);
  const r = await fetch(base + url, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body });
  const text = await r.text();
  return { status: r.status, headers: Object.fromEntries(r.headers), json: text === '' ? undefined : (JSON.parse(text) as any) };
}
const openSearchError = (status: number, type: string, reason: string | RegExp) => ({
  error: { root_cause: [{ type, reason }], type, reason },
  status,
});
function expectOpenSearchError(r: { status: number; json: any }, status: number, type: string, reason?: string) {
  expect(r.status).toBe(status);
  expect(r.json).toEqual(openSearchError(status, type, reason ?? r.json?.error?.reason));
  expect(typeof r.json.error.reason).toBe('string');
}

describe('PUT and GET /_cluster/settings', () => {
  it('takes a nested body and answers nested, values as strings', async () => {
    const r = await req('PUT', '/_cluster/settings', { transient: { plugins: { security: { cache: { ttl_minutes: 30 } } } } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ acknowledged: true, persistent: {}, transient: { plugins: { security: { cache: { ttl_minutes: '30' } } } }, nodes: { total: 1 } });
    expect(published).toEqual([{ scope: 'all', values: { ttl_ms: 1_800_000 }, persistent: false }]);
    expect((await req('GET', '/_cluster/settings')).json).toEqual({ persistent: {}, transient: { plugins: { security: { cache: { ttl_minutes: '30' } } } } });
  });

  it('takes flat names and answers flat with flat_settings=true, nested without', async () => {
    const body = { persistent: { 'authcache.cache.roles.max_entries': 500 } };
    const r = await req('PUT', '/_cluster/settings?flat_settings=true', body);
    expect(r.json).toMatchObject({ acknowledged: true, persistent: { 'authcache.cache.roles.max_entries': '500' }, transient: {} });
    expect((await req('GET', '/_cluster/settings?flat_settings')).json).toEqual({ persistent: { 'authcache.cache.roles.max_entries': '500' }, transient: {} });
    expect((await req('GET', '/_cluster/settings?flat_settings=false')).json).toEqual({ persistent: { authcache: { cache: { roles: { max_entries: '500' } } } }, transient: {} });
  });

  it('include_defaults adds the defaults of every name', async () => {
    const r = await req('GET', '/_cluster/settings?include_defaults=true&flat_settings=true');
    expect(r.json.defaults).toMatchObject({ [TTL]: '60', 'authcache.cache.all.max_entries': '100', 'authcache.cache.credentials.active_update': 'false' });
    const nested = await req('GET', '/_cluster/settings?include_defaults=true');
    expect(nested.json.defaults.plugins.security.cache.ttl_minutes).toBe('60');
    expect(Object.keys(nested.json)).toEqual(['persistent', 'transient', 'defaults']);
  });

  it('a persistent write leaves a transient value in force', async () => {
    await req('PUT', '/_cluster/settings', { transient: { [TTL]: '30' } });
    await req('PUT', '/_cluster/settings', { persistent: { [TTL]: '90' } });
    const v = await req('GET', '/v1/cache/settings');
    expect(v.json.settings.credentials.ttl_ms).toBe(1_800_000);
    expect((await req('GET', '/_cluster/settings?flat_settings=true')).json).toEqual({ persistent: { [TTL]: '90' }, transient: { [TTL]: '30' } });
  });

  it(`both layers in one body: ${PROTOCOL_CARRIES.more ? 'one update' : 'two updates in a row, persistent first (the protocol carries no more)'}`, async () => {
    const r = await req('PUT', '/_cluster/settings', { persistent: { [TTL]: '90' }, transient: { [TTL]: '30' } });
    expect(r.status).toBe(200);
    expect(published.length).toBe(PROTOCOL_CARRIES.more ? 1 : 2);
    expect(state.effective().roles.ttl_ms).toBe(1_800_000);
  });

  it(`null resets a name to the layer below${PROTOCOL_CARRIES.reset ? '' : ' (refused until the protocol carries resets)'}`, async () => {
    await req('PUT', '/_cluster/settings', { persistent: { [TTL]: '90' }, transient: { [TTL]: '30' } });
    const r = await req('PUT', '/_cluster/settings', { transient: { plugins: { security: { cache: { ttl_minutes: null } } } } });
    if (PROTOCOL_CARRIES.reset) {
      expect(r.json).toMatchObject({ acknowledged: true, persistent: {}, transient: {} });
      expect(state.effective().credentials.ttl_ms).toBe(5_400_000);
    } else {
      expectOpenSearchError(r, 400, 'illegal_argument_exception');
      expect(r.json.error.reason).toMatch(/null/);
      expect(state.effective().credentials.ttl_ms).toBe(1_800_000);
    }
  });
});

describe('errors on the OpenSearch paths are OpenSearch-shaped', () => {
  it.each<[string, string, unknown, number, string, string | undefined]>([
    ['unknown name', '/_cluster/settings', { transient: { 'indices.x': 1 } }, 400, 'illegal_argument_exception', 'transient setting [indices.x], not recognized'],
    ['bad value', '/_cluster/settings', { persistent: { [TTL]: 'NaN' } }, 400, 'illegal_argument_exception', `Failed to parse value [NaN] for setting [${TTL}]`],
    ['nothing to update', '/_cluster/settings', {}, 400, 'action_request_validation_exception', 'Validation Failed: 1: no settings to update;'],
    ['nothing to update in a layer', '/_cluster/settings', { transient: {} }, 400, 'action_request_validation_exception', 'Validation Failed: 1: no settings to update;'],
    ['malformed JSON', '/_cluster/settings', '{', 400, 'parse_exception', 'malformed JSON body'],
    ['a layer that is no object', '/_cluster/settings', { transient: 5 }, 400, 'illegal_argument_exception', undefined],
    ['an unknown top-level key', '/_cluster/settings', { transiant: { [TTL]: 1 } }, 400, 'illegal_argument_exception', undefined],
    ['a bad flag', '/_cluster/settings?flat_settings=maybe', { transient: { [TTL]: 1 } }, 400, 'illegal_argument_exception', 'Failed to parse value [maybe] as only [true] or [false] are allowed.'],
  ])('PUT with %s', async (_why, url, body, status, type, reason) => {
    expectOpenSearchError(await req('PUT', url, body), status, type, reason);
    expect(published).toEqual([]);
  });

  it('no credentials, wrong token: security_exception 401/403 on every OpenSearch path', async () => {
    const paths: Array<[string, string]> = [
      ['GET', '/_cluster/settings'],
      ['PUT', '/_cluster/settings'],
      ['DELETE', '/_plugins/_security/api/cache'],
      ['DELETE', '/_opendistro/_security/api/cache'],
      ['DELETE', '/_plugins/_security/api/cache/user/bob'],
      ['DELETE', '/_opendistro/_security/api/cache/user/bob'],
    ];
    for (const [method, path] of paths) {
      expectOpenSearchError(await req(method, path, undefined, {}), 401, 'security_exception');
      expectOpenSearchError(await req(method, path, undefined, { authorization: 'Bearer nope' }), 403, 'security_exception', 'admin access denied');
    }
    expect(flushes).toEqual([]);
  });

  it('a bad ?caches on an OpenSearch path', async () => {
    expectOpenSearchError(await req('DELETE', '/_opendistro/_security/api/cache?caches=passwords'), 400, 'illegal_argument_exception');
  });

  it('the /v1 paths keep {"error": "..."}', async () => {
    for (const r of [
      await req('PUT', '/v1/cache/settings', { cache: 'nope' }),
      await req('DELETE', '/v1/cache', undefined, {}),
      await req('DELETE', '/v1/cache?caches=passwords'),
      await req('PUT', '/v1/cache/settings', '{'),
    ]) {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(Object.keys(r.json)).toEqual(['error']);
      expect(typeof r.json.error).toBe('string');
    }
  });
});

describe('the cache API', () => {
  it.each(['/_plugins/_security/api', '/_opendistro/_security/api'])('%s answers with "status":"OK" beside the message', async (prefix) => {
    expect((await req('DELETE', `${prefix}/cache`)).json).toMatchObject({ status: 'OK', message: 'Cache flushed successfully.', nodes: { total: 1 } });
    expect((await req('DELETE', `${prefix}/cache/user/john_doe`)).json).toMatchObject({ status: 'OK', message: 'Cache invalidated for user: john_doe' });
    expect(flushes).toEqual(['all', 'john_doe']);
  });

  it('our paths answer as before', async () => {
    const r = await req('DELETE', '/v1/cache');
    expect(r.json.status).toBeUndefined();
    expect(r.json.message).toBe('Cache flushed successfully.');
  });

  it('OPTIONS answers 200 with Allow, without credentials', async () => {
    for (const path of ['/_plugins/_security/api/cache', '/_opendistro/_security/api/cache', '/_plugins/_security/api/cache/user/x', '/_opendistro/_security/api/cache/user/x']) {
      const r = await req('OPTIONS', path, undefined, {});
      expect({ path, status: r.status, allow: r.headers.allow }).toEqual({ path, status: 200, allow: 'DELETE, OPTIONS' });
    }
    const s = await req('OPTIONS', '/_cluster/settings', undefined, {});
    expect([s.status, s.headers.allow]).toEqual([200, 'GET, PUT, OPTIONS']);
    expect(flushes).toEqual([]);
  });

  it('a wrong method is still a 405 naming the methods allowed', async () => {
    const r = await req('GET', '/_opendistro/_security/api/cache');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toContain('DELETE');
  });
});

describe('bodiesFor', () => {
  const persistent = { scope: 'all' as const, values: { ttl_ms: 1 }, persistent: true };
  const transient = { scope: 'roles' as const, values: {}, persistent: false, reset: ['ttl_ms' as const] };

  it('one body with `more` when the protocol carries it, else one per change', () => {
    expect(bodiesFor([persistent, transient], { reset: true, more: true })).toEqual([{ ...persistent, more: [transient] }]);
    expect(bodiesFor([persistent], { reset: true, more: true })).toEqual([persistent]);
    expect(bodiesFor([persistent, transient], { reset: true, more: false })).toEqual([persistent, transient]);
  });

  it('refuses a reset the protocol cannot carry, in OpenSearch terms', () => {
    expect(() => bodiesFor([persistent, transient], { reset: false, more: true })).toThrow(/^resetting a setting with null is not supported/);
    expect(bodiesFor([persistent], { reset: false, more: false })).toEqual([persistent]);
  });
});
