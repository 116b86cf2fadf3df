/**
 * Bodies of the HTTP API (the README's HTTP API) that the node answers and the SDK reads: one definition of
 * the wire shapes, field names as on the wire (the limits both sides enforce: limits.ts). The node's
 * fastify schemas and the client's types both come from here, so they cannot drift apart.
 */

import type { CacheName } from './messages';

export * from './authz-api';
export * from './limits';

/** Every error answer on our own paths (`/v1/...`, `/health`). */
export interface ErrorBody {
  error: string;
}

/**
 * 504 when a change was published (the nodes applied it) but fewer Redis replicas than
 * `AUTHCACHE_REDIS_MIN_REPLICAS` confirmed it: it may be lost in a failover (docs/architecture.md,
 * "Redis topologies"). The error text says "not confirmed by any replica" when none did.
 */
export interface NotDurableBody extends ErrorBody, Propagation {
  /** replicas that confirmed the write within AUTHCACHE_REDIS_REPLICA_WAIT_MS */
  replicated: number;
  /** AUTHCACHE_REDIS_MIN_REPLICAS */
  required: number;
}

/** An error answer on OpenSearch's paths, in OpenSearch's shape, so its clients show the reason. */
export interface OpenSearchErrorBody {
  error: {
    root_cause: Array<{ type: string; reason: string }>;
    type: string;
    reason: string;
  };
  status: number;
}

/** What one cache runs with. `ttl_ms` 0 means caching is disabled. */
export interface CacheSettings {
  ttl_ms: number;
  max_entries: number;
  refresh_ms: number;
  active_update: boolean;
  enabled: boolean;
}

export interface CacheStats {
  size: number;
  hits: number;
  misses: number;
  evictions: number;
  loads: number;
  load_failures: number;
}

/** `POST /v1/login` 200. */
export interface LoginResult {
  username: string;
  /** every role held, transitively, without the user's own */
  roles: string[];
  superuser: boolean;
  cached: boolean;
  /** id of the node that answered */
  node: string;
  /** with `security_impersonate_as` (docs/architecture.md, "Permissions and impersonation"): the caller; `username`, `roles`, `superuser` are then the target's */
  impersonated_by?: string;
}

/** `GET /_plugins/_security/authinfo` 200 (OpenSearch's shape). */
export interface AuthInfo {
  user_name: string;
  roles: string[];
  backend_roles: string[];
}

/** `PUT /v1/roles/{name}`: create or alter. */
export interface RoleChange {
  password?: string;
  login?: boolean;
  superuser?: boolean;
  /** replaces the set of granted roles */
  roles?: string[];
  grant?: string[];
  revoke?: string[];
}

/** A role as the API shows it: never its hash. */
export interface RoleInfo {
  name: string;
  login: boolean;
  superuser: boolean;
  /** direct grants only */
  roles: string[];
  has_password: boolean;
}

export interface NodeCounts {
  total: number;
  successful: number;
  failed: number;
}

export interface PropagationFailure {
  /** node id of the member that did not acknowledge */
  node: string;
  /** "timeout", "down" (stopped heartbeating without leaving), or the error text that member reported */
  reason: string;
  /** with reason "down": age in ms of its last heartbeat (docs/architecture.md, "Membership") */
  last_seen_ms?: number;
}

export interface PropagationMember {
  node: string;
  result: 'applied' | 'failed' | 'timeout';
}

/** Present in every cluster-wide admin answer. A partial result (failed > 0) is still HTTP 200. */
export interface Propagation {
  /** cluster seq assigned to the update */
  seq: number;
  nodes: NodeCounts;
  failures: PropagationFailure[];
  /** every member expected or heard from, and what it said */
  members: PropagationMember[];
}

/** `DELETE /v1/cache[/users/{username}]` and OpenSearch's cache paths. */
export interface FlushResult extends Propagation {
  message: string;
  /** "OK" beside the message on OpenSearch's paths, as OpenSearch answers */
  status?: 'OK';
}

export type CacheSettingValues = Pick<CacheSettings, 'ttl_ms' | 'max_entries' | 'refresh_ms' | 'active_update'>;

/** Runtime settings of one layer (transient or persistent): for every cache, and per cache. */
export interface SettingsOverlay {
  all?: Partial<CacheSettingValues>;
  credentials?: Partial<CacheSettingValues>;
  roles?: Partial<CacheSettingValues>;
  permissions?: Partial<CacheSettingValues>;
  impersonation?: Partial<CacheSettingValues>;
}

