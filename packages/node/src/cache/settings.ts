/**
 * Cache settings: the layers, their precedence, the writes a change makes and how a layer is
 * stored in Redis (docs/architecture.md, "Settings"). Pure: the publisher, every node applying an
 * update in seq order, and a node reading the hashes at start must all reach the same state.
 * Named keys and their value parsing live in settings-keys.ts, the current state in
 * settings-state.ts.
 */
import {
  CACHE_NAMES,
  PROTOCOL_VERSION,
  validateUpdate,
  type CacheName,
  type CacheSettings,
  type SetSettingsBody,
  type SettingsScope,
  type SettingsValues,
} from '@authcache/protocol';

export type { CacheSettings };

export type ValueKey = keyof SettingsValues;
export const VALUE_KEYS: readonly ValueKey[] = ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update'];

export type Layer = 'transient' | 'persistent';

/** Settings written at runtime on top of the environment's defaults, by scope. */
export type Overlay = Partial<Record<SettingsScope, SettingsValues>>;
export type Overlays = Record<Layer, Overlay>;

export const SCOPES: readonly SettingsScope[] = ['all', ...CACHE_NAMES];

/**
 * One layer's change for one scope: values set and keys reset (OpenSearch's `null`: the layer
 * below shows through). `reset` and `more` are what the protocol's set_settings body needs to
 * carry a reset and a two-layer PUT /_cluster/settings as one update; until it does
 * (PROTOCOL_CARRIES), bodies without them are what travels.
 */
export interface LayerChange {
  scope: SettingsScope;
  values: SettingsValues;
  persistent: boolean;
  reset?: readonly ValueKey[];
}
export interface SettingsUpdate extends LayerChange {
  /** Further changes made by the same update, applied after this one, in order. */
  more?: readonly LayerChange[];
}

/** The environment's values, under every layer. */
export function settingsDefaults(c: { ttlMs: number; maxEntries: number; refreshMs: number; activeUpdate: boolean }): Required<SettingsValues> {
  return { ttl_ms: c.ttlMs, max_entries: c.maxEntries, refresh_ms: c.refreshMs, active_update: c.activeUpdate };
}

function pick(overlay: Overlay, cache: CacheName, key: ValueKey): SettingsValues[ValueKey] {
  return overlay[cache]?.[key] ?? overlay.all?.[key];
}

/**
 * Effective settings per cache. Precedence, as in OpenSearch: transient over persistent over
 * the environment; inside one layer, a cache's own value over the value for all caches. A
 * transient value stays in force until it is reset, whatever is written to the persistent layer.
 */
export function effectiveSettings(defaults: Required<SettingsValues>, o: Overlays): Record<CacheName, CacheSettings> {
  const out = {} as Record<CacheName, CacheSettings>;
  for (const cache of CACHE_NAMES) {
    const v = {} as Required<SettingsValues>;
    for (const key of VALUE_KEYS) {
      (v as Record<ValueKey, unknown>)[key] = pick(o.transient, cache, key) ?? pick(o.persistent, cache, key) ?? defaults[key];
    }
    out[cache] = { ...v, enabled: v.ttl_ms > 0 };
  }
  return out;
}

/** One write to a settings hash in Redis: field `${scope}.${key}`, value JSON, or undefined to delete. */
export interface SettingsWrite {
  layer: Layer;
  field: string;
  value: string | undefined;
}

/** The changes one update makes, in the order they apply. */
export function changesOf(body: SetSettingsBody): LayerChange[] {
  const u = body as SettingsUpdate;
  return [{ scope: u.scope, values: u.values, persistent: u.persistent, ...(u.reset ? { reset: u.reset } : {}) }, ...(u.more ?? [])];
}

/**
 * The writes a change makes. Each touches only its own layer: a persistent write leaves
 * transient values in force (OpenSearch's rule; until this version it cleared them). A value
 * for every cache clears the per-cache values of the same key in its layer, so that "every
 * cache" holds in that layer; a reset removes the key named and nothing else. The writes may
 * not depend on current state: the publish script applies them without reading it.
 */
export function settingsWrites(body: SetSettingsBody): SettingsWrite[] {
  const writes: SettingsWrite[] = [];
  for (const c of changesOf(body)) {
    const layer: Layer = c.persistent ? 'persistent' : 'transient';
    for (const key of c.reset ?? []) writes.push({ layer, field: `${c.scope}.${key}`, value: undefined });
    for (const key of VALUE_KEYS) {
      const value = c.values[key];
      if (value === undefined) continue;
      writes.push({ layer, field: `${c.scope}.${key}`, value: JSON.stringify(value) });
      if (c.scope === 'all') for (const cache of CACHE_NAMES) writes.push({ layer, field: `${cache}.${key}`, value: undefined });
    }
  }
  return writes;
}

export function applyWrites(o: Overlays, writes: readonly SettingsWrite[]): Overlays {
  const next: Overlays = { transient: cloneOverlay(o.transient), persistent: cloneOverlay(o.persistent) };
  for (const w of writes) {
    const [scope, key] = w.field.split('.') as [SettingsScope, ValueKey];
    const layer = next[w.layer];
    if (w.value === undefined) {
      if (layer[scope]) {
        delete layer[scope]![key];
        if (Object.keys(layer[scope]!).length === 0) delete layer[scope];
      }
    } else {
      layer[scope] = { ...layer[scope], [key]: JSON.parse(w.value) };
    }
  }
  return next;
}

function cloneOverlay(o: Overlay): Overlay {
  const out: Overlay = {};
  for (const scope of SCOPES) if (o[scope]) out[scope] = { ...o[scope] };
  return out;
}

/** Reads a settings hash as stored in Redis; fields that do not parse are skipped (and reported). */
export function overlayFromHash(hash: Record<string, string>, onBadField?: (field: string) => void): Overlay {
  const out: Overlay = {};
  for (const [field, raw] of Object.entries(hash)) {
    const [scope, key, ...rest] = field.split('.');
    if (rest.length > 0 || !SCOPES.includes(scope as SettingsScope) || !VALUE_KEYS.includes(key as ValueKey)) {
      onBadField?.(field);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      onBadField?.(field);
      continue;
    }
    const expected = key === 'active_update' ? 'boolean' : 'number';
    if (typeof value !== expected) {
      onBadField?.(field);
      continue;
    }
    out[scope as SettingsScope] = { ...out[scope as SettingsScope], [key as ValueKey]: value };
  }
  return out;
}

/**
 * Which of `reset` and `more` the protocol's set_settings validator keeps. A field it does not
 * know would make every node reject the update, so the HTTP layer sends one only when it is
 * carried. Asked once, of the validator itself, so this needs no edit when the protocol grows.
 */
export const PROTOCOL_CARRIES: Readonly<{ reset: boolean; more: boolean }> = Object.freeze({ reset: carried('reset'), more: carried('more') });

function carried(field: 'reset' | 'more'): boolean {
  const change = { scope: 'all', values: { ttl_ms: 1 }, persistent: false };
  const extra = field === 'reset' ? { reset: ['max_entries'] } : { more: [{ ...change, persistent: true }] };
  const r = validateUpdate({ v: PROTOCOL_VERSION, id: 'probe', seq: 0, origin: 'probe', ts: 0, kind: 'set_settings', body: { ...change, ...extra } });
  return r.ok && Array.isArray((r.value.body as Partial<SettingsUpdate>)[field]);
}
