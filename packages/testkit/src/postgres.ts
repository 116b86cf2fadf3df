/**
 * A PostgreSQL for one suite, like startRedis(): AUTHCACHE_POSTGRES_URL / POSTGRES_URL when set
 * (unless preferOwn); else `initdb` + `postgres` from PATH or /usr/lib/postgresql/<v>/bin in a
 * temp dir on a free port (as an unprivileged user when we are root: PostgreSQL refuses to run
 * as root); else a postgres container when a Docker engine answers; else one clear error.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { OutputCapture } from './output-capture';
import { waitFor } from './wait-for';
import { spawnServer, type ServerProcess } from './server-process';
import { containerRuntime, isExecutable, pathDirs, serverTempDir, startOnFreePort } from './server-binary';

export type PostgresSource = 'env' | 'binary' | 'container';

export interface PostgresHandle {
  /** postgres://authcache@127.0.0.1:<port>/postgres (no password: trust on localhost) */
  url: string;
  host: string;
  port: number;
  source: PostgresSource;
  /** One statement on a fresh connection (what a user does with psql); rows as objects. */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Fast shutdown (SIGINT); no-op for 'env'. Data stays for restart(). */
  stop(): Promise<void>;
  /** A crash: SIGKILL the postmaster and its backends. Throws for 'env'. */
  kill(): Promise<void>;
  /** Start again on the SAME port with the same data (a database keeps what it committed). Throws for 'env'. */
  restart(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Ignore the URL variables: fault tests stop and restart their own server. */
  preferOwn?: boolean;
}

export const NO_POSTGRES_MESSAGE =
  'No PostgreSQL available: set AUTHCACHE_POSTGRES_URL (or POSTGRES_URL), install PostgreSQL (e.g. apt-get install postgresql: initdb and postgres in /usr/lib/postgresql/<version>/bin), or start a Docker engine.';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;
const USER = 'authcache';

interface PgClientLike {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
  on(event: 'error', f: (err: Error) => void): void;
}

/** A one-off client for the fixture's own queries. */
function pgClient(url: string, timeoutMs = 3000): PgClientLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pg = require('pg') as { Client: new (c: object) => PgClientLike };
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: 30_000 });
  client.on('error', () => undefined);
  return client;
}

async function runQuery<R>(url: string, sql: string, params?: unknown[]): Promise<R[]> {
  const client = pgClient(url);
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

const ready = (url: string) => runQuery(url, 'SELECT 1').then(() => true);

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const envUrl = process.env.AUTHCACHE_POSTGRES_URL || process.env.POSTGRES_URL;
  if (envUrl && !opts.preferOwn) return fromEnv(envUrl);
  const bin = findBinaries();
  if (bin) return startBinary(bin);
  const container = await startContainer();
  if (container) return container;
  throw new Error(envUrl ? `${NO_POSTGRES_MESSAGE} (the URL variable is not used here: this suite stops and restarts its own PostgreSQL.)` : NO_POSTGRES_MESSAGE);
}

async function fromEnv(url: string): Promise<PostgresHandle> {
  const parsed = new URL(url);
  await waitFor(() => ready(url), { timeoutMs: 5000, intervalMs: 200, message: `PostgreSQL at ${parsed.host} (from the environment) does not answer` });
  const notOurs = (what: string) => async () => {
    throw new Error(`${what}(): this PostgreSQL comes from the environment and was not started by the testkit; use startPostgres({ preferOwn: true }).`);
  };
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    source: 'env',
    query: (sql, params) => runQuery(url, sql, params),
    stop: async () => undefined,
    kill: notOurs('kill'),
    restart: notOurs('restart'),
  };
}

interface Binaries {
  initdb: string;
  postgres: string;
}

function findBinaries(): Binaries | undefined {
  const dirs = pathDirs();
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // no Debian layout
  }
  for (const dir of dirs) {
    const b = { initdb: join(dir, 'initdb'), postgres: join(dir, 'postgres') };
    if (isExecutable(b.initdb) && isExecutable(b.postgres)) return b;
  }
  return undefined;
}

/** As root, the command runs as this uid/gid (postgres if it exists, else nobody). */
function unprivileged(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  throw new Error('startPostgres: running as root and neither user postgres nor nobody exists to run PostgreSQL as');
}

