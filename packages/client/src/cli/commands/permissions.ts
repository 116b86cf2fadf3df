/**
 * Permissions in CQL's words (docs/architecture.md, "Permissions and impersonation"): `grant PERM ON RESOURCE TO ROLE`, `revoke PERM ON
 * RESOURCE FROM ROLE`, `list permissions [ROLE]`, `authorize USER PERM ON RESOURCE`, and
 * nodetool's `invalidatepermissionscache [ROLE] [--resource R]`. Several permissions may be given
 * comma-separated (`SELECT,MODIFY`); `ALL` / `ALL PERMISSIONS` is Cassandra's every permission.
 */
import type { Command } from 'commander';
import { type CacheName, permissionProblem, resourceProblem } from '../../types';
import { EXIT, UsageError } from '../exit-codes';
import { authorizeLine, permissionTable, propagationLines } from '../format';
import { checkName } from '../options';
import type { RunAction, Session } from '../session';
import { partialExit } from './partial';
import { permissionResources, type ResourceFlags } from '../permission-resources';

/** The words of `PERM[,PERM] ON RESOURCE <joiner> ROLE`, case-insensitive keywords. */
export function parsePermissionWords(words: readonly string[], joiner: 'to' | 'from'): { permissions: string[]; resource: string; role: string } {
  const usage = `expected: PERMISSION[,PERMISSION...] ON RESOURCE ${joiner.toUpperCase()} ROLE`;
  const on = words.findIndex((w) => w.toLowerCase() === 'on');
  const to = words.findIndex((w, i) => i > on && w.toLowerCase() === joiner);
  if (on < 1 || to !== on + 2 || words.length !== to + 2) throw new UsageError(usage);
  let permWords = words.slice(0, on);
  // CQL's `ALL PERMISSIONS`
  if (permWords.length === 2 && permWords[0]!.toUpperCase() === 'ALL' && permWords[1]!.toUpperCase() === 'PERMISSIONS') permWords = ['ALL'];
  const permissions = [...new Set(permWords.join(',').split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => p.toUpperCase()))];
  if (permissions.length === 0) throw new UsageError(usage);
  for (const p of permissions) {
    const problem = permissionProblem(p);
    if (problem) throw new UsageError(problem);
  }
  const resource = words[on + 1]!;
  const problem = resourceProblem(resource);
  if (problem) throw new UsageError(problem);
  return { permissions, resource, role: checkName(words[to + 1]!, 'a role name') };
}

