/**
 * Grants of permissions in PostgreSQL (AUTHCACHE_BACKEND=postgres; docs/architecture.md,
 * "Permissions and impersonation" and "Backends"): the `role_permissions` table of schema
 * version 2 (Cassandra's system_auth.role_permissions shape). Reads are one query; a grant or
 * revoke is one statement that merges into the row in place (so concurrent writers on other
 * nodes commute: none is planned from a value another may be changing), written through the
 * outbox (outbox.ts) so its invalidation is published before the call returns, or by the relay.
 * Changes made in SQL reach the nodes through the trigger and the relay, like roles.
 */
import { normalizePermission, type RolePermissionGrant } from '@authcache/protocol';
import type { PermissionStore, PermissionWriteResult, PublishOps } from '../../permissions/permission-store';
import { ALL, type Grants } from '../../permissions/rules';
import { RoleStoreError } from '../role-store';
import type { Outbox } from './outbox';
import { errorMessage, type SqlNames } from './pg';
import type { Queryable } from './rows';

interface PermissionRow {
  role: string;
  resource: string;
  permissions: (string | null)[] | null;
}

export interface PostgresPermissionDeps {
  db: Queryable;
  names: SqlNames;
  outbox: Outbox;
  onDatabase(ok: boolean, err?: unknown): void;
}

/** Permissions as the rules read them: upper case, distinct, sorted; NULLs and empty names (SQL allows them) left out. */
function normalized(perms: readonly (string | null)[] | null): string[] {
  return [...new Set((perms ?? []).filter((p): p is string => typeof p === 'string' && p.length > 0).map(normalizePermission))].sort();
}

/** Rows grouped by role then resource; rows of one (role, resource) are merged (a table without a key may hold several). */
function group(rows: readonly PermissionRow[]): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const r of rows) {
    const perms = normalized(r.permissions);
    if (perms.length === 0) continue;
    let g = out.get(r.role);
    if (!g) out.set(r.role, (g = new Map()));
    g.set(r.resource, normalized([...(g.get(r.resource) ?? []), ...perms]));
  }
  return out;
}

export class PostgresPermissionStore implements PermissionStore {
  constructor(private readonly d: PostgresPermissionDeps) {}

  private get n(): SqlNames {
    return this.d.names;
  }

  async grantsOf(roles: readonly string[]): Promise<Map<string, Grants>> {
    if (roles.length === 0) return new Map();
    return group(await this.read(`SELECT role, resource, permissions FROM ${this.n.permissions} WHERE role = ANY($1::text[])`, [roles]));
  }

  async list(role?: string): Promise<RolePermissionGrant[]> {
    const grants = group(await this.read(`SELECT role, resource, permissions FROM ${this.n.permissions} WHERE $1::text IS NULL OR role = $1`, [role ?? null]));
    const out: RolePermissionGrant[] = [];
    for (const r of [...grants.keys()].sort()) {
      const g = grants.get(r)!;
      for (const resource of [...g.keys()].sort()) out.push({ role: r, resource, permissions: g.get(resource)! });
    }
    return out;
  }

  grant(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    const add = normalized(permissions);
    return this.write(role, resource, publish, async (tx) => {
      // Merged in the row itself: the row lock orders concurrent grants, none overwrites another.
      const updated = await tx.query(
        `UPDATE ${this.n.permissions} SET permissions = ARRAY(SELECT DISTINCT p FROM unnest(permissions || $3::text[]) AS p WHERE p IS NOT NULL ORDER BY p)
          WHERE role = $1 AND resource = $2`,
        [role, resource, add],
      );
      if ((updated.rowCount ?? 0) === 0) await tx.query(`INSERT INTO ${this.n.permissions} (role, resource, permissions) VALUES ($1, $2, $3::text[])`, [role, resource, add]);
    });
  }

  revoke(role: string, resource: string, permissions: readonly string[], publish: PublishOps): Promise<PermissionWriteResult> {
    const gone = normalized(permissions);
    return this.write(role, resource, publish, async (tx) => {
      if (gone.includes(ALL)) {
        await tx.query(`DELETE FROM ${this.n.permissions} WHERE role = $1 AND resource = $2`, [role, resource]);
        return;
      }
      await tx.query(
        `UPDATE ${this.n.permissions} SET permissions = ARRAY(SELECT p FROM unnest(permissions) AS p WHERE p IS NOT NULL AND upper(p) <> ALL($3::text[]) ORDER BY p)
          WHERE role = $1 AND resource = $2`,
        [role, resource, gone],
      );
      // Cassandra keeps no empty row either: the last revoke removes the resource.
      await tx.query(`DELETE FROM ${this.n.permissions} WHERE role = $1 AND resource = $2 AND coalesce(cardinality(array_remove(permissions, NULL)), 0) = 0`, [role, resource]);
    });
  }

  /** The change and its invalidation: the outbox commits it with its change records, then publishes (no Redis ops). */
  private async write(role: string, resource: string, publish: PublishOps, change: (tx: Queryable) => Promise<void>): Promise<PermissionWriteResult> {
    const r = await this.d.outbox.write(
      async (tx) => {
        await change(tx);
        const { rows } = await tx.query<PermissionRow>(`SELECT role, resource, permissions FROM ${this.n.permissions} WHERE role = $1 AND resource = $2`, [role, resource]);
        return { permissions: normalized(rows.flatMap((x) => x.permissions ?? [])) };
      },
      () => publish([]),
    );
    return { role, resource, permissions: r.result.permissions, propagation: r.propagation! };
  }

  private async read(text: string, values: unknown[]): Promise<PermissionRow[]> {
    await this.d.outbox.ready();
    try {
      const { rows } = await this.d.db.query<PermissionRow>(text, values);
      this.d.onDatabase(true);
      return rows;
    } catch (err) {
      this.d.onDatabase(false, err);
      throw new RoleStoreError('unavailable', `PostgreSQL unreachable: ${errorMessage(err)}`);
    }
  }
}
