/**
 * The one copy of a node's settings: the environment's defaults, the transient and persistent
 * overlays, and the effective settings per cache computed from them (settings.ts has the rules).
 * The node loads it from Redis at start and on resync, applies each set_settings update in seq
 * order, and everything else reads it; listeners (the caches) hear of every change.
 */
import type { CacheName, ClusterNames, SetSettingsBody, SettingsValues } from '@authcache/protocol';
import { applyWrites, effectiveSettings, overlayFromHash, settingsWrites, type CacheSettings, type Overlays, type SettingsWrite } from './settings';

/** The two settings hashes as read from Redis (HGETALL of each). */
export interface StoredSettings {
  transient: Record<string, string>;
  persistent: Record<string, string>;
}

export type SettingsListener = (settings: Readonly<Record<CacheName, CacheSettings>>) => void;

export class SettingsState {
  private layers: Overlays = { transient: {}, persistent: {} };
  private current: Record<CacheName, CacheSettings>;
  private readonly listeners = new Set<SettingsListener>();

  constructor(readonly defaults: Readonly<Required<SettingsValues>>) {
    this.current = effectiveSettings(this.defaults, this.layers);
  }

  /** Replaces both overlays with what Redis holds; unreadable fields are skipped and reported. */
  load(stored: StoredSettings, onBadField?: (layer: keyof StoredSettings, field: string) => void): void {
    this.replace({
      transient: overlayFromHash(stored.transient, (f) => onBadField?.('transient', f)),
      persistent: overlayFromHash(stored.persistent, (f) => onBadField?.('persistent', f)),
    });
  }

  /** Applies the writes of one update (settingsWrites), as the publish script applied them to Redis. */
  apply(writes: readonly SettingsWrite[]): void {
    if (writes.length > 0) this.replace(applyWrites(this.layers, writes));
  }

  /** Applies one set_settings update. */
  applyUpdate(body: SetSettingsBody): void {
    this.apply(settingsWrites(body));
  }

  /** Effective settings per cache; the same object until the next change (read on hot paths). */
  effective(): Readonly<Record<CacheName, CacheSettings>> {
    return this.current;
  }

  /** The overlays as they stand; callers get a copy, so nobody changes the state behind its back. */
  overlays(): Overlays {
    return structuredClone(this.layers);
  }

  /** Calls `listener` after every change; returns the call that removes it. */
  onChange(listener: SettingsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private replace(next: Overlays): void {
    this.layers = next;
    this.current = effectiveSettings(this.defaults, next);
    for (const l of this.listeners) l(this.current);
  }
}

/** What the store needs of a Redis connection (ioredis' own signatures). */
export interface SettingsRedis {
  hgetall(key: string): Promise<Record<string, string>>;
  del(...keys: string[]): Promise<number>;
}

/**
 * Where the layers persist: one Redis hash each (field `<scope>.<key>`, value JSON). Writes reach
 * them through the publish script only, in the same atomic step as the update (settingsOps).
 */
export class SettingsStore {
  constructor(
    private readonly redis: SettingsRedis,
    private readonly names: Pick<ClusterNames, 'settingsTransient' | 'settingsPersistent'>,
  ) {}

  async read(): Promise<StoredSettings> {
    const [transient, persistent] = await Promise.all([this.redis.hgetall(this.names.settingsTransient), this.redis.hgetall(this.names.settingsPersistent)]);
    return { transient, persistent };
  }

  /** Transient settings last while any node is up: the first node of a fresh cluster drops them. */
  async clearTransient(): Promise<void> {
    await this.redis.del(this.names.settingsTransient);
  }
}
