/**
 * The OpenSearch paths under random requests: every answer is a 2xx or a 4xx, every 4xx is in
 * OpenSearch's error shape with a reason, the node stays healthy, and the settings it ends with
 * are ones a client could have set (the view and the effective settings agree on every node).
 */

import fc from 'fast-check';
import { call, useCluster } from './support';
import { raw } from './support/security';

const s = useCluster({ size: 2 });
const SEED = 0x05ea7c4;

const names = fc.constantFrom(
  'plugins.security.cache.ttl_minutes',
  'authcache.cache.all.ttl_ms',
  'authcache.cache.credentials.max_entries',
  'authcache.cache.roles.refresh_ms',
  'authcache.cache.roles.active_update',
  'authcache.cache.*',
  'plugins.security.*',
  'indices.recovery.max_bytes_per_sec',
  'authcache.cache.all',
  'authcache.cache.all.ttl_ms.x',
  '',
  '*',
);
const value = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -5, max: 600_000 }),
  fc.integer({ min: -5, max: 600_000 }).map(String),
  fc.constantFrom('true', 'false', true, false, 'NaN', '1e3', ' 5', '', 1.5, [], [1], {}, { a: 1 }),
  fc.jsonValue({ maxDepth: 2 }),
);
/** A layer as flat names, as a tree split at a random dot, or as random JSON. */
const layer = fc.oneof(
  fc.dictionary(names, value, { maxKeys: 4 }),
  fc.tuple(names, value).map(([n, v]) => n.split('.').reduceRight<unknown>((acc, part) => ({ [part]: acc }), v)),
  fc.jsonValue({ maxDepth: 4 }),
);
const body = fc.oneof(
  fc.record({ transient: layer, persistent: layer }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
  fc.jsonValue({ maxDepth: 3 }).map((b) => JSON.stringify(b)),
  fc.constantFrom('{', '', 'null', '[]', '{"transient": {"a": ' + '['.repeat(2000) + ']'.repeat(2000) + '}}'),
);
const target = fc.constantFrom(
  ['PUT', '/_cluster/settings'],
  ['PUT', '/_cluster/settings?flat_settings=true'],
  ['PUT', '/_cluster/settings?flat_settings=nope'],
  ['GET', '/_cluster/settings?include_defaults&flat_settings'],
  ['DELETE', '/_plugins/_security/api/cache?caches=roles'],
  ['DELETE', '/_opendistro/_security/api/cache/user/fz'],
  ['DELETE', '/_opendistro/_security/api/cache?caches=nope'],
  ['OPTIONS', '/_opendistro/_security/api/cache'],
);
const authed = fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, fc.constant(false));

it('answers every request with a 2xx or an OpenSearch-shaped 4xx, and stays consistent', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.record({ target, body, authed, node: fc.nat(1) }), async ({ target: [method, path], body: b, authed: a, node }) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (a) headers.authorization = `Bearer ${s.token}`;
      const r = await raw(s.nodes[node]!.url + path, { method, headers, body: method === 'GET' || method === 'OPTIONS' ? undefined : b });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const what = `${method} ${path} ${b.slice(0, 120)} -> ${r.status} ${r.text.slice(0, 200)}`;
      expect({ what, ok: (r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500) }).toEqual({ what, ok: true });
      if (r.status >= 400) {
        const e = r.json?.error;
        expect({ what, shape: [typeof e?.type, typeof e?.reason, e?.root_cause?.[0]?.reason === e?.reason, r.json?.status] }).toEqual({ what, shape: ['string', 'string', true, r.status] });
        expect(e.reason.length).toBeGreaterThan(0);
      } else {
        expect({ what, json: r.json !== undefined }).toEqual({ what, json: true });
      }
    }),
    { seed: SEED, numRuns: 300, interruptAfterTimeLimit: 25_000 },
  );
  for (const status of [200, 400, 401]) expect({ status, seen: (statuses.get(status) ?? 0) > 0 }).toEqual({ status, seen: true });

  // Whatever was accepted, both nodes agree, and what GET shows is what is in effect.
  const views = await Promise.all(s.nodes.map((n) => call(n.url, 'GET', '/_cluster/settings?flat_settings=true', { token: s.token })));
  expect(views[1]!.json).toEqual(views[0]!.json);
  const effective = await Promise.all(s.nodes.map((n) => call(n.url, 'GET', '/v1/cache/settings', { token: s.token })));
  expect(effective[1]!.json.settings).toEqual(effective[0]!.json.settings);
  for (const n of s.nodes) expect((await raw(`${n.url}/health`)).status).toBe(200);
}, 60_000);
