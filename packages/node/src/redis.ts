import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTopology } from './config';

export type RedisTls = { ca?: string; cert?: string; key?: string };

/** The connections a node holds, and what the transport must know of the topology they reach. */
export interface RedisConnections {
  /**
   * Commands: fail fast while disconnected (no offline queue), so that a login gets a clear 503
   * instead of waiting in a queue. On a Redis Cluster this is an ioredis `Cluster`, typed as a
   * `Redis`: it speaks the same commands, and every multi-key call of the node stays in one slot
   * (the hash tag of names.ts).
   */
  cmd: Redis;
  /** Subscriber mode; on a Redis Cluster, sharded subscribers (SSUBSCRIBE on the slot's shard). */
  sub: Redis;
  mode: RedisTopology['mode'];
  /** Sharded pub/sub: SPUBLISH / SSUBSCRIBE (Redis Cluster) instead of PUBLISH / SUBSCRIBE. */
  sharded: boolean;
  /**
   * Whether the server behind the connection can change while the node runs (a Sentinel failover,
   * a shard's failover): the transport then ties the epoch to the master's run_id, so that a node
   * whose applied seq the new master never saw flushes (docs/architecture.md, "Redis topologies").
   */
  failover: boolean;
}

const SINGLE: RedisTopology = { mode: 'single', minReplicas: 0, replicaWaitMs: 100 };
const COMMAND_TIMEOUT_MS = 1000;

/**
 * Opens (lazily: call connect()) the two connections of a node for the configured topology
 * (docs/architecture.md, "Redis topologies"): one Redis from `url`; a master found through Sentinel; or a Redis Cluster. In
 * Sentinel and Cluster mode `url` still gives credentials (and `rediss://` TLS), not the address.
 */
export function connectRedis(url: string, tls?: RedisTls, topology: RedisTopology = SINGLE): RedisConnections {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'rediss:';
  const auth: RedisOptions = {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(secure ? { tls: tls ?? {} } : {}),
  };
  // WAIT runs on the command connection after each publish: its timeout must fit in the command's.
  const commandTimeout = COMMAND_TIMEOUT_MS + (topology.minReplicas > 0 ? topology.replicaWaitMs : 0);
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 1000),
  };
  const cmdOpts: RedisOptions = { enableOfflineQueue: false, commandTimeout, maxRetriesPerRequest: 0, connectionName: 'authcache-cmd' };
  const subOpts: RedisOptions = { maxRetriesPerRequest: null, connectionName: 'authcache-sub' };

  if (topology.mode === 'cluster') {
    const cluster = (extra: RedisOptions, opts: ClusterOptions): Redis =>
      new Cluster(topology.nodes, {
        lazyConnect: true,
        // A shard's failover: MOVED / CLUSTERDOWN are retried by ioredis after a slots refresh.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        slotsRefreshTimeout: 1000,
        clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
        redisOptions: { ...auth, connectTimeout: 2000, ...extra },
        ...opts,
      }) as unknown as Redis;
    return {
      cmd: cluster({ commandTimeout, maxRetriesPerRequest: 0, connectionName: 'authcache-cmd' }, { enableOfflineQueue: false }),
      // Resharding moves the slot without a MOVED on the subscriber (Redis only sends it a
      // SUNSUBSCRIBE): a periodic slots refresh re-subscribes on the new owner within a second.
      sub: cluster({ connectionName: 'authcache-sub' }, { shardedSubscribers: true, slotsRefreshInterval: 1000 }),
      mode: 'cluster',
      sharded: true,
      failover: true,
    };
  }

  // A READONLY answer means the server we reach was demoted (a failover): reconnect, which asks
  // Sentinel for the master again. Other errors keep the connection (ioredis default behaviour
  // before Sentinel support reconnected on any error reply; that is kept for a single Redis).
  const reconnectOnError = topology.mode === 'sentinel' ? (err: Error) => /^READONLY|^MASTERDOWN|^LOADING/.test(err.message) : () => true;
  const where: RedisOptions =
    topology.mode === 'sentinel'
      ? {
          sentinels: topology.sentinels,
          name: topology.name,
          role: 'master',
          ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
          ...(secure ? { enableTLSForSentinelMode: true, sentinelTLS: tls ?? {} } : {}),
          // Subscribes to +switch-master on the sentinels: a failover moves the node within a second.
          failoverDetector: true,
          sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
          db: Number(parsed.pathname.slice(1) || 0),
        }
      : {};
  const open = (extra: RedisOptions): Redis =>
    topology.mode === 'sentinel' ? new Redis({ ...common, ...auth, ...where, reconnectOnError, ...extra }) : new Redis(url, { ...(tls ? { tls } : {}), ...common, reconnectOnError, ...extra });
  return { cmd: open(cmdOpts), sub: open(subOpts), mode: topology.mode, sharded: false, failover: topology.mode === 'sentinel' };
}