/** argv that runs `cmd` as `as` (setpriv execs in place: the pid we get is the server's own). */
function asUser(as: { uid: number; gid: number } | undefined, cmd: string, args: string[]): [string, string[]] {
  if (!as) return [cmd, args];
  return ['setpriv', [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', '--', cmd, ...args]];
}

type Running = ServerProcess;

async function startBinary(bin: Binaries): Promise<PostgresHandle> {
  const as = unprivileged();
  let current: Running | undefined;
  // The server's process group (postmaster and backends) dies with us, then its files go.
  const dir = serverTempDir('authcache-pg-', () => {
    if (current && !current.done && current.child.pid) killGroup(current.child.pid);
  });
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  const output = new OutputCapture();
  const [cmd, args] = asUser(as, bin.initdb, ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const init = spawnSync(cmd, args, { encoding: 'utf8', cwd: dir });
  if (init.status !== 0) throw new Error(`initdb failed (${String(init.status ?? init.error)}):\n${init.stdout}\n${init.stderr}`);

  const { port, server } = await startOnFreePort(/already in use|could not bind|could not create listen/i, (p) => launch(bin, as, data, dir, p, output));
  current = server;
  const host = '127.0.0.1';
  const url = `postgres://${USER}@${host}:${port}/postgres`;

  const halt = async (signal: NodeJS.Signals) => {
    const running = current;
    if (!running || running.done) return;
    if (signal === 'SIGKILL') killGroup(running.child.pid!);
    else running.child.kill(signal);
    const forced = setTimeout(() => killGroup(running.child.pid!), STOP_GRACE_MS);
    await running.exited;
    clearTimeout(forced);
  };

  return {
    url,
    host,
    port,
    source: 'binary',
    query: (sql, params) => runQuery(url, sql, params),
    stop: () => halt('SIGINT'),
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGINT');
      // After a SIGKILL, backends may hold the old shared memory for a moment: retry until it is free.
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (;;) {
        try {
          current = await launch(bin, as, data, dir, port, output);
          return;
        } catch (err) {
          if (Date.now() > deadline || !/shared memory|lock file|already in use|could not bind/i.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
  };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function launch(bin: Binaries, as: { uid: number; gid: number } | undefined, data: string, dir: string, port: number, output: OutputCapture): Promise<Running> {
  const [cmd, args] = asUser(as, bin.postgres, [
    '-D', data,
    '-p', String(port),
    '-k', dir,
    '-c', 'listen_addresses=127.0.0.1',
    // Survives a killed server (the OS keeps what was written), not a machine crash: enough for tests.
    '-c', 'fsync=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=300',
    '-c', 'shared_buffers=32MB',
    '-c', 'log_min_messages=warning',
  ]);
  const url = `postgres://${USER}@127.0.0.1:${port}/postgres`;
  return spawnServer({
    what: `postgres on port ${port}`,
    command: cmd,
    args,
    cwd: dir,
    output,
    ready: () => ready(url),
    readyMeans: 'answering',
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 50,
    kill: (child) => child.pid && killGroup(child.pid),
  });
}

/** A postgres:16-alpine container, or undefined when no Docker engine answers. */
async function startContainer(): Promise<PostgresHandle | undefined> {
  const tc = await containerRuntime();
  if (!tc) return undefined;
  const port = await freePort();
  const container = await new tc.GenericContainer('postgres:16-alpine')
    .withEnvironment({ POSTGRES_USER: USER, POSTGRES_DB: 'postgres', POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts({ container: 5432, host: port })
    .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const host = container.getHost();
  const url = `postgres://${USER}@${host}:${port}/postgres`;
  const client = await tc.getContainerRuntimeClient();
  const docker = client.container.getById(container.getId());
  const up = () => waitFor(() => ready(url), { timeoutMs: READY_TIMEOUT_MS, message: `postgres container at ${url} did not answer` });
  await up();
  return {
    url,
    host,
    port,
    source: 'container',
    query: (sql, params) => runQuery(url, sql, params),
    stop: () => client.container.stop(docker, { timeout: STOP_GRACE_MS / 1000 }),
    kill: () => client.container.stop(docker, { timeout: 0 }),
    async restart() {
      await client.container.restart(docker, { timeout: 0 });
      await up();
    },
  };
}
