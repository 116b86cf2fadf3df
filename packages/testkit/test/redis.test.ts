import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { startRedis, type RedisHandle } from '@authcache/testkit';

/** One command on a fresh connection that fails instead of retrying. */
async function once<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    if (r.status !== 'end') r.disconnect();
  }
}

describe('startRedis (redis-server binary)', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis({ preferOwn: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('starts its own server from PATH and answers PING', async () => {
    expect(redis.source).toBe('binary');
    expect(redis.host).toBe('127.0.0.1');
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    await expect(once(redis.url, (r) => r.ping())).resolves.toBe('PONG');
  });

  it('gives each call its own server', async () => {
    const other = await startRedis({ preferOwn: true });
    try {
      expect(other.port).not.toBe(redis.port);
      await once(other.url, (r) => r.set('only-here', '1'));
      await expect(once(redis.url, (r) => r.exists('only-here'))).resolves.toBe(0);
    } finally {
      await other.stop();
    }
    await expect(once(other.url, (r) => r.ping())).rejects.toThrow();
  });

  it('restart({ keepData: true }) keeps data on the same port', async () => {
    await once(redis.url, (r) => r.set('kept', 'yes'));
    const port = redis.port;
    await redis.restart({ keepData: true });
    expect(redis.port).toBe(port);
    await expect(once(redis.url, (r) => r.get('kept'))).resolves.toBe('yes');
  });

  it('restart({ keepData: false }) comes back empty', async () => {
    await once(redis.url, (r) => r.set('lost', 'yes'));
    await redis.restart({ keepData: false });
    await expect(once(redis.url, (r) => r.dbsize())).resolves.toBe(0);
  });

  it('kill() drops the server hard; restart brings back what was written before', async () => {
    await once(redis.url, (r) => r.set('before-crash', '1'));
    await redis.kill();
    await expect(once(redis.url, (r) => r.ping())).rejects.toThrow();
    await redis.restart({ keepData: true });
    await expect(once(redis.url, (r) => r.get('before-crash'))).resolves.toBe('1');
  });

  it('kill() then restart() without keepData is empty', async () => {
    await once(redis.url, (r) => r.set('gone', '1'));
    await redis.kill();
    await redis.restart();
    await expect(once(redis.url, (r) => r.exists('gone'))).resolves.toBe(0);
  });

  it('stop() is graceful and final until restart', async () => {
    await redis.stop();
    await expect(once(redis.url, (r) => r.ping())).rejects.toThrow();
    await redis.stop(); // idempotent
    await redis.restart();
    await expect(once(redis.url, (r) => r.ping())).resolves.toBe('PONG');
  });
});

describe('startRedis (REDIS_URL)', () => {
  let own: RedisHandle;
  const saved = process.env.REDIS_URL;
  beforeAll(async () => {
    own = await startRedis({ preferOwn: true });
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
    await own?.stop();
  });

  it('uses REDIS_URL when set, and refuses to kill or restart it', async () => {
    process.env.REDIS_URL = own.url;
    const env = await startRedis();
    expect(env).toMatchObject({ source: 'env', url: own.url, host: '127.0.0.1', port: own.port });
    await expect(env.restart()).rejects.toThrow(/REDIS_URL.*preferOwn/);
    await expect(env.kill()).rejects.toThrow(/REDIS_URL.*preferOwn/);
    await env.stop(); // a no-op: the server keeps answering
    await expect(once(own.url, (r) => r.ping())).resolves.toBe('PONG');
  });

  it('preferOwn ignores REDIS_URL', async () => {
    process.env.REDIS_URL = own.url;
    const mine = await startRedis({ preferOwn: true });
    try {
      expect(mine.source).toBe('binary');
      expect(mine.port).not.toBe(own.port);
    } finally {
      await mine.stop();
    }
  });

  it('fails clearly when REDIS_URL does not answer', async () => {
    process.env.REDIS_URL = 'redis://127.0.0.1:1';
    await expect(startRedis()).rejects.toThrow(/REDIS_URL=redis:\/\/127\.0\.0\.1:1 does not answer PING/);
  });
});

describe('startRedis with nothing available', () => {
  const saved = { PATH: process.env.PATH, REDIS_URL: process.env.REDIS_URL, DOCKER_HOST: process.env.DOCKER_HOST };
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  // Only meaningful where no Docker engine answers on its default socket (true in CI).
  const withoutDocker = existsSync('/var/run/docker.sock') ? it.skip : it;
  withoutDocker('throws the one error naming the three options', async () => {
    delete process.env.REDIS_URL;
    process.env.PATH = '/nonexistent';
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    await expect(startRedis()).rejects.toThrow(
      'No Redis available: set REDIS_URL, install redis-server (e.g. apt-get install redis-server), or start a Docker engine.',
    );
  }, 60_000);
});
