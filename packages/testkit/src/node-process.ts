import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { track } from './child-reaper';
import { freePort, portInUse } from './free-port';
import { healthyAs } from './health';
import { OutputCapture } from './output-capture';
import { defaultNodeEntry } from './repo-root';
import { waitFor } from './wait-for';

export interface NodeHandle {
  id: string;
  port: number;
  /** `http://127.0.0.1:${port}` */
  url: string;
  /** pid of the current process (changes on restart) */
  readonly pid: number | undefined;
  /** captured stdout+stderr so far, across restarts (pino JSON lines) */
  logs(): string;
  /** exit code of the current process (null when killed by a signal) */
  readonly exited: Promise<number | null>;
  /** SIGTERM, await exit (SIGKILL after 10 s); resolves to the exit code */
  stop(): Promise<number | null>;
  /** SIGKILL, await exit */
  kill(): Promise<void>;
  /** Stop if running, start again with the same id/port/env (+ extraEnv, which sticks for later restarts), wait healthy. */
  restart(extraEnv?: Record<string, string>): Promise<void>;
}

export interface NodeOptions {
  redisUrl: string;
  cluster: string;
  secret: string;
  token: string;
  /** default `node-${port}` */
  id?: string;
  /** default: a free port */
  port?: number;
  /** overrides of the default environment; a value of undefined removes the variable (e.g. AUTHCACHE_BCRYPT_COST) */
  env?: Record<string, string | undefined>;
  /** default true: resolve once GET /health answers 200 */
  waitHealthy?: boolean;
  /** default: packages/node/dist/main.js of this repo */
  entry?: string;
  /** each line of stdout/stderr as it arrives (scripts/cluster.mjs prefixes and prints them) */
  onOutput?: (line: string) => void;
  /** default 20 000 */
  healthTimeoutMs?: number;
}

const STOP_GRACE_MS = 10_000;
const HEALTH_TIMEOUT_MS = 20_000;

/** Environment a node gets: the parent's, minus anything that configures a node (a developer's shell
 *  must not leak into tests), plus the defaults, plus opts.env. */
export function nodeEnv(opts: NodeOptions, id: string, port: number): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('AUTHCACHE_') && key !== 'REDIS_URL' && key !== 'LOG_LEVEL'),
  );
  const merged: NodeJS.ProcessEnv = {
    ...inherited,
    REDIS_URL: opts.redisUrl,
    AUTHCACHE_CLUSTER: opts.cluster,
    AUTHCACHE_NODE_ID: id,
    AUTHCACHE_PORT: String(port),
    AUTHCACHE_HOST: '127.0.0.1',
    AUTHCACHE_ADMIN_TOKEN: opts.token,
    AUTHCACHE_CLUSTER_SECRET: opts.secret,
    LOG_LEVEL: 'info',
    AUTHCACHE_BCRYPT_COST: '4',
    // Tests make many failed logins on purpose; the suites that test throttling turn it on.
    AUTHCACHE_LOGIN_MAX_FAILURES: '0',
    AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
    ...opts.env,
  };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  return merged;
}

interface Run {
  child: ChildProcess;
  exited: Promise<number | null>;
  done: boolean;
  code: number | null;
}

/** Attempts at a free port before giving up, when the port is ours to choose. */
const PORT_ATTEMPTS = 3;

/**
 * Start `node packages/node/dist/main.js` and (by default) wait until GET /health answers 200.
 * freePort() only finds a port free at that moment: another suite's process can bind it before
 * the node does, which then exits with EADDRINUSE. With no port given, another is tried.
 */
export async function startNode(opts: NodeOptions): Promise<NodeHandle> {
  if (opts.port !== undefined) return startNodeOn(opts, opts.port);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNodeOn(opts, await freePort());
    } catch (err) {
      if (attempt >= PORT_ATTEMPTS || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startNodeOn(opts: NodeOptions, port: number): Promise<NodeHandle> {
  const id = opts.id ?? `node-${port}`;
  // Whoever already holds the port would answer GET /health in the node's place.
  const ensurePortFree = async () => {
    if (await portInUse(port)) throw new Error(`startNode: port ${port} (node ${id}) is already in use on 127.0.0.1`);
  };
  if (opts.port !== undefined) await ensurePortFree();
  const url = `http://127.0.0.1:${port}`;
  const entry = opts.entry ?? defaultNodeEntry();
  if (!existsSync(entry)) throw new Error(`startNode: ${entry} does not exist; build first (pnpm build)`);
  const healthTimeoutMs = opts.healthTimeoutMs ?? HEALTH_TIMEOUT_MS;
  let env = nodeEnv(opts, id, port);
  const output = new OutputCapture(opts.onOutput);

  const spawnRun = (): Run => {
    // Own process group: a terminal Ctrl-C reaches only the launcher, which stops nodes in order.
    const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(child);
    output.attach(child.stdout);
    output.attach(child.stderr);
    const run: Run = { child, done: false, code: null, exited: Promise.resolve(null) };
    run.exited = new Promise((resolve) => {
      const finish = (code: number | null) => {
        if (run.done) return;
        run.done = true;
        run.code = code;
        resolve(code);
      };
      child.once('exit', (code) => finish(code));
      child.once('error', (err) => {
        output.note(`spawn ${process.execPath} ${entry}: ${err.message}`);
        finish(null);
      });
    });
    // A forgotten node must not keep the test process alive; the reaper kills it at exit.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    return run;
  };

  const awaitHealthy = async (run: Run): Promise<void> => {
    const gone = new AbortController();
    void run.exited.then(() => gone.abort(new Error('exited')));
    try {
      await waitFor(() => healthyAs(url, id, 2000), {
        timeoutMs: healthTimeoutMs,
        intervalMs: 50,
        message: `node ${id} did not answer GET ${url}/health with 200`,
        signal: gone.signal,
      });
    } catch (err) {
      const why = run.done
        ? `node ${id} exited with code ${String(run.code)} before it was healthy`
        : (err as Error).message;
      if (!run.done) {
        run.child.kill('SIGKILL');
        await run.exited;
      }
      throw new Error(`${why}\n--- last output of ${id} ---\n${output.tail(30)}`);
    }
  };

  let current = spawnRun();

  const stopRun = async (run: Run): Promise<number | null> => {
    if (run.done) return run.code;
    run.child.kill('SIGTERM');
    const forced = setTimeout(() => run.child.kill('SIGKILL'), STOP_GRACE_MS);
    const code = await run.exited;
    clearTimeout(forced);
    return code;
  };

  const handle: NodeHandle = {
    id,
    port,
    url,
    get pid() {
      return current.child.pid;
    },
    get exited() {
      return current.exited;
    },
    logs: () => output.text(),
    stop: () => stopRun(current),
    async kill() {
      if (current.done) return;
      current.child.kill('SIGKILL');
      await current.exited;
    },
    async restart(extraEnv) {
      await stopRun(current);
      if (extraEnv) env = { ...env, ...extraEnv };
      await ensurePortFree();
      current = spawnRun();
      await awaitHealthy(current);
    },
  };

  if (opts.waitHealthy ?? true) await awaitHealthy(current);
  return handle;
}
