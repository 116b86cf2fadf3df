import type { Command } from 'commander';
import type { CacheName } from '../../types';
import { EXIT } from '../exit-codes';
import { propagationLines, settingsChangeLines, settingsLines } from '../format';
import { parseCacheName, parseNonNegativeInt, parsePositiveInt, refuseContradictions, type SettingsFlags, settingsChangeFrom } from '../options';
import type { RunAction, Session } from '../session';
import { partialExit } from './partial';

const CACHE_NAME_HELP =
  'CredentialsCache, RolesCache, PermissionsCache or ImpersonationCache (also credentials, roles, permissions, impersonation); default: every cache';

export function registerSettings(program: Command, run: RunAction): void {
  program
    .command('getauthcacheconfig')
    .summary('print cache settings (Cassandra getauthcacheconfig)')
    .description("print the target node's cache settings (validity, update interval, max entries, active update)")
    .option('--cache-name <name>', CACHE_NAME_HELP, parseCacheName)
    .addHelpText(
      'after',
      `
With --cache-name, Cassandra's four lines:
  Validity Period: 3600000
  Update Interval: 0
  Max Entries: 100000
  Active Update: false
--json prints the node's whole answer, transient and persistent overlays included.`,
    )
    .action((opts: { cacheName?: CacheName }, cmd: Command) => run(cmd, (s) => getConfig(s, opts.cacheName)));

  const set = program.command('setauthcacheconfig');
  set
    .summary('change cache settings on every node (or --local)')
    .description('change cache settings on every node, keeping valid entries (a shorter TTL applies to entries held)')
    .option('--cache-name <name>', CACHE_NAME_HELP, parseCacheName)
    .option('--ttl-ms <ms>', 'validity of a cached entry in ms; 0 disables caching', parseNonNegativeInt)
    .option('--ttl-minutes <minutes>', 'the same, in minutes (OpenSearch plugins.security.cache.ttl_minutes)', parseNonNegativeInt)
    .option('--validity-period <ms>', "Cassandra's name for --ttl-ms", parseNonNegativeInt)
    .option('--max-entries <n>', 'entries per cache, bounded by eviction', parsePositiveInt)
    .option('--refresh-ms <ms>', 'serve the cached value and reload it in the background after this long; 0 turns it off', parseNonNegativeInt)
    .option('--update-interval <ms>', "Cassandra's name for --refresh-ms; -1 (Cassandra: update interval = validity) turns the separate refresh off", parseUpdateInterval)
    .option('--enable-active-update', 'reload entries in the background at each refresh interval')
    .option('--disable-active-update', 'reload entries only when they are next used')
    .option('--persistent', 'keep the change across a restart of every node (default: transient)')
    .option('--local', 'only on the target node, until it restarts (nodetool semantics)')
    .addHelpText(
      'after',
      `
Without --cache-name the change applies to every cache; with it, to that cache alone.

Examples:
  authctl setauthcacheconfig --ttl-minutes 30
  authctl setauthcacheconfig --cache-name CredentialsCache --validity-period 2000 --update-interval 1000 --enable-active-update
  authctl setauthcacheconfig --cache-name roles --max-entries 5000 --persistent
  authctl setauthcacheconfig --cache-name PermissionsCache --validity-period 60000 --update-interval 10000`,
    )
    .action((opts: SettingsFlags, cmd: Command) => run(cmd, (s) => setConfig(s, opts)));
  // The TTL and refresh forms are checked with their values (settingsChangeFrom); these carry none.
  refuseContradictions(
    set,
    [['--enable-active-update', '--disable-active-update']],
    ['--cache-name', '--ttl-ms', '--ttl-minutes', '--validity-period', '--max-entries', '--refresh-ms', '--update-interval'],
  );
}

export async function getConfig(s: Session, cache: CacheName | undefined): Promise<number> {
  const view = await s.client.getSettings();
  if (s.json) s.printJson(view);
  else s.out(...settingsLines(view, cache));
  return EXIT.OK;
}

export async function setConfig(s: Session, flags: SettingsFlags): Promise<number> {
  const change = settingsChangeFrom(flags);
  const result = await s.client.putSettings(change);
  if (s.json) s.printJson(result);
  else {
    const given = flags.updateInterval === -1 ? { updateInterval: -1 } : {};
    s.out(...settingsChangeLines(change, given), ...propagationLines(result, change.local === true));
  }
  return partialExit(s, [result]);
}

/** Cassandra's `-1` means "no separate update interval" (refresh with validity); kept as -1 to be printed so, sent as refresh 0. */
function parseUpdateInterval(value: string): number {
  return value.trim() === '-1' ? -1 : parseNonNegativeInt(value);
}