/** `GET /v1/cache/settings`. */
export interface SettingsView {
  node: string;
  settings: Record<CacheName, CacheSettings>;
  transient: SettingsOverlay;
  persistent: SettingsOverlay;
}

/** `PUT /v1/cache/settings` body. */
export interface SettingsChange extends Partial<CacheSettingValues> {
  /** no cache: the change applies to every cache */
  cache?: CacheName;
  persistent?: boolean;
}

export interface SettingsResult extends Propagation {
  message: string;
  settings: Record<CacheName, CacheSettings>;
}

/**
 * Settings as OpenSearch writes them: nested on the dots of their names (`{"plugins":{"security":
 * {"cache":{"ttl_minutes":"60"}}}}`), or flat (`{"plugins.security.cache.ttl_minutes":"60"}`, a tree
 * of depth one) with `flat_settings=true`. Values read back as strings.
 */
export interface SettingsTree {
  [name: string]: string | SettingsTree;
}

/** What a `PUT /_cluster/settings` layer may hold: flat names, nested objects or both; null resets. */
export type ClusterSettingsMap = Record<string, unknown>;

/** `GET /_cluster/settings[?flat_settings=true][&include_defaults=true]`. */
export interface ClusterSettings {
  persistent: SettingsTree;
  transient: SettingsTree;
  /** with include_defaults=true: every setting's value when no layer sets it */
  defaults?: SettingsTree;
}

/** `PUT /_cluster/settings` body. */
export interface ClusterSettingsChange {
  transient?: ClusterSettingsMap;
  persistent?: ClusterSettingsMap;
}

export interface ClusterSettingsResult extends Propagation {
  acknowledged: boolean;
  /** the settings accepted, spelled as GET answers them */
  persistent: SettingsTree;
  transient: SettingsTree;
}

/** `PUT /v1/roles/{name}` 200/201. */
export interface RoleResult extends Propagation {
  role: RoleInfo;
  created: boolean;
}

/** `DELETE /v1/roles/{name}`. */
export interface DropResult extends Propagation {
  message: string;
}

/** A member as the membership reports it: UP while its heartbeat is fresh, DOWN after (docs/architecture.md, "Membership"). */
export type NodeStatus = 'UP' | 'DOWN';

/** One entry of `GET /v1/cluster/nodes`. */
export interface NodeInfo {
  id: string;
  address: string;
  status: NodeStatus;
  applied_seq: number;
  /** cluster_seq - applied_seq */
  lag: number;
  /**
   * The seq `lag` is measured against: the cluster's seq now for the answering node (whose values
   * are live) and for DOWN members; the cluster's seq at its last heartbeat for the other live ones.
   */
  cluster_seq: number;
  /** ISO 8601 time Redis stored its last heartbeat (Redis's clock) */
  last_seen: string;
  /** age of its last heartbeat by Redis's clock; applied_seq and cache of other members are this old */
  heartbeat_age_ms: number;
  cache: Record<CacheName, CacheStats>;
  /** it left cleanly: DOWN, but not a failure */
  left?: true;
  /** the answering node: applied_seq, lag and cache are its values at the moment of the answer */
  self?: true;
}

/** `DELETE /v1/cluster/nodes/{id}` 200 (`nodetool removenode`). */
export interface NodeRemoved {
  message: string;
}

/** A node's own state, as `/health` reports it (200 only for UP). */
export type HealthStatus = 'STARTING' | 'UP' | 'DEGRADED' | 'STOPPING';

/** `GET /health` and `GET /_plugins/_security/health`, 200 or 503. */
export interface Health {
  status: HealthStatus;
  node: string;
  cluster: string;
  redis: 'connected' | 'disconnected';
  applied_seq: number;
  /** ms since the node last confirmed it is in sync; null before the first confirmation */
  sync_age_ms: number | null;
  max_staleness_ms: number;
  settings: Record<CacheName, CacheSettings>;
}

/** One entry of `GET /v1/audit` (newest first): an admin call that changed something, or was refused. */
export interface AuditEntry {
  /** the stream entry id (Redis's clock); set when read back, for paging and de-duplication */
  id?: string;
  /** when the answering node sent the answer, ISO 8601 */
  ts: string;
  /** `token`, `role:NAME`, `cert:SUBJECT`, or `anonymous` when no credentials came */
  actor: string;
  /** the caller's address as the node saw it */
  address: string;
  action: string;
  target: string | null;
  seq: number | null;
  /** the HTTP status answered */
  status: number;
  nodes: NodeCounts | null;
  /** nodes that did not apply it, when some did not */
  failures?: Array<{ node: string; reason: string }>;
  /** the error answered, for a failed or refused call */
  error?: string;
}
