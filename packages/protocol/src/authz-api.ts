/**
 * The HTTP side of permissions and impersonation (docs/architecture.md, "Permissions and impersonation"): bodies of the authorize and grant
 * routes, the rules of resource paths and permission names that the node and the CLI both apply,
 * and their limits (part of LIMITS in api.ts, which re-exports this module).
 */
import type { Propagation } from './api';

export const AUTHZ_LIMITS = Object.freeze({
  /** a resource path (`data/ks/table`, `roles/NAME`), in characters */
  resource: 1024,
  /** `/`-separated segments of one resource */
  resourceSegments: 32,
  /** a permission name (`SELECT`, `IMPERSONATE`, or an operator's own) */
  permission: 64,
  /** permissions in one grant or revoke */
  permissionsPerChange: 64,
  /** checks in one `POST /v1/authorize/batch` */
  authorizeBatch: 256,
});

/** Cassandra's permissions; any other name matching PERMISSION_PATTERN is accepted too (docs/architecture.md, "Permissions and impersonation"). */
export const KNOWN_PERMISSIONS: readonly string[] = Object.freeze(['CREATE', 'ALTER', 'DROP', 'SELECT', 'MODIFY', 'AUTHORIZE', 'DESCRIBE', 'EXECUTE', 'IMPERSONATE', 'ALL']);
/** Letters first, then letters, digits, `_`, `.` or `-`; compared in upper case (`select` is `SELECT`). */
export const PERMISSION_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
/** The permission that lets a role answer as another: held on `roles/TARGET` (OpenSearch's impersonation). */
export const IMPERSONATE = 'IMPERSONATE';
/** The request header that asks to answer as another user (OpenSearch's name). */
export const IMPERSONATE_HEADER = 'security_impersonate_as';

/**
 * Why `s` is not a resource path, or undefined when it is one: 1..AUTHZ_LIMITS.resource characters,
 * `/`-separated, no empty segment (so no leading, trailing or doubled `/`), no `.` or `..`
 * segment, no control characters. Shared by the node's routes and the CLI's usage checks.
 */
export function resourceProblem(s: unknown): string | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > AUTHZ_LIMITS.resource) return `resource must be a string of 1..${AUTHZ_LIMITS.resource} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return 'resource must not contain control characters';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) return 'resource must be well-formed Unicode (lone surrogate)';
  const segments = s.split('/');
  if (segments.length > AUTHZ_LIMITS.resourceSegments) return `resource has more than ${AUTHZ_LIMITS.resourceSegments} segments`;
  for (const seg of segments) {
    if (seg === '') return `resource ${JSON.stringify(s)} has an empty segment (no leading, trailing or doubled "/")`;
    if (seg === '.' || seg === '..') return `resource ${JSON.stringify(s)} has a "." or ".." segment`;
  }
  return undefined;
}

/** Why `s` is not a permission name, or undefined. */
export function permissionProblem(s: unknown): string | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > AUTHZ_LIMITS.permission) return `permission must be a string of 1..${AUTHZ_LIMITS.permission} characters`;
  if (!PERMISSION_PATTERN.test(s)) return `permission ${JSON.stringify(s)} must start with a letter and hold only letters, digits, "_", "." or "-"`;
  return undefined;
}

/** A permission as stored and compared: upper case. */
export function normalizePermission(s: string): string {
  return s.toUpperCase();
}

/** `PUT` and `DELETE /v1/roles/{name}/permissions` body (docs/architecture.md, "Permissions and impersonation"). */
export interface PermissionChange {
  resource: string;
  permissions: string[];
}

/** One entry of `GET /v1/roles/{name}/permissions` (and of `GET /v1/permissions`, with `role`). */
export interface PermissionGrant {
  resource: string;
  /** sorted, upper case */
  permissions: string[];
}

/** One grant as `GET /v1/permissions` lists it: every role's. */
export interface RolePermissionGrant extends PermissionGrant {
  role: string;
}

/** `PUT` / `DELETE /v1/roles/{name}/permissions` 200: what the role holds on the resource afterwards. */
export interface PermissionResult extends Propagation {
  role: string;
  resource: string;
  /** the role's permissions on `resource` after the change (directly granted, not inherited) */
  permissions: string[];
}

/** `POST /v1/authorize` body. */
export interface AuthorizeRequest {
  username: string;
  resource: string;
  permission: string;
}

/** `POST /v1/authorize` 200. */
export interface AuthorizeResult {
  allowed: boolean;
  /** answered from the permissions cache without a backend read */
  cached: boolean;
  /** the role that granted it (the user itself, or a role it holds); null when refused or granted by superuser status */
  via: string | null;
  /** with `security_impersonate_as`: the user the answer is for, and who asked */
  username?: string;
  impersonated_by?: string;
}

/** One check of `POST /v1/authorize/batch`. */
export interface AuthorizeCheck {
  resource: string;
  permission: string;
}

/** `POST /v1/authorize/batch` body: at most LIMITS.authorizeBatch checks. */
export interface AuthorizeBatchRequest {
  username: string;
  checks: AuthorizeCheck[];
}

/** `POST /v1/authorize/batch` 200: one result per check, in order. */
export interface AuthorizeBatchResult {
  results: Array<AuthorizeCheck & AuthorizeResult>;
  username?: string;
  impersonated_by?: string;
}

