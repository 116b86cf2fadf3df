/**
 * Grants in Redis: per role the hash `names.rolePermissions(role)` (one field per granted
 * resource and permission, redis-layout.ts), and the set `names.permissionsIndex` of the roles that
 * were granted anything (for listing).
 * Reads are pipelined; writes go through the bus's publish script with their invalidation
 * (docs/architecture.md, "Atomic change and invalidation"). Keys are built by names.ts alone and
 * values are passed as arguments, never spliced into a command or script.
 */
import type { ClusterNames, RolePermissionGrant } from '@authcache/protocol';
import type { StoreOp } from '../bus/transport';
import { RoleStoreError } from '../roles/role-store';
import { ALL, afterGrant, afterRevoke, parseStored, type Grants } from './rules';
import { grantField, legacyValue, readGrants } from './redis-layout';
import type { PermissionStore, PermissionWriteResult, PublishOps } from './permission-store';
import { TransportError } from '../bus/transport';
import { NotDurableError } from '../bus/durability';

const LIST_CHUNK = 1000;
/** A guard fails only when a legacy field was converted meanwhile: the next plan no longer sees it. */
const WRITE_ATTEMPTS = 3;

/** What the store needs of a connection: a single Redis, or a Redis Cluster (every key carries the cluster's hash tag). */
export interface PermissionRedis {
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  pipeline(): { hgetall(key: string): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
}

export class RedisPermissionStore implements PermissionStore {
  /**
   * Writes of this process, one at a time per role, so that a grant and a revoke sent to this node
   * in order land in that order. Across nodes the writes commute (redis-layout.ts).
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
      const grants = readGrants(h as Record<string, string>);
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
    return this.serial(role, () => this.write(role, resource, 'grant', permissions, publish));
  }

  revoke(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    return this.serial(role, () => this.write(role, resource, 'revoke', permissions, publish));
  }

  /**
   * Grants and revokes are HSET / HDEL of one field per (resource, permission) (redis-layout.ts),
   * so concurrent writers on other nodes commute. The read only decides what `ALL` revokes, which
   * legacy field to convert (guarded by its value: a guard failure plans again) and the answer.
   */
  private async write(role: string, resource: string, kind: 'grant' | 'revoke', permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeOnce(role, resource, kind, permissions, publish);
      } catch (err) {
        if (!(err instanceof TransportError && err.failure === 'guard') || attempt >= WRITE_ATTEMPTS) throw classify(err);
      }
    }
  }

  private async writeOnce(role: string, resource: string, kind: 'grant' | 'revoke', permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    const key = this.names.rolePermissions(role);
    let held: Record<string, string>;
    try {
      held = await this.redis.hgetall(key);
    } catch (err) {
      throw new RoleStoreError('unavailable', `permission store unreachable: ${(err as Error).message}`);
    }
    const current = readGrants(held).get(resource) ?? [];
    const after = kind === 'grant' ? afterGrant(current, permissions) : afterRevoke(current, permissions);
    const ops: StoreOp[] = [];
    const legacy = legacyValue(held, resource);
    if (legacy !== undefined) {
      // Converted once, in this same step: only if nobody rewrote the field since it was read.
      ops.push({ op: 'expect_field', key, field: resource, value: legacy }, { op: 'hdel', key, fields: [resource] });
      const kept = kind === 'grant' ? parseStored(legacy) : after;
      if (kept.length > 0) ops.push({ op: 'hset', key, fields: Object.fromEntries(kept.map((p) => [grantField(resource, p), '1'])) });
    }
    if (kind === 'grant') {
      ops.push({ op: 'hset', key, fields: Object.fromEntries(afterGrant([], permissions).map((p) => [grantField(resource, p), '1'])) });
      ops.push({ op: 'sadd', key: this.names.permissionsIndex, members: [role] });
    } else {
      // ALL revokes what was read on the resource; a grant another node makes meanwhile comes after it.
      const gone = current.filter((p) => !after.includes(p));
      const named = afterGrant([], permissions).filter((p) => p !== ALL);
      const fields = [...new Set([...gone, ...named])].map((p) => grantField(resource, p));
      if (fields.length > 0) ops.push({ op: 'hdel', key, fields });
      // The index is not trimmed here: a grant from another node may be landing on this role. A
      // role without grants in the index lists nothing; dropping the role removes it.
    }
    return { role, resource, permissions: after, propagation: await publish(ops) };
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

function classify(err: unknown): Error {
  if (err instanceof RoleStoreError) return err;
  // Published, not confirmed by a replica: passed on whole (seq, replicas, every node's result; bus/durability.ts).
  if (err instanceof NotDurableError) return err;
  if (err instanceof TransportError && err.failure === 'unknown') {
    return new RoleStoreError('outcome_unknown', `outcome unknown: the change may have been applied (${err.message})`);
  }
  if (err instanceof TransportError && err.failure === 'guard') return new RoleStoreError('conflict', 'a concurrent change got there first: nothing was written');
  return new RoleStoreError('unavailable', `permission store unreachable: ${(err as Error).message}`);
}
