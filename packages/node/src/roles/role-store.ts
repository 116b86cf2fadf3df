/**
 * The authentication backend behind the caches: the seam every backend (Redis today; PostgreSQL
 * and LDAP next) implements, and the one contract suite (packages/node/test/support/
 * role-store-contract.ts) each must pass. See docs/architecture.md, "Adding a backend".
 */
import type { Propagation } from '@authcache/protocol';
import type { PermissionStore } from '../permissions/permission-store';

export interface StoredCredentials {
  /** bcrypt hash in Cassandra's `$2a$` / `$2b$` form; undefined for a role without password. */
  hash: string | undefined;
  canLogin: boolean;
}

export interface ResolvedRoles {
  /** Every role held, transitively, without the role itself, sorted. */
  roles: string[];
  /** True when the role or any role it holds is a superuser. */
  superuser: boolean;
}

export interface RoleRecord {
  name: string;
  hash: string | undefined;
  canLogin: boolean;
  superuser: boolean;
  /** Roles granted directly, sorted. */
  memberOf: string[];
}

/** What a write changes; absent fields keep their value (a new role starts with no login, no grants). */
export interface RoleChange {
  hash?: string;
  canLogin?: boolean;
  superuser?: boolean;
  memberOf?: string[];
}

export interface RoleWriteResult {
  created: boolean;
  role: RoleRecord;
  /** Who was invalidated with the write (the role, plus its holders when its grants changed). */
  affected: string[];
  propagation: Propagation;
}

export interface RoleDropResult {
  affected: string[];
  propagation: Propagation;
}

/**
 * Why a store call failed, independent of the backend:
 * - `unavailable`: the backend did not answer; nothing was written.
 * - `outcome_unknown`: a write was sent and no answer came; it may stand (and then its
 *   invalidation was published with it).
 * - `read_only`: roles are managed elsewhere (LDAP); `message` says where.
 * - `conflict`: concurrent writers kept changing the role; nothing was written.
 * - `invalid`: the change is refused (a grant of a missing role, a circular grant).
 */
export type RoleStoreErrorKind = 'unavailable' | 'outcome_unknown' | 'read_only' | 'conflict' | 'invalid';

export class RoleStoreError extends Error {
  constructor(readonly kind: RoleStoreErrorKind, message: string) {
    super(message);
    this.name = 'RoleStoreError';
  }
}

export interface RoleStoreCapabilities {
  /** False for a backend managed elsewhere: every write throws RoleStoreError('read_only'). */
  writable: boolean;
}

export interface RoleReads {
  getCredentials(name: string): Promise<StoredCredentials | null>;
  resolveRoles(name: string): Promise<ResolvedRoles | null>;
  get(name: string): Promise<RoleRecord | null>;
  /** Roles sorted by name; `after` and `limit` page through them. */
  list(page?: { after?: string; limit?: number }): Promise<RoleRecord[]>;
  /** Roles that hold `name`, directly or transitively (not `name` itself), sorted. */
  holdersOf(name: string): Promise<string[]>;
  /** Up to `limit` roles that can log in, with their credentials and resolved roles, for warming the caches. */
  loginRoles(limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>>;
  /**
   * Only for a backend that checks passwords itself instead of handing out a hash (LDAP: a bind
   * as the user). True when `password` is right; false for an unknown user, a wrong or empty
   * password and a disabled account alike; RoleStoreError('unavailable') when the backend does
   * not answer. When present, the cache calls it instead of bcrypt (`StoredCredentials.hash` is
   * then an opaque token that changes with the user's entry) and keeps its fast verifier after
   * a success, so a repeated login makes no backend round trip.
   */
  verifyPassword?(name: string, password: string): Promise<boolean>;
}

export interface RoleWrites {
  /**
   * Creates or alters a role and publishes the invalidation of every user it affects as ONE
   * atomic step: a change never stands without its invalidation (docs/architecture.md,
   * "Atomic change and invalidation"). Grants must name existing roles and not close a cycle.
   */
  upsert(name: string, change: RoleChange): Promise<RoleWriteResult>;
  /** Drops a role, revoking it from every role it was granted to; null when it did not exist. */
  drop(name: string): Promise<RoleDropResult | null>;
}

export interface RoleStore extends RoleReads, RoleWrites {
  readonly capabilities: RoleStoreCapabilities;
  /**
   * Where this backend keeps grants of permissions, when it keeps them itself (PostgreSQL).
   * Absent: they live in the bus's Redis (the Redis backend, and LDAP, which is read-only).
   */
  readonly permissionStore?: PermissionStore;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the backend answers, as /health reports it. */
  health(): 'up' | 'down';
}
