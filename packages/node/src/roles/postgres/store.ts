/**
 * Roles in PostgreSQL (docs/architecture.md, "Backends"): reads straight from the `roles` table, grants resolved by
 * grant-graph; writes through the API as a transactional outbox (docs/architecture.md, "Atomic
 * change and invalidation"): the row and its change record (written by the trigger) commit
 * together, then this node publishes the invalidation at once and marks the record published.
 * Should that publish fail or this node die first, the record stays pending and the change relay
 * (relay.ts, on one node) publishes it: an invalidation may be late, never dropped.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Propagation } from '@authcache/protocol';
import { applyChange, loginRolesFrom } from '../role-rules';
import { grantProblem, holdersOf, needsHolders, resolveGrantsAsync, type GrantNode } from '../grant-graph';
import {
  RoleStoreError,
  type ResolvedRoles,
  type RoleChange,
  type RoleDropResult,
  type RoleRecord,
  type RoleStore,
  type RoleWriteResult,
  type StoredCredentials,
} from '../role-store';
import { ChangeFeed } from './change-feed';
import { UNIQUE_VIOLATION, errorMessage, type SqlNames } from './pg';
import { ROLE_SELECT, loadGraph, normalizeGrants, toRecord, type RoleRow } from './rows';

const WRITE_ATTEMPTS = 3;
const WRITE_LOCK = 'authcache.roles';

export interface StoreDeps {
  pool: Pool;
  names: SqlNames;
  nodeId: string;
  log: Logger;
  /** How long a writer keeps the relay off the records it is publishing itself. */
  claimMs: number;
  invalidate(usernames: string[]): Promise<Propagation>;
  /** Resolves once the backend is started (migrated); rejects when it cannot be. */
  ready(): Promise<void>;
  /** Told of each PostgreSQL success or failure, for health(). */
  onDatabase(ok: boolean, err?: unknown): void;
  /** Wakes the relay on this node (it holds the lease or ignores the call). */
  kickRelay(): void;
}

type Reads = Omit<RoleStore, 'upsert' | 'drop' | 'start' | 'stop' | 'health' | 'capabilities'>;

/** What a write planned inside its transaction, published after COMMIT. */
interface Planned<T> {
  result: T;
  affected: string[];
  changeIds: string[];
}

export class PostgresRoles implements Reads {
  private readonly feed: ChangeFeed;

  constructor(private readonly d: StoreDeps) {
    this.feed = new ChangeFeed(d.pool, d.names);
  }

  private get n(): SqlNames {
    return this.d.names;
  }

  async getCredentials(name: string): Promise<StoredCredentials | null> {
    const rows = await this.read<RoleRow>(`SELECT ${ROLE_SELECT} FROM ${this.n.roles} WHERE role = $1`, [name]);
    const r = rows[0];
    return r ? { hash: r.salted_hash ?? undefined, canLogin: r.can_login } : null;
  }

  resolveRoles(name: string): Promise<ResolvedRoles | null> {
    // One round trip per level of the grant graph.
    return resolveGrantsAsync(name, async (level) => {
      const rows = await this.read<RoleRow>(`SELECT ${ROLE_SELECT} FROM ${this.n.roles} WHERE role = ANY($1::text[])`, [level]);
      const out = new Map<string, GrantNode | undefined>();
      for (const r of rows) out.set(r.role, { memberOf: normalizeGrants(r.member_of), superuser: r.is_superuser });
      return out;
    });
  }

