/** Bodies of the node HTTP API (DESIGN §6, briefs/http-api.md), field names as on the wire. */

export type CacheName = 'credentials' | 'roles';

export const CACHE_NAMES: readonly CacheName[] = ['credentials', 'roles'];

export interface NodeCounts {
  total: number;
  successful: number;
  failed: number;
}

export interface PropagationFailure {
  /** node id of the member that did not acknowledge */
  node: string;
  /** "timeout" or the error text that member reported */
  reason: string;
}

/** Present in every cluster-wide admin answer. A partial result (failed > 0) is still HTTP 200. */
export interface Propagation {
  nodes: NodeCounts;
  failures: PropagationFailure[];
  /** cluster seq assigned to the update */
  seq: number;
  /** every member expected or heard from, and what it said */
  members: PropagationMember[];
}

export interface PropagationMember {
  node: string;
  result: 'applied' | 'failed' | 'timeout';
}

export interface LoginResult {
  username: string;
  roles: string[];
  superuser: boolean;
  cached: boolean;
  /** id of the node that answered */
  node: string;
}

export interface AuthInfo {
  user_name: string;
  roles: string[];
  backend_roles: string[];
}

export interface FlushOptions {
  /** default: every cache */
  caches?: CacheName[];
  /** act on the receiving node only (nodetool semantics) */
  local?: boolean;
}

export interface FlushResult extends Propagation {
  message: string;
}

export interface CacheSettings {
  ttl_ms: number;
  max_entries: number;
  refresh_ms: number;
  active_update: boolean;
  enabled: boolean;
}

export type CacheSettingValues = Pick<CacheSettings, 'ttl_ms' | 'max_entries' | 'refresh_ms' | 'active_update'>;

export interface SettingsOverlay {
  all?: Partial<CacheSettingValues>;
  credentials?: Partial<CacheSettingValues>;
  roles?: Partial<CacheSettingValues>;
}

export interface SettingsView {
  node: string;
  settings: Record<CacheName, CacheSettings>;
  transient: SettingsOverlay;
  persistent: SettingsOverlay;
}

export interface SettingsChange extends Partial<CacheSettingValues> {
  /** no cache: the change applies to every cache */
  cache?: CacheName;
  persistent?: boolean;
}

export interface SettingsResult extends Propagation {
  message: string;
  settings: Record<CacheName, CacheSettings>;
}

export type ClusterSettingsMap = Record<string, string | number>;

export interface ClusterSettings {
  persistent: Record<string, string>;
  transient: Record<string, string>;
}

export interface ClusterSettingsChange {
  transient?: ClusterSettingsMap;
  persistent?: ClusterSettingsMap;
}

export interface ClusterSettingsResult extends Propagation {
  acknowledged: boolean;
  persistent: ClusterSettingsMap;
  transient: ClusterSettingsMap;
}

export interface RoleChange {
  password?: string;
  login?: boolean;
  superuser?: boolean;
  /** replaces the set of granted roles */
  roles?: string[];
  grant?: string[];
  revoke?: string[];
}

export interface RoleInfo {
  name: string;
  login: boolean;
  superuser: boolean;
  /** direct grants only */
  roles: string[];
  has_password: boolean;
}

export interface RoleResult extends Propagation {
  role: RoleInfo;
  created: boolean;
}

export interface DropResult extends Propagation {
  message: string;
}

export interface CacheStats {
  size: number;
  hits: number;
  misses: number;
  evictions: number;
  loads: number;
  load_failures: number;
}

export type NodeStatus = 'UP' | 'DOWN';

export interface NodeInfo {
  id: string;
  address: string;
  status: NodeStatus;
  applied_seq: number;
  lag: number;
  cache: Record<CacheName, CacheStats>;
}

export type HealthStatus = 'UP' | 'STARTING' | 'DEGRADED';

export interface Health {
  status: HealthStatus;
  node: string;
  cluster: string;
  // The node package has not fixed the shape of these two yet; kept loose so the SDK does not lie.
  redis: unknown;
  applied_seq: number;
  settings: unknown;
}
