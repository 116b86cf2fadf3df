import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { clusterNames, createCodec, type BodyByKind, type CacheName, type CacheStats, type ClusterNames, type HealthStatus, type Kind } from '@authcache/protocol';
import type { Config } from './config';
import { connectRedis, reconnectWhenEnded, subscriberFollows } from './redis';
import { Metrics } from './metrics';
import { AuthCache, type LoginOutcome } from './cache/auth-cache';
import { settingsDefaults, type CacheSettings, type Overlays } from './cache/settings';
import { SettingsState, SettingsStore } from './cache/settings-state';
import { Passwords } from './roles/passwords';
import { createRoleStore } from './roles/backends';
import type { RoleStore } from './roles/role-store';
import { RedisTransport, Replicator } from './bus/bus';
import { Membership } from './membership';
import { unavailable } from './errors';
import { Admin } from './admin';
import { LoginThrottle } from './security/login-throttle';
import { createPermissionService, type PermissionService } from './permissions';

/** A ConfigUpdate's effect, from the bus or applied locally (`?local=true`). */
export type Change = { [K in Kind]: { kind: K; body: BodyByKind[K] } }[Kind];

export type NodeStatus = HealthStatus;

/**
 * One authcache node: the caches, the role store, the bus and membership, wired together.
 * The HTTP layer (http/) only calls into this.
 */
export class AuthcacheNode {
  readonly names: ClusterNames;
  readonly metrics: Metrics;
  readonly redis: Redis;
  private readonly sub: Redis;
  readonly roles: RoleStore;
  readonly passwords: Passwords;
  readonly cache: AuthCache;
  readonly bus: Replicator;
  readonly membership: Membership;
  readonly admin: Admin = new Admin(this);
  readonly throttle: LoginThrottle;
  /** Authorization (docs/architecture.md, "Permissions and impersonation"): grants, checks, the permissions and impersonation caches. */
  readonly permissions: PermissionService;
  /** The one copy of the settings in force; the caches follow it (docs/architecture.md, "Settings"). */
  readonly settingsState: SettingsState;
  private readonly settingsStore: SettingsStore;
  private status: NodeStatus = 'STARTING';
  private inSyncTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  /** Set as stop() begins: the connections' closes from then on are the node's own. */
  private stopping = false;
  address = '';

