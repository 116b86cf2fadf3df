import { spawn, type ChildProcess } from 'node:child_process';
import { track } from './child-reaper';
import type { OutputCapture } from './output-capture';
import { waitFor } from './wait-for';

/** A server binary the testkit started: its process, and whether (and when) it exited. */
export interface ServerProcess {
  child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
}

export interface SpawnServerOptions {
  /** What the errors call it: `redis-server on port 6390`. */
  what: string;
  command: string;
  args: string[];
  cwd?: string;
  output: OutputCapture;
  /** Resolves truthy once the server serves (PING, a query, an open port). */
  ready: () => Promise<unknown>;
  /** What `ready` waits for, for the error: `answering PING`. */
  readyMeans: string;
  timeoutMs: number;
  intervalMs: number;
  /** How to get rid of a server that never became ready (default SIGKILL of the process). */
  kill?: (child: ChildProcess) => void;
}

/**
 * Starts a server (Redis, PostgreSQL, slapd) in its own process group — so a Ctrl-C meant for
 * `pnpm start` does not kill it before the nodes have left — reaped at exit, and waits until it
 * serves. A server that exits or never answers fails with one error carrying its last output.
 */
export function spawnServer(o: SpawnServerOptions): Promise<ServerProcess> {
  const child = spawn(o.command, o.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(o.cwd ? { cwd: o.cwd } : {}) });
  track(child);
  o.output.attach(child.stdout);
  o.output.attach(child.stderr);
  const server: ServerProcess = { child, done: false, exited: Promise.resolve() };
  let exitCode: number | string | null = null;
  server.exited = new Promise((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      server.done = true;
      exitCode = code ?? signal;
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (err) => {
      o.output.note(`spawn ${o.command}: ${err.message}`);
      finish(null, null);
    });
  });
  // The test process must be able to exit while the server still runs; the reaper kills it then.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();

  const gone = new AbortController();
  void server.exited.then(() => gone.abort(new Error('exited')));
  return waitFor(o.ready, { timeoutMs: o.timeoutMs, intervalMs: o.intervalMs, message: `${o.what} did not start ${o.readyMeans}`, signal: gone.signal }).then(
    () => server,
    (err: Error) => {
      (o.kill ?? ((c) => c.kill('SIGKILL')))(child);
      const why = server.done ? `${o.what} exited (${String(exitCode)}) before ${o.readyMeans}` : err.message;
      throw new Error(`${why}\n--- ${o.what} output ---\n${o.output.tail(20)}`);
    },
  );
}
