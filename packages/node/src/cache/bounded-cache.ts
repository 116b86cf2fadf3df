import NodeCache from 'node-cache';
import type { CacheStats } from '@authcache/protocol';

export type { CacheStats };

export interface Timed {
  /** When the value was read from the backend (ms since epoch). */
  loadedAt: number;
}

/**
 * A node-cache with the rules we need on top: validity is judged against the *current* TTL on
 * every read (so a shortened TTL applies to entries already held and a longer one keeps them),
 * and the entry count is bounded by evicting the least recently used entry, never by refusing.
 */
export class BoundedCache<V extends Timed> {
  private readonly store: NodeCache;
  /** Recency order for eviction: oldest first (Map keeps insertion order). */
  private readonly order = new Map<string, true>();
  /** Last key of `order`: a hot key read again needs no reordering. */
  private newest: string | undefined;
  private ttlMs: number;
  private maxEntries: number;
  readonly stats: Omit<CacheStats, 'size'> = { hits: 0, misses: 0, evictions: 0, loads: 0, load_failures: 0 };

  constructor(opts: { ttlMs: number; maxEntries: number; now?: () => number }) {
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries;
    if (opts.now) this.now = opts.now;
    // Clones off: entries are immutable by convention, and cloning would cost on every hit.
    this.store = new NodeCache({ useClones: false, stdTTL: 0, checkperiod: 60, deleteOnExpire: true });
    this.store.on('expired', (key: string) => {
      if (key === this.newest) this.newest = undefined;
      this.order.delete(key);
    });
  }

  private now: () => number = Date.now;

  get size(): number {
    return this.order.size;
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The entry if present and still valid under the current TTL; counts a hit or a miss. */
  get(key: string): V | undefined {
    const v = this.store.get<V>(key);
    if (v === undefined) {
      this.stats.misses++;
      return undefined;
    }
    if (this.now() - v.loadedAt >= this.ttlMs) {
      this.delete(key);
      this.stats.misses++;
      return undefined;
    }
    if (key !== this.newest) {
      this.order.delete(key);
      this.order.set(key, true);
      this.newest = key;
    }
    this.stats.hits++;
    return v;
  }

  /** The entry without counting or touching recency (background refresh, tests). */
  peek(key: string): V | undefined {
    return this.store.get<V>(key);
  }

  set(key: string, value: V): void {
    if (!this.enabled) return;
    const remaining = this.ttlMs - (this.now() - value.loadedAt);
    if (remaining <= 0) return;
    if (!this.order.has(key)) {
      while (this.order.size >= this.maxEntries) this.evictOldest();
    } else {
      this.order.delete(key);
    }
    this.order.set(key, true);
    this.newest = key;
    this.store.set(key, value, remaining / 1000);
  }

  delete(key: string): boolean {
    if (key === this.newest) this.newest = undefined;
    this.order.delete(key);
    return this.store.del(key) > 0;
  }

  clear(): void {
    // node-cache's flushAll restarts its expiry timer: a flush of every node's empty caches need not.
    if (this.order.size === 0) return;
    this.newest = undefined;
    this.order.clear();
    this.store.flushAll();
  }

  keys(): string[] {
    return [...this.order.keys()];
  }

  snapshot(): CacheStats {
    return { size: this.order.size, ...this.stats };
  }

  /** Applies new limits without dropping entries that are still valid under them. */
  configure(ttlMs: number, maxEntries: number): void {
    const ttlChanged = ttlMs !== this.ttlMs;
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
    if (!this.enabled) {
      this.clear();
      return;
    }
    while (this.order.size > this.maxEntries) this.evictOldest();
    if (ttlChanged) {
      // node-cache only frees memory; validity is checked on read. Keep its expiry in line so
      // a longer TTL does not lose entries to the old expiry time.
      const now = this.now();
      for (const key of this.order.keys()) {
        const v = this.store.get<V>(key);
        if (v === undefined) continue;
        const remaining = this.ttlMs - (now - v.loadedAt);
        if (remaining <= 0) this.delete(key);
        else this.store.ttl(key, remaining / 1000);
      }
    }
  }

  close(): void {
    this.store.close();
  }

  private evictOldest(): void {
    const oldest = this.order.keys().next();
    if (oldest.done) return;
    this.delete(oldest.value);
    this.stats.evictions++;
  }
}
