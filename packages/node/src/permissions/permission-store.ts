/**
 * Where grants of permissions live: the seam every backend implements (docs/architecture.md,
 * "Permissions and impersonation"). Redis holds them for the redis and ldap backends (LDAP groups
 * are read-only, their permissions are ours); PostgreSQL in its `role_permissions` table
 * (roles/postgres/permission-store.ts). A write and its invalidation are never apart: the Redis
 * store hands its rows as StoreOps to `publish`, which the node connects to the bus's publish
 * script; the PostgreSQL store commits through its outbox, then calls `publish([])`. Concurrent
 * writes on one role from several nodes must commute (none may be lost).
 */
import type { Propagation, RolePermissionGrant } from '@authcache/protocol';
import type { StoreOp } from '../bus/transport';
import type { Grants } from './rules';

/** Publishes the write's invalidation together with `ops`, atomically. */
export type PublishOps = (ops: StoreOp[]) => Promise<Propagation>;

export interface PermissionWriteResult {
  role: string;
  resource: string;
  /** the role's direct permissions on `resource` after the write, sorted */
  permissions: string[];
  propagation: Propagation;
}

export interface PermissionStore {
  /** Direct grants of each role named (roles without any are absent). One round trip. */
  grantsOf(roles: readonly string[]): Promise<Map<string, Grants>>;
  /** Every grant of `role`, or of every role, sorted by role then resource. */
  list(role?: string): Promise<RolePermissionGrant[]>;
  grant(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult>;
  revoke(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult>;
}
