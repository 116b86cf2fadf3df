/**
 * The transactional outbox of the PostgreSQL backend (docs/architecture.md, "Atomic change and
 * invalidation"), shared by the role store and the permission store: a write is planned and
 * applied in one transaction holding the write lock, the change records its triggers wrote are
 * claimed, COMMIT, then this node publishes the invalidation at once and marks the records
 * published. Should that publish fail or this node die first, the records stay pending and the
 * change relay (relay.ts, on one node) publishes them: an invalidation may be late, never dropped.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Propagation } from '@authcache/protocol';
import { RoleStoreError } from '../role-store';
import { ChangeFeed } from './change-feed';
import { UNIQUE_VIOLATION, errorMessage, type SqlNames } from './pg';

const WRITE_ATTEMPTS = 3;
const WRITE_LOCK = 'authcache.roles';

export interface OutboxDeps {
  pool: Pool;
  names: SqlNames;
  nodeId: string;
  log: Logger;
  /** How long a writer keeps the relay off the records it is publishing itself. */
  claimMs: number;
  /** Resolves once the backend is started (migrated); rejects when it cannot be. */
  ready(): Promise<void>;
  /** Told of each PostgreSQL success or failure, for health(). */
  onDatabase(ok: boolean, err?: unknown): void;
  /** Wakes the relay on this node (it holds the lease or ignores the call). */
  kickRelay(): void;
}

export class Outbox {
  readonly feed: ChangeFeed;

  constructor(private readonly d: OutboxDeps) {
    this.feed = new ChangeFeed(d.pool, d.names);
  }

  async ready(): Promise<void> {
    try {
      await this.d.ready();
    } catch (err) {
      throw new RoleStoreError('unavailable', `PostgreSQL store not started: ${errorMessage(err)}`);
    }
  }

  /**
   * One write: `plan` runs in a transaction that holds the write lock (so checks see every earlier
   * API write and concurrent writers cannot close a cycle together), then COMMIT, then `publish`
   * of the result. A null result (nothing to write) publishes nothing. A unique violation (a
   * concurrent SQL writer got there first) plans again.
   */
  async write<T>(plan: (tx: PoolClient) => Promise<T>, publish: (result: NonNullable<T>) => Promise<Propagation>): Promise<{ result: T; propagation?: Propagation }> {
    await this.ready();
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const planned = await this.transaction(plan);
      if (planned === undefined) continue;
      if (planned.result === null || planned.result === undefined) return { result: planned.result };
      return { result: planned.result, propagation: await this.publish(planned.changeIds, () => publish(planned.result as NonNullable<T>)) };
    }
    throw new RoleStoreError('conflict', 'the row kept changing under concurrent writers; nothing was written');
  }

  /** Resolves to the plan once committed, undefined on a unique violation (retry). */
  private async transaction<T>(plan: (tx: PoolClient) => Promise<T>): Promise<{ result: T; changeIds: string[] } | undefined> {
    let tx: PoolClient;
    try {
      tx = await this.d.pool.connect();
    } catch (err) {
      this.d.onDatabase(false, err);
      throw new RoleStoreError('unavailable', `PostgreSQL unreachable, nothing was written: ${errorMessage(err)}`);
    }
    let commitSent = false;
    let broken = false;
    try {
      await tx.query('BEGIN');
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [WRITE_LOCK, this.d.names.schemaName]);
      // Recorded by the triggers as the change's origin.
      await tx.query(`SELECT set_config('authcache.origin', $1, true)`, [this.d.nodeId]);
      const result = await plan(tx);
      const changeIds = await this.feed.claimOwn(tx, this.d.claimMs);
      commitSent = true;
      await tx.query('COMMIT');
      this.d.onDatabase(true);
      return { result, changeIds };
    } catch (err) {
      if (!commitSent) await tx.query('ROLLBACK').catch(() => (broken = true));
      else broken = true;
      if (err instanceof RoleStoreError) throw err;
      if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) return undefined;
      this.d.onDatabase(false, err);
      if (commitSent) {
        throw new RoleStoreError(
          'outcome_unknown',
          `outcome unknown: COMMIT was sent to PostgreSQL and no answer came (${errorMessage(err)}); if the change stands, its invalidation is published by the change relay`,
        );
      }
      throw new RoleStoreError('unavailable', `PostgreSQL unreachable, nothing was written: ${errorMessage(err)}`);
    } finally {
      tx.release(broken || undefined);
    }
  }

  /**
   * Publishes a committed change. On failure the change stands, so the answer is not "nothing
   * applied" (503) but 504 saying what is true; the records go back to the relay, which retries.
   */
  private async publish(changeIds: string[], publish: () => Promise<Propagation>): Promise<Propagation> {
    let propagation: Propagation;
    try {
      propagation = await publish();
    } catch (err) {
      this.d.log.warn({ err: errorMessage(err), changes: changeIds.length }, 'change committed but its invalidation not published; the change relay retries it');
      await this.feed.releaseClaim(changeIds).catch(() => undefined);
      this.d.kickRelay();
      throw new RoleStoreError(
        'outcome_unknown',
        `outcome unknown: the change was committed in PostgreSQL and stands, but publishing its invalidation failed (${errorMessage(err)}); it is retried until every node has it`,
      );
    }
    // Failing here only means the relay publishes it once more later.
    await this.feed.markPublished(changeIds).catch((err: unknown) => this.d.log.warn({ err: errorMessage(err) }, 'could not mark a published change; it will be published again'));
    return propagation;
  }
}
