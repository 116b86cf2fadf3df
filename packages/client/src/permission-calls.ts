/**
 * The calls of docs/architecture.md, "Permissions and impersonation" (permissions and impersonation) as request specs, checked before they
 * leave: a bad resource, permission or batch is a TypeError here rather than a 400 from a node.
 * The client's methods send them (client.ts).
 */
import type { CallSpec } from './transport';
import { IMPERSONATE_HEADER, LIMITS, permissionProblem, resourceProblem, type AuthorizeCheck, type ImpersonationOptions } from './types';

const ADMIN = { type: 'bearer' } as const;
const NONE = { type: 'none' } as const;

/** One encoded path segment; '.' and '..' would be resolved away by the URL parser. */
export function segment(value: string, what: string): string {
  if (value === '') throw new TypeError(`${what} must not be empty`);
  if (value === '.' || value === '..') throw new TypeError(`${what} cannot be "." or ".." in a URL path`);
  return encodeURIComponent(value);
}

function checkResource(resource: string): void {
  const problem = resourceProblem(resource);
  if (problem) throw new TypeError(problem);
}

function checkPermissions(permissions: readonly string[]): void {
  if (!Array.isArray(permissions) || permissions.length === 0 || permissions.length > LIMITS.permissionsPerChange) {
    throw new TypeError(`permissions must name 1..${LIMITS.permissionsPerChange} permissions`);
  }
  for (const p of permissions) {
    const problem = permissionProblem(p);
    if (problem) throw new TypeError(problem);
  }
}

/** The impersonation header, or none; a value fetch could not send (or the node would refuse) is a TypeError. */
export function impersonationHeaders(o: ImpersonationOptions | undefined): Record<string, string> | undefined {
  const target = o?.impersonateAs;
  if (target === undefined) return undefined;
  if (target.length === 0 || target.length > LIMITS.username) throw new TypeError(`impersonateAs must be 1..${LIMITS.username} characters`);
  // A header value is Latin-1 without controls; the node also refuses a "/" (roles/a/b is below roles/a).
  if (!/^[\x20-\x7e\xa0-\xff]+$/.test(target) || target.includes('/')) throw new TypeError('impersonateAs must be printable, without "/"');
  return { [IMPERSONATE_HEADER]: target };
}

export function permissionChange(method: 'PUT' | 'DELETE', role: string, resource: string, permissions: readonly string[]): CallSpec {
  checkResource(resource);
  checkPermissions(permissions);
  return { method, path: `/v1/roles/${segment(role, 'role name')}/permissions`, body: { resource, permissions: [...permissions] }, kind: 'admin', credentials: ADMIN };
}

export function listPermissions(role: string | undefined): CallSpec {
  const path = role === undefined ? '/v1/permissions' : `/v1/roles/${segment(role, 'role name')}/permissions`;
  return { method: 'GET', path, kind: 'admin', credentials: ADMIN };
}

export function authorize(username: string, resource: string, permission: string, o?: ImpersonationOptions): CallSpec {
  checkResource(resource);
  checkPermissions([permission]);
  const headers = impersonationHeaders(o);
  return { method: 'POST', path: '/v1/authorize', body: { username, resource, permission }, kind: 'open', credentials: NONE, ...(headers ? { headers } : {}) };
}

export function authorizeBatch(username: string, checks: readonly AuthorizeCheck[], o?: ImpersonationOptions): CallSpec {
  if (!Array.isArray(checks) || checks.length === 0 || checks.length > LIMITS.authorizeBatch) {
    throw new TypeError(`checks must hold 1..${LIMITS.authorizeBatch} checks`);
  }
  for (const c of checks) {
    checkResource(c.resource);
    checkPermissions([c.permission]);
  }
  const headers = impersonationHeaders(o);
  return {
    method: 'POST',
    path: '/v1/authorize/batch',
    body: { username, checks: checks.map((c) => ({ resource: c.resource, permission: c.permission })) },
    kind: 'open',
    credentials: NONE,
    ...(headers ? { headers } : {}),
  };
}
