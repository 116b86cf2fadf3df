/**
 * The judge of the randomized scenario (test/support/scenario-model.ts), on its own: its rule must
 * be exactly the README's guarantee (answer time, max_staleness with no slack, a failed call
 * bounded like a successful one once Redis shows it applied), or a node that overran the bound
 * by a heartbeat would pass the whole suite.
 */

import { permissionCommands, scenarioCommands, ScenarioModel, type Reply, type Timing, type UserSpec } from './support/scenario';
import { PermissionModel, type CheckSpec } from './support/scenario-permissions';

const timing: Timing = { maxStalenessMs: 1000, settleMs: 500, ackGraceMs: 300, outsideBoundMs: 400 };
const spec: UserSpec = { name: 'u', grants: [], superuser: false, expect: { roles: [], superuser: false } };
const ok = (json: object = {}): Reply => ({ status: 200, json: { username: 'u', roles: [], superuser: false, node: 'a', ...json } });
const refused: Reply = { status: 401, json: { error: 'invalid credentials' } };
const fresh = () => {
  const m = new ScenarioModel(timing, ['a', 'b']);
  m.addUser(spec, 'p1', 0);
  return m;
};
/** A login sent and answered at once. */
const at = (t: number) => ({ sent: t, answered: t });

describe('the model the scenario judges by', () => {
  it('allows a revoked password on a node that did not ack only while the answer arrives within max_staleness of the call returning', () => {
    const m = fresh();
    m.change('u', { password: 'p2' }, { ok: true, returnedAt: 1000, acked: ['b'] });
    expect(m.judgeLogin('u', 'p1', 0, at(2000), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(2001), ok())).toMatch(/revoked at 1000, answered 1001 ms after \(bound 1000 ms\)/);
    // Judged by when the answer arrived, not when the request was sent: no slack either way.
    expect(m.judgeLogin('u', 'p1', 0, { sent: 1500, answered: 2001 }, ok())).toMatch(/answered 1001 ms after/);
    // b acknowledged the change: it must refuse the old password at once.
    expect(m.judgeLogin('u', 'p1', 1, at(1001), ok({ node: 'b' }))).toMatch(/acknowledged/);
    expect(m.judgeLogin('u', 'p2', 1, at(1001), ok({ node: 'b' }))).toBeUndefined();
  });

  it('a failed call leaves both states allowed only until it is resolved from Redis, after max_staleness', () => {
    const m = fresh();
    m.change('u', { password: 'p2' }, { ok: false, returnedAt: 10_000 });
    expect(m.current('u')).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(10_900), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p2', 0, at(10_900), ok())).toBeUndefined();
    expect(m.needsResolution('u', 10_999)).toBe(false);
    expect(m.needsResolution('u', 11_000)).toBe(true);
    // Redis holds the new hash: the call did apply, and revoked p1 as of its return.
    m.resolve('u', { password: 'p2', canLogin: true });
    expect(m.needsResolution('u', 20_000)).toBe(false);
    expect(m.current('u')).toBe('p2');
    expect(m.judgeLogin('u', 'p1', 0, at(11_000), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(11_001), ok())).toMatch(/revoked at 10000, answered 1001 ms after/);
    expect(m.judgeLogin('u', 'p2', 0, at(11_001), ok())).toBeUndefined();
  });

  it('a failed call found not applied leaves the old password valid and the new one never valid', () => {
    const m = fresh();
    m.change('u', { password: 'p2' }, { ok: false, returnedAt: 10_000 });
    m.resolve('u', { password: 'p1', canLogin: true });
    expect(m.current('u')).toBe('p1');
    expect(m.judgeLogin('u', 'p1', 0, at(50_000), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p2', 0, at(11_001), ok())).toMatch(/never valid/);
    expect(m.judgeLogin('u', 'p1', 0, at(50_000), refused)).toMatch(/401 for the current password/);
  });

  it('a write stall keeps a failed call unresolved until its queued writes may have landed', () => {
    const m = fresh();
    m.writeStall(12_500);
    m.change('u', { password: 'p2' }, { ok: false, returnedAt: 10_000 });
    expect(m.needsResolution('u', 11_000)).toBe(false);
    expect(m.needsResolution('u', 12_500)).toBe(true);
  });

  it('login false revokes every password; login true brings the current one back', () => {
    const m = fresh();
    m.change('u', { login: false }, { ok: true, returnedAt: 100, acked: ['a', 'b'] });
    expect(m.judgeLogin('u', 'p1', 0, at(150), ok())).toMatch(/acknowledged/);
    m.change('u', { login: true }, { ok: true, returnedAt: 200, acked: ['a', 'b'] });
    expect(m.judgeLogin('u', 'p1', 0, at(250), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(250), refused)).toMatch(/401 for the current password/);
  });

  it('demands 503 for a request sent more than max_staleness into a cut, and allows 503 only while cut or settling', () => {
    const m = fresh();
    m.cut(0, 'blackhole', 10_000);
    expect(m.judgeLogin('u', 'p1', 0, { sent: 11_000, answered: 11_200 }, ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(11_001), ok())).toMatch(/only 503 is right/);
    expect(m.judgeLogin('u', 'p1', 0, at(11_001), { status: 503, json: { error: 'out of sync' } })).toBeUndefined();
    m.heal(0, 12_000);
    expect(m.judgeLogin('u', 'p1', 0, at(12_499), { status: 503, json: { error: 'out of sync' } })).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(12_500), { status: 503, json: { error: 'out of sync' } })).toMatch(/from a node that reaches Redis/);
    expect(m.judgeLogin('u', 'p1', 1, at(12_000), ok({ roles: ['x'], node: 'b' }))).toMatch(/expected/);
  });

  it('a change behind the API is bounded by the refresh, extended by a cut of that node until it settled again', () => {
    const m = new ScenarioModel(timing, ['a', 'b']);
    m.addUser({ ...spec, outsideOn: 0 }, 'p1', 0);
    m.changeOutside('u', false, 1000);
    expect(m.judgeLogin('u', 'p1', 0, at(1400), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(1401), ok())).toMatch(/directly in Redis.*bound 400 ms/);
    m.cut(0, 'reset', 1200);
    expect(m.judgeLogin('u', 'p1', 0, at(2000), ok())).toBeUndefined();
    m.heal(0, 3000);
    expect(m.judgeLogin('u', 'p1', 0, at(3900), ok())).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(3901), ok())).toMatch(/directly in Redis/);
    // Back on: not demanded before the refresh can have seen it.
    m.changeOutside('u', true, 5000);
    expect(m.judgeLogin('u', 'p1', 0, at(5500), refused)).toBeUndefined();
    expect(m.judgeLogin('u', 'p1', 0, at(5700), refused)).toMatch(/401 for the current password/);
  });

  it('admin answers: 503, 504 and no answer are right only while the node cannot write to Redis', () => {
    const m = fresh();
    const unknown: Reply = { status: 504, json: { error: 'outcome unknown: the change may have been applied' } };
    expect(m.judgeAdmin('put', 0, 100, unknown, false)).toMatch(/504/);
    expect(m.judgeAdmin('put', 0, 100, unknown, false, true)).toBeUndefined();
    m.cut(0, 'blackhole', 200);
    expect(m.judgeAdmin('put', 0, 300, { status: 0, json: {} }, false)).toBeUndefined();
    expect(m.judgeAdmin('flush (local)', 0, 300, { status: 503, json: {} }, true)).toMatch(/503/);
  });

  describe('permissions (issue 15.5)', () => {
    // u holds r1, which holds r2; r2 holds SELECT on data/ks, so u's SELECT on the child data/ks/t.
    const check: CheckSpec = { username: 'u', resource: 'data/ks/t', permission: 'SELECT', roles: ['u', 'r1', 'r2'], superuser: false };
    const parent: CheckSpec = { ...check, resource: 'data' };
    const allow = (via: string | null = 'r2'): Reply => ({ status: 200, json: { allowed: true, cached: true, via } });
    const deny: Reply = { status: 200, json: { allowed: false, cached: true, via: null } };
    const granted = () => {
      const base = new ScenarioModel(timing, ['a', 'b']);
      const m = new PermissionModel(base, [{ role: 'r2', resource: 'data/ks', permission: 'SELECT' }]);
      m.change(0, true, { ok: true, returnedAt: 0, acked: ['a', 'b'] });
      return { base, m };
    };

    it('catches a late allow: a revoked permission only within max_staleness of the revoke returning, by answer time, never on a node that acked', () => {
      const { m } = granted();
      expect(m.judge(check, 0, at(500), allow())).toBeUndefined();
      m.change(0, false, { ok: true, returnedAt: 1000, acked: ['b'] });
      expect(m.judge(check, 0, at(2000), allow())).toBeUndefined();
      expect(m.judge(check, 0, at(2001), allow())).toMatch(/revoked at 1000, answered 1001 ms after \(bound 1000 ms\)/);
      expect(m.judge(check, 0, { sent: 1500, answered: 2001 }, allow())).toMatch(/answered 1001 ms after/);
      expect(m.judge(check, 1, at(1001), allow())).toMatch(/acknowledged/);
      expect(m.judge(check, 1, at(1001), deny)).toBeUndefined();
      // A grant on a child never covers its parent; via must name the granting role.
      expect(m.judge(parent, 0, at(10), allow())).toMatch(/no covering grant/);
      expect(m.judge(check, 0, at(1500), allow('r1'))).toMatch(/via "r1"/);
      // Granted again: allowed at once.
      m.change(0, true, { ok: true, returnedAt: 3000, acked: ['a', 'b'] });
      expect(m.judge(check, 0, at(9000), allow())).toBeUndefined();
    });

    it('catches a wrong deny: a permission granted and stable on a settled node that has the grant; 503 only while cut or settling', () => {
      const { base, m } = granted();
      expect(m.judge(check, 0, at(100), deny)).toMatch(/denied a permission granted for sure since 0/);
      expect(m.judge(parent, 0, at(100), deny)).toBeUndefined();
      // A new grant a node did not acknowledge: not demanded there before the ack grace.
      m.change(0, false, { ok: true, returnedAt: 1000, acked: ['a', 'b'] });
      m.change(0, true, { ok: true, returnedAt: 2000, acked: ['b'] });
      expect(m.judge(check, 0, at(2299), deny)).toBeUndefined();
      expect(m.judge(check, 0, at(2300), deny)).toMatch(/denied/);
      expect(m.judge(check, 1, at(2001), deny)).toMatch(/denied/);
      // A superuser is allowed everything, via null.
      const su = { ...check, roles: ['u'], superuser: true };
      expect(m.judge(su, 0, at(2001), allow(null))).toBeUndefined();
      expect(m.judge(su, 0, at(2001), deny)).toMatch(/superuser/);
      // Cut: a deny is not demanded, 503 is right; beyond max_staleness only 503; healed, 503 only while settling.
      const fail: Reply = { status: 503, json: { error: 'out of sync' } };
      base.cut(0, 'reset', 3000);
      expect(m.judge(check, 0, at(3500), deny)).toBeUndefined();
      expect(m.judge(check, 0, at(3500), fail)).toBeUndefined();
      expect(m.judge(check, 0, at(4001), deny)).toMatch(/only 503 is right/);
      base.heal(0, 5000);
      expect(m.judge(check, 0, at(5499), fail)).toBeUndefined();
      expect(m.judge(check, 0, at(5500), fail)).toMatch(/from a node that reaches Redis/);
      expect(m.judge(check, 0, at(5500), deny)).toMatch(/denied/);
      expect(m.judge(check, 1, at(5500), { status: 500, json: {} })).toMatch(/unexpected status 500/);
      // While Redis pauses writes, a read queued behind a stalled write may fail closed.
      base.writeStall(7000);
      expect(m.judge(check, 1, at(7000), fail)).toBeUndefined();
      expect(m.judge(check, 1, at(7001), fail)).toMatch(/from a node that reaches Redis/);
    });

    it('a failed revoke allows both answers until resolved from Redis; found applied, it is bounded from its return', () => {
      const { m } = granted();
      m.change(0, false, { ok: false, returnedAt: 10_000 });
      expect(m.granted(0)).toBeUndefined();
      expect(m.judge(check, 0, at(10_500), allow())).toBeUndefined();
      expect(m.judge(check, 0, at(10_500), deny)).toBeUndefined();
      expect(m.needsResolution(0, 10_999)).toBe(false);
      expect(m.needsResolution(0, 11_000)).toBe(true);
      m.resolve(0, false);
      expect(m.judge(check, 0, at(11_000), allow())).toBeUndefined();
      expect(m.judge(check, 0, at(11_001), allow())).toMatch(/revoked at 10000, answered 1001 ms after/);
      // Found not applied: still granted, and demanded again.
      const other = granted().m;
      other.change(0, false, { ok: false, returnedAt: 10_000 });
      other.resolve(0, true);
      expect(other.judge(check, 0, at(50_000), allow())).toBeUndefined();
      expect(other.judge(check, 0, at(50_000), deny)).toMatch(/denied/);
    });
  });

  it('derives the same commands from the same seed', () => {
    expect(permissionCommands(7, 300, 4, 9)).toEqual(permissionCommands(7, 300, 4, 9));
    expect(permissionCommands(7, 300, 4, 9).some((c) => c?.kind === 'toggle')).toBe(true);
    expect(scenarioCommands(7, 50, 4)).toEqual(scenarioCommands(7, 50, 4));
    expect(scenarioCommands(7, 50, 4)).not.toEqual(scenarioCommands(8, 50, 4));
    const menu = { writeStall: true, outside: true, badNode: true };
    expect(scenarioCommands(7, 300, 4, menu).some((c) => c.kind === 'writeStall')).toBe(true);
    expect(scenarioCommands(7, 300, 4).some((c) => c.kind === 'writeStall' || c.kind === 'outside' || c.kind === 'badNode')).toBe(false);
  });
});
