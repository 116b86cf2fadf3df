/** The authorization layer (docs/architecture.md, "Permissions and impersonation"). */
export { PermissionService, invalidation, checkChange, type PermissionServiceDeps, type InvalidationChange, type PublishChange } from './service';
export { Authorizer, AUTHZ_CACHES, type AuthzCacheName, type RolesSource, type Outcome, type Check } from './authorizer';
export { Impersonation, ImpersonationRefused } from './impersonation';
export { NamedCache, type Loaded } from './named-cache';
export { RedisPermissionStore } from './redis-permission-store';
export type { PermissionStore, PermissionWriteResult, PublishOps } from './permission-store';
export * from './rules';
export { createPermissionService, type PermissionWiring } from './wiring';
