import { afterGrant, afterRevoke, ancestors, buildTable, check, parseStored, roleOrder, type Grants } from '../src/permissions/rules';

const g = (o: Record<string, string[]>): Grants => new Map(Object.entries(o));

describe('resource hierarchy', () => {
  test('ancestors: the resource, then each parent, most specific first', () => {
    expect(ancestors('data/ks/table')).toEqual(['data/ks/table', 'data/ks', 'data']);
    expect(ancestors('data')).toEqual(['data']);
    expect(ancestors('roles/alice')).toEqual(['roles/alice', 'roles']);
  });

  test('a grant on a parent covers its children, never its siblings or its parent', () => {
    const t = buildTable(['u'], () => g({ 'data/ks': ['SELECT'] }), false);
    expect(check(t, 'data/ks', 'SELECT')).toEqual({ allowed: true, via: 'u' });
    expect(check(t, 'data/ks/table', 'SELECT')).toEqual({ allowed: true, via: 'u' });
    expect(check(t, 'data/ks/table/deeper/still', 'SELECT').allowed).toBe(true);
    expect(check(t, 'data', 'SELECT').allowed).toBe(false);
    expect(check(t, 'data/ks2', 'SELECT').allowed).toBe(false);
    expect(check(t, 'data/ksx/table', 'SELECT').allowed).toBe(false);
    expect(check(t, 'data/ks/table', 'MODIFY')).toEqual({ allowed: false, via: null });
  });

  test('a prefix of a segment is not a parent', () => {
    const t = buildTable(['u'], () => g({ dat: ['SELECT'] }), false);
    expect(check(t, 'data', 'SELECT').allowed).toBe(false);
  });

  test('permissions compare in upper case; ALL covers every permission on the resource and below', () => {
    const t = buildTable(['u'], () => g({ 'data/ks': ['ALL'] }), false);
    expect(check(t, 'data/ks/t', 'select')).toEqual({ allowed: true, via: 'u' });
    expect(check(t, 'data/ks/t', 'MY_OWN.perm')).toEqual({ allowed: true, via: 'u' });
    expect(check(t, 'data/other', 'SELECT').allowed).toBe(false);
  });
});

describe('resolution through the role hierarchy and via', () => {
  const grants: Record<string, Grants> = {
    alice: g({ 'data/ks/t': ['MODIFY'] }),
    readers: g({ data: ['SELECT'], 'data/ks': ['DESCRIBE'] }),
    analysts: g({ 'data/ks': ['SELECT'] }),
    ops: g({ 'roles/bob': ['IMPERSONATE'] }),
  };
  const table = (user: string, held: string[], superuser = false) => buildTable(roleOrder(user, held), (r) => grants[r], superuser);

  test('a permission granted to a held role is allowed, via that role', () => {
    expect(check(table('alice', ['readers']), 'data/x', 'SELECT')).toEqual({ allowed: true, via: 'readers' });
    expect(check(table('alice', ['readers']), 'data/ks/t', 'MODIFY')).toEqual({ allowed: true, via: 'alice' });
    expect(check(table('carl', []), 'data/x', 'SELECT')).toEqual({ allowed: false, via: null });
  });

  test('the most specific resource decides via; at one level the user first, then roles by name', () => {
    // readers grants SELECT on data, analysts on data/ks: the more specific grant names the role.
    expect(check(table('alice', ['readers', 'analysts']), 'data/ks/t', 'SELECT')).toEqual({ allowed: true, via: 'analysts' });
    const both = buildTable(roleOrder('u', ['z', 'b']), (r) => (r === 'u' ? undefined : g({ data: ['SELECT'] })), false);
    expect(check(both, 'data', 'SELECT').via).toBe('b');
    const own = buildTable(roleOrder('u', ['a']), () => g({ data: ['SELECT'] }), false);
    expect(check(own, 'data', 'SELECT').via).toBe('u');
  });

  test('roleOrder puts the user first, then unique held roles sorted', () => {
    expect(roleOrder('u', ['c', 'a', 'c', 'u'])).toEqual(['u', 'a', 'c']);
  });

  test('a superuser holds every permission on every resource', () => {
    expect(check(table('root', [], true), 'anything/at/all', 'DROP')).toEqual({ allowed: true, via: null });
  });

  test('impersonation is a permission on roles/TARGET', () => {
    expect(check(table('eve', ['ops']), 'roles/bob', 'IMPERSONATE')).toEqual({ allowed: true, via: 'ops' });
    expect(check(table('eve', ['ops']), 'roles/bobby', 'IMPERSONATE').allowed).toBe(false);
  });
});

describe('grant and revoke arithmetic', () => {
  test('grant is a sorted upper-case union; revoke removes what it names; revoking ALL clears', () => {
    expect(afterGrant(['SELECT'], ['modify', 'SELECT'])).toEqual(['MODIFY', 'SELECT']);
    expect(afterRevoke(['MODIFY', 'SELECT'], ['select'])).toEqual(['MODIFY']);
    expect(afterRevoke(['MODIFY', 'SELECT'], ['ALL'])).toEqual([]);
    expect(afterRevoke(['SELECT'], ['DROP'])).toEqual(['SELECT']);
  });

  test('a stored value that is not a list of names reads as no grant', () => {
    expect(parseStored('["select","SELECT","DROP"]')).toEqual(['DROP', 'SELECT']);
    for (const bad of [null, '', 'not json', '{"a":1}', '"SELECT"', '[1,null,""]']) expect(parseStored(bad)).toEqual([]);
  });
});
