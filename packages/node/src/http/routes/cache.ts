import type { FastifyInstance } from 'fastify';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import { openSearchScope } from '../opensearch/errors';
import { localQuery, optionsRoute, parseCaches, usernameParam, type LocalQuery } from './common';

/**
 * OpenSearch Security's cache API under its current prefix and the one it keeps, deprecated, for
 * clients written for Open Distro.
 */
const OPENSEARCH_PREFIXES = ['/_plugins/_security/api', '/_opendistro/_security/api'] as const;

/** Flush all and flush one user, on our paths and OpenSearch Security's. */
export function cacheRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  const flushAll = async (req: { query: LocalQuery }) => {
    const p = await node.admin.flushAll(parseCaches(req.query.caches), req.query.local === 'true');
    return { message: 'Cache flushed successfully.', ...p };
  };
  const flushUser = async (req: { query: LocalQuery; params: { username: string } }) => {
    const { username } = req.params;
    const p = await node.admin.flushUsers([username], parseCaches(req.query.caches), req.query.local === 'true');
    return { message: `Cache invalidated for user: ${username}`, ...p };
  };
  const all = { onRequest: admin, schema: { querystring: localQuery } };
  const user = { onRequest: admin, schema: { querystring: localQuery, params: usernameParam } };
  app.delete<{ Querystring: LocalQuery }>('/v1/cache', all, flushAll);
  app.delete<{ Querystring: LocalQuery; Params: { username: string } }>('/v1/cache/users/:username', user, flushUser);

  // OpenSearch's answers carry "status":"OK" beside the message, and its error bodies (opensearch/errors.ts).
  openSearchScope(app, (scope) => {
    for (const prefix of OPENSEARCH_PREFIXES) {
      scope.delete<{ Querystring: LocalQuery }>(`${prefix}/cache`, all, async (req) => ({ status: 'OK', ...(await flushAll(req)) }));
      scope.delete<{ Querystring: LocalQuery; Params: { username: string } }>(`${prefix}/cache/user/:username`, user, async (req) => ({
        status: 'OK',
        ...(await flushUser(req)),
      }));
      optionsRoute(scope, `${prefix}/cache`, ['DELETE']);
      optionsRoute(scope, `${prefix}/cache/user/:username`, ['DELETE']);
    }
  });
}
