/** The SDK: one method per node API route, with failover across the configured nodes. */

import { AuthcacheError } from './errors';
import { normalizeNodes } from './nodes';
import { type CallSpec, type Credentials, Transport } from './transport';
import * as calls from './admin-calls';
import type { ClusterSettingsQuery } from './admin-calls';
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

export type { ClusterSettingsQuery } from './admin-calls';

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
    return this.call<FlushResult>(calls.flushAll(opts));
  }

  async flushUser(username: string, opts: FlushOptions = {}): Promise<FlushResult> {
    return this.call<FlushResult>(calls.flushUser(username, opts));
  }

  /** One call per user, in order; the first failure stops the loop and is thrown. */
  async flushUsers(usernames: string[], opts: FlushOptions = {}): Promise<FlushResult[]> {
    calls.checkUsernames(usernames);
    const results: FlushResult[] = [];
    for (const u of usernames) results.push(await this.flushUser(u, opts));
    return results;
  }

  async getSettings(): Promise<SettingsView> {
    return this.call<SettingsView>(calls.getSettings());
  }

  async putSettings(change: SettingsChange & { local?: boolean }): Promise<SettingsResult> {
    return this.call<SettingsResult>(calls.putSettings(change));
  }

  /** OpenSearch's flags: `flat` for flat names instead of nested objects, `includeDefaults` for a `defaults` section. */
  async getClusterSettings(opts: ClusterSettingsQuery = {}): Promise<ClusterSettings> {
    return this.call<ClusterSettings>(calls.getClusterSettings(opts));
  }

  async putClusterSettings(body: ClusterSettingsChange, opts: Pick<ClusterSettingsQuery, 'flat'> = {}): Promise<ClusterSettingsResult> {
    return this.call<ClusterSettingsResult>(calls.putClusterSettings(body, opts));
  }

  /** Create (status 201, created: true) or alter (200, created: false). */
  async putRole(name: string, change: RoleChange): Promise<RoleResult> {
    return this.call<RoleResult>(calls.putRole(name, change));
  }

  /** 404 -> NotFoundError */
  async getRole(name: string): Promise<RoleInfo> {
    return this.call<RoleInfo>(calls.getRole(name));
  }

  async listRoles(): Promise<RoleInfo[]> {
    return this.call<RoleInfo[]>(calls.listRoles());
  }

  /** 404 -> NotFoundError */
  async dropRole(name: string): Promise<DropResult> {
    return this.call<DropResult>(calls.dropRole(name));
  }

  async nodes(): Promise<NodeInfo[]> {
    return this.call<NodeInfo[]>(calls.nodes());
  }

  /** `GET /v1/audit`: admin calls, newest first; `since` an ISO time, ms epoch or a duration (`1h`). */
  async audit(q: { since?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.call<AuditEntry[]>(calls.audit(q));
  }

  /**
   * Forget a member that went silent without leaving (`nodetool removenode`): it stops being listed and
   * stops counting as a failure in admin answers. 404 -> NotFoundError (no such member).
   */
  async removeNode(id: string): Promise<NodeRemoved> {
    return this.call<NodeRemoved>(calls.removeNode(id));
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
