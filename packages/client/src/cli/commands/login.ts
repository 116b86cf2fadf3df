import type { Command } from 'commander';
import { InvalidCredentialsError, TooManyRequestsError } from '../../errors';
import { EXIT } from '../exit-codes';
import { loginAccepted, loginRejected } from '../format';
import { checkName } from '../options';
import { type PasswordOption, resolvePassword } from '../password';
import type { RunAction, Session } from '../session';

interface LoginOptions {
  password?: PasswordOption;
  passwordStdin?: boolean;
}

export function registerLogin(program: Command, run: RunAction): void {
  program
    .command('login <user>')
    .summary('check a password on the target node: exit 0 accepted, 1 rejected')
    .description('check a username/password on the target node, as a client would; exit 0 accepted, 1 rejected')
    .option('--password-stdin', 'read the password from stdin')
    .option('--password [password]', 'the password itself (warns: it is visible in history and ps); without a value, prompt')
    .addHelpText(
      'after',
      `
Without --password-stdin, authctl prompts on the terminal without echo.

Example:
  printf '%s' "$PW" | authctl -p 7002 login alice --password-stdin`,
    )
    .action((user: string, opts: LoginOptions, cmd: Command) => run(cmd, (s) => login(s, user, opts)));
}

export async function login(s: Session, user: string, opts: LoginOptions): Promise<number> {
  checkName(user, 'the user name');
  const password = await resolvePassword(
    { password: opts.password, passwordStdin: opts.passwordStdin, required: true, confirm: false },
    s.io,
  );
  try {
    const r = await s.client.login(user, password!);
    if (s.json) s.printJson(r);
    else s.out(loginAccepted(r));
    return EXIT.OK;
  } catch (err) {
    // A rejection is the answer asked for, so it goes to stdout like an acceptance.
    if (err instanceof InvalidCredentialsError || err instanceof TooManyRequestsError) {
      if (s.json) s.printJson(err.body);
      else {
        const retry = err instanceof TooManyRequestsError && err.retryAfterSeconds !== undefined ? `; retry after ${err.retryAfterSeconds}s` : '';
        s.out(loginRejected(user, `${err.message}${retry}`));
      }
      return EXIT.REFUSED;
    }
    throw err;
  }
}
