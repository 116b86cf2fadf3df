/**
 * Bodies of the node HTTP API (the README's HTTP API). Every wire shape is defined once, in @authcache/protocol's
 * api module, and re-exported here so SDK users need only this package; what is added here exists
 * on the client side alone (call options).
 */

export { CACHE_NAMES, LIMITS, IMPERSONATE, IMPERSONATE_HEADER, KNOWN_PERMISSIONS, normalizePermission, permissionProblem, resourceProblem } from '@authcache/protocol';
export type {
  AuthInfo,
  AuthorizeBatchRequest,
  AuthorizeBatchResult,
  AuthorizeCheck,
  AuthorizeRequest,
  AuthorizeResult,
  PermissionChange,
  PermissionGrant,
  PermissionResult,
  RolePermissionGrant,
  CacheName,
  CacheSettings,
  CacheSettingValues,
  CacheStats,
  ClusterSettings,
  ClusterSettingsChange,
  ClusterSettingsMap,
  ClusterSettingsResult,
  DropResult,
  ErrorBody,
  FlushResult,
  Health,
  HealthStatus,
  LoginResult,
  NodeCounts,
  NodeInfo,
  NodeRemoved,
  AuditEntry,
  NodeStatus,
  OpenSearchErrorBody,
  Propagation,
  PropagationFailure,
  PropagationMember,
  RoleChange,
  RoleInfo,
  RoleResult,
  SettingsChange,
  SettingsOverlay,
  SettingsResult,
  SettingsTree,
  SettingsView,
} from '@authcache/protocol';
import type { CacheName } from '@authcache/protocol';

/** Options of the flush calls; they become the query string, not a body. */
export interface FlushOptions {
  /** default: every cache */
  caches?: CacheName[];
  /** act on the receiving node only (nodetool semantics) */
  local?: boolean;
}

/** OpenSearch's impersonation: the call answers as this user when the caller may impersonate it (else ForbiddenError). */
export interface ImpersonationOptions {
  impersonateAs?: string;
}
