/**
 * Where a password comes from: --password-stdin, a prompt without echo on a terminal, or --password
 * (which works, but lands in shell history and `ps`, so it warns).
 */

import { InterruptedError, UsageError } from './exit-codes';
import type { CliIO, Input, Output } from './io';

/** Commander's value of `--password [P]`: absent, given without a value (prompt), or given with one. */
export type PasswordOption = string | boolean | undefined;

export interface PasswordRequest {
  password: PasswordOption;
  passwordStdin: boolean | undefined;
  /** login needs a password; role create/alter only when asked for one */
  required: boolean;
  /** ask twice at the prompt, for a new password */
  confirm: boolean;
}

export async function resolvePassword(req: PasswordRequest, io: CliIO): Promise<string | undefined> {
  const inline = typeof req.password === 'string' ? req.password : undefined;
  const wantsPrompt = req.password === true;
  if (req.passwordStdin === true && req.password !== undefined) {
    throw new UsageError('--password and --password-stdin are exclusive; give one');
  }
  if (req.passwordStdin === true) {
    return nonEmpty(await readAll(io.stdin), 'the password read from stdin');
  }
  if (inline !== undefined) {
    io.stderr.write(
      'authctl: warning: a password on the command line can be read from shell history and the process list; ' +
        'prefer --password-stdin or the prompt\n',
    );
    return nonEmpty(inline, '--password');
  }
  if (!wantsPrompt && !req.required) return undefined;
  if (io.stdin.isTTY !== true || typeof io.stdin.setRawMode !== 'function') {
    throw new UsageError(
      wantsPrompt
        ? '--password without a value prompts on a terminal, and stdin is not one; use --password-stdin'
        : 'no password given and stdin is not a terminal to prompt on; use --password-stdin',
    );
  }
  const first = await promptHidden('Password: ', io.stdin, io.stderr);
  if (req.confirm) {
    const again = await promptHidden('Password (again): ', io.stdin, io.stderr);
    if (again !== first) throw new UsageError('the passwords do not match; nothing was changed');
  }
  return nonEmpty(first, 'the password');
}

function nonEmpty(p: string, what: string): string {
  if (p === '') throw new UsageError(`${what} is empty`);
  return p;
}

/** Everything on stdin, less one trailing line break (what `echo pw |` and `printf 'pw\n'` add). */
export async function readAll(input: Input): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

// Arrow keys and the like arrive as escape sequences; none of them belong in a password.
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-9;?]*[ -/]*[@-~]|O.|.)?/g;

/** Reads one line from a terminal in raw mode, echoing nothing. Ctrl-C rejects with InterruptedError. */
export function promptHidden(prompt: string, input: Input, output: Output): Promise<string> {
  output.write(prompt);
  const setRaw = (on: boolean) => input.setRawMode?.(on);
  setRaw(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.removeListener('data', onData);
      setRaw(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: Buffer | string) => {
      const text = (typeof chunk === 'string' ? chunk : chunk.toString('utf8')).replace(ESCAPE_SEQUENCE, '');
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new InterruptedError());
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
