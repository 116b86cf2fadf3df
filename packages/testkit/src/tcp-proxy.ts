import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutMode =
  /** Existing connections are reset and new ones refused: what a crashed peer or a firewall REJECT looks like. */
  | 'reset'
  /** Connections stay open but nothing gets through either way: a partition (firewall DROP); clients only notice by timeouts. */
  | 'blackhole';

export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  port: number;
  /** `redis://127.0.0.1:<port>` — convenient when the target is Redis. */
  url: string;
  readonly state: 'open' | CutMode;
  /** Number of client connections currently held. */
  connections(): number;
  cut(mode?: CutMode): void;
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy between one process and its target (a node and Redis), which a fault test cuts and
 * heals. Every byte passes through untouched while open.
 */
export async function startTcpProxy(opts: { targetHost?: string; targetPort: number; port?: number }): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  let state: 'open' | CutMode = 'open';
  const pairs = new Set<Pair>();

  const server: Server = createServer((client) => {
    if (state === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: opts.targetPort });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    // Bytes are forwarded only while open; in a blackhole they are dropped, never delivered later.
    client.on('data', (chunk) => {
      if (state === 'open') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (state === 'open') client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: opts.port ?? 0 }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get state() {
      return state;
    },
    connections: () => pairs.size,
    cut(mode: CutMode = 'blackhole') {
      state = mode;
      if (mode === 'reset') {
        for (const p of pairs) {
          p.client.resetAndDestroy();
          p.upstream.destroy();
        }
        pairs.clear();
      }
    },
    heal() {
      // Connections held through a blackhole lost bytes in between: a real partition would leave them
      // broken too, so they are reset and the client reconnects.
      if (state === 'blackhole') {
        for (const p of pairs) {
          p.client.resetAndDestroy();
          p.upstream.destroy();
        }
        pairs.clear();
      }
      state = 'open';
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
