/**
 * OpenSearch's own JS client (@opensearch-project/opensearch) against real nodes: what a script
 * written for OpenSearch Security and its cluster settings API sees. Two nodes, to propagate.
 */

import { Client, errors } from '@opensearch-project/opensearch';
import { useCluster, waitFor } from './support';

const s = useCluster({ size: 2 });
const TTL = 'plugins.security.cache.ttl_minutes';
const TWO_OK = { total: 2, successful: 2, failed: 0 };

let bearer: Client;
let basic: Client;

beforeAll(async () => {
  await s.clients[0]!.putRole('os_admin', { password: 'os-admin-pw', login: true, superuser: true });
  await s.clients[0]!.putRole('os_user', { password: 'os-user-pw', login: true });
  // The client has no bearer option: a default header carries the admin token on every request.
  bearer = new Client({ node: s.nodes[0]!.url, headers: { authorization: `Bearer ${s.token}` } });
  basic = new Client({ node: s.nodes[1]!.url, auth: { username: 'os_admin', password: 'os-admin-pw' } });
});
afterAll(async () => {
  await Promise.all([bearer?.close(), basic?.close()]);
});

async function ttlsOnEveryNode(): Promise<number[]> {
  return Promise.all(s.clients.map(async (c) => (await c.getSettings()).settings.credentials.ttl_ms));
}

/** The error a call rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<InstanceType<typeof errors.ResponseError>> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(errors.ResponseError);
  return e as InstanceType<typeof errors.ResponseError>;
}

it('security.flushCache() flushes every node, with a bearer token and with Basic of a superuser', async () => {
  for (const c of [bearer, basic]) {
    const r = await c.security.flushCache();
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatchObject({ status: 'OK', message: 'Cache flushed successfully.', nodes: TWO_OK, failures: [] });
  }
  // The legacy Open Distro path answers the same.
  const legacy = await bearer.transport.request({ method: 'DELETE', path: '/_opendistro/_security/api/cache/user/os_user' });
  expect(legacy.body).toMatchObject({ status: 'OK', message: 'Cache invalidated for user: os_user', nodes: TWO_OK });
});

it('cluster.putSettings with a nested body reaches every node; the answer is nested, values strings', async () => {
  const r = await bearer.cluster.putSettings({ body: { transient: { plugins: { security: { cache: { ttl_minutes: 30 } } } } } });
  expect(r.statusCode).toBe(200);
  expect(r.body).toMatchObject({ acknowledged: true, persistent: {}, transient: { plugins: { security: { cache: { ttl_minutes: '30' } } } }, nodes: TWO_OK });
  expect(await ttlsOnEveryNode()).toEqual([1_800_000, 1_800_000]);

  const nested = await basic.cluster.getSettings();
  expect(nested.body).toEqual({ persistent: {}, transient: { plugins: { security: { cache: { ttl_minutes: '30' } } } } });
  const flat = await basic.cluster.getSettings({ flat_settings: true });
  expect(flat.body).toEqual({ persistent: {}, transient: { [TTL]: '30' } });
});

it('a persistent setting does not displace the transient one', async () => {
  const r = await basic.cluster.putSettings({ flat_settings: true, body: { persistent: { [TTL]: '90', 'authcache.cache.roles.max_entries': 500 } } });
  expect(r.body).toMatchObject({ acknowledged: true, persistent: { [TTL]: '90', 'authcache.cache.roles.max_entries': '500' }, transient: {} });
  expect(await ttlsOnEveryNode()).toEqual([1_800_000, 1_800_000]);
  const both = await bearer.cluster.getSettings({ flat_settings: true });
  expect(both.body).toEqual({ persistent: { [TTL]: '90', 'authcache.cache.roles.max_entries': '500' }, transient: { [TTL]: '30' } });
});

it('include_defaults lists the defaults', async () => {
  const r = await bearer.cluster.getSettings({ include_defaults: true, flat_settings: true });
  expect(r.body.defaults).toMatchObject({ [TTL]: '60', 'authcache.cache.all.ttl_ms': '3600000' });
});

it("a bad value, an unknown setting, no credentials: the client shows OpenSearch's reason", async () => {
  const bad = await rejection(bearer.cluster.putSettings({ body: { transient: { [TTL]: '-5' } } }));
  expect(bad.statusCode).toBe(400);
  expect(bad.message).toBe(`illegal_argument_exception: [illegal_argument_exception] Reason: Failed to parse value [-5] for setting [${TTL}] must be >= 0`);

  const unknown = await rejection(basic.cluster.putSettings({ body: { persistent: { indices: { recovery: { max_bytes_per_sec: '50mb' } } } } }));
  expect(unknown.body.error).toMatchObject({ type: 'illegal_argument_exception', reason: 'persistent setting [indices.recovery.max_bytes_per_sec], not recognized' });

  const anonymous = new Client({ node: s.nodes[0]!.url });
  try {
    const denied = await rejection(anonymous.security.flushCache());
    expect(denied.statusCode).toBe(401);
    expect(denied.message).toMatch(/^security_exception: \[security_exception\] Reason: /);
  } finally {
    await anonymous.close();
  }
  const user = new Client({ node: s.nodes[0]!.url, auth: { username: 'os_user', password: 'os-user-pw' } });
  try {
    expect((await rejection(user.cluster.getSettings())).statusCode).toBe(403);
  } finally {
    await user.close();
  }
  // Nothing changed.
  expect(await ttlsOnEveryNode()).toEqual([1_800_000, 1_800_000]);
});

it('OPTIONS on the cache API answers 200 with Allow', async () => {
  const r = await bearer.transport.request({ method: 'OPTIONS', path: '/_plugins/_security/api/cache' });
  expect(r.statusCode).toBe(200);
  expect(r.headers?.allow).toBe('DELETE, OPTIONS');
});

it('null resets the transient value, and the persistent one shows through (or is refused while the protocol cannot carry it)', async () => {
  const p = bearer.cluster.putSettings({ body: { transient: { [TTL]: null } } });
  const outcome = await p.then(
    (r) => r,
    (e: unknown) => e,
  );
  if (outcome instanceof errors.ResponseError) {
    expect(outcome.statusCode).toBe(400);
    expect(outcome.body.error.reason).toMatch(/null/);
    return;
  }
  await waitFor(async () => (await ttlsOnEveryNode()).every((t) => t === 5_400_000), { timeoutMs: 5000, message: 'the persistent TTL did not show through' });
  expect((await bearer.cluster.getSettings({ flat_settings: true })).body.transient).toEqual({});
});
