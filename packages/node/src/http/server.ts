import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AuthcacheNode } from '../node';
import { LIMITS } from '@authcache/protocol';
import { HttpError } from '../errors';
import { adminAuth } from './admin-auth';
import { ThrottledError } from './authenticate';
import { loginRoutes } from './routes/login';
import { cacheRoutes } from './routes/cache';
import { settingsRoutes } from './routes/settings';
import { roleRoutes } from './routes/roles';
import { clusterRoutes } from './routes/cluster';
import { auditRoutes } from './routes/audit';
import { eventRoutes } from './routes/events';
import { consoleRoutes } from './routes/console';
import { authorizeRoutes } from './routes/authorize';
import { permissionRoutes } from './routes/permissions';
import { AuditLog, auditKey } from '../audit/audit-log';
import { auditMetrics, eventClientsGauge } from '../audit/metrics';
import { installAuditHooks } from '../audit/audit-hooks';
import { EventHub } from '../events';

export const BODY_LIMIT = 64 * 1024;
const MAX_PARAM_LENGTH = 12 * Math.max(LIMITS.username, LIMITS.nodeId);
/**
 * Node's own request timeout, given to the server it creates: Node 20 only enforces the value the
 * server was constructed with (set afterwards, as fastify's requestTimeout option does, it goes
 * unchecked), and it checks every 30 s unless told otherwise.
 */
const SLOW_CLIENTS = { requestTimeout: LIMITS.requestMs, connectionsCheckingInterval: 1000 };

/** The HTTP API (see the README's HTTP API) on fastify, logging through the node's pino logger. */
export function buildServer(node: AuthcacheNode): FastifyInstance {
  const tls = node.config.tls;
  const app = Fastify({
    // With a CA, client certificates are asked for but not required: the admin guard decides.
    ...(tls ? { https: { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}), ...SLOW_CLIENTS } } : { http: SLOW_CLIENTS }),
    // A client trickling a body (or headers) in is cut off (408): without it, each one holds a connection for good.
    requestTimeout: LIMITS.requestMs,
    loggerInstance: node.log as FastifyBaseLogger,
    // Per-request logs would sit on the login hot path; admin actions log what they do instead.
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child per request costs on the login path (bench: ~3 % of busy time); log lines carry what they need.
    childLoggerFactory: (logger) => logger,
    bodyLimit: BODY_LIMIT,
    // find-my-way stops matching a path parameter past 100 characters (then: a wrong 405), and it
    // counts them percent-encoded: room for a name of LIMITS.username characters of up to 4 UTF-8
    // bytes each (%XX per byte); the route schemas bound the decoded name.
    maxParamLength: MAX_PARAM_LENGTH,
    return503OnClosing: true,
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  }) as unknown as FastifyInstance;

  // curl users send `Content-Type: application/json` on body-less DELETEs (OpenSearch's docs do): accept an empty body.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      // A reviver costs on every key: only bodies that mention the dangerous keys pay for it.
      const risky = text.includes('__proto__') || text.includes('constructor');
      done(null, risky ? JSON.parse(text, (k, v: unknown) => (k === '__proto__' || k === 'constructor' ? undefined : v)) : JSON.parse(text));
    } catch {
      done(new HttpError(400, 'malformed JSON body'), undefined);
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (err instanceof ThrottledError) reply.header('retry-after', String(err.retryAfterSeconds));
    // Malformed input gets its line too: the route's pattern, not the path, which is the caller's text.
    const refused = (status: number, message: string) => req.log.info({ status, method: req.method, route: req.routeOptions.url ?? '(no route)', err: message.slice(0, 200) }, 'request refused');
    if (err instanceof HttpError) {
      if (err.status === 400 || err.status === 413) refused(err.status, err.message);
      return reply.code(err.status).send({ error: err.message, ...err.fields });
    }
    if (err.validation) {
      refused(400, err.message);
      return reply.code(400).send({ error: err.message });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      req.log.error({ err, url: req.url, method: req.method }, 'request failed');
      return reply.code(500).send({ error: 'internal error' });
    }
    const messages: Record<string, string> = {
      FST_ERR_CTP_BODY_TOO_LARGE: `request body larger than ${BODY_LIMIT} bytes`,
      FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type: send application/json',
      FST_ERR_CTP_EMPTY_JSON_BODY: 'empty JSON body',
      FST_ERR_CTP_INVALID_JSON_BODY: 'malformed JSON body',
    };
    refused(status, err.code ?? err.message);
    return reply.code(status).send({ error: (err.code && messages[err.code]) ?? err.message });
  });

  // Known routes, to tell "wrong method" (405) from "no such path" (404).
  const known: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (r) => {
    const pattern = routePattern(r.url);
    for (const m of [r.method].flat()) known.push({ method: m, pattern });
  });

  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = [...new Set(known.filter((k) => k.method !== 'HEAD' && k.pattern.test(path)).map((k) => k.method))];
    if (allowed.length > 0) return reply.code(405).header('allow', allowed.join(', ')).send({ error: `method ${req.method} not allowed on ${path}` });
    return reply.code(404).send({ error: `no route for ${req.method} ${path}` });
  });

  const admin = adminAuth(node);
  // Who the admin guard found, for the audit trail; declared so every request has the same shape.
  app.decorateRequest('adminActor', null);
  const audit = new AuditLog({
    redis: node.redis,
    key: auditKey(node.names),
    settings: node.config.audit,
    log: node.log,
    metrics: auditMetrics(node.metrics.registry),
  });
  const hub = new EventHub(
    {
      nodeId: node.config.nodeId,
      health: () => node.health(),
      appliedSeq: () => node.bus.appliedSeq,
      members: () => node.membership.list(),
      auditLatestId: () => audit.latestId(),
      auditAfter: (id) => audit.after(id),
    },
    { log: node.log, maxClients: node.config.eventsMaxClients },
  );
  eventClientsGauge(node.metrics.registry, () => hub.clients);
  // Before any route: the audit attaches its hooks to each admin route as it is added.
  installAuditHooks(app, admin, audit);
  let endStreams = () => {};
  app.register(async (scope) => {
    loginRoutes(scope, node);
    clusterRoutes(scope, node, admin);
    cacheRoutes(scope, node, admin);
    settingsRoutes(scope, node, admin);
    roleRoutes(scope, node, admin);
    permissionRoutes(scope, node.permissions, admin);
    authorizeRoutes(scope, node.permissions);
    auditRoutes(scope, node, admin, audit);
    endStreams = eventRoutes(scope, node, admin, hub);
    consoleRoutes(scope);
  });
  // Open event streams would hold close() until their clients leave: end them first.
  app.addHook('preClose', async () => {
    endStreams();
    hub.stop();
  });
  app.addHook('onClose', async () => {
    await audit.stop();
  });
  return app;
}

/** '/v1/roles/:name' -> /^\/v1\/roles\/[^/]+$/ */
function routePattern(url: string): RegExp {
  const escaped = url.replace(/[.*+?^$|()[\]\\]/g, (c) => '\\' + c);
  return new RegExp('^' + escaped.replace(/:[A-Za-z_]+/g, '[^/]+') + '$');
}
