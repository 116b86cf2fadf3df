/**
 * OpenSearch's two spellings of a settings object: flat (`{"a.b.c": "1"}`) and nested
 * (`{"a": {"b": {"c": "1"}}}`), freely mixed on input (`{"a.b": {"c": 1}}`); and its boolean
 * query flags (`flat_settings`, `include_defaults`).
 */
import { OpenSearchError } from './errors';

export interface SettingsTree {
  [name: string]: string | SettingsTree;
}

/** Our deepest name has four parts; deeper objects are no setting, and are not walked further. */
const MAX_DEPTH = 8;

function shown(name: string): string {
  return name.length > 80 ? `${name.slice(0, 77)}...` : name;
}

/**
 * Flattens one layer of a request body: every leaf (a scalar, null, or an array, which is a
 * value too) under its dotted name. A name reached twice (`{"a.b": 1, "a": {"b": 2}}`) is refused.
 */
export function flattenSettings(layer: string, tree: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (prefix: string, node: Record<string, unknown>, depth: number): void => {
    for (const [k, v] of Object.entries(node)) {
      const name = prefix === '' ? k : `${prefix}.${k}`;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        if (depth >= MAX_DEPTH) throw new OpenSearchError(400, 'illegal_argument_exception', `${layer} setting [${shown(name)}], not recognized`);
        walk(name, v as Record<string, unknown>, depth + 1);
        continue;
      }
      if (out.has(name)) throw new OpenSearchError(400, 'illegal_argument_exception', `${layer} setting [${shown(name)}] given more than once`);
      out.set(name, v);
    }
  };
  walk('', tree, 1);
  return out;
}

/**
 * Nests flat names on their dots, as OpenSearch answers unless `flat_settings=true`. Our names
 * never put a value and an object at one path (no name is a prefix of another), so none is lost.
 */
export function nestSettings(flat: Record<string, string>): SettingsTree {
  const out: SettingsTree = {};
  for (const [name, value] of Object.entries(flat)) {
    const parts = name.split('.');
    let at = out;
    for (const p of parts.slice(0, -1)) {
      const next = at[p];
      at = at[p] = typeof next === 'object' ? next : {};
    }
    at[parts[parts.length - 1]!] = value;
  }
  return out;
}

/** A flat or nested view of `flat`, as the request asked. */
export function settingsView(flat: Record<string, string>, asFlat: boolean): Record<string, string> | SettingsTree {
  return asFlat ? flat : nestSettings(flat);
}

/**
 * OpenSearch's boolean request parameter: absent is `fallback`; present without a value (`?flat_settings`)
 * or "true" is true; "false" is false; anything else is refused with OpenSearch's reason.
 */
export function booleanParam(query: Record<string, unknown> | undefined, name: string, fallback = false): boolean {
  const raw = query?.[name];
  if (raw === undefined) return fallback;
  if (raw === '' || raw === 'true') return true;
  if (raw === 'false') return false;
  const value = Array.isArray(raw) ? raw.join(',') : String(raw);
  throw new OpenSearchError(400, 'illegal_argument_exception', `Failed to parse value [${shown(value)}] as only [true] or [false] are allowed.`);
}
