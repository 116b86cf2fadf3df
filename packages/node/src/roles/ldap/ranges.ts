/**
 * Active Directory's ranged retrieval of large multi-valued attributes: past MaxValRange values
 * (1500 by default) a search answers `member;range=0-1499` instead of `member`, and the rest must
 * be asked for with base searches of `member;range=1500-*`, each answer naming the range it holds
 * (`member;range=1500-2999`), the last one ending in `*` (`member;range=3000-*`). Reading only the
 * first range would silently drop members: a group change would then not invalidate them, and
 * holdersOf() would miss them. The parsing and merging here are pure; the searches are the caller's.
 */
import type { Entry } from 'ldapts';

export interface RangedName {
  /** The attribute without the range option (`member`, or `member;binary` with other options kept). */
  attr: string;
  low: number;
  /** '*': the last range. */
  high: number | '*';
}

const RANGE_OPTION = /^range=(\d+)-(\d+|\*)$/i;

/** `member;range=0-1499` → { attr: 'member', low: 0, high: 1499 }; undefined for a name with no (valid) range option. */
export function parseRangedName(name: string): RangedName | undefined {
  const parts = name.split(';');
  const i = parts.findIndex((p, k) => k > 0 && RANGE_OPTION.test(p));
  if (i < 0) return undefined;
  const [, lo, hi] = RANGE_OPTION.exec(parts[i]!)!;
  const low = Number(lo);
  const high = hi === '*' ? '*' : Number(hi);
  if (!Number.isSafeInteger(low) || (high !== '*' && (!Number.isSafeInteger(high) || high < low))) return undefined;
  return { attr: [...parts.slice(0, i), ...parts.slice(i + 1)].join(';'), low, high };
}

/** The attribute to ask for to read the values of `attr` from index `low` on. */
export function rangeRequest(attr: string, low: number): string {
  return `${attr};range=${low}-*`;
}

type Values = string[] | Buffer[];

function asList(v: Entry[string]): Values {
  return (Array.isArray(v) ? v : [v]) as Values;
}

/**
 * Moves the values of every ranged attribute of `entry` onto the plain attribute (appended to
 * what is there) and removes the ranged names, so readers see one `member` as with any other
 * server. Returns, per attribute whose range does not end in `*`, the index to ask for next.
 */
export function foldRanges(entry: Entry): Map<string, number> {
  const next = new Map<string, number>();
  for (const key of Object.keys(entry)) {
    if (key === 'dn') continue;
    const r = parseRangedName(key);
    if (r === undefined) continue;
    const plain = Object.keys(entry).find((k) => k.toLowerCase() === r.attr.toLowerCase()) ?? r.attr;
    const had = entry[plain] === undefined ? [] : asList(entry[plain]!);
    entry[plain] = [...had, ...asList(entry[key]!)] as Values;
    delete entry[key];
    if (r.high !== '*') next.set(plain, r.high + 1);
  }
  return next;
}

/** Reads `attribute` (a rangeRequest) of the entry at `dn`: its entry, or undefined when the entry is gone. */
export type RangeFetch = (dn: string, attribute: string) => Promise<Entry | undefined>;

/** More ranges than this for one attribute is a directory that does not move forward: 1500 × 10 000 values. */
export const MAX_RANGE_STEPS = 10_000;

/**
 * Completes every ranged attribute of `entries` (in place) with `fetch`, one range after the
 * other. Throws when an answer does not continue where the last range ended (the entry changed
 * or went away meanwhile, or the server loops): an incomplete membership must fail the read, not
 * pass for the whole one. An answer without the attribute at all is the end (AD answers so when
 * the values were an exact multiple of the range size).
 */
export async function completeRanges(entries: Entry[], fetch: RangeFetch, maxSteps = MAX_RANGE_STEPS): Promise<Entry[]> {
  for (const entry of entries) {
    for (const [attr, first] of foldRanges(entry)) {
      let low = first;
      for (let step = 0; ; step++) {
        if (step >= maxSteps) throw new Error(`${attr} of ${entry.dn}: more than ${maxSteps} ranges`);
        const got = await fetch(entry.dn, rangeRequest(attr, low));
        if (got === undefined) throw new Error(`${attr} of ${entry.dn}: the entry went away during ranged retrieval`);
        const key = Object.keys(got).find((k) => k !== 'dn' && parseRangedName(k)?.attr.toLowerCase() === attr.toLowerCase());
        if (key === undefined) {
          const whole = Object.keys(got).some((k) => k.toLowerCase() === attr.toLowerCase());
          if (whole) throw new Error(`${attr} of ${entry.dn}: asked for range ${low}-*, got the attribute without a range`);
          break;
        }
        const r = parseRangedName(key)!;
        if (r.low !== low) throw new Error(`${attr} of ${entry.dn}: asked for range ${low}-*, got ${r.low}-${r.high}`);
        entry[attr] = [...asList(entry[attr]!), ...asList(got[key]!)] as Values;
        if (r.high === '*') break;
        low = r.high + 1;
      }
    }
  }
  return entries;
}
