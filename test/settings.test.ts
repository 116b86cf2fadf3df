/**
 * Cache settings changed at runtime through one node: they reach every node by the time the call
 * returns, keep valid entries, and persist (or not) across restarts as OpenSearch's persistent and
 * transient cluster settings do. The tests run in order: each starts from the settings the previous left.
 */

import { ALL_OK, call, loginAll, loginStatuses, useCluster, waitFor, warm, type Suite } from './support';

const s = useCluster();

const TTL_KEY = 'plugins.security.cache.ttl_minutes';

async function settingsOnEveryNode(suite: Suite) {
  return Promise.all(
    suite.nodes.map(async (n) => {
      const r = await call(n.url, 'GET', '/v1/cache/settings', { token: suite.token });
      expect(r.status).toBe(200);
      expect(r.json.node).toBe(n.id);
      return r.json;
    }),
  );
}

async function ttlsOnEveryNode(suite: Suite): Promise<Array<[number, number]>> {
  return (await settingsOnEveryNode(suite)).map((v) => [v.settings.credentials.ttl_ms, v.settings.roles.ttl_ms]);
}

async function clusterSettingsOnEveryNode(suite: Suite) {
  return Promise.all(
    suite.nodes.map(async (n) => {
      // Flat names: the views below compare names; OpenSearch answers nested unless asked (see the first test).
      const r = await call(n.url, 'GET', '/_cluster/settings?flat_settings=true', { token: suite.token });
      expect(r.status).toBe(200);
      return r.json;
    }),
  );
}

beforeAll(async () => {
  await s.clients[0]!.putRole('una', { password: 'una-pw', login: true });
});

it('a transient ttl_minutes set through PUT /_cluster/settings reaches every node and keeps their entries', async () => {
  await warm(s, 'una', 'una-pw');

  const r = await call(s.nodes[1]!.url, 'PUT', '/_cluster/settings', { token: s.token, json: { transient: { [TTL_KEY]: '120' } } });
  expect(r.status).toBe(200);
  // Nested, as OpenSearch answers without flat_settings=true (issue 12; this test used to expect the flat name here).
  expect(r.json).toMatchObject({ acknowledged: true, persistent: {}, transient: { plugins: { security: { cache: { ttl_minutes: '120' } } } }, nodes: ALL_OK, failures: [] });
  const nested = await call(s.nodes[0]!.url, 'GET', '/_cluster/settings', { token: s.token });
  expect(nested.json).toEqual({ persistent: {}, transient: { plugins: { security: { cache: { ttl_minutes: '120' } } } } });

  expect(await ttlsOnEveryNode(s)).toEqual([[7_200_000, 7_200_000], [7_200_000, 7_200_000], [7_200_000, 7_200_000]]);
  const health = await Promise.all(s.nodes.map((n) => call(n.url, 'GET', '/health')));
  for (const h of health) {
    expect(h.status).toBe(200);
    expect(h.json.settings).toMatchObject({ credentials: { ttl_ms: 7_200_000, enabled: true }, roles: { ttl_ms: 7_200_000, enabled: true } });
  }
  for (const view of await clusterSettingsOnEveryNode(s)) {
    expect(view).toMatchObject({ persistent: {}, transient: { [TTL_KEY]: '120' } });
    expect(Object.keys(view.persistent)).toEqual([]);
  }

  // Unlike OpenSearch, which recreates its caches on this change: entries loaded before it are still hits.
  expect((await loginAll(s, 'una', 'una-pw')).map((l) => l.cached)).toEqual([true, true, true]);
});

it('ttl_ms 0 for the credentials cache disables it on every node; logins stay correct', async () => {
  await warm(s, 'una', 'una-pw');

  const r = await call(s.nodes[2]!.url, 'PUT', '/v1/cache/settings', { token: s.token, json: { cache: 'credentials', ttl_ms: 0 } });
  expect(r.status).toBe(200);
  expect(r.json).toMatchObject({ message: 'Settings updated.', nodes: ALL_OK, settings: { credentials: { ttl_ms: 0, enabled: false } } });

  for (const view of await settingsOnEveryNode(s)) {
    expect(view.settings.credentials).toMatchObject({ ttl_ms: 0, enabled: false });
    // The other cache keeps its own TTL.
    expect(view.settings.roles).toMatchObject({ ttl_ms: 7_200_000, enabled: true });
  }

  for (let i = 0; i < 2; i++) {
    expect((await loginAll(s, 'una', 'una-pw')).map((l) => l.cached)).toEqual([false, false, false]);
  }
  expect(await loginStatuses(s, 'una', 'wrong-pw')).toEqual([401, 401, 401]);

  // Re-enabled: caching works again (second login a hit on every node).
  const back = await s.clients[0]!.putSettings({ cache: 'credentials', ttl_ms: 3_600_000 });
  expect(back.nodes).toEqual(ALL_OK);
  await loginAll(s, 'una', 'una-pw');
  expect((await loginAll(s, 'una', 'una-pw')).map((l) => l.cached)).toEqual([true, true, true]);
});

