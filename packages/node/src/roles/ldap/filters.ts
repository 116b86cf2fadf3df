/**
 * LDAP filter text: RFC 4515 escaping of values put into configured templates, and the
 * GeneralizedTime values of `modifyTimestamp`. Pure.
 */
import { FilterParser } from 'ldapts';
import { ConfigError } from '../../config';

/**
 * Escapes a value for an LDAP filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL become `\2a`,
 * `\28`, `\29`, `\5c`, `\00`. Every other character stays (UTF-8 is valid filter text), so a
 * username can never add a wildcard, close the assertion or open another one.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Puts escaped `vars` into `{name}` placeholders. `raw` values (the `*` of a presence filter) go in unescaped. */
export function fillFilter(template: string, vars: Record<string, string>, raw = false): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined) return whole;
    return raw ? v : escapeFilterValue(v);
  });
}

/** The filter with every placeholder as `*`: all entries of that kind (`(uid=*)`, `(member=*)`). */
export function presenceFilter(template: string): string {
  return template.replace(/\{\w+\}/g, '*');
}

/** AND of filters (each already parenthesized). */
export function and(...filters: Array<string | undefined>): string {
  const fs = filters.filter((f): f is string => f !== undefined && f !== '');
  return fs.length === 1 ? fs[0]! : `(&${fs.join('')})`;
}

/** Validates a configured filter template: parenthesized, parseable, with only the allowed placeholders. */
export function checkTemplate(variable: string, template: string, allowed: string[], required: boolean): void {
  const t = template.trim();
  if (!t.startsWith('(') || !t.endsWith(')')) throw new ConfigError(variable, `must be a parenthesized LDAP filter, got "${template}"`);
  const names = [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const unknown = names.filter((n) => !allowed.includes(n));
  if (unknown.length > 0) throw new ConfigError(variable, `unknown placeholder {${unknown[0]}}${allowed.length ? `; allowed: ${allowed.map((a) => `{${a}}`).join(', ')}` : ''}`);
  if (required && !names.includes(allowed[0]!)) throw new ConfigError(variable, `must contain {${allowed[0]}}`);
  try {
    FilterParser.parseString(fillFilter(t, Object.fromEntries(allowed.map((a) => [a, 'x']))));
  } catch (err) {
    throw new ConfigError(variable, `is not a valid LDAP filter: ${(err as Error).message}`);
  }
}

/**
 * GeneralizedTime (`20261202064314Z`, AD's `20261202064314.0Z`, offsets `+0100`) to epoch ms;
 * undefined when it is not one.
 */
export function parseGeneralizedTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$/.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi = '00', se = '00', frac = '', zone = 'Z'] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se)) + Math.floor(Number(`0.${frac || '0'}`) * 1000);
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || '0')) * 60_000;
  }
  return Number.isFinite(ms) ? ms : undefined;
}

/** Epoch ms to GeneralizedTime at second precision (`YYYYMMDDHHMMSSZ`), what filters compare against. */
export function formatGeneralizedTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/** A DN as a map key: case and the spaces around separators do not make two DNs different. */
export function dnKey(dn: string): string {
  return dn.trim().replace(/\s*([,=+])\s*/g, '$1').toLowerCase();
}

/** Whether `dn` lies at or under `base`. */
export function isUnder(dn: string, base: string): boolean {
  const k = dnKey(dn);
  const b = dnKey(base);
  return k === b || k.endsWith(`,${b}`);
}
