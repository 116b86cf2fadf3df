/**
 * The admin routes (caches, settings, cluster settings, roles, membership, audit) as request specs,
 * checked before they leave: a bad cache name or path segment is a TypeError here rather than a 400
 * from a node. The client's methods send them (client.ts), as they send permission-calls.ts's.
 */
import type { CallSpec, Credentials } from './transport';
import { segment } from './permission-calls';
import { CACHE_NAMES, type CacheName, type ClusterSettingsChange, type FlushOptions, type RoleChange, type SettingsChange } from './types';

export const ADMIN: Credentials = { type: 'bearer' };

export interface ClusterSettingsQuery {
  /** flat_settings=true */
  flat?: boolean;
  /** include_defaults=true */
  includeDefaults?: boolean;
}

function settingsQuery(o: ClusterSettingsQuery): CallSpec['query'] {
  return { flat_settings: o.flat === true ? 'true' : undefined, include_defaults: o.includeDefaults === true ? 'true' : undefined };
}

const admin = (method: CallSpec['method'], path: string, more: Partial<CallSpec> = {}): CallSpec => ({
  method,
  path,
  kind: 'admin',
  credentials: ADMIN,
  ...more,
});

export function flushAll(opts: FlushOptions): CallSpec {
  return admin('DELETE', '/v1/cache', { query: flushQuery(opts) });
}

export function flushUser(username: string, opts: FlushOptions): CallSpec {
  return admin('DELETE', `/v1/cache/users/${segment(username, 'username')}`, { query: flushQuery(opts) });
}

export function getSettings(): CallSpec {
  return admin('GET', '/v1/cache/settings');
}

export function putSettings(change: SettingsChange & { local?: boolean }): CallSpec {
  const { local, ...body } = change;
  if (body.cache !== undefined) cacheName(body.cache);
  return admin('PUT', '/v1/cache/settings', { query: { local: local === true ? 'true' : undefined }, body });
}

export function getClusterSettings(opts: ClusterSettingsQuery): CallSpec {
  return admin('GET', '/_cluster/settings', { query: settingsQuery(opts) });
}

export function putClusterSettings(body: ClusterSettingsChange, opts: Pick<ClusterSettingsQuery, 'flat'>): CallSpec {
  return admin('PUT', '/_cluster/settings', { query: settingsQuery(opts), body });
}

export function putRole(name: string, change: RoleChange): CallSpec {
  return admin('PUT', `/v1/roles/${segment(name, 'role name')}`, { body: change });
}

export function getRole(name: string): CallSpec {
  return admin('GET', `/v1/roles/${segment(name, 'role name')}`);
}

export function listRoles(): CallSpec {
  return admin('GET', '/v1/roles');
}

export function dropRole(name: string): CallSpec {
  return admin('DELETE', `/v1/roles/${segment(name, 'role name')}`);
}

export function nodes(): CallSpec {
  return admin('GET', '/v1/cluster/nodes');
}

export function removeNode(id: string): CallSpec {
  return admin('DELETE', `/v1/cluster/nodes/${segment(id, 'node id')}`);
}

/** `since` an ISO time, ms epoch or a duration (`1h`). */
export function audit(q: { since?: string; limit?: number }): CallSpec {
  const query = new URLSearchParams();
  if (q.since !== undefined) query.set('since', q.since);
  if (q.limit !== undefined) query.set('limit', String(q.limit));
  const qs = query.toString();
  return admin('GET', `/v1/audit${qs ? `?${qs}` : ''}`);
}

/** Each user's name is checked before the first call, so a bad one sends nothing. */
export function checkUsernames(usernames: readonly string[]): void {
  for (const u of usernames) segment(u, 'username');
}

function flushQuery(opts: FlushOptions): CallSpec['query'] {
  let caches: CacheName[] | undefined;
  if (opts.caches !== undefined) {
    // An empty list would read as "default: every cache" on the node, the opposite of what was asked.
    if (opts.caches.length === 0) throw new TypeError('caches must name at least one cache');
    caches = [...new Set(opts.caches.map(cacheName))];
  }
  return { local: opts.local === true ? 'true' : undefined, caches };
}

function cacheName(c: string): CacheName {
  if (!(CACHE_NAMES as readonly string[]).includes(c)) {
    throw new TypeError(`unknown cache ${JSON.stringify(c)}; expected one of ${CACHE_NAMES.join(', ')}`);
  }
  return c as CacheName;
}
