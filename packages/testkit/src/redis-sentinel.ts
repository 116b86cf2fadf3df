/**
 * A Redis Sentinel deployment for one suite, from the `redis-server` binary alone: a master, its
 * replicas and `redis-server --sentinel` processes (each with a generated sentinel.conf), on free
 * ports in one temp dir, killed at exit (child-reaper). Sentinel settings are short (down after
 * 1 s) so that a failover completes in a few seconds (docs/architecture.md, "Redis topologies").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atExit, track } from './child-reaper';
import { OutputCapture } from './output-capture';
import { makeCertificates, type Certificates } from './certificates';
import { ping, trustRedisCa, withConnection } from './redis-commands';
import { findExecutable, startOnFreePort } from './server-binary';
import { waitFor } from './wait-for';

/** One redis-server (data node or sentinel) started by the testkit. */
export interface RedisProcess {
  host: string;
  port: number;
  url: string;
  readonly alive: boolean;
  /** SIGKILL: a crash, nothing saved. */
  kill(): Promise<void>;
  /** The last lines it printed. */
  tail(lines?: number): string;
}

const READY_TIMEOUT_MS = 15_000;

/**
 * Sentinel and Redis Cluster deployments are started from the binary only: the test's or the
 * launcher's processes must reach every server and sentinel at the addresses they announce, which
 * a container's network does not give without more setup than a local cluster is worth.
 */
export const NO_REDIS_BINARY_MESSAGE =
  'redis-server is not on PATH: Sentinel and Redis Cluster deployments are started from the binary (e.g. apt-get install redis-server), not from a container; or set AUTHCACHE_REDIS_SENTINELS / AUTHCACHE_REDIS_CLUSTER to a deployment of your own.';

/** A temp dir removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Spawns `redis-server` with `args` (a config file first, if any) on `port` and waits for PING. Its
 * own process group, like the testkit's single Redis, so a Ctrl-C reaches the launcher first.
 */
