/**
 * Test support of the permissions layer: an in-memory PermissionStore (writes its ops like the
 * publish script would) and the contract every PermissionStore passes, run against memory here
 * and against a real Redis in test/permissions-store-redis.test.ts.
 */
import type { Propagation, RolePermissionGrant } from '@authcache/protocol';
import type { StoreOp } from '../src/bus/transport';
import type { PermissionStore, PermissionWriteResult, PublishOps } from '../src/permissions/permission-store';
import { afterGrant, afterRevoke, type Grants } from '../src/permissions/rules';

export function propagation(seq: number): Propagation {
  return { seq, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [{ node: 'test', result: 'applied' }] };
}

export class MemoryPermissionStore implements PermissionStore {
  readonly grants = new Map<string, Map<string, string[]>>();
  reads = 0;
  failNext: Error | undefined;
  /** A read waits for this when set (to stage races). */
  gate: Promise<void> | undefined;

  async grantsOf(roles: readonly string[]): Promise<Map<string, Grants>> {
    this.reads++;
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    // Read first, answer later: what a slow backend does to a read overtaken by a write.
    const out = new Map<string, Grants>();
    for (const r of roles) {
      const g = this.grants.get(r);
      if (g && g.size > 0) out.set(r, new Map(g));
    }
    const gate = this.gate;
    if (gate) await gate;
    return out;
  }

  async list(role?: string): Promise<RolePermissionGrant[]> {
    const roles = role !== undefined ? [role] : [...this.grants.keys()].sort();
    return roles.flatMap((r) => [...(this.grants.get(r) ?? new Map<string, string[]>())].sort(([a], [b]) => (a < b ? -1 : 1)).map(([resource, permissions]) => ({ role: r, resource, permissions })));
  }

  grant(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    return this.write(role, resource, (cur) => afterGrant(cur, permissions), publish);
  }

  revoke(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    return this.write(role, resource, (cur) => afterRevoke(cur, permissions), publish);
  }

  /** Applied to the state as it is once published, as the publish script applies its ops: writes commute. */
  private async write(role: string, resource: string, next: (current: string[]) => string[], publish: PublishOps): Promise<PermissionWriteResult> {
    const planned = next(this.grants.get(role)?.get(resource) ?? []);
    const ops: StoreOp[] = [{ op: 'hset', key: `perms:${role}`, fields: { [resource]: JSON.stringify(planned) } }];
    const p = await publish(ops);
    const g = this.grants.get(role) ?? new Map<string, string[]>();
    const after = next(g.get(resource) ?? []);
    if (after.length > 0) g.set(resource, after);
    else g.delete(resource);
    if (g.size > 0) this.grants.set(role, g);
    else this.grants.delete(role);
    return { role, resource, permissions: after, propagation: p };
  }
}

export interface PermissionStoreHarness {
  store: PermissionStore;
  /** Ops handed to publish by each write, in order. */
  published: StoreOp[][];
  publish: PublishOps;
  close(): Promise<void>;
}

export interface PermissionStoreTraits {
  /**
   * The store commits before it publishes (PostgreSQL's outbox): a failed publish leaves the
   * change standing and says so (outcome_unknown), instead of writing nothing.
   */
  outbox?: boolean;
}

