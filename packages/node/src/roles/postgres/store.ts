/**
 * Roles in PostgreSQL (docs/architecture.md, "Backends"): reads straight from the `roles` table, grants resolved by
 * grant-graph; writes through the API via the transactional outbox (outbox.ts): the row and its
 * change record (written by the trigger) commit together, then this node publishes the
 * invalidation; the change relay publishes whatever a writer could not.
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
import { Outbox } from './outbox';
import { errorMessage, type SqlNames } from './pg';
import { ROLE_SELECT, loadGraph, normalizeGrants, toRecord, type RoleRow } from './rows';

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

export class PostgresRoles implements Reads {
  /** Shared with the permission store (permission-store.ts of this directory). */
  readonly outbox: Outbox;

  constructor(private readonly d: StoreDeps) {
    this.outbox = new Outbox(d);
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
      // Its permissions go with it, as Cassandra drops a dropped role's; their change records are claimed with the role's.
      await tx.query(`DELETE FROM ${this.n.permissions} WHERE role = $1`, [name]);
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

  private ready(): Promise<void> {
    return this.outbox.ready();
  }

  /** One write through the outbox; a null result (nothing to write) publishes nothing. */
  private async write<T>(plan: (tx: PoolClient) => Promise<{ result: T; affected: string[] }>): Promise<{ result: T; propagation?: Propagation }> {
    const r = await this.outbox.write(async (tx) => {
      const planned = await plan(tx);
      return planned.result === null ? null : planned;
    }, (planned) => this.d.invalidate(planned.affected));
    return { result: (r.result?.result ?? null) as T, propagation: r.propagation };
  }
}
