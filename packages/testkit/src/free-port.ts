import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, linkSync, mkdirSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Ports handed out recently by this process: two callers asking at the same time (startCluster) must not
// get the same port just because the first has not bound it yet.
const handedOut = new Set<number>();

/**
 * Ports handed out recently by any process on this machine: one file per port, created exclusively.
 * Jest runs suites in parallel workers, and a port one suite is done with is not done with it:
 * its clients keep reconnecting to it, and its Sentinels turn whatever Redis answers there next
 * into a replica of their own master, wiping its data (seen: a test's fresh redis-server on a dead
 * master's port became a replica of another deployment 11 s after it started, its keys gone).
 * So a port is not handed out again, to anyone, for this long.
 */
const REUSE_AFTER_MS = 30 * 60_000;
const REGISTRY = join(tmpdir(), 'authcache-ports');

/** A TCP port that was free on 127.0.0.1 a moment ago, and that no process here was handed recently. */
export function freePort(): Promise<number> {
  return pickPort(askKernel, REGISTRY);
}

/** freePort with the kernel and the registry as parameters (tests). */
export async function pickPort(ask: () => Promise<number>, registry: string, now = Date.now()): Promise<number> {
  const shared = usable(registry);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ask();
    if (handedOut.has(port) || (shared && !claim(registry, port, now))) continue;
    handedOut.add(port);
    if (handedOut.size > 1000) handedOut.delete(handedOut.values().next().value as number);
    return port;
  }
  throw new Error(`freePort: the kernel kept offering ports handed out in the last ${REUSE_AFTER_MS / 60_000} min (registry ${registry})`);
}

/** Whether the registry can be written (another user's directory, a read-only /tmp: then this process keeps count alone, as before). */
function usable(registry: string): boolean {
  try {
    mkdirSync(registry, { recursive: true });
    accessSync(registry, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes `port` in the registry: false if another process took it less than REUSE_AFTER_MS ago.
 * A registry that fails in any other way (full disk, permissions changed) does not fail the
 * caller: the port is taken on this process's own count, as without a registry.
 */
function claim(registry: string, port: number, now: number): boolean {
  const file = join(registry, String(port));
  try {
    if (create(file)) return true;
    if (now - statSync(file).mtimeMs < REUSE_AFTER_MS) return false;
    return takeStale(file, now);
  } catch (err) {
    // ENOENT: the entry went between the create and the stat (another process took it over).
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Creates `file` exclusively: false if it exists. */
function create(file: string): boolean {
  try {
    closeSync(openSync(file, 'wx'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * A stale entry is moved aside under a name of our own first: of two processes that both saw it
 * stale, only one can move it. Should what was moved be fresh after all (another process took the
 * port over meanwhile), it is put back and the port left to that process.
 */
function takeStale(file: string, now: number): boolean {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  renameSync(file, aside);
  let stale = false;
  try {
    stale = now - statSync(aside).mtimeMs >= REUSE_AFTER_MS;
  } finally {
    if (!stale) {
      try {
        linkSync(aside, file);
      } catch {
        // Someone created the entry again meanwhile: theirs stands.
      }
    }
    unlinkSync(aside);
  }
  return stale && create(file);
}

function askKernel(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/** Whether something already listens on host:port (used to name a taken port before starting). */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(true);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}
