import { GrantWalk, grantProblem, holdersOf, needsHolders, resolveGrants, resolveGrantsAsync, type GrantNode } from '../src/roles/grant-graph';
import type { RoleRecord } from '../src/roles/role-store';

const role = (name: string, memberOf: string[] = [], superuser = false): RoleRecord => ({ name, hash: undefined, canLogin: true, superuser, memberOf });

const byName = new Map(
  [role('alice', ['staff']), role('staff', ['admin', 'readers']), role('admin', [], true), role('readers', ['staff']), role('bob'), role('carol', ['gone'])].map((r) => [r.name, r]),
);
const lookup = (n: string) => byName.get(n);

describe('resolveGrants', () => {
  it('resolves grants transitively, sorted, without the role itself, through a cycle', () => {
    expect(resolveGrants('alice', lookup)).toEqual({ roles: ['admin', 'readers', 'staff'], superuser: true });
  });

  it('a role without grants holds nothing and is superuser only by itself', () => {
    expect(resolveGrants('bob', lookup)).toEqual({ roles: [], superuser: false });
    expect(resolveGrants('admin', lookup)).toEqual({ roles: [], superuser: true });
  });

  it('skips a granted role that was dropped; an unknown role resolves to null', () => {
    expect(resolveGrants('carol', lookup)).toEqual({ roles: [], superuser: false });
    expect(resolveGrants('nobody', lookup)).toBeNull();
  });

  it('the async form reads one level per round trip and agrees with the sync form', async () => {
    const levels: string[][] = [];
    const fetch = async (names: string[]) => {
      levels.push(names);
      return new Map<string, GrantNode | undefined>(names.map((n) => [n, byName.get(n)]));
    };
    expect(await resolveGrantsAsync('alice', fetch)).toEqual(resolveGrants('alice', lookup));
    expect(levels).toEqual([['alice'], ['staff'], ['admin', 'readers']]);
  });

  it('a walk never visits a role twice, even when two paths reach it', () => {
    const w = new GrantWalk('x');
    w.visit('x', { memberOf: ['y', 'z'], superuser: false });
    w.advance();
    expect(w.next()).toEqual(['y', 'z']);
    w.visit('y', { memberOf: ['z', 'x'], superuser: false });
    w.visit('z', { memberOf: ['y'], superuser: true });
    w.advance();
    expect(w.next()).toEqual([]);
    expect(w.result()).toEqual({ roles: ['y', 'z'], superuser: true });
  });
});

describe('holdersOf', () => {
  it('finds direct and transitive holders, not the role itself, through a cycle', () => {
    expect(holdersOf('admin', byName.values())).toEqual(['alice', 'readers', 'staff']);
    expect(holdersOf('staff', byName.values())).toEqual(['alice', 'readers']);
    expect(holdersOf('bob', byName.values())).toEqual([]);
  });
});

describe('grantProblem', () => {
  it('refuses self-grants, grants of missing roles and grants that close a cycle', () => {
    expect(grantProblem('bob', ['bob'], lookup)).toMatch(/itself/);
    expect(grantProblem('bob', ['ghost'], lookup)).toMatch(/ghost does not exist/);
    expect(grantProblem('admin', ['alice'], lookup)).toMatch(/circular/);
    expect(grantProblem('bob', ['staff', 'admin'], lookup)).toBeUndefined();
  });
});

describe('needsHolders', () => {
  const n = (memberOf: string[], superuser = false) => ({ memberOf, superuser });
  it('is true when grants or superuser status change, or the role appears or goes', () => {
    expect(needsHolders(n(['a']), n(['a']))).toBe(false);
    expect(needsHolders(n(['a', 'b']), n(['b', 'a']))).toBe(false);
    expect(needsHolders(n(['a']), n(['b']))).toBe(true);
    expect(needsHolders(n([]), n([], true))).toBe(true);
    expect(needsHolders(null, n([]))).toBe(true);
    expect(needsHolders(n([]), null)).toBe(true);
  });
});
