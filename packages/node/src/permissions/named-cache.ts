/**
 * A cache of the authorization layer (the permissions cache and the impersonation cache), with the
 * settings model of the other two (docs/architecture.md, "Settings"): TTL judged on every read,
 * bounded by LRU eviction, optional refresh while serving the old value, optional active update.
 * Each entry names the users and roles it depends on, so that a `flush_users` naming any of them
 * drops it; the load guard is kept per name, so a read that began before such an invalidation
 * never stores its older result after it (docs/architecture.md, "The login path": load race).
 */
import type { Logger } from 'pino';
import type { CacheSettings, CacheStats } from '@authcache/protocol';
import { BoundedCache, type Timed } from '../cache/bounded-cache';
import { LoadGuard } from '../cache/load-guard';

/** What a load produces: the value and every name it depends on. */
export interface Loaded<V> {
  value: V;
  names: readonly string[];
}

interface Entry<V> extends Timed, Loaded<V> {}

const ACTIVE_UPDATE_WIDTH = 8;

export class NamedCache<V> {
  private readonly cache: BoundedCache<Entry<V>>;
  private readonly guard = new LoadGuard();
  private readonly inFlight = new Map<string, Promise<V | null>>();
  /** name → keys of entries that depend on it; pruned on invalidation and when it outgrows the cache */
  private readonly index = new Map<string, Set<string>>();
  private indexed = 0;
  private settings: CacheSettings;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly read: (key: string) => Promise<Loaded<V> | null>,
    settings: CacheSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.settings = settings;
    this.cache = new BoundedCache({ ttlMs: settings.ttl_ms, maxEntries: settings.max_entries, now });
    this.schedule();
  }

  /** The cached value (counted as a hit or a miss); schedules a background refresh when due. */
  get(key: string): V | undefined {
    const e = this.cache.get(key);
    if (e === undefined) return undefined;
    const refresh = this.settings.refresh_ms;
    if (refresh > 0 && this.now() - e.loadedAt >= refresh && !this.inFlight.has(key)) {
      this.load(key).catch((err: unknown) => this.log.warn({ err, cache: this.name }, 'background refresh failed; serving the cached value'));
    }
    return e.value;
  }

  /** Single-flight backend read; stores the result unless an invalidation of one of its names overtook it. */
  load(key: string): Promise<V | null> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = this.readThrough(key);
    this.inFlight.set(key, p);
    const forget = () => {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    };
    p.then(forget, forget);
    return p;
  }

  invalidateNames(names: readonly string[]): void {
    for (const n of names) {
      this.guard.invalidate(n);
      const keys = this.index.get(n);
      if (!keys) continue;
      this.index.delete(n);
      this.indexed -= keys.size;
      for (const k of keys) {
        this.cache.delete(k);
        this.inFlight.delete(k);
      }
    }
  }

  invalidateAll(): void {
    this.cache.clear();
    this.guard.invalidateAll();
    this.inFlight.clear();
    this.index.clear();
    this.indexed = 0;
  }

  /** New settings keep the entries still valid under them. */
  configure(settings: CacheSettings): void {
    this.settings = settings;
    this.cache.configure(settings.ttl_ms, settings.max_entries);
    this.schedule();
  }

  snapshot(): CacheStats {
    return this.cache.snapshot();
  }

  get enabled(): boolean {
    return this.cache.enabled;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.cache.close();
  }

  private async readThrough(key: string): Promise<V | null> {
    const ticket = this.guard.begin();
    let loaded: Loaded<V> | null;
    try {
      loaded = await this.read(key);
    } catch (err) {
      this.cache.stats.load_failures++;
      this.guard.end('', ticket);
      throw err;
    }
    this.cache.stats.loads++;
    const fresh = loaded === null || loaded.names.every((n) => this.guard.fresh(n, ticket));
    this.guard.end('', ticket);
    if (loaded === null) {
      this.cache.delete(key);
      return null;
    }
    if (fresh && this.cache.enabled) this.store(key, { ...loaded, loadedAt: this.now() });
    return loaded.value;
  }

  private store(key: string, e: Entry<V>): void {
    this.cache.set(key, e);
    for (const n of e.names) {
      let keys = this.index.get(n);
      if (!keys) this.index.set(n, (keys = new Set()));
      if (!keys.has(key)) {
        keys.add(key);
        this.indexed++;
      }
    }
    // Evicted and expired entries leave their keys behind: rebuild when the index outgrows the cache.
    if (this.indexed > 8 * Math.max(this.cache.size, 1024)) this.rebuildIndex();
  }

  private rebuildIndex(): void {
    this.index.clear();
    this.indexed = 0;
    for (const k of this.cache.keys()) {
      const e = this.cache.peek(k);
      if (!e) continue;
      for (const n of e.names) {
        let keys = this.index.get(n);
        if (!keys) this.index.set(n, (keys = new Set()));
        keys.add(k);
        this.indexed++;
      }
    }
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const s = this.settings;
    if (!s.enabled || !s.active_update || s.refresh_ms <= 0) return;
    this.timer = setInterval(() => void this.reloadAll(), s.refresh_ms);
    this.timer.unref();
  }

  /** Active update: reload every held entry, a few at a time, without waiting for an access. */
  private async reloadAll(): Promise<void> {
    const keys = this.cache.keys();
    for (let i = 0; i < keys.length; i += ACTIVE_UPDATE_WIDTH) {
      const batch = keys.slice(i, i + ACTIVE_UPDATE_WIDTH).filter((k) => !this.inFlight.has(k));
      const results = await Promise.allSettled(batch.map((k) => this.load(k)));
      const failed = results.filter((r) => r.status === 'rejected').length;
      if (failed > 0) this.log.warn({ cache: this.name, failed }, 'active update: some reloads failed');
    }
  }
}
