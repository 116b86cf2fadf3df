/** The SDK: one method per node API route, with failover across the configured nodes. */

import { AuthcacheError } from './errors';
import { normalizeNodes } from './nodes';
import { type CallSpec, type Credentials, Transport } from './transport';
import * as perms from './permission-calls';
import {
  type AuthInfo,
  type AuthorizeBatchResult,
  type AuthorizeCheck,
  type AuthorizeResult,
  type ImpersonationOptions,
  type PermissionGrant,
  type PermissionResult,
  type RolePermissionGrant,
  CACHE_NAMES,
  type CacheName,
  type ClusterSettings,
  type ClusterSettingsChange,
  type ClusterSettingsResult,
  type DropResult,
  type FlushOptions,
  type FlushResult,
  type Health,
  type LoginResult,
  type NodeInfo,
  type NodeRemoved,
  type AuditEntry,
  type RoleChange,
  type RoleInfo,
  type RoleResult,
  type SettingsChange,
  type SettingsResult,
  type SettingsView,
} from './types';

export interface ClientOptions {
  /** base URLs (http://127.0.0.1:7001), 'host:port' (http:// added), or one comma-separated string */
  nodes: string | string[];
  /** admin bearer token (AUTHCACHE_ADMIN_TOKEN) */
  token?: string;
  /** per request to one node, connect to last body byte; default 5000 */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

export interface ClusterSettingsQuery {
  /** flat_settings=true */
  flat?: boolean;
  /** include_defaults=true */
  includeDefaults?: boolean;
}

function settingsQuery(o: ClusterSettingsQuery): CallSpec['query'] {
  return { flat_settings: o.flat === true ? 'true' : undefined, include_defaults: o.includeDefaults === true ? 'true' : undefined };
}

const ADMIN: Credentials = { type: 'bearer' };
const NONE: Credentials = { type: 'none' };

export class AuthcacheClient {
  /** canonical base URLs, in the order given */
  readonly nodeUrls: readonly string[];
  readonly timeoutMs: number;
  private readonly transport: Transport;
  private closed = false;

  constructor(opts: ClientOptions) {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive integer');
    // Checked here because fetch would echo an invalid header value, token included, in its error.
    if (opts.token !== undefined && !/^[\x21-\x7e]+$/.test(opts.token)) {
      throw new TypeError('token must be non-empty printable ASCII without spaces');
    }
    this.nodeUrls = normalizeNodes(opts.nodes);
    this.timeoutMs = timeoutMs;
    this.transport = new Transport(this.nodeUrls, timeoutMs, opts.token);
  }

  /**
   * 401 -> InvalidCredentialsError, never retried on another node. With `impersonateAs`, the
   * answer is the target's (`impersonated_by` names the caller); not allowed -> ForbiddenError.
   */
  async login(username: string, password: string, opts?: ImpersonationOptions): Promise<LoginResult> {
    const headers = perms.impersonationHeaders(opts);
    return this.call<LoginResult>({
      method: 'POST',
      path: '/v1/login',
      body: { username, password },
      kind: 'login',
      credentials: NONE,
      ...(headers ? { headers } : {}),
    });
  }

  /** "May this user do X" (no admin rights needed). 403 -> ForbiddenError when `impersonateAs` is not allowed. */
  async authorize(username: string, resource: string, permission: string, opts?: ImpersonationOptions): Promise<AuthorizeResult> {
    return this.call<AuthorizeResult>(perms.authorize(username, resource, permission, opts));
  }

  /** Many checks for one user in one call, answered in order. */
  async authorizeBatch(username: string, checks: readonly AuthorizeCheck[], opts?: ImpersonationOptions): Promise<AuthorizeBatchResult> {
    return this.call<AuthorizeBatchResult>(perms.authorizeBatch(username, checks, opts));
  }

  /** CQL's GRANT: invalidated on every node before it returns. 404 -> NotFoundError (no such role). */
  async grantPermissions(role: string, resource: string, permissions: readonly string[]): Promise<PermissionResult> {
    return this.call<PermissionResult>(perms.permissionChange('PUT', role, resource, permissions));
  }

  /** CQL's REVOKE; revoking ALL revokes every permission on the resource. */
  async revokePermissions(role: string, resource: string, permissions: readonly string[]): Promise<PermissionResult> {
    return this.call<PermissionResult>(perms.permissionChange('DELETE', role, resource, permissions));
  }

  /** A role's direct grants. */
  async listPermissions(role: string): Promise<PermissionGrant[]> {
    return this.call<PermissionGrant[]>(perms.listPermissions(role));
  }

  /** Every role's grants. */
  async listAllPermissions(): Promise<RolePermissionGrant[]> {
    return this.call<RolePermissionGrant[]>(perms.listPermissions(undefined));
  }

  /** OpenSearch-compatible check over HTTP Basic; 401 -> InvalidCredentialsError. */
  async authinfo(username: string, password: string): Promise<AuthInfo> {
    // RFC 7617: the user-id of Basic cannot hold a colon; the node would split it at the wrong place.
    if (username.includes(':')) throw new TypeError('username must not contain ":" for HTTP Basic authentication');
    return this.call<AuthInfo>({
      method: 'GET',
      path: '/_plugins/_security/authinfo',
      kind: 'login',
      credentials: { type: 'basic', username, password },
    });
  }

