import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { notFound } from '../../errors';

/** packages/node/console, from dist/http/routes (the node) and from src/http/routes (tests) alike. */
export const CONSOLE_DIR = join(__dirname, '..', '..', '..', 'console');

/**
 * The page may load only its own files and talk only to its own node: no inline script or style
 * (an injected `<script>` or `style=` does nothing), no framing, no form posting anywhere (the
 * sign-in form is handled by script; should the script not load, the browser still cannot submit
 * the password anywhere, least of all into a URL).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files served, by name: nothing else in the folder (nor outside it) is reachable. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'stream.js': 'text/javascript; charset=utf-8',
};

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
    // Small files read from disk at each request: a new version shows at the next load, no cache to bust.
    .header('cache-control', 'no-cache');
}

/**
 * `GET /console` and its assets, on every node, without credentials: the page holds no data; what
 * it shows comes from the admin API, with the credentials the operator signs in with.
 */
export function consoleRoutes(app: FastifyInstance, dir: string = CONSOLE_DIR): void {
  const serve = async (name: string, reply: FastifyReply) => {
    const type = FILES[name];
    if (!type) throw notFound(`no console file ${name}`);
    let body: Buffer;
    try {
      body = await readFile(join(dir, name));
    } catch (err) {
      // Where it looked is for the operator's log, not for the client.
      reply.log.warn({ dir, file: name, err: (err as NodeJS.ErrnoException).code }, 'console file missing');
      throw notFound(`console file ${name} is not installed with this node`);
    }
    return secure(reply).type(type).send(body);
  };
  app.get('/console', (_req, reply) => serve('index.html', reply));
  app.get('/console/', (_req, reply) => serve('index.html', reply));
  app.get<{ Params: { file: string } }>('/console/:file', (req, reply) => serve(req.params.file, reply));
}
