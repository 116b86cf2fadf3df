import { Readable } from 'node:stream';
import { main } from '../src/cli/main';
import type { CliIO } from '../src/cli/io';

export interface AuthctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * authctl run in-process with `args`, as a user with an admin token in the environment runs it:
 * what it printed and its exit code. `stdin` is what is piped in (nothing by default).
 */
export async function runAuthctl(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<AuthctlRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
    env: { AUTHCACHE_ADMIN_TOKEN: 'tok', ...opts.env },
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}
