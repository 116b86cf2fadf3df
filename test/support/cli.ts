/** authctl as an operator's shell runs it: a child process, its exit code and both outputs. */

import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'packages', 'client', 'dist', 'cli.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of the operator's shell: no node configuration, the admin token exported; undefined removes. */
export function shellEnv(token: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHCACHE_')));
  Object.assign(env, { AUTHCACHE_ADMIN_TOKEN: token }, extra);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

export function execIn(env: NodeJS.ProcessEnv, file: string, args: string[], stdin = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
    // A program that never reads stdin may exit before it is written: not an error.
    child.stdin!.on('error', () => undefined);
    // Always closed, so that nothing waits on a terminal that is not there.
    child.stdin!.end(stdin);
  });
}

const STATUS_LINE = /^(UN|DN)\s+(\S+)\s+(\S+)\s+seq=(\d+)\s+entries=(\d+)$/;

/** `authctl status` lines, each checked against the documented format. */
export function statusRows(stdout: string): Array<{ state: string; address: string; id: string }> {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => {
      const m = STATUS_LINE.exec(line);
      if (!m) throw new Error(`not a status line: ${JSON.stringify(line)}`);
      return { state: m[1]!, address: m[2]!, id: m[3]! };
    });
}
