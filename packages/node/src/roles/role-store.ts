/**
 * The authentication backend behind the caches. The caches only see this interface, so another
 * backend (PostgreSQL, LDAP) can be added without touching them.
 */
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
  /** Roles granted directly. */
  memberOf: string[];
}

export interface RoleChange {
  hash?: string;
  canLogin?: boolean;
  superuser?: boolean;
  memberOf?: string[];
}

export interface RoleStore {
  getCredentials(name: string): Promise<StoredCredentials | null>;
  resolveRoles(name: string): Promise<ResolvedRoles | null>;
  get(name: string): Promise<RoleRecord | null>;
  list(): Promise<RoleRecord[]>;
  /** Roles that hold `name`, directly or transitively (not `name` itself). */
  holdersOf(name: string): Promise<string[]>;
  /** Up to `limit` roles that can log in, for warming the caches. */
  loginRoles(limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>>;
}