it('a shortened TTL applies to entries already held on every node', async () => {
  await warm(s, 'una', 'una-pw');

  const shortMs = 1500;
  const r = await s.clients[1]!.putSettings({ ttl_ms: shortMs });
  expect(r.nodes).toEqual(ALL_OK);
  expect(await ttlsOnEveryNode(s)).toEqual([[shortMs, shortMs], [shortMs, shortMs], [shortMs, shortMs]]);

  // Under the old TTL (1 h) these entries had an hour left; under the new one they must lapse within seconds.
  await Promise.all(
    s.clients.map((c, i) =>
      waitFor(async () => !(await c.login('una', 'una-pw')).cached, {
        timeoutMs: shortMs + 5000,
        intervalMs: 200,
        message: `node ${s.nodes[i]!.id} still answers una from its cache after the TTL was shortened to ${shortMs} ms`,
      }),
    ),
  );

  const restored = await s.clients[2]!.putSettings({ ttl_ms: 3_600_000 });
  expect(restored.nodes).toEqual(ALL_OK);
});

it('a persistent write leaves the transient value in force on every node until it is reset (OpenSearch precedence)', async () => {
  // The previous tests left a transient TTL of 60 minutes for every cache.
  const p = await call(s.nodes[0]!.url, 'PUT', '/_cluster/settings', { token: s.token, json: { persistent: { plugins: { security: { cache: { ttl_minutes: 45 } } } } } });
  expect(p.status).toBe(200);
  expect(p.json).toMatchObject({ persistent: { plugins: { security: { cache: { ttl_minutes: '45' } } } }, transient: {}, nodes: ALL_OK });
  // Until this version a persistent write cleared the transient values of its keys: 45 minutes here.
  expect(await ttlsOnEveryNode(s)).toEqual([[3_600_000, 3_600_000], [3_600_000, 3_600_000], [3_600_000, 3_600_000]]);
  for (const view of await clusterSettingsOnEveryNode(s)) expect(view).toEqual({ persistent: { [TTL_KEY]: '45' }, transient: { [TTL_KEY]: '60' } });

  const reset = await call(s.nodes[2]!.url, 'PUT', '/_cluster/settings', { token: s.token, json: { transient: { [TTL_KEY]: null } } });
  if (reset.status === 400) {
    // The protocol cannot carry a reset yet (PROTOCOL_CARRIES.reset): refused in OpenSearch's shape, nothing changed.
    expect(reset.json.error).toMatchObject({ type: 'illegal_argument_exception' });
    expect(await ttlsOnEveryNode(s)).toEqual([[3_600_000, 3_600_000], [3_600_000, 3_600_000], [3_600_000, 3_600_000]]);
  } else {
    expect(reset.json).toMatchObject({ acknowledged: true, transient: {}, nodes: ALL_OK });
    expect(await ttlsOnEveryNode(s)).toEqual([[2_700_000, 2_700_000], [2_700_000, 2_700_000], [2_700_000, 2_700_000]]);
  }
});

