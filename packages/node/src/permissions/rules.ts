/**
 * The permission rules, pure (docs/architecture.md, "Permissions and impersonation"): a grant on a resource covers
 * every resource below it (`data` covers `data/ks/table`), permissions come through the role
 * hierarchy, and `via` names the role whose grant decided. Every store, the caches and the tests
 * use these functions, so the rules exist once — as grant-graph.ts does for role grants.
 */
import { normalizePermission } from '@authcache/protocol';

/** One role's direct grants: resource → permissions (upper case, sorted). */
export type Grants = ReadonlyMap<string, readonly string[]>;

/** Granted on a resource, it covers every permission there (Cassandra's `ALL PERMISSIONS`). */
export const ALL = 'ALL';

/**
 * The resolved permissions of one role set: resource → permission → the role that granted it.
 * Built once per role set and cached; a check walks at most the resource's depth in map lookups.
 */
export interface PermissionTable {
  readonly byResource: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** a superuser role in the set: every permission on every resource (Cassandra's rule) */
  readonly superuser: boolean;
}

export interface Decision {
  allowed: boolean;
  via: string | null;
}

const DENIED: Decision = Object.freeze({ allowed: false, via: null });
const BY_SUPERUSER: Decision = Object.freeze({ allowed: true, via: null });

/** The resource and every parent, most specific first: `a/b/c` → `a/b/c`, `a/b`, `a`. */
export function ancestors(resource: string): string[] {
  const out = [resource];
  for (let i = resource.lastIndexOf('/'); i > 0; i = resource.lastIndexOf('/', i - 1)) out.push(resource.slice(0, i));
  return out;
}

/**
 * The order in which roles are asked for a grant, which decides `via` when several grant the same
 * thing: the user's own role first, then the roles it holds by name. Deterministic on every node.
 */
export function roleOrder(username: string, held: readonly string[]): string[] {
  const rest = [...new Set(held)].filter((r) => r !== username).sort();
  return [username, ...rest];
}

/** Merges the grants of `order` (first role wins a tie) into one table. */
export function buildTable(order: readonly string[], grantsOf: (role: string) => Grants | undefined, superuser: boolean): PermissionTable {
  const byResource = new Map<string, Map<string, string>>();
  for (const role of order) {
    const grants = grantsOf(role);
    if (!grants) continue;
    for (const [resource, permissions] of grants) {
      let m = byResource.get(resource);
      if (!m) byResource.set(resource, (m = new Map()));
      for (const p of permissions) if (!m.has(p)) m.set(p, role);
    }
  }
  return { byResource, superuser };
}

/**
 * Whether the table allows `permission` on `resource`: the most specific resource with a grant of
 * it (or of ALL) decides `via`. Walks the parents without allocating an array (the hot path).
 */
export function check(table: PermissionTable, resource: string, permission: string): Decision {
  if (table.superuser) return BY_SUPERUSER;
  const p = normalizePermission(permission);
  let r = resource;
  for (;;) {
    const m = table.byResource.get(r);
    if (m !== undefined) {
      const via = m.get(p) ?? m.get(ALL);
      if (via !== undefined) return { allowed: true, via };
    }
    const i = r.lastIndexOf('/');
    if (i <= 0) return DENIED;
    r = r.slice(0, i);
  }
}

/** Permissions after a grant: the union, upper case, sorted. */
export function afterGrant(current: readonly string[], add: readonly string[]): string[] {
  return [...new Set([...current, ...add.map(normalizePermission)])].sort();
}

/** Permissions after a revoke; revoking ALL revokes everything on that resource. */
export function afterRevoke(current: readonly string[], remove: readonly string[]): string[] {
  const gone = new Set(remove.map(normalizePermission));
  if (gone.has(ALL)) return [];
  return current.filter((p) => !gone.has(p));
}

/**
 * A stored permission list (JSON array) as the rules read it. Anything else (a hand-edited key,
 * a value of another version) reads as no grant: an unreadable grant never allows.
 */
export function parseStored(raw: string | null | undefined): string[] {
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    if (!Array.isArray(v)) return [];
    return [...new Set(v.filter((x): x is string => typeof x === 'string' && x.length > 0).map(normalizePermission))].sort();
  } catch {
    return [];
  }
}
