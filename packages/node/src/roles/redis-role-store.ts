import type { Redis } from 'ioredis';
import type { ClusterNames, Propagation } from '@authcache/protocol';
import { TransportError, type StoreOp } from '../bus/transport';
import { NotDurableError } from '../bus/durability';
import { applyChange, loginRolesFrom } from './role-rules';
import { grantProblem, holdersOf, needsHolders, resolveGrantsAsync, type GrantNode } from './grant-graph';
import {
  RoleStoreError,
  type ResolvedRoles,
  type RoleChange,
  type RoleDropResult,
  type RoleRecord,
  type RoleStore,
  type RoleWriteResult,
  type StoredCredentials,
} from './role-store';

/**
 * Publishes the invalidation of `usernames` in the same atomic step as `ops` (the bus's publish
 * script): the node hands this to the store, so a role write and its ConfigUpdate are one.
 */
export type InvalidateWith = (usernames: string[], ops: StoreOp[]) => Promise<Propagation>;

/** Concurrent writers between our read and the atomic write: retry this often, then refuse. */
const WRITE_ATTEMPTS = 3;
const LIST_CHUNK = 1000;

/**
 * Roles in Redis, one hash per role with Cassandra's system_auth.roles columns:
 * salted_hash, can_login, is_superuser, member_of (JSON array of granted roles), plus a set of
 * role names. Writes are planned from a read and applied by the bus's publish script together
 * with their invalidation, guarded so that a concurrent create or drop makes us plan again.
 */
export class RedisRoleStore implements RoleStore {
  readonly capabilities = { writable: true };

  constructor(
    private readonly redis: Redis,
    private readonly names: ClusterNames,
    private readonly invalidate: InvalidateWith,
  ) {}

  /** The node owns the connection; nothing to open or close here. */
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  health(): 'up' | 'down' {
    return this.redis.status === 'ready' ? 'up' : 'down';
  }

  async getCredentials(name: string): Promise<StoredCredentials | null> {
    const [hash, canLogin] = await this.redis.hmget(this.names.role(name), 'salted_hash', 'can_login');
    if (hash === null && canLogin === null) return null;
    return { hash: hash || undefined, canLogin: canLogin === 'true' };
  }

  resolveRoles(name: string): Promise<ResolvedRoles | null> {
    // One pipelined round trip per level of the grant graph.
    return resolveGrantsAsync(name, async (level) => {
      const pipe = this.redis.pipeline();
      for (const r of level) pipe.hmget(this.names.role(r), 'member_of', 'is_superuser', 'can_login');
      const rows = (await pipe.exec()) ?? [];
      const out = new Map<string, GrantNode | undefined>();
      level.forEach((r, i) => {
        const [err, row] = rows[i] ?? [new Error('no reply')];
        if (err) throw err;
        const [memberOf, superuser, canLogin] = row as (string | null)[];
        const exists = memberOf !== null || superuser !== null || canLogin !== null;
        out.set(r, exists ? { memberOf: parseList(memberOf), superuser: superuser === 'true' } : undefined);
      });
      return out;
    });
  }

  async get(name: string): Promise<RoleRecord | null> {
    const h = await this.redis.hgetall(this.names.role(name));
    return Object.keys(h).length === 0 ? null : toRecord(name, h);
  }

  async list(page: { after?: string; limit?: number } = {}): Promise<RoleRecord[]> {
    let names = (await this.redis.smembers(this.names.rolesIndex)).sort();
    if (page.after !== undefined) names = names.filter((n) => n > page.after!);
    if (page.limit !== undefined) names = names.slice(0, page.limit);
    const out: RoleRecord[] = [];
    // In chunks: one pipeline of 100k commands would outlive the per-command timeout.
    for (let i = 0; i < names.length; i += LIST_CHUNK) {
      const chunk = names.slice(i, i + LIST_CHUNK);
      const pipe = this.redis.pipeline();
      for (const n of chunk) pipe.hgetall(this.names.role(n));
      const rows = (await pipe.exec()) ?? [];
      chunk.forEach((n, j) => {
        const [err, h] = rows[j] ?? [new Error('no reply')];
        if (err) throw err;
        if (h && Object.keys(h as object).length > 0) out.push(toRecord(n, h as Record<string, string>));
      });
    }
    return out;
  }

