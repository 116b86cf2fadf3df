/**
 * Grants in Redis: per role the hash `names.rolePermissions(role)` (resource → JSON array of
 * permissions), and the set `names.permissionsIndex` of the roles holding any grant (for listing).
 * Reads are pipelined; writes go through the bus's publish script with their invalidation
 * (docs/architecture.md, "Atomic change and invalidation"). Keys are built by names.ts alone and
 * values are passed as arguments, never spliced into a command or script.
 */
import type { ClusterNames, RolePermissionGrant } from '@authcache/protocol';
import type { StoreOp } from '../bus/transport';
import { RoleStoreError } from '../roles/role-store';
import { afterGrant, afterRevoke, parseStored, type Grants } from './rules';
import type { PermissionStore, PermissionWriteResult, PublishOps } from './permission-store';
import { TransportError } from '../bus/transport';
import { NotDurableError } from '../bus/durability';

const LIST_CHUNK = 1000;

/** What the store needs of a connection: a single Redis, or a Redis Cluster (every key carries the cluster's hash tag). */
export interface PermissionRedis {
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  pipeline(): { hgetall(key: string): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
}

export class RedisPermissionStore implements PermissionStore {
  /**
   * Writes of this process, one at a time per role: a grant and a revoke on the same role from two
   * requests to this node cannot interleave their read and write. Across nodes the publish script
   * has no value guard yet (see the report of issue 15: an `expect_field` op would close it).
   */
  private readonly writing = new Map<string, Promise<unknown>>();

  constructor(private readonly redis: PermissionRedis, private readonly names: ClusterNames) {}

  async grantsOf(roles: readonly string[]): Promise<Map<string, Grants>> {
    const out = new Map<string, Grants>();
    if (roles.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const r of roles) pipe.hgetall(this.names.rolePermissions(r));
    const rows = (await pipe.exec()) ?? [];
    roles.forEach((r, i) => {
      const [err, h] = rows[i] ?? [new Error('no reply')];
      if (err) throw err;
      const grants = toGrants(h as Record<string, string>);
      if (grants.size > 0) out.set(r, grants);
    });
    return out;
  }

  async list(role?: string): Promise<RolePermissionGrant[]> {
    const roles = role !== undefined ? [role] : (await this.redis.smembers(this.names.permissionsIndex)).sort();
    const out: RolePermissionGrant[] = [];
    // In chunks, as the role store lists: one pipeline of 100k commands would outlive the command timeout.
    for (let i = 0; i < roles.length; i += LIST_CHUNK) {
      const chunk = roles.slice(i, i + LIST_CHUNK);
      const grants = await this.grantsOf(chunk);
      for (const r of chunk) {
        const g = grants.get(r);
        if (!g) continue;
        for (const resource of [...g.keys()].sort()) out.push({ role: r, resource, permissions: [...g.get(resource)!] });
      }
    }
    return out;
  }

  grant(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    return this.serial(role, () => this.write(role, resource, (cur) => afterGrant(cur, permissions), publish));
  }

  revoke(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    return this.serial(role, () => this.write(role, resource, (cur) => afterRevoke(cur, permissions), publish));
  }

  private async write(role: string, resource: string, next: (current: string[]) => string[], publish: PublishOps): Promise<PermissionWriteResult> {
    const key = this.names.rolePermissions(role);
    let held: Record<string, string>;
    try {
      held = await this.redis.hgetall(key);
    } catch (err) {
      throw new RoleStoreError('unavailable', `permission store unreachable: ${(err as Error).message}`);
    }
    const after = next(parseStored(held[resource]));
    const othersLeft = Object.keys(held).some((r) => r !== resource && parseStored(held[r]).length > 0);
    const ops: StoreOp[] =
      after.length > 0
        ? [
            { op: 'hset', key, fields: { [resource]: JSON.stringify(after) } },
            { op: 'sadd', key: this.names.permissionsIndex, members: [role] },
          ]
        : othersLeft
          ? [{ op: 'hdel', key, fields: [resource] }]
          : [
              { op: 'del', key },
              { op: 'srem', key: this.names.permissionsIndex, members: [role] },
            ];
    try {
      return { role, resource, permissions: after, propagation: await publish(ops) };
    } catch (err) {
      // Published, not confirmed by a replica: passed on whole (seq, replicas, every node's result; bus/durability.ts).
      if (err instanceof NotDurableError) throw err;
      if (err instanceof TransportError && err.failure === 'unknown') {
        throw new RoleStoreError('outcome_unknown', `outcome unknown: the change may have been applied (${err.message})`);
      }
      if (err instanceof TransportError && err.failure === 'guard') throw new RoleStoreError('conflict', 'a concurrent change got there first: nothing was written');
      throw new RoleStoreError('unavailable', `permission store unreachable: ${(err as Error).message}`);
    }
  }

  private serial<T>(role: string, f: () => Promise<T>): Promise<T> {
    const prev = this.writing.get(role) ?? Promise.resolve();
    const p = prev.then(f, f);
    const tail = p.catch(() => undefined);
    this.writing.set(role, tail);
    void tail.then(() => {
      if (this.writing.get(role) === tail) this.writing.delete(role);
    });
    return p;
  }
}

/** A role's hash as grants; unreadable fields (not a permission list) are left out. */
function toGrants(h: Record<string, string>): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [resource, raw] of Object.entries(h)) {
    const perms = parseStored(raw);
    if (perms.length > 0) out.set(resource, perms);
  }
  return out;
}
