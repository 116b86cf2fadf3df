import type { FastifyInstance } from 'fastify';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import type { AuditLog } from '../../audit/audit-log';
import { AUDIT_ROUTE } from '../../audit/audit-entry';
import { AuditQueryError, parseAuditQuery } from '../../audit/audit-query';
import { badRequest, orUnavailable } from '../../errors';

/**
 * `GET /v1/audit?since=<ISO time | ms epoch | duration>&limit=N` (admin, docs/architecture.md, "Audit and events"): the trail,
 * newest first. Parameters are parsed by hand rather than by a schema so that each bad value gets
 * a message saying what was expected.
 */
export function auditRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard, audit: AuditLog): void {
  app.get(AUDIT_ROUTE, { onRequest: admin }, async (req) => {
    let q;
    try {
      q = parseAuditQuery(req.query as Record<string, unknown>, Date.now());
    } catch (err) {
      if (err instanceof AuditQueryError) throw badRequest(err.message);
      throw err;
    }
    return orUnavailable(node.log, 'audit trail unreadable: redis unreachable', () => audit.list(q));
  });
}
