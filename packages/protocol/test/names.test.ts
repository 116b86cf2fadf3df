import { clusterNames, isValidClusterName } from '@authcache/protocol';

describe('clusterNames', () => {
  it('derives every key and channel from the cluster prefix', () => {
    const n = clusterNames('authcache');
    expect({ ...n, role: n.role('alice'), acksFor: n.acksFor('n1'), rolePermissions: n.rolePermissions('alice'), lease: n.lease('relay') }).toEqual({
      cluster: 'authcache',
      prefix: 'authcache:',
      hashTagged: false,
      secretMarker: 'authcache:secret-marker',
      epochMaster: 'authcache:epoch:master',
      audit: 'authcache:audit',
      rolePermissions: 'authcache:perms:alice',
      permissionsIndex: 'authcache:perms',
      lease: 'authcache:lease:relay',
      seq: 'authcache:seq',
      epoch: 'authcache:epoch',
      log: 'authcache:log',
      updates: 'authcache:updates',
      acks: 'authcache:acks',
      acksFor: 'authcache:acks:n1',
      members: 'authcache:members',
      rolesIndex: 'authcache:roles',
      role: 'authcache:role:alice',
      settingsTransient: 'authcache:settings:transient',
      settingsPersistent: 'authcache:settings:persistent',
    });
  });

  it('keeps role names verbatim, whatever they contain', () => {
    expect(clusterNames('c').role('a:b c')).toBe('c:role:a:b c');
  });

  it('gives two clusters disjoint names', () => {
    const a = clusterNames('a');
    const b = clusterNames('b');
    const namesOf = (n: typeof a) => [n.seq, n.epoch, n.log, n.updates, n.acks, n.members, n.rolesIndex, n.role('x'), n.settingsTransient, n.settingsPersistent];
    const shared = namesOf(a).filter((x) => namesOf(b).includes(x));
    expect(shared).toEqual([]);
    expect(new Set(namesOf(a)).size).toBe(10);
  });

  it('is frozen, so that no caller can redirect another one', () => {
    const n = clusterNames('c');
    expect(Object.isFrozen(n)).toBe(true);
  });

  it('refuses an invalid cluster name', () => {
    expect(() => clusterNames('')).toThrow(RangeError);
    expect(() => clusterNames('a:b')).toThrow(/invalid cluster name/);
  });
});

describe('isValidClusterName', () => {
  it.each(['a', 'authcache', 'A.b-c_9', 'x'.repeat(64), '...', '-'])('accepts %j', (s) => {
    expect(isValidClusterName(s)).toBe(true);
  });

  it.each(['', 'x'.repeat(65), 'a:b', 'a b', '{a}', 'é', 'a\n', 'a*', 'a/b'])('rejects %j', (s) => {
    expect(isValidClusterName(s)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(isValidClusterName(undefined as unknown as string)).toBe(false);
    expect(isValidClusterName(42 as unknown as string)).toBe(false);
  });
});
