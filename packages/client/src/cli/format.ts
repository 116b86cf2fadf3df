/** Text output of authctl: nodetool-like lines for people and for grep/awk. --json bypasses all of it. */

import {
  CACHE_NAMES,
  type AuthorizeResult,
  type CacheName,
  type CacheSettings,
  type CacheStats,
  type LoginResult,
  type NodeInfo,
  type PermissionGrant,
  type Propagation,
  type RoleInfo,
  type RolePermissionGrant,
  type SettingsChange,
  type SettingsView,
} from '../types';
import { RefusedError } from './exit-codes';

/** Cassandra's names of the caches (ImpersonationCache is OpenSearch's impersonation cache under the same scheme). */
export const CASSANDRA_NAMES: Readonly<Record<string, string>> = Object.freeze({
  credentials: 'CredentialsCache',
  roles: 'RolesCache',
  permissions: 'PermissionsCache',
  impersonation: 'ImpersonationCache',
});

const cassandraName = (c: string): string => CASSANDRA_NAMES[c] ?? c;

export function cacheLabel(caches: readonly CacheName[] | undefined): string {
  const list: readonly string[] = caches ?? CACHE_NAMES;
  if (list.length <= 2) return list.map(cassandraName).join(' and ');
  return `${list.slice(0, -1).map(cassandraName).join(', ')} and ${cassandraName(list[list.length - 1]!)}`;
}

/** Every cached entry a node holds, in every cache it reports. */
export function entries(n: NodeInfo): number {
  const caches = (n.cache ?? {}) as Partial<Record<string, CacheStats>>;
  return Object.values(caches).reduce((sum, c) => sum + (c?.size ?? 0), 0);
}

/**
 * `UN  <address>  <node-id>  seq=<n>  entries=<n>`, one line per member, columns padded so that they
 * line up; awk splits on runs of spaces, so `awk '{print $2}'` is the address whatever the padding.
 */
export function statusLines(nodes: readonly NodeInfo[]): string[] {
  const addrWidth = Math.max(0, ...nodes.map((n) => n.address.length));
  const idWidth = Math.max(0, ...nodes.map((n) => n.id.length));
  return nodes.map((n) => {
    const state = n.status === 'UP' ? 'UN' : 'DN';
    return `${state}  ${n.address.padEnd(addrWidth)}  ${n.id.padEnd(idWidth)}  seq=${n.applied_seq}  entries=${entries(n)}`;
  });
}

/** What a cluster-wide (or --local) change reached. The first line is what scripts without --json grep. */
export function propagationLines(p: Propagation & { members?: Array<{ node: string }> }, local: boolean): string[] {
  if (local) {
    const node = p.members?.[0]?.node;
    return [`Applied on ${node ?? 'the target node'} only (--local)`];
  }
  const head = `Applied on ${p.nodes.successful}/${p.nodes.total} nodes (seq ${p.seq})`;
  if (p.nodes.failed === 0) return [head];
  const failures = p.failures ?? [];
  return [`${head}; FAILED on ${p.nodes.failed}:`, ...failures.map((f) => `  FAILED  ${f.node}  ${f.reason}`)];
}

export function partialMessage(failedNodes: readonly string[]): string {
  const who = failedNodes.length === 0 ? 'some nodes' : failedNodes.join(', ');
  return `not applied everywhere: ${who} did not confirm the change; retry, or check the members with authctl status`;
}

/** Cassandra's getauthcacheconfig lines. */
export function cacheSettingsLines(s: CacheSettings): string[] {
  return [
    `Validity Period: ${s.ttl_ms}`,
    `Update Interval: ${s.refresh_ms}`,
    `Max Entries: ${s.max_entries}`,
    `Active Update: ${s.active_update}`,
  ];
}

/** One cache: exactly Cassandra's four lines. Every cache: each under its name. */
export function settingsLines(view: SettingsView, cache: CacheName | undefined): string[] {
  const settings = view.settings as Partial<Record<string, CacheSettings>>;
  if (cache !== undefined) {
    const s = settings[cache];
    // A node older than this authctl does not know the cache: say so instead of printing nothing.
    if (s === undefined) throw new RefusedError(`the node reports no settings for ${cassandraName(cache)} (a node without that cache?)`);
    return cacheSettingsLines(s);
  }
  const out: string[] = [];
  for (const c of CACHE_NAMES) {
    const s = settings[c];
    if (s === undefined) continue;
    out.push(`${cassandraName(c)}:`, ...cacheSettingsLines(s).map((l) => `  ${l}`));
  }
  return out;
}

/**
 * Cassandra's setauthcacheconfig lines, exactly ("Changed Validity Period to 3000", in its order; an
 * update interval given as -1 is printed as -1, as nodetool does), then one line naming the caches
 * changed and whether the change is persistent, which nodetool has no need to say.
 * `given` holds the values as typed where they differ from what is sent (-1 is sent as refresh 0).
 */
export function settingsChangeLines(change: SettingsChange, given: { updateInterval?: number } = {}): string[] {
  const lines: string[] = [];
  const say = (what: string, value: number | boolean | undefined) => {
    if (value !== undefined) lines.push(`Changed ${what} to ${value}`);
  };
  say('Validity Period', change.ttl_ms);
  say('Update Interval', change.refresh_ms === undefined ? undefined : (given.updateInterval ?? change.refresh_ms));
  say('Max Entries', change.max_entries);
  say('Active Update', change.active_update);
  const target = change.cache === undefined ? `every cache (${cacheLabel(undefined)})` : cassandraName(change.cache);
  lines.push(`For ${target}, ${change.persistent === true ? 'persistent' : 'transient'}`);
  return lines;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

export function roleSummary(r: RoleInfo): string {
  return `login=${yesNo(r.login)} superuser=${yesNo(r.superuser)} password=${r.has_password ? 'set' : 'none'} roles=${r.roles.length === 0 ? '-' : r.roles.join(',')}`;
}

/** LIST ROLES as a table; the header starts with "role", never with UN/DN. */
export function roleTable(roles: readonly RoleInfo[]): string[] {
  const rows = [
    ['role', 'login', 'superuser', 'password', 'member_of'],
    ...roles.map((r) => [r.name, yesNo(r.login), yesNo(r.superuser), r.has_password ? 'set' : 'none', r.roles.length === 0 ? '-' : r.roles.join(',')]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

export function loginAccepted(r: LoginResult): string {
  return (
    `Login accepted: ${r.username} on ${r.node} (roles: ${r.roles.length === 0 ? '-' : r.roles.join(',')}; ` +
    `superuser: ${yesNo(r.superuser)}; ${r.cached ? 'from cache' : 'checked against the backend'})`
  );
}

export function loginRejected(username: string, reason: string): string {
  return `Login rejected: ${username} (${reason})`;
}

/** CQL's LIST PERMISSIONS as a table: role, resource, permission (one line per permission, grep-able). */
export function permissionTable(grants: ReadonlyArray<RolePermissionGrant | (PermissionGrant & { role?: string })>, role?: string): string[] {
  const rows = [['role', 'resource', 'permission']];
  for (const g of grants) for (const p of g.permissions) rows.push([g.role ?? role ?? '-', g.resource, p]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

export function authorizeLine(username: string, resource: string, permission: string, r: AuthorizeResult): string {
  const who = r.impersonated_by !== undefined ? `${r.username ?? username} (as ${r.impersonated_by})` : username;
  return r.allowed
    ? `Allowed: ${who} ${permission} ON ${resource} (via ${r.via ?? 'superuser'}; ${r.cached ? 'from cache' : 'checked against the backend'})`
    : `Denied: ${who} ${permission} ON ${resource}`;
}
