import type { FastifyInstance } from 'fastify';
import type { AuthcacheNode } from '../../node';
import type { AdminGuard } from '../admin-auth';
import type { EventHub, HubEvent } from '../../events';
import { HttpError } from '../../errors';

/** A comment line this often keeps proxies and load balancers from closing a quiet stream. */
export const KEEPALIVE_MS = 15_000;
/** A client that does not read what it is sent is dropped once this much waits for it. */
const MAX_BUFFERED = 1024 * 1024;

function frame(e: HubEvent): string {
  // JSON.stringify never emits a raw newline, so one `data:` line per event is always enough.
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * `GET /v1/events` (admin, Server-Sent Events). A stream starts with `hello` (this node, and who
 * the caller is), then the current state (every member, applied seqs, this node's sync), then
 * changes as the hub sees them. Admin credentials go in the Authorization header like every admin
 * call: the console reads the stream with fetch(), never with a secret in the URL.
 *
 * Returns a function that ends every open stream: the server calls it before closing, since an
 * open stream would otherwise hold close() (and so a clean shutdown) until the client left.
 */
export function eventRoutes(app: FastifyInstance, node: AuthcacheNode, admin: AdminGuard, hub: EventHub): () => void {
  const open = new Set<() => void>();

  app.get('/v1/events', { onRequest: admin }, async (req, reply) => {
    const refuse = () => {
      reply.header('retry-after', '5');
      return new HttpError(503, `too many event streams open on this node (${hub.maxClients}): close one, or connect to another node`);
    };
    if (hub.full()) throw refuse();
    await hub.ready();
    if (hub.full()) throw refuse();
    if (req.raw.destroyed || req.raw.socket.destroyed) {
      // The client left while the hub was reading: nothing to answer, and nothing for fastify to send.
      reply.hijack();
      return;
    }

    // From here on, no await: the snapshot and the subscription are taken in the same turn, so no event falls between them.
    reply.hijack();
    const res = reply.raw;
    const socket = req.raw.socket;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      // The connection dies with the stream: a socket kept alive after it would still hold close() at shutdown.
      connection: 'close',
    });
    let closed = false;
    let off: (() => void) | undefined;
    let keepalive: NodeJS.Timeout | undefined;
    const write = (chunk: string) => {
      if (closed) return;
      if (res.writableLength > MAX_BUFFERED) {
        node.log.warn({ ip: req.ip }, 'event stream client too slow: dropped');
        return end();
      }
      res.write(chunk);
    };
    const end = () => {
      if (closed) return;
      closed = true;
      off?.();
      clearInterval(keepalive);
      open.delete(end);
      // Once written out, the socket goes too: nothing else runs on it, and a half-open one would hold close() at shutdown.
      res.end(() => socket?.destroy());
      setTimeout(() => socket?.destroy(), 1000).unref();
    };
    write('retry: 2000\n\n');
    write(frame({ event: 'hello', data: { node: node.config.nodeId, cluster: node.config.cluster, actor: req.adminActor, keepalive_ms: KEEPALIVE_MS } }));
    for (const e of hub.snapshot()) write(frame(e));
    if (closed) return;
    off = hub.subscribe((e) => write(frame(e)));
    keepalive = setInterval(() => write(': keep-alive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    open.add(end);
    req.raw.on('close', end);
    res.on('close', end);
    res.on('error', end);
  });

  return () => {
    for (const end of [...open]) end();
  };
}
