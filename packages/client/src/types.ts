/** Bodies of the node HTTP API (DESIGN §6), field names as on the wire; the shapes the node shares come from @authcache/protocol. */

export { CACHE_NAMES } from '@authcache/protocol';
export type {
  CacheName,
  CacheSettings,
  CacheStats,
  NodeCounts,
  Propagation,
  PropagationFailure,
  PropagationMember,
  RoleChange,
  RoleInfo,
} from '@authcache/protocol';
import type { CacheName, CacheSettings, CacheStats, Propagation, RoleInfo } from '@authcache/protocol';

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

export interface RoleResult extends Propagation {
  role: RoleInfo;
  created: boolean;
}

export interface DropResult extends Propagation {
  message: string;
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
