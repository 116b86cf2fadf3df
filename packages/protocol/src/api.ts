/**
 * Bodies of the HTTP API (DESIGN §6) that the node answers and the SDK reads: one definition of
 * the wire shapes, field names as on the wire.
 */

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
  /** "timeout" or the error text that member reported */
  reason: string;
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
