/**
 * The pure part of the audit trail (docs/architecture.md, "Audit and events"): which answered admin calls are recorded, and
 * what their entry says. No I/O here, so every rule is unit-tested without a server.
 *
 * Never a secret: request bodies are read field by field from a whitelist (a role's password only
 * ever shows as "password set"), headers are never read, and the actor is decided by the admin
 * guard (`token`, `role:NAME`, `cert:SUBJECT`), never the credential itself.
 */

import type { AuditEntry, NodeCounts } from '@authcache/protocol';

// One definition of the entry, in the protocol's api.ts: the node writes it, the SDK reads it.
export type { AuditEntry, NodeCounts };

/** One answered request on an admin route, as the hooks saw it. */
export interface AnsweredCall {
  method: string;
  /** the route pattern, e.g. `/v1/cache/users/:username` */
  route: string;
  /** the path as requested, without the query */
  path: string;
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  status: number;
  /** the answer before serialization (an object), or its JSON text */
  payload: unknown;
  actor: string | undefined;
  address: string;
  at: Date;
}

export const AUDIT_ROUTE = '/v1/audit';
const REFUSED = new Set([401, 403, 429]);
const MAX_TARGET = 300;
const MAX_ERROR = 200;

/**
 * Changes are recorded whatever their outcome; reads only when refused (401/403, and 429 for a
 * throttled Basic attempt: those are what an incident review looks for). A successful read of the
 * audit itself is never recorded, so reading the trail does not grow it.
 */