/**
 * Reconnects a connection that ioredis ended by itself. A Sentinel client whose reconnect races
 * its own failover detector (+switch-master arriving while the connector still asks a sentinel
 * for the master) has that connect rejected with "Connection is closed.", and ioredis then ends
 * the client for good: a node that never reached the promoted master (seen over TLS, where the
 * sentinel round trip is longest; docs/architecture.md, "Redis topologies"). Armed once the
 * connection has been ready, so a start-up failure is still reported as one; `stopping()` tells
 * the node's own close from one of ioredis'. A connect that fails ends the client again, which
 * brings it back here: retried every `delayMs` until it holds.
 */
export function reconnectWhenEnded(conn: Redis, stopping: () => boolean, onEnded: () => void, delayMs = 200): void {
  let armed = false;
  conn.on('ready', () => (armed = true));
  conn.on('end', () => {
    if (!armed || stopping()) return;
    onEnded();
    setTimeout(() => {
      if (!stopping() && conn.status === 'end') conn.connect().catch(() => undefined);
    }, delayMs).unref();
  });
}

/** Reconnects of the subscriber per move of the command connection (subscriberFollows). */
const MAX_FOLLOWS = 3;

interface Addressed {
  status: string;
  stream?: { remoteAddress?: string; remotePort?: number } | null;
}

/**
 * Sentinel mode: the subscriber follows the command connection to the master. A master demoted
 * without +switch-master (a failover the detector missed, a REPLICAOF by hand) keeps its clients;
 * the command connection leaves on the first READONLY answer, but the subscriber never writes and
 * so never hears one: it would stay on the demoted server, where updates arrive only once that
 * server replicates from the new master, and not at all while it does not (docs/architecture.md,
 * "Redis topologies"). So whenever either connection becomes ready and the two are on different
 * servers, the subscriber reconnects: through Sentinel, to the master; the replicator's reconnect
 * catch-up covers what it missed meanwhile. At most MAX_FOLLOWS times per move of the commands:
 * one server reached under two addresses (a hostname announced, IPv4 for one connection and IPv6
 * for the other) must not keep the subscriber reconnecting.
 */
export function subscriberFollows(cmd: Redis, sub: Redis, onMove: (from: string, to: string) => void): void {
  const where = (c: Addressed) => (c.stream?.remotePort ? `${c.stream.remoteAddress}:${c.stream.remotePort}` : undefined);
  let follows = 0;
  const check = () => {
    const to = where(cmd as unknown as Addressed);
    const from = where(sub as unknown as Addressed);
    if (to === undefined || from === undefined || cmd.status !== 'ready' || sub.status !== 'ready') return;
    if (to === from) {
      follows = 0;
      return;
    }
    if (follows >= MAX_FOLLOWS) return;
    follows++;
    onMove(from, to);
    sub.disconnect(true);
  };
  cmd.on('ready', () => {
    follows = 0;
    check();
  });
  sub.on('ready', check);
}
