/**
 * How a node builds its permissions service from its parts (node.ts calls this; see the wiring in
 * docs/architecture.md, "Permissions and impersonation"). Grants live where the role backend keeps them
 * (`RoleStore.permissionStore`: PostgreSQL's `role_permissions`), else in the bus's Redis: for
 * `redis` beside the roles, for `ldap` because the directory is read-only (permissions granted to
 * groups are ours).
 */
import type { Logger } from 'pino';
import type { ClusterNames } from '@authcache/protocol';
import type { ResolvedRoles, RoleStore } from '../roles/role-store';
import { RedisPermissionStore, type PermissionRedis } from './redis-permission-store';
import { PermissionService, type PublishChange } from './service';
import type { RolesSource, SettingsByCache } from './authorizer';

export interface PermissionWiring {
  /** The node's command connection (single, Sentinel or Cluster). */
  redis: PermissionRedis;
  names: ClusterNames;
  roleStore: RoleStore;
  /** The roles cache (AuthCache.roles): a hit answers without a promise. */
  rolesCache?: { get(name: string): ResolvedRoles | undefined };
  /** Overrides the default roles source (e.g. AuthCache.rolesOf, which also fills the roles cache). */
  rolesOf?: RolesSource;
  /** `(change, ops) => node.bus.publish(change, ops)`: the write and its invalidation in one step. */
  publish: PublishChange;
  trusted(): boolean;
  settings: SettingsByCache;
  log: Logger;
}

export function createPermissionService(w: PermissionWiring): PermissionService {
  const store = w.roleStore;
  const roles: RolesSource =
    w.rolesOf ??
    ((username, trusted) => {
      if (trusted) {
        const hit = w.rolesCache?.get(username);
        if (hit !== undefined) return hit;
      }
      return store.resolveRoles(username);
    });
  return new PermissionService({
    store: store.permissionStore ?? new RedisPermissionStore(w.redis, w.names),
    roles,
    holdersOf: (role) => store.holdersOf(role),
    // A directory's groups cannot be told from names here: grants to any name are kept (LDAP).
    roleExists: async (role) => (store.capabilities.writable ? (await store.get(role)) !== null : undefined),
    publish: w.publish,
    trusted: w.trusted,
    settings: w.settings,
    log: w.log,
  });
}
