/**
 * The permissions service the routes call (docs/architecture.md, "Permissions and impersonation"): grants and revokes, each published with
 * its invalidation in one atomic step before the call returns; checks through the authorizer;
 * impersonation; and the caches' side of every ConfigUpdate (node.apply hands flushes here).
 * See docs/architecture.md, "Permissions and impersonation".
 */
import type { Logger } from 'pino';
import { LIMITS, NAME_RULE, isValidName, normalizePermission, permissionProblem, resourceProblem, type CacheStats, type PermissionGrant, type PermissionResult, type Propagation, type RolePermissionGrant } from '@authcache/protocol';
import type { StoreOp } from '../bus/transport';
import { HttpError, badRequest, notFound, orUnavailable } from '../errors';
import { RoleStoreError, type ResolvedRoles, type RoleStoreErrorKind } from '../roles/role-store';
import { AUTHZ_CACHES, Authorizer, settingsFor, type AuthzCacheName, type Check, type Outcome, type RolesSource, type SettingsByCache } from './authorizer';
import { Impersonation } from './impersonation';
import type { PermissionStore } from './permission-store';

/** More users than this affected by one change: flush the authorization caches instead. */
const MAX_USERS_PER_UPDATE = 5000;
const STATUS: Record<RoleStoreErrorKind, number> = { unavailable: 503, outcome_unknown: 504, read_only: 409, conflict: 409, invalid: 400 };

/** The ConfigUpdate a permission change publishes with its write (a `Change` of node.ts). */
export type InvalidationChange =
  | { kind: 'flush_users'; body: { usernames: string[]; caches: AuthzCacheName[] } }
  | { kind: 'flush_all'; body: { caches: AuthzCacheName[] } };

export type PublishChange = (change: InvalidationChange, ops: StoreOp[]) => Promise<Propagation>;

export interface PermissionServiceDeps {
  store: PermissionStore;
  roles: RolesSource;
  /** Roles holding `role`, transitively (RoleStore.holdersOf). */
  holdersOf(role: string): Promise<string[]>;
  /** false: no such role (404); undefined: the backend cannot tell (LDAP groups). */
  roleExists(role: string): Promise<boolean | undefined>;
  publish: PublishChange;
  trusted(): boolean;
  settings: SettingsByCache;
  log: Logger;
  now?: () => number;
}

export class PermissionService {
  readonly authorizer: Authorizer;
  readonly impersonation: Impersonation;

  /** Each cache by name, and all of them in AUTHZ_CACHES order (what a flush of everything touches), built once. */
  private readonly byName: Record<AuthzCacheName, Impersonation['cache'] | Authorizer['permissions']>;
  private readonly everyCache: ReadonlyArray<Impersonation['cache'] | Authorizer['permissions']>;

  constructor(private readonly deps: PermissionServiceDeps) {
    this.authorizer = new Authorizer(deps);
    this.impersonation = new Impersonation(this.authorizer, deps.roles, deps.trusted, deps.settings, deps.log, deps.now);
    this.byName = { permissions: this.authorizer.permissions, impersonation: this.impersonation.cache };
    this.everyCache = AUTHZ_CACHES.map((c) => this.byName[c]);
  }

  /** Synchronous when the caches hold the answer; a backend that does not answer is a 503. */
  authorize(username: string, resource: string, permission: string): Outcome | Promise<Outcome> {
    const o = this.authorizer.authorize(username, resource, permission);
    return o instanceof Promise ? this.read(() => o) : o;
  }

  /** 403 unless `caller` may answer as `target` (OpenSearch's impersonation); 503 when the backend does not answer. */
  requireImpersonation(caller: string, target: string): Promise<void> {
    return this.read(() => this.impersonation.require(caller, target));
  }

  /** For the login route: the target's roles once `caller` (authenticated) may impersonate it; else 403. */
  impersonate(caller: string, target: string): Promise<ResolvedRoles> {
    return this.read(() => this.impersonation.resolve(caller, target));
  }

  authorizeMany(username: string, checks: readonly Check[]): Promise<Outcome[]> {
    return this.read(() => this.authorizer.authorizeMany(username, checks));
  }

  grant(role: string, resource: string, permissions: readonly string[]): Promise<PermissionResult> {
    return this.write('grant', role, resource, permissions);
  }

  revoke(role: string, resource: string, permissions: readonly string[]): Promise<PermissionResult> {
    return this.write('revoke', role, resource, permissions);
  }

