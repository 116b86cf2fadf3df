import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors';

export type AdminGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Digests first, so the comparison takes the same time whatever the length of the presented token. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Admin routes: `Authorization: Bearer <AUTHCACHE_ADMIN_TOKEN>`; none 401, wrong 403. */
export function adminAuth(token: string | undefined): AdminGuard {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, reply) => {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      reply.header('www-authenticate', 'Bearer realm="authcache"');
      throw new HttpError(401, 'admin credentials required: Authorization: Bearer <token>');
    }
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new HttpError(403, 'admin access denied');
    if (expected === undefined) throw new HttpError(403, 'admin API disabled: no AUTHCACHE_ADMIN_TOKEN is configured on this node');
    if (!timingSafeEqual(digest(m[1]!.trim()), expected)) {
      req.log.warn({ ip: req.ip, url: req.url }, 'admin call with a wrong token');
      throw new HttpError(403, 'admin access denied');
    }
  };
}
