/** Parsing of option values and of the settings flags (ours and Cassandra's) into one SettingsChange. */

import { type Command, InvalidArgumentError } from 'commander';
import { type CacheName, LIMITS, type SettingsChange } from '../types';
import { UsageError } from './exit-codes';

export function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new InvalidArgumentError('must be a port number, 1-65535.');
  }
  return Number(value);
}

/** Whole milliseconds, entries or minutes; 0 is allowed (ttl 0 disables caching, refresh 0 turns it off). */
export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('must be a whole number, 0 or more.');
  }
  return Number(value);
}

export function parsePositiveInt(value: string): number {
  const n = parseNonNegativeInt(value);
  if (n === 0) throw new InvalidArgumentError('must be greater than 0.');
  return n;
}

const CACHE_ALIASES: Readonly<Record<string, string>> = {
  credentialscache: 'credentials',
  credentials: 'credentials',
  rolescache: 'roles',
  roles: 'roles',
  permissionscache: 'permissions',
  permissions: 'permissions',
  impersonationcache: 'impersonation',
  impersonation: 'impersonation',
};

/** Caches Cassandra's nodetool names that authcache does not hold (no network, JMX or CIDR authorizer). */
const CASSANDRA_ONLY = ['networkpermissionscache', 'jmxpermissionscache', 'cidrpermissionscache'];

/**
 * Cassandra's names (CredentialsCache, RolesCache, PermissionsCache; ImpersonationCache) and ours, any case.
 * An unknown name is refused with nodetool's words ("Unknown cache name: wrong"), then what there is.
 */
export function parseCacheName(value: string): CacheName {
  const key = value.toLowerCase();
  const c = Object.prototype.hasOwnProperty.call(CACHE_ALIASES, key) ? CACHE_ALIASES[key] : undefined;
  if (c === undefined) {
    const why = CASSANDRA_ONLY.includes(key) ? ` (a Cassandra cache authcache does not have)` : '';
    throw new InvalidArgumentError(
      `Unknown cache name: ${value}${why}; one of CredentialsCache, RolesCache, PermissionsCache, ImpersonationCache ` +
        '(or credentials, roles, permissions, impersonation)',
    );
  }
  return c as CacheName;
}

/** Role and user names go into a URL path segment; the SDK would refuse these later, less clearly. */
export function checkName(value: string, what: string): string {
  if (value === '') throw new UsageError(`${what} must not be empty`);
  if (value === '.' || value === '..') throw new UsageError(`${what} cannot be "." or ".."`);
  // The node refuses longer names with a 400; said here, before any call or password prompt.
  if (value.length > LIMITS.username) throw new UsageError(`${what} is longer than ${LIMITS.username} characters`);
  return value;
}

/**
 * Flags that say opposite things (`--login --no-login`): commander would keep the last one silently,
 * so the command would do something the operator may not have meant. Records which flags were given
 * and refuses such a pair before the verb runs (a usage error, exit 2, nothing sent).
 */
export function refuseContradictions(cmd: Command, pairs: ReadonlyArray<readonly [string, string]>, once: readonly string[] = []): void {
  const seen = new Map<string, string[]>();
  const note = (flag: string) => (value: unknown) => seen.set(flag, [...(seen.get(flag) ?? []), String(value)]);
  for (const flag of new Set([...pairs.flat(), ...once])) cmd.on(`option:${flag.replace(/^--/, '')}`, note(flag));
  cmd.hook('preAction', () => {
    for (const [a, b] of pairs) {
      if (seen.has(a) && seen.has(b)) throw new UsageError(`${a} and ${b} contradict each other; give one`);
    }
    // A value flag given twice with different values: which one was meant is a guess.
    for (const flag of once) {
      const values = new Set(seen.get(flag) ?? []);
      if (values.size > 1) throw new UsageError(`${flag} given twice with different values (${[...values].join(', ')}); give it once`);
    }
  });
}

/** For repeatable options (--grant a --grant b). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export interface SettingsFlags {
  cacheName?: CacheName;
  ttlMs?: number;
  ttlMinutes?: number;
  validityPeriod?: number;
  maxEntries?: number;
  refreshMs?: number;
  updateInterval?: number;
  enableActiveUpdate?: boolean;
  disableActiveUpdate?: boolean;
  persistent?: boolean;
  local?: boolean;
}

/** One value may be given by one flag only: --ttl-ms, --ttl-minutes and --validity-period all set the TTL. */
export function settingsChangeFrom(f: SettingsFlags): SettingsChange & { local?: boolean } {
  const ttl = exclusive('the validity (TTL)', [
    ['--ttl-ms', f.ttlMs],
    ['--ttl-minutes', f.ttlMinutes === undefined ? undefined : f.ttlMinutes * 60_000],
    ['--validity-period', f.validityPeriod],
  ]);
  const refresh = exclusive('the refresh interval', [
    ['--refresh-ms', f.refreshMs],
    // Cassandra's -1: update interval = validity, i.e. no separate refresh (ours: 0, off)
    ['--update-interval', f.updateInterval === -1 ? 0 : f.updateInterval],
  ]);
  if (f.enableActiveUpdate === true && f.disableActiveUpdate === true) {
    throw new UsageError('--enable-active-update and --disable-active-update contradict each other');
  }
  if (f.ttlMinutes !== undefined && !Number.isSafeInteger(f.ttlMinutes * 60_000)) {
    throw new UsageError('--ttl-minutes is too large');
  }
  const activeUpdate = f.enableActiveUpdate === true ? true : f.disableActiveUpdate === true ? false : undefined;
  const change: SettingsChange & { local?: boolean } = {};
  if (f.cacheName !== undefined) change.cache = f.cacheName;
  if (ttl !== undefined) change.ttl_ms = ttl;
  if (f.maxEntries !== undefined) change.max_entries = f.maxEntries;
  if (refresh !== undefined) change.refresh_ms = refresh;
  if (activeUpdate !== undefined) change.active_update = activeUpdate;
  if (ttl === undefined && f.maxEntries === undefined && refresh === undefined && activeUpdate === undefined) {
    throw new UsageError(
      // nodetool's words (SetAuthCacheConfig), then the flags
      'At least one optional parameter need to be passed: --ttl-ms/--ttl-minutes/--validity-period, --max-entries, ' +
        '--refresh-ms/--update-interval, --enable-active-update/--disable-active-update',
    );
  }
  if (f.persistent === true && f.local === true) {
    // A local change is never written to Redis, so there would be nothing to persist.
    throw new UsageError('--persistent and --local cannot be combined: a --local change lasts until the node restarts');
  }
  if (f.persistent === true) change.persistent = true;
  if (f.local === true) change.local = true;
  return change;
}

function exclusive(what: string, candidates: Array<[string, number | undefined]>): number | undefined {
  const given = candidates.filter(([, v]) => v !== undefined);
  if (given.length > 1) throw new UsageError(`${given.map(([flag]) => flag).join(' and ')} both set ${what}; give one`);
  return given[0]?.[1];
}
