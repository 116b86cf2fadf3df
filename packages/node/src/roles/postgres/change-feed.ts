/**
 * The change record (`role_changes`, written by the trigger on `roles`) as a feed: what is not
 * yet published, who a batch of changes affects, and the bookkeeping once it is published.
 *
 * The durable cursor is the record itself: a change is pending until `published_at` is set, so
 * a relay that restarts, loses its LISTEN connection or takes over from a dead node simply reads
 * what is still pending. (A high-water mark on `id` would skip a change whose transaction
 * committed after one with a larger id.)
 */
import { holdersOf, needsHolders } from '../grant-graph';
import type { RoleRecord } from '../role-store';
import type { SqlNames } from './pg';
import { normalizeGrants, type Queryable } from './rows';

export interface ChangeRow {
  /** bigint, as the driver returns it. */
  id: string;
  ts: Date;
  who: string;
  origin: string | null;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  role: string;
  old_role: string | null;
  old_can_login: boolean | null;
  new_can_login: boolean | null;
  password_changed: boolean;
  old_superuser: boolean | null;
  new_superuser: boolean | null;
  old_member_of: (string | null)[] | null;
  new_member_of: (string | null)[] | null;
  /** Set for a change of `role_permissions` (schema version 2): the row's resource, and its permissions before and after. */
  resource: string | null;
  old_permissions: (string | null)[] | null;
  new_permissions: (string | null)[] | null;
}

/** True when every change of the batch is a permission change: only the authorization caches are affected. */
export function permissionsOnly(changes: readonly ChangeRow[]): boolean {
  return changes.length > 0 && changes.every((c) => c.resource !== null);
}

export class ChangeFeed {
  constructor(
    private readonly db: Queryable,
    private readonly n: SqlNames,
  ) {}

  /** Unpublished changes in record order, except those a writing node still has a claim on. */
  async pending(limit: number): Promise<ChangeRow[]> {
    const { rows } = await this.db.query<ChangeRow>(
      `SELECT id, ts, who, origin, op, role, old_role, old_can_login, new_can_login, password_changed,
              old_superuser, new_superuser, old_member_of, new_member_of, resource, old_permissions, new_permissions
         FROM ${this.n.changes}
        WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
        ORDER BY id LIMIT $1`,
      [limit],
    );
    return rows;
  }

  /**
   * In the writer's transaction: claims the records the transaction wrote for `claimMs`, during
   * which the relay leaves them to the writer; resolves to their ids.
   */
  async claimOwn(tx: Queryable, claimMs: number): Promise<string[]> {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE ${this.n.changes} SET claimed_until = clock_timestamp() + $1 * interval '1 millisecond'
        WHERE txid = txid_current() AND published_at IS NULL RETURNING id`,
      [claimMs],
    );
    return rows.map((r) => r.id);
  }

  async markPublished(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(`UPDATE ${this.n.changes} SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[]) AND published_at IS NULL`, [ids]);
  }

  /** The writer gave up publishing: the relay takes the records at its next poll. */
  async releaseClaim(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(`UPDATE ${this.n.changes} SET claimed_until = NULL WHERE id = ANY($1::bigint[]) AND published_at IS NULL`, [ids]);
    await this.db.query('SELECT pg_notify($1, $2)', [this.n.channel, 'released']);
  }

  /** Deletes published records older than `retentionMs`; resolves to how many. */
  async prune(retentionMs: number): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM ${this.n.changes} WHERE published_at IS NOT NULL AND published_at < clock_timestamp() - $1 * interval '1 millisecond'`,
      [retentionMs],
    );
    return r.rowCount ?? 0;
  }

  /** How many records wait to be published, and the age of the oldest (for logs and metrics). */
  async backlog(): Promise<{ count: number; oldestMs: number | null }> {
    const { rows } = await this.db.query<{ count: string; oldest_ms: number | null }>(
      `SELECT count(*) AS count, extract(epoch FROM clock_timestamp() - min(ts)) * 1000 AS oldest_ms FROM ${this.n.changes} WHERE published_at IS NULL`,
    );
    return { count: Number(rows[0]?.count ?? 0), oldestMs: rows[0]?.oldest_ms == null ? null : Number(rows[0].oldest_ms) };
  }
}

/**
 * The users whose cached answers a batch of changes makes wrong: each changed role (old and new
 * name of a rename), and the holders of a role whose grants or superuser status changed, that
 * was created or dropped (grant-graph's needsHolders), found in the current grant graph. A
 * permission change affects its role and every holder of it (they inherit its grants).
 */
export async function affectedUsers(changes: readonly ChangeRow[], graph: () => Promise<readonly RoleRecord[]>): Promise<string[]> {
  const users = new Set<string>();
  const needHoldersOf = new Set<string>();
  for (const c of changes) {
    users.add(c.role);
    if (c.old_role !== null) users.add(c.old_role);
    if (c.resource !== null) {
      needHoldersOf.add(c.role);
      if (c.old_role !== null) needHoldersOf.add(c.old_role);
      continue;
    }
    const before = c.op === 'INSERT' ? null : { memberOf: normalizeGrants(c.old_member_of), superuser: c.old_superuser ?? false };
    const after = c.op === 'DELETE' ? null : { memberOf: normalizeGrants(c.new_member_of), superuser: c.new_superuser ?? false };
    if (c.old_role !== null || needsHolders(before, after)) {
      needHoldersOf.add(c.role);
      if (c.old_role !== null) needHoldersOf.add(c.old_role);
    }
  }
  // The whole graph is read only when someone's holders are needed (not for a password or login change).
  if (needHoldersOf.size > 0) {
    const all = await graph();
    for (const r of needHoldersOf) for (const h of holdersOf(r, all)) users.add(h);
  }
  return [...users].sort();
}
