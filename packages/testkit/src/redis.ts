import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port';
import { OutputCapture } from './output-capture';
import { ping, tryShutdown, trySave, withConnection } from './redis-commands';
import { waitFor } from './wait-for';
import { spawnServer, type ServerProcess } from './server-process';
import { containerRuntime, findExecutable, serverTempDir, startOnFreePort } from './server-binary';

export type RedisSource = 'env' | 'binary' | 'container';

export interface RedisHandle {
  url: string;
  host: string;
  port: number;
  source: RedisSource;
  /** SIGKILL-free graceful stop (SHUTDOWN NOSAVE for binary); no-op for 'env'. */
  stop(): Promise<void>;
  /** Simulate a crash: SIGKILL the redis-server (binary). Throws for 'env'. */
  kill(): Promise<void>;
  /** Start again on the SAME port. keepData:true -> data written before is there again (SAVE before kill, same --dir/--dbfilename); false (default) -> empty. Throws a clear Error for source 'env' (cannot restart a Redis we did not start). */
  restart(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartRedisOptions {
  /** Ignore REDIS_URL: fault tests need their own server. */
  preferOwn?: boolean;
}

export const NO_REDIS_MESSAGE =
  'No Redis available: set REDIS_URL, install redis-server (e.g. apt-get install redis-server), or start a Docker engine.';

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

/**
 * A Redis for one suite: process.env.REDIS_URL (unless preferOwn); else a `redis-server` from PATH on a
 * free port in a fresh temp dir; else a redis:7-alpine container when a Docker engine answers; else one
 * clear Error naming the three options.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const envUrl = process.env.REDIS_URL;
  if (envUrl && !opts.preferOwn) return fromEnv(envUrl);
  const binary = findExecutable('redis-server');
  if (binary) return startBinary(binary);
  const container = await startContainer();
  if (container) return container;
  throw new Error(
    envUrl && opts.preferOwn
      ? `${NO_REDIS_MESSAGE} (REDIS_URL is not used here: this suite stops and restarts its own Redis.)`
      : NO_REDIS_MESSAGE,
  );
}

async function fromEnv(url: string): Promise<RedisHandle> {
  const parsed = new URL(url);
  const host = parsed.hostname || '127.0.0.1';
  const port = parsed.port ? Number(parsed.port) : 6379;
  try {
    await waitFor(() => ping(url), { timeoutMs: 3000, intervalMs: 200, message: `REDIS_URL=${url} does not answer PING` });
  } catch (err) {
    throw new Error((err as Error).message);
  }
  const notOurs = (what: string) => async () => {
    throw new Error(
      `${what}(): this Redis comes from REDIS_URL (${url}) and was not started by the testkit, so it cannot be ${what === 'kill' ? 'killed' : 'restarted'}; use startRedis({ preferOwn: true }).`,
    );
  };
  return { url, host, port, source: 'env', stop: async () => undefined, kill: notOurs('kill'), restart: notOurs('restart') };
}

type RunningServer = ServerProcess;

async function startBinary(binary: string): Promise<RedisHandle> {
  const dir = serverTempDir('authcache-redis-');
  const output = new OutputCapture();
  const host = '127.0.0.1';

  const { port, server } = await startOnFreePort(/already in use|bind/i, (p) => launch(binary, p, dir, output));
  const url = `redis://${host}:${port}`;
  let current: RunningServer | undefined = server;

  async function shutdown(): Promise<void> {
    const running = current;
    if (!running || running.done) return;
    await tryShutdown(url);
    const forced = setTimeout(() => running.child.kill('SIGKILL'), STOP_GRACE_MS);
    await running.exited;
    clearTimeout(forced);
  }

  return {
    url,
    host,
    port,
    source: 'binary',
    async stop() {
      // SAVE first so that restart({ keepData: true }) after a stop finds the data too.
      if (current && !current.done) await trySave(url);
      await shutdown();
    },
    async kill() {
      const running = current;
      if (!running || running.done) return;
      await trySave(url);
      running.child.kill('SIGKILL');
      await running.exited;
    },
    async restart(opts = {}) {
      if (current && !current.done) {
        if (opts.keepData) await trySave(url);
        await shutdown();
      }
      if (!opts.keepData) rmSync(join(dir, 'dump.rdb'), { force: true });
      current = await launch(binary, port, dir, output);
    },
  };
}

function launch(binary: string, port: number, dir: string, output: OutputCapture): Promise<RunningServer> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--dbfilename', 'dump.rdb',
    // Persistence only when we ask for it (SAVE before stop/kill), so a restart sees exactly what the test chose.
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  const url = `redis://127.0.0.1:${port}`;
  return spawnServer({
    what: `redis-server on port ${port}`,
    command: binary,
    args,
    output,
    ready: () => ping(url, 500),
    readyMeans: 'answering PING',
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 25,
  });
}

/** A redis:7-alpine container, or undefined when no Docker engine answers. */
async function startContainer(): Promise<RedisHandle | undefined> {
  const tc = await containerRuntime();
  if (!tc) return undefined;
  // A fixed host port (docker keeps it across a restart), so restart() keeps the SAME port.
  const port = await freePort();
  const container = await new tc.GenericContainer('redis:7-alpine')
    .withExposedPorts({ container: 6379, host: port })
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no', '--dir', '/data', '--dbfilename', 'dump.rdb'])
    .withWaitStrategy(tc.Wait.forLogMessage(/Ready to accept connections/))
    .start();
  const host = container.getHost();
  const url = `redis://${host}:${port}`;
  const client = await tc.getContainerRuntimeClient();
  const docker = client.container.getById(container.getId());
  let running = true;

  const ready = () => waitFor(() => ping(url, 500), { timeoutMs: READY_TIMEOUT_MS, message: `redis container at ${url} did not answer PING` });
  return {
    url,
    host,
    port,
    source: 'container',
    async stop() {
      if (!running) return;
      await trySave(url);
      await client.container.stop(docker, { timeout: STOP_GRACE_MS / 1000 });
      running = false;
    },
    async kill() {
      if (!running) return;
      await trySave(url);
      // docker stop with no grace period is a SIGKILL.
      await client.container.stop(docker, { timeout: 0 });
      running = false;
    },
    async restart(opts = {}) {
      if (running && opts.keepData) await trySave(url);
      await client.container.restart(docker, { timeout: 0 });
      running = true;
      await ready();
      // The container's /data survives a docker restart, so "empty" has to be made.
      if (!opts.keepData) await withConnection(url, (redis) => redis.flushall());
    },
  };
}
