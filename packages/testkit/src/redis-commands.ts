import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/** CAs the testkit's own connections trust for rediss:// (the servers it started with TLS). */
const trusted: Buffer[] = [];

/** Trust this CA (a PEM path) for the testkit's rediss:// connections. */
export function trustRedisCa(caPath: string): void {
  trusted.push(readFileSync(caPath));
}

/** Run a few commands on a short-lived connection that fails fast instead of retrying: the callers
 *  probe, save or shut down servers that may be starting, dead or about to die. */
export async function withConnection<T>(url: string, fn: (redis: Redis) => Promise<T>, timeoutMs = 2000): Promise<T> {
  const redis = new Redis(url, {
    ...(url.startsWith('rediss://') && trusted.length > 0 ? { tls: { ca: trusted } } : {}),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    disconnectTimeout: 200,
  });
  redis.on('error', () => {
    // reported through the rejected command instead
  });
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    disconnectUnlessEnded(redis);
  }
}

/**
 * disconnect(), unless the connection has ended already (refused, closed by SHUTDOWN, disconnected
 * before): then ioredis 5's disconnect() would only arm a 2 s timer waiting for a 'close' that
 * already happened, and keep the process (a jest worker) alive for it.
 */
export function disconnectUnlessEnded(redis: Redis): void {
  if (redis.status !== 'end') redis.disconnect();
}

export async function ping(url: string, timeoutMs = 1000): Promise<boolean> {
  return withConnection(url, async (redis) => (await redis.ping()) === 'PONG', timeoutMs);
}

/** SAVE, ignoring failure: used right before a stop or kill, when the server may already be unwell. */
export async function trySave(url: string): Promise<void> {
  await withConnection(url, (redis) => redis.call('SAVE'), 5000).catch(() => undefined);
}

/** SHUTDOWN NOSAVE; the connection dropping is the expected answer. */
export async function tryShutdown(url: string): Promise<void> {
  await withConnection(url, (redis) => redis.call('SHUTDOWN', 'NOSAVE'), 2000).catch(() => undefined);
}
