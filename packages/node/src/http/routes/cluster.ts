import type { FastifyInstance } from 'fastify';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import { orUnavailable } from '../../errors';

/** Membership, health and metrics. */
export function clusterRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard): void {
  app.get('/v1/cluster/nodes', { onRequest: admin }, () =>
    orUnavailable(node.log, 'membership unreadable: redis unreachable', () => node.membership.list()),
  );

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
