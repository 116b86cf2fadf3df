/**
 * The one contract every role store passes (docs/architecture.md, "Adding a backend"): call
 * `describeRoleStore(name, factory)` from a test file with a factory for a fresh, empty store.
 * Assertions are about behaviour the caches and the admin API rely on, never about storage.
 */
import { RoleStoreError, type RoleStore } from '../../src/roles/role-store';

export interface RoleStoreHarness {
  store: RoleStore;
  /** The users invalidated by each write so far, in order (what the store published with it). */
  invalidations(): Promise<string[][]>;
  close(): Promise<void>;
}

const HASH = '$2b$04$abcdefghijklmnopqrstuu5Hq8DzYl1uMqmXJv1cWcZpRvZg9Q0Ba';

export function describeRoleStore(name: string, make: () => Promise<RoleStoreHarness>): void {
  describe(`role store contract: ${name}`, () => {
    let h: RoleStoreHarness;
    let store: RoleStore;
    beforeEach(async () => {
      h = await make();
      store = h.store;
    });
    afterEach(async () => h.close());

    const lastInvalidation = async () => (await h.invalidations()).at(-1);

    test('create: a new role reads back with defaults, and its invalidation is published with it', async () => {
      const r = await store.upsert('alice', { hash: HASH, canLogin: true });
      expect(r.created).toBe(true);
      expect(r.role).toEqual({ name: 'alice', hash: HASH, canLogin: true, superuser: false, memberOf: [] });
      expect(await store.get('alice')).toEqual(r.role);
      expect(await store.getCredentials('alice')).toEqual({ hash: HASH, canLogin: true });
      expect(await lastInvalidation()).toEqual(['alice']);
      expect(r.propagation.seq).toBeGreaterThan(0);
    });

    test('alter: fields not named keep their value; created is false', async () => {
      await store.upsert('bob', { hash: HASH, canLogin: true, superuser: true });
      const r = await store.upsert('bob', { canLogin: false });
      expect(r.created).toBe(false);
      expect(await store.get('bob')).toEqual({ name: 'bob', hash: HASH, canLogin: false, superuser: true, memberOf: [] });
    });

    test('a role without password has no hash; unknown roles read as null', async () => {
      await store.upsert('nopw', { canLogin: true });
      expect(await store.getCredentials('nopw')).toEqual({ hash: undefined, canLogin: true });
      expect(await store.get('ghost')).toBeNull();
      expect(await store.getCredentials('ghost')).toBeNull();
      expect(await store.resolveRoles('ghost')).toBeNull();
      expect(await store.drop('ghost')).toBeNull();
    });

    test('grants resolve transitively, superuser through a grant; holders are invalidated when grants change', async () => {
      await store.upsert('admin', { superuser: true });
      await store.upsert('staff', { memberOf: ['admin'] });
      await store.upsert('readers', {});
      await store.upsert('carol', { canLogin: true, hash: HASH, memberOf: ['staff', 'readers'] });
      expect(await store.resolveRoles('carol')).toEqual({ roles: ['admin', 'readers', 'staff'], superuser: true });
      expect(await store.resolveRoles('readers')).toEqual({ roles: [], superuser: false });
      expect(await store.holdersOf('admin')).toEqual(['carol', 'staff']);
      const r = await store.upsert('staff', { memberOf: [] });
      expect([...r.affected].sort()).toEqual(['carol', 'staff']);
      expect([...((await lastInvalidation()) ?? [])].sort()).toEqual(['carol', 'staff']);
      expect(await store.resolveRoles('carol')).toEqual({ roles: ['readers', 'staff'], superuser: false });
    });

    test('a password change invalidates the role alone', async () => {
      await store.upsert('g', {});
      await store.upsert('dave', { memberOf: ['g'], canLogin: true, hash: HASH });
      await store.upsert('g', { hash: HASH });
      expect(await lastInvalidation()).toEqual(['g']);
    });

    test('cycles, self-grants and grants of missing roles are refused, and nothing is written', async () => {
      await store.upsert('a', {});
      await store.upsert('b', { memberOf: ['a'] });
      const before = (await h.invalidations()).length;
      await expect(store.upsert('a', { memberOf: ['b'] })).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/circular/) });
      await expect(store.upsert('a', { memberOf: ['a'] })).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/itself/) });
      await expect(store.upsert('c', { memberOf: ['nope'] })).rejects.toBeInstanceOf(RoleStoreError);
      expect(await store.get('c')).toBeNull();
      expect((await store.get('a'))!.memberOf).toEqual([]);
      expect((await h.invalidations()).length).toBe(before);
    });

    test('drop: revoked from every holder, holders invalidated with it', async () => {
      await store.upsert('ops', {});
      await store.upsert('erin', { memberOf: ['ops'], canLogin: true, hash: HASH });
      await store.upsert('frank', { memberOf: ['erin'] });
      const r = await store.drop('ops');
      expect([...r!.affected].sort()).toEqual(['erin', 'frank', 'ops']);
      expect(await store.get('ops')).toBeNull();
      expect((await store.get('erin'))!.memberOf).toEqual([]);
      expect(await store.resolveRoles('frank')).toEqual({ roles: ['erin'], superuser: false });
      expect((await store.list()).map((x) => x.name)).toEqual(['erin', 'frank']);
    });

    test('list is sorted by name and pages with after/limit', async () => {
      for (const n of ['r3', 'r1', 'r5', 'r2', 'r4']) await store.upsert(n, {});
      expect((await store.list()).map((r) => r.name)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
      expect((await store.list({ limit: 2 })).map((r) => r.name)).toEqual(['r1', 'r2']);
      expect((await store.list({ after: 'r2', limit: 2 })).map((r) => r.name)).toEqual(['r3', 'r4']);
      expect(await store.list({ after: 'r5' })).toEqual([]);
    });

    test('loginRoles: roles that can log in (a store may skip those without password), with resolved roles, up to the limit', async () => {
      await store.upsert('grp', { superuser: true });
      await store.upsert('u1', { canLogin: true, hash: HASH, memberOf: ['grp'] });
      await store.upsert('u2', { canLogin: true, hash: HASH });
      await store.upsert('u3', { canLogin: false, hash: HASH });
      await store.upsert('u4', { canLogin: true });
      const rows = await store.loginRoles(10);
      expect(rows.map((r) => r.name).filter((n) => n !== 'u4').sort()).toEqual(['u1', 'u2']);
      expect(rows.find((r) => r.name === 'u1')!.roles).toEqual({ roles: ['grp'], superuser: true });
      expect(await store.loginRoles(1)).toHaveLength(1);
    });

    test('concurrent writers: one create wins, every distinct role lands, every write is invalidated', async () => {
      const same = await Promise.all(Array.from({ length: 8 }, () => store.upsert('race', { canLogin: true })));
      expect(same.filter((r) => r.created)).toHaveLength(1);
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.upsert(`p${String(i).padStart(2, '0')}`, { canLogin: true })));
      expect((await store.list()).filter((r) => r.name.startsWith('p'))).toHaveLength(20);
      const inv = await h.invalidations();
      expect(inv.filter((u) => u.includes('race'))).toHaveLength(8);
    });

    test('capabilities and health are declared', () => {
      expect(typeof store.capabilities.writable).toBe('boolean');
      expect(['up', 'down']).toContain(store.health());
    });
  });
}
