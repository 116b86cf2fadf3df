import { randomBytes } from 'node:crypto';
import { freePort } from './free-port';
import { startNode, type NodeHandle } from './node-process';

export interface ClusterOptions {
  redisUrl: string;
  /** default 3 (or ports.length) */
  size?: number;
  ports?: number[];
  /** default a unique `t${random}` so suites sharing one Redis don't collide */
  cluster?: string;
  /** default random */
  secret?: string;
  /** default random */
  token?: string;
  env?: Record<string, string | undefined>;
  /** default: packages/node/dist/main.js */
  entry?: string;
  onOutput?: (nodeId: string, line: string) => void;
}

export interface ClusterHandle {
  nodes: NodeHandle[];
  urls: string[];
  cluster: string;
  secret: string;
  token: string;
  /** SIGTERM every node, await all exits */
  stop(): Promise<void>;
}

/** Start `size` nodes in parallel against one Redis; resolves when all are healthy. If any fails, the
 *  others are stopped and the first failure is thrown. */
export async function startCluster(opts: ClusterOptions): Promise<ClusterHandle> {
  const size = opts.ports?.length ?? opts.size ?? 3;
  if (opts.ports && opts.size !== undefined && opts.size !== opts.ports.length) {
    throw new Error(`startCluster: size ${opts.size} does not match ${opts.ports.length} ports`);
  }
  const cluster = opts.cluster ?? `t${randomBytes(5).toString('hex')}`;
  const secret = opts.secret ?? randomBytes(24).toString('base64url');
  const token = opts.token ?? randomBytes(18).toString('base64url');
  const ports: number[] = [];
  for (let i = 0; i < size; i++) ports.push(opts.ports?.[i] ?? (await freePort()));

  const started = await Promise.allSettled(
    ports.map((port) =>
      startNode({
        redisUrl: opts.redisUrl,
        cluster,
        secret,
        token,
        port,
        env: opts.env,
        entry: opts.entry,
        onOutput: opts.onOutput && ((line) => opts.onOutput!(`node-${port}`, line)),
      }),
    ),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw failure.reason;
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    cluster,
    secret,
    token,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
