import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { isValidClusterName, redactUrl } from '@authcache/protocol';
import { loadBackendConfig, type BackendConfig } from './roles/backend-config';
import { AuditConfigError, auditSettingsFromEnv, envInt, type AuditSettings } from './audit/audit-query';

/** Process configuration, read once from the environment at start (docs/architecture.md, Configuration). */
export interface Config {
  redisUrl: string;
  cluster: string;
  nodeId: string;
  host: string;
  port: number;
  adminToken: string | undefined;
  clusterSecret: string;
  /** AUTHCACHE_INSECURE_DEMO: the documented placeholder secrets are accepted (a local demo only). */
  insecureDemo: boolean;
  cache: { ttlMs: number; maxEntries: number; refreshMs: number; activeUpdate: boolean };
  warming: boolean;
  maxStalenessMs: number;
  logLevel: string;
  bcryptCost: number;
  /** bcrypt checks running at once; undefined: one core less than the machine has. */
  bcryptConcurrency: number | undefined;
  heartbeatMs: number;
  /** A DOWN member (silent, not left) is reported as a failure until this long after its last heartbeat. */
  memberForgetMs: number;
  ackTimeoutMs: number;
  logMaxLen: number;
  shutdownGraceMs: number;
  /** How often the event-loop delay metrics sample (prom-client's monitor): a wake-up each time. */
  metricsEventLoopMs: number;
  throttle: { maxFailuresPerUser: number; maxFailuresPerAddress: number; windowMs: number };
  tls: { cert: string; key: string; ca: string | undefined } | undefined;
  /** Extra TLS material for `rediss://`: a private CA, a client certificate. */
  redisTls: { ca?: string; cert?: string; key?: string } | undefined;
  /** Where roles live (AUTHCACHE_BACKEND) and that backend's own settings. */
  backend: BackendConfig;
  /** Which Redis: one server (REDIS_URL), Sentinel or Redis Cluster, and the replica wait (docs/architecture.md, "Redis topologies"). */
  redis: RedisTopology;
  /** AUTHCACHE_AUDIT_MAX_LEN / _MAX_AGE_MS: the bounds of the audit stream. */
  audit: AuditSettings;
  /** AUTHCACHE_EVENTS_MAX_CLIENTS: /v1/events streams one node serves at once. */
  eventsMaxClients: number;
}

export interface HostPort {
  host: string;
  port: number;
}

/**
 * The Redis topology (docs/architecture.md, "Redis topologies"). In sentinel and cluster mode
 * REDIS_URL still gives the data nodes' credentials and TLS (`rediss://`); its host is not used.
 */
export type RedisTopology = {
  /** Replicas that must hold an update before its admin call answers success (WAIT); 0: do not wait. */
  minReplicas: number;
  replicaWaitMs: number;
} & (
  | { mode: 'single' }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; sentinelPassword: string | undefined }
  | { mode: 'cluster'; nodes: HostPort[] }
);

/** A bad or missing variable; main prints `message` as the one line and exits non-zero. */
export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
  }
}

export type Env = Record<string, string | undefined>;

