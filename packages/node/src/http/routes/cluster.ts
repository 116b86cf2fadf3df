import { LIMITS } from '@authcache/protocol';
import type { FastifyInstance } from 'fastify';
import type { NodeRemoved } from '@authcache/protocol';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import { HttpError, notFound, orUnavailable } from '../../errors';

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: LIMITS.nodeId } } } as const;

/** Membership, health and metrics. */
export function clusterRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  const membership = <T>(f: () => Promise<T>): Promise<T> => orUnavailable(node.log, 'membership unreadable: redis unreachable', f);

  // The answering node's own line is live; the others' are as old as their heartbeat_age_ms (docs/architecture.md, Membership).
  app.get('/v1/cluster/nodes', { onRequest: admin }, () => membership(() => node.membership.list()));

  // A DOWN member is reported as failed until it leaves, is removed here, or is forgotten (nodetool removenode).
  app.delete<{ Params: { id: string } }>('/v1/cluster/nodes/:id', { onRequest: admin, schema: { params: idParam } }, async (req) => {
    const id = req.params.id;
    const outcome = await membership(() => node.membership.remove(id));
    if (outcome === 'unknown') throw notFound(`node ${id} is not a member`);
    if (outcome === 'live') throw new HttpError(409, `node ${id} is UP: stop it first (a live node rejoins at its next heartbeat)`);
    return { message: `Node removed: ${id}` } satisfies NodeRemoved;
  });

  const health = async (_req: unknown, reply: { code(n: number): unknown }) => {
    const h = node.health();
    reply.code(h.status === 'UP' ? 200 : 503);
    return {
      status: h.status,
      node: node.config.nodeId,
      cluster: node.config.cluster,
      redis: h.redis,
      dependencies: { redis: h.redis === 'connected' ? 'up' : 'down', backend: h.backend },
      backend: node.config.backend.kind,
      applied_seq: node.bus.appliedSeq,
      sync_age_ms: h.sync_age_ms,
      max_staleness_ms: node.config.maxStalenessMs,
      settings: node.settings(),
    };
  };
  app.get('/health', health);
  app.get('/_plugins/_security/health', health);

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', node.metrics.registry.contentType);
    return node.metrics.registry.metrics();
  });
}
