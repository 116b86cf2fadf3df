/**
 * Issue 11.6: a change made outside our API (here HSET on the role hash, as another backend's
 * rows would change) reaches a node only through refresh_ms or active update. A reload that finds
 * LOGIN = false with the same hash must end every cached acceptance: no invalidation is ever
 * published for such a change, so the reload is the only thing that can stop the old entry.
 */

import { clusterNames } from '@authcache/protocol';
import { withConnection, type NodeHandle } from '@authcache/testkit';
import { call, startNodeOf, useCluster, waitFor } from './support';
import { metricValue, scrape } from './support/security';

const REFRESH_MS = 500;
/** Scheduling slack on 2 busy cores: a reload is one Redis read, but the poll and the node share the cores. */
const MARGIN_MS = 1000;
const POLL_MS = 25;

const s = useCluster({ size: 1, env: { AUTHCACHE_CACHE_REFRESH_MS: String(REFRESH_MS) } });
let active: NodeHandle;

beforeAll(async () => {
  // Same cluster, active update on: entries are reloaded on a timer, without an access to trigger it.
  active = await startNodeOf(s, { AUTHCACHE_CACHE_REFRESH_MS: String(REFRESH_MS), AUTHCACHE_CACHE_ACTIVE_UPDATE: 'true' });
  for (const name of ['refreshed', 'updated']) {
    const r = await call(s.nodes[0]!.url, 'PUT', `/v1/roles/${name}`, { token: s.token, json: { password: `${name}-pw`, login: true } });
    expect(r.status).toBe(201);
  }
}, 30_000);

afterAll(async () => {
  await active?.stop();
});

const login = (url: string, username: string) => call(url, 'POST', '/v1/login', { json: { username, password: `${username}-pw` } });

/** Sets can_login in Redis directly: no ConfigUpdate, no invalidation, seq unchanged. */
const setCanLogin = (name: string, value: boolean) =>
  withConnection(s.redis.url, (redis) => redis.hset(clusterNames(s.cluster.cluster).role(name), 'can_login', String(value)));

const credentialLoads = async (url: string) => metricValue(await scrape(url), 'authcache_cache', { cache: 'credentials', stat: 'loads' });

/**
 * Logs in again and again after can_login was turned off outside the API, until refused; returns
 * when the first refusal arrived. Any 200 to a login sent after the node had reloaded the entry
 * (its credentials `loads` went up) fails the test, as does any other answer than 200/401.
 */
async function pollUntilRefused(url: string, username: string, loadsBefore: number, changedAt: number): Promise<number> {
  let reloadedAt: number | undefined;
  const acceptedAfterReload: number[] = [];
  // Collected, not asserted in the probe: waitFor takes a throwing probe for "not yet".
  const unexpected: number[] = [];
  const refusedAt = await waitFor(
    async () => {
      const sent = Date.now();
      const r = await login(url, username);
      if (r.status !== 200 && r.status !== 401) unexpected.push(r.status);
      if (r.status === 200 && reloadedAt !== undefined && sent >= reloadedAt) acceptedAfterReload.push(sent - changedAt);
      if (reloadedAt === undefined && (await credentialLoads(url)) > loadsBefore) reloadedAt = Date.now();
      return r.status === 401 ? Date.now() : undefined;
    },
    { timeoutMs: REFRESH_MS + MARGIN_MS + 5000, intervalMs: POLL_MS, message: `${username} was never refused after can_login was set false` },
  );
  expect({ acceptedAfterReload, unexpected }).toEqual({ acceptedAfterReload: [], unexpected: [] });
  return refusedAt;
}

/** For two more refresh intervals every login is refused: no later reload brings the old verifier back. */
async function expectStaysRefused(url: string, username: string): Promise<void> {
  const until = Date.now() + 2 * REFRESH_MS;
  const statuses: number[] = [];
  for (let i = 0; i < 200 && Date.now() < until; i++) statuses.push((await login(url, username)).status);
  expect(new Set(statuses)).toEqual(new Set([401]));
}

describe.each([
  ['refresh_ms (reload on access)', 'refreshed', () => s.nodes[0]!.url],
  ['active update (reload on a timer)', 'updated', () => active.url],
])('%s: can_login set false outside the API', (_what, username, url) => {
  it(`is refused within refresh_ms (${REFRESH_MS} ms) + ${MARGIN_MS} ms, and never accepted after the reload`, async () => {
    expect((await login(url(), username)).status).toBe(200);
    const warm = await login(url(), username);
    expect({ status: warm.status, cached: warm.json?.cached }).toEqual({ status: 200, cached: true });

    const loadsBefore = await credentialLoads(url());
    await setCanLogin(username, false);
    const changedAt = Date.now();
    const refusedAt = await pollUntilRefused(url(), username, loadsBefore, changedAt);
    expect({ refusedAfterMs: refusedAt - changedAt, within: refusedAt - changedAt <= REFRESH_MS + MARGIN_MS }).toEqual({
      refusedAfterMs: refusedAt - changedAt,
      within: true,
    });
    await expectStaysRefused(url(), username);

    // Turned back on (outside the API again): the next reload lets the password in after one bcrypt.
    await setCanLogin(username, true);
    await waitFor(async () => (await login(url(), username)).status === 200, {
      timeoutMs: REFRESH_MS + MARGIN_MS + 5000,
      intervalMs: POLL_MS,
      message: `${username} was never accepted again after can_login was set back to true`,
    });
  });
});
