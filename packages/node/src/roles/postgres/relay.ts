/**
 * The change relay: on exactly one node of the cluster (the holder of a Redis lease), turns the
 * pending records of `role_changes` into ConfigUpdates. It wakes on the trigger's NOTIFY (a
 * dedicated connection, reconnected when lost) and also polls every `pollMs`, so a lost
 * notification only costs one poll interval. Each batch of pending changes becomes ONE
 * invalidation of every affected user; the batch is then marked published. A node that takes
 * over the lease (the holder died) reads what is still pending: nothing is dropped.
 *
 * A change is published at least once: a holder that stalls past its lease, or an API writer
 * whose claim ran out mid-publish, may publish a change twice. A second invalidation is harmless.
 */
import { Client, type Notification, type Pool } from 'pg';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Propagation } from '@authcache/protocol';
import { Lease } from '../../lease';
import { ChangeFeed, affectedUsers, permissionsOnly } from './change-feed';
import { clientConfig, errorMessage, type SqlNames } from './pg';
import { loadGraph } from './rows';
import type { PostgresConfig } from './config';

const BATCH = 500;
const PRUNE_EVERY_MS = 30_000;
const RELISTEN_BACKOFF_MS = 500;

export interface RelayDeps {
  config: PostgresConfig;
  pool: Pool;
  names: SqlNames;
  redis: Redis;
  leaseKey: string;
  nodeId: string;
  log: Logger;
  /** `caches` undefined: every cache of the users; else only those (a batch of permission changes). */
  invalidate(usernames: string[], caches?: AuthzCache[]): Promise<Propagation>;
}

/** The caches a batch of permission changes alone makes wrong (docs/architecture.md, "Permissions and impersonation"). */
export type AuthzCache = 'permissions' | 'impersonation';
const AUTHZ: AuthzCache[] = ['permissions', 'impersonation'];

export class ChangeRelay {
  private readonly lease: Lease;
  private readonly feed: ChangeFeed;
  private leaseTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private listener: Client | undefined;
  private listening: Promise<void> | undefined;
  private lastListenAttempt = 0;
  private draining: Promise<void> | undefined;
  private again = false;
  private lastPrune = 0;
  private stopped = false;
  private failing = false;
  private failingSince: number | undefined;
  private standDownUntil = 0;
  private renewing = false;
  /** Changes published by this node's relay since start (tests, logs). */
  published = 0;

  constructor(private readonly d: RelayDeps) {
    this.lease = new Lease(d.redis, d.leaseKey, d.config.relayLeaseMs);
    this.feed = new ChangeFeed(d.pool, d.names);
  }

  get isRelaying(): boolean {
    return this.lease.isHeld;
  }