  async get(name: string): Promise<RoleRecord | null> {
    const rows = await this.read<RoleRow>(`SELECT ${ROLE_SELECT} FROM ${this.n.roles} WHERE role = $1`, [name]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(page: { after?: string; limit?: number } = {}): Promise<RoleRecord[]> {
    // COLLATE "C": byte order, the order the other stores sort names in, whatever the database's locale.
    const rows = await this.read<RoleRow>(
      `SELECT ${ROLE_SELECT} FROM ${this.n.roles} WHERE ($1::text IS NULL OR role COLLATE "C" > $1::text COLLATE "C")
        ORDER BY role COLLATE "C" LIMIT $2`,
      [page.after ?? null, page.limit ?? null],
    );
    return rows.map(toRecord);
  }

  async holdersOf(name: string): Promise<string[]> {
    return holdersOf(name, await this.list());
  }

  async loginRoles(limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>> {
    return loginRolesFrom(await this.list(), limit);
  }

  async upsert(name: string, change: RoleChange): Promise<RoleWriteResult> {
    const memberOf = change.memberOf === undefined ? undefined : normalizeGrants(change.memberOf);
    const r = await this.write(async (tx) => {
      const { rows } = await tx.query<RoleRow>(`SELECT ${ROLE_SELECT} FROM ${this.n.roles} WHERE role = $1`, [name]);
      const before = rows[0] ? toRecord(rows[0]) : null;
      // The whole graph only when grants are checked or holders are needed (not for a password change).
      let all: RoleRecord[] | undefined;
      const graph = async () => (all ??= await loadGraph(tx, this.n));
      if (memberOf !== undefined) {
        const byName = new Map((await graph()).map((x) => [x.name, x]));
        const problem = grantProblem(name, memberOf, (n) => byName.get(n));
        if (problem) throw new RoleStoreError('invalid', problem);
      }
      const after = applyChange(name, before, change, memberOf);
      const values = [name, after.hash ?? null, after.canLogin, after.superuser, after.memberOf];
      if (before) {
        await tx.query(`UPDATE ${this.n.roles} SET salted_hash = $2, can_login = $3, is_superuser = $4, member_of = $5::text[] WHERE role = $1`, values);
      } else {
        await tx.query(`INSERT INTO ${this.n.roles} (role, salted_hash, can_login, is_superuser, member_of) VALUES ($1, $2, $3, $4, $5::text[])`, values);
      }
      const affected = [name, ...(before && needsHolders(before, after) ? holdersOf(name, await graph()) : [])];
      return { result: { created: before === null, role: after, affected }, affected };
    });
    return { ...r.result, propagation: r.propagation! };
  }

  async drop(name: string): Promise<RoleDropResult | null> {
    const r = await this.write(async (tx) => {
      const all = await loadGraph(tx, this.n);
      if (!all.some((x) => x.name === name)) return { result: null, affected: [] };
      const affected = [name, ...holdersOf(name, all)];
      await tx.query(`DELETE FROM ${this.n.roles} WHERE role = $1`, [name]);
      // Revoked from every role it was granted to, in the same transaction (Cassandra does the same).
      await tx.query(`UPDATE ${this.n.roles} SET member_of = array_remove(member_of, $1) WHERE $1 = ANY(member_of)`, [name]);
      return { result: { affected }, affected };
    });
    return r.result === null ? null : { ...r.result, propagation: r.propagation! };
  }

  /** A read: PostgreSQL not answering is `unavailable` (a login gets 503, the admin API 503). */
  private async read<R extends object>(text: string, values: unknown[]): Promise<R[]> {
    await this.ready();
    try {
      const { rows } = await this.d.pool.query<R>(text, values);
      this.d.onDatabase(true);
      return rows;
    } catch (err) {
      this.d.onDatabase(false, err);
      throw new RoleStoreError('unavailable', `PostgreSQL unreachable: ${errorMessage(err)}`);
    }
  }

  private async ready(): Promise<void> {
    try {
      await this.d.ready();
    } catch (err) {
      throw new RoleStoreError('unavailable', `PostgreSQL role store not started: ${errorMessage(err)}`);
    }
  }

  /**
   * One write: plan and apply it in a transaction that holds the write lock (so grant checks see
   * every earlier API write and concurrent writers cannot close a cycle together), claim the
   * change records the trigger wrote, COMMIT, then publish. Returns `result` with the propagation;
   * a null result (nothing to write) publishes nothing.
   */
  private async write<T>(plan: (tx: PoolClient) => Promise<{ result: T; affected: string[] }>): Promise<{ result: T; propagation?: Propagation }> {
    await this.ready();
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const planned = await this.transaction(plan);
      if (planned === undefined) continue; // a concurrent SQL writer created the role first: plan again
      if (planned.result === null) return { result: planned.result };
      return { result: planned.result, propagation: await this.publish(planned) };
    }
    throw new RoleStoreError('conflict', 'the role kept changing under concurrent writers; nothing was written');
  }

  /** Resolves to the plan once committed, undefined on a unique violation (retry). */
  private async transaction<T>(plan: (tx: PoolClient) => Promise<{ result: T; affected: string[] }>): Promise<Planned<T> | undefined> {
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
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [WRITE_LOCK, this.n.schemaName]);
      // Recorded by the trigger as the change's origin.
      await tx.query(`SELECT set_config('authcache.origin', $1, true)`, [this.d.nodeId]);
      const { result, affected } = await plan(tx);
      const changeIds = await this.feed.claimOwn(tx, this.d.claimMs);
      commitSent = true;
      await tx.query('COMMIT');
      this.d.onDatabase(true);
      return { result, affected, changeIds };
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
  private async publish(p: Planned<unknown>): Promise<Propagation> {
    let propagation: Propagation;
    try {
      propagation = await this.d.invalidate(p.affected);
    } catch (err) {
      this.d.log.warn({ err: errorMessage(err), changes: p.changeIds.length, users: p.affected }, 'role change committed but its invalidation not published; the change relay retries it');
      await this.feed.releaseClaim(p.changeIds).catch(() => undefined);
      this.d.kickRelay();
      throw new RoleStoreError(
        'outcome_unknown',
        `outcome unknown: the change was committed in PostgreSQL and stands, but publishing its invalidation failed (${errorMessage(err)}); it is retried until every node has it`,
      );
    }
    // Failing here only means the relay publishes it once more later.
    await this.feed.markPublished(p.changeIds).catch((err: unknown) => this.d.log.warn({ err: errorMessage(err) }, 'could not mark a published role change; it will be published again'));
    return propagation;
  }
}
