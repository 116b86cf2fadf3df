/**
 * What startRedis, startPostgres and startSlapd share around the server they start: finding its
 * binary, a temp dir that goes at exit, a free port that really binds, and a Docker engine to fall
 * back on. The servers' own arguments and lifecycles stay in redis.ts, postgres.ts and ldap.ts.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { atExit } from './child-reaper';
import { freePort } from './free-port';

/** How many fresh ports to try before a port-in-use failure is the caller's. */
const PORT_ATTEMPTS = 5;

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directories of $PATH, in order, without empty entries. */
export function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean);
}

/** The first executable `name` in $PATH, then in `extraDirs` (e.g. sbin dirs a user's PATH often lacks). */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...pathDirs(), ...extraDirs]) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A fresh temp dir for a server's files, removed at process exit. `beforeRemove` runs first, in
 * the same exit hook, for what must be gone before the files (a server's other processes).
 */
export function serverTempDir(prefix: string, beforeRemove?: () => void): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  atExit(() => {
    beforeRemove?.();
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Runs `start` on a free port until it starts. freePort() can race with another process grabbing
 * the port; a fresh port is the cure, so an error matching `portTaken` is retried (a few times),
 * any other is thrown at once.
 */
export async function startOnFreePort<T>(portTaken: RegExp, start: (port: number) => Promise<T>): Promise<{ port: number; server: T }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { port, server: await start(port) };
    } catch (err) {
      if (attempt >= PORT_ATTEMPTS || !portTaken.test((err as Error).message)) throw err;
    }
  }
}

/** testcontainers when a Docker engine answers, else undefined. Loaded only here so that runs
 *  without an engine never pay for it. */
export async function containerRuntime(): Promise<typeof import('testcontainers') | undefined> {
  try {
    const tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
    return tc;
  } catch {
    return undefined;
  }
}
