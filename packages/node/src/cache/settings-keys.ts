/**
 * The named settings of `_cluster/settings`: OpenSearch Security's
 * `plugins.security.cache.ttl_minutes` (every cache) and ours,
 * `authcache.cache.<all|credentials|roles>.<ttl_ms|max_entries|refresh_ms|active_update>`.
 * Parses their values as OpenSearch does (strings or JSON scalars, its error reasons) into layer
 * changes, and shows a layer under those names, values as strings (OpenSearch stores strings).
 */
import { MAX_MAX_ENTRIES, MAX_REFRESH_MS, MAX_TTL_MS, validateSettingsValues, type SettingsScope, type SettingsValues } from '@authcache/protocol';
import { badRequest } from '../errors';
import { SCOPES, VALUE_KEYS, type Layer, type LayerChange, type Overlay, type ValueKey } from './settings';

export const OPENSEARCH_TTL = 'plugins.security.cache.ttl_minutes';
const OWN_PREFIX = 'authcache.cache.';
const MINUTE_MS = 60_000;

interface Named {
  scope: SettingsScope;
  key: ValueKey;
  /** the name's unit is minutes; stored as ms */
  minutes?: true;
}

/** Every name, in the order a view lists them. */
const NAMES: ReadonlyMap<string, Named> = new Map<string, Named>([
  [OPENSEARCH_TTL, { scope: 'all', key: 'ttl_ms', minutes: true }],
  ...SCOPES.flatMap((scope) => VALUE_KEYS.map((key): [string, Named] => [`${OWN_PREFIX}${scope}.${key}`, { scope, key }])),
]);

const RANGES: Record<Exclude<ValueKey, 'active_update'>, [number, number]> = {
  ttl_ms: [0, MAX_TTL_MS],
  max_entries: [1, MAX_MAX_ENTRIES],
  refresh_ms: [0, MAX_REFRESH_MS],
};

/** A name or value as an error reason shows it: whole when short, never 60 KiB of it. */
function shown(x: unknown): string {
  const s = typeof x === 'string' ? x : JSON.stringify(x) ?? String(x);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function parseValue(name: string, n: Named, raw: unknown): number | boolean {
  const text = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;
  if (n.key === 'active_update') {
    if (text === 'true' || text === 'false') return text === 'true';
    throw badRequest(`Failed to parse value [${shown(raw)}] for setting [${name}] as only [true] or [false] are allowed.`);
  }
  // Java's Integer/Long.parseLong: an optional sign and digits, nothing else (no spaces, no 1e3, no 1.5).
  if (text === undefined || !/^[+-]?\d{1,16}$/.test(text)) throw badRequest(`Failed to parse value [${shown(raw)}] for setting [${name}]`);
  const value = Number(text) + 0;
  const [min, max] = RANGES[n.key].map((x) => (n.minutes ? Math.floor(x / MINUTE_MS) : x)) as [number, number];
  if (value < min) throw badRequest(`Failed to parse value [${shown(raw)}] for setting [${name}] must be >= ${min}`);
  if (value > max) throw badRequest(`Failed to parse value [${shown(raw)}] for setting [${name}] must be <= ${max}`);
  return n.minutes ? value * MINUTE_MS : value;
}

/**
 * OpenSearch's simple wildcard match: `*` matches any run of characters, nothing else is special.
 * Two pointers, back to the last star on a mismatch: linear in practice, never the exponential
 * backtracking a regular expression built from a client's `*a*a*a...` could cost.
 */
export function simpleMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let from = 0;
  while (i < s.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === s[i]) {
      p++;
      i++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      from = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++from;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export interface NamedChanges {
  changes: LayerChange[];
  /** the values set, under the names given, as strings: what OpenSearch answers (resets are not listed) */
  accepted: Record<string, string>;
}

/**
 * One layer of a `PUT /_cluster/settings` body, flattened (`name -> value`), as changes per
 * scope, `all` first (a value for every cache clears the per-cache ones: theirs must come after).
 * `null` resets a name, and a null name may hold `*` (`"authcache.cache.*": null`), as in
 * OpenSearch; a value given for a name wins over a reset matching it. The first problem in body
 * order is the error (400), with OpenSearch's reason; nothing is published then.
 */
export function changesFromNamed(layer: Layer, flat: ReadonlyMap<string, unknown>): NamedChanges {
  const accepted: Record<string, string> = {};
  const values = new Map<SettingsScope, SettingsValues>();
  const resets = new Map<SettingsScope, Set<ValueKey>>();
  const setBy = new Map<string, string>();
  for (const [name, raw] of flat) {
    const pattern = raw === null && name.includes('*');
    const named = NAMES.get(name);
    const targets = pattern ? [...NAMES].filter(([k]) => simpleMatch(name, k)).map(([, n]) => n) : named ? [named] : undefined;
    if (targets === undefined) throw badRequest(`${layer} setting [${shown(name)}], not recognized`);
    for (const n of targets) {
      if (raw === null) {
        resets.set(n.scope, (resets.get(n.scope) ?? new Set()).add(n.key));
        continue;
      }
      const target = `${n.scope}.${n.key}`;
      const other = setBy.get(target);
      if (other !== undefined) throw badRequest(`${layer} settings [${other}] and [${name}] set the same value: give one of them`);
      setBy.set(target, name);
      const value = parseValue(name, n, raw);
      values.set(n.scope, { ...values.get(n.scope), [n.key]: value });
      accepted[name] = String(n.minutes ? (value as number) / MINUTE_MS : value);
    }
  }
  const changes: LayerChange[] = [];
  for (const scope of SCOPES) {
    const v = values.get(scope) ?? {};
    const reset = [...(resets.get(scope) ?? [])].filter((k) => v[k] === undefined);
    if (Object.keys(v).length === 0 && reset.length === 0) continue;
    if (Object.keys(v).length > 0) {
      // The bus validates every update again; a value this module let through and it refuses is a bug here.
      const checked = validateSettingsValues(v);
      if (!checked.ok) throw badRequest(`${layer} settings: ${checked.error}`);
    }
    changes.push({ scope, values: v, persistent: layer === 'persistent', ...(reset.length > 0 ? { reset } : {}) });
  }
  return { changes, accepted };
}

/**
 * A layer under its names, values as strings. The TTL for every cache shows as OpenSearch's
 * ttl_minutes when it is whole minutes (as it was set through it), as ours otherwise.
 */
export function namedView(o: Overlay): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, n] of NAMES) {
    const v = o[n.scope]?.[n.key];
    if (v === undefined) continue;
    // Two names hold the TTL for every cache: show exactly one of them.
    if (n.scope === 'all' && n.key === 'ttl_ms' && ((v as number) % MINUTE_MS === 0) !== (n.minutes === true)) continue;
    out[name] = String(n.minutes ? (v as number) / MINUTE_MS : v);
  }
  return out;
}

/** `include_defaults`: every name with the value it has when no layer sets it. */
export function defaultsView(defaults: Required<SettingsValues>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, n] of NAMES) {
    if (n.minutes && defaults.ttl_ms % MINUTE_MS !== 0) continue;
    out[name] = String(n.minutes ? defaults.ttl_ms / MINUTE_MS : defaults[n.key]);
  }
  return out;
}
