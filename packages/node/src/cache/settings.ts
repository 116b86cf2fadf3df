import type { CacheName, CacheSettings, SetSettingsBody, SettingsScope, SettingsValues } from '@authcache/protocol';
import { CACHE_NAMES } from '@authcache/protocol';

export type { CacheSettings };

export type ValueKey = keyof SettingsValues;
export const VALUE_KEYS: readonly ValueKey[] = ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update'];

/** Settings written at runtime on top of the environment's defaults, by scope. */
export type Overlay = Partial<Record<SettingsScope, SettingsValues>>;
export interface Overlays {
  transient: Overlay;
  persistent: Overlay;
}

export const SCOPES: readonly SettingsScope[] = ['all', ...CACHE_NAMES];

function pick(overlay: Overlay, cache: CacheName, key: ValueKey): SettingsValues[ValueKey] {
  return overlay[cache]?.[key] ?? overlay.all?.[key];
}

/**
 * Effective settings per cache. Precedence, as in OpenSearch: transient over persistent over
 * the environment; inside one layer, a cache's own value over the value for all caches.
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
  layer: keyof Overlays;
  field: string;
  value: string | undefined;
}

/**
 * The writes a change makes. Pure, so that the publisher (inside the same Redis script that
 * publishes the update) and every node applying the update in seq order reach the same state.
 * A setting for every cache clears the per-cache values of the same key in its layer. A
 * persistent setting takes effect at once: for every cache it clears the transient values of
 * that key; for one cache it also writes the value to the transient layer, because a transient
 * value for every cache would otherwise hide it (and the writes cannot depend on current state).
 */
export function settingsWrites(body: SetSettingsBody): SettingsWrite[] {
  const writes: SettingsWrite[] = [];
  const target: keyof Overlays = body.persistent ? 'persistent' : 'transient';
  for (const key of VALUE_KEYS) {
    const value = body.values[key];
    if (value === undefined) continue;
    const json = JSON.stringify(value);
    writes.push({ layer: target, field: `${body.scope}.${key}`, value: json });
    if (body.scope === 'all') {
      for (const cache of CACHE_NAMES) writes.push({ layer: target, field: `${cache}.${key}`, value: undefined });
      if (body.persistent) for (const scope of SCOPES) writes.push({ layer: 'transient', field: `${scope}.${key}`, value: undefined });
    } else if (body.persistent) {
      writes.push({ layer: 'transient', field: `${body.scope}.${key}`, value: json });
    }
  }
  return writes;
}

export function applyWrites(o: Overlays, writes: SettingsWrite[]): Overlays {
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
    const [scope, key] = field.split('.');
    if (!SCOPES.includes(scope as SettingsScope) || !VALUE_KEYS.includes(key as ValueKey)) {
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
