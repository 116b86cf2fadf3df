import type { FastifyInstance } from 'fastify';
import { validateSettingsValues, type SetSettingsBody, type SettingsScope, type SettingsValues } from '@authcache/protocol';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import type { Propagation } from '../../bus/bus';
import type { Overlay } from '../../cache/settings';
import { SCOPES, VALUE_KEYS } from '../../cache/settings';
import { badRequest } from '../../errors';
import { localQuery, type LocalQuery } from './common';

const settingsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cache: { type: 'string', enum: ['credentials', 'roles'] },
    ttl_ms: { type: 'integer' },
    max_entries: { type: 'integer' },
    refresh_ms: { type: 'integer' },
    active_update: { type: 'boolean' },
    persistent: { type: 'boolean' },
  },
} as const;

interface SettingsBody extends SettingsValues {
  cache?: 'credentials' | 'roles';
  persistent?: boolean;
}

const OPENSEARCH_TTL = 'plugins.security.cache.ttl_minutes';
const OWN_PREFIX = 'authcache.cache.';

/**
 * `PUT /_cluster/settings` keys: OpenSearch's ttl_minutes (every cache), and ours,
 * `authcache.cache.<all|credentials|roles>.<ttl_ms|max_entries|refresh_ms|active_update>`.
 */
function fromClusterSettings(layer: Record<string, unknown>, persistent: boolean): SetSettingsBody[] {
  const byScope = new Map<SettingsScope, Record<string, unknown>>();
  for (const [key, raw] of Object.entries(layer)) {
    let scope: SettingsScope;
    let field: string;
    let value: unknown = raw;
    if (key === OPENSEARCH_TTL) {
      const minutes = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 0) {
        throw badRequest(`${persistent ? 'persistent' : 'transient'} setting [${key}]: must be a non-negative whole number of minutes, got ${JSON.stringify(raw)}`);
      }
      scope = 'all';
      field = 'ttl_ms';
      value = minutes * 60_000;
    } else if (key.startsWith(OWN_PREFIX)) {
      const [s, f, ...rest] = key.slice(OWN_PREFIX.length).split('.');
      if (rest.length > 0 || !SCOPES.includes(s as SettingsScope) || !VALUE_KEYS.includes(f as never)) throw badRequest(`setting [${key}] not recognized`);
      scope = s as SettingsScope;
      field = f!;
      if (typeof raw === 'string') value = f === 'active_update' ? raw === 'true' ? true : raw === 'false' ? false : raw : /^\d+$/.test(raw) ? Number(raw) : raw;
    } else {
      throw badRequest(`${persistent ? 'persistent' : 'transient'} setting [${key}], not recognized`);
    }
    byScope.set(scope, { ...byScope.get(scope), [field]: value });
  }
  return [...byScope].map(([scope, values]) => {
    const v = validateSettingsValues(values);
    if (!v.ok) throw badRequest(v.error);
    return { scope, values: v.value, persistent };
  });
}

function toClusterSettings(o: Overlay): Record<string, string> {
  const out: Record<string, string> = {};
  const ttl = o.all?.ttl_ms;
  // The OpenSearch key where the value is whole minutes (as it was set); ours otherwise.
  const asMinutes = ttl !== undefined && ttl % 60_000 === 0;
  if (asMinutes) out[OPENSEARCH_TTL] = String(ttl / 60_000);
  for (const scope of SCOPES) {
    for (const [k, v] of Object.entries(o[scope] ?? {})) if (!(asMinutes && scope === 'all' && k === 'ttl_ms')) out[`${OWN_PREFIX}${scope}.${k}`] = String(v);
  }
  return out;
}

function merge(results: Propagation[]): Propagation {
  if (results.length === 1) return results[0]!;
  const failures = results.flatMap((r) => r.failures);
  const last = results[results.length - 1]!;
  const failedNodes = new Set(failures.map((f) => f.node));
  const members = last.members.map((m) => (failedNodes.has(m.node) && m.result === 'applied' ? { ...m, result: 'failed' as const } : m));
  return { seq: last.seq, nodes: { total: last.nodes.total, successful: last.nodes.total - failedNodes.size, failed: failedNodes.size }, failures, members };
}

export function settingsRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  app.get('/v1/cache/settings', { onRequest: admin }, async () => ({
    node: node.config.nodeId,
    settings: node.settings(),
    transient: node.currentOverlays().transient,
    persistent: node.currentOverlays().persistent,
  }));

  app.put<{ Body: SettingsBody | undefined; Querystring: LocalQuery }>(
    '/v1/cache/settings',
    { onRequest: admin, schema: { body: settingsBody, querystring: localQuery } },
    async (req) => {
      const { cache, persistent, ...values } = req.body ?? {};
      const v = validateSettingsValues(values);
      if (!v.ok) throw badRequest(v.error);
      const p = await node.admin.setSettings({ scope: cache ?? 'all', values: v.value, persistent: persistent ?? false }, req.query.local === 'true');
      return { message: 'Settings updated.', settings: node.settings(), ...p };
    },
  );

  app.get('/_cluster/settings', { onRequest: admin }, async () => ({
    persistent: toClusterSettings(node.currentOverlays().persistent),
    transient: toClusterSettings(node.currentOverlays().transient),
  }));

  app.put<{ Body: { persistent?: Record<string, unknown>; transient?: Record<string, unknown> } | undefined }>(
    '/_cluster/settings',
    {
      onRequest: admin,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { persistent: { type: 'object' }, transient: { type: 'object' } },
        },
      },
    },
    async (req) => {
      const body = req.body ?? {};
      const changes = [...fromClusterSettings(body.persistent ?? {}, true), ...fromClusterSettings(body.transient ?? {}, false)];
      if (changes.length === 0) throw badRequest('no settings given: send {"transient"|"persistent": {"plugins.security.cache.ttl_minutes": "120"}}');
      const results: Propagation[] = [];
      for (const c of changes) results.push(await node.admin.setSettings(c, false));
      return { acknowledged: true, persistent: body.persistent ?? {}, transient: body.transient ?? {}, ...merge(results) };
    },
  );
}
