/**
 * Rows of the roles table as the role store sees them. Columns are read through coalesce so that
 * a table imported from Cassandra with NULLs where we keep defaults reads the same way.
 */
import type { RoleRecord } from '../role-store';
import type { SqlNames } from './pg';

export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface RoleRow {
  role: string;
  salted_hash: string | null;
  can_login: boolean;
  is_superuser: boolean;
  member_of: string[];
}

export const ROLE_SELECT =
  "role, nullif(salted_hash, '') AS salted_hash, coalesce(can_login, false) AS can_login, coalesce(is_superuser, false) AS is_superuser, coalesce(member_of, '{}') AS member_of";

export function toRecord(r: RoleRow): RoleRecord {
  return {
    name: r.role,
    hash: r.salted_hash ?? undefined,
    canLogin: r.can_login,
    superuser: r.is_superuser,
    memberOf: normalizeGrants(r.member_of),
  };
}

/** Grants as the API shows them: distinct, sorted, no NULL entries (SQL allows them). */
export function normalizeGrants(memberOf: readonly (string | null)[] | null): string[] {
  return [...new Set((memberOf ?? []).filter((g): g is string => typeof g === 'string'))].sort();
}

/** Every role with its grants: what the grant-graph rules need, in one round trip. */
export async function loadGraph(db: Queryable, n: SqlNames): Promise<RoleRecord[]> {
  const { rows } = await db.query<RoleRow>(`SELECT ${ROLE_SELECT} FROM ${n.roles} ORDER BY role COLLATE "C"`);
  return rows.map(toRecord);
}
