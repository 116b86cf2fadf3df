import type { FastifyInstance } from 'fastify';
import { CACHE_NAMES, validateSettingsValues, type CacheName, type Propagation, type SetSettingsBody, type SettingsValues } from '@authcache/protocol';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import { PROTOCOL_CARRIES, settingsDefaults, type Layer, type LayerChange } from '../../cache/settings';
import { changesFromNamed, defaultsView, namedView } from '../../cache/settings-keys';
import { badRequest } from '../../errors';
import { OpenSearchError, openSearchScope } from '../opensearch/errors';
import { booleanParam, flattenSettings, settingsView } from '../opensearch/settings-tree';
import { localQuery, optionsRoute, type LocalQuery } from './common';

const settingsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cache: { type: 'string', enum: [...CACHE_NAMES] },
    ttl_ms: { type: 'integer' },
    max_entries: { type: 'integer' },
    refresh_ms: { type: 'integer' },
    active_update: { type: 'boolean' },
    persistent: { type: 'boolean' },
  },
} as const;

interface SettingsBody extends SettingsValues {
  cache?: CacheName;
  persistent?: boolean;
}

type ClusterSettingsBody = Partial<Record<Layer, Record<string, unknown>>>;
type FlagsQuery = Record<string, string | string[] | undefined>;

/** Several updates answered as one: the last seq, and every node that failed any of them. */
function merge(results: Propagation[]): Propagation {
  if (results.length === 1) return results[0]!;
  const failures = results.flatMap((r) => r.failures);
  const last = results[results.length - 1]!;
  const failedNodes = new Set(failures.map((f) => f.node));
  const members = last.members.map((m) => (failedNodes.has(m.node) && m.result === 'applied' ? { ...m, result: 'failed' as const } : m));
  return { seq: last.seq, nodes: { total: last.nodes.total, successful: last.nodes.total - failedNodes.size, failed: failedNodes.size }, failures, members };
}

/**
 * The set_settings bodies for the changes of one PUT /_cluster/settings: one body when the
 * protocol carries several changes in one (`more`), else one per change, in the order given, to be
 * published in a row. A reset the protocol cannot carry is refused before anything is published.
 */
export function bodiesFor(changes: readonly LayerChange[], carries: { reset: boolean; more: boolean } = PROTOCOL_CARRIES): SetSettingsBody[] {
  if (!carries.reset && changes.some((c) => c.reset !== undefined)) {
    throw new OpenSearchError(400, 'illegal_argument_exception', 'resetting a setting with null is not supported by this cluster version yet: set the value to use instead');
  }
  if (!carries.more || changes.length === 1) return changes as SetSettingsBody[];
  return [{ ...changes[0]!, more: changes.slice(1) } as SetSettingsBody];
}

async function publish(node: AuthcacheNode, changes: readonly LayerChange[], local: boolean): Promise<Propagation> {
  const results: Propagation[] = [];
  for (const b of bodiesFor(changes)) results.push(await node.admin.setSettings(b, local));
  return merge(results);
}

/** OpenSearch's cluster settings API, with OpenSearch's error bodies (opensearch/errors.ts). */
function clusterSettingsRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  app.get<{ Querystring: FlagsQuery }>('/_cluster/settings', { onRequest: admin }, async (req) => {
    const flat = booleanParam(req.query, 'flat_settings');
    const withDefaults = booleanParam(req.query, 'include_defaults');
    const o = node.currentOverlays();
    return {
      persistent: settingsView(namedView(o.persistent), flat),
      transient: settingsView(namedView(o.transient), flat),
      ...(withDefaults ? { defaults: settingsView(defaultsView(settingsDefaults(node.config.cache)), flat) } : {}),
    };
  });

  app.put<{ Body: ClusterSettingsBody | undefined; Querystring: FlagsQuery }>(
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
      const flat = booleanParam(req.query, 'flat_settings');
      // `?local=true`: this node only, as on every admin call; persistent changes are refused then (admin.ts).
      const local = booleanParam(req.query, 'local');
      const body = req.body ?? {};
      // Persistent first: with two updates in a row, a failure between them leaves the layer that outlives restarts written.
      const persistent = changesFromNamed('persistent', flattenSettings('persistent', body.persistent ?? {}));
      const transient = changesFromNamed('transient', flattenSettings('transient', body.transient ?? {}));
      const changes = [...persistent.changes, ...transient.changes];
      if (changes.length === 0) throw new OpenSearchError(400, 'action_request_validation_exception', 'Validation Failed: 1: no settings to update;');
      const p = await publish(node, changes, local);
      return { acknowledged: true, persistent: settingsView(persistent.accepted, flat), transient: settingsView(transient.accepted, flat), ...p };
    },
  );

  optionsRoute(app, '/_cluster/settings', ['GET', 'PUT']);
}

export function settingsRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  app.get('/v1/cache/settings', { onRequest: admin }, async () => {
    const o = node.currentOverlays();
    return { node: node.config.nodeId, settings: node.settings(), transient: o.transient, persistent: o.persistent };
  });

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

  openSearchScope(app, (scope) => clusterSettingsRoutes(scope, node, admin));
}