  async flushAll(opts: FlushOptions = {}): Promise<FlushResult> {
    return this.call<FlushResult>({
      method: 'DELETE',
      path: '/v1/cache',
      query: flushQuery(opts),
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  async flushUser(username: string, opts: FlushOptions = {}): Promise<FlushResult> {
    return this.call<FlushResult>({
      method: 'DELETE',
      path: `/v1/cache/users/${segment(username, 'username')}`,
      query: flushQuery(opts),
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  /** One call per user, in order; the first failure stops the loop and is thrown. */
  async flushUsers(usernames: string[], opts: FlushOptions = {}): Promise<FlushResult[]> {
    for (const u of usernames) segment(u, 'username');
    const results: FlushResult[] = [];
    for (const u of usernames) results.push(await this.flushUser(u, opts));
    return results;
  }

  async getSettings(): Promise<SettingsView> {
    return this.call<SettingsView>({ method: 'GET', path: '/v1/cache/settings', kind: 'admin', credentials: ADMIN });
  }

  async putSettings(change: SettingsChange & { local?: boolean }): Promise<SettingsResult> {
    const { local, ...body } = change;
    if (body.cache !== undefined) cacheName(body.cache);
    return this.call<SettingsResult>({
      method: 'PUT',
      path: '/v1/cache/settings',
      query: { local: local === true ? 'true' : undefined },
      body,
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  /** OpenSearch's flags: `flat` for flat names instead of nested objects, `includeDefaults` for a `defaults` section. */
  async getClusterSettings(opts: ClusterSettingsQuery = {}): Promise<ClusterSettings> {
    return this.call<ClusterSettings>({ method: 'GET', path: '/_cluster/settings', query: settingsQuery(opts), kind: 'admin', credentials: ADMIN });
  }

  async putClusterSettings(body: ClusterSettingsChange, opts: Pick<ClusterSettingsQuery, 'flat'> = {}): Promise<ClusterSettingsResult> {
    return this.call<ClusterSettingsResult>({
      method: 'PUT',
      path: '/_cluster/settings',
      query: settingsQuery(opts),
      body,
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  /** Create (status 201, created: true) or alter (200, created: false). */
  async putRole(name: string, change: RoleChange): Promise<RoleResult> {
    return this.call<RoleResult>({
      method: 'PUT',
      path: `/v1/roles/${segment(name, 'role name')}`,
      body: change,
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  /** 404 -> NotFoundError */
  async getRole(name: string): Promise<RoleInfo> {
    return this.call<RoleInfo>({
      method: 'GET',
      path: `/v1/roles/${segment(name, 'role name')}`,
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  async listRoles(): Promise<RoleInfo[]> {
    return this.call<RoleInfo[]>({ method: 'GET', path: '/v1/roles', kind: 'admin', credentials: ADMIN });
  }

  /** 404 -> NotFoundError */
  async dropRole(name: string): Promise<DropResult> {
    return this.call<DropResult>({
      method: 'DELETE',
      path: `/v1/roles/${segment(name, 'role name')}`,
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  async nodes(): Promise<NodeInfo[]> {
    return this.call<NodeInfo[]>({ method: 'GET', path: '/v1/cluster/nodes', kind: 'admin', credentials: ADMIN });
  }

  /** `GET /v1/audit`: admin calls, newest first; `since` an ISO time, ms epoch or a duration (`1h`). */
  async audit(q: { since?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const query = new URLSearchParams();
    if (q.since !== undefined) query.set('since', q.since);
    if (q.limit !== undefined) query.set('limit', String(q.limit));
    const qs = query.toString();
    return this.call<AuditEntry[]>({ method: 'GET', path: `/v1/audit${qs ? `?${qs}` : ''}`, kind: 'admin', credentials: ADMIN });
  }

  /**
   * Forget a member that went silent without leaving (`nodetool removenode`): it stops being listed and
   * stops counting as a failure in admin answers. 404 -> NotFoundError (no such member).
   */
  async removeNode(id: string): Promise<NodeRemoved> {
    return this.call<NodeRemoved>({
      method: 'DELETE',
      path: `/v1/cluster/nodes/${segment(id, 'node id')}`,
      kind: 'admin',
      credentials: ADMIN,
    });
  }

  /**
   * The first node that answers reports its own health: a 503 (STARTING/DEGRADED) body is returned,
   * not thrown, and not skipped for another node, since it describes that node (see body.node).
   */
  async health(): Promise<Health> {
    return this.call<Health>({
      method: 'GET',
      path: '/health',
      kind: 'open',
      credentials: NONE,
      accept: [200, 503],
    });
  }

  /** Nothing to free with the global fetch; later calls throw, so callers keep working if a pool is added. */
  close(): void {
    this.closed = true;
  }

  private async call<T>(spec: CallSpec): Promise<T> {
    if (this.closed) throw new AuthcacheError('client is closed');
    return (await this.transport.call<T>(spec)).body;
  }
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

/**
 * One encoded path segment. '.' and '..' are refused: encodeURIComponent leaves them as they are and the
 * URL parser resolves them before the request leaves, so they would address another route.
 */
function segment(value: string, what: string): string {
  if (value === '') throw new TypeError(`${what} must not be empty`);
  if (value === '.' || value === '..') throw new TypeError(`${what} cannot be "." or ".." in a URL path`);
  return encodeURIComponent(value);
}
