/**
 * Pure rules every role store shares (docs/architecture.md, "Adding a backend"): what a write
 * makes of a role, and the warm-start listing resolved in memory. With grant-graph.ts, the stores
 * hold only their I/O.
 */
import { resolveGrants } from './grant-graph';
import type { ResolvedRoles, RoleChange, RoleRecord, StoredCredentials } from './role-store';

export interface LoginRole {
  name: string;
  credentials: StoredCredentials;
  roles: ResolvedRoles;
}

/** The role after `change`: named fields replaced, the rest kept; a new role starts without login, superuser or grants. */
export function applyChange(name: string, before: RoleRecord | null, change: RoleChange, memberOf = change.memberOf): RoleRecord {
  return {
    name,
    hash: change.hash ?? before?.hash,
    canLogin: change.canLogin ?? before?.canLogin ?? false,
    superuser: change.superuser ?? before?.superuser ?? false,
    memberOf: memberOf ?? before?.memberOf ?? [],
  };
}

/**
 * Up to `limit` roles that can log in and have a password, with their grants resolved over the
 * one listing: a round trip per role would make warming 100k roles take seconds.
 */
export function loginRolesFrom(all: readonly RoleRecord[], limit: number): LoginRole[] {
  const byName = new Map(all.map((r) => [r.name, r]));
  const out: LoginRole[] = [];
  for (const r of all) {
    if (out.length >= limit) break;
    if (!r.canLogin || r.hash === undefined) continue;
    out.push({ name: r.name, credentials: { hash: r.hash, canLogin: true }, roles: resolveGrants(r.name, (n) => byName.get(n))! });
  }
  return out;
}
