/**
 * The PostgreSQL backend (AUTHCACHE_BACKEND=postgres, docs/architecture.md, "Backends"): a bounded pool, the schema
 * migration at start, the role store (store.ts) and, on the one node holding the relay lease,
 * the relay of changes made in SQL (relay.ts). health() follows PostgreSQL: 'down' while it does
 * not answer (a probe every second notices the return without any traffic).
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { BackendDeps } from '../backends';
import type { RoleStore } from '../role-store';
import type { PostgresConfig } from './config';
import { migrate } from './migrations';
import { redactUrl } from '@authcache/protocol';
import { createPool, databaseAnswered, errorMessage, sqlNames, type SqlNames } from './pg';
import { ChangeRelay, type AuthzCache } from './relay';
import { PostgresRoles } from './store';
import { PostgresPermissionStore } from './permission-store';

const PROBE_MS = 1000;

export { loadPostgresConfig, type PostgresConfig } from './config';

export function createPostgresStore(config: PostgresConfig, deps: BackendDeps): PostgresRoleStore {
  return new PostgresRoleStore(config, deps);
}

export class PostgresRoleStore extends PostgresRoles implements RoleStore {
  readonly capabilities = { writable: true };
  readonly relay: ChangeRelay;
  /** Grants of permissions in `role_permissions`, written through the same outbox as roles. */
  readonly permissionStore: PostgresPermissionStore;
  private readonly pool: Pool;
  private readonly log: Logger;
  private up = false;
  private starting: Promise<void> | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly config: PostgresConfig,
    deps: Pick<BackendDeps, 'config' | 'log' | 'redis' | 'names' | 'invalidate'>,
  ) {
    const names: SqlNames = sqlNames(config.schema);
    const pool = createPool(config);
    const log = deps.log.child({ backend: 'postgres' });
    // An idle pooled connection that breaks must not crash the process; the next query reconnects.
    pool.on('error', (err) => log.debug({ err: errorMessage(err) }, 'idle PostgreSQL connection lost'));
    const invalidate = (usernames: string[], caches?: AuthzCache[]) => deps.invalidate(usernames, [], caches);
    let self: PostgresRoleStore | undefined;
    const relay = new ChangeRelay({
      config,
      pool,
      names,
      redis: deps.redis,
      leaseKey: deps.names.lease('postgres-relay'),
      nodeId: deps.config.nodeId,
      log,
      invalidate,
    });
    super({
      pool,
      names,
      nodeId: deps.config.nodeId,
      log,
      // The writer publishes within the ack timeout; past that (it died), the relay takes over.
      claimMs: deps.config.ackTimeoutMs + 1000,
      invalidate,
      ready: () => self!.ensureStarted(),
      onDatabase: (ok, err) => self!.observed(ok, err),
      kickRelay: () => relay.kick(),
    });
    self = this;
    this.permissionStore = new PostgresPermissionStore({ db: pool, names, outbox: this.outbox, onDatabase: (ok, err) => this.observed(ok, err) });
    this.pool = pool;
    this.log = log;
    this.relay = relay;
  }

  /**
   * Connects, migrates the schema and starts the relay. Fails with one clear error when
   * PostgreSQL cannot be reached or its schema cannot be used. Idempotent.
   */
  start(): Promise<void> {
    return this.ensureStarted();
  }

  /**
   * Started once; a host that does not call start() gets it on the first store call (the node
   * warms its caches right after connecting Redis). A failed start is retried by the next call.
   */
  private ensureStarted(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('the PostgreSQL role store is stopped'));
    this.starting ??= this.doStart().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const where = `${redactUrl(this.config.url)} schema ${this.config.schema}`;
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      this.observed(false, err);
      throw new Error(`PostgreSQL unreachable at ${where}: ${errorMessage(err)}`);
    }
    let applied: number[];
    try {
      applied = await migrate(this.pool, sqlNames(this.config.schema));
    } catch (err) {
      throw new Error(`PostgreSQL schema migration failed at ${where}: ${errorMessage(err)}`);
    }
    this.observed(true);
    this.log.info({ schema: this.config.schema, migrated: applied }, applied.length > 0 ? 'PostgreSQL schema migrated' : 'PostgreSQL schema up to date');
    if (!this.probeTimer) {
      this.probeTimer = setInterval(() => void this.probe(), PROBE_MS);
      this.probeTimer.unref();
    }
    this.relay.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    await this.starting?.catch(() => undefined);
    await this.relay.stop();
    await this.pool.end().catch(() => undefined);
  }

  health(): 'up' | 'down' {
    return this.up ? 'up' : 'down';
  }

  private async probe(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
      this.observed(true);
    } catch (err) {
      this.observed(false, err);
    }
  }

  private observed(ok: boolean, err?: unknown): void {
    // A refused statement (a constraint, a bad grant) still proves the database answers.
    const up = ok || databaseAnswered(err);
    if (up === this.up) return;
    this.up = up;
    if (up) this.log.info('PostgreSQL answers again');
    else this.log.warn({ err: err === undefined ? undefined : errorMessage(err) }, 'PostgreSQL does not answer: uncached logins get 503 until it is back');
  }
}
