import type { FastifyInstance } from 'fastify';
import { LIMITS } from '@authcache/protocol';
import type { AuthcacheNode } from '../../node';
import { HttpError } from '../../errors';
import { authenticate } from '../authenticate';
import type { LoginOutcome } from '../../cache/auth-cache';
import { impersonationTarget } from './authorize';

/** The body limits every client shares (protocol api.ts); bcrypt reads 72 bytes of a password, the rest only costs us time. */
export const MAX_USERNAME = LIMITS.username;
export const MAX_PASSWORD = LIMITS.password;

const loginBody = {
  type: 'object',
  required: ['username', 'password'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', minLength: 1, maxLength: MAX_USERNAME },
    password: { type: 'string', minLength: 1, maxLength: MAX_PASSWORD },
  },
} as const;

/** A response schema lets fastify serialize the hot answer with a compiled stringifier. */
const loginReply = {
  200: {
    type: 'object',
    properties: {
      username: { type: 'string' },
      roles: { type: 'array', items: { type: 'string' } },
      superuser: { type: 'boolean' },
      cached: { type: 'boolean' },
      node: { type: 'string' },
      impersonated_by: { type: 'string' },
    },
  },
} as const;

const INVALID = { error: 'invalid credentials' };

/** HTTP Basic credentials from an Authorization header, or undefined. */
export function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const m = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  const username = decoded.slice(0, i);
  const password = decoded.slice(i + 1);
  if (username.length > MAX_USERNAME || password.length === 0 || password.length > MAX_PASSWORD) return undefined;
  return { username, password };
}

export function loginRoutes(app: FastifyInstance, node: AuthcacheNode): void {
  const nodeId = node.config.nodeId;

  // Not an async handler: a login the caches answer is sent without a promise in between.
  app.post<{ Body: { username: string; password: string } }>('/v1/login', { schema: { body: loginBody, response: loginReply } }, (req, reply) => {
    if (req.body === undefined) throw new HttpError(400, 'body required: {"username","password"}');
    const { username } = req.body;
    const answer = (r: LoginOutcome) =>
      r.ok ? reply.send({ username, roles: r.roles, superuser: r.superuser, cached: r.cached, node: nodeId }) : reply.code(401).send(INVALID);
    // OpenSearch's impersonation (docs/architecture.md, "Permissions and impersonation"): the body's user logs in, the answer is the target's.
    const target = impersonationTarget(req);
    const r = authenticate(node, username, req.body.password, req.ip);
    if (target !== undefined) {
      return Promise.resolve(r).then(async (o) => {
        if (!o.ok) return reply.code(401).send(INVALID);
        const t = await node.permissions.impersonate(username, target);
        return reply.send({ username: target, roles: t.roles, superuser: t.superuser, cached: o.cached, node: nodeId, impersonated_by: username });
      });
    }
    return r instanceof Promise ? r.then(answer) : answer(r);
  });

  app.get('/_plugins/_security/authinfo', async (req, reply) => {
    const creds = basicCredentials(req.headers.authorization);
    if (!creds) return reply.code(401).header('www-authenticate', 'Basic realm="authcache"').send({ error: 'HTTP Basic credentials required' });
    const r = await authenticate(node, creds.username, creds.password, req.ip);
    if (!r.ok) return reply.code(401).header('www-authenticate', 'Basic realm="authcache"').send(INVALID);
    const target = impersonationTarget(req);
    if (target !== undefined) {
      const t = await node.permissions.impersonate(creds.username, target);
      return { user_name: target, roles: t.roles, backend_roles: t.roles, superuser: t.superuser, node: nodeId, impersonated_by: creds.username };
    }
    return { user_name: creds.username, roles: r.roles, backend_roles: r.roles, superuser: r.superuser, node: nodeId };
  });
}