  constructor(readonly config: Config, readonly log: Logger) {
    this.metrics = new Metrics({ eventLoopResolutionMs: config.metricsEventLoopMs });
    // Redis topology (docs/architecture.md, "Redis topologies"): a Redis Cluster hash-tags every key.
    const topology = config.redis ?? { mode: 'single', minReplicas: 0, replicaWaitMs: 100 };
    this.names = clusterNames(config.cluster, { hashTag: topology.mode === 'cluster' });
    const conns = connectRedis(config.redisUrl, config.redisTls, topology);
    const { cmd, sub } = conns;
    this.redis = cmd;
    this.sub = sub;
    for (const [name, conn] of [['commands', cmd], ['subscriber', sub]] as const) {
      // ioredis retries on its own; without a listener an error event would crash the process.
      conn.on('error', (err: Error) => log.debug({ connection: name, err: err.message }, 'redis connection error'));
      conn.on('close', () => log.debug({ connection: name }, 'redis connection closed'));
      reconnectWhenEnded(conn, () => this.stopping, () => log.warn({ connection: name }, 'redis connection ended by the client library: reconnecting'));
    }
    if (topology.mode === 'sentinel') subscriberFollows(cmd, sub, (from, to) => log.warn({ from, to }, 'commands moved to another redis master: the subscriber follows'));
    this.settingsState = new SettingsState(settingsDefaults(config.cache));
    this.settingsStore = new SettingsStore(cmd, this.names);
    this.throttle = new LoginThrottle(config.throttle);
    this.roles = createRoleStore({ config, log, redis: cmd, names: this.names, invalidate: (usernames, ops = [], caches) => this.bus.publish(this.admin.invalidation(usernames, caches), ops) });
    this.passwords = new Passwords(config.bcryptCost, config.bcryptConcurrency);
    this.cache = new AuthCache(this.roles, this.passwords, this.settingsState.effective(), log);
    this.settingsState.onChange((s) => this.cache.configure(s));
    // Grants live in the backend when it keeps them (PostgreSQL), else in the bus's Redis; each grant or revoke is published with its invalidation.
    this.permissions = createPermissionService({
      redis: cmd,
      names: this.names,
      roleStore: this.roles,
      rolesOf: (username, trusted) => this.cache.rolesOf(username, trusted),
      publish: (change, ops) => this.bus.publish(change, ops),
      trusted: () => this.trustsCache(),
      settings: this.settingsState.effective(),
      log,
    });
    this.settingsState.onChange((s) => this.permissions.configure(s));
    this.membership = new Membership({
      redis: cmd,
      names: this.names,
      config,
      log,
      content: () => ({ address: this.address, applied_seq: this.bus.appliedSeq, started: this.startedAt, cache: this.cacheStats() }),
    });
    const transport = new RedisTransport({
      cmd,
      sub,
      names: this.names,
      nodeId: config.nodeId,
      logMaxLen: config.logMaxLen,
      log,
      metrics: this.metrics,
      sharded: conns.sharded,
      trackMaster: conns.failover,
      minReplicas: topology.minReplicas,
      replicaWaitMs: topology.replicaWaitMs,
    });
    this.bus = new Replicator({
      transport,
      codec: createCodec(config.clusterSecret),
      nodeId: config.nodeId,
      log,
      metrics: this.metrics,
      ackTimeoutMs: config.ackTimeoutMs,
      heartbeatMs: config.heartbeatMs,
      apply: (u) => this.apply(u),
      resync: (reason) => this.resync(reason),
      members: (version) => this.membership.expected(version),
    });
    this.metrics.addCacheStats(() => this.cacheStats() as unknown as Record<string, Record<string, number>>);
  }

  /** Every cache's counters: the login caches and the authorization caches (metrics, membership, /v1/cluster/nodes). */
  cacheStats(): Record<CacheName, CacheStats> {
    return { ...this.cache.stats(), ...this.permissions.stats() };
  }

  /** Connects, loads settings and warms the caches, then joins the cluster. */
  async start(address: string): Promise<void> {
    this.address = address;
    await Promise.all([this.redis.connect(), this.sub.connect()]);
    // The backend's own connections and change relay (LDAP: pool, health probe, change poller).
    await this.roles.start();
    await this.bus.subscribe();
    if (!(await this.membership.verifySecret())) {
      // Its frames would all be rejected and it would reject everyone's: it must not join nor serve.
      this.log.error(
        'AUTHCACHE_CLUSTER_SECRET does not match the secret this cluster runs with: staying STARTING (not joining, not serving from cache); set the same secret on every node',
      );
      return;
    }
    const pos = await this.bus.position();
    if (await this.membership.isAlone()) {
      // Transient settings last while any node is up: the first node of a fresh cluster drops them.
      await this.settingsStore.clearTransient();
      this.log.info('no other live node: transient settings cleared');
    }
    await this.loadSettings();
    if (this.config.warming) {
      const t0 = Date.now();
      const n = await this.cache.warm();
      this.log.info({ roles: n, ms: Date.now() - t0 }, 'caches warmed');
    }
    this.bus.start(pos);
    this.inSyncTimer = setInterval(() => this.metrics.inSync.set(this.trustsCache() ? 1 : 0), this.config.heartbeatMs);
    this.inSyncTimer.unref();
    await this.membership.start();
    this.status = 'UP';
    this.log.info({ appliedSeq: pos.seq, settings: this.cache.currentSettings() }, 'node up');
  }

