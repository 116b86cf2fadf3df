/**
 * Redis key and channel names of one cluster. Every name starts with the cluster name so that
 * several clusters (or test suites) can share one Redis without seeing each other's traffic.
 * On a Redis Cluster the prefix is a hash tag, `{cluster}:`, so that every key and sharded channel
 * of one authcache cluster lives in one slot and each Lua script runs on one shard
 * (docs/architecture.md, "Redis topologies").
 */
export interface ClusterNames {
  cluster: string;
  /** What every key and channel starts with: `cluster:`, or `{cluster}:` when hash-tagged. */
  prefix: string;
  /** True when the prefix is a Redis Cluster hash tag. */
  hashTagged: boolean;
  /** Marker derived from the cluster secret (never the secret): a node with another secret refuses to join. */
  secretMarker: string;
  /** INCR counter of the ConfigUpdate seq. */
  seq: string;
  /** Random id of the current Redis state: a new one means Redis lost its data and seq restarted. */
  epoch: string;
  /** run_id of the master the epoch belongs to (Sentinel, Cluster): another master starts a new epoch. */
  epochMaster: string;
  /** Redis Stream of published frames: entry id `${seq}-0`, field 'm' = frame. */
  log: string;
  /** Pub/sub channel of ConfigUpdate frames. */
  updates: string;
  /** Prefix of the ack channels. */
  acks: string;
  /** Pub/sub channel where `node` hears the acks of the updates it published (one per origin, so acks cost O(nodes)). */
  acksFor(node: string): string;
  /** Hash nodeId -> JSON heartbeat. */
  members: string;
  /** Set of role names. */
  rolesIndex: string;
  /** Hash of one role. */
  role(name: string): string;
  settingsTransient: string;
  settingsPersistent: string;
  /** Redis Stream of the audit trail (bounded by length and age). */
  audit: string;
  /** Hash of one role's grants, one field per (resource, permission) (node/src/permissions/redis-layout.ts). */
  rolePermissions(name: string): string;
  /** Set of the roles that hold any permission grant. */
  permissionsIndex: string;
  /** Lease of the node that relays a backend's external changes (one per backend kind). */
  lease(purpose: string): string;
}

const CLUSTER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** 1..64 characters of [A-Za-z0-9_.-]: no ':' (the separator) nor '{}' (Redis Cluster hash tags). */
export function isValidClusterName(s: string): boolean {
  return typeof s === 'string' && CLUSTER_NAME.test(s);
}

export interface ClusterNamesOptions {
  /**
   * `{cluster}:` instead of `cluster:` (Redis Cluster only). Off elsewhere, so that the keys of an
   * existing single-Redis or Sentinel deployment keep their names.
   */
  hashTag?: boolean;
}

/** Throws a RangeError for an invalid cluster name, because a bad prefix would mix clusters' keys. */
export function clusterNames(name: string, opts: ClusterNamesOptions = {}): ClusterNames {
  if (!isValidClusterName(name)) {
    throw new RangeError(`invalid cluster name ${JSON.stringify(name)}: expected 1..64 characters of [A-Za-z0-9_.-]`);
  }
  const hashTagged = opts.hashTag === true;
  // The names below are written `${cluster}:...`: `cluster` is the prefix without its ':'.
  const cluster = hashTagged ? `{${name}}` : name;
  return Object.freeze({
    cluster: name,
    prefix: `${cluster}:`,
    hashTagged,
    secretMarker: `${cluster}:secret-marker`,
    seq: `${cluster}:seq`,
    epoch: `${cluster}:epoch`,
    epochMaster: `${cluster}:epoch:master`,
    log: `${cluster}:log`,
    updates: `${cluster}:updates`,
    acks: `${cluster}:acks`,
    acksFor: (node: string) => `${cluster}:acks:${node}`,
    members: `${cluster}:members`,
    rolesIndex: `${cluster}:roles`,
    role: (name: string) => `${cluster}:role:${name}`,
    settingsTransient: `${cluster}:settings:transient`,
    settingsPersistent: `${cluster}:settings:persistent`,
    audit: `${cluster}:audit`,
    rolePermissions: (name: string) => `${cluster}:perms:${name}`,
    permissionsIndex: `${cluster}:perms`,
    lease: (purpose: string) => `${cluster}:lease:${purpose}`,
  });
}