  start(): void {
    this.stopped = false;
    const renewMs = Math.max(100, Math.floor(this.d.config.relayLeaseMs / 3));
    this.leaseTimer = setInterval(() => void this.renew(), renewMs);
    this.leaseTimer.unref();
    this.pollTimer = setInterval(() => this.kick(), this.d.config.pollMs);
    this.pollTimer.unref();
    void this.renew();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.pollTimer);
    await this.draining?.catch(() => undefined);
    await this.unlisten();
    await this.lease.release();
  }

  /** Drain now (a NOTIFY arrived, the poll interval passed, a writer released its claim). */
  kick(): void {
    if (this.stopped || !this.lease.isHeld) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async renew(): Promise<void> {
    // One acquire/renew at a time: two overlapping SET NX of our own token would read as "lost".
    if (this.stopped || this.renewing) return;
    this.renewing = true;
    try {
      await this.renewOnce();
    } finally {
      this.renewing = false;
    }
  }

  private async renewOnce(): Promise<void> {
    // Before the node connected Redis (or while it is away) there is nothing to hold or publish to.
    const was = this.lease.isHeld;
    const leaseMs = this.d.config.relayLeaseMs;
    if (was && this.failingSince !== undefined && Date.now() - this.failingSince > 3 * leaseMs) {
      // This node cannot publish (its own path to PostgreSQL or Redis may be the broken one): let
      // another node try for a while. If every node fails alike, the lease just moves around.
      this.d.log.warn({ failingMs: Date.now() - this.failingSince }, 'postgres change relay: publishing keeps failing here; giving the lease up');
      this.standDownUntil = Date.now() + 2 * leaseMs;
      this.failingSince = undefined;
    }
    const mayHold = this.d.redis.status === 'ready' && Date.now() >= this.standDownUntil;
    const held = mayHold ? await this.lease.tryHold() : (await this.lease.release(), false);
    if (held && !was) {
      this.d.log.info({ node: this.d.nodeId, lease: this.d.leaseKey }, 'postgres change relay: this node relays changes made in PostgreSQL');
      this.kick();
    } else if (!held && was) {
      this.d.log.info({ node: this.d.nodeId }, 'postgres change relay: lease lost, another node relays');
      await this.unlisten();
    }
    if (held) void this.ensureListening();
  }

  private ensureListening(): Promise<void> {
    if (this.listener || this.listening || this.stopped) return this.listening ?? Promise.resolve();
    if (Date.now() - this.lastListenAttempt < RELISTEN_BACKOFF_MS) return Promise.resolve();
    this.lastListenAttempt = Date.now();
    this.listening = this.listen().finally(() => (this.listening = undefined));
    return this.listening;
  }

  private async listen(): Promise<void> {
    const client = new Client(clientConfig(this.d.config));
    const lost = (why: string, err?: unknown) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.d.log.warn({ err: err === undefined ? undefined : errorMessage(err) }, `postgres change relay: LISTEN connection ${why}; polling until it is back`);
      client.end().catch(() => undefined);
    };
    client.on('error', (err) => lost('failed', err));
    client.on('end', () => lost('closed'));
    client.on('notification', (m: Notification) => {
      if (m.channel === this.d.names.channel) this.kick();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.d.names.channel}"`);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      this.d.log.debug({ err: errorMessage(err) }, 'postgres change relay: cannot LISTEN yet; polling');
      return;
    }
    if (this.stopped || !this.lease.isHeld) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.d.log.info({ channel: this.d.names.channel }, 'postgres change relay: listening');
    // Whatever was notified while we were not listening is still pending: read it now.
    this.kick();
  }

  private async unlisten(): Promise<void> {
    const c = this.listener;
    this.listener = undefined;
    await this.listening?.catch(() => undefined);
    if (c) await c.end().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped || !this.lease.isHeld) return;
        const batch = await this.feed.pending(BATCH);
        if (batch.length === 0) break;
        const users = await affectedUsers(batch, () => loadGraph(this.d.pool, this.d.names));
        const t0 = Date.now();
        const p = await this.d.invalidate(users, permissionsOnly(batch) ? AUTHZ : undefined);
        await this.feed.markPublished(batch.map((c) => c.id));
        this.published += batch.length;
        const oldest = batch.reduce((m, c) => Math.min(m, c.ts.getTime()), Infinity);
        this.d.log.info(
          {
            changes: batch.length,
            users: users.length,
            seq: p.seq,
            nodes: p.nodes,
            lagMs: Date.now() - oldest,
            publishMs: Date.now() - t0,
            who: [...new Set(batch.map((c) => c.who))],
            ops: batch.slice(0, 20).map((c) =>
              c.resource !== null
                ? { op: c.op, role: c.role, ...(c.old_role ? { from: c.old_role } : {}), resource: c.resource, permissions: c.new_permissions }
                : { op: c.op, role: c.role, ...(c.old_role ? { from: c.old_role } : {}), passwordChanged: c.password_changed, login: c.new_can_login, grants: c.new_member_of },
            ),
          },
          'postgres change relay: changes published',
        );
        if (batch.length < BATCH) break;
      }
      if (Date.now() - this.lastPrune > Math.min(PRUNE_EVERY_MS, Math.max(this.d.config.pollMs, this.d.config.retentionMs / 10))) {
        this.lastPrune = Date.now();
        const pruned = await this.feed.prune(this.d.config.retentionMs);
        if (pruned > 0) this.d.log.info({ pruned }, 'postgres change relay: published change records pruned');
      }
    } catch (err) {
      // Nothing is marked published unless its invalidation was: the next poll retries.
      if (!this.failing) this.d.log.warn({ err: errorMessage(err) }, 'postgres change relay: could not publish pending changes; retrying every poll');
      this.failing = true;
      this.failingSince ??= Date.now();
      return;
    }
    if (this.failing) this.d.log.info('postgres change relay: publishing again');
    this.failing = false;
    this.failingSince = undefined;
  }
}
