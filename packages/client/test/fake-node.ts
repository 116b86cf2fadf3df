/** A stand-in authcache node for SDK unit tests: a real HTTP server answering canned replies. */

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  /** path and query exactly as received, still encoded */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Reply =
  | { status: number; body?: unknown; raw?: string; headers?: Record<string, string> }
  /** never answer: the client's timeout has to fire */
  | 'hang'
  /** drop the socket without a response */
  | 'reset';

export interface FakeNode {
  url: string;
  requests: Recorded[];
  setHandler(h: (req: Recorded) => Reply): void;
  close(): Promise<void>;
}

export async function startFakeNode(handler: (req: Recorded) => Reply = () => ({ status: 200, body: {} })): Promise<FakeNode> {
  let current = handler;
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      const reply = current(rec);
      if (reply === 'hang') return;
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setHandler: (h) => {
      current = h;
    },
    close: async () => {
      // Keep-alive and hung sockets would otherwise hold close() open.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port that nothing listens on: bound once to get a free number, then released. */
export async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

export const propagation = { nodes: { total: 3, successful: 3, failed: 0 }, failures: [], seq: 42 };
