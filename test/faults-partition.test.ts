/**
 * One node cut off from Redis (its own TCP proxy blackholed, or resetting every connection) while
 * roles change through the others. The promise, against the clock: no node accepts a revoked
 * credential later than max_staleness after the revoking call returned; the cut node stops answering
 * from its cache at max_staleness, says DEGRADED, and catches up to the cluster's seq once healed.
 */

import {
  MARGIN_MS,
  MAX_STALENESS_MS,
  awaitAllMembersUp,
  awaitConvergence,
  cachedAfter,
  checkRevoked,
  expectTimedOut,
  metric,
  readHealth,
  tryLogin,
  useFaultCluster,
  waitForHealth,
  warmAll,
  watchLogins,
} from './support/faults';

const fc = useFaultCluster({ proxied: true });
// A failed scenario must not leave its cut in place for the next one.
afterEach(() => {
  for (const p of fc.proxies) p?.heal();
});

describe.each(['blackhole', 'reset'] as const)('a node cut off from Redis (%s)', (mode) => {
  it('keeps the promise while cut, goes DEGRADED, is reported as a timeout, and catches up once healed', async () => {
    const cut = fc.nodes[2]!;
    const proxy = fc.proxies[2]!;
    const alice = `alice-${mode}`;
    const bob = `bob-${mode}`;
    const carol = `carol-${mode}`;
    await fc.clients[0]!.putRole(alice, { password: 'alice-old', login: true });
    await fc.clients[0]!.putRole(bob, { password: 'bob-pw', login: true });
    await fc.clients[0]!.putRole(carol, { password: 'carol-pw', login: true });
    // The previous scenario's cut node must be a live member again, or the calls below would not wait for it.
    await awaitAllMembersUp(fc);
    await awaitConvergence(fc);
    for (const [user, pw] of [[alice, 'alice-old'], [bob, 'bob-pw'], [carol, 'carol-pw']] as const) await warmAll(fc.nodes, user, pw);
    const catchUpsBefore = await metric(cut, 'authcache_catchups_total');

    proxy.cut(mode);
    const cutAt = Date.now();
    // Both changes at once, while the cut node's last heartbeat is still fresh: it is a member the
    // calls wait for, and it cannot acknowledge.
    const [changed, locked] = await Promise.all([
      fc.clients[0]!.putRole(alice, { password: 'alice-new' }).then((p) => ({ p, at: Date.now() })),
      fc.clients[1]!.putRole(bob, { login: false }).then((p) => ({ p, at: Date.now() })),
    ]);
    expectTimedOut(changed.p, fc.nodes, cut);
    expectTimedOut(locked.p, fc.nodes, cut);

    // The cut node's last confirmed sync is before the cut: past this, nothing from its cache.
    const cacheBound = cutAt + MAX_STALENESS_MS + MARGIN_MS;
    const [, carolOnCut, degraded] = await Promise.all([
      checkRevoked(fc.nodes, [
        { username: alice, password: 'alice-old', revokedAt: changed.at },
        { username: bob, password: 'bob-pw', revokedAt: locked.at },
      ]),
      watchLogins([cut], [{ username: carol, password: 'carol-pw', sampleAfter: cacheBound }], cacheBound + 600),
      waitForHealth(cut, (h) => h.httpStatus === 503 && h.status === 'DEGRADED' && (mode === 'blackhole' || h.redis === 'disconnected'), 5000),
    ]);

    expect(cachedAfter(carolOnCut, cacheBound, cutAt)).toEqual([]);
    // Fail closed: past the bound a valid password gets a clear 503 (the backend is out of reach too), not a 200.
    const carolLate = carolOnCut.filter((s) => s.sentAt > cacheBound);
    expect(carolLate.length).toBeGreaterThan(0);
    for (const s of carolLate) {
      expect(s.status).toBe(503);
      expect(s.error).toMatch(/^node out of sync with the cluster for \d+ ms and the backend is unreachable$/);
    }
    expect(degraded.sync_age_ms).toBeGreaterThan(MAX_STALENESS_MS);
    expect(degraded.applied_seq).toBeLessThan(Math.max(changed.p.seq, locked.p.seq));

    proxy.heal();
    const seq = await awaitConvergence(fc);
    expect(seq).toBe(Math.max(changed.p.seq, locked.p.seq));
    expect((await readHealth(cut))?.status).toBe('UP');
    expect((await tryLogin(cut, alice, 'alice-old')).status).toBe(401);
    expect(await tryLogin(cut, alice, 'alice-new')).toMatchObject({ status: 200 });
    expect((await tryLogin(cut, bob, 'bob-pw')).status).toBe(401);
    expect((await tryLogin(cut, carol, 'carol-pw')).status).toBe(200);
    expect(await metric(cut, 'authcache_catchups_total')).toBeGreaterThan(catchUpsBefore);
  }, 45_000);
});