export function registerPermissions(program: Command, run: RunAction): void {
  program
    .command('grant <words...>')
    .summary('grant PERM ON RESOURCE TO ROLE (CQL GRANT), enforced on every node')
    .description('grant permissions on a resource (and everything below it) to a role; every node drops what it affects before this returns')
    .addHelpText(
      'after',
      `
Resources are /-separated paths: data, data/ks, data/ks/table, roles/NAME, or any a/b/c.
A grant on a parent covers its children; holders of the role inherit it.

Examples:
  authctl grant SELECT ON data/ks TO readers
  authctl grant SELECT,MODIFY ON data/ks/orders TO writers
  authctl grant ALL PERMISSIONS ON data TO dba
  authctl grant IMPERSONATE ON roles/bob TO support      # support may answer as bob`,
    )
    .action((words: string[], _o: unknown, cmd: Command) => run(cmd, (s) => change(s, 'grant', parsePermissionWords(words, 'to'))));

  program
    .command('revoke <words...>')
    .summary('revoke PERM ON RESOURCE FROM ROLE (CQL REVOKE), enforced on every node')
    .description('revoke permissions on a resource from a role; refused on every node before this returns')
    .addHelpText('after', '\nExamples:\n  authctl revoke SELECT ON data/ks FROM readers\n  authctl revoke ALL ON data FROM dba')
    .action((words: string[], _o: unknown, cmd: Command) => run(cmd, (s) => change(s, 'revoke', parsePermissionWords(words, 'from'))));

  const list = program.command('list').summary('list permissions [ROLE]').description('list grants (CQL LIST)');
  list
    .command('permissions [words...]')
    .description("list a role's direct grants (LIST PERMISSIONS [OF] ROLE), or every role's")
    .action((words: string[], _o: unknown, cmd: Command) => {
      const w = words[0]?.toLowerCase() === 'of' ? words.slice(1) : words;
      if (w.length > 1) throw new UsageError('expected: list permissions [ROLE]');
      const role = w[0] === undefined ? undefined : checkName(w[0], 'a role name');
      return run(cmd, (s) => listPermissions(s, role));
    });

  program
    .command('authorize <user> <words...>')
    .summary('authorize USER PERM ON RESOURCE: may this user do it')
    .description('ask the node whether USER holds PERM on RESOURCE (exit 0 allowed, 1 denied)')
    .option('--as <target>', 'impersonate: answer for TARGET, USER being the caller (security_impersonate_as)')
    .action((user: string, words: string[], opts: { as?: string }, cmd: Command) => {
      if (words.length !== 3 || words[1]!.toLowerCase() !== 'on') throw new UsageError('expected: authorize USER PERMISSION ON RESOURCE');
      return run(cmd, (s) => authorize(s, checkName(user, 'a user name'), words[0]!, words[2]!, opts.as));
    });

  const inv = program
    .command('invalidatepermissionscache [role] [resources...]')
    .summary('invalidate PermissionsCache on every node (or --local)')
    .description("invalidate the permissions cache on every node; with ROLE, the entries of that role and of every role holding it")
    .option('--resource <resource>', "accepted as nodetool's: entries are per role set and cover every resource, so the role's entries go")
    .option('--local', 'only on the target node (nodetool semantics)');
  // nodetool's resource options (Cassandra 4.1); like --resource, they need a ROLE and select that role's entries.
  for (const [flags, what] of [
    ['--all-keyspaces', "the resource 'ALL KEYSPACES' (data)"],
    ['--keyspace <keyspace>', 'a keyspace (data/KS)'],
    ['--all-tables', "'ALL TABLES' of --keyspace (data/KS)"],
    ['--table <table>', 'a table of --keyspace (data/KS/TABLE)'],
    ['--all-roles', "'ALL ROLES' (roles)"],
    ['--role <role>', 'a role resource (roles/ROLE)'],
    ['--all-functions', "'ALL FUNCTIONS' (functions)"],
    ['--functions-in-keyspace <keyspace>', 'the functions of a keyspace (functions/KS)'],
    ['--function <function>', 'a function of --functions-in-keyspace (functions/KS/FUNCTION)'],
    ['--all-mbeans', "'ALL MBEANS' (mbean)"],
    ['--mbean <mbean>', 'an MBean (mbean/NAME)'],
  ] as const) {
    inv.option(flags, `nodetool's: ${what}`);
  }
  inv
    .addHelpText(
      'after',
      `
A resource (--resource, nodetool's resource options, or nodetool 4.0's <role> <resource>...) needs a ROLE.
Examples:
  authctl invalidatepermissionscache
  authctl invalidatepermissionscache readers --resource data/ks
  authctl invalidatepermissionscache readers --keyspace ks --table orders
  authctl -h 10.0.0.5 invalidatepermissionscache --local`,
    )
    .action((role: string | undefined, resources: string[], opts: ResourceFlags & { local?: boolean }, cmd: Command) => {
      permissionResources(role, resources, opts);
      return run(cmd, (s) => invalidatePermissions(s, role === undefined ? undefined : checkName(role, 'a role name'), opts.local === true));
    });
}

async function change(s: Session, kind: 'grant' | 'revoke', w: { permissions: string[]; resource: string; role: string }): Promise<number> {
  const r = kind === 'grant' ? await s.client.grantPermissions(w.role, w.resource, w.permissions) : await s.client.revokePermissions(w.role, w.resource, w.permissions);
  if (s.json) s.printJson(r);
  else {
    const verb = kind === 'grant' ? `Granted ${w.permissions.join(',')} ON ${w.resource} TO ${w.role}` : `Revoked ${w.permissions.join(',')} ON ${w.resource} FROM ${w.role}`;
    s.out(`${verb} (now: ${r.permissions.length === 0 ? '-' : r.permissions.join(',')})`, ...propagationLines(r, false));
  }
  return partialExit(s, [r]);
}

async function listPermissions(s: Session, role: string | undefined): Promise<number> {
  const grants = role === undefined ? await s.client.listAllPermissions() : await s.client.listPermissions(role);
  if (s.json) s.printJson(grants);
  else s.out(...permissionTable(grants, role));
  return EXIT.OK;
}

async function authorize(s: Session, user: string, permission: string, resource: string, as: string | undefined): Promise<number> {
  const problem = resourceProblem(resource) ?? permissionProblem(permission);
  if (problem) throw new UsageError(problem);
  if (as !== undefined) checkName(as, 'an impersonation target');
  const r = await s.client.authorize(user, resource, permission, as !== undefined ? { impersonateAs: as } : undefined);
  if (s.json) s.printJson(r);
  else s.out(authorizeLine(user, resource, permission.toUpperCase(), r));
  return r.allowed ? EXIT.OK : EXIT.REFUSED;
}

async function invalidatePermissions(s: Session, role: string | undefined, local: boolean): Promise<number> {
  // Typed through `string`: this compiles before and after CacheName grows (issue 15).
  const caches = ['permissions' as string] as CacheName[];
  const r = role === undefined ? await s.client.flushAll({ caches, local }) : await s.client.flushUser(role, { caches, local });
  if (s.json) s.printJson(r);
  else s.out(`Invalidated PermissionsCache${role === undefined ? ' (all entries)' : ` for ${role} and its holders`}`, ...propagationLines(r, local));
  return partialExit(s, [r]);
}
