/** Text output of authctl: nodetool-like lines for people and for grep/awk. --json bypasses all of it. */

import type { CacheName, CacheSettings, LoginResult, NodeInfo, Propagation, RoleInfo, SettingsChange, SettingsView } from '../types';

const CASSANDRA_NAMES: Record<CacheName, string> = { credentials: 'CredentialsCache', roles: 'RolesCache' };

export function cacheLabel(caches: readonly CacheName[] | undefined): string {
  const list = caches ?? (['credentials', 'roles'] as const);
  return list.map((c) => CASSANDRA_NAMES[c]).join(' and ');
}

/** Every cached entry a node holds: credentials cache plus roles cache. */
export function entries(n: NodeInfo): number {
  return (n.cache?.credentials?.size ?? 0) + (n.cache?.roles?.size ?? 0);
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
  if (cache !== undefined) return cacheSettingsLines(view.settings[cache]);
  const out: string[] = [];
  for (const c of ['credentials', 'roles'] as const) {
    const s = view.settings[c];
    if (s === undefined) continue;
    out.push(`${CASSANDRA_NAMES[c]}:`, ...cacheSettingsLines(s).map((l) => `  ${l}`));
  }
  return out;
}

/** Cassandra's setauthcacheconfig says "Changed Validity Period to 3000"; so do we, naming the cache. */
export function settingsChangeLines(change: SettingsChange): string[] {
  const target = change.cache === undefined ? cacheLabel(undefined) : CASSANDRA_NAMES[change.cache];
  const lines: string[] = [];
  const say = (what: string, value: number | boolean | undefined) => {
    if (value !== undefined) lines.push(`Changed ${what} to ${value} for ${target}${change.persistent === true ? ' (persistent)' : ''}`);
  };
  say('Validity Period', change.ttl_ms);
  say('Update Interval', change.refresh_ms);
  say('Max Entries', change.max_entries);
  say('Active Update', change.active_update);
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
