import type { Redis } from 'ioredis';
import type { ClusterNames } from '@authcache/protocol';
import type { ResolvedRoles, RoleChange, RoleRecord, RoleStore, StoredCredentials } from './role-store';

/**
 * Roles in Redis, one hash per role with Cassandra's system_auth.roles columns:
 * salted_hash, can_login, is_superuser, member_of (JSON array of granted roles).
 */
export class RedisRoleStore implements RoleStore {
  constructor(private readonly redis: Redis, private readonly names: ClusterNames) {}

  async getCredentials(name: string): Promise<StoredCredentials | null> {
    const [hash, canLogin] = await this.redis.hmget(this.names.role(name), 'salted_hash', 'can_login');
    if (hash === null && canLogin === null) return null;
    return { hash: hash ?? undefined, canLogin: canLogin === 'true' };
  }

  async resolveRoles(name: string): Promise<ResolvedRoles | null> {
    const graph = new Map<string, { memberOf: string[]; superuser: boolean }>();
    let frontier = [name];
    // Breadth first, one pipelined round trip per level; `graph` doubles as the visited set, so a cycle ends.
    while (frontier.length > 0) {
      const pipe = this.redis.pipeline();
      for (const r of frontier) pipe.hmget(this.names.role(r), 'member_of', 'is_superuser', 'can_login');
      const rows = (await pipe.exec()) ?? [];
      const next: string[] = [];
      frontier.forEach((r, i) => {
        const [err, row] = rows[i] ?? [];
        if (err) throw err;
        const [memberOf, superuser, canLogin] = row as (string | null)[];
        if (memberOf === null && superuser === null && canLogin === null) return; // granted role was dropped
        const granted = parseList(memberOf);
        graph.set(r, { memberOf: granted, superuser: superuser === 'true' });
        for (const g of granted) if (!graph.has(g) && !next.includes(g)) next.push(g);
      });
      frontier = next;
    }
    const self = graph.get(name);
    if (!self) return null;
    const roles = graph.size === 1 ? (NO_ROLES as string[]) : [...graph.keys()].filter((r) => r !== name).sort();
    return { roles, superuser: [...graph.values()].some((r) => r.superuser) };
  }

  async get(name: string): Promise<RoleRecord | null> {
    const h = await this.redis.hgetall(this.names.role(name));
    return Object.keys(h).length === 0 ? null : toRecord(name, h);
  }

  async list(): Promise<RoleRecord[]> {
    const names = (await this.redis.smembers(this.names.rolesIndex)).sort();
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
    const all = await this.list();
    const grantees = new Map<string, string[]>(); // role -> roles it was granted to
    for (const r of all) for (const g of r.memberOf) grantees.set(g, [...(grantees.get(g) ?? []), r.name]);
    const found = new Set<string>();
    const queue = [name];
    while (queue.length > 0) {
      for (const h of grantees.get(queue.shift()!) ?? []) {
        if (h !== name && !found.has(h)) {
          found.add(h);
          queue.push(h);
        }
      }
    }
    return [...found].sort();
  }

  async loginRoles(limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>> {
    const all = await this.list();
    const byName = new Map(all.map((r) => [r.name, r]));
    const out: Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }> = [];
    // Resolved in memory from the one listing: a round trip per role would make warming 100k roles take seconds.
    for (const r of all) {
      if (out.length >= limit) break;
      if (!r.canLogin || r.hash === undefined) continue;
      out.push({ name: r.name, credentials: { hash: r.hash, canLogin: true }, roles: resolveInMemory(r.name, byName) });
    }
    return out;
  }

  /** Creates or alters a role; true if it was created. */
  async upsert(name: string, change: RoleChange): Promise<boolean> {
    const fields: Record<string, string> = {};
    if (change.hash !== undefined) fields.salted_hash = change.hash;
    if (change.canLogin !== undefined) fields.can_login = String(change.canLogin);
    if (change.superuser !== undefined) fields.is_superuser = String(change.superuser);
    if (change.memberOf !== undefined) fields.member_of = JSON.stringify([...new Set(change.memberOf)].sort());
    const key = this.names.role(name);
    const existed = (await this.redis.exists(key)) === 1;
    const defaults = existed ? {} : { can_login: 'false', is_superuser: 'false', member_of: '[]' };
    await this.redis.multi().hset(key, { ...defaults, ...fields }).sadd(this.names.rolesIndex, name).exec();
    return !existed;
  }

  /** Drops a role and revokes it from every role it was granted to; false if it did not exist. */
  async drop(name: string): Promise<boolean> {
    const all = await this.list();
    if (!all.some((r) => r.name === name)) return false;
    const tx = this.redis.multi().del(this.names.role(name)).srem(this.names.rolesIndex, name);
    for (const r of all) {
      if (r.memberOf.includes(name)) tx.hset(this.names.role(r.name), 'member_of', JSON.stringify(r.memberOf.filter((g) => g !== name)));
    }
    await tx.exec();
    return true;
  }
}

const LIST_CHUNK = 1000;
const NO_ROLES: readonly string[] = Object.freeze([]);

/** The closure of `name`'s grants over an in-memory listing (cycles end at the visited set). */
export function resolveInMemory(name: string, byName: Map<string, RoleRecord>): ResolvedRoles {
  const self = byName.get(name)!;
  if (self.memberOf.length === 0) return { roles: NO_ROLES as string[], superuser: self.superuser };
  const seen = new Set<string>([name]);
  const queue = [...self.memberOf];
  let superuser = self.superuser;
  while (queue.length > 0) {
    const g = queue.shift()!;
    if (seen.has(g)) continue;
    const rec = byName.get(g);
    if (!rec) continue; // granted role was dropped
    seen.add(g);
    superuser ||= rec.superuser;
    queue.push(...rec.memberOf);
  }
  seen.delete(name);
  return { roles: [...seen].sort(), superuser };
}

function parseList(raw: string | null | undefined): string[] {
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
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