it('?local=true changes the receiving node only, transient only: a persistent local change is refused, nothing written', async () => {
  const before = await ttlsOnEveryNode(s);
  const views = await clusterSettingsOnEveryNode(s);
  // Nothing local is stored, so nothing local could survive a restart: 400, on both APIs, and no node changed.
  const ours = await call(s.nodes[0]!.url, 'PUT', '/v1/cache/settings?local=true', { token: s.token, json: { ttl_ms: 60_000, persistent: true } });
  expect(ours.status).toBe(400);
  expect(ours.json.error).toMatch(/persistent settings cannot be changed with local=true/);
  const os = await call(s.nodes[0]!.url, 'PUT', '/_cluster/settings?local=true', { token: s.token, json: { persistent: { [TTL_KEY]: '1' }, transient: { [TTL_KEY]: '2' } } });
  expect(os.status).toBe(400);
  expect(os.json.error).toMatchObject({ type: expect.any(String), reason: expect.stringMatching(/persistent settings cannot be changed with local=true/) });
  expect(await ttlsOnEveryNode(s)).toEqual(before);
  expect(await clusterSettingsOnEveryNode(s)).toEqual(views);

  // A transient one through OpenSearch's API: node 1 alone, and the answer says so.
  const local = await call(s.nodes[1]!.url, 'PUT', '/_cluster/settings?local=true&flat_settings=true', { token: s.token, json: { transient: { [TTL_KEY]: '15' } } });
  expect(local.status).toBe(200);
  expect(local.json).toMatchObject({ acknowledged: true, transient: { [TTL_KEY]: '15' }, nodes: { total: 1, successful: 1, failed: 0 }, members: [{ node: s.nodes[1]!.id, result: 'applied' }] });
  expect(await ttlsOnEveryNode(s)).toEqual([before[0], [900_000, 900_000], before[2]]);

  // Back to what the other nodes hold, cluster-wide (the next tests set both layers again anyway).
  const back = await call(s.nodes[1]!.url, 'PUT', '/v1/cache/settings', { token: s.token, json: { ttl_ms: before[0]![0] } });
  expect(back.status).toBe(200);
  expect(await ttlsOnEveryNode(s)).toEqual([before[0], before[0], before[0]]);
});

describe('restarts', () => {
  beforeAll(async () => {
    // In one call. Whatever the order of the layers, the transient value stays on top of the persistent one.
    const r = await call(s.nodes[0]!.url, 'PUT', '/_cluster/settings?flat_settings=true', {
      token: s.token,
      json: { persistent: { [TTL_KEY]: '90' }, transient: { [TTL_KEY]: '30' } },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ acknowledged: true, persistent: { [TTL_KEY]: '90' }, transient: { [TTL_KEY]: '30' }, nodes: ALL_OK });
    const p = await s.clients[1]!.putSettings({ cache: 'roles', max_entries: 500, persistent: true });
    expect(p.nodes).toEqual(ALL_OK);
  });

  it('both layers are visible on every node, transient on top', async () => {
    for (const view of await clusterSettingsOnEveryNode(s)) {
      expect(view).toMatchObject({
        persistent: { [TTL_KEY]: '90', 'authcache.cache.roles.max_entries': '500' },
        transient: { [TTL_KEY]: '30' },
      });
    }
    expect(await ttlsOnEveryNode(s)).toEqual([[1_800_000, 1_800_000], [1_800_000, 1_800_000], [1_800_000, 1_800_000]]);
  });

  it('a transient setting survives the restart of ONE node while the others stay up', async () => {
    await s.nodes[0]!.restart();

    const [view] = await settingsOnEveryNode(s);
    expect(view.transient).toMatchObject({ all: { ttl_ms: 1_800_000 } });
    expect(view.settings.credentials.ttl_ms).toBe(1_800_000);
    expect(view.settings.roles).toMatchObject({ ttl_ms: 1_800_000, max_entries: 500 });
    // The restarted node still takes part in propagation.
    expect((await s.clients[1]!.flushAll()).nodes).toEqual(ALL_OK);
  });

  it('after a restart of every node only the persistent settings remain', async () => {
    const codes = await Promise.all(s.nodes.map((n) => n.stop()));
    // SIGTERM is a clean shutdown: exit 0 (the README's Configuration).
    expect(codes).toEqual([0, 0, 0]);
    await Promise.all(s.nodes.map((n) => n.restart()));

    for (const view of await clusterSettingsOnEveryNode(s)) {
      expect(view).toMatchObject({ persistent: { [TTL_KEY]: '90', 'authcache.cache.roles.max_entries': '500' } });
      expect(view.transient).toEqual({});
    }
    for (const view of await settingsOnEveryNode(s)) {
      expect(view.transient).toEqual({});
      expect(view.settings.credentials).toMatchObject({ ttl_ms: 5_400_000, enabled: true });
      expect(view.settings.roles).toMatchObject({ ttl_ms: 5_400_000, max_entries: 500, enabled: true });
    }
    const health = await Promise.all(s.nodes.map((n) => call(n.url, 'GET', '/health')));
    expect(health.map((h) => [h.status, h.json.settings.credentials.ttl_ms])).toEqual(s.nodes.map(() => [200, 5_400_000]));

    // The restarted cluster still serves and caches logins.
    await warm(s, 'una', 'una-pw');
  });
});
