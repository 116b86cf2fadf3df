/**
 * Concurrent grants and revokes on ONE role, sent to two real node processes at once (real Redis):
 * none is lost (docs/architecture.md, "Permissions and impersonation": the writes commute). Every
 * call must succeed, and afterwards both nodes list and enforce exactly the expected grants.
 */
import { useCluster } from './support';

const s = useCluster({ size: 2 });

test('60 concurrent grants and 10 revokes on one role through two nodes: every one lands', async () => {
  await s.clients[0]!.putRole('busy', {});
  await s.clients[0]!.putRole('worker', { password: 'worker-pw', login: true, roles: ['busy'] });
  const doomed = Array.from({ length: 10 }, (_, i) => `GONE${i}`);
  await s.clients[0]!.grantPermissions('busy', 'data/ks', doomed);
  const perms = Array.from({ length: 60 }, (_, i) => `P${String(i).padStart(2, '0')}`);
  const results = await Promise.allSettled([
    ...perms.map((p, i) => s.clients[i % 2]!.grantPermissions('busy', 'data/ks', [p])),
    ...doomed.map((p, i) => s.clients[(i + 1) % 2]!.revokePermissions('busy', 'data/ks', [p])),
  ]);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  for (const c of s.clients) expect(await c.listPermissions('busy')).toEqual([{ resource: 'data/ks', permissions: perms }]);
  // Enforced from every node's cache as listed: the last invalidation reached both.
  for (const c of s.clients) {
    const checks = await Promise.all([...perms, ...doomed].map((p) => c.authorize('worker', 'data/ks/t', p)));
    expect(checks.map((r) => r.allowed)).toEqual([...perms.map(() => true), ...doomed.map(() => false)]);
  }
});
