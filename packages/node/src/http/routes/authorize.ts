/**
 * `POST /v1/authorize` and `POST /v1/authorize/batch` (docs/architecture.md, "Permissions and impersonation"): "may this user do X", answered
 * from the permissions cache. No admin rights: like login, these answer any client that reaches
 * the node's network (put them behind the same network policy). With `security_impersonate_as:
 * TARGET` the body's user is the caller and the answer is the target's, when the caller holds
 * IMPERSONATE on `roles/TARGET`; else 403. See docs/architecture.md, "Permissions and impersonation".
 */
import { IMPERSONATE_HEADER, LIMITS, NAME_RULE, NAME_SCHEMA, isValidName, permissionProblem, resourceProblem } from '@authcache/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, badRequest } from '../../errors';
import type { Outcome, PermissionService } from '../../permissions';

const username = NAME_SCHEMA;
const resource = { type: 'string', minLength: 1, maxLength: LIMITS.resource } as const;
const permission = { type: 'string', minLength: 1, maxLength: LIMITS.permission } as const;
const checkShape = { type: 'object', required: ['resource', 'permission'], additionalProperties: false, properties: { resource, permission } } as const;

const authorizeBody = { type: 'object', required: ['username', 'resource', 'permission'], additionalProperties: false, properties: { username, resource, permission } } as const;
const batchBody = {
  type: 'object',
  required: ['username', 'checks'],
  additionalProperties: false,
  properties: { username, checks: { type: 'array', minItems: 1, maxItems: LIMITS.authorizeBatch, items: checkShape } },
} as const;

const result = {
  allowed: { type: 'boolean' },
  cached: { type: 'boolean' },
  via: { type: ['string', 'null'] },
  username: { type: 'string' },
  impersonated_by: { type: 'string' },
} as const;
/** A response schema lets fastify serialize the hot answer with a compiled stringifier. */
const authorizeReply = { 200: { type: 'object', properties: result } } as const;
const batchReply = {
  200: {
    type: 'object',
    properties: {
      results: { type: 'array', items: { type: 'object', properties: { resource: { type: 'string' }, permission: { type: 'string' }, ...result } } },
      username: { type: 'string' },
      impersonated_by: { type: 'string' },
    },
  },
} as const;

interface Check {
  resource: string;
  permission: string;
}

/** The schema bounds lengths; the path rules (no empty segment, a permission's characters) are checked here. */
function checkInput(c: Check, at = ''): void {
  const problem = resourceProblem(c.resource) ?? permissionProblem(c.permission);
  if (problem) throw badRequest(`${at}${problem}`);
}

/** The impersonation target of a request, or undefined; a malformed header is a 400. */
export function impersonationTarget(req: FastifyRequest): string | undefined {
  const raw = req.headers[IMPERSONATE_HEADER];
  if (raw === undefined) return undefined;
  if (!isValidName(raw)) throw badRequest(`${IMPERSONATE_HEADER} must name one user of ${NAME_RULE}`);
  return raw;
}

function answer(o: Outcome, as?: { username: string; impersonated_by: string }) {
  const base = { allowed: o.allowed, cached: o.cached, via: o.via };
  return as ? { ...base, ...as } : base;
}

export function authorizeRoutes(app: FastifyInstance, permissions: PermissionService): void {
  // Not an async handler: a check the caches answer is sent without a promise in between.
  app.post<{ Body: { username: string; resource: string; permission: string } }>(
    '/v1/authorize',
    { schema: { body: authorizeBody, response: authorizeReply } },
    (req, reply) => {
      if (req.body === undefined) throw new HttpError(400, 'body required: {"username","resource","permission"}');
      const { username: caller, resource: res, permission: perm } = req.body;
      checkInput(req.body);
      const target = impersonationTarget(req);
      if (target === undefined) {
        const o = permissions.authorize(caller, res, perm);
        return o instanceof Promise ? o.then((x) => reply.send(answer(x))) : reply.send(answer(o));
      }
      return permissions
        .requireImpersonation(caller, target)
        .then(() => permissions.authorize(target, res, perm))
        .then((x) => reply.send(answer(x, { username: target, impersonated_by: caller })));
    },
  );

  app.post<{ Body: { username: string; checks: Check[] } }>('/v1/authorize/batch', { schema: { body: batchBody, response: batchReply } }, async (req) => {
    if (req.body === undefined) throw new HttpError(400, 'body required: {"username","checks":[{"resource","permission"}, ...]}');
    const { username: caller, checks } = req.body;
    checks.forEach((c, i) => checkInput(c, `checks[${i}]: `));
    const target = impersonationTarget(req);
    if (target !== undefined) await permissions.requireImpersonation(caller, target);
    const outcomes = await permissions.authorizeMany(target ?? caller, checks);
    const results = outcomes.map((o, i) => ({ resource: checks[i]!.resource, permission: checks[i]!.permission, ...answer(o) }));
    return target === undefined ? { results } : { results, username: target, impersonated_by: caller };
  });
}