export async function spawnRedisServer(args: string[], port: number, what: string, password?: string, tls = false): Promise<RedisProcess> {
  // spawn reports a missing binary only later, as an 'error' event: asked first, for one clear error.
  if (!findExecutable('redis-server')) throw new Error(NO_REDIS_BINARY_MESSAGE);
  const output = new OutputCapture();
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  track(child);
  output.attach(child.stdout);
  output.attach(child.stderr);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => ((done = true), resolve()));
    child.once('error', (err) => {
      output.note(`spawn redis-server: ${err.message}`);
      done = true;
      resolve();
    });
  });
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  const scheme = tls ? 'rediss' : 'redis';
  const url = password ? `${scheme}://:${encodeURIComponent(password)}@127.0.0.1:${port}` : `${scheme}://127.0.0.1:${port}`;
  const gone = new AbortController();
  void exited.then(() => gone.abort(new Error('exited')));
  try {
    await waitFor(() => ping(url, 500), { timeoutMs: READY_TIMEOUT_MS, intervalMs: 25, message: `${what} on port ${port} did not answer PING`, signal: gone.signal });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${done ? `${what} on port ${port} exited before answering PING` : (err as Error).message}\n--- output ---\n${output.tail(20)}`);
  }
  return {
    host: '127.0.0.1',
    port,
    url,
    get alive() {
      return !done;
    },
    async kill() {
      if (done) return;
      child.kill('SIGKILL');
      await exited;
    },
    tail: (lines = 20) => output.tail(lines),
  };
}

/** How redis-server says it could not bind: its port, or a Cluster node's bus port (port + 10000). */
export const PORT_TAKEN = /Address already in use|Failed listening/i;

/**
 * spawnRedisServer on a port found free, and on a fresh one when another process took it first
 * (startOnFreePort): `argsFor` builds the arguments for the port tried.
 */
export async function spawnRedisOnFreePort(argsFor: (port: number) => string[], what: string, password?: string, tls = false): Promise<RedisProcess> {
  return (await startOnFreePort(PORT_TAKEN, (port) => spawnRedisServer(argsFor(port), port, what, password, tls))).server;
}

/** Arguments of a data node with no persistence and fast replication (no diskless delay); with `tls`, TLS only (no plain port). */
export function dataNodeArgs(port: number, dir: string, extra: string[] = [], tls?: Certificates): string[] {
  const listen = tls ? ['--port', '0', ...tlsDirectives(port, tls).flatMap(([k, v]) => [`--${k}`, v])] : ['--port', String(port)];
  return [...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '', '--repl-diskless-sync-delay', '0', ...extra];
}

/** TLS on `port`, replication (and a sentinel's links) over TLS too; clients need no certificate. */
function tlsDirectives(port: number, c: Certificates): Array<[string, string]> {
  return [
    ['tls-port', String(port)],
    ['tls-cert-file', c.cert],
    ['tls-key-file', c.key],
    ['tls-ca-cert-file', c.ca],
    ['tls-auth-clients', 'no'],
    ['tls-replication', 'yes'],
  ];
}

export interface SentinelOptions {
  /** default 2 */
  replicas?: number;
  /** default 3 */
  sentinels?: number;
  /** default 'mymaster' */
  masterName?: string;
  /** default 1000 */
  downAfterMs?: number;
  /**
   * Replicas replicate through this (e.g. a TCP proxy the test can cut): given the master's port,
   * answers the port a replica is told to replicate from. Default: the master's own port.
   */
  replicateVia?: (masterPort: number, replica: number) => Promise<number>;
  /** The sentinels require this password (requirepass, and sentinel-pass between them). */
  sentinelPassword?: string;
  /**
   * TLS only, everywhere: data nodes, replication, sentinels (a CA of the suite's own). The nodes'
   * environment then carries a rediss:// REDIS_URL and AUTHCACHE_REDIS_TLS_CA.
   */
  tls?: boolean;
}

export interface SentinelHandle {
  masterName: string;
  /** The data nodes: [0] is the first master, then the replicas. */
  servers: RedisProcess[];
  sentinels: RedisProcess[];
  /** `host:port,...` of the sentinels (AUTHCACHE_REDIS_SENTINELS) */
  sentinelAddresses: string;
  /** The nodes' environment for this deployment (sentinels and master name; TLS material). */
  env: Record<string, string>;
  /** The REDIS_URL a node needs beside `env` (its host is not used: the sentinels name the master). */
  redisUrl: string;
  /** The CA of a `tls` deployment (PEM path). */
  ca?: string;
  /** The master as the sentinels see it now (the first sentinel that answers). */
  master(): Promise<RedisProcess>;
  /** Waits until every sentinel names the same live master, other than `not` if given; resolves to it. */
  awaitMaster(opts?: { not?: RedisProcess; timeoutMs?: number }): Promise<RedisProcess>;
  stop(): Promise<void>;
}

/** Starts a master, `replicas` replicas and `sentinels` sentinels; resolves once every sentinel sees them all. */
export async function startSentinel(opts: SentinelOptions = {}): Promise<SentinelHandle> {
  const replicas = opts.replicas ?? 2;
  const count = opts.sentinels ?? 3;
  const masterName = opts.masterName ?? 'mymaster';
  const dir = tempDir('authcache-sentinel-');
  const certs = opts.tls ? makeCertificates(dir) : undefined;
  if (certs) trustRedisCa(certs.ca);
  const tls = certs !== undefined;
  const servers: RedisProcess[] = [];
  const sentinels: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all([...sentinels, ...servers].map((s) => s.kill()));
  };
  try {
    servers.push(await spawnRedisOnFreePort((port) => dataNodeArgs(port, mkdir(dir, `data-${port}`), [], certs), 'redis master', undefined, tls));
    const masterPort = servers[0]!.port;
    for (let i = 0; i < replicas; i++) {
      const via = opts.replicateVia ? await opts.replicateVia(masterPort, i) : masterPort;
      servers.push(await spawnRedisOnFreePort((port) => dataNodeArgs(port, mkdir(dir, `data-${port}`), ['--replicaof', '127.0.0.1', String(via), '--replica-announce-ip', '127.0.0.1'], certs), 'redis replica', undefined, tls));
    }
    await waitFor(
      () => withConnection(servers[0]!.url, async (r) => (await r.info('replication')).split('\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length === replicas),
      { timeoutMs: 15_000, message: `${replicas} replicas did not come online` },
    );
    const sentinelArgs = (port: number): string[] => {
      const conf = join(mkdir(dir, `sentinel-${port}`), 'sentinel.conf');
      // Sentinel rewrites its file (it records what it learns): one writable file per sentinel.
      writeFileSync(
        conf,
        [
          ...(certs ? ['port 0', ...tlsDirectives(port, certs).map(([k, v]) => `${k} ${v}`)] : [`port ${port}`]),
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${Math.floor(count / 2) + 1}`,
          `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} 3000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(opts.sentinelPassword ? [`requirepass "${opts.sentinelPassword}"`, `sentinel sentinel-pass "${opts.sentinelPassword}"`] : []),
          '',
        ].join('\n'),
      );
      return [conf, '--sentinel', '--daemonize', 'no', '--logfile', ''];
    };
    for (let i = 0; i < count; i++) sentinels.push(await spawnRedisOnFreePort(sentinelArgs, 'redis sentinel', opts.sentinelPassword, tls));
    // Sentinels find the replicas through the master's INFO and each other through its hello channel.
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const ok = await withConnection(s.url, async (r) => {
            const flat = (await r.call('SENTINEL', 'MASTER', masterName)) as string[];
            const m = new Map<string, string>();
            for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
            return Number(m.get('num-slaves')) === replicas && Number(m.get('num-other-sentinels')) === count - 1;
          });
          if (!ok) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the sentinels did not discover every replica and each other' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const sentinelAddresses = sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  const byPort = (port: number) => servers.find((s) => s.port === port);
  const askMaster = async (s: RedisProcess): Promise<RedisProcess | undefined> => {
    const addr = (await withConnection(s.url, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName))) as [string, string] | null;
    return addr ? byPort(Number(addr[1])) : undefined;
  };
  return {
    masterName,
    servers,
    sentinels,
    sentinelAddresses,
    env: {
      AUTHCACHE_REDIS_SENTINELS: sentinelAddresses,
      AUTHCACHE_REDIS_SENTINEL_NAME: masterName,
      ...(opts.sentinelPassword ? { AUTHCACHE_REDIS_SENTINEL_PASSWORD: opts.sentinelPassword } : {}),
      ...(certs ? { AUTHCACHE_REDIS_TLS_CA: certs.ca } : {}),
    },
    redisUrl: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${servers[0]!.port}`,
    ...(certs ? { ca: certs.ca } : {}),
    async master() {
      for (const s of sentinels.filter((x) => x.alive)) {
        const m = await askMaster(s).catch(() => undefined);
        if (m) return m;
      }
      throw new Error('no sentinel names a master');
    },
    awaitMaster({ not, timeoutMs = 30_000 } = {}) {
      return waitFor(
        async () => {
          const seen = await Promise.all(sentinels.filter((x) => x.alive).map((s) => askMaster(s)));
          const m = seen[0];
          if (!m || !m.alive || m === not || seen.some((x) => x !== m)) return undefined;
          const role = await withConnection(m.url, (r) => r.call('ROLE') as Promise<unknown[]>);
          return role[0] === 'master' ? m : undefined;
        },
        { timeoutMs, intervalMs: 100, message: 'the sentinels did not agree on a live master' },
      );
    },
    stop,
  };
}

function mkdir(parent: string, name: string): string {
  const d = join(parent, name);
  mkdirSync(d, { recursive: true });
  return d;
}
