/**
 * `GET /v1/audit?since=&limit=` parameters and the audit's own settings from the environment:
 * parsed here, with messages that say what was expected, so bad input is a clear 400 (or a clear
 * start-up error), never a crash or a silently empty answer.
 */

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface AuditQuery {
  /** entries recorded at or after this time (ms epoch); undefined: from the oldest kept */
  sinceMs: number | undefined;
  limit: number;
}

/** A parameter that cannot be read: the route answers 400 with `message`. */
export class AuditQueryError extends Error {}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_NO_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;
const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** The largest time a JS Date holds (±8.64e15 ms). */
const MAX_EPOCH_MS = 8.64e15;

const shown = (raw: string) => JSON.stringify(raw.length > 64 ? raw.slice(0, 61) + '...' : raw);

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new AuditQueryError(`${name} given more than once: give it once`);
  return v.trim();
}

/**
 * `since`: an ISO 8601 time with a zone (`2026-12-02T06:00:00Z`) or a date (UTC midnight), a ms
 * epoch, or a duration back from now (`90s`, `15m`, `1h`, `7d`: what `authctl audit --since 1h`
 * means, so curl users can write it too). A time without a zone is refused rather than read in
 * the node's own zone, which the caller cannot know.
 */
export function parseSince(raw: string, nowMs: number): number {
  if (/^\d{1,16}$/.test(raw)) {
    const ms = Number(raw);
    if (ms <= MAX_EPOCH_MS) return ms;
  }
  const d = DURATION.exec(raw);
  if (d) return Math.max(0, nowMs - Number(d[1]) * UNIT_MS[d[2]!]!);
  if (ISO_NO_ZONE.test(raw)) throw new AuditQueryError(`since ${shown(raw)} has no time zone: add Z or an offset (e.g. ${raw}Z)`);
  if (ISO_DATE.test(raw) || ISO_TIME.test(raw)) {
    const ms = Date.parse(raw.replace(' ', 'T'));
    if (Number.isFinite(ms)) return Math.max(0, ms);
  }
  throw new AuditQueryError(
    `since must be an ISO 8601 time (e.g. 2026-12-02T06:00:00Z), a ms epoch (e.g. 1764655200000) or a duration back from now (e.g. 1h, 30m, 7d); got ${shown(raw)}`,
  );
}

export function parseLimit(raw: string): number {
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) {
    throw new AuditQueryError(`limit must be a whole number from 1 to ${MAX_LIMIT}; got ${shown(raw)}`);
  }
  return Number(raw);
}

const KNOWN = ['since', 'limit'];

/** The whole query string; an unknown parameter is refused (a typo like `sinse` would otherwise return everything). */
export function parseAuditQuery(query: Record<string, unknown>, nowMs: number): AuditQuery {
  for (const k of Object.keys(query)) {
    if (!KNOWN.includes(k)) throw new AuditQueryError(`unknown parameter ${shown(k)}: expected since and/or limit`);
  }
  const since = single(query, 'since');
  const limit = single(query, 'limit');
  return {
    sinceMs: since === undefined || since === '' ? undefined : parseSince(since, nowMs),
    limit: limit === undefined || limit === '' ? DEFAULT_LIMIT : parseLimit(limit),
  };
}

export interface AuditSettings {
  /** entries kept at most */
  maxLen: number;
  /** entries older than this are dropped */
  maxAgeMs: number;
}

export const AUDIT_ENV = {
  maxLen: 'AUTHCACHE_AUDIT_MAX_LEN',
  maxAgeMs: 'AUTHCACHE_AUDIT_MAX_AGE_MS',
} as const;

export const AUDIT_DEFAULTS: AuditSettings = { maxLen: 10_000, maxAgeMs: 30 * 86_400_000 };

/** A bad audit variable; the message names it, as config.ts's ConfigError does. */
export class AuditConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
  }
}

/** A whole-number variable within [min, max]; absent or empty: the default. */
export function envInt(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new AuditConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new AuditConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * AUTHCACHE_AUDIT_MAX_LEN (default 10000, 1..10 000 000) and AUTHCACHE_AUDIT_MAX_AGE_MS (default
 * 30 days, 1 s..10 years), read by config.ts with the rest of the environment.
 */
export function auditSettingsFromEnv(env: Record<string, string | undefined> = process.env): AuditSettings {
  return {
    maxLen: envInt(env, AUDIT_ENV.maxLen, AUDIT_DEFAULTS.maxLen, 1, 10_000_000),
    maxAgeMs: envInt(env, AUDIT_ENV.maxAgeMs, AUDIT_DEFAULTS.maxAgeMs, 1000, 10 * 365 * 86_400_000),
  };
}
