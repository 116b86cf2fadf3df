import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

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
  /**
   * Delays every chunk by `ms` each way from now on (0: none): a slow network or a slow server that
   * still answers. Chunks leave in arrival order whatever the delay was when each came.
   */
  setDelay(ms: number): void;
  /** Chunks held by the delay now, both ways, all connections. */
  held(): number;
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
  let delayMs = 0;
  let held = 0;
  const pairs = new Set<Pair>();

  /** Forwards `from`'s bytes to `to`, each chunk held `delayMs` (one queue per direction keeps the order). */
  const pipe = (from: Socket, to: Socket) => {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        held--;
        if (state === 'open') to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.due - now);
    };
    from.on('data', (chunk: Buffer) => {
      if (state !== 'open') return;
      if (delayMs === 0 && queue.length === 0) return void to.write(chunk);
      queue.push({ due: performance.now() + delayMs, chunk });
      held++;
      timer ??= setTimeout(pump, delayMs);
    });
    from.on('close', () => {
      clearTimeout(timer);
      held -= queue.length;
      queue.length = 0;
    });
  };

  const server: Server = createServer((client) => {
    if (state === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: opts.targetPort });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    // Bytes are forwarded only while open; in a blackhole they are dropped, never delivered later.
    pipe(client, upstream);
    pipe(upstream, client);
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
    setDelay(ms: number) {
      delayMs = Math.max(0, ms);
    },
    held: () => held,
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
