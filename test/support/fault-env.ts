/**
 * The fault suites' timings and the shape of their cluster (test/support/faults.ts builds it).
 */

import type { AuthcacheClient } from '@authcache/client';
import type { ClusterNames } from '@authcache/protocol';
import type { NodeHandle, RedisHandle, TcpProxy } from '@authcache/testkit';

/** Short timings so that a fault plays out in seconds (defaults: 1000 / 5000 / 2000). */
export const HEARTBEAT_MS = 200;
export const MAX_STALENESS_MS = 1500;
export const ACK_TIMEOUT_MS = 800;
/** A member is DOWN once its heartbeat is older than this (the node's rule: 3 heartbeats + 500 ms). */
export const DOWN_AFTER_MS = 3 * HEARTBEAT_MS + 500;
/**
 * Scheduling slack on top of max_staleness: timers firing late and the test's own event loop on two
 * busy cores. Anything accepted later than R + MAX_STALENESS_MS + MARGIN_MS breaks the promise.
 */
export const MARGIN_MS = 250;

export const FAULT_ENV: Record<string, string> = {
  AUTHCACHE_HEARTBEAT_MS: String(HEARTBEAT_MS),
  AUTHCACHE_MAX_STALENESS_MS: String(MAX_STALENESS_MS),
  AUTHCACHE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
  // These suites log in with revoked passwords hundreds of times on purpose.
  AUTHCACHE_LOGIN_MAX_FAILURES: '0',
  AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
};

/** Starting Redis and 3 node processes on 2 busy cores takes longer than jest's default timeout. */
export const SETUP_TIMEOUT_MS = 90_000;

export interface FaultCluster {
  redis: RedisHandle;
  nodes: NodeHandle[];
  /** proxies[i] sits between nodes[i] and Redis (undefined when the suite is not proxied) */
  proxies: Array<TcpProxy | undefined>;
  /** one client per node, pinned to it, so a call proves what THAT node does */
  clients: AuthcacheClient[];
  cluster: string;
  secret: string;
  token: string;
  names: ClusterNames;
}

export interface FaultClusterOptions {
  size?: number;
  /** put every node behind its own TCP proxy to Redis */
  proxied?: boolean;
  env?: Record<string, string>;
}