export function shouldAudit(method: string, route: string, status: number): boolean {
  if (REFUSED.has(status)) return true;
  if (route === AUDIT_ROUTE) return false;
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

type Describe = (c: AnsweredCall) => string | null;

const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
const param = (name: string): Describe => (c) => str(c.params[name]);

/** A value safe to show: numbers, booleans and short numeric or boolean strings; anything else is hidden. */
function plain(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string' && /^(\d{1,15}|true|false)$/.test(v.trim())) return v.trim();
  return '?';
}

const SAFE_KEY = /^[A-Za-z0-9_.-]{1,80}$/;

function caches(c: AnsweredCall): string {
  const q = c.query.caches;
  return typeof q === 'string' && q !== '' ? q.slice(0, 64) : 'all caches';
}

function settings(c: AnsweredCall): string {
  const b = (isObject(c.body) ? c.body : {}) as Record<string, unknown>;
  const scope = typeof b.cache === 'string' && SAFE_KEY.test(b.cache) ? b.cache : 'all';
  const values = ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update'].filter((k) => k in b).map((k) => `${k}=${plain(b[k])}`);
  if (b.persistent === true) values.push('persistent');
  return `${scope}${values.length > 0 ? ' ' + values.join(' ') : ''}`;
}

function clusterSettings(c: AnsweredCall): string | null {
  const b = (isObject(c.body) ? c.body : {}) as Record<string, unknown>;
  const parts: string[] = [];
  for (const layer of ['transient', 'persistent']) {
    const m = b[layer];
    if (!isObject(m)) continue;
    for (const [k, v] of Object.entries(m)) parts.push(`${layer} ${SAFE_KEY.test(k) ? k : '?'}=${plain(v)}`);
  }
  return parts.length > 0 ? parts.join(', ') : null;
}

function names(v: unknown): string {
  return Array.isArray(v) ? `[${v.slice(0, 20).map((x) => str(x).slice(0, 64)).join(',')}${v.length > 20 ? ',...' : ''}]` : '?';
}

/** What a role write changed: the name, then each field given; the password only as "password set". */
function role(c: AnsweredCall): string {
  const b = (isObject(c.body) ? c.body : {}) as Record<string, unknown>;
  const parts: string[] = [];
  if ('password' in b) parts.push('password set');
  for (const k of ['login', 'superuser']) if (k in b) parts.push(`${k}=${plain(b[k])}`);
  for (const k of ['roles', 'grant', 'revoke']) if (k in b) parts.push(`${k}=${names(b[k])}`);
  return `${str(c.params.name)}${parts.length > 0 ? ' (' + parts.join(', ') + ')' : ''}`;
}

function permission(c: AnsweredCall): string {
  const b = (isObject(c.body) ? c.body : {}) as Record<string, unknown>;
  const perms = Array.isArray(b.permissions) ? b.permissions.slice(0, 20).map((p) => str(p).slice(0, 32)).join(',') : '?';
  const resource = typeof b.resource === 'string' ? b.resource.slice(0, 128) : '?';
  return `${str(c.params.name)}: ${perms} on ${resource}`;
}

/** method + route pattern → action and how to describe its target. */
const ACTIONS: Record<string, { action: string; target: Describe }> = {
  'DELETE /v1/cache': { action: 'flush_all', target: caches },
  'DELETE /_plugins/_security/api/cache': { action: 'flush_all', target: caches },
  'DELETE /v1/cache/users/:username': { action: 'flush_user', target: (c) => `${str(c.params.username)} (${caches(c)})` },
  'DELETE /_plugins/_security/api/cache/user/:username': { action: 'flush_user', target: (c) => `${str(c.params.username)} (${caches(c)})` },
  'PUT /v1/cache/settings': { action: 'set_settings', target: settings },
  'PUT /_cluster/settings': { action: 'set_cluster_settings', target: clusterSettings },
  'PUT /v1/roles/:name': { action: 'put_role', target: role },
  'DELETE /v1/roles/:name': { action: 'drop_role', target: param('name') },
  'PUT /v1/roles/:name/permissions': { action: 'grant', target: permission },
  'DELETE /v1/roles/:name/permissions': { action: 'revoke', target: permission },
  'DELETE /v1/cluster/nodes/:id': { action: 'remove_node', target: param('id') },
};

/** The action of a call: a named one for known changes, `read` for reads, else `METHOD /route`. */
export function describeCall(c: AnsweredCall): { action: string; target: string | null } {
  const known = ACTIONS[`${c.method} ${c.route}`];
  let action: string;
  let target: string | null;
  if (known) {
    action = known.action;
    target = known.target(c);
  } else if (c.method === 'GET' || c.method === 'HEAD') {
    action = 'read';
    target = c.path;
  } else {
    action = `${c.method} ${c.route}`;
    target = c.path;
  }
  if (c.query.local === 'true' && target !== null) target += ' [local]';
  return { action, target: target === null ? null : clip(target, MAX_TARGET) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clip(s: string, max: number): string {
  // Control characters would break one-line log readers and terminal output of `authctl audit`.
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > max ? clean.slice(0, max - 3) + '...' : clean;
}

function count(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** The answer as an object: fastify hands hooks either the object or, for some replies, its JSON text. */
function answerOf(payload: unknown): Record<string, unknown> | undefined {
  if (isObject(payload)) return payload;
  if (typeof payload === 'string' && payload.length < 64 * 1024 && payload.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(payload);
      return isObject(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** seq, node counts and failures of the answer's propagation, when it has one. */
export function propagationOf(payload: unknown): Pick<AuditEntry, 'seq' | 'nodes' | 'failures' | 'error'> {
  const a = answerOf(payload);
  if (!a) return { seq: null, nodes: null };
  const seq = count(a.seq) ? a.seq : null;
  const n = a.nodes;
  const nodes = isObject(n) && count(n.total) && count(n.successful) && count(n.failed) ? { total: n.total, successful: n.successful, failed: n.failed } : null;
  const out: Pick<AuditEntry, 'seq' | 'nodes' | 'failures' | 'error'> = { seq, nodes };
  if (Array.isArray(a.failures) && a.failures.length > 0) {
    out.failures = a.failures
      .filter(isObject)
      .slice(0, 50)
      .map((f) => ({ node: clip(str(f.node), 200), reason: clip(str(f.reason), 200) }));
  }
  // Our paths answer {"error": "..."}; OpenSearch's paths {"error": {"reason": "..."}, "status"}.
  const reason = typeof a.error === 'string' ? a.error : isObject(a.error) && typeof a.error.reason === 'string' ? a.error.reason : undefined;
  if (reason !== undefined) out.error = clip(reason, MAX_ERROR);
  return out;
}

/** The entry for an answered admin call, or undefined when it is not recorded. */
export function entryFor(c: AnsweredCall): AuditEntry | undefined {
  if (!shouldAudit(c.method, c.route, c.status)) return undefined;
  const { action, target } = describeCall(c);
  const { seq, nodes, ...extra } = propagationOf(c.payload);
  // docs/architecture.md, "Audit and events"'s field order first: that is how `authctl audit --json` and the pino line read.
  return {
    ts: c.at.toISOString(),
    actor: clip(c.actor ?? 'anonymous', MAX_TARGET),
    address: clip(c.address, 100),
    action,
    target,
    seq,
    status: c.status,
    nodes,
    ...extra,
  };
}
