/**
 * How grants are laid out in a role's Redis hash (`names.rolePermissions(role)`), pure
 * (docs/architecture.md, "Permissions and impersonation"):
 *
 * - one field per granted (resource, permission): `<resource>\x1f<PERMISSION>` → `1`. A grant is
 *   an HSET of its fields and a revoke an HDEL of its fields, so the writes of two nodes on the
 *   same role commute: neither is planned from a value the other may be changing.
 * - the previous layout, one field per resource holding a JSON list (`data/ks` → `["SELECT"]`), is
 *   still read, and converted to the fields above by the first write on that resource (guarded
 *   by the value read, so a concurrent writer can never bring a revoked permission back).
 *
 * The separator is a control character, which no resource (authz-api.ts refuses them) and no
 * permission name can hold, so a field reads back one way only.
 */
import { normalizePermission } from '@authcache/protocol';
import { parseStored, type Grants } from './rules';

export const FIELD_SEP = '\x1f';

export function grantField(resource: string, permission: string): string {
  return resource + FIELD_SEP + permission;
}

/** A role's hash as grants, both layouts merged; unreadable fields (not a permission list) are left out. */
export function readGrants(h: Record<string, string>): Map<string, readonly string[]> {
  const sets = new Map<string, Set<string>>();
  const add = (resource: string, perms: readonly string[]) => {
    if (perms.length === 0) return;
    let s = sets.get(resource);
    if (!s) sets.set(resource, (s = new Set()));
    for (const p of perms) s.add(p);
  };
  for (const [field, raw] of Object.entries(h)) {
    const at = field.indexOf(FIELD_SEP);
    if (at < 0) add(field, parseStored(raw));
    else if (at > 0 && at < field.length - 1) add(field.slice(0, at), [normalizePermission(field.slice(at + 1))]);
  }
  const out = new Map<string, readonly string[]>();
  for (const [resource, s] of sets) out.set(resource, [...s].sort());
  return out;
}

/** The previous layout's field of `resource`, when the hash still holds one. */
export function legacyValue(h: Record<string, string>, resource: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(h, resource) ? h[resource] : undefined;
}
