import type { FastifyInstance } from 'fastify';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import { localQuery, parseCaches, usernameParam, type LocalQuery } from './common';

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
  app.delete<{ Querystring: LocalQuery }>('/_plugins/_security/api/cache', all, flushAll);
  app.delete<{ Querystring: LocalQuery; Params: { username: string } }>('/v1/cache/users/:username', user, flushUser);
  app.delete<{ Querystring: LocalQuery; Params: { username: string } }>('/_plugins/_security/api/cache/user/:username', user, flushUser);
}
