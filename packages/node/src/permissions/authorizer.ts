/**
 * Answers "may this user do X": the user's roles (through the roles cache), then the permission
 * table of that role set (through the permissions cache), then the rules of rules.ts. A check the
 * caches hold whole returns without a promise (the hot path, as a cached login). A node that
 * cannot confirm it is in sync reads the backend and caches nothing (docs/architecture.md, "The
 * staleness bound, and why it holds"): a revoked permission is never allowed past max staleness.
 */
import type { Logger } from 'pino';
import type { CacheSettings, CacheStats } from '@authcache/protocol';
import type { ResolvedRoles } from '../roles/role-store';
import { NamedCache, type Loaded } from './named-cache';
import { buildTable, check, roleOrder, type Decision, type PermissionTable } from './rules';
import type { PermissionStore } from './permission-store';

/** The caches of the authorization layer, as the protocol names them (docs/architecture.md, "Permissions and impersonation"). */
export type AuthzCacheName = 'permissions' | 'impersonation';
export const AUTHZ_CACHES: readonly AuthzCacheName[] = Object.freeze(['permissions', 'impersonation'] as const);

/**
 * A user's resolved roles: synchronous when the roles cache holds them, null for an unknown user.
 * `trusted` false: read the backend, store nothing.
 */
export type RolesSource = (username: string, trusted: boolean) => ResolvedRoles | null | Promise<ResolvedRoles | null>;

export interface Outcome extends Decision {
  /** answered from the caches alone */
  cached: boolean;
}

export interface Check {
  resource: string;
  permission: string;
}

/** Settings by cache name; a missing authorization cache takes the roles cache's (a node not yet told of it). */
export type SettingsByCache = Readonly<Partial<Record<string, CacheSettings>>>;

export interface AuthorizerDeps {
  store: PermissionStore;
  roles: RolesSource;
  trusted(): boolean;
  settings: SettingsByCache;
  log: Logger;
  now?: () => number;
}

const DEFAULT_SETTINGS: CacheSettings = { ttl_ms: 3_600_000, max_entries: 100_000, refresh_ms: 0, active_update: false, enabled: true };

export function settingsFor(s: SettingsByCache, cache: AuthzCacheName): CacheSettings {
  return s[cache] ?? s.roles ?? DEFAULT_SETTINGS;
}

const SEP = '\0';

/** The permissions cache key of a role set: superuser flag, then the roles in roleOrder. */
function tableKey(order: readonly string[], superuser: boolean): string {
  return (superuser ? '1' : '0') + SEP + order.join(SEP);
}

export class Authorizer {
  readonly permissions: NamedCache<PermissionTable>;
  /** Key of each roles-cache entry seen, so a hot check builds no string (entries are immutable). */
  private readonly keys = new WeakMap<ResolvedRoles, { username: string; key: string }>();

  constructor(private readonly deps: AuthorizerDeps) {
    this.permissions = new NamedCache('permissions', (key) => this.readTable(key), settingsFor(deps.settings, 'permissions'), deps.log, deps.now);
  }

  /** One check. `cached` is true only when neither the roles nor the table needed a backend read. */
  authorize(username: string, resource: string, permission: string): Outcome | Promise<Outcome> {
    const r = this.tableOf(username);
    if (r instanceof Promise) return r.then((t) => outcome(t, resource, permission, false));
    return outcome(r.table, resource, permission, r.cached);
  }

  /** Many checks for one user: the roles and the table are resolved once. */
  async authorizeMany(username: string, checks: readonly Check[]): Promise<Outcome[]> {
    const r = this.tableOf(username);
    const { table, cached } = r instanceof Promise ? { table: await r, cached: false } : r;
    return checks.map((c) => outcome(table, c.resource, c.permission, cached));
  }

  /**
   * The table of a user's role set: null for an unknown user. Synchronous when both caches hold it;
   * a promise (cached: false) otherwise.
   */
  tableOf(username: string): { table: PermissionTable | null; cached: boolean } | Promise<PermissionTable | null> {
    const trusted = this.deps.trusted();
    if (!trusted) return this.untrustedTable(username);
    const roles = this.deps.roles(username, true);
    if (roles instanceof Promise) {
      return roles.then((rs) => {
        if (rs === null) return null;
        const key = this.keyOf(username, rs);
        return this.permissions.get(key) ?? this.permissions.load(key);
      });
    }
    if (roles === null) return { table: null, cached: true };
    const key = this.keyOf(username, roles);
    const hit = this.permissions.get(key);
    if (hit !== undefined) return { table: hit, cached: true };
    return this.permissions.load(key);
  }

  stats(): CacheStats {
    return this.permissions.snapshot();
  }

  close(): void {
    this.permissions.close();
  }

  private keyOf(username: string, roles: ResolvedRoles): string {
    const known = this.keys.get(roles);
    if (known !== undefined && known.username === username) return known.key;
    const key = tableKey(roleOrder(username, roles.roles), roles.superuser);
    this.keys.set(roles, { username, key });
    return key;
  }

  private async readTable(key: string): Promise<Loaded<PermissionTable>> {
    const [flag, ...order] = key.split(SEP);
    const grants = await this.deps.store.grantsOf(order);
    return { value: buildTable(order, (r) => grants.get(r), flag === '1'), names: order };
  }

  /** Out of sync: the backend's answer, nothing read from or written to a cache. */
  private async untrustedTable(username: string): Promise<PermissionTable | null> {
    const roles = await this.deps.roles(username, false);
    if (roles === null) return null;
    const order = roleOrder(username, roles.roles);
    const grants = await this.deps.store.grantsOf(order);
    return buildTable(order, (r) => grants.get(r), roles.superuser);
  }
}

function outcome(table: PermissionTable | null, resource: string, permission: string, cached: boolean): Outcome {
  if (table === null) return { allowed: false, via: null, cached };
  const d = check(table, resource, permission);
  return { allowed: d.allowed, via: d.via, cached };
}