  async stop(): Promise<void> {
    this.status = 'STOPPING';
    this.stopping = true;
    clearInterval(this.inSyncTimer);
    await this.bus.stop();
    try {
      await this.membership.stop();
    } catch (err) {
      this.log.warn({ err }, 'could not leave the membership cleanly');
    }
    this.cache.close();
    this.permissions.close();
    await this.roles.stop().catch((err: unknown) => this.log.warn({ err }, 'could not stop the role store cleanly'));
    this.sub.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** True while the node may answer from its cache (docs/architecture.md, "The staleness bound, and why it holds"). */
  trustsCache(): boolean {
    return this.bus.syncAgeMs() <= this.config.maxStalenessMs;
  }

  health(): { status: NodeStatus; redis: string; backend: 'up' | 'down'; sync_age_ms: number | null } {
    const backend = this.roles.health();
    // A backend of its own (PostgreSQL, LDAP) that is down degrades the node at once. The Redis
    // store is the bus's Redis: losing it is what the staleness bound already times, so the node
    // stays UP, answering from its cache, until that bound runs out.
    const ownBackendDown = backend === 'down' && this.config.backend.kind !== 'redis';
    const status = this.status === 'UP' && (!this.trustsCache() || ownBackendDown) ? 'DEGRADED' : this.status;
    const age = this.bus.syncAgeMs();
    return { status, redis: this.redis.status === 'ready' ? 'connected' : 'disconnected', backend, sync_age_ms: Number.isFinite(age) ? age : null };
  }

  /** A login check; answered without a promise when the caches hold everything (the hot path). */
  login(username: string, password: string): LoginOutcome | Promise<LoginOutcome> {
    const trusted = this.trustsCache();
    const r = this.cache.login(username, password, trusted);
    if (!(r instanceof Promise)) return this.counted(r);
    return r.then(
      (o) => this.counted(o),
      (err: unknown) => {
        this.metrics.loginUnavailable.inc();
        this.log.warn({ err: (err as Error).message, trusted }, 'login could not reach the backend');
        throw unavailable(
          trusted
            ? 'authentication backend unreachable'
            : `node out of sync with the cluster for ${Math.round(this.bus.syncAgeMs())} ms and the backend is unreachable`,
        );
      },
    );
  }

  private counted(r: LoginOutcome): LoginOutcome {
    if (!r.ok) this.metrics.loginRejected.inc();
    else (r.cached ? this.metrics.loginCached : this.metrics.loginOk).inc();
    return r;
  }

  settings(): Readonly<Record<CacheName, CacheSettings>> {
    return this.settingsState.effective();
  }

  currentOverlays(): Overlays {
    return this.settingsState.overlays();
  }

  /** Applies one ConfigUpdate (in seq order, from the bus) or a local-only change. */
  apply(u: Change): void {
    switch (u.kind) {
      case 'flush_all':
        this.cache.invalidateAll(u.body.caches);
        this.permissions.invalidateAll(u.body.caches);
        this.log.info({ caches: u.body.caches ?? 'all' }, 'caches flushed');
        break;
      case 'flush_users':
        this.cache.invalidateUsers(u.body.usernames, u.body.caches);
        this.permissions.invalidateUsers(u.body.usernames, u.body.caches);
        this.log.info({ users: u.body.usernames.length, caches: u.body.caches ?? 'all' }, 'users invalidated');
        break;
      case 'set_settings':
        this.settingsState.applyUpdate(u.body);
        this.log.info({ change: u.body, settings: this.cache.currentSettings() }, 'settings changed');
        break;
    }
  }

  private async resync(reason: string): Promise<void> {
    this.cache.invalidateAll();
    this.permissions.invalidateAll();
    try {
      await this.loadSettings();
    } catch (err) {
      this.log.warn({ err, reason }, 'could not reload settings during resync; keeping the current ones');
    }
  }

  private async loadSettings(): Promise<void> {
    this.settingsState.load(await this.settingsStore.read(), (layer, field) => this.log.warn({ layer, field }, 'ignoring an unreadable stored setting'));
  }
}
