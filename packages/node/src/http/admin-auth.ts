import { createHash, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { AuthcacheNode } from '../node';
import { HttpError } from '../errors';
import { authenticate } from './authenticate';
import { basicCredentials } from './routes/login';

/**
 * An onRequest hook in fastify's callback style: a token or certificate is decided synchronously,
 * without the promise an async hook costs on every admin call (docs/architecture.md, "Scaling
 * limits"); only HTTP Basic, which may read the role store, goes asynchronous.
 */
export type AdminGuard = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who the admin guard found (for the audit trail), set before it decides: `token`,
     * `role:NAME`, `cert:SUBJECT`, or `anonymous` without credentials. Never the credential itself;
     * for a refused call it is who the caller claimed to be (a wrong token is still `token`).
     */
    adminActor: string | null;
  }
}

/** `cert:CN=ops,O=example`: the subject of a verified client certificate, in the order the certificate gives it. */
function certActor(socket: TLSSocket): string {
  const subject = socket.getPeerCertificate?.()?.subject as Record<string, string | string[]> | undefined;
  const parts = Object.entries(subject ?? {}).map(([k, v]) => `${k}=${[v].flat().join('+')}`);
  return `cert:${parts.length > 0 ? parts.join(',') : 'unknown'}`;
}

/** Digests first, so the comparison takes the same time whatever the length of the presented token. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Admin routes accept, in this order: a client certificate signed by AUTHCACHE_TLS_CA (as
 * OpenSearch's admin certificates), `Authorization: Bearer <AUTHCACHE_ADMIN_TOKEN>`, or HTTP
 * Basic of a role with superuser status. No credentials: 401; credentials that are not admin: 403.
 * Runs in onRequest, before the body is read, so nobody without credentials reaches validation.
 */
export function adminAuth(node: AuthcacheNode): AdminGuard {
  const token = node.config.adminToken;
  const expected = token === undefined ? undefined : digest(token);
  const clientCerts = node.config.tls?.ca !== undefined;
  const basicAdmin = async (req: FastifyRequest, reply: FastifyReply, header: string): Promise<void> => {
    const basic = basicCredentials(header);
    if (!basic) throw new HttpError(401, 'unreadable Authorization header');
    req.adminActor = `role:${basic.username}`;
    const r = await authenticate(node, basic.username, basic.password, req.ip);
    if (!r.ok) {
      reply.header('www-authenticate', 'Basic realm="authcache"');
      throw new HttpError(401, 'invalid credentials');
    }
    if (!r.superuser) {
      req.log.warn({ ip: req.ip, url: req.url, user: basic.username }, 'admin call by a role without superuser status');
      throw new HttpError(403, 'admin access denied: superuser status required');
    }
  };
  return (req, reply, done) => {
    if (clientCerts && (req.raw.socket as TLSSocket).authorized === true) {
      req.adminActor = certActor(req.raw.socket as TLSSocket);
      return done();
    }
    const header = req.headers.authorization;
    req.adminActor = 'anonymous';
    if (header === undefined || header === '') {
      reply.header('www-authenticate', 'Bearer realm="authcache", Basic realm="authcache"');
      return done(new HttpError(401, 'admin credentials required: Authorization: Bearer <token>, or HTTP Basic of a superuser'));
    }
    const bearer = /^Bearer\s+(.+)$/i.exec(header);
    if (bearer) {
      req.adminActor = 'token';
      if (expected !== undefined && timingSafeEqual(digest(bearer[1]!.trim()), expected)) return done();
      req.log.warn({ ip: req.ip, url: req.url }, 'admin call with a wrong token');
      return done(new HttpError(403, 'admin access denied'));
    }
    basicAdmin(req, reply, header).then(() => done(), done);
  };
}
