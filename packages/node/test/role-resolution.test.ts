import { resolveInMemory } from '../src/roles/redis-role-store';
import type { RoleRecord } from '../src/roles/role-store';
import { Membership } from '../src/membership';
import { clusterNames } from '@authcache/protocol';

const role = (name: string, memberOf: string[] = [], superuser = false): RoleRecord => ({ name, hash: undefined, canLogin: true, superuser, memberOf });

describe('resolveInMemory (warm start)', () => {
  const byName = new Map(
    [role('alice', ['staff']), role('staff', ['admin', 'readers']), role('admin', [], true), role('readers', ['staff']), role('bob'), role('carol', ['gone'])].map((r) => [r.name, r]),
  );

  it('resolves grants transitively, sorted, without the role itself, through a cycle', () => {
    expect(resolveInMemory('alice', byName)).toEqual({ roles: ['admin', 'readers', 'staff'], superuser: true });
  });

  it('a role without grants holds nothing and is superuser only by itself', () => {
    expect(resolveInMemory('bob', byName)).toEqual({ roles: [], superuser: false });
  });

  it('skips a granted role that was dropped', () => {
    expect(resolveInMemory('carol', byName)).toEqual({ roles: [], superuser: false });
  });
});

describe('Membership.liveIdsFrom', () => {
  it('counts a member UP while its heartbeat is fresh and it has not left', () => {
    let now = 10_000;
    const m = new Membership(undefined as never, clusterNames('t'), 3500, () => now);
    const hb = (id: string, ts: number, left = false) => JSON.stringify({ id, address: 'x', applied_seq: 0, ts, started: 0, cache: {}, ...(left ? { left } : {}) });
    const raw = { a: hb('a', 9000), b: hb('b', 7000), c: hb('c', 9999, true), d: 'not json' };
    expect(m.liveIdsFrom(raw).sort()).toEqual(['a', 'b']);
    now = 12_400;
    expect(m.liveIdsFrom(raw)).toEqual(['a']);
  });
});
