import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';

const BASE = { AUTHCACHE_CLUSTER_SECRET: 'a-long-enough-cluster-secret' };

/** The ConfigError loadConfig throws for `env`, or fails the test if it does not throw one. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'authcache-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  it('defaults', () => {
    expect(loadConfig(BASE)).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      cluster: 'authcache',
      nodeId: `${hostname()}:7070`,
      host: '127.0.0.1',
      port: 7070,
      adminToken: undefined,
      clusterSecret: BASE.AUTHCACHE_CLUSTER_SECRET,
      cache: { ttlMs: 3_600_000, maxEntries: 100_000, refreshMs: 0, activeUpdate: false },
      warming: true,
      maxStalenessMs: 5000,
      logLevel: 'info',
      bcryptCost: 10,
      bcryptConcurrency: undefined,
      heartbeatMs: 1000,
      memberForgetMs: 600_000,
      insecureDemo: false,
      audit: { maxLen: 10_000, maxAgeMs: 2_592_000_000 },
      eventsMaxClients: 32,
      ackTimeoutMs: 2000,
      backend: { kind: 'redis' },
      logMaxLen: 10_000,
      shutdownGraceMs: 10_000,
      metricsEventLoopMs: 10,
      throttle: { maxFailuresPerUser: 5, maxFailuresPerAddress: 50, windowMs: 60_000 },
      tls: undefined,
      redis: { mode: 'single', minReplicas: 0, replicaWaitMs: 100 },
    });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      ...BASE,
      REDIS_URL: 'rediss://user:pw@redis.example:6380/2',
      AUTHCACHE_CLUSTER: 'prod-eu.1',
      AUTHCACHE_NODE_ID: 'n1',
      AUTHCACHE_HOST: '0.0.0.0',
      AUTHCACHE_PORT: '0',
      AUTHCACHE_ADMIN_TOKEN: 'tok',
      AUTHCACHE_INSECURE_DEMO: 'yes',
      AUTHCACHE_CACHE_TTL_MS: '0',
      AUTHCACHE_CACHE_MAX_ENTRIES: '1',
      AUTHCACHE_CACHE_REFRESH_MS: '500',
      AUTHCACHE_CACHE_ACTIVE_UPDATE: 'YES',
      AUTHCACHE_CACHE_WARMING: 'off',
      AUTHCACHE_MAX_STALENESS_MS: '100',
      LOG_LEVEL: 'silent',
      AUTHCACHE_BCRYPT_COST: '31',
      AUTHCACHE_HEARTBEAT_MS: '60000',
      AUTHCACHE_MEMBER_FORGET_MS: '180501',
      AUTHCACHE_ACK_TIMEOUT_MS: '10',
      AUTHCACHE_LOG_MAX_LEN: '10000000',
      AUTHCACHE_SHUTDOWN_GRACE_MS: '0',
      AUTHCACHE_METRICS_EVENTLOOP_MS: '250',
      AUTHCACHE_LOGIN_MAX_FAILURES: '0',
      AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS: '7',
      AUTHCACHE_LOGIN_THROTTLE_WINDOW_MS: '1500',
    });
    expect(c).toEqual({
      redisUrl: 'rediss://user:pw@redis.example:6380/2',
      cluster: 'prod-eu.1',
      nodeId: 'n1',
      host: '0.0.0.0',
      port: 0,
      adminToken: 'tok',
      clusterSecret: BASE.AUTHCACHE_CLUSTER_SECRET,
      cache: { ttlMs: 0, maxEntries: 1, refreshMs: 500, activeUpdate: true },
      warming: false,
      maxStalenessMs: 100,
      logLevel: 'silent',
      bcryptCost: 31,
      bcryptConcurrency: undefined,
      heartbeatMs: 60_000,
      memberForgetMs: 180_501,
      insecureDemo: true,
      audit: { maxLen: 10_000, maxAgeMs: 2_592_000_000 },
      eventsMaxClients: 32,
      ackTimeoutMs: 10,
      backend: { kind: 'redis' },
      logMaxLen: 10_000_000,
      shutdownGraceMs: 0,
      metricsEventLoopMs: 250,
      throttle: { maxFailuresPerUser: 0, maxFailuresPerAddress: 7, windowMs: 1500 },
      tls: undefined,
      redis: { mode: 'single', minReplicas: 0, replicaWaitMs: 100 },
    });
  });

  it('the default node id follows the port', () => {
    expect(loadConfig({ ...BASE, AUTHCACHE_PORT: '7071' }).nodeId).toBe(`${hostname()}:7071`);
  });

  it('an empty variable counts as unset', () => {
    expect(loadConfig({ ...BASE, AUTHCACHE_PORT: '', LOG_LEVEL: '', AUTHCACHE_ADMIN_TOKEN: '' })).toMatchObject({ port: 7070, logLevel: 'info', adminToken: undefined });
  });

  it.each(['true', 'TRUE', '1', 'yes', 'on', ' on '])('boolean %j is true', (v) => {
    expect(loadConfig({ ...BASE, AUTHCACHE_CACHE_ACTIVE_UPDATE: v }).cache.activeUpdate).toBe(true);
  });
  it.each(['false', '0', 'No', 'off'])('boolean %j is false', (v) => {
    expect(loadConfig({ ...BASE, AUTHCACHE_CACHE_WARMING: v }).warming).toBe(false);
  });

  it('refuses the documented placeholder secrets unless AUTHCACHE_INSECURE_DEMO=true, from a variable or a file', () => {
    expect(configError({ AUTHCACHE_CLUSTER_SECRET: 'change-me' })).toMatchObject({ variable: 'AUTHCACHE_CLUSTER_SECRET', message: expect.stringMatching(/placeholder.*AUTHCACHE_INSECURE_DEMO/) });
    expect(configError({ AUTHCACHE_CLUSTER_SECRET: 'a-real-secret', AUTHCACHE_ADMIN_TOKEN_FILE: file('token', 'change-me\n') }).variable).toBe('AUTHCACHE_ADMIN_TOKEN');
    const demo = loadConfig({ AUTHCACHE_CLUSTER_SECRET: 'change-me', AUTHCACHE_ADMIN_TOKEN: 'change-me', AUTHCACHE_INSECURE_DEMO: 'true' });
    expect([demo.clusterSecret, demo.adminToken, demo.insecureDemo]).toEqual(['change-me', 'change-me', true]);
    expect(loadConfig({ AUTHCACHE_CLUSTER_SECRET: 'x' }).insecureDemo).toBe(false);
  });

  it('reads the audit and events bounds, and names a bad one like every other variable', () => {
    expect(loadConfig({ ...BASE, AUTHCACHE_AUDIT_MAX_LEN: '40', AUTHCACHE_AUDIT_MAX_AGE_MS: '60000', AUTHCACHE_EVENTS_MAX_CLIENTS: '3' })).toMatchObject({
      audit: { maxLen: 40, maxAgeMs: 60_000 },
      eventsMaxClients: 3,
    });
    expect(configError({ ...BASE, AUTHCACHE_AUDIT_MAX_LEN: 'lots' })).toMatchObject({ variable: 'AUTHCACHE_AUDIT_MAX_LEN', message: 'AUTHCACHE_AUDIT_MAX_LEN: must be a whole number, got "lots"' });
    expect(configError({ ...BASE, AUTHCACHE_EVENTS_MAX_CLIENTS: '0' }).variable).toBe('AUTHCACHE_EVENTS_MAX_CLIENTS');
  });

  it('a REDIS_URL refused for its scheme is named without its password', () => {
    const e = configError({ AUTHCACHE_CLUSTER_SECRET: 'x'.repeat(32), REDIS_URL: 'valkey://:hunter2@cache:6379' });
    expect(e.variable).toBe('REDIS_URL');
    expect(e.message).not.toContain('hunter2');
    expect(e.message).toContain('valkey://:***@cache:6379');
  });

  it('requires the cluster secret', () => {
    expect(configError({}).variable).toBe('AUTHCACHE_CLUSTER_SECRET');
    expect(configError({ AUTHCACHE_CLUSTER_SECRET: '' }).variable).toBe('AUTHCACHE_CLUSTER_SECRET');
  });

  it.each<[string, string]>([
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', '127.0.0.1:6379'],
    ['REDIS_URL', 'redis://[::1'],
    ['AUTHCACHE_CLUSTER', 'has space'],
    ['AUTHCACHE_CLUSTER', 'a:b'],
    ['AUTHCACHE_CLUSTER', 'x'.repeat(65)],
    ['AUTHCACHE_PORT', 'http'],
    ['AUTHCACHE_PORT', '-1'],
    ['AUTHCACHE_PORT', '65536'],
    ['AUTHCACHE_PORT', '80.5'],
    ['AUTHCACHE_NODE_ID', 'n'.repeat(201)],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_LEVEL', 'INFO'],
    ['AUTHCACHE_CACHE_TTL_MS', '1e3'],
    ['AUTHCACHE_CACHE_TTL_MS', String(365 * 24 * 3600 * 1000 + 1)],
    ['AUTHCACHE_CACHE_MAX_ENTRIES', '0'],
    ['AUTHCACHE_CACHE_MAX_ENTRIES', '100000001'],
    ['AUTHCACHE_CACHE_REFRESH_MS', 'soon'],
    ['AUTHCACHE_CACHE_ACTIVE_UPDATE', 'maybe'],
    ['AUTHCACHE_CACHE_WARMING', 'enabled'],
    ['AUTHCACHE_MAX_STALENESS_MS', '99'],
    ['AUTHCACHE_BCRYPT_COST', '3'],
    ['AUTHCACHE_BCRYPT_COST', '32'],
    ['AUTHCACHE_HEARTBEAT_MS', '49'],
    ['AUTHCACHE_HEARTBEAT_MS', '60001'],
    ['AUTHCACHE_MEMBER_FORGET_MS', '999'],
    ['AUTHCACHE_MEMBER_FORGET_MS', 'never'],
    ['AUTHCACHE_MEMBER_FORGET_MS', String(365 * 24 * 3600 * 1000 + 1)],
    ['AUTHCACHE_ACK_TIMEOUT_MS', '9'],
    ['AUTHCACHE_LOG_MAX_LEN', '9'],
    ['AUTHCACHE_SHUTDOWN_GRACE_MS', '600001'],
    ['AUTHCACHE_METRICS_EVENTLOOP_MS', '0'],
  ])('names %s in the error for %j', (variable, value) => {
    const e = configError({ ...BASE, [variable]: value });
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}: `)).toBe(true);
  });

  it('a member is forgotten only after it can have been DOWN: the forget time exceeds 3 heartbeats + 500 ms', () => {
    expect(loadConfig({ ...BASE, AUTHCACHE_HEARTBEAT_MS: '200', AUTHCACHE_MEMBER_FORGET_MS: '1101' }).memberForgetMs).toBe(1101);
    const e = configError({ ...BASE, AUTHCACHE_HEARTBEAT_MS: '1000', AUTHCACHE_MEMBER_FORGET_MS: '3500' });
    expect(e.message).toBe('AUTHCACHE_MEMBER_FORGET_MS: must be longer than 3 x AUTHCACHE_HEARTBEAT_MS + 500 (3500), got 3500');
  });

  it('the error shows the bad value for a number, so the one line says what to fix', () => {
    expect(configError({ ...BASE, AUTHCACHE_PORT: 'http' }).message).toBe('AUTHCACHE_PORT: must be an integer, got "http"');
    expect(configError({ ...BASE, AUTHCACHE_BCRYPT_COST: '3' }).message).toBe('AUTHCACHE_BCRYPT_COST: must be between 4 and 31, got 3');
  });

  describe('*_FILE variants', () => {
    it('AUTHCACHE_CLUSTER_SECRET_FILE is read, trimmed of its trailing newline', () => {
      const p = file('secret', 'from-a-file-secret\n');
      expect(loadConfig({ AUTHCACHE_CLUSTER_SECRET_FILE: p }).clusterSecret).toBe('from-a-file-secret');
    });

    it('AUTHCACHE_ADMIN_TOKEN_FILE is read, trimmed', () => {
      const p = file('token', '  admin-token-from-file \r\n');
      expect(loadConfig({ ...BASE, AUTHCACHE_ADMIN_TOKEN_FILE: p }).adminToken).toBe('admin-token-from-file');
    });

    it('the file wins over the plain variable', () => {
      const p = file('secret2', 'file-wins');
      expect(loadConfig({ AUTHCACHE_CLUSTER_SECRET: 'plain', AUTHCACHE_CLUSTER_SECRET_FILE: p }).clusterSecret).toBe('file-wins');
    });

    it('an empty *_FILE is ignored', () => {
      expect(loadConfig({ ...BASE, AUTHCACHE_CLUSTER_SECRET_FILE: '' }).clusterSecret).toBe(BASE.AUTHCACHE_CLUSTER_SECRET);
    });

    it.each(['AUTHCACHE_CLUSTER_SECRET', 'AUTHCACHE_ADMIN_TOKEN'])('an unreadable %s_FILE is named, with the reason', (name) => {
      const missing = join(dir, 'does-not-exist');
      const e = configError({ ...BASE, [`${name}_FILE`]: missing });
      expect(e.variable).toBe(`${name}_FILE`);
      expect(e.message).toContain(missing);
      expect(e.message).toContain('ENOENT');
    });

    it('a directory in place of the file is named too', () => {
      expect(configError({ ...BASE, AUTHCACHE_ADMIN_TOKEN_FILE: dir }).variable).toBe('AUTHCACHE_ADMIN_TOKEN_FILE');
    });

    it('an empty AUTHCACHE_CLUSTER_SECRET_FILE is refused, naming the variable', () => {
      const p = file('empty-secret', '\n');
      expect(configError({ AUTHCACHE_CLUSTER_SECRET_FILE: p }).variable).toMatch(/^AUTHCACHE_CLUSTER_SECRET(_FILE)?$/);
    });
  });

  describe('Redis topologies (docs/architecture.md, "Redis topologies")', () => {
    it('Sentinel: the sentinels, the master name (mymaster by default) and a password from a file', () => {
      const p = file('sentinel-pw', 'sentinel-secret\n');
      expect(loadConfig({ ...BASE, AUTHCACHE_REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b:26380,[::1]:26381', AUTHCACHE_REDIS_SENTINEL_PASSWORD_FILE: p }).redis).toEqual({
        mode: 'sentinel',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: 'sentinel-b', port: 26380 },
          { host: '::1', port: 26381 },
        ],
        name: 'mymaster',
        sentinelPassword: 'sentinel-secret',
        minReplicas: 0,
        replicaWaitMs: 100,
      });
      expect(loadConfig({ ...BASE, AUTHCACHE_REDIS_SENTINELS: 'h:1', AUTHCACHE_REDIS_SENTINEL_NAME: 'auth' }).redis).toMatchObject({ name: 'auth', sentinelPassword: undefined });
    });

    it('Redis Cluster, and the replica wait', () => {
      expect(loadConfig({ ...BASE, AUTHCACHE_REDIS_CLUSTER: 'a:7000,b:7001', AUTHCACHE_REDIS_MIN_REPLICAS: '1', AUTHCACHE_REDIS_REPLICA_WAIT_MS: '250' }).redis).toEqual({
        mode: 'cluster',
        nodes: [
          { host: 'a', port: 7000 },
          { host: 'b', port: 7001 },
        ],
        minReplicas: 1,
        replicaWaitMs: 250,
      });
    });

    it.each([
      [{ AUTHCACHE_REDIS_SENTINELS: 'no-port' }, 'AUTHCACHE_REDIS_SENTINELS'],
      [{ AUTHCACHE_REDIS_SENTINELS: 'h:0' }, 'AUTHCACHE_REDIS_SENTINELS'],
      [{ AUTHCACHE_REDIS_SENTINELS: ' , ' }, 'AUTHCACHE_REDIS_SENTINELS'],
      [{ AUTHCACHE_REDIS_CLUSTER: 'h:70000' }, 'AUTHCACHE_REDIS_CLUSTER'],
      [{ AUTHCACHE_REDIS_CLUSTER: 'a:1', AUTHCACHE_REDIS_SENTINELS: 'b:2' }, 'AUTHCACHE_REDIS_CLUSTER'],
      [{ AUTHCACHE_REDIS_SENTINEL_NAME: 'm' }, 'AUTHCACHE_REDIS_SENTINEL_NAME'],
      [{ AUTHCACHE_REDIS_SENTINEL_PASSWORD: 'p' }, 'AUTHCACHE_REDIS_SENTINEL_PASSWORD'],
      [{ AUTHCACHE_REDIS_MIN_REPLICAS: '-1' }, 'AUTHCACHE_REDIS_MIN_REPLICAS'],
      [{ AUTHCACHE_REDIS_REPLICA_WAIT_MS: '0' }, 'AUTHCACHE_REDIS_REPLICA_WAIT_MS'],
    ])('refuses %j, naming %s', (env, variable) => {
      expect(configError({ ...BASE, ...env }).variable).toBe(variable);
    });
  });
});
