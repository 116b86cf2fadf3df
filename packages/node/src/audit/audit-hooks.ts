import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import { entryFor } from './audit-entry';
import type { AuditLog } from './audit-log';
import type { AdminGuard } from '../http/admin-auth';

/**
 * Captures every answered admin call for the audit trail without touching the routes: an onRoute
 * hook gives each route guarded by the admin guard two route-level hooks of its own —
 * preSerialization (the answer as an object, before it becomes bytes) and onResponse (the status
 * actually sent). Routes without the guard (login, health, metrics, the console's files) get no
 * hook at all, so the login hot path pays nothing for the audit.
 *
 * Must be installed before the routes are registered (fastify calls onRoute as each is added).
 */
export function installAuditHooks(app: FastifyInstance, guard: AdminGuard, audit: Pick<AuditLog, 'record'>): void {
  const answers = new WeakMap<FastifyRequest, unknown>();

  // Callback-style hooks: an async one costs a promise and microtask hops on every admin call.
  const capture = (req: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: Error | null, payload: unknown) => void) => {
    answers.set(req, payload);
    done(null, payload);
  };

  const record = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // The answer is out: fastify need not wait for the entry.
    done();
    try {
      const entry = entryFor({
        method: req.method,
        route: req.routeOptions.url ?? '',
        path: req.url.split('?')[0] ?? '',
        params: (req.params ?? {}) as Record<string, unknown>,
        query: (req.query ?? {}) as Record<string, unknown>,
        body: req.body,
        status: reply.statusCode,
        payload: answers.get(req),
        actor: req.adminActor ?? undefined,
        address: req.ip,
        at: new Date(),
      });
      if (entry) audit.record(entry);
    } catch (err) {
      // The answer is already sent: a bug here must cost an audit line, never the call.
      req.log.error({ err: (err as Error).message, url: req.url }, 'audit entry not built');
    }
  };

  app.addHook('onRoute', (r: RouteOptions) => {
    if (![r.onRequest].flat().includes(guard as never)) return;
    // Once per route, even if fastify hands the same options again (its automatic HEAD routes copy GET's).
    if ([r.onResponse].flat().includes(record as never)) return;
    r.preSerialization = [...[r.preSerialization ?? []].flat(), capture] as RouteOptions['preSerialization'];
    r.onResponse = [...[r.onResponse ?? []].flat(), record] as RouteOptions['onResponse'];
  });
}