export function str(env: Env, name: string, fallback?: string): string | undefined {
  const fileVar = env[`${name}_FILE`];
  if (fileVar !== undefined && fileVar !== '') {
    try {
      const content = readFileSync(fileVar, 'utf8').trim();
      if (content === '') throw new ConfigError(`${name}_FILE`, `${fileVar} is empty`);
      return content;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${name}_FILE`, `cannot read ${fileVar}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/** TLS for the HTTP API: PEM files; with a CA, client certificates it signed are admin credentials. */
function loadTls(env: Env): Config['tls'] {
  const certPath = str(env, 'AUTHCACHE_TLS_CERT');
  const keyPath = str(env, 'AUTHCACHE_TLS_KEY');
  const caPath = str(env, 'AUTHCACHE_TLS_CA');
  if (certPath === undefined && keyPath === undefined) {
    if (caPath !== undefined) throw new ConfigError('AUTHCACHE_TLS_CA', 'needs AUTHCACHE_TLS_CERT and AUTHCACHE_TLS_KEY');
    return undefined;
  }
  if (certPath === undefined) throw new ConfigError('AUTHCACHE_TLS_CERT', 'is required with AUTHCACHE_TLS_KEY');
  if (keyPath === undefined) throw new ConfigError('AUTHCACHE_TLS_KEY', 'is required with AUTHCACHE_TLS_CERT');
  return {
    cert: readPem('AUTHCACHE_TLS_CERT', certPath),
    key: readPem('AUTHCACHE_TLS_KEY', keyPath),
    ca: caPath === undefined ? undefined : readPem('AUTHCACHE_TLS_CA', caPath),
  };
}

export function readPem(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(name, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function loadRedisTls(env: Env, redisUrl: string): Config['redisTls'] {
  const out: NonNullable<Config['redisTls']> = {};
  for (const [key, name] of [['ca', 'AUTHCACHE_REDIS_TLS_CA'], ['cert', 'AUTHCACHE_REDIS_TLS_CERT'], ['key', 'AUTHCACHE_REDIS_TLS_KEY']] as const) {
    const path = str(env, name);
    if (path === undefined) continue;
    if (!redisUrl.startsWith('rediss://')) throw new ConfigError(name, 'needs a rediss:// REDIS_URL');
    out[key] = readPem(name, path);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ConfigError(out.cert === undefined ? 'AUTHCACHE_REDIS_TLS_CERT' : 'AUTHCACHE_REDIS_TLS_KEY', 'client certificate and key go together');
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `host:port,...` (IPv6 as `[::1]:port`): at least one, each with a port. */
export function hostPorts(env: Env, name: string): HostPort[] | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  const out: HostPort[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw new ConfigError(name, `expected host:port,... got "${part}"`);
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (out.length === 0) throw new ConfigError(name, 'names no host:port');
  return out;
}

function loadRedisTopology(env: Env): RedisTopology {
  const wait = {
    minReplicas: int(env, 'AUTHCACHE_REDIS_MIN_REPLICAS', 0, 0, 100),
    replicaWaitMs: int(env, 'AUTHCACHE_REDIS_REPLICA_WAIT_MS', 100, 1, 60_000),
  };
  const sentinels = hostPorts(env, 'AUTHCACHE_REDIS_SENTINELS');
  const nodes = hostPorts(env, 'AUTHCACHE_REDIS_CLUSTER');
  if (sentinels && nodes) throw new ConfigError('AUTHCACHE_REDIS_CLUSTER', 'cannot be used with AUTHCACHE_REDIS_SENTINELS: choose one topology');
  const name = str(env, 'AUTHCACHE_REDIS_SENTINEL_NAME', 'mymaster')!;
  const sentinelPassword = str(env, 'AUTHCACHE_REDIS_SENTINEL_PASSWORD');
  if (!sentinels) {
    for (const v of ['AUTHCACHE_REDIS_SENTINEL_NAME', 'AUTHCACHE_REDIS_SENTINEL_PASSWORD']) {
      if (str(env, v) !== undefined) throw new ConfigError(v, 'needs AUTHCACHE_REDIS_SENTINELS');
    }
  }
  if (sentinels) return { mode: 'sentinel', sentinels, name, sentinelPassword, ...wait };
  if (nodes) return { mode: 'cluster', nodes, ...wait };
  return { mode: 'single', ...wait };
}

/** The value docker-compose.yml and the README show for the secrets. */
export const PLACEHOLDER_SECRET = 'change-me';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const YEAR_MS = 365 * 24 * 3600 * 1000;

export function loadConfig(env: Env = process.env): Config {
  const redisUrl = str(env, 'REDIS_URL', 'redis://127.0.0.1:6379')!;
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('REDIS_URL', `must start with redis:// or rediss://, got "${redactUrl(redisUrl)}"`);
  try {
    new URL(redisUrl);
  } catch {
    throw new ConfigError('REDIS_URL', `is not a valid URL`);
  }
  const cluster = str(env, 'AUTHCACHE_CLUSTER', 'authcache')!;
  if (!isValidClusterName(cluster)) throw new ConfigError('AUTHCACHE_CLUSTER', 'must be 1-64 characters of letters, digits, "_", "." or "-"');
  const port = int(env, 'AUTHCACHE_PORT', 7070, 0, 65535);
  const clusterSecret = str(env, 'AUTHCACHE_CLUSTER_SECRET');
  if (clusterSecret === undefined) {
    throw new ConfigError('AUTHCACHE_CLUSTER_SECRET', 'is required (the HMAC key that signs ConfigUpdate messages; the same on every node)');
  }
  const nodeId = str(env, 'AUTHCACHE_NODE_ID', `${hostname()}:${port}`)!;
  if (nodeId.length > 200) throw new ConfigError('AUTHCACHE_NODE_ID', 'must be at most 200 characters');
  const heartbeatMs = int(env, 'AUTHCACHE_HEARTBEAT_MS', 1000, 50, 60_000);
  const memberForgetMs = int(env, 'AUTHCACHE_MEMBER_FORGET_MS', 600_000, 1000, YEAR_MS);
  // A member must be DOWN (3 heartbeats + 500 ms, docs/architecture.md Membership) before it can be forgotten.
  if (memberForgetMs <= 3 * heartbeatMs + 500) {
    throw new ConfigError('AUTHCACHE_MEMBER_FORGET_MS', `must be longer than 3 x AUTHCACHE_HEARTBEAT_MS + 500 (${3 * heartbeatMs + 500}), got ${memberForgetMs}`);
  }
  const adminToken = str(env, 'AUTHCACHE_ADMIN_TOKEN');
  const insecureDemo = bool(env, 'AUTHCACHE_INSECURE_DEMO', false);
  for (const [name, value] of [['AUTHCACHE_CLUSTER_SECRET', clusterSecret], ['AUTHCACHE_ADMIN_TOKEN', adminToken]] as const) {
    // The compose file documents this value: a copy that reaches a real deployment must not start.
    if (value === PLACEHOLDER_SECRET && !insecureDemo) {
      throw new ConfigError(name, `is the documented placeholder "${PLACEHOLDER_SECRET}"; set a secret of your own, or AUTHCACHE_INSECURE_DEMO=true for a local demo`);
    }
  }
  const logLevel = str(env, 'LOG_LEVEL', 'info')!;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  return {
    redisUrl,
    cluster,
    nodeId,
    host: str(env, 'AUTHCACHE_HOST', '127.0.0.1')!,
    port,
    adminToken,
    insecureDemo,
    clusterSecret,
    cache: {
      ttlMs: int(env, 'AUTHCACHE_CACHE_TTL_MS', 3_600_000, 0, YEAR_MS),
      maxEntries: int(env, 'AUTHCACHE_CACHE_MAX_ENTRIES', 100_000, 1, 100_000_000),
      refreshMs: int(env, 'AUTHCACHE_CACHE_REFRESH_MS', 0, 0, YEAR_MS),
      activeUpdate: bool(env, 'AUTHCACHE_CACHE_ACTIVE_UPDATE', false),
    },
    warming: bool(env, 'AUTHCACHE_CACHE_WARMING', true),
    maxStalenessMs: int(env, 'AUTHCACHE_MAX_STALENESS_MS', 5000, 100, YEAR_MS),
    logLevel,
    bcryptCost: int(env, 'AUTHCACHE_BCRYPT_COST', 10, 4, 31),
    bcryptConcurrency: str(env, 'AUTHCACHE_BCRYPT_CONCURRENCY') === undefined ? undefined : int(env, 'AUTHCACHE_BCRYPT_CONCURRENCY', 1, 1, 256),
    heartbeatMs,
    memberForgetMs,
    ackTimeoutMs: int(env, 'AUTHCACHE_ACK_TIMEOUT_MS', 2000, 10, 60_000),
    logMaxLen: int(env, 'AUTHCACHE_LOG_MAX_LEN', 10_000, 10, 10_000_000),
    shutdownGraceMs: int(env, 'AUTHCACHE_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    metricsEventLoopMs: int(env, 'AUTHCACHE_METRICS_EVENTLOOP_MS', 10, 1, 60_000),
    throttle: {
      maxFailuresPerUser: int(env, 'AUTHCACHE_LOGIN_MAX_FAILURES', 5, 0, 1_000_000),
      maxFailuresPerAddress: int(env, 'AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS', 50, 0, 1_000_000),
      windowMs: int(env, 'AUTHCACHE_LOGIN_THROTTLE_WINDOW_MS', 60_000, 1, YEAR_MS),
    },
    tls: loadTls(env),
    redisTls: loadRedisTls(env, redisUrl),
    backend: loadBackendConfig(env),
    redis: loadRedisTopology(env),
    ...loadAuditConfig(env),
  };
}

/** The audit module's variables, with the same one-line exit 2 as every other variable. */
function loadAuditConfig(env: Env): { audit: AuditSettings; eventsMaxClients: number } {
  try {
    return { audit: auditSettingsFromEnv(env), eventsMaxClients: envInt(env, 'AUTHCACHE_EVENTS_MAX_CLIENTS', 32, 1, 10_000) };
  } catch (err) {
    if (err instanceof AuditConfigError) throw new ConfigError(err.variable, err.message.slice(err.variable.length + 2));
    throw err;
  }
}