  /** A role's direct grants, sorted by resource; 404 for a role the backend says does not exist. */
  async list(role: string): Promise<PermissionGrant[]> {
    if ((await this.read(() => this.deps.roleExists(role))) === false) throw notFound(`role ${role} does not exist`);
    return (await this.read(() => this.deps.store.list(role))).map(({ resource, permissions }) => ({ resource, permissions }));
  }

  listAll(): Promise<RolePermissionGrant[]> {
    return this.read(() => this.deps.store.list());
  }

  /** A flush_users update: `caches` undefined means every cache. Names it does not hold are ignored. */
  invalidateUsers(usernames: readonly string[], caches?: readonly string[]): void {
    for (const c of this.selected(caches)) c.invalidateNames(usernames);
  }

  invalidateAll(caches?: readonly string[]): void {
    for (const c of this.selected(caches)) c.invalidateAll();
  }

  /** New settings keep valid entries (the rule of every cache). */
  configure(settings: SettingsByCache): void {
    this.authorizer.permissions.configure(settingsFor(settings, 'permissions'));
    this.impersonation.cache.configure(settingsFor(settings, 'impersonation'));
  }

  stats(): Record<AuthzCacheName, CacheStats> {
    return { permissions: this.authorizer.stats(), impersonation: this.impersonation.stats() };
  }

  close(): void {
    this.authorizer.close();
    this.impersonation.close();
  }

  private selected(caches: readonly string[] | undefined) {
    if (caches === undefined) return this.everyCache;
    return AUTHZ_CACHES.filter((c) => caches.includes(c)).map((c) => this.byName[c]);
  }

  private async write(kind: 'grant' | 'revoke', role: string, resource: string, permissions: readonly string[]): Promise<PermissionResult> {
    const perms = checkChange(role, resource, permissions);
    if ((await this.read(() => this.deps.roleExists(role))) === false) throw notFound(`role ${role} does not exist`);
    // Who holds the role holds its grants: each of them has entries that may now be wrong.
    const affected = [role, ...(await this.read(() => this.deps.holdersOf(role)))];
    const publish = (ops: StoreOp[]) => this.deps.publish(invalidation(affected), ops);
    const r = await this.read(() => (kind === 'grant' ? this.deps.store.grant(role, resource, perms, publish) : this.deps.store.revoke(role, resource, perms, publish)));
    const p = r.propagation;
    this.deps.log.info({ kind, role, resource, permissions: perms, now: r.permissions, affected: affected.length, seq: p.seq, nodes: p.nodes }, `permissions ${kind === 'grant' ? 'granted' : 'revoked'} and invalidated`);
    return { role, resource, permissions: r.permissions, ...p };
  }

  /** Backend calls of a request: typed store errors become their answer, other failures a 503. */
  private read<T>(f: () => Promise<T>): Promise<T> {
    return orUnavailable(this.deps.log, 'permission store unreachable', async () => {
      try {
        return await f();
      } catch (err) {
        if (!(err instanceof RoleStoreError)) throw err;
        throw new HttpError(STATUS[err.kind], err.message);
      }
    });
  }
}

/** The update a change publishes: the affected users' authorization entries, or all of them past a size. */
export function invalidation(affected: readonly string[]): InvalidationChange {
  const usernames = [...new Set(affected)];
  return usernames.length > MAX_USERS_PER_UPDATE
    ? { kind: 'flush_all', body: { caches: [...AUTHZ_CACHES] } }
    : { kind: 'flush_users', body: { usernames, caches: [...AUTHZ_CACHES] } };
}

/** A grant or revoke as the rules take it, or a 400 naming what is wrong. */
export function checkChange(role: string, resource: string, permissions: readonly string[]): string[] {
  if (!isValidName(role)) throw badRequest(`role name must be ${NAME_RULE}`);
  const bad = resourceProblem(resource);
  if (bad) throw badRequest(bad);
  if (!Array.isArray(permissions) || permissions.length === 0 || permissions.length > LIMITS.permissionsPerChange) {
    throw badRequest(`permissions must be an array of 1..${LIMITS.permissionsPerChange} names`);
  }
  for (const p of permissions) {
    const problem = permissionProblem(p);
    if (problem) throw badRequest(problem);
  }
  return [...new Set(permissions.map(normalizePermission))].sort();
}
