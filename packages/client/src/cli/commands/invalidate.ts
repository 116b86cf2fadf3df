import type { Command } from 'commander';
import type { CacheName, FlushResult } from '../../types';
import { EXIT, UsageError } from '../exit-codes';
import { cacheLabel, propagationLines } from '../format';
import { partialExit } from './partial';
import { checkName } from '../options';
import type { RunAction, Session } from '../session';

const VERBS: Array<{ name: string; caches: CacheName[] | undefined; what: string; summary: string }> = [
  { name: 'invalidatecredentialscache', caches: ['credentials'], what: 'the credentials cache (password hashes and verifiers)', summary: 'CredentialsCache' },
  { name: 'invalidaterolescache', caches: ['roles'], what: 'the roles cache (resolved role grants)', summary: 'RolesCache' },
  { name: 'invalidateauthcaches', caches: undefined, what: 'every auth cache (credentials, roles, permissions, impersonation)', summary: 'every cache' },
];

export function registerInvalidate(program: Command, run: RunAction): void {
  for (const verb of VERBS) {
    program
      .command(`${verb.name} [users...]`)
      .summary(`invalidate ${verb.summary} on every node (or --local)`)
      .description(`invalidate ${verb.what} on every node; with users, only their entries`)
      .option('--local', 'only on the target node (nodetool semantics)')
      .addHelpText(
        'after',
        `
Cluster-wide by default: one call reaches every live node and reports which applied it.
Exit 1 if any node did not confirm.

Examples:
  authctl ${verb.name}                    # whole cache, every node
  authctl ${verb.name} alice bob          # those users, every node
  authctl -h 10.0.0.5 ${verb.name} --local  # whole cache, that node only`,
      )
      .action((users: string[], opts: { local?: boolean }, cmd: Command) =>
        run(cmd, (s) => invalidate(s, verb.caches, users, opts.local === true)),
      );
  }
}

/** nodetool verbs for Cassandra caches authcache does not hold: refused with that said, not as an unknown verb. */
const CASSANDRA_ONLY_VERBS: Array<[string, string]> = [
  ['invalidatenetworkpermissionscache', 'NetworkPermissionsCache (the network authorizer)'],
  ['invalidatejmxpermissionscache', 'JmxPermissionsCache (the JMX authorizer)'],
  ['invalidatecidrpermissionscache', 'CIDRPermissionsCache (the CIDR authorizer)'],
];

export function registerCassandraOnly(program: Command): void {
  for (const [name, cache] of CASSANDRA_ONLY_VERBS) {
    program
      .command(`${name} [args...]`, { hidden: true })
      .allowUnknownOption()
      .action(() => {
        throw new UsageError(`${name}: authcache has no ${cache}; its caches are CredentialsCache, RolesCache, PermissionsCache and ImpersonationCache`);
      });
  }
}

export async function invalidate(s: Session, caches: CacheName[] | undefined, users: string[], local: boolean): Promise<number> {
  const unique = [...new Set(users.map((u) => checkName(u, 'a user name')))];
  const opts = { ...(caches !== undefined ? { caches } : {}), local };
  const results: FlushResult[] = [];
  const report = (r: FlushResult, subject: string) => {
    results.push(r);
    if (!s.json) s.out(`Invalidated ${cacheLabel(caches)}${subject}`, ...propagationLines(r, local));
  };
  if (unique.length === 0) {
    report(await s.client.flushAll(opts), ' (all entries)');
  } else {
    // One call per user, as the route takes one; a partial result for one user does not stop the others.
    for (const u of unique) report(await s.client.flushUser(u, opts), ` for ${u}`);
  }
  if (s.json) s.printJson(unique.length === 0 ? results[0] : results);
  return partialExit(s, results);
}
