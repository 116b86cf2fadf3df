import type { BoundedCache, Timed } from './bounded-cache';
import type { LoadGuard } from './load-guard';

/**
 * One cache's read-through from the backend: single-flight per name, and the load guard that
 * keeps a read overtaken by an invalidation from being stored (docs/architecture.md, "The login path", Load race).
 */
export interface Loader<V> {
  cache: BoundedCache<V & Timed>;
  guard: LoadGuard;
  inFlight: Map<string, Promise<(V & Timed) | null>>;
  read(name: string): Promise<V | null>;
  /** What a reload stores in place of the entry held: by default the fresh value alone. */
  merge?(held: V & Timed, fresh: V & Timed): V & Timed;
}

/** Single-flight backend read; stores the result unless an invalidation overtook it. */
export function loadOnce<V extends object>(l: Loader<V>, name: string, now: () => number): Promise<(V & Timed) | null> {
  const pending = l.inFlight.get(name);
  if (pending) return pending;
  const p = readThrough(l, name, now);
  l.inFlight.set(name, p);
  const forget = () => {
    if (l.inFlight.get(name) === p) l.inFlight.delete(name);
  };
  p.then(forget, forget);
  return p;
}

async function readThrough<V extends object>(l: Loader<V>, name: string, now: () => number): Promise<(V & Timed) | null> {
  const ticket = l.guard.begin();
  let value: V | null;
  try {
    value = await l.read(name);
  } catch (err) {
    l.cache.stats.load_failures++;
    l.guard.end(name, ticket);
    throw err;
  }
  l.cache.stats.loads++;
  const fresh = l.guard.end(name, ticket);
  if (value === null) return null;
  const entry = { ...value, loadedAt: now() } as V & Timed;
  if (!fresh) return entry;
  const held = l.cache.peek(name);
  const stored = held !== undefined && l.merge ? l.merge(held, entry) : entry;
  l.cache.set(name, stored);
  return stored;
}
