import Redis, { type RedisOptions } from 'ioredis';

/**
 * The two connections a node holds: one for commands (fail fast while disconnected, so a login
 * gets a clear 503 instead of waiting in a queue) and one in subscriber mode for the bus.
 */
export function connectRedis(url: string, tls?: { ca?: string; cert?: string; key?: string }): { cmd: Redis; sub: Redis } {
  const common: RedisOptions = {
    ...(tls ? { tls } : {}),
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 1000),
    reconnectOnError: () => true,
  };
  const cmd = new Redis(url, { ...common, enableOfflineQueue: false, commandTimeout: 1000, maxRetriesPerRequest: 0, connectionName: 'authcache-cmd' });
  const sub = new Redis(url, { ...common, maxRetriesPerRequest: null, connectionName: 'authcache-sub' });
  return { cmd, sub };
}