  async holdersOf(name: string): Promise<string[]> {
    return holdersOf(name, await this.list());
  }

  async loginRoles(limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>> {
    return loginRolesFrom(await this.list(), limit);
  }

  async upsert(name: string, change: RoleChange): Promise<RoleWriteResult> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const all = await this.read(() => this.list());
      const byName = new Map(all.map((r) => [r.name, r]));
      const before = byName.get(name) ?? null;
      const memberOf = change.memberOf === undefined ? undefined : [...new Set(change.memberOf)].sort();
      if (memberOf !== undefined) {
        const problem = grantProblem(name, memberOf, (n) => byName.get(n));
        if (problem) throw new RoleStoreError('invalid', problem);
      }
      const after = applyChange(name, before, change, memberOf);
      const affected = [name, ...(before && needsHolders(before, after) ? holdersOf(name, all) : [])];
      const key = this.names.role(name);
      const fields: Record<string, string> = {
        can_login: String(after.canLogin),
        is_superuser: String(after.superuser),
        member_of: JSON.stringify(after.memberOf),
        ...(after.hash !== undefined ? { salted_hash: after.hash } : {}),
      };
      const ops: StoreOp[] = [
        { op: 'expect', key, exists: before !== null },
        { op: 'hset', key, fields },
        { op: 'sadd', key: this.names.rolesIndex, members: [name] },
      ];
      const propagation = await this.write(() => this.invalidate(affected, ops));
      if (propagation) return { created: before === null, role: after, affected, propagation };
    }
    throw new RoleStoreError('conflict', `role ${name} kept changing under concurrent writers; nothing was written`);
  }

  async drop(name: string): Promise<RoleDropResult | null> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const all = await this.read(() => this.list());
      if (!all.some((r) => r.name === name)) return null;
      const affected = [name, ...holdersOf(name, all)];
      const key = this.names.role(name);
      const ops: StoreOp[] = [
        { op: 'expect', key, exists: true },
        { op: 'del', key },
        { op: 'srem', key: this.names.rolesIndex, members: [name] },
        // Its permissions go with it, as Cassandra drops a dropped role's: a role created again under the name starts with none.
        { op: 'del', key: this.names.rolePermissions(name) },
        { op: 'srem', key: this.names.permissionsIndex, members: [name] },
      ];
      // Revoked from every role it was granted to, in the same step.
      for (const r of all) {
        if (r.memberOf.includes(name)) ops.push({ op: 'hset', key: this.names.role(r.name), fields: { member_of: JSON.stringify(r.memberOf.filter((g) => g !== name)) } });
      }
      const propagation = await this.write(() => this.invalidate(affected, ops));
      if (propagation) return { affected, propagation };
    }
    throw new RoleStoreError('conflict', `role ${name} kept changing under concurrent writers; nothing was written`);
  }

  private async read<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw new RoleStoreError('unavailable', `role store unreachable: ${(err as Error).message}`);
    }
  }

  /** Runs the atomic write; undefined when a guard failed (someone else wrote first: plan again). */
  private async write(f: () => Promise<Propagation>): Promise<Propagation | undefined> {
    try {
      return await f();
    } catch (err) {
      // Written and published, not confirmed by a replica: passed on whole, so the 504 carries the seq and every node's result.
      if (err instanceof NotDurableError) throw err;
      if (err instanceof TransportError) {
        if (err.failure === 'guard') return undefined;
        if (err.failure === 'unknown') throw new RoleStoreError('outcome_unknown', `outcome unknown: the change may have been applied (${err.message})`);
      }
      throw new RoleStoreError('unavailable', `role store unreachable: ${(err as Error).message}`);
    }
  }
}

function parseList(raw: string | null | undefined): string[] {
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').sort() : [];
  } catch {
    return [];
  }
}

function toRecord(name: string, h: Record<string, string>): RoleRecord {
  return {
    name,
    hash: h.salted_hash || undefined,
    canLogin: h.can_login === 'true',
    superuser: h.is_superuser === 'true',
    memberOf: parseList(h.member_of),
  };
}
