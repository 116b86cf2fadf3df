/**
 * The staleness bound covers permissions (issue 15.5; docs/architecture.md, "The staleness bound, and why it holds"):
 * a node cut from Redis keeps its cached "allowed" only until max_staleness after its last
 * confirmed sync; a permission revoked meanwhile through another node is never allowed by the cut
 * node later than max_staleness after the revoke returned (it answers denied or 503). Healed, it
 * catches up and answers from the revoke.
 */
import { waitFor, type CutMode } from '@authcache/testkit';
import { HEARTBEAT_MS, MAX_STALENESS_MS, useFaultCluster } from './support/faults';
import { pause, request } from './support/scenario';

const REQUEST_TIMEOUT_MS = 3000;

// Two nodes, each behind its own proxy to Redis, so one can be cut alone.
const fc = useFaultCluster({ size: 2, proxied: true, env: { AUTHCACHE_ACK_TIMEOUT_MS: '600' } });

const call = (k: number, method: string, path: string, json?: unknown, auth = false) => request(fc.nodes[k]!.url, method, path, REQUEST_TIMEOUT_MS, { json, ...(auth ? { token: fc.token } : {}) });

describe.each<CutMode>(['blackhole', 'reset'])('a node cut from Redis (%s)', (mode) => {
  const role = `pr_${mode}`;
  const check = { username: role, resource: `data/${mode}/t`, permission: 'SELECT' };

  it('never allows a revoked permission later than max_staleness after the revoke returned; converges when healed', async () => {
    expect((await call(1, 'PUT', `/v1/roles/${role}`, { login: true, password: `${role}-pw` }, true)).status).toBe(201);
    expect((await call(1, 'PUT', `/v1/roles/${role}/permissions`, { resource: `data/${mode}`, permissions: ['SELECT'] }, true)).status).toBe(200);
    expect((await call(0, 'POST', '/v1/authorize', check)).json).toMatchObject({ allowed: true });
    expect((await call(0, 'POST', '/v1/authorize', check)).json).toMatchObject({ allowed: true, cached: true });
    await waitFor(async () => (await call(0, 'GET', '/health')).json?.status === 'UP', { timeoutMs: 10_000, message: 'node 0 not UP before the cut' });

    fc.proxies[0]!.cut(mode);
    const revoke = await call(1, 'DELETE', `/v1/roles/${role}/permissions`, { resource: `data/${mode}`, permissions: ['SELECT'] }, true);
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();
    const late: string[] = [];
    while (Date.now() < revokedAt + 2 * MAX_STALENESS_MS) {
      const sent = Date.now();
      const r = await call(0, 'POST', '/v1/authorize', check);
      // Past the bound the cut node may answer "denied" or 503 (or not at all), never "allowed".
      if (sent > revokedAt + MAX_STALENESS_MS && r.status === 200 && r.json?.allowed === true) late.push(`allowed at +${sent - revokedAt} ms`);
      if (r.status === 500 || r.status === -1) late.push(`HTTP ${r.status} at +${sent - revokedAt} ms: ${JSON.stringify(r.json)}`);
      await pause(50);
    }
    expect(late).toEqual([]);

    fc.proxies[0]!.heal();
    await waitFor(async () => (await call(0, 'GET', '/health')).json?.status === 'UP', { timeoutMs: 15_000, message: 'node 0 not UP after the heal' });
    expect((await call(0, 'POST', '/v1/authorize', check)).json).toMatchObject({ allowed: false });
  }, 60_000);
});
