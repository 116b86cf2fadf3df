import type { Command } from 'commander';
import { NotFoundError } from '../../errors';
import { LIMITS, type RoleChange } from '../../types';
import { EXIT, RefusedError, UsageError } from '../exit-codes';
import { propagationLines, roleSummary, roleTable } from '../format';
import { checkName, collect, refuseContradictions } from '../options';
import { type PasswordOption, resolvePassword } from '../password';
import type { RunAction, Session } from '../session';
import { partialExit } from './partial';

export interface RoleOptions {
  password?: PasswordOption;
  passwordStdin?: boolean;
  login?: boolean;
  superuser?: boolean;
  grant?: string[];
  revoke?: string[];
}

export function registerRole(program: Command, run: RunAction): void {
  const role = program
    .command('role')
    .summary('role create|alter|drop|list')
    .description('create, alter, drop and list roles; every change is enforced on every node before the command returns');

  for (const verb of ['create', 'alter'] as const) {
    const sub = role.command(`${verb} <name>`);
    sub
      .description(verb === 'create' ? 'create a role (fails if it exists)' : 'change an existing role')
      .option('--password-stdin', 'read the new password from stdin')
      .option('--password [password]', 'the new password (warns: visible in history and ps); without a value, prompt twice')
      .option('--login', 'the role may log in')
      .option('--no-login', 'the role may not log in (lock it out)')
      .option('--superuser', 'the role is a superuser')
      .option('--no-superuser', 'the role is not a superuser')
      .option('--grant <role>', 'grant a role to it (repeatable)', collect)
      .option('--revoke <role>', 'revoke a granted role from it (repeatable)', collect)
      .addHelpText(
        'after',
        verb === 'create'
          ? `
Example:
  printf '%s' "$PW" | authctl role create alice --password-stdin --login --grant reader`
          : `
Examples:
  printf '%s' "$NEW_PW" | authctl role alter alice --password-stdin   # rotate a password
  authctl role alter alice --no-login                                # lock a user out
  authctl role alter alice --grant writer --revoke reader`,
      )
      .action((name: string, opts: RoleOptions, cmd: Command) => run(cmd, (s) => putRole(s, verb, name, opts)));
    refuseContradictions(
      sub,
      [
        ['--login', '--no-login'],
        ['--superuser', '--no-superuser'],
        ['--password', '--password-stdin'],
      ],
      ['--password'],
    );
  }

  role
    .command('drop <name>')
    .description('drop a role; its holders lose its grants on every node')
    .action((name: string, _opts: unknown, cmd: Command) => run(cmd, (s) => dropRole(s, name)));

  role
    .command('list')
    .description('list roles: login, superuser, whether a password is set, direct grants (never the hash)')
    .action((_opts: unknown, cmd: Command) => run(cmd, (s) => listRoles(s)));
}

export async function putRole(s: Session, verb: 'create' | 'alter', name: string, opts: RoleOptions): Promise<number> {
  checkName(name, 'the role name');
  for (const r of [...(opts.grant ?? []), ...(opts.revoke ?? [])]) checkName(r, 'a granted role name');
  const both = (opts.grant ?? []).filter((r) => (opts.revoke ?? []).includes(r));
  if (both.length > 0) throw new UsageError(`--grant and --revoke both name ${[...new Set(both)].join(', ')}; give one`);
  for (const [flag, list] of [['--grant', opts.grant], ['--revoke', opts.revoke]] as const) {
    if ((list?.length ?? 0) > LIMITS.rolesPerChange) throw new UsageError(`${flag}: at most ${LIMITS.rolesPerChange} roles in one change`);
  }
  const change: RoleChange = {};
  if (opts.login !== undefined) change.login = opts.login;
  if (opts.superuser !== undefined) change.superuser = opts.superuser;
  if (opts.grant !== undefined) change.grant = opts.grant;
  if (opts.revoke !== undefined) change.revoke = opts.revoke;
  const wantsPassword = opts.password !== undefined || opts.passwordStdin === true;
  if (verb === 'alter' && !wantsPassword && Object.keys(change).length === 0) {
    throw new UsageError('nothing to change: give --password-stdin, --password, --[no-]login, --[no-]superuser, --grant or --revoke');
  }

  // PUT creates or alters; the operator said which one was meant, as CREATE ROLE and ALTER ROLE do.
  // Checked before asking for a password, so a typo does not cost a prompt.
  const exists = await roleExists(s, name);
  if (verb === 'create' && exists) throw new RefusedError(`role ${name} already exists; use: authctl role alter ${name}`);
  if (verb === 'alter' && !exists) throw new RefusedError(`role ${name} does not exist; use: authctl role create ${name}`);

  const password = await resolvePassword(
    { password: opts.password, passwordStdin: opts.passwordStdin, required: false, confirm: true },
    s.io,
  );
  if (password !== undefined) change.password = password;

  const result = await s.client.putRole(name, change);
  if (s.json) s.printJson(result);
  else s.out(`Role ${name} ${result.created ? 'created' : 'altered'}: ${roleSummary(result.role)}`, ...propagationLines(result, false));
  return partialExit(s, [result]);
}

async function roleExists(s: Session, name: string): Promise<boolean> {
  try {
    await s.client.getRole(name);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

export async function dropRole(s: Session, name: string): Promise<number> {
  checkName(name, 'the role name');
  const result = await s.client.dropRole(name);
  if (s.json) s.printJson(result);
  else s.out(`Role ${name} dropped`, ...propagationLines(result, false));
  return partialExit(s, [result]);
}

export async function listRoles(s: Session): Promise<number> {
  const roles = await s.client.listRoles();
  if (s.json) s.printJson(roles);
  else s.out(...roleTable([...roles].sort((a, b) => a.name.localeCompare(b.name))));
  return EXIT.OK;
}