export function describePermissionStore(name: string, make: () => Promise<PermissionStoreHarness>, traits: PermissionStoreTraits = {}): void {
  describe(`permission store contract: ${name}`, () => {
    let h: PermissionStoreHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => h.close());

    test('a grant reads back, upper case and sorted, and is published with its ops', async () => {
      const r = await h.store.grant('readers', 'data/ks', ['select', 'DESCRIBE'], h.publish);
      expect(r).toMatchObject({ role: 'readers', resource: 'data/ks', permissions: ['DESCRIBE', 'SELECT'] });
      expect(r.propagation.seq).toBeGreaterThan(0);
      expect(h.published).toHaveLength(1);
      expect(await h.store.list('readers')).toEqual([{ role: 'readers', resource: 'data/ks', permissions: ['DESCRIBE', 'SELECT'] }]);
      const g = await h.store.grantsOf(['readers', 'nobody']);
      expect([...g.keys()]).toEqual(['readers']);
      expect(g.get('readers')!.get('data/ks')).toEqual(['DESCRIBE', 'SELECT']);
    });

    test('grants accumulate; a revoke removes only what it names; the last revoke removes the resource', async () => {
      await h.store.grant('w', 'data', ['SELECT'], h.publish);
      await h.store.grant('w', 'data', ['MODIFY'], h.publish);
      await h.store.grant('w', 'data/ks/t', ['DROP'], h.publish);
      expect((await h.store.revoke('w', 'data', ['SELECT'], h.publish)).permissions).toEqual(['MODIFY']);
      expect(await h.store.list('w')).toEqual([
        { role: 'w', resource: 'data', permissions: ['MODIFY'] },
        { role: 'w', resource: 'data/ks/t', permissions: ['DROP'] },
      ]);
      expect((await h.store.revoke('w', 'data', ['MODIFY'], h.publish)).permissions).toEqual([]);
      expect(await h.store.list('w')).toEqual([{ role: 'w', resource: 'data/ks/t', permissions: ['DROP'] }]);
      await h.store.revoke('w', 'data/ks/t', ['ALL'], h.publish);
      expect(await h.store.list('w')).toEqual([]);
      expect(await h.store.list()).toEqual([]);
    });

    test('list without a role lists every role, sorted by role then resource', async () => {
      await h.store.grant('b', 'x/y', ['SELECT'], h.publish);
      await h.store.grant('a', 'roles/bob', ['IMPERSONATE'], h.publish);
      await h.store.grant('b', 'data', ['ALL'], h.publish);
      expect(await h.store.list()).toEqual([
        { role: 'a', resource: 'roles/bob', permissions: ['IMPERSONATE'] },
        { role: 'b', resource: 'data', permissions: ['ALL'] },
        { role: 'b', resource: 'x/y', permissions: ['SELECT'] },
      ]);
    });

    test(traits.outbox ? 'a failed publish: the committed grant stands and the answer says outcome unknown' : 'a failed publish writes nothing', async () => {
      const failing: PublishOps = async () => {
        throw new Error('bus down');
      };
      if (traits.outbox) {
        await expect(h.store.grant('c', 'data', ['SELECT'], failing)).rejects.toMatchObject({ kind: 'outcome_unknown' });
        expect(await h.store.list('c')).toEqual([{ role: 'c', resource: 'data', permissions: ['SELECT'] }]);
      } else {
        await expect(h.store.grant('c', 'data', ['SELECT'], failing)).rejects.toThrow();
        expect(await h.store.list('c')).toEqual([]);
      }
    });

    test('revoking what was never granted changes nothing and still answers', async () => {
      await h.store.grant('n', 'data', ['SELECT'], h.publish);
      expect((await h.store.revoke('n', 'data', ['MODIFY'], h.publish)).permissions).toEqual(['SELECT']);
      expect((await h.store.revoke('n', 'data/other', ['SELECT'], h.publish)).permissions).toEqual([]);
      expect(await h.store.list('n')).toEqual([{ role: 'n', resource: 'data', permissions: ['SELECT'] }]);
    });

    test('concurrent grants and revokes on one role commute: none is lost', async () => {
      await h.store.grant('busy', 'data', ['GONE'], h.publish);
      const perms = Array.from({ length: 20 }, (_, i) => `P${String(i).padStart(2, '0')}`);
      await Promise.all([...perms.map((p) => h.store.grant('busy', 'data', [p], h.publish)), h.store.revoke('busy', 'data', ['GONE'], h.publish)]);
      expect(await h.store.list('busy')).toEqual([{ role: 'busy', resource: 'data', permissions: perms }]);
    });

    test('resources and roles with unusual characters are data, not syntax', async () => {
      const role = 'o\'neil "x" {tag} *';
      const resource = 'data/ks with space/t*["]';
      await h.store.grant(role, resource, ['SELECT'], h.publish);
      expect(await h.store.list(role)).toEqual([{ role, resource, permissions: ['SELECT'] }]);
    });
  });
}
